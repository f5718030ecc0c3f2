//! The outbox's write side: `events` rows and their `event_deliveries`, inserted by the
//! same transaction that makes the change they announce (see `payments::apply_outcomes`
//! and `reports`), with one delivery row per configured sink, and the documented payload
//! of a payment event. What happens to deliveries afterwards is in [`super::deliveries`].

use super::{Store, StoreError};
use crate::store::model::*;
use crate::time::Millis;
use rusqlite::{Transaction, TransactionBehavior, params};
use serde_json::Value;

/// A row selected as `read::FACT_COLUMNS`.
pub(super) fn payment_facts(r: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentFacts> {
    crate::store::read::payment_facts(&mut super::mistyped::LenientRow::new(r))
}

/// Inserts events and their deliveries inside the caller's transaction, with its
/// statements prepared once for a whole batch.
pub struct EventInsert<'c> {
    event: rusqlite::CachedStatement<'c>,
    delivery: rusqlite::CachedStatement<'c>,
}

impl<'c> EventInsert<'c> {
    pub fn new(tx: &'c rusqlite::Connection) -> Result<Self, StoreError> {
        Ok(Self {
            event: tx.prepare_cached(
                "INSERT INTO events (id, type, payment_token, payload, created_at, state, \
                 next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5)",
            )?,
            delivery: tx.prepare_cached(
                "INSERT INTO event_deliveries (event_seq, sink, next_attempt_at) \
                 VALUES (?1, ?2, ?3)",
            )?,
        })
    }

    /// Inserts one event addressed to every sink; `payload` gets the new event's id.
    pub fn insert(
        &mut self,
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
        let seq = self
            .event
            .insert(params![id, kind, payment_token, body, now, state])?;
        for sink in sinks {
            self.delivery.execute(params![seq, sink, now])?;
        }
        Ok(id)
    }
}

/// Inserts an event and its deliveries inside the caller's transaction.
pub fn insert_event(
    tx: &Transaction<'_>,
    kind: &str,
    payment_token: Option<&str>,
    payload: impl FnOnce(&str) -> String,
    sinks: &[String],
    now: Millis,
) -> Result<String, StoreError> {
    EventInsert::new(tx)?.insert(kind, payment_token, payload, sinks, now)
}

/// Inserts an operational event inside the caller's transaction, so it commits (or not)
/// with what it announces.
pub(crate) fn insert_operational_event_in(
    tx: &rusqlite::Transaction<'_>,
    kind: &str,
    data: &Value,
    sinks: &[String],
    now: Millis,
) -> Result<String, StoreError> {
    let payload = |id: &str| operational_payload(kind, id, now, data);
    insert_event(tx, kind, None, payload, sinks, now)
}

impl Store {
    /// Inserts an operational event (not tied to a payment) in its own transaction.
    pub fn insert_operational_event(
        &mut self,
        kind: &str,
        data: &Value,
        sinks: &[String],
        now: Millis,
    ) -> Result<String, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = insert_operational_event_in(&tx, kind, data, sinks, now)?;
        tx.commit()?;
        Ok(id)
    }
}
