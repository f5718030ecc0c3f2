//! The body of `POST /v1/payments`, read field by field from the JSON value, so that every
//! 422 names the field and says what is expected in plain words. A derived deserializer
//! answered in the parser's words instead (`invalid type: string "5000", expected i64 at
//! line 1 column 39`), which a shop's developer can only guess at.
//!
//! `expected_amount` may be a JSON integer or a string of digits: PHP sends numbers read
//! from a form or a database as strings. The string goes through the amount rule of the
//! command line (`payment::parse_amount`), so `"5 000"` or `"5000.5"` is refused, never
//! guessed at.

use crate::api::error::ApiError;
use crate::payment::{Field, Kind, NewPayment, amount_refused, amount_too_large, parse_amount};
use serde_json::{Map, Value};

/// The fields of the body; any other is refused, so a misspelt one is not ignored.
const FIELDS: [&str; 4] = ["token", "transaction_id", "expected_amount", "kind"];

/// The payment the body describes, or the 422 that names the first field at fault.
pub(super) fn new_payment(body: &Value) -> Result<NewPayment, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::invalid(format!(
            "the body must be a JSON object, like {{\"token\": \"...\", \"expected_amount\": 5000}} (got {})",
            shown(body)
        )));
    };
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "unknown field {:?}: the fields are {}",
            shortened(unknown),
            FIELDS.join(", ")
        )));
    }
    let token = match fields.get("token") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "token: missing; give the token LigdiCash returned when the invoice or payout was created",
            ));
        }
        Some(value) => text(value, "token", "a string")?,
    };
    let transaction_id = optional_text(fields, "transaction_id", "a string or null")?;
    let kind = optional_text(
        fields,
        "kind",
        "one of invoice, withdrawal, payout, or null",
    )?
    .map_or(Ok(Kind::Invoice), Kind::parse_given)
    .map_err(ApiError::invalid)?;
    let amount = match fields.get("expected_amount") {
        None | Some(Value::Null) => None,
        Some(value) => Some(amount(value)?.to_string()),
    };
    let payment = NewPayment::parse(token, transaction_id, amount.as_deref())
        .map_err(|e| ApiError::invalid(format!("{}: {}", e.field.in_json(), e.problem)))?;
    Ok(payment.of_kind(kind))
}

/// `expected_amount`: a JSON integer above zero, or a string of its digits.
fn amount(value: &Value) -> Result<i64, ApiError> {
    let field = Field::Amount.in_json();
    let refused = |problem: String| ApiError::invalid(format!("{field}: {problem}"));
    match value {
        Value::String(text) => parse_amount(text).map_err(refused),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(whole), _) if whole > 0 => Ok(whole),
            (None, Some(_)) => Err(refused(amount_too_large(&n.to_string()))),
            _ => Err(refused(amount_refused(&n.to_string()))),
        },
        other => Err(refused(amount_refused(&shown(other)))),
    }
}

/// A string field that may be absent or null.
fn optional_text<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    expected: &str,
) -> Result<Option<&'a str>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => text(value, name, expected).map(Some),
    }
}

fn text<'a>(value: &'a Value, name: &str, expected: &str) -> Result<&'a str, ApiError> {
    value.as_str().ok_or_else(|| {
        ApiError::invalid(format!("{name}: must be {expected} (got {})", shown(value)))
    })
}

/// A JSON value as a client would recognise it in a message, cut short.
fn shown(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        other => shortened(&other.to_string()),
    }
}

/// At most 40 characters of what the client sent.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(body: Value) -> String {
        new_payment(&body).unwrap_err().message
    }

    #[test]
    fn an_amount_may_be_an_integer_or_a_string_of_digits() {
        for amount in [json!(5000), json!("5000"), json!(" 5000 ")] {
            let body = json!({"token": "t", "expected_amount": amount});
            assert_eq!(new_payment(&body).unwrap().expected_amount, Some(5000));
        }
        let none = new_payment(&json!({"token": "t", "expected_amount": null})).unwrap();
        assert_eq!(none.expected_amount, None);
    }

    /// Every refusal names the field and says what is expected; none speaks of the parser
    /// (types, lines and columns).
    #[test]
    fn refusals_name_the_field_in_plain_words() {
        let amount = |a: Value| refusal(json!({"token": "t", "expected_amount": a}));
        let expected = "expected_amount: must be a positive whole number of XOF, like 5000";
        for (given, got) in [
            (json!("5 000"), r#"(got "5 000")"#),
            (json!("5000.5"), r#"(got "5000.5")"#),
            (json!("abc"), r#"(got "abc")"#),
            (json!(5000.5), "(got 5000.5)"),
            (json!(-5), "(got -5)"),
            (json!(0), "(got 0)"),
            (json!(true), "(got true)"),
            (json!([5000]), "(got an array)"),
        ] {
            assert_eq!(amount(given), format!("{expected} {got}"));
        }
        assert!(amount(json!(u64::MAX)).starts_with("expected_amount: is too large"));
        let cases = [
            (json!({}), "token: missing"),
            (json!({"token": 5}), "token: must be a string (got 5)"),
            (json!({"token": " "}), "token: must not be empty"),
            (
                json!({"token": "t", "transaction_id": 12}),
                "transaction_id: must be a string or null (got 12)",
            ),
            (
                json!({"token": "t", "transaction_id": ""}),
                "transaction_id: must not be empty when given",
            ),
            (
                json!({"token": "t", "kind": "refund"}),
                "kind: unknown kind",
            ),
            (
                json!({"token": "t", "colour": "red"}),
                r#"unknown field "colour": the fields are token, transaction_id, expected_amount, kind"#,
            ),
            (json!([1]), "the body must be a JSON object"),
        ];
        for (body, start) in cases {
            let message = refusal(body.clone());
            assert!(message.starts_with(start), "{body}: {message}");
        }
    }
}
