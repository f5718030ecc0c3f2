//! Events: how the shop learns of every final status without polling the reconciler.
//!
//! The poller's writer inserts one event per final transition in the same SQLite transaction
//! as the status change (the transactional outbox, `store::events`), with a delivery row per
//! configured sink. The [`delivery::Deliverer`] attempts due deliveries beside the poller
//! (`store::deliveries`), retrying on a persisted schedule until delivered or dead: written
//! once, delivered at least once, never lost. Receivers deduplicate on the event id
//! (`webhook-id`).

pub mod delivery;
pub mod secrets;
pub mod signature;
pub mod sinks;
