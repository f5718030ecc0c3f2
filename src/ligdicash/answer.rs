//! Lenient parsing of a confirm response body into [`ConfirmAnswer`].
//!
//! LigdiCash's payloads vary: `amount`/`montant` are numbers or strings, `operator_id` an
//! integer or a string, `customer` may be null, `custom_data` an array, `[]`, `""`, an object
//! or a JSON string. Nothing here panics or rejects a body for a field's type; only a body
//! that is not a JSON object at all is an error.

use serde_json::{Map, Value};

/// What one confirm response said, with every field optional and normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmAnswer {
    pub response_code: Option<String>,
    pub response_text: Option<String>,
    pub status: Option<String>,
    /// `amount` if it parses, else `montant`.
    pub amount: Option<i64>,
    /// Set when `amount` and `montant` both parse and disagree: a reason to distrust both.
    pub amount_conflict: Option<(i64, i64)>,
    pub operator_id: Option<String>,
    pub operator_name: Option<String>,
    pub customer: Option<String>,
    pub request_id: Option<String>,
    pub external_id: Option<String>,
    pub oreference: Option<String>,
    pub date: Option<String>,
    /// The `transaction_id` entry of `custom_data`, when there is one.
    pub custom_transaction_id: Option<String>,
}

/// The body was not a JSON object (an HTML error page, an empty body, a bare value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("empty body")]
    Empty,
    #[error("body is not JSON ({0})")]
    NotJson(String),
    #[error("JSON body is not an object")]
    NotObject,
}

impl ConfirmAnswer {
    /// Parses a response body; see the module docs for what is tolerated.
    pub fn parse(body: &[u8]) -> Result<Self, AnswerError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(AnswerError::Empty);
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| AnswerError::NotJson(short(&e)))?;
        let Value::Object(obj) = value else {
            return Err(AnswerError::NotObject);
        };
        Ok(Self::from_object(&obj))
    }

    fn from_object(obj: &Map<String, Value>) -> Self {
        let amount = obj.get("amount").and_then(integer);
        let montant = obj.get("montant").and_then(integer);
        let amount_conflict = match (amount, montant) {
            (Some(a), Some(m)) if a != m => Some((a, m)),
            _ => None,
        };
        Self {
            response_code: field(obj, "response_code"),
            response_text: field(obj, "response_text"),
            status: field(obj, "status").map(|s| s.to_ascii_lowercase()),
            amount: amount.or(montant),
            amount_conflict,
            operator_id: field(obj, "operator_id"),
            operator_name: field(obj, "operator_name"),
            customer: field(obj, "customer"),
            request_id: field(obj, "request_id"),
            external_id: field(obj, "external_id"),
            oreference: field(obj, "oreference"),
            date: field(obj, "date"),
            custom_transaction_id: obj.get("custom_data").and_then(custom_transaction_id),
        }
    }
}

fn short(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    s.truncate(120);
    s
}

fn field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(text)
}

/// A scalar as trimmed text; empty strings, null, arrays and objects are absent.
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// An XOF amount: an integer, an integral float, or a string of either.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(integral))
        }
        _ => None,
    }
}

fn integral(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Finds the `transaction_id` entry by key, never by position, in any of the shapes seen.
fn custom_transaction_id(v: &Value) -> Option<String> {
    match v {
        Value::Array(entries) => entries.iter().find_map(|entry| {
            let key = entry.get("keyof_customdata").and_then(text)?;
            if key == "transaction_id" {
                entry.get("valueof_customdata").and_then(text)
            } else {
                None
            }
        }),
        Value::Object(map) => map.get("transaction_id").and_then(text),
        // Form-encoded callbacks carry custom_data as a JSON string.
        Value::String(s) if !s.trim().is_empty() => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|inner| !inner.is_string())
            .and_then(|inner| custom_transaction_id(&inner)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS_EXAMPLE: &str = r#"{"response_code":"00","token":"","response_text":"","description":"",
      "custom_data":[{"keyof_customdata":"transaction_id","valueof_customdata":"BPBF-1776251968907","datecreation_customdata":"2026-04-15 11:19:28.977757"},
      {"keyof_customdata":"logfile","valueof_customdata":"2026041511192869df7440ed917","datecreation_customdata":"2026-04-15 11:19:28.977757"}],
      "status":"completed","operator_id":"14","operator_name":"MOOV CI","customer":"2250171584035",
      "wiki":"https://client.ligdicash.com/wiki/confirmInvoice","montant":100,"amount":100,
      "date":"2026-04-15 11:19:28+00","external_id":"BPBF-1776251968907","oreference":"",
      "customer_details":{"firstname":"C","lastname":"O","email":"c@example.com","phone":"2250171584035","details":""},
      "request_id":"P2771491712026"}"#;

    #[test]
    fn parses_the_documented_confirm_response() {
        let a = ConfirmAnswer::parse(DOCS_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(a.response_code.as_deref(), Some("00"));
        assert_eq!(a.status.as_deref(), Some("completed"));
        assert_eq!(a.amount, Some(100));
        assert_eq!(a.amount_conflict, None);
        assert_eq!(a.operator_id.as_deref(), Some("14"));
        assert_eq!(a.operator_name.as_deref(), Some("MOOV CI"));
        assert_eq!(a.customer.as_deref(), Some("2250171584035"));
        assert_eq!(a.request_id.as_deref(), Some("P2771491712026"));
        assert_eq!(
            a.custom_transaction_id.as_deref(),
            Some("BPBF-1776251968907")
        );
        assert_eq!(a.oreference, None, "empty strings are absent");
        assert_eq!(a.date.as_deref(), Some("2026-04-15 11:19:28+00"));
    }

    #[test]
    fn parses_the_payout_shapes_strings_for_amounts_integer_operator() {
        let body = r#"{"response_code":"00","token":"eyJ...","response_text":"","status":"completed",
            "custom_data":[],"operator_id":12,"operator_name":"MOOV AFRICA BURKINA",
            "transaction_id":"502d36","external_id":"502d36","montant":"100","amount":"100"}"#;
        let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
        assert_eq!(a.amount, Some(100));
        assert_eq!(a.operator_id.as_deref(), Some("12"));
        assert_eq!(a.custom_transaction_id, None);
    }

    #[test]
    fn tolerates_every_custom_data_shape() {
        let cases = [
            (r#""custom_data":[]"#, None),
            (r#""custom_data":"""#, None),
            (r#""custom_data":null"#, None),
            (r#""custom_data":{"transaction_id":"T1"}"#, Some("T1")),
            (r#""custom_data":"{\"transaction_id\":\"T2\"}""#, Some("T2")),
            (
                r#""custom_data":"[{\"keyof_customdata\":\"transaction_id\",\"valueof_customdata\":\"T3\"}]""#,
                Some("T3"),
            ),
            (
                r#""custom_data":[{"keyof_customdata":"logfile"},42,"x"]"#,
                None,
            ),
            (r#""custom_data":"\"nested string\"""#, None),
        ];
        for (fragment, expected) in cases {
            let body = format!(r#"{{"response_code":"00","status":"pending",{fragment}}}"#);
            let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
            assert_eq!(a.custom_transaction_id.as_deref(), expected, "{fragment}");
        }
    }

    #[test]
    fn amounts_in_every_form_and_conflicts() {
        let cases = [
            (r#""amount":100"#, Some(100)),
            (r#""amount":"100""#, Some(100)),
            (r#""amount":100.0"#, Some(100)),
            (r#""amount":" 250 ""#, Some(250)),
            (r#""amount":100.5"#, None),
            (r#""amount":"abc""#, None),
            (r#""amount":null,"montant":"42""#, Some(42)),
            (r#""amount":[1]"#, None),
        ];
        for (fragment, expected) in cases {
            let body = format!(r#"{{{fragment}}}"#);
            let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
            assert_eq!(a.amount, expected, "{fragment}");
        }
        let a = ConfirmAnswer::parse(br#"{"amount":100,"montant":"90"}"#).unwrap();
        assert_eq!(a.amount_conflict, Some((100, 90)));
    }

    #[test]
    fn customer_null_and_status_case_are_normalised() {
        let a = ConfirmAnswer::parse(br#"{"status":" Pending ","customer":null}"#).unwrap();
        assert_eq!(a.status.as_deref(), Some("pending"));
        assert_eq!(a.customer, None);
    }

    #[test]
    fn non_objects_are_errors_not_panics() {
        assert_eq!(ConfirmAnswer::parse(b""), Err(AnswerError::Empty));
        assert_eq!(ConfirmAnswer::parse(b"  \n"), Err(AnswerError::Empty));
        assert!(matches!(
            ConfirmAnswer::parse(b"<html>502 Bad Gateway</html>"),
            Err(AnswerError::NotJson(_))
        ));
        assert_eq!(ConfirmAnswer::parse(b"[1,2]"), Err(AnswerError::NotObject));
        assert_eq!(ConfirmAnswer::parse(b"\"x\""), Err(AnswerError::NotObject));
    }
}
