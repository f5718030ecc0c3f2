//! The outbox's write side: `events` rows and their `event_deliveries`, inserted by the
//! same transaction that makes the change they announce (see `payments::apply_outcomes`
//! and `reports`), with one delivery row per configured sink, and the documented payload
//! of a payment event. What happens to deliveries afterwards is in [`super::deliveries`].

use super::{Store, StoreError};
use crate::store::model::*;
use crate::time::Millis;
use rusqlite::{TransactionBehavior, params};
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

    /// Inserts `e` and one delivery per sink.
    pub fn insert(&mut self, e: &NewEvent<'_>) -> Result<(), StoreError> {
        let seq = self.event.insert(params![
            e.id,
            e.kind,
            e.payment_token,
            e.payload,
            e.created_at,
            e.state
        ])?;
        for sink in e.sinks {
            self.delivery.execute(params![seq, sink, e.created_at])?;
        }
        Ok(())
    }
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
    let event = NewEvent::operational(kind, data, now, sinks);
    EventInsert::new(tx)?.insert(&event)?;
    Ok(event.id)
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
