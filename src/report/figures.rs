//! Pure report arithmetic: from the day's facts to the figures a shop owner reads.

use crate::store::reports::{DayFacts, PaymentFact};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of the JSON report structure; bumped on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Total {
    pub key: String,
    pub count: i64,
    pub xof: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pending {
    pub count: i64,
    pub oldest_age_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub p50_secs: Option<f64>,
    pub p95_secs: Option<f64>,
    pub max_secs: Option<f64>,
    /// Resolved on the reconciler's own schedule, without a manual `requeue`.
    pub by_reconciler: i64,
    pub after_requeue: i64,
}

/// A row of a discrepancy table, with the action a person should take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discrepancy {
    pub token: String,
    pub transaction_id: Option<String>,
    pub request_id: Option<String>,
    pub expected_amount: Option<i64>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub action: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discrepancies {
    pub mismatches: Vec<Discrepancy>,
    pub late_completions: Vec<Discrepancy>,
    pub timeouts: Vec<Discrepancy>,
    pub invalid_tokens: Vec<Discrepancy>,
    pub pending_over_24h: Vec<Discrepancy>,
}

impl Discrepancies {
    pub fn count(&self) -> usize {
        self.mismatches.len()
            + self.late_completions.len()
            + self.timeouts.len()
            + self.invalid_tokens.len()
            + self.pending_over_24h.len()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub confirm_calls: i64,
    pub errors_by_class: BTreeMap<String, i64>,
    pub error_rate: f64,
    pub auth_failures: i64,
    pub p95_latency_ms: Option<i64>,
    pub events_pending: i64,
    pub events_dead: i64,
    /// Callbacks that named no payment: forged, or for a token the shop never handed over.
    pub unmatched_callbacks: i64,
}

/// The whole report for one day (the JSON file's structure).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub version: u32,
    pub date: String,
    pub time_zone: String,
    pub window_start: String,
    pub window_end: String,
    pub by_status: Vec<Total>,
    pub by_operator: Vec<Total>,
    pub received_xof: i64,
    pub pending_at_end: Pending,
    pub resolution: Resolution,
    pub discrepancies: Discrepancies,
    pub health: Health,
    /// Payouts and withdrawals (set by the caller from their own facts); the figures
    /// above are the invoices', money in.
    pub money_out: super::money_out::MoneyOut,
}

/// Outcome classes that are answers, not errors.
const ANSWERS: [&str; 4] = ["completed", "notcompleted", "pending", "unknown_status"];

/// Nearest-rank percentile of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn totals<'a>(items: impl Iterator<Item = (&'a str, i64)>) -> Vec<Total> {
    let mut map: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (key, xof) in items {
        let e = map.entry(key).or_default();
        e.0 += 1;
        e.1 += xof;
    }
    map.into_iter()
        .map(|(k, (count, xof))| Total {
            key: k.to_owned(),
            count,
            xof,
        })
        .collect()
}

fn row(p: &PaymentFact, action: &'static str) -> Discrepancy {
    Discrepancy {
        token: p.token.clone(),
        transaction_id: p.transaction_id.clone(),
        request_id: p.request_id.clone(),
        expected_amount: p.expected_amount,
        amount: p.amount,
        reason: p.status_reason.clone(),
        action,
    }
}

/// Computes every figure of the report. `label` fields (date, zone, window) are the
/// caller's, already formatted.
pub fn summarise(
    f: &DayFacts,
    date: String,
    time_zone: String,
    window: (String, String),
) -> Summary {
    let with_status = |s: &'static str| f.resolved.iter().filter(move |p| p.status == s);
    let by_status = totals(f.resolved.iter().map(|p| (p.status.as_str(), p.xof())));
    let by_operator = totals(
        with_status("completed")
            .map(|p| (p.operator_name.as_deref().unwrap_or("unknown"), p.xof())),
    );
    let received_xof = with_status("completed").map(PaymentFact::xof).sum();
    let mut durations: Vec<f64> = f
        .resolved
        .iter()
        .filter_map(|p| p.resolved_at.map(|r| (r - p.created_at) as f64 / 1000.0))
        .collect();
    durations.sort_by(f64::total_cmp);
    let oldest = f.pending_at_end.iter().map(|p| p.created_at).min();
    let late: Vec<&PaymentFact> = f
        .resolved
        .iter()
        .filter(|p| f.late_completed.contains(&p.token))
        .collect();
    let discrepancies = Discrepancies {
        mismatches: with_status("mismatch")
            .map(|p| {
                row(
                    p,
                    "check the amount or order with LigdiCash support before fulfilling",
                )
            })
            .collect(),
        late_completions: late
            .iter()
            .map(|p| {
                row(
                    p,
                    "money received after the order was given up: fulfil or refund",
                )
            })
            .collect(),
        timeouts: with_status("timeout")
            .map(|p| {
                row(
                    p,
                    "re-checked after each nightly report; cancel the order or ask the customer",
                )
            })
            .collect(),
        invalid_tokens: with_status("invalid_token")
            .map(|p| {
                row(
                    p,
                    "the shop stored a token LigdiCash does not know: check the integration",
                )
            })
            .collect(),
        pending_over_24h: f
            .pending_at_end
            .iter()
            .filter(|p| f.end - p.created_at > 86_400_000)
            .map(|p| {
                row(
                    p,
                    "still pending at LigdiCash after a day: ask the customer or LigdiCash",
                )
            })
            .collect(),
    };
    Summary {
        version: REPORT_VERSION,
        date,
        time_zone,
        window_start: window.0,
        window_end: window.1,
        by_status,
        by_operator,
        received_xof,
        pending_at_end: Pending {
            count: f.pending_at_end.len() as i64,
            oldest_age_secs: oldest.map(|c| (f.end - c) / 1000),
        },
        resolution: Resolution {
            p50_secs: percentile(&durations, 50.0),
            p95_secs: percentile(&durations, 95.0),
            max_secs: durations.last().copied(),
            by_reconciler: f.resolved.iter().filter(|p| !p.requeued).count() as i64,
            after_requeue: f.resolved.iter().filter(|p| p.requeued).count() as i64,
        },
        discrepancies,
        health: health(f),
        money_out: Default::default(),
    }
}

fn health(f: &DayFacts) -> Health {
    let mut errors_by_class = BTreeMap::new();
    for a in f
        .attempts
        .iter()
        .filter(|a| !ANSWERS.contains(&a.outcome.as_str()))
    {
        *errors_by_class.entry(a.outcome.clone()).or_insert(0) += 1;
    }
    let errors: i64 = errors_by_class.values().sum();
    let calls = f.attempts.len() as i64;
    let mut latencies: Vec<i64> = f.attempts.iter().map(|a| a.latency_ms).collect();
    latencies.sort_unstable();
    Health {
        confirm_calls: calls,
        auth_failures: errors_by_class.get("auth_failed").copied().unwrap_or(0),
        errors_by_class,
        error_rate: if calls == 0 {
            0.0
        } else {
            errors as f64 / calls as f64
        },
        p95_latency_ms: percentile(&latencies, 95.0),
        events_pending: f.events_pending,
        events_dead: f.events_dead,
        unmatched_callbacks: f.unmatched_callbacks,
    }
}

#[cfg(test)]
mod tests;
