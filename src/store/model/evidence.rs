//! Everything the store keeps about one payment, read at once for its evidence file
//! (`cases::evidence` lays it out): the row, every confirm call, every callback kept,
//! every event with each delivery try, and its cases with how they closed.

use super::{CaseRow, EventRow, PaymentRow};
use crate::time::Millis;

/// One confirm call, as `confirm_attempts` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// When it was sent.
    pub at: Millis,
    pub latency_ms: i64,
    pub http_status: Option<i64>,
    /// What LigdiCash's answer said: its `response_code` and `status`.
    pub response_code: Option<String>,
    pub provider_status: Option<String>,
    /// How the call was classified (`completed`, `pending`, `timeout`, `http_5xx`, ...).
    pub outcome: String,
    pub error: Option<String>,
    /// The answer as received (the response body; its first 8 KiB when longer, with a
    /// marker): none when no answer came, and for calls logged before schema version 9.
    pub answer: Option<String>,
}

/// One LigdiCash callback as received and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRow {
    pub received_at: Millis,
    pub content_type: String,
    /// The address it came from (none for callbacks kept before schema version 8).
    pub source: Option<String>,
    /// The body, byte for byte (as text).
    pub body: String,
    /// What matched it to the payment: `transaction_id`, `external_id`, `request_id` or
    /// `token`.
    pub matched_by: Option<String>,
    pub said_status: Option<String>,
}

/// One try of an event to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTry {
    pub sink: String,
    pub at: Millis,
    /// `delivered`, `retry` or `dead`.
    pub result: String,
    pub error: Option<String>,
}

/// An event's delivery to one sink, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub sink: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<Millis>,
}

/// An event of the payment with its deliveries and every try of them, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEvidence {
    pub event: EventRow,
    pub deliveries: Vec<DeliveryState>,
    pub tries: Vec<DeliveryTry>,
}

/// Everything kept about one payment, each list oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceFacts {
    pub payment: PaymentRow,
    pub attempts: Vec<AttemptRow>,
    pub callbacks: Vec<CallbackRow>,
    pub events: Vec<EventEvidence>,
    pub cases: Vec<CaseRow>,
}
