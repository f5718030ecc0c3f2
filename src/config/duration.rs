//! Human durations in the configuration file: `"250ms"`, `"3s"`, `"15m"`, `"72h"`, `"1h30m"`.
//!
//! A bare number is refused: `timeout = 15` could mean seconds or milliseconds, and a payment
//! daemon should not guess.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A `Duration` that (de)serialises as a human string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Shorthand for configuration defaults.
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    /// Shorthand for configuration defaults.
    pub const fn millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// The longest duration the parser accepts: every time in this program is `i64`
/// milliseconds, so a longer one could only overflow (it is also far beyond any key's
/// bound, which validation then names).
const MAX_MS: u64 = i64::MAX as u64;

/// Parses `"250ms"`, `"3s"`, `"15m"`, `"72h"`, `"2d"` and sums such as `"1h30m"`; a value
/// that does not fit in `i64` milliseconds is refused, never saturated.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (use e.g. \"3s\", \"250ms\", \"15m\", \"72h\")".into());
    }
    let mut total_ms: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}: expected a number at {rest:?}"
            ));
        }
        let too_large = || format!("invalid duration {text:?}: too large");
        let value: u64 = rest[..digits].parse().map_err(|_| too_large())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: missing unit (ms, s, m, h or d)"
                ));
            }
            other => return Err(format!("invalid duration {text:?}: unknown unit {other:?}")),
        };
        total_ms = value
            .checked_mul(unit_ms)
            .and_then(|part| total_ms.checked_add(part))
            .filter(|&total| total <= MAX_MS)
            .ok_or_else(too_large)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// The shortest exact human form, so `check-config` prints what a person would write.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_sums() {
        let cases = [
            ("250ms", 250),
            ("3s", 3_000),
            ("15m", 900_000),
            ("72h", 259_200_000),
            ("2d", 172_800_000),
            ("1h30m", 5_400_000),
            (" 10s ", 10_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_bare_numbers_unknown_units_and_garbage() {
        for bad in [
            "",
            "15",
            "3 s",
            "3x",
            "s",
            "-3s",
            "1.5s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refuses_values_that_overflow_milliseconds() {
        let max = i64::MAX as u64;
        assert_eq!(
            parse_duration(&format!("{max}ms")),
            Ok(Duration::from_millis(max))
        );
        let last_day = max / 86_400_000;
        assert!(parse_duration(&format!("{last_day}d")).is_ok());
        for bad in [
            format!("{}ms", max + 1),
            format!("{}d", last_day + 1),
            format!("{last_day}d1d"),
            "999999999999999h".to_owned(),
            "999999999999999d".to_owned(),
            "18446744073709551615s".to_owned(),
        ] {
            let err = parse_duration(&bad).unwrap_err();
            assert!(err.contains("too large"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_back_to_the_shortest_exact_form() {
        for text in ["250ms", "3s", "15m", "5h", "2d", "0s", "1500ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(72 * 3600)), "3d");
    }
}
