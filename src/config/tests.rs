use super::*;

#[test]
fn defaults_are_valid_and_match_the_documented_contract() {
    let c = Config::default();
    c.validate().unwrap();
    assert_eq!(c.ligdicash.base_url, "https://app.ligdicash.com");
    assert_eq!(c.poll.min_interval, HumanDuration::secs(3));
    assert_eq!(c.poll.give_up_after, HumanDuration::secs(72 * 3600));
    assert_eq!(c.poll.concurrency, 4);
}

#[test]
fn parses_the_documented_example() {
    let text = r#"
        [ligdicash]
        base_url = "https://app.ligdicash.com"
        request_timeout = "15s"
        [database]
        path = "reconciler.db"
        [poll]
        first_delay = "10s"
        initial_interval = "10s"
        max_interval = "15m"
        multiplier = 2.0
        jitter = 0.2
        min_interval = "3s"
        give_up_after = "72h"
        concurrency = 4
        max_requests_per_second = 5.0
    "#;
    let c = Config::parse(text).unwrap();
    c.validate().unwrap();
    assert_eq!(c.poll.max_interval, HumanDuration::secs(900));
}

#[test]
fn the_shipped_example_config_is_valid_and_all_defaults() {
    let text = include_str!("../../deploy/config.example.toml");
    let c = Config::parse(text).unwrap();
    c.validate().unwrap();
    let mut expected = toml::Value::try_from(Config::default()).unwrap();
    expected["database"]["path"] = "/var/lib/ligdicash-reconciler/reconciler.db".into();
    assert_eq!(toml::Value::try_from(&c).unwrap(), expected);
}

/// A mistyped or mistyped-value credential line names the line and key, never the value.
#[test]
fn parse_errors_never_show_a_credential() {
    for (text, key) in [
        ("[ligdicash]\napi_tokn = \"t-SECRET-3\"\n", "api_tokn"),
        ("[ligdicash]\napi_key = 123456789\n", "api_key"),
        ("[ligdicash]\napi_token = [\"t-SECRET-3\"]\n", "api_token"),
    ] {
        let err = Config::parse(text).unwrap_err();
        assert!(err.contains("line 2") && err.contains(key), "{err}");
        assert!(
            !err.contains("SECRET") && !err.contains("123456789"),
            "{err}"
        );
    }
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let err = Config::parse("[poll]\nconcurency = 4\n").unwrap_err();
    assert!(err.contains("concurency"), "{err}");
    let err = Config::parse("[poll]\nfirst_delay = \"ten\"\n").unwrap_err();
    assert!(
        err.contains("first_delay") || err.contains("duration"),
        "{err}"
    );
    let err = Config::parse("[poll]\nconcurrency = -1\n").unwrap_err();
    assert!(err.contains("concurrency"), "{err}");
}

#[test]
fn debug_and_rendered_config_never_show_plain_credentials() {
    let c = Config::parse("[ligdicash]\napi_key = \"k-SECRET-1\"\napi_token = \"t-SECRET-2\"\n")
        .unwrap();
    let debug = format!("{c:?}");
    let rendered = c.to_redacted_toml();
    for text in [&debug, &rendered] {
        assert!(!text.contains("SECRET"), "{text}");
    }
    assert!(debug.contains("<redacted>"));
}
