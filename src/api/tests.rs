//! The bearer check.

use super::*;

#[test]
fn the_bearer_scheme_is_read_in_any_case_and_spacing() {
    for value in [
        "Bearer s3cret",
        "bearer s3cret",
        "BEARER s3cret",
        "BeArEr s3cret",
        "Bearer  s3cret",
        "Bearer\ts3cret",
        "  Bearer s3cret  ",
        "Bearer s3cret\t",
    ] {
        assert_eq!(bearer_token(value), Some("s3cret"), "{value:?}");
    }
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Basic s3cret",
        "Bearers3cret",
        "Token s3cret",
    ] {
        assert!(
            bearer_token(value).is_none_or(str::is_empty),
            "{value:?}: {:?}",
            bearer_token(value)
        );
    }
    assert_eq!(
        bearer_token("Bearer s3 cret"),
        Some("s3 cret"),
        "not the token"
    );
}

#[test]
fn only_the_exact_token_is_the_same_secret() {
    assert!(same_secret(b"s3cret-token", b"s3cret-token"));
    assert!(!same_secret(b"s3cret-tokeN", b"s3cret-token"));
    assert!(!same_secret(b"s3cret", b"s3cret-token"));
    assert!(!same_secret(b"s3cret-token-and-more", b"s3cret-token"));
    assert!(!same_secret(b"", b"s3cret-token"));
    assert!(!same_secret(b"", b""), "an empty token never authorises");
}
