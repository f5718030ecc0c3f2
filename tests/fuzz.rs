//! Property tests standing in for fuzzing: the parsers and verifiers that see untrusted input
//! never panic, whatever bytes arrive. They run on stable Rust inside the normal test command
//! (512 cases each, well under a second); coverage-guided `cargo fuzz` targets may follow.

use ligdicash_reconciler::config::Config;
use ligdicash_reconciler::config::duration::parse_duration;
use ligdicash_reconciler::events::signature;
use ligdicash_reconciler::ligdicash::{ConfirmAnswer, Exchange, classify};
use proptest::prelude::*;

/// JSON-ish bodies: mostly near the real confirm shape, with any value in any field.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("status".to_owned()),
                        Just("amount".to_owned()),
                        Just("montant".to_owned()),
                        Just("custom_data".to_owned()),
                        Just("response_code".to_owned()),
                        Just("response_text".to_owned()),
                        Just("operator_id".to_owned()),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn confirm_parser_and_classifier_never_panic_on_bytes(body in prop::collection::vec(any::<u8>(), 0..512), status in 100u16..600) {
        let _ = ConfirmAnswer::parse(&body);
        let _ = classify(&Exchange::Reply { status, retry_after: None, body });
    }

    #[test]
    fn confirm_parser_and_classifier_never_panic_on_json(value in json_value(), status in prop_oneof![Just(200u16), Just(400), Just(429), Just(503)]) {
        let body = value.to_string().into_bytes();
        let _ = ConfirmAnswer::parse(&body);
        let _ = classify(&Exchange::Reply { status, retry_after: None, body });
    }

    #[test]
    fn config_parser_never_panics(text in ".{0,200}", key in "[a-z_]{1,20}", value in ".{0,20}") {
        let _ = Config::parse(&text).map(|c| c.validate());
        let doc = format!("[poll]\n{key} = \"{}\"\n", value.replace(['"', '\\', '\n'], ""));
        let _ = Config::parse(&doc).map(|c| c.validate());
        let _ = parse_duration(&value);
    }

    #[test]
    fn signature_verifier_never_panics(secret in ".{0,40}", id in ".{0,20}", ts in ".{0,12}", sig in ".{0,80}", body in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = signature::verify(&[&secret], &id, &ts, &sig, &body, 1_700_000_000);
        let _ = signature::secret_key(&secret);
    }
}
