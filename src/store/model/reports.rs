//! What the nightly report and the gauges read: the facts of a day, money in and out, and
//! the figures of `/metrics`.

use crate::time::Millis;
use serde::Serialize;

/// A payment as the report needs it. `amount` is what LigdiCash's last answer said, which
/// on a pending answer is the invoice's amount, not money paid: the report's one rule for
/// money (`report::figures::paid_xof`) decides when it counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PaymentFact {
    pub token: String,
    pub transaction_id: Option<String>,
    pub request_id: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub expected_amount: Option<i64>,
    pub amount: Option<i64>,
    /// `None` when LigdiCash named no operator (it sends `""` while a payment is pending).
    pub operator_name: Option<String>,
    pub created_at: Millis,
    pub resolved_at: Option<Millis>,
    pub requeued: bool,
    /// `expected_amount` as the shop wrote it, when it is not a whole number of XOF
    /// (`'5 000'`; SQLite only, PostgreSQL's column refuses one): `expected_amount` is then
    /// `None`, and the report shows this to a person rather than an amount of 0.
    pub expected_as_written: Option<String>,
}

/// One confirm call of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFact {
    pub outcome: String,
    pub latency_ms: i64,
}

/// Everything read from the database for one day.
#[derive(Debug, Clone, Default)]
pub struct DayFacts {
    pub start: Millis,
    pub end: Millis,
    /// When the facts were read: before `end`, the day is not over.
    pub generated_at: Millis,
    /// Invoices that reached a final status during the day (payouts, money out, are in
    /// [`super::money_out`]).
    pub resolved: Vec<PaymentFact>,
    /// Invoices still pending when the day ended.
    pub pending_at_end: Vec<PaymentFact>,
    /// Tokens whose `payment.late_completed` event was emitted during the day.
    pub late_completed: Vec<String>,
    pub attempts: Vec<AttemptFact>,
    pub events_pending: i64,
    pub events_dead: i64,
    /// LigdiCash callbacks of the day that matched no payment (counted, a sample kept).
    pub unmatched_callbacks: i64,
    /// Payments of any kind a callback of the day contradicted, whose status still stands
    /// (LigdiCash upheld it, or its re-check is still to come); the reason says what the
    /// callback said ([`contradiction_reason`]).
    pub contradicted: Vec<PaymentFact>,
}

/// Why a contradicted payment is listed (`report::i18n::reason` translates it).
pub fn contradiction_reason(said: &str, status: &str) -> String {
    format!("a callback said {said}, LigdiCash says {status}")
}

/// What the database says at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbGauges {
    pub pending: i64,
    /// Of the oldest pending invoice: payouts may stay pending for days.
    pub oldest_pending_created_at: Option<Millis>,
    pub pending_payouts: i64,
    /// Pending payouts past `overdue_after` (announced by `payout.overdue`).
    pub overdue_payouts: i64,
    pub events_by_state: Vec<(String, i64)>,
    pub last_report_at: Option<Millis>,
    /// Open cases by kind, and the oldest one's age.
    pub cases: super::CaseGauges,
}

/// A payout as the report needs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PayoutFact {
    pub token: String,
    /// `withdrawal` or `payout`.
    pub kind: String,
    pub transaction_id: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub expected_amount: Option<i64>,
    pub amount: Option<i64>,
    pub created_at: Millis,
    pub resolved_at: Option<Millis>,
    /// When it was announced as overdue (`payout.overdue`), if it was.
    pub overdue_at: Option<Millis>,
    /// The operator LigdiCash named, `None` when it named none (as for invoices).
    pub operator_name: Option<String>,
    /// As [`PaymentFact::expected_as_written`].
    pub expected_as_written: Option<String>,
}

impl PayoutFact {
    /// The XOF a total counts: what LigdiCash confirmed, else what was asked.
    pub fn xof(&self) -> i64 {
        self.amount.or(self.expected_amount).unwrap_or(0)
    }
}

/// The payouts of one day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PayoutFacts {
    /// Payouts that reached a final status during the day.
    pub resolved: Vec<PayoutFact>,
    /// Payouts created before the day ended and not resolved by then.
    pub pending_at_end: Vec<PayoutFact>,
}
