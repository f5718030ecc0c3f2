//! What the delivery worker sleeps on and `run --until-idle` waits for, and what `events
//! list`, `events show` and `events redeliver` read and reopen, for PostgreSQL (SQLite's
//! are in `store::deliveries`).

use super::PgStore;
use super::cached::Cached;
use super::outbox::summarise;
use crate::store::EventRow;
use crate::store::SinkDelivery;
use crate::store::StoreError;
use crate::store::read::{self, EVENT_COLUMNS};
use crate::time::Millis;
use std::sync::LazyLock;
use tokio_postgres::Row;

fn event_row(r: &Row) -> Result<EventRow, StoreError> {
    read::event_row(&mut super::read::PgCells(r))
}

static EVENTS_IN_STATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE ($1::text IS NULL OR state = $1) \
         ORDER BY seq DESC LIMIT $2"
    )
});

static EVENT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"));

impl PgStore {
    /// The earliest retry time strictly after `now`, to sleep until.
    pub async fn next_delivery_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached(
                "SELECT min(next_attempt_at) FROM event_deliveries \
                 WHERE state = 'pending' AND next_attempt_at > $1",
                &[&now],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Whether a delivery to `sinks` is due at `now`, claimed or not, and not waiting
    /// behind an earlier event of its payment (`run --once` waits on it). Claims nothing.
    pub async fn any_delivery_due(
        &self,
        now: Millis,
        sinks: &[String],
    ) -> Result<bool, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached(
                "SELECT EXISTS (SELECT 1 FROM event_deliveries c JOIN events ce ON ce.seq = c.event_seq                  WHERE c.state = 'pending' AND c.next_attempt_at <= $1 AND c.sink = ANY($2)                  AND NOT EXISTS (SELECT 1 FROM event_deliveries p JOIN events pe ON pe.seq = p.event_seq                    WHERE p.sink = c.sink AND p.state = 'pending' AND pe.seq < ce.seq                    AND pe.payment_token = ce.payment_token))",
                &[&now, &sinks],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Pending deliveries to these sinks never attempted yet (`run --until-idle` waits
    /// for 0).
    pub async fn unattempted_deliveries(&self, sinks: &[String]) -> Result<i64, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached(
                "SELECT count(*) FROM event_deliveries WHERE state = 'pending' \
                 AND attempts = 0 AND sink = ANY($1)",
                &[&sinks],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Events, newest first, optionally in one state.
    pub async fn list_events(
        &self,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()
            .await?
            .query_cached(&EVENTS_IN_STATE, &[&state, &limit])
            .await?;
        rows.iter().map(event_row).collect()
    }

    /// One event by id, with its deliveries as `(sink, state, attempts, last_error)`.
    pub async fn get_event(
        &self,
        id: &str,
    ) -> Result<Option<(EventRow, Vec<SinkDelivery>)>, StoreError> {
        let conn = self.conn().await?;
        let Some(row) = conn.query_opt_cached(&EVENT_BY_ID, &[&id]).await? else {
            return Ok(None);
        };
        let event = event_row(&row)?;
        let rows = conn
            .query_cached(
                "SELECT sink, state, attempts, last_error FROM event_deliveries \
                 WHERE event_seq = $1 ORDER BY sink",
                &[&event.seq],
            )
            .await?;
        let deliveries = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(Some((event, deliveries)))
    }

    /// Puts an event's deliveries (or, without an id, every dead delivery) back to
    /// pending, due now and claimed by no one. Returns how many were reopened. The events'
    /// rows are locked first, in `seq` order, as `record_delivery` locks its event before
    /// its delivery: the same order, so the two never deadlock.
    pub async fn redeliver(&self, id: Option<&str>, now: Millis) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let seqs: Vec<i64> = match id {
            Some(id) => {
                let row = tx
                    .query_opt_cached("SELECT seq FROM events WHERE id = $1 FOR UPDATE", &[&id])
                    .await?
                    .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
                vec![row.try_get(0)?]
            }
            None => tx
                .query_cached(
                    "SELECT seq FROM events WHERE state = 'dead' ORDER BY seq FOR UPDATE",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?,
        };
        let only_dead = id.is_none();
        let mut reopened = 0;
        for seq in seqs {
            reopened += tx
                .execute_cached(
                    "UPDATE event_deliveries SET state = 'pending', attempts = 0, \
                     next_attempt_at = $2, last_error = NULL, claimed_by = NULL, \
                     claim_expires_at = NULL WHERE event_seq = $1 \
                     AND (NOT $3 OR state = 'dead')",
                    &[&seq, &now, &only_dead],
                )
                .await?;
            summarise(&tx, seq, now).await?;
        }
        tx.commit().await?;
        Ok(reopened as usize)
    }
}
