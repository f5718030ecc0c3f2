//! Lenient parsing of a confirm response body into [`ConfirmAnswer`].
//!
//! LigdiCash's payloads vary: `amount`/`montant` are numbers or strings, `operator_id` an
//! integer or a string, `customer` may be null, `custom_data` an array, `[]`, `""`, an object
//! or a JSON string. Nothing here panics or rejects a body for a field's type; only a body
//! that is not a JSON object at all (or is absurdly large) is an error.
//!
//! The body is parsed once into a `serde_json::Value` and each field is read from it. A
//! one-pass streaming visitor was once kept beside this for speed: it saved a few
//! microseconds per confirm, which LigdiCash's pace (a few confirms a second) never needs,
//! at the price of a second parser to trust (docs/benchmarks.md, "One answer parser").
//!
//! Bounds: serde_json stops at 128 levels of nesting with an error (`recursion limit
//! exceeded`), so a deeply nested body cannot exhaust the stack; bodies over
//! [`MAX_BODY_BYTES`] are refused before parsing, since a `Value` can take many times its
//! text in memory. The caller keeps the raw body; nothing here holds on to it.

use super::amount::{AmountField, AmountProblem, confirmed_amount};
use serde_json::{Map, Value};

/// The largest body parsed: a real answer is about 1.2 KiB. The transport stops reading
/// earlier (256 KiB today); this bound keeps the parser safe whoever calls it: a `Value` of
/// `[0,0,...]` takes over ten times its text in memory (32 bytes per two-byte element).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest parse error kept in the error (and so in the attempt log).
const ERROR_CHARS: usize = 120;

/// What one confirm response said, with every field optional and normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmAnswer {
    pub response_code: Option<String>,
    pub response_text: Option<String>,
    pub status: Option<String>,
    /// The confirmed amount by the rule of [`super::amount`]: `None` when neither
    /// `amount` nor `montant` gives one, or when they cannot be trusted.
    pub amount: Option<i64>,
    /// Why `amount` and `montant` cannot be trusted (they disagree, or one is not a whole
    /// number): a `completed` answer with a problem is a `mismatch`.
    pub amount_problem: Option<AmountProblem>,
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
    #[error("body of {0} bytes is over the {MAX_BODY_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("body is not JSON ({0})")]
    NotJson(String),
    #[error("JSON body is not an object")]
    NotObject,
}

impl ConfirmAnswer {
    /// Parses a response body; see the module docs for what is tolerated.
    pub fn parse(body: &[u8]) -> Result<Self, AnswerError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(AnswerError::TooLarge(body.len()));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(AnswerError::Empty);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => Ok(Self::from_object(&obj)),
            Ok(_) => Err(AnswerError::NotObject),
            Err(e) => Err(AnswerError::NotJson(short(&e))),
        }
    }

    /// Reads each field leniently; on duplicate keys the last one wins (serde_json's map).
    fn from_object(obj: &Map<String, Value>) -> Self {
        let amount_of = |key: &str| obj.get(key).map_or(AmountField::Absent, amount_field);
        let (amount, amount_problem) =
            match confirmed_amount(&amount_of("amount"), &amount_of("montant")) {
                Ok(value) => (value, None),
                Err(problem) => (None, Some(problem)),
            };
        let field = |key: &str| obj.get(key).and_then(text);
        Self {
            response_code: field("response_code"),
            response_text: field("response_text"),
            status: field("status").map(|s| s.to_ascii_lowercase()),
            amount,
            amount_problem,
            operator_id: field("operator_id"),
            operator_name: field("operator_name"),
            customer: field("customer"),
            request_id: field("request_id"),
            external_id: field("external_id"),
            oreference: field("oreference"),
            date: field("date"),
            custom_transaction_id: obj.get("custom_data").and_then(custom_transaction_id),
        }
    }
}

/// A scalar as trimmed text; empty strings, null, arrays and objects are absent. Numbers
/// print as serde_json prints them (`12`, `100.5`, `1000.0` for `1e3`).
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// `amount` or `montant` as [`super::amount`] reads it.
fn amount_field(v: &Value) -> AmountField {
    match v {
        Value::Null => AmountField::Absent,
        Value::Number(n) => match n.as_i64() {
            Some(i) => AmountField::Whole(i),
            // Without serde_json's `arbitrary_precision` every number has an f64 form.
            None => AmountField::from_f64(n.as_f64().unwrap_or(f64::NAN), n.to_string()),
        },
        Value::String(s) => AmountField::from_text(s),
        Value::Bool(b) => AmountField::Unusable(b.to_string()),
        Value::Array(_) => AmountField::Unusable("an array".into()),
        Value::Object(_) => AmountField::Unusable("an object".into()),
    }
}

/// Finds the `transaction_id` entry by key, never by position, in any of the shapes seen:
/// an array of `keyof_customdata`/`valueof_customdata` entries, an object, or a JSON string
/// holding either.
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
        // Form-encoded callbacks carry custom_data as a JSON string. A string inside that
        // string is not unwrapped again, so this recurses at most once.
        Value::String(s) if !s.trim().is_empty() => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|inner| !inner.is_string())
            .and_then(|inner| custom_transaction_id(&inner)),
        _ => None,
    }
}

/// serde_json's message, cut to [`ERROR_CHARS`] on a character boundary.
fn short(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    if let Some((end, _)) = s.char_indices().nth(ERROR_CHARS) {
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
