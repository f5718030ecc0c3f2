//! A payment as people and the shop read it: the full row (`show`, `list`, the API), its
//! one JSON form, and the lookups that return it.
//!
//! Rows are read leniently ([`LenientRow`]): a value of the wrong type that the shop wrote
//! (`expected_amount = '5 000'`) empties its field and is named in
//! [`PaymentRow::bad_columns`], so the row is shown with the problem flagged and a listing
//! never fails on it.

use super::mistyped::{LenientRow, summary};
use super::{Store, StoreError};
use crate::payment::{Kind, Status};
use crate::time::{Millis, rfc3339};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::{Value, json};

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
        (!self.bad_columns.is_empty()).then(|| summary(&self.bad_columns))
    }
}

const ROW_COLUMNS: &str = "id, token, transaction_id, expected_amount, status, status_reason, \
    attempts, next_poll_at, last_confirm_at, created_at, updated_at, resolved_at, last_error, \
    provider_status, amount, operator_id, operator_name, customer, request_id, external_id, \
    confirmed_transaction_id, oreference, provider_date, raw_response, kind, overdue_at";

fn payment_row(r: &Row<'_>) -> rusqlite::Result<PaymentRow> {
    let mut r = LenientRow::new(r);
    let mut row = PaymentRow {
        id: r.int(0)?,
        token: r.text(1)?,
        transaction_id: r.text(2)?,
        expected_amount: r.int(3)?,
        status: r.text(4)?,
        status_reason: r.text(5)?,
        attempts: r.int(6)?,
        next_poll_at: r.int(7)?,
        last_confirm_at: r.int(8)?,
        created_at: r.int(9)?,
        updated_at: r.int(10)?,
        resolved_at: r.int(11)?,
        last_error: r.text(12)?,
        provider_status: r.text(13)?,
        amount: r.int(14)?,
        operator_id: r.text(15)?,
        operator_name: r.text(16)?,
        customer: r.text(17)?,
        request_id: r.text(18)?,
        external_id: r.text(19)?,
        confirmed_transaction_id: r.text(20)?,
        oreference: r.text(21)?,
        provider_date: r.text(22)?,
        raw_response: r.text(23)?,
        kind: r.text(24)?,
        overdue_at: r.int(25)?,
        bad_columns: Vec::new(),
    };
    row.bad_columns = r.bad;
    Ok(row)
}

impl Store {
    /// One payment by token.
    pub fn get(&self, token: &str) -> Result<Option<PaymentRow>, StoreError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM payments WHERE token = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([token], payment_row)
            .optional()?)
    }

    /// Payments matching `filter`, newest first (keyset paging: a page never shifts as
    /// rows arrive).
    pub fn search(
        &self,
        filter: &PaymentFilter,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM payments WHERE (?1 IS NULL OR transaction_id = ?1) \
             AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR id < ?3) \
             AND (?5 IS NULL OR kind = ?5) ORDER BY id DESC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let params = params![
            filter.transaction_id,
            filter.status.map(Status::as_str),
            filter.before_id,
            i64::try_from(limit).unwrap_or(i64::MAX),
            filter.kind.map(Kind::as_str),
        ];
        let rows = stmt.query_map(params, payment_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Payments, newest first, optionally of one status.
    pub fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM payments WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY id DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![status.map(Status::as_str), limit as i64],
            payment_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
