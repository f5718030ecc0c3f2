//! Cases as the store takes them in and gives them out: what the case sweep reads and
//! writes, a case with its payment and how it closed, and the one JSON form of a case that
//! the command line, the shop API and the `case.opened` / `case.resolved` events share.
//! Which case a payment needs, and which decision fits it, is `payment::case`'s.

use crate::payment::case::need::{Need, Open, Seen};
use crate::payment::case::{CaseKind, Decision};
use crate::payment::{Kind, Status};
use crate::time::{Millis, rfc3339};
use serde_json::{Value, json};

/// A `case.opened` event: a payment needs a person.
pub const CASE_OPENED: &str = "case.opened";
/// A `case.resolved` event: a person decided, or the payment no longer needs one.
pub const CASE_RESOLVED: &str = "case.resolved";
/// Who closed a case that closed by itself.
pub const BY_ITSELF: &str = "reconciler";

/// How far the case sweep has looked (`case_sweep`): payments changed and callbacks
/// received until `changes_to`, payouts marked overdue until `overdue_to`, pending windows
/// started until `pending_to`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepMarks {
    pub changes_to: Millis,
    pub overdue_to: Millis,
    pub pending_to: Millis,
}

/// What one sweep reads: payments changed (in a status that may need a case, or with an
/// open one) and callbacks received after `changes_from`; payouts marked overdue after
/// `overdue_from`; pending windows started in `(pending_from, pending_until]`. Each start
/// is a mark less a look-back, for writes that commit after the time they record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepWindow {
    pub changes_from: Millis,
    pub overdue_from: Millis,
    pub pending_from: Millis,
    pub pending_until: Millis,
}

/// A payment the sweep looks at: what it sees of it, its open case, and every case it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCandidate {
    pub payment_id: i64,
    pub token: String,
    pub seen: Seen,
    /// The open case's id, and the case.
    pub open: Option<(i64, Open)>,
    /// Every case it had, open or closed, as the need each was opened for.
    pub had: Vec<Need>,
}

/// A write of the sweep, each a compare-and-set: opening a case does nothing where the
/// payment has one open already or had one for the same need; closing one does nothing
/// where it is closed already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseWrite {
    Open {
        payment_id: i64,
        need: Need,
        /// The payment's status as the sweep saw it.
        status: Status,
    },
    /// Closes a case by itself, with why.
    Close { case_id: i64, reason: String },
}

/// What a sweep's writes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepWrites {
    pub opened: usize,
    pub closed: usize,
}

/// A person's decision on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub decision: Decision,
    pub note: String,
    /// Who: `cli:<Unix user>` or `api:<token name>`.
    pub by: String,
}

/// A record of `case_decisions`: how a case closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub at: Millis,
    /// `None`: the case closed by itself (its payment no longer needed a person).
    pub decision: Option<Decision>,
    /// The person's note, or why it closed by itself.
    pub note: String,
    pub by: String,
}

/// Which cases a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Closed cases (newest closed first) instead of open ones (oldest first).
    pub closed: bool,
    /// Only cases closed at or after this time (closed cases only).
    pub closed_from: Option<Millis>,
    /// Only cases closed before this time (closed cases only).
    pub closed_until: Option<Millis>,
}

/// A case with its payment, as listed and announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    pub id: i64,
    pub kind: CaseKind,
    pub since: Millis,
    pub opened_at: Millis,
    pub closed_at: Option<Millis>,
    /// The payment's status when the case opened.
    pub opened_on: Status,
    pub token: String,
    pub payment_kind: Kind,
    /// The shop's order reference.
    pub transaction_id: Option<String>,
    /// The payment's status now (LigdiCash's verdict, never changed by a decision).
    pub status: Status,
    pub expected_amount: Option<i64>,
    pub amount: Option<i64>,
    /// How it closed, once it did.
    pub closing: Option<CaseRecord>,
}

impl CaseRow {
    /// Whether the case is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// How long it has been open at `now`, or was open, in whole seconds.
    pub fn age_seconds(&self, now: Millis) -> i64 {
        self.closed_at
            .unwrap_or(now)
            .saturating_sub(self.opened_at)
            .max(0)
            / 1000
    }

    /// The one JSON form of a case, at `now`: the command line's, the API's and the events'.
    /// An open case lists the decisions that fit it.
    pub fn to_json(&self, now: Millis) -> Value {
        let closing = self.closing.as_ref();
        let fitting: Vec<&str> = match self.is_open() {
            true => Decision::fitting(self.kind, self.payment_kind)
                .iter()
                .map(|d| d.as_str())
                .collect(),
            false => Vec::new(),
        };
        json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "state": if self.is_open() { "open" } else { "closed" },
            "age_seconds": self.age_seconds(now),
            "since": rfc3339(self.since),
            "opened_at": rfc3339(self.opened_at),
            "opened_on_status": self.opened_on.as_str(),
            "closed_at": self.closed_at.map(rfc3339),
            "fitting_decisions": fitting,
            "decision": closing.and_then(|c| c.decision).map(Decision::as_str),
            "note": closing.map(|c| &c.note),
            "decided_by": closing.map(|c| &c.by),
            "payment": {
                "token": self.token,
                "kind": self.payment_kind.as_str(),
                "transaction_id": self.transaction_id,
                "status": self.status.as_str(),
                "expected_amount": self.expected_amount,
                "amount": self.amount,
            },
        })
    }
}

/// The payload of a case event, as the JSON text every sink receives.
fn case_payload(kind: &str, id: &str, occurred_at: Millis, case: &CaseRow) -> String {
    json!({
        "type": kind,
        "id": id,
        "occurred_at": rfc3339(occurred_at),
        "case": case.to_json(occurred_at),
    })
    .to_string()
}

/// The case gauges of `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseGauges {
    /// Open cases by kind, every kind present (zero when none).
    pub open_by_kind: Vec<(CaseKind, i64)>,
    /// When the oldest open case opened.
    pub oldest_opened_at: Option<Millis>,
}

impl Default for CaseGauges {
    /// No open case: every kind at zero.
    fn default() -> Self {
        Self::from_counts(&[], None)
    }
}

impl CaseGauges {
    /// From the counts a backend read, by the kind's spelling: every kind, in order.
    pub fn from_counts(counts: &[(String, i64)], oldest_opened_at: Option<Millis>) -> Self {
        let open_by_kind = CaseKind::ALL
            .into_iter()
            .map(|kind| {
                let n = counts
                    .iter()
                    .filter(|(k, _)| k == kind.as_str())
                    .map(|(_, n)| n)
                    .sum();
                (kind, n)
            })
            .collect();
        Self {
            open_by_kind,
            oldest_opened_at,
        }
    }
}

impl<'a> super::NewEvent<'a> {
    /// A case event (`case.opened`, `case.resolved`) about `case` as it now is.
    pub fn case(kind: &'a str, case: &'a CaseRow, now: Millis, sinks: &'a [String]) -> Self {
        let payload = |id: &str| case_payload(kind, id, now, case);
        Self::born(kind, Some(&case.token), payload, now, sinks)
    }
}
