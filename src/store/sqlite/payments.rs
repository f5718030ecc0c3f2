//! Queries on `payments`: enqueue, the due scan, lookups, requeue. Outcomes of confirms are
//! written by `store::outcomes`; rows the shop wrote with values of the wrong type are
//! parked and re-checked by `store::parked`.

use super::due_row::{CONFIRMABLE_SQL, DUE_ROW_SQL, RECHECK_ROW_SQL, due_payment_or_problem};
use super::parked::PARKED;
use super::{Store, StoreError};
use crate::payment::{DuePayment, NewPayment, REQUEUED_FROM, Status};
use crate::store::model::*;
use crate::time::Millis;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::collections::HashSet;

// The hot queries name their partial index: without statistics SQLite's planner would pick
// `payments_status` and sort every pending row on each scan (a unit test checks the plans).

/// Ids of due payments, soonest first (ties by id: the index's own order). Read from the
/// index alone (the partial index's condition stands for `status`, so SQLite never visits
/// the table rows).
pub const DUE_SQL: &str = "SELECT id FROM payments INDEXED BY payments_due \
    WHERE status = 'pending' AND next_poll_at <= ?1 ORDER BY next_poll_at, id LIMIT ?2";

/// Final payments due for one more confirm, soonest first.
pub const RECHECK_DUE_SQL: &str = "SELECT id FROM payments INDEXED BY payments_recheck \
    WHERE recheck_at <= ?1 ORDER BY recheck_at, id LIMIT ?2";

/// The next poll time after now. Numbers before the parked marker only (`?2`): text sorts
/// after every number and is [`super::parked::MISTYPED_POLL_TIME_SQL`]'s to find; a
/// fraction is read as whole milliseconds.
pub const NEXT_DUE_SQL: &str = "SELECT CAST(next_poll_at AS INTEGER) FROM payments \
    INDEXED BY payments_due WHERE status = 'pending' AND next_poll_at > ?1 \
    AND next_poll_at < ?2 ORDER BY next_poll_at LIMIT 1";

/// Whether the shop inserted rows without a schedule.
pub const UNSCHEDULED_SQL: &str = "SELECT EXISTS (SELECT 1 FROM payments \
    INDEXED BY payments_unscheduled WHERE status = 'pending' AND next_poll_at IS NULL)";

impl Store {
    /// Adds a pending payment. Idempotent on the token; the same token with other data is
    /// a [`StoreError::Conflict`] and writes nothing.
    pub fn enqueue(
        &mut self,
        p: &NewPayment,
        now: Millis,
        first_poll_at: Millis,
    ) -> Result<Enqueued, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Compared in SQL: a row the shop wrote with a value of the wrong type (`'5 000'`)
        // differs, a conflict, rather than failing the read as "database unusable".
        let existing: Option<(bool, bool, bool)> = tx
            .query_row(
                "SELECT transaction_id IS ?2, expected_amount IS ?3, kind = ?4 \
                 FROM payments WHERE token = ?1",
                params![
                    p.token,
                    p.transaction_id,
                    p.expected_amount,
                    p.kind.as_str()
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((order, amount, kind)) = existing {
            return Enqueued::again(&p.token, order, amount, kind);
        }
        tx.execute(
            "INSERT INTO payments (token, transaction_id, expected_amount, next_poll_at, \
             created_at, updated_at, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                p.token,
                p.transaction_id,
                p.expected_amount,
                first_poll_at,
                now,
                p.kind.as_str()
            ],
        )?;
        tx.commit()?;
        Ok(Enqueued::Inserted)
    }

    /// Gives rows the shop inserted with plain SQL their first poll time:
    /// `created_at + first_delay` of their kind (`[poll]` for invoices, `[payouts]` for
    /// money out), like every other row, [`SCHEDULE_BATCH`] rows at a time.
    pub fn schedule_unscheduled(
        &mut self,
        first_delay_ms: Millis,
        payout_first_delay_ms: Millis,
    ) -> Result<usize, StoreError> {
        let exists: bool = self
            .conn
            .prepare_cached(UNSCHEDULED_SQL)?
            .query_row([], |r| r.get(0))?;
        if !exists {
            return Ok(0);
        }
        // [`SCHEDULE_BATCH`] rows per transaction: the shop's own writes wait for each.
        let mut scheduled = 0;
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE payments SET next_poll_at = created_at + \
                 CASE kind WHEN 'invoice' THEN ?1 ELSE ?2 END \
                 WHERE id IN (SELECT id FROM payments INDEXED BY payments_unscheduled \
                 WHERE status = 'pending' AND next_poll_at IS NULL LIMIT ?3)",
                [first_delay_ms, payout_first_delay_ms, SCHEDULE_BATCH],
            )?;
            tx.commit()?;
            scheduled += n;
            if (n as i64) < SCHEDULE_BATCH {
                return Ok(scheduled);
            }
        }
    }

    /// Up to `limit` pending payments due at `now`, soonest first, then final payments due
    /// for one more confirm (`recheck_at`), leaving out those in `skip` (in flight). Rows in
    /// flight are still due until their outcome is written, so they come first in the
    /// index: only their ids are read, never their rows.
    ///
    /// Parked rows the shop has corrected come back first, so they are due in this very
    /// scan; a due row that cannot be read is parked (see `store::parked`).
    pub fn due(
        &mut self,
        now: Millis,
        limit: usize,
        skip: &HashSet<i64>,
    ) -> Result<Vec<DuePayment>, StoreError> {
        self.unpark_corrected(now)?;
        self.reschedule_mistyped_poll_times(now, limit)?;
        // One read transaction, so the ids and the rows come from the same snapshot.
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = tx
            .prepare_cached(DUE_SQL)?
            .query_map(params![now, (limit + skip.len()) as i64], |r| r.get(0))?
            .filter(|id| id.as_ref().map_or(true, |id| !skip.contains(id)))
            .take(limit)
            .collect::<Result<_, _>>()?;
        // Final payments a callback contradicted, in the room left (an index of the few
        // rows with `recheck_at` set: nothing to read when there are none).
        let room = limit.saturating_sub(ids.len());
        let rechecks: Vec<i64> = match room {
            0 => Vec::new(),
            _ => tx
                .prepare_cached(RECHECK_DUE_SQL)?
                .query_map(params![now, (room + skip.len()) as i64], |r| r.get(0))?
                .filter(|id| id.as_ref().map_or(true, |id| !skip.contains(id)))
                .take(room)
                .collect::<Result<_, _>>()?,
        };
        let mut due = Vec::with_capacity(ids.len() + rechecks.len());
        let mut unreadable = Vec::new();
        let mut row = tx.prepare_cached(DUE_ROW_SQL)?;
        for id in ids {
            match row.query_row([id], due_payment_or_problem).optional()? {
                Some(Ok(p)) => due.push(p),
                Some(Err(problem)) => unreadable.push((id, problem)),
                None => {}
            }
        }
        drop(row);
        // A final row the shop has since written badly is not parked (parking is for
        // pending rows): its re-check is dropped, with the reason logged.
        let mut row = tx.prepare_cached(RECHECK_ROW_SQL)?;
        let mut dropped = Vec::new();
        for id in rechecks {
            match row.query_row([id], due_payment_or_problem).optional()? {
                Some(Ok(p)) => due.push(p),
                Some(Err(problem)) => dropped.push((id, problem)),
                None => {}
            }
        }
        drop(row);
        for (id, problem) in dropped {
            tracing::warn!(id, %problem, "a contradicted payment cannot be confirmed again until its row is corrected");
            tx.execute("UPDATE payments SET recheck_at = NULL WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        if !unreadable.is_empty() {
            self.park(&unreadable, now)?;
        }
        Ok(due)
    }

    /// The earliest poll time strictly after `now`, to sleep until.
    pub fn next_due_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(NEXT_DUE_SQL)?
            .query_row([now, PARKED], |r| r.get(0))
            .optional()?)
    }

    /// Whether any payment is still pending (scheduled or not), leaving out parked rows
    /// and payouts already announced as overdue: `run --until-idle` must not wait for a row
    /// only a human can fix, nor for ever for a payout LigdiCash may keep pending for days
    /// (the daemon keeps polling it). A final payment due for one more confirm (a callback
    /// contradicted it) counts as pending until that confirm is done.
    pub fn any_pending(&self) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM payments WHERE status = 'pending' \
                 AND next_poll_at IS NOT ?1 AND overdue_at IS NULL) \
                 OR EXISTS (SELECT 1 FROM payments WHERE recheck_at IS NOT NULL)",
            )?
            .query_row([PARKED], |r| r.get(0))?)
    }

    /// Payments per status, every status present (zero when none).
    pub fn status_counts(&self) -> Result<Vec<(Status, i64)>, StoreError> {
        let mut counts: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status, count(*) FROM payments GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (status, n) = row?;
            if let Some(slot) = counts.iter_mut().find(|(s, _)| s.as_str() == status) {
                slot.1 = n;
            }
        }
        Ok(counts)
    }

    /// A payment a confirm may still change, by token: a pending one, or a `timeout`
    /// (confirmed again as the nightly re-check does). `None` for a final status, an
    /// unknown token, or a row with a value of the wrong type (it cannot be verified
    /// against LigdiCash's answer until corrected).
    pub fn confirmable(&self, token: &str) -> Result<Option<DuePayment>, StoreError> {
        let found = self
            .conn
            .prepare_cached(CONFIRMABLE_SQL)?
            .query_row([token], due_payment_or_problem)
            .optional()?;
        Ok(found.and_then(Result::ok))
    }

    /// Puts a `timeout` or `invalid_token` payment back to `pending`, due now, with a fresh
    /// `give_up_after` window and backoff; or makes a parked row the shop has corrected due
    /// now (the scan would within a second: this is for people who want to see it happen).
    pub fn requeue(&mut self, token: &str, now: Millis) -> Result<Requeued, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(i64, String, bool)> = tx
            .query_row(
                "SELECT id, status, next_poll_at IS ?2 FROM payments WHERE token = ?1",
                params![token, PARKED],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (id, status, parked) = found.ok_or_else(|| StoreError::NotFound(token.to_owned()))?;
        if parked && status == Status::Pending.as_str() {
            super::parked::unpark(&tx, id, token, now)?;
            tx.commit()?;
            return Ok(Requeued::Unparked);
        }
        let previous = Status::parse(&status)
            .filter(|s| s.is_requeueable())
            .ok_or_else(|| StoreError::NotRequeueable {
                token: token.to_owned(),
                status: status.clone(),
            })?;
        // The reason remembers the earlier verdict: a requeued timeout that completes is a
        // late completion (see `OutcomeWrites::record_event`).
        tx.execute(
            "UPDATE payments SET status = 'pending', status_reason = ?3, resolved_at = NULL, \
             attempts = 0, not_found_streak = 0, next_poll_at = ?2, requeued_at = ?2, \
             updated_at = ?2, overdue_at = NULL WHERE token = ?1",
            params![token, now, format!("{REQUEUED_FROM}{previous}")],
        )?;
        tx.commit()?;
        Ok(Requeued::Reopened(previous))
    }
}
