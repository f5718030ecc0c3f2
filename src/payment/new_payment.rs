//! A payment as the shop hands it over (`enqueue`, `POST /v1/payments`), read once at the
//! edge: the token, the order reference and the amount, each by one rule that every entry
//! point shares. A refusal names the field and says what was expected, in words a shop's
//! developer can act on; each edge spells the field its own way ([`Field`]).

use super::Kind;
use std::fmt;

/// Longest token accepted; LigdiCash tokens are JWT-like strings of a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Longest `transaction_id`, the width of the shop's order references.
const MAX_TRANSACTION_ID_LEN: usize = 255;

/// A payment as the shop hands it over, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub token: String,
    pub transaction_id: Option<String>,
    pub expected_amount: Option<i64>,
    /// Money in (the default) or out: decides the confirm endpoint and the schedule.
    pub kind: Kind,
}

/// A field of a new payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Token,
    TransactionId,
    Amount,
}

impl Field {
    /// As the command line spells it (`enqueue --transaction-id`, `--amount`).
    pub fn on_command_line(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::TransactionId => "transaction-id",
            Self::Amount => "amount",
        }
    }

    /// As the shop API's JSON body spells it.
    pub fn in_json(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::TransactionId => "transaction_id",
            Self::Amount => "expected_amount",
        }
    }
}

/// A field refused, and why (`must not be empty when given`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub field: Field,
    pub problem: String,
}

/// The command line's wording: `amount: must be a positive whole number ...`.
impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field.on_command_line(), self.problem)
    }
}

impl NewPayment {
    /// Validates each field and names the one at fault.
    pub fn parse(
        token: &str,
        transaction_id: Option<&str>,
        amount: Option<&str>,
    ) -> Result<Self, Refused> {
        let refused = |field, problem: String| Refused { field, problem };
        let token = check_token(token).map_err(|p| refused(Field::Token, p))?;
        let transaction_id = match transaction_id.map(str::trim) {
            Some("") => {
                let problem = "must not be empty when given".to_owned();
                return Err(refused(Field::TransactionId, problem));
            }
            Some(t) if t.len() > MAX_TRANSACTION_ID_LEN => {
                let problem = format!("longer than {MAX_TRANSACTION_ID_LEN} bytes");
                return Err(refused(Field::TransactionId, problem));
            }
            other => other.map(str::to_owned),
        };
        let expected_amount = amount
            .map(parse_amount)
            .transpose()
            .map_err(|p| refused(Field::Amount, p))?;
        Ok(Self {
            token: token.to_owned(),
            transaction_id,
            expected_amount,
            kind: Kind::Invoice,
        })
    }

    /// The same payment, of `kind`.
    pub fn of_kind(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }
}

/// A token as given on the command line or to `enqueue`: trimmed, non-empty, at most
/// [`MAX_TOKEN_LEN`] bytes, no control characters. Every command taking a token goes
/// through this one rule, so `show " tok "` finds what `enqueue " tok "` stored.
pub fn parse_token(text: &str) -> Result<&str, String> {
    check_token(text).map_err(|problem| format!("token: {problem}"))
}

fn check_token(text: &str) -> Result<&str, String> {
    let token = text.trim();
    if token.is_empty() {
        return Err("must not be empty".into());
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(format!("longer than {MAX_TOKEN_LEN} bytes"));
    }
    if token.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(token)
}

/// An XOF amount written as text (`--amount`, or a JSON string, as PHP often sends
/// numbers): digits only, surrounding spaces ignored, above zero. XOF has no minor unit,
/// and a shop that writes `5 000` or `5000.5` has a bug worth seeing, not a value to guess:
/// `"5 000"`, `"5000.5"`, `"+5000"`, `"-5"` and `"abc"` are refused. The error is the
/// problem alone; the caller names the field.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let digits = text.trim();
    let got = format!("{:?}", shortened(text));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(amount_refused(&got));
    }
    match digits.parse::<i64>() {
        Ok(value) if value > 0 => Ok(value),
        Ok(_) => Err(amount_refused(&got)),
        Err(_) => Err(amount_too_large(&got)),
    }
}

/// Why an amount is refused; `got` is the value as the client wrote it (`"5 000"` for a
/// string, `5000.5` for a JSON number).
pub fn amount_refused(got: &str) -> String {
    format!("must be a positive whole number of XOF, like 5000 (got {got})")
}

/// An amount of digits beyond any real payment (and beyond a 64-bit integer).
pub fn amount_too_large(got: &str) -> String {
    format!("is too large to be an amount of XOF (got {got})")
}

/// At most 40 characters of what the client sent, for an error message.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_are_named() {
        let long = "x".repeat(MAX_TOKEN_LEN + 1);
        let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            ("", None, None, "token"),
            ("  ", None, None, "token"),
            (&long, None, None, "token"),
            ("a\nb", None, None, "token"),
            ("t", Some(""), None, "transaction-id"),
            ("t", None, Some("0"), "amount"),
            ("t", None, Some("-5"), "amount"),
            ("t", None, Some("12.5"), "amount"),
            ("t", None, Some("abc"), "amount"),
        ];
        for (token, tx, amount, field) in cases {
            let err = NewPayment::parse(token, *tx, *amount).unwrap_err();
            assert!(
                err.to_string().starts_with(field),
                "{err} should name {field}"
            );
        }
    }

    #[test]
    fn good_input_is_normalised() {
        let p = NewPayment::parse(" tok ", Some(" ORD-1 "), Some(" 5000 ")).unwrap();
        assert_eq!(p.token, "tok");
        assert_eq!(p.transaction_id.as_deref(), Some("ORD-1"));
        assert_eq!(p.expected_amount, Some(5000));
    }

    /// Digits only, as PHP's strings of numbers are; anything a person would have to
    /// guess at is refused in words, never in the parser's.
    #[test]
    fn an_amount_is_a_string_of_digits_above_zero() {
        for (text, amount) in [("5000", 5000), (" 5000\n", 5000), ("007", 7)] {
            assert_eq!(parse_amount(text), Ok(amount), "{text:?}");
        }
        let refused = r#"must be a positive whole number of XOF, like 5000 (got "5 000")"#;
        assert_eq!(parse_amount("5 000").unwrap_err(), refused);
        for text in [
            "5000.5", "5,000", "+5000", "-5", "0", "abc", "", "5e3", "٥٠٠٠",
        ] {
            let err = parse_amount(text).unwrap_err();
            assert!(
                err.starts_with("must be a positive whole number"),
                "{text:?}: {err}"
            );
        }
        let err = parse_amount("99999999999999999999").unwrap_err();
        assert!(err.starts_with("is too large"), "{err}");
        let err = parse_amount(&"9".repeat(500)).unwrap_err();
        assert!(err.len() < 120, "the value is cut short: {err}");
    }
}
