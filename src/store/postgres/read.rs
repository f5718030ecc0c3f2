//! Rows read into the store's domain types. PostgreSQL's column types already refuse a
//! value of the wrong type, so reading is strict (SQLite's lenient reader is for values
//! its type affinity lets in). Statuses and kinds are read as their enums: the CHECK lists
//! keep any other text out, and one that got in anyway is a conversion error, not a panic.

use crate::payment::{DuePayment, Kind, Status};
use crate::store::StoreError;
use crate::store::rows::PaymentRow;
use crate::time::Millis;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl<'a> FromSql<'a> for Status {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let text = <&str as FromSql>::from_sql(ty, raw)?;
        Status::parse(text).ok_or_else(|| format!("unknown status {text:?}").into())
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

impl<'a> FromSql<'a> for Kind {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let text = <&str as FromSql>::from_sql(ty, raw)?;
        Kind::parse(text).ok_or_else(|| format!("unknown kind {text:?}").into())
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

/// A row selected with `payments::DUE_COLUMNS`.
pub(super) fn due_payment(r: &Row) -> Result<DuePayment, StoreError> {
    let created_at: Millis = r.try_get(6)?;
    let requeued_at: Option<Millis> = r.try_get(7)?;
    Ok(DuePayment {
        id: r.try_get(0)?,
        token: r.try_get(1)?,
        transaction_id: r.try_get(2)?,
        expected_amount: r.try_get(3)?,
        attempts: r.try_get(4)?,
        not_found_streak: r.try_get(5)?,
        window_start: requeued_at.map_or(created_at, |at| at.max(created_at)),
        claimed_reason: r.try_get(8)?,
        status: r.try_get(9)?,
        last_confirm_at: r.try_get(10)?,
        kind: r.try_get(11)?,
        overdue: r.try_get(12)?,
        send_by: None,
    })
}

/// The columns [`payment_row`] reads, in its order (SQLite's `ROW_COLUMNS`).
pub(super) const ROW_COLUMNS: &str = "id, token, transaction_id, expected_amount, status, \
    status_reason, attempts, next_poll_at, last_confirm_at, created_at, updated_at, \
    resolved_at, last_error, provider_status, amount, operator_id, operator_name, customer, \
    request_id, external_id, confirmed_transaction_id, oreference, provider_date, \
    raw_response, kind, overdue_at";

/// A full row selected with [`ROW_COLUMNS`].
pub(super) fn payment_row(r: &Row) -> Result<PaymentRow, StoreError> {
    Ok(PaymentRow {
        id: r.try_get(0)?,
        token: r.try_get(1)?,
        transaction_id: r.try_get(2)?,
        expected_amount: r.try_get(3)?,
        status: r.try_get(4)?,
        status_reason: r.try_get(5)?,
        attempts: r.try_get(6)?,
        next_poll_at: r.try_get(7)?,
        last_confirm_at: r.try_get(8)?,
        created_at: r.try_get(9)?,
        updated_at: r.try_get(10)?,
        resolved_at: r.try_get(11)?,
        last_error: r.try_get(12)?,
        provider_status: r.try_get(13)?,
        amount: r.try_get(14)?,
        operator_id: r.try_get(15)?,
        operator_name: r.try_get(16)?,
        customer: r.try_get(17)?,
        request_id: r.try_get(18)?,
        external_id: r.try_get(19)?,
        confirmed_transaction_id: r.try_get(20)?,
        oreference: r.try_get(21)?,
        provider_date: r.try_get(22)?,
        raw_response: r.try_get(23)?,
        kind: r.try_get(24)?,
        overdue_at: r.try_get(25)?,
        bad_columns: Vec::new(),
    })
}
