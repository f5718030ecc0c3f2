//! Parked payments: pending rows the shop wrote with a value of the wrong type
//! (`expected_amount = '5 000'`, a BLOB token), which cannot be confirmed until someone
//! corrects them, and must hold up nothing else meanwhile.
//!
//! A parked row keeps `status = 'pending'` (nothing is final until LigdiCash says so) and
//! is marked by `next_poll_at = PARKED`, the last millisecond of the year 9999:
//! - it sorts after every real poll time, so the due scan never reads it again, and the
//!   error is logged once, when it is parked; `last_error` says what is wrong;
//! - the marker is in the due index, so parked rows are found by one index seek. Every scan
//!   re-reads a few of them ([`RECHECK_BATCH`], taking turns by id), and one that now reads
//!   cleanly is due at once (`next_poll_at = now`, `last_error` cleared): the shop corrects
//!   the row with a plain `UPDATE` and has nothing else to do. Scans come every
//!   `scan_interval` at least, so a correction is picked up within a second by default;
//!   with no parked row, the re-check costs one index seek;
//! - `run --until-idle` does not wait for parked rows, and `show`, `payments_view` and the
//!   API display the marker as `9999-12-31T23:59:59.999Z`.
//!
//! A `next_poll_at` that is itself text or a BLOB (`'soon'`) is not parked: the schedule is
//! the reconciler's to keep, so the row is treated as one inserted without a poll time.

use super::due_row::{DUE_ROW_SQL, due_payment_or_problem};
use super::{Store, StoreError};
use crate::time::Millis;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use std::sync::atomic::Ordering;

/// `next_poll_at` of a parked row: 9999-12-31T23:59:59.999Z, after any real poll time.
pub const PARKED: Millis = 253_402_300_799_999;

/// Parked rows re-read per scan: enough to cycle through a few hundred within seconds,
/// few enough that a shop with thousands of them does not slow every scan.
pub const RECHECK_BATCH: usize = 64;

/// Parked rows after an id, by id: one seek into the due index, no table scan.
pub const PARKED_IDS_SQL: &str = "SELECT id FROM payments INDEXED BY payments_due \
    WHERE status = 'pending' AND next_poll_at = ?1 AND id > ?2 ORDER BY id LIMIT ?3";

/// Pending rows whose `next_poll_at` is text or a BLOB, which the column's INTEGER type
/// lets through (`'soon'`). Such a row is never due (`'soon' <= now` is false: SQLite sorts
/// text after every number), so it would wait for ever, silently. Both sort after every
/// number and at or after `''`, so this reads only the end of the due index.
pub const MISTYPED_POLL_TIME_SQL: &str = "SELECT id, typeof(next_poll_at) FROM payments \
    INDEXED BY payments_due WHERE status = 'pending' AND next_poll_at >= '' LIMIT ?1";

/// How `last_error` of a parked row begins.
pub const PARKED_PREFIX: &str = "parked, the row cannot be read";

const UNPARK_SQL: &str = "UPDATE payments SET next_poll_at = ?2, updated_at = ?2, \
    last_error = NULL WHERE id = ?1 AND status = 'pending' AND next_poll_at = ?3";

impl Store {
    /// Parks rows that cannot be read, each with what is wrong with it.
    pub(super) fn park(&mut self, rows: &[(i64, String)], now: Millis) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, problem) in rows {
            tracing::error!(
                payment_id = id,
                problem,
                "a payments row cannot be read (a value of the wrong type): it stays pending, parked; correct the row (see schema.sql) and it is due again at once"
            );
            tx.execute(
                "UPDATE payments SET next_poll_at = ?1, updated_at = ?2, last_error = ?3 \
                 WHERE id = ?4 AND status = 'pending'",
                params![
                    PARKED,
                    now,
                    format!("{PARKED_PREFIX}: {problem}; correct it (see schema.sql) and it is due again at once"),
                    id
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Re-reads the next [`RECHECK_BATCH`] parked rows; those the shop has corrected are
    /// due at `now`. Returns how many.
    pub(super) fn unpark_corrected(&mut self, now: Millis) -> Result<usize, StoreError> {
        let after = self.parked_cursor.load(Ordering::Relaxed);
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(PARKED_IDS_SQL)?
            .query_map(params![PARKED, after, RECHECK_BATCH as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // The next scan goes on after the last one read, or starts over.
        let next = match ids.last() {
            Some(last) if ids.len() == RECHECK_BATCH => *last,
            _ => 0,
        };
        self.parked_cursor.store(next, Ordering::Relaxed);
        let mut corrected = Vec::new();
        let mut read = self.conn.prepare_cached(DUE_ROW_SQL)?;
        for id in ids {
            if let Some(Ok(_)) = read.query_row([id], due_payment_or_problem).optional()? {
                corrected.push(id);
            }
        }
        drop(read);
        if corrected.is_empty() {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in &corrected {
            tx.execute(UNPARK_SQL, params![id, now, PARKED])?;
            tracing::info!(
                payment_id = id,
                "a parked payments row was corrected: it is due now"
            );
        }
        tx.commit()?;
        Ok(corrected.len())
    }

    /// Gives rows whose `next_poll_at` is not a number no poll time, so they are scheduled
    /// like rows inserted without one (`created_at + first_delay`), with a note why.
    pub(super) fn reschedule_mistyped_poll_times(
        &mut self,
        now: Millis,
        limit: usize,
    ) -> Result<(), StoreError> {
        let mistyped: Vec<(i64, String)> = self
            .conn
            .prepare_cached(MISTYPED_POLL_TIME_SQL)?
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if mistyped.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, kind) in &mistyped {
            let note = format!(
                "next_poll_at held {kind}, not integer milliseconds: scheduled as a row inserted without one"
            );
            tracing::warn!(
                payment_id = id,
                note,
                "a payments row had a poll time that is not a number"
            );
            tx.execute(
                "UPDATE payments SET next_poll_at = NULL, updated_at = ?2, last_error = ?3 \
                 WHERE id = ?1 AND status = 'pending'",
                params![id, now, note],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// `requeue` of a parked row: due at `now` if it reads cleanly now, else why not.
pub(super) fn unpark(
    tx: &Transaction<'_>,
    id: i64,
    token: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let read = tx
        .prepare_cached(DUE_ROW_SQL)?
        .query_row([id], due_payment_or_problem)
        .optional()?;
    match read {
        Some(Ok(_)) => {
            tx.execute(UNPARK_SQL, params![id, now, PARKED])?;
            Ok(())
        }
        Some(Err(problem)) => Err(StoreError::StillUnreadable {
            token: token.to_owned(),
            problem,
        }),
        None => Err(StoreError::NotFound(token.to_owned())),
    }
}
