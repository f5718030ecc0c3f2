//! Rows read into the store's domain types. PostgreSQL's column types already refuse a
//! value of the wrong type, so reading is strict (SQLite's lenient reader is for values
//! its type affinity lets in). Statuses and kinds are read as their enums: the CHECK lists
//! keep any other text out, and one that got in anyway is a conversion error, not a panic.

use crate::payment::{DuePayment, Kind, Status};
use crate::store::PaymentRow;
use crate::store::StoreError;
use crate::store::read::{self, Cells};
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

/// A PostgreSQL row as [`Cells`]: read strictly, its column types having refused a value
/// of the wrong type at INSERT.
pub(super) struct PgCells<'r>(pub &'r Row);

impl Cells for PgCells<'_> {
    type Error = StoreError;

    fn int(&mut self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn text(&mut self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_get(i)?)
    }

    fn flag(&mut self, i: usize) -> Result<bool, StoreError> {
        Ok(self.0.try_get::<_, Option<bool>>(i)?.unwrap_or(false))
    }

    fn unreadable(&self, _: usize, what: String) -> StoreError {
        StoreError::Unreadable(what)
    }
}

/// A row selected with `payments::DUE_COLUMNS`.
pub(super) fn due_payment(r: &Row) -> Result<DuePayment, StoreError> {
    read::due_payment(&mut PgCells(r))
}

/// A full row selected with `read::ROW_COLUMNS`.
pub(super) fn payment_row(r: &Row) -> Result<PaymentRow, StoreError> {
    read::payment_row(&mut PgCells(r))
}
