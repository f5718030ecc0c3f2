//! Wall-clock time as integer milliseconds since the Unix epoch.
//!
//! Every timestamp in the database is an `INTEGER` of milliseconds: it sorts, indexes and
//! compares cheaply, and SQLite of any age can compute it in a column default. RFC 3339 text
//! is produced only at the edges (`show`, `list`, logs).

use chrono::{DateTime, SecondsFormat};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current wall-clock time. A clock before 1970 (a broken RTC) reads as 0 rather than
/// panicking; scheduling then simply treats everything as due.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A duration as milliseconds, saturating instead of overflowing for absurd configurations.
pub fn ms(duration: Duration) -> Millis {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// RFC 3339 with milliseconds in UTC, e.g. `2026-04-15T11:19:28.977Z`.
pub fn rfc3339(at: Millis) -> String {
    DateTime::from_timestamp_millis(at)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_millis_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_776_251_968_977), "2026-04-15T11:19:28.977Z");
    }

    #[test]
    fn now_is_after_2024() {
        assert!(now_ms() > 1_704_067_200_000);
    }
}
