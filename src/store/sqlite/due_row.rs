//! How one payment the poller may confirm is read: the columns, the three queries that
//! select them (by id, by token, the re-check's timeouts) and the lenient reader. Apart from

//! internals.

use super::mistyped::LenientRow;
use crate::payment::DuePayment;
use crate::store::read::{self, Cells, due_columns};
use rusqlite::Row;

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
    let payment = read::due_payment(&mut row)?;
    let bad = row.take_bad();
    Ok(match bad.is_empty() {
        true => Ok(payment),
        false => Err(crate::store::bad_columns_line(&bad)),
    })
}
