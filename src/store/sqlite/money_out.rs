//! The nightly report's facts about money out: the withdrawals and straight payouts of a
//! day. Kept apart from the invoices' facts ([`super::reports`]), which are money in.

use super::mistyped::EXPECTED_AS_WRITTEN;
use super::{Store, StoreError};
use crate::store::model::*;
use crate::time::Millis;
use rusqlite::params;

/// As for invoices, an `expected_amount` of another type than integer reads as none, and as
/// written in the last column.
fn columns() -> String {
    format!(
        "token, kind, transaction_id, status, status_reason, \
         CASE typeof(expected_amount) WHEN 'integer' THEN expected_amount END, amount, \
         created_at, resolved_at, overdue_at, nullif(trim(operator_name), ''), \
         {EXPECTED_AS_WRITTEN}"
    )
}

/// Read leniently, as the invoices' facts are (see `store::reports`).
fn fact(r: &rusqlite::Row<'_>) -> rusqlite::Result<PayoutFact> {
    crate::store::read::payout_fact(&mut super::mistyped::LenientRow::new(r))
}

impl Store {
    /// The payouts of the day `[start, end)`.
    pub fn payout_facts(&self, start: Millis, end: Millis) -> Result<PayoutFacts, StoreError> {
        let c = &self.conn;
        let columns = columns();
        let resolved = c
            .prepare(&format!(
                "SELECT {columns} FROM payments WHERE kind != 'invoice' AND status != 'pending' \
                 AND resolved_at >= ?1 AND resolved_at < ?2 ORDER BY resolved_at, id"
            ))?
            .query_map(params![start, end], fact)?
            .collect::<Result<_, _>>()?;
        let pending_at_end = c
            .prepare(&format!(
                "SELECT {columns} FROM payments WHERE kind != 'invoice' AND created_at < ?1 \
                 AND (status = 'pending' OR resolved_at >= ?1) ORDER BY created_at, id"
            ))?
            .query_map([end], fact)?
            .collect::<Result<_, _>>()?;
        Ok(PayoutFacts {
            resolved,
            pending_at_end,
        })
    }
}
