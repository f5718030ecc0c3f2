//! LigdiCash callbacks on SQLite: matched to a payment, then carried out as the pure policy
//! ([`crate::payment::callback`]) plans it: a pending payment made due at once, a final one
//! a callback contradicts confirmed once more, the raw body kept within bounds. Never
//! trusted: the payment's status comes from a confirm, as always.
//!
//! A callback is read first, in a read transaction, and written only when the plan says so,
//! each change a compare-and-set: a flood of forged callbacks costs reads, not commits.

use super::{Store, StoreError};
use crate::payment::callback::{self, Named, Said};
use crate::store::model::*;
use crate::time::Millis;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// The payment's state the policy reads. `next_poll_at` of another type than a number is a
/// row the poller parks: never made due by a callback.
const NAMED_SQL: &str = "SELECT status, CASE typeof(next_poll_at) WHEN 'integer' \
    THEN next_poll_at END, next_poll_at IS NOT NULL AND (typeof(next_poll_at) != 'integer' \
    OR next_poll_at >= ?2), recheck_at, \
    CASE typeof(last_confirm_at) WHEN 'integer' THEN last_confirm_at END, \
    (SELECT count(*) FROM callbacks WHERE payment_id = ?1), \
    (SELECT max(received_at) FROM callbacks WHERE payment_id = ?1) \
    FROM payments WHERE id = ?1";

impl Store {
    /// Records a callback as [`callback::plan`] says (`min_interval`: LigdiCash's floor
    /// between two confirms of one token): see the module docs.
    pub fn record_callback(
        &mut self,
        content_type: &str,
        body: &str,
        source: Option<&str>,
        keys: &CallbackKeys,
        now: Millis,
        min_interval: Millis,
    ) -> Result<Received, StoreError> {
        let said = Said::parse(keys.status.as_deref());
        let raw = RawCallback {
            content_type,
            body,
            source,
        };
        let tx = self.conn.transaction()?;
        let found = find_payment(&tx, keys)?;
        let named = match found {
            Some((id, _)) => tx
                .prepare_cached(NAMED_SQL)?
                .query_row(params![id, super::parked::PARKED], |r| {
                    Ok(Named {
                        status: r.get(0)?,
                        next_poll_at: r.get(1)?,
                        parked: r.get(2)?,
                        recheck_at: r.get(3)?,
                        last_confirm_at: r.get(4)?,
                        kept: r.get(5)?,
                        last_kept_at: r.get(6)?,
                    })
                })
                .optional()?,
            None => None,
        };
        let kept_unmatched: i64 = match found {
            Some(_) => 0,
            None => tx
                .prepare_cached(
                    "SELECT count(*) FROM callbacks WHERE received_at >= ?1 \
                     AND payment_id IS NULL",
                )?
                .query_row([callback::bucket_of(now) * callback::BUCKET_MS], |r| {
                    r.get(0)
                })?,
        };
        tx.commit()?;
        let (Some((id, by)), Some(named)) = (found, named) else {
            let keep = kept_unmatched < callback::UNMATCHED_SAMPLE;
            if keep {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                insert(&tx, raw, None, None, keys, now)?;
                tx.execute(TALLY_UNMATCHED_SQL, [callback::bucket_of(now)])?;
                tx.commit()?;
            }
            return Ok(Received {
                kept: keep,
                ..Received::default()
            });
        };
        let plan = callback::plan(&named, said, now, min_interval);
        if plan.writes() {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            if plan.make_due {
                tx.prepare_cached(MAKE_DUE_SQL)?.execute(params![
                    id,
                    plan.due_at,
                    super::parked::PARKED
                ])?;
            }
            if plan.recheck {
                tx.prepare_cached(RECHECK_SQL)?.execute(params![
                    id,
                    plan.due_at,
                    named.status.as_str()
                ])?;
            }
            if plan.keep {
                insert(&tx, raw, Some(id), Some(by), keys, now)?;
                trim(&tx, id)?;
            }
            tx.commit()?;
        }
        Ok(Received {
            payment_id: Some(id),
            matched_by: Some(by),
            status: Some(named.status),
            plan,
            kept: plan.keep,
        })
    }

    /// Adds callbacks counted but not kept to the quarter hour `bucket`'s tally.
    pub fn add_callback_tally(
        &mut self,
        bucket: i64,
        unmatched: i64,
        not_kept: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(TALLY_ADD_SQL)?
            .execute(params![bucket, unmatched, not_kept])?;
        Ok(())
    }

    /// Callbacks that matched no payment, received in `[start, end)`, kept or not.
    pub fn unmatched_callbacks(&self, start: Millis, end: Millis) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(unmatched), 0) FROM callback_tally \
             WHERE bucket >= ?1 AND bucket < ?2",
            params![callback::bucket_of(start), callback::bucket_of(end)],
            |r| r.get(0),
        )?)
    }
}

/// Makes a pending payment due at `?2` unless it is due by then already, or parked.
pub(super) const MAKE_DUE_SQL: &str = "UPDATE payments SET next_poll_at = ?2 \
    WHERE id = ?1 AND status = 'pending' \
    AND (next_poll_at IS NULL OR (next_poll_at > ?2 AND next_poll_at < ?3))";

/// Asks for one more confirm of a final payment at `?2`, unless one is asked for by then.
pub(super) const RECHECK_SQL: &str = "UPDATE payments SET recheck_at = ?2 \
    WHERE id = ?1 AND status = ?3 AND (recheck_at IS NULL OR recheck_at > ?2)";

const TALLY_UNMATCHED_SQL: &str = "INSERT INTO callback_tally (bucket, unmatched) \
    VALUES (?1, 1) ON CONFLICT (bucket) DO UPDATE SET unmatched = unmatched + 1";

const TALLY_ADD_SQL: &str = "INSERT INTO callback_tally (bucket, unmatched, not_kept) \
    VALUES (?1, ?2, ?3) ON CONFLICT (bucket) DO UPDATE \
    SET unmatched = unmatched + excluded.unmatched, not_kept = not_kept + excluded.not_kept";

fn insert(
    tx: &rusqlite::Transaction<'_>,
    raw: RawCallback<'_>,
    payment_id: Option<i64>,
    matched_by: Option<&str>,
    keys: &CallbackKeys,
    now: Millis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO callbacks (received_at, content_type, body, payment_id, matched_by, \
         said_status, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now,
        raw.content_type,
        raw.body,
        payment_id,
        matched_by,
        keys.status,
        raw.source
    ])?;
    Ok(())
}

/// Deletes the oldest of the newest kept callbacks of a payment past the bound (the first
/// ones stay: see [`callback::excess_after_keeping`]).
fn trim(tx: &rusqlite::Transaction<'_>, payment_id: i64) -> Result<(), StoreError> {
    let kept: i64 = tx
        .prepare_cached("SELECT count(*) FROM callbacks WHERE payment_id = ?1")?
        .query_row([payment_id], |r| r.get(0))?;
    let excess = callback::excess_after_keeping(kept - 1);
    if excess > 0 {
        tx.prepare_cached(
            "DELETE FROM callbacks WHERE id IN (SELECT id FROM callbacks WHERE payment_id = ?1 \
             ORDER BY received_at, id LIMIT ?2 OFFSET ?3)",
        )?
        .execute(params![payment_id, excess, callback::FIRST_KEPT])?;
    }
    Ok(())
}

/// The payment a callback names, and by what, trying [`CallbackKeys::probes`] in order.
fn find_payment(
    tx: &rusqlite::Transaction<'_>,
    keys: &CallbackKeys,
) -> Result<Option<(i64, &'static str)>, StoreError> {
    for (probe, value, by) in keys.probes() {
        let sql = match probe {
            Probe::Order => {
                "SELECT id FROM payments WHERE transaction_id = ?1 \
                 ORDER BY kind = 'invoice' DESC, status = 'pending' DESC, id DESC LIMIT 1"
            }
            Probe::RequestId => "SELECT id FROM payments WHERE request_id = ?1 LIMIT 1",
            Probe::Token => "SELECT id FROM payments WHERE token = ?1 LIMIT 1",
        };
        let id: Option<i64> = tx
            .prepare_cached(sql)?
            .query_row([value], |r| r.get(0))
            .optional()?;
        if let Some(id) = id {
            return Ok(Some((id, by)));
        }
    }
    Ok(None)
}
