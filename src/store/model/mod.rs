//! The store's model: the types every operation takes and gives, and the rules both
//! databases follow, with no SQL. A backend (`sqlite`, `postgres`) only turns them into its
//! SQL; a rule found here is found once.

mod callbacks;
mod cases;
pub mod evidence;
mod outbox;
mod outcome_write;
mod payments;
mod reports;

pub use callbacks::{CallbackKeys, Probe, RawCallback, Received};
pub use cases::{
    BY_ITSELF, CASE_OPENED, CASE_RESOLVED, CaseCandidate, CaseFilter, CaseGauges, CaseRecord,
    CaseRow, CaseWrite, Resolution, SweepMarks, SweepWindow, SweepWrites,
};
pub use evidence::EvidenceFacts;
pub use outbox::{DeliveryResult, DueDelivery, EventRow, NewEvent, PaymentFacts, SinkDelivery};
pub use outcome_write::{AnswerColumns, LOGGED_ANSWER_BYTES, final_event, logged_answer};
pub use payments::{
    Enqueued, PaymentFilter, PaymentRow, Requeued, SCHEDULE_BATCH, ToConfirm, bad_columns_line,
};
pub use reports::{
    AttemptFact, DayFacts, DbGauges, PaymentFact, PayoutFact, PayoutFacts, contradiction_reason,
};
