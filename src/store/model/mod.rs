//! The store's model: the types every operation takes and gives, and the rules both
//! databases follow, with no SQL. A backend (`sqlite`, `postgres`) only turns them into its
//! SQL; a rule found here is found once.

mod callbacks;
mod cases;
pub mod evidence;
mod outbox;
mod payments;
mod reports;

pub use callbacks::{CallbackKeys, RawCallback, Received};
pub use cases::{
    BY_ITSELF, CASE_OPENED, CASE_RESOLVED, CaseCandidate, CaseFilter, CaseGauges, CaseRecord,
    CaseRow, CaseWrite, Resolution, SweepMarks, SweepWindow, SweepWrites, case_payload,
};
pub use evidence::EvidenceFacts;
pub use outbox::{
    DeliveryResult, DueDelivery, EventRow, PaymentFacts, SinkDelivery, initial_state, new_event_id,
    operational_payload, payment_payload,
};
pub use payments::{Enqueued, PaymentFilter, PaymentRow, Requeued, ToConfirm, bad_columns_line};
pub use reports::{
    AttemptFact, DayFacts, DbGauges, PaymentFact, PayoutFact, PayoutFacts, contradiction_reason,
};
