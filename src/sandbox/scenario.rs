//! The sandbox's truth: how each invoice will end, drawn from a seeded scenario, and the
//! faults injected into confirm answers.

use serde::{Deserialize, Serialize};

/// How an invoice ends at LigdiCash, spelled as LigdiCash spells the status
/// (`notcompleted`); `not_completed`, which the sandbox once wanted, is still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Completed,
    #[serde(alias = "not_completed")]
    NotCompleted,
    /// Stays `pending` for ever (an operator dispute, an abandoned payment page).
    Never,
}

/// The mix of outcomes and settle times for invoices made through `create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub seed: u64,
    pub completed: f64,
    pub notcompleted: f64,
    pub never: f64,
    /// Share of completed invoices paid with another amount than invoiced.
    pub wrong_amount: f64,
    /// Settle delays are log-uniform in `[settle_min_ms, settle_max_ms]`: most payments
    /// settle fast, a long tail takes much longer, as with mobile money.
    pub settle_min_ms: u64,
    pub settle_max_ms: u64,
    /// Vary field types as LigdiCash does (string amounts, integer operator ids, ...).
    pub type_variants: bool,
    /// Invoices made through `create` never settle by themselves: each waits for its
    /// payment page's Pay or Fail button. For a person walking through a shop by hand, who
    /// cannot press Pay within the second or so a drawn fate may take to settle the
    /// invoice, without any callback (`sandbox --wait-for-pay`).
    pub wait_for_pay: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            seed: 42,
            completed: 0.78,
            notcompleted: 0.12,
            never: 0.05,
            wrong_amount: 0.05,
            settle_min_ms: 200,
            settle_max_ms: 8_000,
            type_variants: true,
            wait_for_pay: false,
        }
    }
}

/// Faults injected into confirm answers, each a probability per call (or a switch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Every call answers `Echec (Code00)`.
    pub auth_failure: bool,
    /// Added to every confirm, in milliseconds.
    pub latency_ms: u64,
    /// HTTP 500/502/503/504 with an HTML page.
    pub server_error: f64,
    /// HTTP 429 with `Retry-After: retry_after_secs`.
    pub rate_limit: f64,
    pub retry_after_secs: u64,
    /// No answer for two minutes (the client's timeout fires).
    pub hang: f64,
    /// HTTP 200 with an HTML page instead of JSON.
    pub html: f64,
    /// HTTP 200 with an empty body.
    pub empty_body: f64,
    /// The connection closes half-way through the body.
    pub reset_mid_body: f64,
    /// `response_code "01"` with `Echec (Code03)` (processing error).
    pub api_error: f64,
    /// A `status` string LigdiCash never documented.
    pub unknown_status: f64,
}

/// One invoice's fate, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fate {
    pub outcome: Outcome,
    pub settle_after_ms: i64,
    /// What the payer actually paid (differs from the invoice for wrong-amount fates).
    pub paid_amount: i64,
}

impl Fate {
    /// The status LigdiCash would report at `now` for what was created at `created_at`
    /// (an invoice or a payout: both settle the same way).
    pub fn status_at(&self, created_at: i64, now: i64) -> &'static str {
        if now < created_at + self.settle_after_ms {
            return "pending";
        }
        match self.outcome {
            Outcome::Completed => "completed",
            Outcome::NotCompleted => "notcompleted",
            Outcome::Never => "pending",
        }
    }
}

/// The fate of an invoice made through `create`: drawn, or, when the scenario waits for the
/// buttons, pending until one is pressed. It is drawn either way, so a seed gives the same
/// tokens and the same later fates with or without the wait.
pub fn created_fate(s: &Scenario, amount: i64, rng: &mut fastrand::Rng) -> Fate {
    let drawn = draw_fate(s, amount, rng);
    if !s.wait_for_pay {
        return drawn;
    }
    Fate {
        outcome: Outcome::Never,
        paid_amount: amount,
        ..drawn
    }
}

/// Draws a fate for an invoice of `amount` XOF.
pub fn draw_fate(s: &Scenario, amount: i64, rng: &mut fastrand::Rng) -> Fate {
    let roll = rng.f64();
    let outcome = if roll < s.completed {
        Outcome::Completed
    } else if roll < s.completed + s.notcompleted {
        Outcome::NotCompleted
    } else if roll < s.completed + s.notcompleted + s.never {
        Outcome::Never
    } else {
        Outcome::Completed
    };
    let wrong = outcome == Outcome::Completed && rng.f64() < s.wrong_amount;
    let paid_amount = if wrong { (amount - 100).max(1) } else { amount };
    Fate {
        outcome,
        settle_after_ms: log_uniform(s.settle_min_ms, s.settle_max_ms, rng.f64()),
        paid_amount,
    }
}

/// Shares of payouts made through a create endpoint: failed, pending for ever (days, at
/// least: an operator dispute), and settling late (ten times the settle delay drawn).
pub const PAYOUT_NOTCOMPLETED: f64 = 0.08;
pub const PAYOUT_NEVER: f64 = 0.06;
pub const PAYOUT_LATE: f64 = 0.10;

/// Draws a fate for a payout of `amount` XOF: mostly sent as asked, some failed, some
/// never settling and some settling late, as straight payouts take seconds to days.
pub fn draw_payout_fate(s: &Scenario, amount: i64, rng: &mut fastrand::Rng) -> Fate {
    let roll = rng.f64();
    let (outcome, late) = if roll < PAYOUT_NOTCOMPLETED {
        (Outcome::NotCompleted, false)
    } else if roll < PAYOUT_NOTCOMPLETED + PAYOUT_NEVER {
        (Outcome::Never, false)
    } else if roll < PAYOUT_NOTCOMPLETED + PAYOUT_NEVER + PAYOUT_LATE {
        (Outcome::Completed, true)
    } else {
        (Outcome::Completed, false)
    };
    let settle = log_uniform(s.settle_min_ms, s.settle_max_ms, rng.f64());
    Fate {
        outcome,
        settle_after_ms: if late {
            settle.saturating_mul(10)
        } else {
            settle
        },
        paid_amount: amount,
    }
}

/// Maps a uniform sample to a log-uniform value in `[min, max]`.
pub fn log_uniform(min: u64, max: u64, unit: f64) -> i64 {
    let (lo, hi) = (min.max(1) as f64, max.max(min).max(1) as f64);
    (lo * (hi / lo).powf(unit.clamp(0.0, 1.0))).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fates() {
        let s = Scenario::default();
        let draw = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..50)
                .map(|_| draw_fate(&s, 5000, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn mix_roughly_follows_the_scenario() {
        let s = Scenario::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let fates: Vec<Fate> = (0..10_000).map(|_| draw_fate(&s, 5000, &mut rng)).collect();
        let share = |o| fates.iter().filter(|f| f.outcome == o).count() as f64 / 10_000.0;
        assert!((share(Outcome::NotCompleted) - 0.12).abs() < 0.02);
        assert!((share(Outcome::Never) - 0.05).abs() < 0.01);
        assert!(
            fates
                .iter()
                .all(|f| (200..=8000).contains(&f.settle_after_ms))
        );
        assert!(fates.iter().any(|f| f.paid_amount != 5000));
    }

    #[test]
    fn outcomes_are_spelled_as_ligdicash_spells_them_and_the_old_spelling_still_works() {
        for (json, outcome) in [
            (r#""completed""#, Outcome::Completed),
            (r#""notcompleted""#, Outcome::NotCompleted),
            (r#""not_completed""#, Outcome::NotCompleted),
            (r#""never""#, Outcome::Never),
        ] {
            assert_eq!(serde_json::from_str::<Outcome>(json).unwrap(), outcome);
        }
        assert_eq!(
            serde_json::to_string(&Outcome::NotCompleted).unwrap(),
            r#""notcompleted""#
        );
    }

    #[test]
    fn payout_fates_are_seeded_and_include_the_never_and_the_late() {
        let s = Scenario::default();
        let draw = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..2000)
                .map(|_| draw_payout_fate(&s, 100, &mut rng))
                .collect::<Vec<_>>()
        };
        let fates = draw(3);
        assert_eq!(fates, draw(3));
        let share = |f: &dyn Fn(&Fate) -> bool| {
            fates.iter().filter(|x| f(x)).count() as f64 / fates.len() as f64
        };
        assert!((share(&|f| f.outcome == Outcome::Never) - PAYOUT_NEVER).abs() < 0.02);
        assert!(
            (share(&|f| f.outcome == Outcome::NotCompleted) - PAYOUT_NOTCOMPLETED).abs() < 0.02
        );
        assert!(share(&|f| f.settle_after_ms > 8_000) > 0.03, "late ones");
        assert!(fates.iter().all(|f| f.paid_amount == 100));
    }

    #[test]
    fn log_uniform_spans_the_range() {
        assert_eq!(log_uniform(10, 1000, 0.0), 10);
        assert_eq!(log_uniform(10, 1000, 1.0), 1000);
        assert_eq!(log_uniform(10, 1000, 0.5), 100);
        assert_eq!(log_uniform(0, 0, 0.5), 1);
    }
}
