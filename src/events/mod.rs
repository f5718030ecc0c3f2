//! Events: what the shop learns of final statuses, through a transactional outbox.
//! (In progress: signature scheme first; the outbox and sinks follow.)

pub mod signature;
