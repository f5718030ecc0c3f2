//! The outbox's delivery side: the delivery worker claims due deliveries and records each
//! attempt; an event's own state summarises its deliveries. Also what `events list`,
//! `events show` and `events redeliver` read and reopen. Events are inserted by
//! [`super::events`].

use super::mistyped::LenientRow;
use super::{Store, StoreError};
use crate::store::model::*;
use crate::store::read::{self, EVENT_COLUMNS};
use crate::time::Millis;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    read::event_row(&mut LenientRow::new(r))
}

impl Store {
    /// Moves the deliveries of sink `old` to the name `new`: webhooks used to be named by
    /// their whole URL, an access key included; their pending deliveries follow the new name.
    pub fn rename_sink(&mut self, old: &str, new: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE OR IGNORE event_deliveries SET sink = ?2 WHERE sink = ?1",
            params![old, new],
        )?)
    }

    /// Whether a delivery to `sinks` is due at `now`: one row of [`Store::due_deliveries`]
    /// (SQLite claims nothing, so the scan is the answer).
    pub fn any_delivery_due(&self, now: Millis, sinks: &[String]) -> Result<bool, StoreError> {
        Ok(!self.due_deliveries(now, sinks, 1)?.is_empty())
    }

    /// Deliveries due at `now` to the given sinks, oldest first (then by event, then by
    /// sink: a total order, PostgreSQL's too). A delivery waits while an
    /// earlier event of the same payment is still pending for the same sink, so each
    /// receiver sees a payment's events in order.
    pub fn due_deliveries(
        &self,
        now: Millis,
        sinks: &[String],
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.event_seq, e.id, d.sink, d.attempts, e.payload, e.created_at \
             FROM event_deliveries d JOIN events e ON e.seq = d.event_seq \
             WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
             AND d.sink IN (SELECT value FROM json_each(?3)) \
             AND NOT EXISTS (SELECT 1 FROM event_deliveries d2 JOIN events e2 ON e2.seq = d2.event_seq \
                 WHERE d2.sink = d.sink AND d2.state = 'pending' AND e2.seq < e.seq \
                 AND e2.payment_token = e.payment_token) \
             ORDER BY d.next_attempt_at, d.event_seq, d.sink LIMIT ?2",
        )?;
        // Filtered in SQL, before the LIMIT: deliveries left to a sink no longer configured
        // (a changed URL, a removed sink) must not fill every batch and starve the others.
        let sinks = serde_json::json!(sinks).to_string();
        let rows = stmt.query_map(params![now, limit as i64, sinks], |r| {
            Ok(DueDelivery {
                event_seq: r.get(0)?,
                event_id: r.get(1)?,
                sink: r.get(2)?,
                attempts: r.get(3)?,
                payload: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest future delivery time for the given sinks, to sleep until.
    pub fn next_delivery_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT min(next_attempt_at) FROM event_deliveries \
                 WHERE state = 'pending' AND next_attempt_at > ?1",
            )?
            .query_row([now], |r| r.get(0))?)
    }

    /// Pending deliveries to these sinks never attempted yet (`run --until-idle` waits for 0).
    pub fn unattempted_deliveries(&self, sinks: &[String]) -> Result<i64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT count(*) FROM event_deliveries WHERE state = 'pending' AND attempts = 0 \
             AND sink = ?1",
        )?;
        let mut total = 0;
        for sink in sinks {
            total += stmt.query_row([sink], |r| r.get::<_, i64>(0))?;
        }
        Ok(total)
    }

    /// Records one attempt (kept in `delivery_attempts`, as evidence) and refreshes the
    /// event's summary state.
    pub fn record_delivery(
        &mut self,
        event_seq: i64,
        sink: &str,
        result: &DeliveryResult,
        now: Millis,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (state, next, error): (&str, Option<Millis>, Option<&str>) = match result {
            DeliveryResult::Delivered => ("delivered", None, None),
            DeliveryResult::Retry { at, error } => ("pending", Some(*at), Some(error)),
            DeliveryResult::Dead { error } => ("dead", None, Some(error)),
        };
        tx.prepare_cached(
            "UPDATE event_deliveries SET state = ?3, attempts = attempts + 1, \
             next_attempt_at = coalesce(?4, next_attempt_at), last_error = ?5, \
             delivered_at = CASE WHEN ?3 = 'delivered' THEN ?6 ELSE delivered_at END \
             WHERE event_seq = ?1 AND sink = ?2 AND state = 'pending'",
        )?
        .execute(params![event_seq, sink, state, next, error, now])?;
        tx.prepare_cached(
            "INSERT INTO delivery_attempts (event_seq, sink, at, result, error) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![event_seq, sink, now, result.result(), error])?;
        summarise(&tx, event_seq, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Events, newest first, optionally in one state.
    pub fn list_events(
        &self,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE (?1 IS NULL OR state = ?1) \
             ORDER BY seq DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![state, limit as i64], event_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One event by id, with its deliveries as `(sink, state, attempts, last_error)`.
    #[allow(clippy::type_complexity)]
    pub fn get_event(
        &self,
        id: &str,
    ) -> Result<Option<(EventRow, Vec<(String, String, i64, Option<String>)>)>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1");
        let Some(event) = self.conn.query_row(&sql, [id], event_row).optional()? else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare(
            "SELECT sink, state, attempts, last_error FROM event_deliveries \
             WHERE event_seq = ?1 ORDER BY sink",
        )?;
        let deliveries = stmt
            .query_map([event.seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some((event, deliveries)))
    }

    /// Puts an event's dead (or, when `all`, every) delivery back to pending, due now.
    /// Returns how many deliveries were reopened.
    pub fn redeliver(&mut self, id: Option<&str>, now: Millis) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seqs: Vec<i64> = match id {
            Some(id) => {
                let seq: Option<i64> = tx
                    .query_row("SELECT seq FROM events WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?;
                vec![seq.ok_or_else(|| StoreError::NotFound(id.to_owned()))?]
            }
            None => {
                let mut stmt = tx.prepare("SELECT seq FROM events WHERE state = 'dead'")?;
                stmt.query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            }
        };
        let mut reopened = 0;
        for seq in seqs {
            let only_dead = if id.is_some() {
                ""
            } else {
                "AND state = 'dead'"
            };
            reopened += tx.execute(
                &format!(
                    "UPDATE event_deliveries SET state = 'pending', attempts = 0, \
                     next_attempt_at = ?2, last_error = NULL WHERE event_seq = ?1 {only_dead}"
                ),
                params![seq, now],
            )?;
            summarise(&tx, seq, now)?;
        }
        tx.commit()?;
        Ok(reopened)
    }
}

/// Recomputes an event's state from its deliveries: dead if any is dead, pending if any is
/// pending, else delivered; its error is the first sink's (by name) that has one.
fn summarise(tx: &Transaction<'_>, seq: i64, now: Millis) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE events SET \
           state = CASE \
             WHEN EXISTS (SELECT 1 FROM event_deliveries WHERE event_seq = ?1 AND state = 'dead') THEN 'dead' \
             WHEN EXISTS (SELECT 1 FROM event_deliveries WHERE event_seq = ?1 AND state = 'pending') THEN 'pending' \
             ELSE 'delivered' END, \
           attempts = (SELECT coalesce(sum(attempts), 0) FROM event_deliveries WHERE event_seq = ?1), \
           next_attempt_at = (SELECT min(next_attempt_at) FROM event_deliveries WHERE event_seq = ?1 AND state = 'pending'), \
           last_error = (SELECT last_error FROM event_deliveries WHERE event_seq = ?1 AND last_error IS NOT NULL ORDER BY sink LIMIT 1), \
           delivered_at = CASE WHEN NOT EXISTS (SELECT 1 FROM event_deliveries WHERE event_seq = ?1 AND state != 'delivered') THEN coalesce(delivered_at, ?2) ELSE NULL END \
         WHERE seq = ?1",
    )?
    .execute(params![seq, now])?;
    Ok(())
}
