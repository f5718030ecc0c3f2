//! A payment as people and the shop read it: the full row (`show`, `list`, the API), its
//! one JSON form, and the lookups that return it.
//!
//! Rows are read leniently ([`LenientRow`]): a value of the wrong type that the shop wrote
//! (`expected_amount = '5 000'`) empties its field and is named in
//! [`PaymentRow::bad_columns`], so the row is shown with the problem flagged and a listing
//! never fails on it.

use super::mistyped::LenientRow;
use super::{Store, StoreError};
use crate::payment::{Kind, Status};
use crate::store::model::*;
use crate::store::read::{self, ROW_COLUMNS};
use rusqlite::{OptionalExtension, Row, params};

/// A full row, read leniently: a value of the wrong type is left empty and named.
fn payment_row(r: &Row<'_>) -> rusqlite::Result<PaymentRow> {
    read::payment_row(&mut LenientRow::new(r))
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

    /// Payments, newest first, optionally of one status (the demo's check reads them
    /// all, synchronously).
    pub fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        let filter = PaymentFilter {
            status,
            ..PaymentFilter::default()
        };
        self.search(&filter, limit)
    }
}
