//! The confirm schedule: a pure function of the attempt count, persisted as `next_poll_at`.
//!
//! Exponential from `initial_interval` by `multiplier`, capped at `max_interval`, spread by
//! ±`jitter` so payments created together do not poll together, and never below
//! `min_interval` (LigdiCash asks for at least 3 s between confirms of one token).

use crate::config::{PayoutsConfig, PollConfig};
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

    /// The payouts' schedule (`[payouts]`), under `[poll]`'s floor between two confirms
    /// of one token: LigdiCash's 3 s holds for every endpoint.
    pub fn for_payouts(o: &PayoutsConfig, p: &PollConfig) -> Self {
        Self {
            initial: o.initial_interval.0,
            max: o.max_interval.0,
            multiplier: o.multiplier,
            jitter: o.jitter,
            min_interval: p.min_interval.0,
        }
    }

    /// Delay after the `attempts`-th confirm (1-based) before the next one. `unit` is a
    /// uniform sample in `[0, 1)`; 0.5 means "no jitter", which makes tests exact.
    ///
    /// Total for any input: the power may overflow to infinity and the parameters may be
    /// anything a `Schedule` can hold, so every step is clamped into `[0, max]` (a NaN
    /// counts as `max`, the side LigdiCash prefers) before it becomes a `Duration`, which
    /// would otherwise panic ("cannot convert float seconds to Duration").
    pub fn delay(&self, attempts: i64, unit: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).clamp(0, 64) as i32;
        let max = self.max.as_secs_f64();
        // 0 × ∞ is NaN: an initial interval of zero stays zero however it grows.
        let grown = if self.initial.is_zero() {
            0.0
        } else {
            self.initial.as_secs_f64() * self.multiplier.powi(exponent)
        };
        let base = within(grown, max);
        let unit = if unit.is_nan() {
            0.5
        } else {
            unit.clamp(0.0, 1.0)
        };
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        let jittered = within(base * (1.0 + jitter * (2.0 * unit - 1.0)), max);
        // `max` as f64 may round above `Duration::MAX`; then the cap itself is the answer.
        Duration::try_from_secs_f64(jittered)
            .unwrap_or(self.max)
            .min(self.max)
            .max(self.min_interval)
    }
}

/// `secs` clamped into `[0, max]`, NaN taken as `max`.
fn within(secs: f64, max: f64) -> f64 {
    if secs.is_nan() {
        max
    } else {
        secs.clamp(0.0, max)
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

    /// No parameters a `Schedule` can hold make `delay` panic, go below `min_interval`
    /// or above the cap (when the cap is above the floor).
    #[test]
    fn extreme_parameters_never_panic_and_stay_within_the_bounds() {
        let huge = [
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_secs(u64::MAX / 2),
            Duration::MAX,
        ];
        let multipliers = [
            0.0,
            1.0,
            1.5,
            1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
            -2.0,
        ];
        let units = [0.0, 0.5, 0.999_999, 1.0, -1.0, 2.0, f64::NAN];
        for initial in huge {
            for max in huge {
                for multiplier in multipliers {
                    for jitter in [0.0, 0.99, f64::NAN] {
                        let s = Schedule {
                            initial,
                            max,
                            multiplier,
                            jitter,
                            min_interval: Duration::from_secs(3),
                        };
                        for attempts in [i64::MIN, 0, 1, 2, 64, 65, i64::MAX] {
                            for unit in units {
                                let d = s.delay(attempts, unit);
                                assert!(d >= s.min_interval, "{s:?} {attempts} {unit}");
                                assert!(d <= max.max(s.min_interval), "{s:?} {attempts} {unit}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_cap_beyond_what_f64_holds_exactly_is_reached_not_exceeded() {
        let s = Schedule {
            initial: Duration::MAX,
            max: Duration::MAX,
            multiplier: 2.0,
            jitter: 0.5,
            min_interval: Duration::from_secs(3),
        };
        assert_eq!(s.delay(10, 0.999), Duration::MAX);
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
