//! Lenient parsing of a confirm response body into [`ConfirmAnswer`].
//!
//! LigdiCash's payloads vary: `amount`/`montant` are numbers or strings, `operator_id` an
//! integer or a string, `customer` may be null, `custom_data` an array, `[]`, `""`, an object
//! or a JSON string. Nothing here panics or rejects a body for a field's type; only a body
//! that is not a JSON object at all is an error.

use super::amount::{AmountField, AmountProblem, confirmed_amount};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
#[cfg(test)]
use serde_json::Map;
use serde_json::Value;

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
    #[error("body is not JSON ({0})")]
    NotJson(String),
    #[error("JSON body is not an object")]
    NotObject,
}

impl ConfirmAnswer {
    /// Parses a response body; see the module docs for what is tolerated.
    ///
    /// The body is read in one pass into the fields kept, without building a
    /// `serde_json::Value` of the whole answer (`customer_details`, `wiki` and the rest are
    /// skipped): this is on every confirm's path.
    pub fn parse(body: &[u8]) -> Result<Self, AnswerError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(AnswerError::Empty);
        }
        match serde_json::from_slice::<TopLevel>(body) {
            Ok(TopLevel(Some(fields))) => Ok(fields.into_answer()),
            Ok(TopLevel(None)) => Err(AnswerError::NotObject),
            Err(e) => Err(AnswerError::NotJson(short(&e))),
        }
    }

    /// The same reading from an already parsed object (the reference the one-pass parser
    /// is tested against).
    #[cfg(test)]
    fn from_object(obj: &Map<String, Value>) -> Self {
        let amount_of = |key: &str| obj.get(key).map_or(AmountField::Absent, amount_field);
        let (amount, amount_problem) = amounts(&amount_of("amount"), &amount_of("montant"));
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

/// A confirm body's top level: the fields kept, or `None` for anything but an object.
#[derive(Default)]
struct TopLevel(Option<Fields>);

/// The top-level fields the answer keeps, as they came (last one wins on duplicates, as
/// with a parsed object).
#[derive(Default)]
struct Fields {
    response_code: Scalar,
    response_text: Scalar,
    status: Scalar,
    amount: Scalar,
    montant: Scalar,
    operator_id: Scalar,
    operator_name: Scalar,
    customer: Scalar,
    request_id: Scalar,
    external_id: Scalar,
    oreference: Scalar,
    date: Scalar,
    custom_transaction_id: Option<String>,
}

impl Fields {
    fn into_answer(self) -> ConfirmAnswer {
        let (amount, amount_problem) =
            amounts(&self.amount.amount_field(), &self.montant.amount_field());
        ConfirmAnswer {
            response_code: self.response_code.text(),
            response_text: self.response_text.text(),
            status: self.status.text().map(|s| s.to_ascii_lowercase()),
            amount,
            amount_problem,
            operator_id: self.operator_id.text(),
            operator_name: self.operator_name.text(),
            customer: self.customer.text(),
            request_id: self.request_id.text(),
            external_id: self.external_id.text(),
            oreference: self.oreference.text(),
            date: self.date.text(),
            custom_transaction_id: self.custom_transaction_id,
        }
    }
}

/// [`confirmed_amount`] as the answer keeps it: the amount, or why there is none.
fn amounts(amount: &AmountField, montant: &AmountField) -> (Option<i64>, Option<AmountProblem>) {
    match confirmed_amount(amount, montant) {
        Ok(value) => (value, None),
        Err(problem) => (None, Some(problem)),
    }
}

/// One JSON value where a scalar is expected; null is `Absent`, arrays and objects are
/// `Compound` (no text, but not nothing: an amount that is an array is a problem).
#[derive(Debug, Default, Clone, PartialEq)]
enum Scalar {
    #[default]
    Absent,
    Text(String),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    /// "an array" or "an object".
    Compound(&'static str),
}

impl Scalar {
    /// Trimmed text; empty strings are absent. Numbers print as `serde_json` prints them.
    fn text(self) -> Option<String> {
        let s = match self {
            Self::Absent | Self::Compound(_) => return None,
            Self::Text(s) if s.trim().len() == s.len() => s,
            Self::Text(s) => s.trim().to_owned(),
            Self::Int(i) => i.to_string(),
            Self::UInt(u) => u.to_string(),
            Self::Float(f) => {
                serde_json::Number::from_f64(f).map_or_else(String::new, |n| n.to_string())
            }
            Self::Bool(b) => b.to_string(),
        };
        (!s.is_empty()).then_some(s)
    }

    /// `amount` or `montant` as [`super::amount`] reads it.
    fn amount_field(&self) -> AmountField {
        match self {
            Self::Absent => AmountField::Absent,
            Self::Int(i) => AmountField::Whole(*i),
            Self::UInt(u) => AmountField::from_f64(*u as f64, u.to_string()),
            Self::Float(f) => AmountField::from_f64(*f, float_text(*f)),
            Self::Text(s) => AmountField::from_text(s),
            Self::Bool(b) => AmountField::Unusable(b.to_string()),
            Self::Compound(what) => AmountField::Unusable((*what).to_owned()),
        }
    }
}

/// A float as `serde_json` prints it (as a parsed `Value` would show it).
fn float_text(f: f64) -> String {
    serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
}

/// Visitor methods for JSON values a reader has no use for at that place: each gives the
/// visitor's default value (arrays and objects are skipped, never refused), which is what
/// keeps the parser lenient about a field's type.
macro_rules! unwanted_values {
    ($de:lifetime: scalars) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    ($de:lifetime: str) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
    ($de:lifetime: seq) => {
        fn visit_seq<A: SeqAccess<$de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
    ($de:lifetime: map) => {
        fn visit_map<A: MapAccess<$de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

/// The object keys the parser acts on, matched without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    ResponseCode,
    ResponseText,
    Status,
    Amount,
    Montant,
    OperatorId,
    OperatorName,
    Customer,
    RequestId,
    ExternalId,
    Oreference,
    Date,
    CustomData,
    TransactionId,
    EntryName,
    EntryValue,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, s: &str) -> Result<Key, E> {
        Ok(match s {
            "response_code" => Key::ResponseCode,
            "response_text" => Key::ResponseText,
            "status" => Key::Status,
            "amount" => Key::Amount,
            "montant" => Key::Montant,
            "operator_id" => Key::OperatorId,
            "operator_name" => Key::OperatorName,
            "customer" => Key::Customer,
            "request_id" => Key::RequestId,
            "external_id" => Key::ExternalId,
            "oreference" => Key::Oreference,
            "date" => Key::Date,
            "custom_data" => Key::CustomData,
            "transaction_id" => Key::TransactionId,
            "keyof_customdata" => Key::EntryName,
            "valueof_customdata" => Key::EntryValue,
            _ => Key::Other,
        })
    }
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::ResponseCode => &mut fields.response_code,
                Key::ResponseText => &mut fields.response_text,
                Key::Status => &mut fields.status,
                Key::Amount => &mut fields.amount,
                Key::Montant => &mut fields.montant,
                Key::OperatorId => &mut fields.operator_id,
                Key::OperatorName => &mut fields.operator_name,
                Key::Customer => &mut fields.customer,
                Key::RequestId => &mut fields.request_id,
                Key::ExternalId => &mut fields.external_id,
                Key::Oreference => &mut fields.oreference,
                Key::Date => &mut fields.date,
                Key::CustomData => {
                    fields.custom_transaction_id = map.next_value::<CustomData>()?.0;
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
        }
        Ok(TopLevel(Some(fields)))
    }

    unwanted_values!('de: seq);
    unwanted_values!('de: str);
    unwanted_values!('de: scalars);
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(u).map_or(Scalar::UInt(u), Scalar::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(s))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Compound("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Compound("an object"))
    }
}

/// `custom_data`'s `transaction_id`, read in place from the shapes seen: an array of
/// `keyof_customdata`/`valueof_customdata` entries, an object, or (form-encoded
/// callbacks) a JSON string holding either.
#[derive(Default)]
struct CustomData(Option<String>);

impl<'de> Deserialize<'de> for CustomData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CustomDataVisitor)
    }
}

struct CustomDataVisitor;

impl<'de> Visitor<'de> for CustomDataVisitor {
    type Value = CustomData;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("custom_data")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CustomData, A::Error> {
        let mut found = None;
        while let Some(entry) = seq.next_element::<CustomEntry>()? {
            if found.is_none() && entry.key.text().as_deref() == Some("transaction_id") {
                found = entry.value.text();
            }
        }
        Ok(CustomData(found))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CustomData, A::Error> {
        let mut found = Scalar::Absent;
        while let Some(key) = map.next_key::<Key>()? {
            if key == Key::TransactionId {
                found = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(CustomData(found.text()))
    }
    fn visit_str<E>(self, s: &str) -> Result<CustomData, E> {
        // Rare (callbacks only): the general path through a parsed value is fine here.
        let inner = serde_json::from_str::<Value>(s)
            .ok()
            .filter(|inner| !inner.is_string());
        Ok(CustomData(inner.as_ref().and_then(custom_transaction_id)))
    }

    unwanted_values!('de: scalars);
}

/// One entry of `custom_data`'s array form; anything but an object has neither part.
#[derive(Default)]
struct CustomEntry {
    key: Scalar,
    value: Scalar,
}

impl<'de> Deserialize<'de> for CustomEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CustomEntryVisitor)
    }
}

struct CustomEntryVisitor;

impl<'de> Visitor<'de> for CustomEntryVisitor {
    type Value = CustomEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a custom_data entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CustomEntry, A::Error> {
        let mut entry = CustomEntry::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::EntryName => entry.key = map.next_value()?,
                Key::EntryValue => entry.value = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(entry)
    }

    unwanted_values!('de: seq);
    unwanted_values!('de: str);
    unwanted_values!('de: scalars);
}

fn short(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    s.truncate(120);
    s
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

/// `amount` or `montant` from a parsed value (the reference reading).
#[cfg(test)]
fn amount_field(v: &Value) -> AmountField {
    match v {
        Value::Null => AmountField::Absent,
        Value::Number(n) => match n.as_i64() {
            Some(i) => AmountField::Whole(i),
            None => AmountField::from_f64(n.as_f64().unwrap_or(f64::NAN), n.to_string()),
        },
        Value::String(s) => AmountField::from_text(s),
        Value::Bool(b) => AmountField::Unusable(b.to_string()),
        Value::Array(_) => AmountField::Unusable("an array".into()),
        Value::Object(_) => AmountField::Unusable("an object".into()),
    }
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
        assert_eq!(a.amount_problem, None);
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
        assert_eq!(a.amount, None, "two amounts that disagree give none");
        assert_eq!(
            a.amount_problem,
            Some(AmountProblem::Disagree {
                amount: 100,
                montant: 90
            })
        );
    }

    #[test]
    fn customer_null_and_status_case_are_normalised() {
        let a = ConfirmAnswer::parse(br#"{"status":" Pending ","customer":null}"#).unwrap();
        assert_eq!(a.status.as_deref(), Some("pending"));
        assert_eq!(a.customer, None);
    }

    /// The one-pass parser reads exactly what reading a parsed `Value` reads, for the
    /// documented shapes and for any JSON near them.
    mod same_as_via_value {
        use super::*;
        use proptest::prelude::*;

        fn reference(body: &[u8]) -> Option<ConfirmAnswer> {
            match serde_json::from_slice::<Value>(body).ok()? {
                Value::Object(obj) => Some(ConfirmAnswer::from_object(&obj)),
                _ => None,
            }
        }

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| serde_json::json!(f)),
                Just(serde_json::json!(100.0)),
                prop_oneof![
                    Just(" 42 "),
                    Just("1e3"),
                    Just("transaction_id"),
                    Just(""),
                    Just("T9")
                ]
                .prop_map(Value::from),
                ".{0,8}".prop_map(Value::from),
            ];
            let keys = prop_oneof![
                Just("status"),
                Just("amount"),
                Just("montant"),
                Just("custom_data"),
                Just("response_code"),
                Just("response_text"),
                Just("operator_id"),
                Just("customer"),
                Just("date"),
                Just("keyof_customdata"),
                Just("valueof_customdata"),
                Just("transaction_id"),
                Just("x"),
            ];
            leaf.prop_recursive(3, 32, 5, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::vec((keys.clone(), inner), 0..7).prop_map(|kv| {
                        Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    }),
                ]
            })
        }

        /// `custom_data` in its array form, with entries that compete for the match.
        fn custom_data() -> impl Strategy<Value = Value> {
            let key = prop_oneof![
                Just("transaction_id"),
                Just("logfile"),
                Just(" transaction_id")
            ];
            let value = prop_oneof![
                Just(Value::Null),
                Just(Value::from("")),
                Just(Value::from("T1")),
                Just(Value::from("T2")),
                any::<i64>().prop_map(Value::from),
            ];
            let entry = prop_oneof![
                (key, value).prop_map(|(k, v)| serde_json::json!({
                    "keyof_customdata": k, "valueof_customdata": v
                })),
                Just(Value::from(42)),
            ];
            prop::collection::vec(entry, 0..5).prop_map(Value::from)
        }

        #[test]
        fn on_the_documented_example() {
            let body = DOCS_EXAMPLE.as_bytes();
            assert_eq!(ConfirmAnswer::parse(body).ok(), reference(body));
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

            #[test]
            fn on_any_custom_data(entries in custom_data(), as_string in any::<bool>()) {
                let entries = if as_string { Value::String(entries.to_string()) } else { entries };
                let body = serde_json::json!({ "status": "completed", "custom_data": entries });
                let body = body.to_string().into_bytes();
                prop_assert_eq!(ConfirmAnswer::parse(&body).ok(), reference(&body));
            }

            #[test]
            fn on_any_json(value in json(), as_string in any::<bool>()) {
                // custom_data is also tried as a JSON string, as form-encoded callbacks send it.
                let value = match value {
                    Value::Object(mut obj) if as_string => {
                        if let Some(cd) = obj.get_mut("custom_data") {
                            *cd = Value::String(cd.to_string());
                        }
                        Value::Object(obj)
                    }
                    other => other,
                };
                let body = value.to_string().into_bytes();
                prop_assert_eq!(ConfirmAnswer::parse(&body).ok(), reference(&body));
            }
        }
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
