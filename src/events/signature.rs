//! Standard Webhooks v1 signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
//! where the key is the base64-decoded secret after its `whsec_` prefix.
//!
//! Pure functions, shared by the webhook sender and the `events verify-signature` helper, so
//! what we sign and what we tell shops to verify can never drift apart.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Receivers should refuse messages whose timestamp is further than this from their clock.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A webhook secret was not `whsec_` + base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("webhook secret is empty")]
    Empty,
    #[error("webhook secret is not valid base64 after the whsec_ prefix")]
    NotBase64,
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("timestamp is not a number")]
    BadTimestamp,
    #[error("timestamp is {0} s away from now, beyond the 5 minute tolerance")]
    Stale(i64),
    #[error("no v1 signature matches")]
    NoMatch,
}

/// The HMAC key a secret stands for. A secret without the prefix is taken as base64 too.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, SecretError> {
    let encoded = secret.trim();
    let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
    if encoded.is_empty() {
        return Err(SecretError::Empty);
    }
    STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)
}

/// The `webhook-signature` header value for one message.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(key, id, timestamp, body)))
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Verifies a `webhook-signature` header (space-separated `v1,...` entries, as during a
/// secret rotation) against any of `secrets`, with the timestamp tolerance.
pub fn verify(
    secrets: &[&str],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    // Checked: a timestamp near i64's ends must be stale, not an overflow.
    let age = now_secs.checked_sub(ts).unwrap_or(i64::MAX);
    if age.checked_abs().is_none_or(|a| a > TOLERANCE_SECS) {
        return Err(VerifyError::Stale(age));
    }
    for secret in secrets {
        let expected = mac(&secret_key(secret)?, id, ts, body);
        let matched = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| STANDARD.decode(s).ok())
            .any(|given| constant_time_eq(&given, &expected));
        if matched {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const EXPECTED: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    #[test]
    fn standard_webhooks_test_vector() {
        let key = secret_key(SECRET).unwrap();
        assert_eq!(sign(&key, ID, TS, BODY), EXPECTED);
    }

    #[test]
    fn verifies_with_rotation_and_tolerance() {
        let rotated = format!("v1,bm90LWl0 {EXPECTED}");
        assert_eq!(
            verify(&[SECRET], ID, "1649367553", &rotated, BODY, TS + 10),
            Ok(())
        );
        let old_and_new = ["whsec_b2xkLXNlY3JldA==", SECRET];
        assert_eq!(
            verify(&old_and_new, ID, "1649367553", EXPECTED, BODY, TS),
            Ok(())
        );
        assert_eq!(
            verify(&[SECRET], ID, "1649367553", EXPECTED, b"{}", TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&[SECRET], ID, "1649367553", EXPECTED, BODY, TS + 301),
            Err(VerifyError::Stale(301))
        );
        assert_eq!(
            verify(&[SECRET], ID, "x", EXPECTED, BODY, TS),
            Err(VerifyError::BadTimestamp)
        );
        // Timestamps at i64's ends are stale, not an overflow (a panic in a debug build).
        for extreme in [i64::MIN, i64::MAX] {
            let result = verify(&[SECRET], ID, &extreme.to_string(), EXPECTED, BODY, TS);
            assert!(matches!(result, Err(VerifyError::Stale(_))), "{extreme}");
        }
    }

    #[test]
    fn bad_secrets_are_errors_not_panics() {
        assert_eq!(secret_key("whsec_"), Err(SecretError::Empty));
        assert_eq!(secret_key("whsec_!!!"), Err(SecretError::NotBase64));
        assert!(secret_key("c2VjcmV0").is_ok(), "prefix is optional");
    }
}
