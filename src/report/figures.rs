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
mod tests {
    use super::*;
    use crate::store::reports::AttemptFact;
    use crate::time::Millis;

    fn fact(
        token: &str,
        status: &str,
        amount: Option<i64>,
        created: Millis,
        resolved: Option<Millis>,
    ) -> PaymentFact {
        PaymentFact {
            token: token.into(),
            transaction_id: None,
            request_id: None,
            status: status.into(),
            status_reason: None,
            expected_amount: Some(1000),
            amount,
            operator_name: Some("ORANGE BURKINA".into()),
            created_at: created,
            resolved_at: resolved,
            requeued: false,
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile::<i64>(&[], 50.0), None);
    }

    #[test]
    fn totals_resolution_and_discrepancies() {
        let day = 86_400_000;
        let f = DayFacts {
            start: day,
            end: 2 * day,
            resolved: vec![
                fact("a", "completed", Some(5000), day, Some(day + 10_000)),
                fact("b", "completed", Some(2500), day, Some(day + 30_000)),
                fact("c", "mismatch", Some(900), day, Some(day + 20_000)),
                fact("d", "timeout", None, 0, Some(day + 5_000)),
                fact("e", "completed", Some(700), 0, Some(day + 40_000)),
            ],
            pending_at_end: vec![fact("p", "pending", None, day / 2, None)],
            late_completed: vec!["e".into()],
            attempts: vec![
                AttemptFact {
                    outcome: "completed".into(),
                    latency_ms: 10,
                },
                AttemptFact {
                    outcome: "http_5xx".into(),
                    latency_ms: 30,
                },
                AttemptFact {
                    outcome: "auth_failed".into(),
                    latency_ms: 20,
                },
                AttemptFact {
                    outcome: "pending".into(),
                    latency_ms: 40,
                },
            ],
            events_pending: 1,
            events_dead: 0,
            unmatched_callbacks: 2,
        };
        let s = summarise(&f, "d".into(), "z".into(), ("s".into(), "e".into()));
        assert_eq!(s.health.unmatched_callbacks, 2);
        assert_eq!(s.received_xof, 8200);
        let completed = s.by_status.iter().find(|t| t.key == "completed").unwrap();
        assert_eq!((completed.count, completed.xof), (3, 8200));
        let timeout = s.by_status.iter().find(|t| t.key == "timeout").unwrap();
        assert_eq!(
            (timeout.count, timeout.xof),
            (1, 1000),
            "expected amount when none confirmed"
        );
        assert_eq!(s.by_operator[0].xof, 8200);
        assert_eq!(s.discrepancies.mismatches.len(), 1);
        assert_eq!(s.discrepancies.late_completions[0].token, "e");
        assert_eq!(s.discrepancies.timeouts.len(), 1);
        assert_eq!(s.discrepancies.pending_over_24h.len(), 1);
        assert_eq!(s.pending_at_end.oldest_age_secs, Some(129_600));
        assert_eq!(s.resolution.max_secs, Some(86_440.0));
        assert_eq!(s.health.confirm_calls, 4);
        assert_eq!(s.health.auth_failures, 1);
        assert!((s.health.error_rate - 0.5).abs() < 1e-9);
        assert_eq!(s.health.p95_latency_ms, Some(40));
    }

    fn rows(n: usize) -> Vec<Discrepancy> {
        let p = fact("t", "mismatch", None, 0, None);
        vec![row(&p, "act"); n]
    }

    /// The "need a human" headline adds up every table, each counted once: sizes 1 to 5
    /// give 15, and no other arithmetic of them does.
    #[test]
    fn the_need_a_human_count_adds_every_table() {
        let d = Discrepancies {
            mismatches: rows(1),
            late_completions: rows(2),
            timeouts: rows(3),
            invalid_tokens: rows(4),
            pending_over_24h: rows(5),
        };
        assert_eq!(d.count(), 15);
        let none = Discrepancies {
            mismatches: vec![],
            late_completions: vec![],
            timeouts: vec![],
            invalid_tokens: vec![],
            pending_over_24h: vec![],
        };
        assert_eq!(none.count(), 0);
    }

    /// A payment pending at the end of the day needs a human only once it is older than
    /// 24 h: exactly 24 h is not yet, one millisecond more is.
    #[test]
    fn pending_over_24h_starts_just_after_a_day() {
        let day = 86_400_000;
        let end = 3 * day;
        let f = DayFacts {
            start: 2 * day,
            end,
            resolved: vec![],
            pending_at_end: vec![
                fact("young", "pending", None, end - 3_600_000, None),
                fact("a-day", "pending", None, end - day, None),
                fact("older", "pending", None, end - day - 1, None),
            ],
            late_completed: vec![],
            attempts: vec![],
            events_pending: 0,
            events_dead: 0,
            unmatched_callbacks: 0,
        };
        let s = summarise(&f, "d".into(), "z".into(), ("s".into(), "e".into()));
        let tokens: Vec<&str> = s
            .discrepancies
            .pending_over_24h
            .iter()
            .map(|d| d.token.as_str())
            .collect();
        assert_eq!(tokens, ["older"]);
        assert_eq!(s.pending_at_end.count, 3);
        assert_eq!(s.pending_at_end.oldest_age_secs, Some(86_400));
        assert_eq!(s.discrepancies.count(), 1);
    }

    /// Resolutions are split between the reconciler's own schedule and a manual requeue;
    /// the percentiles are of the resolution times in seconds.
    #[test]
    fn resolutions_are_split_by_requeue_and_timed() {
        let requeued = |mut p: PaymentFact| {
            p.requeued = true;
            p
        };
        let f = DayFacts {
            start: 0,
            end: 86_400_000,
            resolved: vec![
                fact("a", "completed", Some(1), 1_000, Some(3_000)),
                fact("b", "completed", Some(1), 1_000, Some(5_000)),
                requeued(fact("c", "completed", Some(1), 1_000, Some(11_000))),
            ],
            pending_at_end: vec![],
            late_completed: vec![],
            attempts: vec![],
            events_pending: 0,
            events_dead: 0,
            unmatched_callbacks: 0,
        };
        let s = summarise(&f, "d".into(), "z".into(), ("s".into(), "e".into()));
        assert_eq!(s.resolution.by_reconciler, 2);
        assert_eq!(s.resolution.after_requeue, 1);
        assert_eq!(s.resolution.p50_secs, Some(4.0));
        assert_eq!(s.resolution.p95_secs, Some(10.0));
        assert_eq!(s.resolution.max_secs, Some(10.0));
        assert_eq!(s.pending_at_end.oldest_age_secs, None);
        assert_eq!(s.health.error_rate, 0.0, "no calls, no division");
    }
}
