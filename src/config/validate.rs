//! Validation of a parsed [`Config`]: what serde cannot check (ranges, orderings, the
//! transport rule) and the bounds of every duration key.
//!
//! Durations are bounded so that no configuration can overflow the schedule's arithmetic
//! (a poll time wrapped negative once had one token confirmed 40 times in 8 s) or panic a
//! library taking milliseconds as a 32-bit integer (SQLite's busy timeout), and so that a
//! typo such as `"0s"` for `scan_interval` cannot spin an idle daemon.

use super::duration::format_duration;
use super::{Config, ConfigError, LIGDICASH_MIN_INTERVAL, is_loopback, urls};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// The upper bound of every duration key without a reason for another.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// The shortest `poll.scan_interval`: the idle loop wakes this often at most. (The
/// integration tests use 100ms; the default is 1s.)
pub const MIN_SCAN_INTERVAL: Duration = Duration::from_millis(10);

/// One duration key, its value and the range it must lie in.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationBound {
    pub key: String,
    pub value: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl DurationBound {
    fn new(key: impl Into<String>, value: Duration) -> Self {
        Self {
            key: key.into(),
            value,
            min: Duration::ZERO,
            max: MAX_DURATION,
        }
    }

    fn at_most(self, max: Duration) -> Self {
        Self { max, ..self }
    }

    fn at_least(self, min: Duration) -> Self {
        Self { min, ..self }
    }
}

impl Config {
    /// Checks the values serde cannot: ranges, orderings, the transport rule and the bounds
    /// of every duration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let p = &self.poll;
        // First: an absurd duration is the clearest message, whatever else it breaks.
        check_durations(&self.durations())?;
        let url = self.base_url()?;
        let loopback = is_loopback(&url);
        if let Err(why) = urls::check_transport(&url) {
            return invalid(format!(
                "ligdicash.base_url {} {why}",
                self.shown_base_url()
            ));
        }
        if p.concurrency == 0 || p.concurrency > 256 {
            return invalid("poll.concurrency must be between 1 and 256".into());
        }
        if p.batch_size == 0 {
            return invalid("poll.batch_size must be at least 1".into());
        }
        if !(p.max_requests_per_second.is_finite() && p.max_requests_per_second > 0.0) {
            return invalid("poll.max_requests_per_second must be a positive number".into());
        }
        if !(p.multiplier.is_finite() && p.multiplier >= 1.0) {
            return invalid("poll.multiplier must be at least 1.0".into());
        }
        if !(0.0..1.0).contains(&p.jitter) {
            return invalid("poll.jitter must be in [0, 1)".into());
        }
        if p.initial_interval > p.max_interval {
            return invalid("poll.initial_interval must not exceed poll.max_interval".into());
        }
        if p.min_interval.0 < LIGDICASH_MIN_INTERVAL && !loopback {
            return invalid(format!(
                "poll.min_interval {} is below the 3s LigdiCash asks for between confirms of one token",
                p.min_interval
            ));
        }
        if p.give_up_after.0.is_zero() {
            return invalid("poll.give_up_after must be positive".into());
        }
        if self.ligdicash.request_timeout.0.is_zero() || self.ligdicash.connect_timeout.0.is_zero()
        {
            return invalid("ligdicash timeouts must be positive".into());
        }
        self.database.validate()?;
        self.payouts.validate()?;
        self.events.validate()?;
        self.report.validate()?;
        self.http.addr()?;
        self.api.addr().map(|_| ())
    }

    /// Every duration key of the file with its bounds. Longer than 30 days only where a key
    /// needs it: `give_up_after`, `overdue_after` and `pending_after` (LigdiCash sets no
    /// expiry; a shop may wait up to a year) and `attempt_retention` (an audit log, kept up to ten years). `busy_timeout` is at
    /// most an hour: SQLite takes it as 32-bit milliseconds (under 25 days), and a write
    /// waiting longer than that for the shop's transaction is stuck, not busy.
    pub fn durations(&self) -> Vec<DurationBound> {
        let (l, p, e, o) = (&self.ligdicash, &self.poll, &self.events, &self.payouts);
        let mut all = vec![
            DurationBound::new("ligdicash.request_timeout", l.request_timeout.0),
            DurationBound::new("ligdicash.connect_timeout", l.connect_timeout.0),
            DurationBound::new("database.busy_timeout", self.database.busy_timeout.0)
                .at_most(Duration::from_secs(3600)),
            DurationBound::new("poll.first_delay", p.first_delay.0),
            DurationBound::new("poll.initial_interval", p.initial_interval.0),
            DurationBound::new("poll.max_interval", p.max_interval.0),
            DurationBound::new("poll.min_interval", p.min_interval.0),
            DurationBound::new("poll.give_up_after", p.give_up_after.0).at_most(366 * DAY),
            DurationBound::new("poll.scan_interval", p.scan_interval.0).at_least(MIN_SCAN_INTERVAL),
            DurationBound::new("poll.auth_retry_initial", p.auth_retry_initial.0),
            DurationBound::new("poll.auth_retry_max", p.auth_retry_max.0),
            DurationBound::new("poll.shutdown_grace", p.shutdown_grace.0),
            DurationBound::new("payouts.first_delay", o.first_delay.0),
            DurationBound::new("payouts.initial_interval", o.initial_interval.0),
            DurationBound::new("payouts.max_interval", o.max_interval.0),
            DurationBound::new("payouts.overdue_after", o.overdue_after.0).at_most(366 * DAY),
            DurationBound::new("events.exec_timeout", e.exec_timeout.0),
            DurationBound::new("events.webhook_timeout", e.webhook_timeout.0),
            DurationBound::new("report.attempt_retention", self.report.attempt_retention.0)
                .at_most(3660 * DAY),
            DurationBound::new("cases.pending_after", self.cases.pending_after.0)
                .at_most(366 * DAY),
            DurationBound::new("cases.sweep_interval", self.cases.sweep_interval.0)
                .at_least(MIN_SCAN_INTERVAL),
        ];
        all.extend(
            e.retry_schedule
                .iter()
                .enumerate()
                .map(|(i, wait)| DurationBound::new(format!("events.retry_schedule[{i}]"), wait.0)),
        );
        all
    }
}

/// The first duration outside its bounds, as a one-line message naming the key.
fn check_durations(bounds: &[DurationBound]) -> Result<(), ConfigError> {
    for b in bounds {
        let (key, value) = (&b.key, format_duration(b.value));
        if b.value < b.min {
            return Err(ConfigError::Invalid(format!(
                "{key} = {value:?} is below its minimum of {}",
                format_duration(b.min)
            )));
        }
        if b.value > b.max {
            return Err(ConfigError::Invalid(format!(
                "{key} = {value:?} is above its maximum of {}",
                format_duration(b.max)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    #[test]
    fn http_is_refused_except_to_loopback() {
        for (url, ok) in [
            ("http://app.ligdicash.com", false),
            ("http://10.0.0.1:8080", false),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:1", true),
            ("http://[::1]:8080", true),
            ("https://app.ligdicash.com", true),
            ("not a url", false),
        ] {
            let mut c = Config::default();
            c.ligdicash.base_url = url.into();
            c.poll.min_interval = HumanDuration::secs(3);
            assert_eq!(c.validate().is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn fast_polling_is_only_for_loopback() {
        let mut c = Config::default();
        c.poll.min_interval = HumanDuration::millis(100);
        assert!(c.validate().is_err());
        c.ligdicash.base_url = "http://127.0.0.1:9".into();
        c.validate().unwrap();
    }

    #[test]
    fn a_scan_interval_below_10ms_is_refused() {
        let mut c = Config::default();
        c.poll.scan_interval = HumanDuration::millis(0);
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("poll.scan_interval") && err.contains("minimum of 10ms"),
            "{err}"
        );
        c.poll.scan_interval = HumanDuration::millis(9);
        assert!(c.validate().is_err());
        c.poll.scan_interval = MIN_SCAN_INTERVAL.into();
        c.validate().unwrap();
    }

    /// Each key of the table is a real key of the file (the file is parsed with
    /// `deny_unknown_fields`), and one millisecond over its maximum is refused by name.
    #[test]
    fn every_duration_key_is_bounded_by_name() {
        let defaults = Config::default();
        assert!(defaults.durations().len() >= 16);
        for b in defaults.durations() {
            let over = format_duration(b.max + Duration::from_millis(1));
            let text = match b.key.split_once('.') {
                Some(("events", key)) if key.starts_with("retry_schedule") => {
                    format!("[events]\nretry_schedule = [\"5s\", \"{over}\"]\n")
                }
                Some((section, key)) => format!("[{section}]\n{key} = \"{over}\"\n"),
                None => panic!("{}", b.key),
            };
            let config = Config::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let err = config.validate().unwrap_err().to_string();
            let key = match b.key.split_once('[') {
                Some((list, _)) => format!("{list}[1]"),
                None => b.key.clone(),
            };
            assert!(
                err.contains(&key) && err.contains("maximum"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn the_longest_durations_allowed_are_accepted() {
        let mut c = Config::default();
        c.poll.give_up_after = HumanDuration::secs(366 * 86_400);
        c.poll.max_interval = MAX_DURATION.into();
        c.poll.initial_interval = MAX_DURATION.into();
        c.report.attempt_retention = HumanDuration::secs(3660 * 86_400);
        c.database.busy_timeout = HumanDuration::secs(3600);
        c.validate().unwrap();
    }
}
