//! The outbox as the store gives it out: events, their deliveries to each sink, and the
//! one documented payload of a payment event, which every sink receives and both databases
//! store alike.

use crate::time::{Millis, rfc3339};
use serde::Serialize;

/// A fresh, time-ordered, unique event id (the `webhook-id`).
fn new_event_id(now: Millis) -> String {
    format!("evt_{now:013x}{:016x}", fastrand::u64(..))
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub payment_token: Option<String>,
    pub payload: String,
    pub created_at: Millis,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<Millis>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Millis>,
}

/// A delivery to attempt now.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub event_seq: i64,
    pub event_id: String,
    pub sink: String,
    pub attempts: i64,
    pub payload: String,
    pub created_at: Millis,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryResult {
    Delivered,
    /// Try again at the given time.
    Retry {
        at: Millis,
        error: String,
    },
    /// Give up: the schedule is exhausted or the endpoint is gone (HTTP 410).
    Dead {
        error: String,
    },
}

/// One event's delivery to one sink, as `events show` lists it: sink, state, attempts,
/// last error.
pub type SinkDelivery = (String, String, i64, Option<String>);

/// What a payment event says about its payment, read back right after the final write.
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
fn payment_payload(kind: &str, id: &str, occurred_at: Millis, p: &PaymentFacts) -> String {
    let payload = PaymentPayload {
        id,
        occurred_at: rfc3339(occurred_at),
        payment: p,
        kind,
    };
    // Serialising plain strings, numbers and options cannot fail.
    serde_json::to_string(&payload).unwrap_or_default()
}

impl DeliveryResult {
    /// How the try ended, as `delivery_attempts` records it: `delivered`, `retry`, `dead`.
    pub fn result(&self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Retry { .. } => "retry",
            DeliveryResult::Dead { .. } => "dead",
        }
    }

    /// The delivery's state after this result, its next attempt time, and the error to
    /// keep.
    pub fn columns(&self) -> (&'static str, Option<Millis>, Option<&str>) {
        match self {
            DeliveryResult::Delivered => ("delivered", None, None),
            DeliveryResult::Retry { at, error } => ("pending", Some(*at), Some(error)),
            DeliveryResult::Dead { error } => ("dead", None, Some(error)),
        }
    }
}

/// An event about to be written, decided here once for both databases: its id, the
/// payload every sink receives, and the state it is born in (delivered when no sink is
/// configured, else pending until every sink has it). A backend inserts it, with one
/// delivery per sink, in the transaction of the change it announces.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent<'a> {
    pub id: String,
    pub kind: &'a str,
    pub payment_token: Option<&'a str>,
    pub payload: String,
    pub created_at: Millis,
    pub state: &'static str,
    pub sinks: &'a [String],
}

impl<'a> NewEvent<'a> {
    /// A payment event: `kind` said of the payment as `facts` read it after the write.
    pub fn payment(
        kind: &'a str,
        facts: &'a PaymentFacts,
        now: Millis,
        sinks: &'a [String],
    ) -> Self {
        let payload = |id: &str| payment_payload(kind, id, now, facts);
        Self::born(kind, Some(&facts.token), payload, now, sinks)
    }

    /// An operational event, not tied to a payment (`report.generated`, `reconciler.*`).
    pub fn operational(
        kind: &'a str,
        data: &serde_json::Value,
        now: Millis,
        sinks: &'a [String],
    ) -> Self {
        let payload = |id: &str| operational_payload(kind, id, now, data);
        Self::born(kind, None, payload, now, sinks)
    }

    /// An event whose payload `payload` writes from the new event's id.
    pub(super) fn born(
        kind: &'a str,
        payment_token: Option<&'a str>,
        payload: impl FnOnce(&str) -> String,
        now: Millis,
        sinks: &'a [String],
    ) -> Self {
        let id = new_event_id(now);
        let payload = payload(&id);
        let state = if sinks.is_empty() {
            "delivered"
        } else {
            "pending"
        };
        Self {
            id,
            kind,
            payment_token,
            payload,
            created_at: now,
            state,
            sinks,
        }
    }
}

/// The payload of an operational event (not tied to a payment).
fn operational_payload(
    kind: &str,
    id: &str,
    occurred_at: Millis,
    data: &serde_json::Value,
) -> String {
    serde_json::json!({"type": kind, "id": id, "occurred_at": rfc3339(occurred_at), "data": data})
        .to_string()
}
