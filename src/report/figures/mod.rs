//! Pure report arithmetic: from the day's facts to the figures a shop owner and an
//! accountant read. No I/O and no language: every renderer (JSON, CSV, HTML) starts here.
//!
//! The one rule about money (`money`): XOF counts as paid only where money moved, on a
//! `completed` or a `mismatch` (received at LigdiCash, held for review). A `timeout` or a
//! `notcompleted` shows what was expected, never a paid amount, whatever LigdiCash's
//! pending answers said the invoice was for.

mod discrepancies;
mod money;

pub use discrepancies::{Discrepancies, Discrepancy, DiscrepancyKind};
pub use money::{
    Amount, OperatorReceipts, Receipts, Reconciliation, StatusTotal, operator_key, paid_xof,
    reconcile,
};

use super::money_out::MoneyOut;
use super::net::{self, Net};
use super::to_handle::{self, ToHandle};
use crate::store::{DayFacts, PaymentFact};
use crate::time::Millis;
use chrono::{DateTime, NaiveDate, SecondsFormat};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Version of the JSON report structure (`schema_version`); bumped on any incompatible
/// change (2: money only where it moved, the reconciliation block, partial days, the
/// completed payments; 3: money out as on the statement, the net per operator, the list to
/// handle, amounts named one way; see docs/reports.md).
pub const SCHEMA_VERSION: u32 = 3;

/// An instant shown in the shop's time zone: RFC 3339 in the JSON, words in the HTML.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalTime {
    pub at: Millis,
    pub tz: Tz,
}

impl LocalTime {
    /// The instant in the shop's zone (the epoch for an instant chrono cannot represent).
    pub fn local(self) -> DateTime<Tz> {
        DateTime::from_timestamp_millis(self.at)
            .unwrap_or_default()
            .with_timezone(&self.tz)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.local().to_rfc3339_opts(SecondsFormat::Secs, false))
    }
}

fn iso_date<S: Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&date.format("%Y-%m-%d"))
}

fn zone_name<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Payments created before the day ended (or before now, on a day not over) and not
/// resolved by then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pending {
    pub count: i64,
    /// What the shop asked for: nothing has been paid on a pending payment.
    pub expected_xof: i64,
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

/// A payment as the report lists it. `paid_xof` is set only where money moved (see the
/// module docs); `expected_xof` is what the shop enqueued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub token: String,
    pub transaction_id: Option<String>,
    pub request_id: Option<String>,
    pub status: String,
    pub operator: Option<String>,
    pub expected_xof: Option<i64>,
    /// The shop's `expected_amount` as written, where it is not a whole number of XOF
    /// (`expected_xof` is then `null`).
    pub expected_as_written: Option<String>,
    pub paid_xof: Option<i64>,
    pub reason: Option<String>,
    pub created_at: LocalTime,
    pub resolved_at: Option<LocalTime>,
}

impl Line {
    fn of(p: &PaymentFact, tz: Tz) -> Self {
        Self {
            token: p.token.clone(),
            transaction_id: p.transaction_id.clone(),
            request_id: p.request_id.clone(),
            status: p.status.clone(),
            operator: p.operator_name.clone(),
            expected_xof: p.expected_amount,
            expected_as_written: p.expected_as_written.clone(),
            paid_xof: paid_xof(p),
            reason: p.status_reason.clone(),
            created_at: LocalTime {
                at: p.created_at,
                tz,
            },
            resolved_at: p.resolved_at.map(|at| LocalTime { at, tz }),
        }
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
    pub schema_version: u32,
    #[serde(serialize_with = "iso_date")]
    pub date: NaiveDate,
    #[serde(serialize_with = "zone_name")]
    pub time_zone: Tz,
    pub window_start: LocalTime,
    pub window_end: LocalTime,
    pub generated_at: LocalTime,
    /// The day was not over when the report was made: its figures are "so far".
    pub partial: bool,
    pub by_status: Vec<StatusTotal>,
    pub reconciliation: Reconciliation,
    pub pending_at_end: Pending,
    pub resolution: Resolution,
    pub discrepancies: Discrepancies,
    /// Every payment completed during the day (late completions included), by time.
    pub completed: Vec<Line>,
    pub health: Health,
    /// Payouts and withdrawals ([`Summary::with_money_out`]); the figures above are the
    /// invoices', money in.
    pub money_out: MoneyOut,
    /// Received minus sent, per operator and in total.
    pub net: Net,
    /// Every row that needs a person, in and out.
    pub to_handle: ToHandle,
    /// The cases still open and those closed during the day (set by the caller).
    pub cases: crate::report::cases::DayCases,
}

impl Summary {
    /// The summary with the day's money out, and the net and the list to handle that
    /// follow from both sides.
    pub fn with_money_out(self, money_out: MoneyOut) -> Self {
        Self {
            net: net::of(&self.reconciliation, &money_out),
            to_handle: to_handle::of(&self.discrepancies, &money_out),
            money_out,
            ..self
        }
    }
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

/// Computes every figure of the report for `date` in `tz` from facts read at
/// `f.generated_at`.
pub fn summarise(f: &DayFacts, date: NaiveDate, tz: Tz) -> Summary {
    let at = |at: Millis| LocalTime { at, tz };
    // On a day not over, "the end of the day" is now: ages are counted to it.
    let as_of = f.end.min(f.generated_at);
    let mut durations: Vec<f64> = f
        .resolved
        .iter()
        .filter_map(|p| p.resolved_at.map(|r| (r - p.created_at) as f64 / 1000.0))
        .collect();
    durations.sort_by(f64::total_cmp);
    let oldest = f.pending_at_end.iter().map(|p| p.created_at).min();
    let discrepancies = discrepancies::find(f, as_of, tz);
    let reconciliation = money::reconcile(&f.resolved);
    Summary {
        schema_version: SCHEMA_VERSION,
        date,
        time_zone: tz,
        window_start: at(f.start),
        window_end: at(f.end),
        generated_at: at(f.generated_at),
        partial: f.generated_at < f.end,
        by_status: money::by_status(&f.resolved),
        net: net::of(&reconciliation, &MoneyOut::default()),
        to_handle: to_handle::of(&discrepancies, &MoneyOut::default()),
        reconciliation,
        pending_at_end: Pending {
            count: f.pending_at_end.len() as i64,
            expected_xof: f
                .pending_at_end
                .iter()
                .filter_map(|p| p.expected_amount)
                .sum(),
            oldest_age_secs: oldest.map(|c| (as_of - c).max(0) / 1000),
        },
        resolution: Resolution {
            p50_secs: percentile(&durations, 50.0),
            p95_secs: percentile(&durations, 95.0),
            max_secs: durations.last().copied(),
            by_reconciler: f.resolved.iter().filter(|p| !p.requeued).count() as i64,
            after_requeue: f.resolved.iter().filter(|p| p.requeued).count() as i64,
        },
        discrepancies,
        money_out: MoneyOut::default(),
        cases: Default::default(),
        completed: f
            .resolved
            .iter()
            .filter(|p| p.status == "completed")
            .map(|p| Line::of(p, tz))
            .collect(),
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
mod tests;
