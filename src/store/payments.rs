//! Queries on `payments`: enqueue, the due scan, lookups, requeue. Outcomes of confirms are
//! written by `store::outcomes`.

use super::{Store, StoreError};
use crate::payment::{DuePayment, Kind, NewPayment, REQUEUED_FROM, Status};
use crate::time::Millis;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use std::collections::HashSet;

/// Whether `enqueue` created the row or found the same one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Inserted,
    AlreadyPresent,
}

// The hot queries name their partial index: without statistics SQLite's planner would pick
// `payments_status` and sort every pending row on each scan (a unit test checks the plans).

/// Ids of due payments, soonest first. Read from the index alone (the partial index's
/// condition stands for `status`, so SQLite never visits the table rows).
pub const DUE_SQL: &str = "SELECT id FROM payments INDEXED BY payments_due \
    WHERE status = 'pending' AND next_poll_at <= ?1 ORDER BY next_poll_at LIMIT ?2";

/// The columns [`due_payment`] reads, in its order.
macro_rules! due_columns {
    () => {
        "id, token, transaction_id, expected_amount, attempts, not_found_streak, \
         max(created_at, coalesce(requeued_at, created_at)), status_reason, status, \
         last_confirm_at, kind, overdue_at IS NOT NULL"
    };
}

/// What the poller needs of one due payment.
const DUE_ROW_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE id = ?1 AND status = 'pending'"
);

/// A payment a confirm may still change, by token (see [`Store::confirmable`]).
const CONFIRMABLE_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE token = ?1 AND status IN ('pending', 'timeout')"
);

/// The `timeout` payments resolved since a time, for the nightly re-check.
pub(super) const TIMEOUTS_SINCE_SQL: &str = concat!(
    "SELECT ",
    due_columns!(),
    " FROM payments WHERE status = 'timeout' AND resolved_at >= ?1 ORDER BY resolved_at"
);

/// The next poll time after now. Numbers only (`< ''`): text sorts after every number and
/// is [`MISTYPED_POLL_TIME_SQL`]'s to find; a fraction is read as whole milliseconds.
pub const NEXT_DUE_SQL: &str = "SELECT CAST(next_poll_at AS INTEGER) FROM payments \
    INDEXED BY payments_due WHERE status = 'pending' AND next_poll_at > ?1 \
    AND next_poll_at < '' ORDER BY next_poll_at LIMIT 1";

/// Pending rows whose `next_poll_at` is text or a BLOB, which the column's INTEGER type
/// lets through (`'soon'`). Such a row is never due (`'soon' <= now` is false: SQLite sorts
/// text after every number), so it would wait for ever, silently. Both sort after every
/// number and at or after `''`, so this reads only the end of the due index.
pub const MISTYPED_POLL_TIME_SQL: &str = "SELECT id, typeof(next_poll_at) FROM payments \
    INDEXED BY payments_due WHERE status = 'pending' AND next_poll_at >= '' LIMIT ?1";

/// Whether the shop inserted rows without a schedule.
pub const UNSCHEDULED_SQL: &str = "SELECT EXISTS (SELECT 1 FROM payments \
    INDEXED BY payments_unscheduled WHERE status = 'pending' AND next_poll_at IS NULL)";

/// How `last_error` of a row set aside as unreadable begins.
const UNREADABLE_PREFIX: &str = "row cannot be read";

/// How long a row that cannot be read is put off before it is read again.
pub const UNREADABLE_RETRY_MS: Millis = 3_600_000;

/// Whether a read failed on a value's type (a row the shop wrote badly), not on the database.
fn is_type_error(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    )
}

/// Reads a row selected as `id, token, transaction_id, expected_amount, attempts,
/// not_found_streak, <window start>, status_reason, status, last_confirm_at, kind,
/// <overdue>`.
pub(super) fn due_payment(r: &Row<'_>) -> rusqlite::Result<DuePayment> {
    Ok(DuePayment {
        id: r.get(0)?,
        kind: r.get(10)?,
        overdue: r.get(11)?,
        status: r.get(8)?,
        last_confirm_at: r.get(9)?,
        token: r.get(1)?,
        transaction_id: r.get(2)?,
        expected_amount: r.get(3)?,
        attempts: r.get(4)?,
        not_found_streak: r.get(5)?,
        window_start: r.get(6)?,
        claimed_reason: r.get(7)?,
    })
}

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
        let existing: Option<(Option<String>, Option<i64>, Kind)> = tx
            .query_row(
                "SELECT transaction_id, expected_amount, kind FROM payments WHERE token = ?1",
                [&p.token],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((transaction_id, expected_amount, kind)) = existing {
            let field = if transaction_id != p.transaction_id {
                Some("transaction_id")
            } else if expected_amount != p.expected_amount {
                Some("amount")
            } else if kind != p.kind {
                Some("kind")
            } else {
                None
            };
            return match field {
                Some(field) => Err(StoreError::Conflict {
                    token: p.token.clone(),
                    field,
                }),
                None => Ok(Enqueued::AlreadyPresent),
            };
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
    /// money out), like every other row.
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE payments INDEXED BY payments_unscheduled SET next_poll_at = created_at + \
             CASE kind WHEN 'invoice' THEN ?1 ELSE ?2 END \
             WHERE status = 'pending' AND next_poll_at IS NULL",
            [first_delay_ms, payout_first_delay_ms],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Up to `limit` pending payments due at `now`, soonest first, leaving out those in
    /// `skip` (in flight). Rows in flight are still due until their outcome is written, so
    /// they come first in the index: only their ids are read, never their rows.
    pub fn due(
        &mut self,
        now: Millis,
        limit: usize,
        skip: &HashSet<i64>,
    ) -> Result<Vec<DuePayment>, StoreError> {
        // One read transaction, so the ids and the rows come from the same snapshot.
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = tx
            .prepare_cached(DUE_SQL)?
            .query_map(params![now, (limit + skip.len()) as i64], |r| r.get(0))?
            .filter(|id| id.as_ref().map_or(true, |id| !skip.contains(id)))
            .take(limit)
            .collect::<Result<_, _>>()?;
        let mut row = tx.prepare_cached(DUE_ROW_SQL)?;
        let mut due = Vec::with_capacity(ids.len());
        let mut unreadable = Vec::new();
        for id in ids {
            match row.query_row([id], due_payment).optional() {
                Ok(Some(p)) => due.push(p),
                Ok(None) => {}
                Err(e) if is_type_error(&e) => unreadable.push((id, e.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
        drop(row);
        let mistyped = tx
            .prepare_cached(MISTYPED_POLL_TIME_SQL)?
            .query_map([limit as i64], |r| {
                let kind: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    format!("next_poll_at holds {kind}, not integer milliseconds"),
                ))
            })?
            .collect::<Result<Vec<(i64, String)>, _>>()?;
        unreadable.extend(mistyped);
        tx.commit()?;
        if !unreadable.is_empty() {
            self.set_aside(&unreadable, now)?;
        }
        Ok(due)
    }

    /// Puts off rows the shop wrote with values of the wrong type (`expected_amount =
    /// '5 000'`, a BLOB token, `next_poll_at = 'soon'`...), which SQLite's CHECKs and column
    /// types let through. One such row must not
    /// stop the polling of every other: it stays pending, says why in `last_error`, and is
    /// tried again after [`UNREADABLE_RETRY_MS`], by which time someone may have fixed it.
    fn set_aside(&mut self, rows: &[(i64, String)], now: Millis) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, error) in rows {
            tracing::error!(
                payment_id = id,
                error,
                "a payments row cannot be read (a value of the wrong type); it stays pending and is retried in an hour: correct the row (see schema.sql)"
            );
            tx.execute(
                "UPDATE payments SET next_poll_at = ?1, updated_at = ?2, last_error = ?3 \
                 WHERE id = ?4 AND status = 'pending'",
                params![
                    now + UNREADABLE_RETRY_MS,
                    now,
                    format!("{UNREADABLE_PREFIX}, correct it (see schema.sql): {error}"),
                    id
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The earliest poll time strictly after `now`, to sleep until.
    pub fn next_due_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(NEXT_DUE_SQL)?
            .query_row([now], |r| r.get(0))
            .optional()?)
    }

    /// Whether any payment is still pending (scheduled or not), leaving out rows set aside
    /// as unreadable and payouts already announced as overdue: `run --until-idle` must not
    /// wait an hour for a row only a human can fix, nor for ever for a payout LigdiCash
    /// may keep pending for days (the daemon keeps polling it).
    pub fn any_pending(&self) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM payments WHERE status = 'pending' \
                 AND (last_error IS NULL OR substr(last_error, 1, length(?1)) != ?1) \
                 AND overdue_at IS NULL)",
            )?
            .query_row([UNREADABLE_PREFIX], |r| r.get(0))?)
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
    /// (confirmed again as the nightly re-check does). `None` for a final status or an
    /// unknown token.
    pub fn confirmable(&self, token: &str) -> Result<Option<DuePayment>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(CONFIRMABLE_SQL)?
            .query_row([token], due_payment)
            .optional()?)
    }

    /// Puts a `timeout` or `invalid_token` payment back to `pending`, due now, with a fresh
    /// `give_up_after` window and backoff.
    pub fn requeue(&mut self, token: &str, now: Millis) -> Result<Status, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let status: Option<String> = tx
            .query_row(
                "SELECT status FROM payments WHERE token = ?1",
                [token],
                |r| r.get(0),
            )
            .optional()?;
        let status = status.ok_or_else(|| StoreError::NotFound(token.to_owned()))?;
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
        Ok(previous)
    }
}
