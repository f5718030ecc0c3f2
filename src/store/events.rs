//! The outbox's write side: `events` rows and their `event_deliveries`, inserted by the
//! same transaction that makes the change they announce (see `payments::apply_outcomes`
//! and `reports`), with one delivery row per configured sink, and the documented payload
//! of a payment event. What happens to deliveries afterwards is in [`super::deliveries`].

use super::{Store, StoreError};
use crate::time::{Millis, rfc3339};
use rusqlite::{Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde_json::Value;

/// A fresh, time-ordered, unique event id (the `webhook-id`).
pub fn new_event_id(now: Millis) -> String {
    format!("evt_{now:013x}{:016x}", fastrand::u64(..))
}

/// The payment columns an event shows, in [`PaymentFacts::from_row`]'s order.
pub const FACT_COLUMNS: &str = "token, transaction_id, status, status_reason, expected_amount, \
    amount, operator_id, operator_name, customer, request_id, external_id, provider_date, \
    created_at, resolved_at, kind";

/// What a payment event says about its payment, read back by rowid right after the final
/// write. (Not with `UPDATE ... RETURNING`: that makes SQLite keep a statement journal,
/// which cost more than this second lookup in the write benchmark.)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentFacts {
    // Fields in alphabetical order: the payload's documented key order.
    pub amount: Option<i64>,
    #[serde(serialize_with = "as_rfc3339")]
    pub created_at: Millis,
    pub customer: Option<String>,
    pub expected_amount: Option<i64>,
    pub external_id: Option<String>,
    /// `invoice`, `withdrawal` or `payout`.
    pub kind: String,
    pub operator_id: Option<String>,
    pub operator_name: Option<String>,
    pub provider_date: Option<String>,
    pub request_id: Option<String>,
    #[serde(serialize_with = "as_optional_rfc3339")]
    pub resolved_at: Option<Millis>,
    pub status: String,
    pub status_reason: Option<String>,
    pub token: String,
    pub transaction_id: Option<String>,
}

impl PaymentFacts {
    /// Reads a row selected as [`FACT_COLUMNS`].
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            token: r.get(0)?,
            transaction_id: r.get(1)?,
            status: r.get(2)?,
            status_reason: r.get(3)?,
            expected_amount: r.get(4)?,
            amount: r.get(5)?,
            operator_id: r.get(6)?,
            operator_name: r.get(7)?,
            customer: r.get(8)?,
            request_id: r.get(9)?,
            external_id: r.get(10)?,
            provider_date: r.get(11)?,
            created_at: r.get(12)?,
            resolved_at: r.get(13)?,
            kind: r.get(14)?,
        })
    }
}

fn as_rfc3339<S: serde::Serializer>(at: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*at))
}

fn as_optional_rfc3339<S: serde::Serializer>(at: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&rfc3339(*at)),
        None => s.serialize_none(),
    }
}

/// The documented payload of a payment event (keys in alphabetical order).
#[derive(Serialize)]
struct PaymentPayload<'a> {
    id: &'a str,
    occurred_at: String,
    payment: &'a PaymentFacts,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// The documented payload of a payment event, as the JSON text every sink receives.
pub fn payment_payload(kind: &str, id: &str, occurred_at: Millis, p: &PaymentFacts) -> String {
    let payload = PaymentPayload {
        id,
        occurred_at: rfc3339(occurred_at),
        payment: p,
        kind,
    };
    // Serialising plain strings, numbers and options cannot fail.
    serde_json::to_string(&payload).unwrap_or_default()
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
    data: Value,
    sinks: &[String],
    now: Millis,
) -> Result<String, StoreError> {
    let payload = |id: &str| {
        serde_json::json!({"type": kind, "id": id, "occurred_at": rfc3339(now), "data": data})
            .to_string()
    };
    insert_event(tx, kind, None, payload, sinks, now)
}

impl Store {
    /// Inserts an operational event (not tied to a payment) in its own transaction.
    pub fn insert_operational_event(
        &mut self,
        kind: &str,
        data: Value,
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
