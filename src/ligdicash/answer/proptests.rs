//! Property tests of the parser against explicit expectations: answers generated from field
//! values, written with each type LigdiCash uses, read back as those values.

use super::*;
use crate::ligdicash::amount::AmountField::{Absent, Fraction, Unusable, Whole};
use proptest::prelude::*;
use serde_json::json;

/// Non-empty text without surrounding whitespace, as a parsed field holds it.
fn clean_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9é_-]([A-Za-z0-9é .:+_-]{0,14}[A-Za-z0-9é_-])?"
}

/// A text field as written (`None`: absent) and what the parser must read from it.
fn text_field() -> impl Strategy<Value = (Option<Value>, Option<String>)> {
    prop_oneof![
        Just((None, None)),
        Just((Some(Value::Null), None)),
        Just((Some(json!("")), None)),
        Just((Some(json!(" \t")), None)),
        Just((Some(json!([])), None)),
        Just((Some(json!({"a": 1})), None)),
        (clean_text(), " {0,2}", " {0,2}")
            .prop_map(|(s, l, r)| (Some(json!(format!("{l}{s}{r}"))), Some(s))),
        any::<i64>().prop_map(|i| (Some(json!(i)), Some(i.to_string()))),
        any::<u64>().prop_map(|u| (Some(json!(u)), Some(u.to_string()))),
        any::<bool>().prop_map(|b| (Some(json!(b)), Some(b.to_string()))),
        Just((Some(json!(100.5)), Some("100.5".to_owned()))),
    ]
}

/// `amount` or `montant` as written and how the amount rule must be given it.
fn amount_form() -> impl Strategy<Value = (Option<Value>, AmountField)> {
    prop_oneof![
        Just((None, Absent)),
        Just((Some(Value::Null), Absent)),
        Just((Some(json!(" ")), Absent)),
        any::<i64>().prop_map(|i| (Some(json!(i)), Whole(i))),
        any::<i64>().prop_map(|i| (Some(json!(format!(" {i} "))), Whole(i))),
        (-900_000_000_000_000..900_000_000_000_000i64)
            .prop_map(|i| (Some(json!(i as f64)), Whole(i))),
        (0..1_000_000i64).prop_map(|w| (Some(json!(format!("{w}.0"))), Whole(w))),
        (0..1_000_000i64).prop_map(|w| (Some(json!(w as f64 + 0.5)), Fraction(format!("{w}.5")))),
        (0..1_000_000i64)
            .prop_map(|w| (Some(json!(format!("{w}.25 "))), Fraction(format!("{w}.25")))),
        "x([a-z ]{0,7}[a-z])?".prop_map(|s| (Some(json!(s)), Unusable(format!("{s:?}")))),
        any::<bool>().prop_map(|b| (Some(json!(b)), Unusable(b.to_string()))),
        Just((Some(json!([100])), Unusable("an array".into()))),
        Just((Some(json!({"v": 100})), Unusable("an object".into()))),
        Just((Some(json!(1e300)), Unusable("1e+300".into()))),
        Just((Some(json!(u64::MAX)), Unusable(u64::MAX.to_string()))),
    ]
}

/// An entry of `custom_data`'s array form that must not match.
fn other_entry() -> impl Strategy<Value = Value> {
    let key = prop_oneof![Just("logfile"), Just("hash"), Just("id_invoice")];
    prop_oneof![
        (key, clean_text()).prop_map(|(k, v)| json!({
            "keyof_customdata": k, "valueof_customdata": v,
            "datecreation_customdata": "2026-04-15 11:19:28.977757"
        })),
        // The right key with nothing in it is skipped, not taken.
        prop_oneof![Just(Value::Null), Just(json!("")), Just(json!(" "))]
            .prop_map(|v| json!({"keyof_customdata": "transaction_id", "valueof_customdata": v})),
        Just(json!(42)),
        Just(json!("transaction_id")),
        Just(Value::Null),
    ]
}

/// `custom_data` in one of its shapes (`None`: absent) and the transaction id in it.
fn custom_data() -> impl Strategy<Value = (Option<Value>, Option<String>)> {
    let id = prop_oneof![
        clean_text().prop_map(|s| (json!(s), s)),
        (clean_text(), " {1,2}").prop_map(|(s, pad)| (json!(format!("{pad}{s}")), s)),
        any::<i64>().prop_map(|i| (json!(i), i.to_string())),
    ];
    let key = prop_oneof![Just("transaction_id"), Just(" transaction_id ")];
    let array = (
        prop::option::of((key, id.clone())),
        prop::collection::vec(other_entry(), 0..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(found, mut entries, at)| {
            let expected = found.map(|(key, (value, text))| {
                let entry = json!({"keyof_customdata": key, "valueof_customdata": value});
                entries.insert(at.index(entries.len() + 1), entry);
                text
            });
            (Value::from(entries), expected)
        });
    let object = (prop::option::of(id), clean_text()).prop_map(|(found, other)| {
        let mut map = Map::new();
        map.insert("logfile".into(), json!(other));
        let expected = found.map(|(value, text)| {
            map.insert("transaction_id".into(), value);
            text
        });
        (Value::Object(map), expected)
    });
    let shape = prop_oneof![array, object];
    prop_oneof![
        Just((None, None)),
        Just((Some(Value::Null), None)),
        Just((Some(json!("")), None)),
        Just((Some(json!(7)), None)),
        // Form-encoded callbacks send either shape as a JSON string.
        (shape, any::<bool>()).prop_map(|((value, expected), as_string)| {
            let value = if as_string {
                Value::String(value.to_string())
            } else {
                value
            };
            (Some(value), expected)
        }),
    ]
}

/// Keys the parser does not read, with values of any type; they change nothing.
fn noise() -> impl Strategy<Value = Vec<(&'static str, Value)>> {
    let key = prop_oneof![
        Just("wiki"),
        Just("token"),
        Just("description"),
        Just("transaction_id"),
        Just("customer_details"),
        Just("keyof_customdata"),
        Just("Status"),
    ];
    let value = prop_oneof![
        Just(Value::Null),
        clean_text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!({"firstname": "C", "phone": "2250171584035", "amount": 7})),
        Just(json!([{"keyof_customdata": "transaction_id", "valueof_customdata": "NO"}])),
    ];
    prop::collection::vec((key, value), 0..4)
}

const TEXT_KEYS: [&str; 10] = [
    "response_code",
    "response_text",
    "status",
    "operator_id",
    "operator_name",
    "customer",
    "request_id",
    "external_id",
    "oreference",
    "date",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn every_field_reads_back_in_every_type_variant(
        texts in prop::collection::vec(text_field(), TEXT_KEYS.len()),
        (amount, amount_read) in amount_form(),
        (montant, montant_read) in amount_form(),
        (custom, custom_id) in custom_data(),
        noise in noise(),
    ) {
        let mut obj = Map::new();
        for (key, value) in noise {
            obj.insert(key.into(), value);
        }
        let mut read = Vec::new();
        for (key, (written, expected)) in TEXT_KEYS.iter().zip(texts) {
            if let Some(value) = written {
                obj.insert((*key).into(), value);
            }
            read.push(expected);
        }
        for (key, written) in [("amount", amount), ("montant", montant), ("custom_data", custom)] {
            if let Some(value) = written {
                obj.insert(key.into(), value);
            }
        }
        let (amount, amount_problem) = match confirmed_amount(&amount_read, &montant_read) {
            Ok(value) => (value, None),
            Err(problem) => (None, Some(problem)),
        };
        let [response_code, response_text, status, operator_id, operator_name, customer,
            request_id, external_id, oreference, date] = <[Option<String>; 10]>::try_from(read).unwrap();
        let expected = ConfirmAnswer {
            response_code,
            response_text,
            status: status.map(|s| s.to_ascii_lowercase()),
            amount,
            amount_problem,
            operator_id,
            operator_name,
            customer,
            request_id,
            external_id,
            oreference,
            date,
            custom_transaction_id: custom_id,
        };
        let body = Value::Object(obj).to_string();
        prop_assert_eq!(ConfirmAnswer::parse(body.as_bytes()), Ok(expected), "{}", body);
    }

    #[test]
    fn any_json_object_is_an_answer_and_any_other_json_is_not(value in json(), pretty in any::<bool>()) {
        let body = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            value.to_string()
        };
        let parsed = ConfirmAnswer::parse(body.as_bytes());
        if value.is_object() {
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
        } else {
            prop_assert_eq!(parsed, Err(AnswerError::NotObject));
        }
    }
}

/// Any JSON, near the confirm shape: the known keys with values of any type.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,8}".prop_map(Value::from),
    ];
    let keys = prop_oneof![
        prop::sample::select(TEXT_KEYS.to_vec()),
        Just("amount"),
        Just("montant"),
        Just("custom_data"),
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
