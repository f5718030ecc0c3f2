//! The evidence of one payment on PostgreSQL, as `sqlite::evidence`: everything the store
//! keeps about it, read in one repeatable-read snapshot, each list oldest first.

use super::PgStore;
use super::cached::Cached;
use super::read::{PgCells, payment_row};
use crate::store::StoreError;
use crate::store::model::evidence::{DeliveryState, EventEvidence};
use crate::store::model::*;
use crate::store::read::cases::{
    ATTEMPT_COLUMNS, CALLBACK_COLUMNS, CASE_COLUMNS, CASE_FROM, TRY_COLUMNS, attempt_row,
    callback_row, case_row, delivery_try,
};
use crate::store::read::{Cells, EVENT_COLUMNS, ROW_COLUMNS, event_row};
use tokio_postgres::IsolationLevel;

impl PgStore {
    /// Everything kept about the payment `token`, or `None` when there is no such payment.
    pub async fn evidence(&self, token: &str) -> Result<Option<EvidenceFacts>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let sql = format!("SELECT {ROW_COLUMNS} FROM payments WHERE token = $1");
        let Some(row) = tx.query_opt_cached(&sql, &[&token]).await? else {
            return Ok(None);
        };
        let payment = payment_row(&row)?;
        let id = payment.id;
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM confirm_attempts WHERE payment_id = $1 ORDER BY at, id"
        );
        let attempts = tx
            .query_cached(&sql, &[&id])
            .await?
            .iter()
            .map(|r| attempt_row(&mut PgCells(r)))
            .collect::<Result<_, _>>()?;
        let sql = format!(
            "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE payment_id = $1 \
             ORDER BY received_at, id"
        );
        let callbacks = tx
            .query_cached(&sql, &[&id])
            .await?
            .iter()
            .map(|r| callback_row(&mut PgCells(r)))
            .collect::<Result<_, _>>()?;
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE payment_token = $1 ORDER BY seq");
        let mut events = Vec::new();
        for r in tx.query_cached(&sql, &[&token]).await? {
            events.push(EventEvidence {
                event: event_row(&mut PgCells(&r))?,
                deliveries: Vec::new(),
                tries: Vec::new(),
            });
        }
        for e in &mut events {
            let seq = e.event.seq;
            let rows = tx
                .query_cached(
                    "SELECT sink, state, attempts, last_error, delivered_at FROM event_deliveries \
                     WHERE event_seq = $1 ORDER BY sink",
                    &[&seq],
                )
                .await?;
            for r in rows {
                let c = &mut PgCells(&r);
                e.deliveries.push(DeliveryState {
                    sink: c.text0(0)?,
                    state: c.text0(1)?,
                    attempts: c.int0(2)?,
                    last_error: c.text(3)?,
                    delivered_at: c.int(4)?,
                });
            }
            let sql = format!(
                "SELECT {TRY_COLUMNS} FROM delivery_attempts WHERE event_seq = $1 ORDER BY at, sink"
            );
            for r in tx.query_cached(&sql, &[&seq]).await? {
                e.tries.push(delivery_try(&mut PgCells(&r))?.1);
            }
        }
        let sql =
            format!("SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.payment_id = $1 ORDER BY c.id");
        let cases = tx
            .query_cached(&sql, &[&id])
            .await?
            .iter()
            .map(|r| case_row(&mut PgCells(r)))
            .collect::<Result<_, _>>()?;
        tx.commit().await?;
        Ok(Some(EvidenceFacts {
            payment,
            attempts,
            callbacks,
            events,
            cases,
        }))
    }
}
