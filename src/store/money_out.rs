//! The nightly report's facts about money out: the withdrawals and straight payouts of a
//! day. Kept apart from the invoices' facts ([`super::reports`]), which are money in.

use super::{Store, StoreError};
use crate::time::Millis;
use rusqlite::params;
use serde::Serialize;

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

/// As for invoices, an `expected_amount` of another type than integer reads as none.
const COLUMNS: &str = "token, kind, transaction_id, status, status_reason, \
    CASE typeof(expected_amount) WHEN 'integer' THEN expected_amount END, amount, \
    created_at, resolved_at, overdue_at";

/// Read leniently, as the invoices' facts are (see `store::reports`).
fn fact(r: &rusqlite::Row<'_>) -> rusqlite::Result<PayoutFact> {
    let mut r = super::mistyped::LenientRow::new(r);
    Ok(PayoutFact {
        token: r.text(0)?,
        kind: r.text(1)?,
        transaction_id: r.text(2)?,
        status: r.text(3)?,
        status_reason: r.text(4)?,
        expected_amount: r.int(5)?,
        amount: r.int(6)?,
        created_at: r.int(7)?,
        resolved_at: r.int(8)?,
        overdue_at: r.int(9)?,
    })
}

impl Store {
    /// The payouts of the day `[start, end)`.
    pub fn payout_facts(&self, start: Millis, end: Millis) -> Result<PayoutFacts, StoreError> {
        let c = &self.conn;
        let resolved = c
            .prepare(&format!(
                "SELECT {COLUMNS} FROM payments WHERE kind != 'invoice' AND status != 'pending' \
                 AND resolved_at >= ?1 AND resolved_at < ?2 ORDER BY resolved_at, id"
            ))?
            .query_map(params![start, end], fact)?
            .collect::<Result<_, _>>()?;
        let pending_at_end = c
            .prepare(&format!(
                "SELECT {COLUMNS} FROM payments WHERE kind != 'invoice' AND created_at < ?1 \
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
