//! Events: how the shop learns of every final status without polling the reconciler.
//!
//! The store's one writer of confirm outcomes (whoever confirmed: the poller, confirm-now,
//! the re-check) inserts one event per final transition in the same transaction as the
//! status change, on SQLite or PostgreSQL alike (the transactional outbox, `store::events`),
//! with a delivery row per configured sink (and `payout.overdue` in the transaction that
//! marks a payout overdue); `report.generated` commits with its day's record, and
//! `reconciler.auth_failed` on its own. The [`delivery::Deliverer`] attempts due deliveries beside the poller
//! (`store::deliveries`), retrying on a persisted schedule until delivered or dead: written
//! once, delivered at least once, never lost. Per payment and sink, events go out in order:
//! only the oldest undelivered one is due. On PostgreSQL the daemons of a cluster claim
//! deliveries with a lease (`FOR UPDATE SKIP LOCKED`), so any node delivers and none
//! attempts one twice at once. Receivers deduplicate on the event id (`webhook-id`).
//!
//! The pieces: [`signature`] (Standard Webhooks signatures), [`secrets`] (webhook secrets
//! read and checked into keys), [`sinks`] (webhook, JSON lines, a shop command: one attempt
//! each), [`email`] (the nightly report mailed to the accountant: `report.generated` only,
//! the one event addressed to it) and [`delivery`] (the worker and its pure retry policy).

pub mod delivery;
pub mod email;
pub mod secrets;
pub mod signature;
pub mod sinks;
