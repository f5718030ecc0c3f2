//! Payments as the store gives them out: a full row and its one JSON form, what a search
//! asks for, and what enqueue, requeue and a confirm outside the poller's scan answer.

use crate::payment::{Kind, Status};
use crate::time::{Millis, rfc3339};
use serde_json::{Value, json};

/// Whether a payment can be confirmed now, outside the poller's scan (confirm-now, the
/// re-check).
#[derive(Debug, Clone, PartialEq)]
pub enum ToConfirm {
    /// Claimed for this confirm (on SQLite, simply found).
    Claimed(crate::payment::DuePayment),
    /// PostgreSQL: a live claim holds it, so a confirm of it is under way or was just
    /// sent, here or on another node; the claim ends with its outcome or its lease.
    Busy,
    /// Final, unknown, or a row with a value of the wrong type.
    Not,
}

/// What `requeue` did to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeued {
    /// A final verdict reopened: the payment was in this status.
    Reopened(Status),
    /// A parked row, corrected since, made due now.
    Unparked,
}

/// How many rows the shop inserted without a poll time are scheduled per statement (and
/// transaction): a million such rows are scheduled in two hundred short writes, never in
/// one that holds a million row locks (PostgreSQL) or the write lock for seconds (SQLite)
/// while the shop waits to insert.
pub const SCHEDULE_BATCH: i64 = 5_000;

/// Whether `enqueue` created the row or found the same one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Inserted,
    AlreadyPresent,
}

impl Enqueued {
    /// An enqueue of a token already stored: the same payment again (idempotent), or a
    /// conflict naming the first field that differs (order, amount, kind), which writes
    /// nothing.
    pub fn again(
        token: &str,
        same_order: bool,
        same_amount: bool,
        same_kind: bool,
    ) -> Result<Self, crate::store::StoreError> {
        let field = [
            (same_order, "transaction_id"),
            (same_amount, "amount"),
            (same_kind, "kind"),
        ]
        .into_iter()
        .find_map(|(same, field)| (!same).then_some(field));
        match field {
            Some(field) => Err(crate::store::StoreError::Conflict {
                token: token.to_owned(),
                field,
            }),
            None => Ok(Enqueued::AlreadyPresent),
        }
    }
}

/// Which payments a search returns: each `None` matches all. `before_id` pages (the rows
/// older than the last one of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// The shop's order reference.
    pub transaction_id: Option<String>,
    pub status: Option<Status>,
    /// Money in (`invoice`) or out (`withdrawal`, `payout`).
    pub kind: Option<Kind>,
    pub before_id: Option<i64>,
}

/// A full row, for `show` and `list`.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRow {
    pub id: i64,
    pub token: String,
    pub transaction_id: Option<String>,
    pub expected_amount: Option<i64>,
    pub status: String,
    pub status_reason: Option<String>,
    pub attempts: i64,
    pub next_poll_at: Option<Millis>,
    pub last_confirm_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub resolved_at: Option<Millis>,
    pub last_error: Option<String>,
    pub provider_status: Option<String>,
    pub amount: Option<i64>,
    pub operator_id: Option<String>,
    pub operator_name: Option<String>,
    pub customer: Option<String>,
    pub request_id: Option<String>,
    pub external_id: Option<String>,
    pub confirmed_transaction_id: Option<String>,
    pub oreference: Option<String>,
    pub provider_date: Option<String>,
    pub raw_response: Option<String>,
    /// `invoice`, `withdrawal` or `payout`.
    pub kind: String,
    /// When a pending payout was announced as overdue.
    pub overdue_at: Option<Millis>,
    /// Columns holding a value of the wrong type, with what they hold; their fields above
    /// are empty (`None`, `0`, `""`). Empty for every row the reconciler or a careful shop
    /// wrote.
    pub bad_columns: Vec<(String, String)>,
}

impl PaymentRow {
    /// The JSON object `show` prints and the shop API answers: times as RFC 3339, the raw
    /// answer as JSON when it parses.
    pub fn to_json(&self) -> Value {
        let p = self;
        let time = |t: Option<i64>| t.map(rfc3339);
        let mut value = json!({
            "token": p.token,
            "kind": p.kind,
            "transaction_id": p.transaction_id,
            "expected_amount": p.expected_amount,
            "status": p.status,
            "status_reason": p.status_reason,
            "attempts": p.attempts,
            "amount": p.amount,
            "operator_id": p.operator_id,
            "operator_name": p.operator_name,
            "customer": p.customer,
            "request_id": p.request_id,
            "external_id": p.external_id,
            "confirmed_transaction_id": p.confirmed_transaction_id,
            "oreference": p.oreference,
            "provider_status": p.provider_status,
            "provider_date": p.provider_date,
            "created_at": rfc3339(p.created_at),
            "updated_at": rfc3339(p.updated_at),
            "resolved_at": time(p.resolved_at),
            "next_poll_at": time(p.next_poll_at),
            "last_confirm_at": time(p.last_confirm_at),
            "overdue_at": time(p.overdue_at),
            "last_error": p.last_error,
            "raw_response": p.raw_response.as_deref().map(|raw| {
                serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
            }),
        });
        // Only on a badly written row, so the usual form stays as documented.
        if !p.bad_columns.is_empty() {
            value["bad_columns"] = p
                .bad_columns
                .iter()
                .map(|(column, problem)| (column.clone(), Value::String(problem.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        value
    }

    /// The bad columns in one line (`expected_amount holds text "5 000", not an integer`),
    /// `None` for a sound row.
    pub fn problem(&self) -> Option<String> {
        (!self.bad_columns.is_empty()).then(|| bad_columns_line(&self.bad_columns))
    }
}

/// Columns of a row that could not be read, each with what it holds, in one line for
/// `last_error` and logs: `expected_amount holds text "5 000", not an integer`.
pub fn bad_columns_line(bad: &[(String, String)]) -> String {
    let parts: Vec<String> = bad
        .iter()
        .map(|(column, problem)| format!("{column} {problem}"))
        .collect();
    parts.join("; ")
}
