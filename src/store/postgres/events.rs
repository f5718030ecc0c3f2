//! The outbox's write side for PostgreSQL: an event and one delivery per sink, inserted in
//! the caller's transaction so the event exists exactly when the change it announces does.
//! What the event is (id, payload, state) is the model's [`NewEvent`], as on SQLite.

use crate::store::{NewEvent, PaymentFacts, StoreError};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

/// Reads a row selected (or returned) as `read::FACT_COLUMNS`.
pub(super) fn facts(r: &Row) -> Result<PaymentFacts, StoreError> {
    crate::store::read::payment_facts(&mut super::read::PgCells(r))
}

/// The event and its deliveries in one statement (one round trip, however many sinks).
const INSERT: &str = "WITH event AS (INSERT INTO events (id, type, payment_token, payload, \
    created_at, state, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $5) RETURNING seq) \
    INSERT INTO event_deliveries (event_seq, sink, next_attempt_at) \
    SELECT event.seq, sink, $5 FROM event, unnest($7::text[]) AS sink";

/// Inserts `e` and one delivery per sink in the caller's transaction.
pub(super) async fn insert_event(tx: &Transaction<'_>, e: &NewEvent<'_>) -> Result<(), StoreError> {
    let statement = tx.prepare_cached(INSERT).await?;
    tx.execute(
        &statement,
        &[
            &e.id,
            &e.kind,
            &e.payment_token,
            &e.payload,
            &e.created_at,
            &e.state,
            &e.sinks,
        ],
    )
    .await?;
    Ok(())
}
