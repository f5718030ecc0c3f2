//! How one payment the poller may confirm is read: the columns, the three queries that
//! select them (by id, by token, the re-check's timeouts) and the lenient reader. Apart from

//! internals.

use super::mistyped::LenientRow;
use crate::payment::DuePayment;
use crate::time::Millis;
use rusqlite::Row;

/// The columns [`due_payment_or_problem`] reads, in its order.
macro_rules! due_columns {
    () => {
        "id, token, transaction_id, expected_amount, attempts, not_found_streak, created_at, \
         requeued_at, status_reason, status, last_confirm_at, kind, overdue_at IS NOT NULL"
    };
}

/// What the poller needs of one due payment.
pub(super) const DUE_ROW_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE id = ?1 AND status = 'pending'"
);

/// A final payment due for one more confirm (a callback contradicted its status).
pub(super) const RECHECK_ROW_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE id = ?1 AND status != 'pending' AND recheck_at IS NOT NULL"
);

/// A payment a confirm may still change, by token (see `Store::confirmable`).
pub(super) const CONFIRMABLE_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE token = ?1 AND status IN ('pending', 'timeout')"
);

/// The `timeout` payments resolved since a time, for the nightly re-check.
pub(super) const TIMEOUTS_SINCE_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE status = 'timeout' AND resolved_at >= ?1 ORDER BY resolved_at, id"
);

/// Reads a row selected with `due_columns!()`; a value of the wrong type is
/// `Ok(Err(what is wrong))`, for the caller to park or pass over.
pub(super) fn due_payment_or_problem(r: &Row<'_>) -> rusqlite::Result<Result<DuePayment, String>> {
    let mut row = LenientRow::new(r);
    let created_at: Millis = row.int(6)?;
    let requeued_at: Option<Millis> = row.int(7)?;
    let payment = DuePayment {
        id: r.get(0)?,
        // The CHECK admits only the six statuses' texts.
        status: r.get(9)?,
        last_confirm_at: row.int(10)?,
        token: row.text(1)?,
        transaction_id: row.text(2)?,
        expected_amount: row.int(3)?,
        attempts: row.int(4)?,
        not_found_streak: row.int(5)?,
        window_start: requeued_at.map_or(created_at, |at| at.max(created_at)),
        claimed_reason: row.text(8)?,
        // CHECK-constrained columns: never of the wrong type.
        kind: r.get(11)?,
        overdue: r.get(12)?,
        send_by: None,
    };
    Ok(match row.bad.is_empty() {
        true => Ok(payment),
        false => Err(super::mistyped::summary(&row.bad)),
    })
}
