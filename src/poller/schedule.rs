//! The confirm schedule: a pure function of the attempt count, persisted as `next_poll_at`.
//!
//! Exponential from `initial_interval` by `multiplier`, capped at `max_interval`, spread by
//! ±`jitter` so payments created together do not poll together, and never below
//! `min_interval` (LigdiCash asks for at least 3 s between confirms of one token).

use crate::config::PollConfig;
use std::time::Duration;

/// Parameters of the backoff, copied out of the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    pub jitter: f64,
    pub min_interval: Duration,
}

impl Schedule {
    pub fn from_config(p: &PollConfig) -> Self {
        Self {
            initial: p.initial_interval.0,
            max: p.max_interval.0,
            multiplier: p.multiplier,
            jitter: p.jitter,
            min_interval: p.min_interval.0,
        }
    }

    /// Delay after the `attempts`-th confirm (1-based) before the next one. `unit` is a
    /// uniform sample in `[0, 1)`; 0.5 means "no jitter", which makes tests exact.
    pub fn delay(&self, attempts: i64, unit: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).clamp(0, 64) as i32;
        let max = self.max.as_secs_f64();
        let base = (self.initial.as_secs_f64() * self.multiplier.powi(exponent)).min(max);
        let spread = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let jittered = (base * spread).min(max);
        Duration::from_secs_f64(jittered.max(0.0)).max(self.min_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(jitter: f64) -> Schedule {
        Schedule {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(900),
            multiplier: 2.0,
            jitter,
            min_interval: Duration::from_secs(3),
        }
    }

    #[test]
    fn grows_exponentially_then_caps() {
        let s = schedule(0.0);
        let secs: Vec<u64> = (1..=9).map(|n| s.delay(n, 0.5).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(
            s.delay(10_000, 0.5),
            Duration::from_secs(900),
            "no overflow"
        );
        assert_eq!(s.delay(0, 0.5), Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_within_its_band_and_below_the_cap() {
        let s = schedule(0.2);
        for unit in [0.0, 0.25, 0.5, 0.75, 0.999_999] {
            let d = s.delay(1, unit).as_secs_f64();
            assert!((8.0..=12.0).contains(&d), "{unit} -> {d}");
            let capped = s.delay(20, unit).as_secs_f64();
            assert!((720.0..=900.0).contains(&capped), "{unit} -> {capped}");
        }
        assert!(s.delay(1, 0.0) < s.delay(1, 0.99));
    }

    #[test]
    fn never_below_min_interval() {
        let s = Schedule {
            initial: Duration::from_millis(100),
            ..schedule(0.5)
        };
        for unit in [0.0, 0.5, 0.99] {
            assert!(s.delay(1, unit) >= Duration::from_secs(3));
        }
    }
}
