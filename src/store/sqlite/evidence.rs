//! The evidence of one payment on SQLite: everything the store keeps about it, read in one
//! read transaction (one snapshot), each list oldest first, each through its own index.

use super::mistyped::LenientRow;
use super::{Store, StoreError};
use crate::store::model::evidence::{DeliveryState, EventEvidence};
use crate::store::model::*;
use crate::store::read::cases::{
    ATTEMPT_COLUMNS, CALLBACK_COLUMNS, CASE_COLUMNS, CASE_FROM, TRY_COLUMNS, attempt_row,
    callback_row, case_row, delivery_try,
};
use crate::store::read::{self, Cells, EVENT_COLUMNS, ROW_COLUMNS};
use rusqlite::{OptionalExtension, Transaction};

/// Reads every row of `sql` with `id` bound, through the lenient reader `read`.
fn all<T>(
    tx: &Transaction<'_>,
    sql: &str,
    id: impl rusqlite::ToSql,
    read: impl Fn(&mut LenientRow<'_, '_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| read(&mut LenientRow::new(r)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Everything kept about the payment `token`, or `None` when there is no such payment.
    pub fn evidence(&self, token: &str) -> Result<Option<EvidenceFacts>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let payment = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM payments WHERE token = ?1"
            ))?
            .query_row([token], |r| read::payment_row(&mut LenientRow::new(r)))
            .optional()?;
        let Some(payment) = payment else {
            return Ok(None);
        };
        let id = payment.id;
        let attempts = all(
            &tx,
            &format!(
                "SELECT {ATTEMPT_COLUMNS} FROM confirm_attempts WHERE payment_id = ?1 \
                 ORDER BY at, id"
            ),
            id,
            |c| attempt_row(c),
        )?;
        let callbacks = all(
            &tx,
            &format!(
                "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE payment_id = ?1 \
                 ORDER BY received_at, id"
            ),
            id,
            |c| callback_row(c),
        )?;
        let mut events: Vec<EventEvidence> = all(
            &tx,
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE payment_token = ?1 ORDER BY seq"),
            token,
            |c| read::event_row(c),
        )?
        .into_iter()
        .map(|event| EventEvidence {
            event,
            deliveries: Vec::new(),
            tries: Vec::new(),
        })
        .collect();
        for e in &mut events {
            let seq = e.event.seq;
            e.deliveries = all(
                &tx,
                "SELECT sink, state, attempts, last_error, delivered_at FROM event_deliveries \
                 WHERE event_seq = ?1 ORDER BY sink",
                seq,
                |c| {
                    Ok(DeliveryState {
                        sink: c.text0(0)?,
                        state: c.text0(1)?,
                        attempts: c.int0(2)?,
                        last_error: c.text(3)?,
                        delivered_at: c.int(4)?,
                    })
                },
            )?;
            let sql = format!(
                "SELECT {TRY_COLUMNS} FROM delivery_attempts WHERE event_seq = ?1 ORDER BY at, sink"
            );
            e.tries = all(&tx, &sql, seq, |c| delivery_try(c))?
                .into_iter()
                .map(|(_, t)| t)
                .collect();
        }
        let cases = all(
            &tx,
            &format!(
                "SELECT {CASE_COLUMNS} FROM {CASE_FROM} WHERE c.payment_id = ?1 ORDER BY c.id"
            ),
            id,
            |c| case_row(c),
        )?;
        tx.commit()?;
        Ok(Some(EvidenceFacts {
            payment,
            attempts,
            callbacks,
            events,
            cases,
        }))
    }
}
