//! The outbox's write side for PostgreSQL: an event and one delivery per sink, inserted in
//! the caller's transaction so the event exists exactly when the change it announces does.
//! The payload and the event id are SQLite's (`store::events`): one form for every sink.

use crate::store::StoreError;
use crate::store::{PaymentFacts, new_event_id};
use crate::time::Millis;
use tokio_postgres::{Row, Transaction};

/// Reads a row selected (or returned) as `read::FACT_COLUMNS`.
pub(super) fn facts(r: &Row) -> Result<PaymentFacts, StoreError> {
    crate::store::read::payment_facts(&mut super::read::PgCells(r))
}

/// Inserts one event addressed to every sink; `payload` gets the new event's id. With no
/// sink the event is born delivered, as on SQLite.
pub(super) async fn insert_event(
    tx: &Transaction<'_>,
    kind: &str,
    payment_token: Option<&str>,
    payload: impl FnOnce(&str) -> String,
    sinks: &[String],
    now: Millis,
) -> Result<String, StoreError> {
    let id = new_event_id(now);
    let body = payload(&id);
    let state = if sinks.is_empty() {
        "delivered"
    } else {
        "pending"
    };
    let seq: i64 = tx
        .query_one(
            "INSERT INTO events (id, type, payment_token, payload, created_at, state, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $5) RETURNING seq",
            &[&id, &kind, &payment_token, &body, &now, &state],
        )
        .await?
        .try_get(0)?;
    if !sinks.is_empty() {
        tx.execute(
            "INSERT INTO event_deliveries (event_seq, sink, next_attempt_at) \
             SELECT $1, sink, $3 FROM unnest($2::text[]) AS sink",
            &[&seq, &sinks, &now],
        )
        .await?;
    }
    Ok(id)
}
