//! `[payouts]`: the confirm schedule of money out (withdrawals and straight payouts).
//!
//! LigdiCash advises polling a payout every 30-60 s, and a straight payout can take from
//! seconds to days, so payouts follow a schedule of their own: slower at first than an
//! invoice's, and never given up. `min_interval`, the rate limit and the concurrency are
//! `[poll]`'s: one token bucket and one floor per token for every confirm of the process.

use super::ConfigError;
use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// `[payouts]`: every key optional, every key reloadable on SIGHUP.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PayoutsConfig {
    /// Wait after enqueue before the first confirm.
    pub first_delay: HumanDuration,
    pub initial_interval: HumanDuration,
    pub multiplier: f64,
    /// The cap: a payout pending for days is confirmed this often until LigdiCash settles it.
    pub max_interval: HumanDuration,
    /// Fraction of each interval randomised (0.2 = ±20 %).
    pub jitter: f64,
    /// Age after which a payout still pending is announced once (`payout.overdue`), counted
    /// in `/metrics` and listed in the nightly report as needing a human. It stays pending
    /// and polled.
    pub overdue_after: HumanDuration,
}

impl Default for PayoutsConfig {
    fn default() -> Self {
        Self {
            first_delay: HumanDuration::secs(30),
            initial_interval: HumanDuration::secs(30),
            multiplier: 1.5,
            max_interval: HumanDuration::secs(3600),
            jitter: 0.2,
            overdue_after: HumanDuration::secs(72 * 3600),
        }
    }
}

impl PayoutsConfig {
    /// What serde cannot check; the durations' bounds are checked with every other key's.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: &str| Err(ConfigError::Invalid(msg.to_owned()));
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return invalid("payouts.multiplier must be at least 1.0");
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return invalid("payouts.jitter must be in [0, 1)");
        }
        if self.initial_interval > self.max_interval {
            return invalid("payouts.initial_interval must not exceed payouts.max_interval");
        }
        if self.overdue_after.0.is_zero() {
            return invalid("payouts.overdue_after must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_ligdicash_advice_and_bad_values_are_named() {
        let d = PayoutsConfig::default();
        d.validate().unwrap();
        assert_eq!(d.first_delay, HumanDuration::secs(30));
        assert_eq!(d.max_interval, HumanDuration::secs(3600));
        assert_eq!(d.overdue_after, HumanDuration::secs(72 * 3600));
        let cases = [
            (
                PayoutsConfig {
                    multiplier: 0.5,
                    ..d.clone()
                },
                "payouts.multiplier",
            ),
            (
                PayoutsConfig {
                    jitter: 1.0,
                    ..d.clone()
                },
                "payouts.jitter",
            ),
            (
                PayoutsConfig {
                    initial_interval: HumanDuration::secs(7200),
                    ..d.clone()
                },
                "payouts.initial_interval",
            ),
            (
                PayoutsConfig {
                    overdue_after: HumanDuration::secs(0),
                    ..d.clone()
                },
                "payouts.overdue_after",
            ),
        ];
        for (config, key) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
