//! The outbox's delivery side for PostgreSQL, as `store::deliveries` is SQLite's: the
//! delivery worker's claims and the record of each attempt, operational events, renamed
//! sinks. What `events list/show/redeliver` read and reopen is in [`super::outbox_read`].
//!
//! Deliveries are claimed as payments are (`FOR UPDATE SKIP LOCKED` plus a lease in
//! `event_deliveries.claimed_by`/`claim_expires_at`), so two nodes never attempt one
//! delivery at once and a dead node's claims are retaken once their lease passes. Only the
//! oldest event of a payment still pending for a sink is claimable, whichever node holds
//! it: each receiver sees a payment's events in order, however many nodes deliver.

use super::PgStore;
use super::cached::Cached;
use super::events::insert_event;
use crate::store::StoreError;
use crate::store::{DeliveryResult, DueDelivery, NewEvent};
use crate::time::Millis;
use serde_json::Value;

/// Claims up to `$5` deliveries to the sinks `$4` due at `$2` for node `$1`, with a lease
/// of `$3` ms. A delivery waits while an earlier event of the same payment is still
/// pending for its sink (claimed or not); sinks no longer configured are left out before
/// the LIMIT, so their backlog cannot starve the others.
const CLAIM_SQL: &str = "UPDATE event_deliveries d SET claimed_by = $1, \
    claim_expires_at = $2 + $3 FROM events e WHERE e.seq = d.event_seq \
    AND (d.event_seq, d.sink) IN (SELECT c.event_seq, c.sink FROM event_deliveries c \
      JOIN events ce ON ce.seq = c.event_seq \
      WHERE c.state = 'pending' AND c.next_attempt_at <= $2 AND c.sink = ANY($4) \
      AND (c.claim_expires_at IS NULL OR c.claim_expires_at <= $2) \
      AND NOT EXISTS (SELECT 1 FROM event_deliveries p JOIN events pe ON pe.seq = p.event_seq \
        WHERE p.sink = c.sink AND p.state = 'pending' AND pe.seq < ce.seq \
        AND pe.payment_token = ce.payment_token) \
      ORDER BY c.next_attempt_at, c.event_seq, c.sink LIMIT $5 FOR UPDATE OF c SKIP LOCKED) \
    RETURNING d.event_seq, e.id, d.sink, d.attempts, e.payload, e.created_at, d.next_attempt_at";

impl PgStore {
    /// Inserts an operational event (not tied to a payment) in its own transaction.
    pub async fn insert_operational_event(
        &self,
        kind: &str,
        data: &Value,
        sinks: &[String],
        now: Millis,
    ) -> Result<String, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let id = insert_operational_event_in(&tx, kind, data, sinks, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Moves the deliveries of sink `old` to the name `new` (a webhook renamed). A
    /// delivery the new name already has is left as it is (SQLite's `UPDATE OR IGNORE`).
    pub async fn rename_sink(&self, old: &str, new: &str) -> Result<usize, StoreError> {
        let n = self
            .conn()
            .await?
            .execute_cached(
                "UPDATE event_deliveries d SET sink = $2 WHERE sink = $1 AND NOT EXISTS \
                 (SELECT 1 FROM event_deliveries x WHERE x.event_seq = d.event_seq \
                 AND x.sink = $2)",
                &[&old, &new],
            )
            .await?;
        Ok(n as usize)
    }

    /// Claims up to `limit` deliveries to `sinks` due at `now` for this node, oldest first;
    /// see the module docs for what is claimable.
    pub async fn due_deliveries(
        &self,
        now: Millis,
        sinks: &[String],
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let c = &self.claims;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()
            .await?
            .query_cached(CLAIM_SQL, &[&c.node, &now, &c.lease, &sinks, &limit])
            .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let next: Millis = r.try_get(6)?;
            let d = DueDelivery {
                event_seq: r.try_get(0)?,
                event_id: r.try_get(1)?,
                sink: r.try_get(2)?,
                attempts: r.try_get(3)?,
                payload: r.try_get(4)?,
                created_at: r.try_get(5)?,
            };
            due.push((next, d));
        }
        // RETURNING keeps no order.
        due.sort_by(|(a_next, a), (b_next, b)| {
            (a_next, a.event_seq, &a.sink).cmp(&(b_next, b.event_seq, &b.sink))
        });
        Ok(due.into_iter().map(|(_, d)| d).collect())
    }

    /// Records one attempt (kept in `delivery_attempts`, as evidence) and refreshes the
    /// event's summary state, under the event's row
    /// lock (see below). The claim is released
    /// if it is this node's; a delivery already settled (by a node that took it over after
    /// this one's lease passed) is left as it is.
    pub async fn record_delivery(
        &self,
        event_seq: i64,
        sink: &str,
        result: &DeliveryResult,
        now: Millis,
    ) -> Result<(), StoreError> {
        let (state, next, error): (&str, Option<Millis>, Option<&str>) = match result {
            DeliveryResult::Delivered => ("delivered", None, None),
            DeliveryResult::Retry { at, error } => ("pending", Some(*at), Some(error)),
            DeliveryResult::Dead { error } => ("dead", None, Some(error)),
        };
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // The event's row first: two sinks' attempts recorded at once would each read the
        // other's delivery as still pending (READ COMMITTED) and leave the event pending
        // for good. Locked, the second waits and summarises after the first committed.
        tx.execute_cached(
            "SELECT 1 FROM events WHERE seq = $1 FOR UPDATE",
            &[&event_seq],
        )
        .await?;
        tx.execute_cached(
            "UPDATE event_deliveries SET state = $3::text, attempts = attempts + 1, \
             next_attempt_at = coalesce($4::bigint, next_attempt_at), last_error = $5::text, \
             delivered_at = CASE WHEN $3::text = 'delivered' THEN $6::bigint ELSE delivered_at END, \
             claim_expires_at = CASE WHEN claimed_by = $7 THEN NULL ELSE claim_expires_at END, \
             claimed_by = CASE WHEN claimed_by = $7 THEN NULL ELSE claimed_by END \
             WHERE event_seq = $1 AND sink = $2 AND state = 'pending'",
            &[
                &event_seq,
                &sink,
                &state,
                &next,
                &error,
                &now,
                &self.claims.node,
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO delivery_attempts (event_seq, sink, at, result, error) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&event_seq, &sink, &now, &result.result(), &error],
        )
        .await?;
        summarise(&tx, event_seq, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts an operational event inside the caller's transaction.
pub(super) async fn insert_operational_event_in(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: &str,
    data: &Value,
    sinks: &[String],
    now: Millis,
) -> Result<String, StoreError> {
    let event = NewEvent::operational(kind, data, now, sinks);
    insert_event(tx, &event).await?;
    Ok(event.id)
}

/// Recomputes an event's state from its deliveries: dead if any is dead, pending if any is
/// pending, else delivered (SQLite's `deliveries::summarise`).
pub(super) async fn summarise(
    tx: &deadpool_postgres::Transaction<'_>,
    seq: i64,
    now: Millis,
) -> Result<(), StoreError> {
    tx.execute_cached(
        "UPDATE events SET \
           state = CASE \
             WHEN EXISTS (SELECT 1 FROM event_deliveries WHERE event_seq = $1 AND state = 'dead') THEN 'dead' \
             WHEN EXISTS (SELECT 1 FROM event_deliveries WHERE event_seq = $1 AND state = 'pending') THEN 'pending' \
             ELSE 'delivered' END, \
           attempts = (SELECT coalesce(sum(attempts), 0)::bigint FROM event_deliveries WHERE event_seq = $1), \
           next_attempt_at = (SELECT min(next_attempt_at) FROM event_deliveries WHERE event_seq = $1 AND state = 'pending'), \
           last_error = (SELECT last_error FROM event_deliveries WHERE event_seq = $1 AND last_error IS NOT NULL ORDER BY sink LIMIT 1), \
           delivered_at = CASE WHEN NOT EXISTS (SELECT 1 FROM event_deliveries WHERE event_seq = $1 AND state <> 'delivered') \
             THEN coalesce(delivered_at, $2::bigint) ELSE NULL END \
         WHERE seq = $1",
        &[&seq, &now],
    )
    .await?;
    Ok(())
}
