//! The outbox side of [`Db`]: operational events, the delivery worker's claims and
//! records, and what `events list`, `events show` and `events redeliver` read and reopen.

use super::{Backend, Db};
use crate::store::{DeliveryResult, DueDelivery, EventRow};
use crate::store::{SinkDelivery, StoreError};
use crate::time::Millis;
use serde_json::Value;
use std::sync::Arc;

impl Db {
    /// Inserts an event not tied to a payment (`reconciler.auth_failed`), addressed to
    /// `sinks`, in its own transaction. Returns its id.
    pub async fn insert_operational_event(
        &self,
        kind: &'static str,
        data: Value,
        sinks: Arc<Vec<String>>,
        now: Millis,
    ) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.insert_operational_event(kind, data, &sinks, now))
                    .await
            }
            Backend::Postgres(p) => p.insert_operational_event(kind, data, &sinks, now).await,
        }
    }

    /// Moves the deliveries of sink `old` to sink `new` (a webhook renamed). Returns how
    /// many moved.
    pub async fn rename_sink(&self, old: String, new: String) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.rename_sink(&old, &new)).await,
            Backend::Postgres(p) => p.rename_sink(&old, &new).await,
        }
    }

    /// Up to `limit` deliveries to `sinks` due at `now`, keeping per-payment order per sink.
    pub async fn due_deliveries(
        &self,
        now: Millis,
        sinks: Arc<Vec<String>>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.due_deliveries(now, &sinks, limit)).await,
            Backend::Postgres(p) => p.due_deliveries(now, &sinks, limit).await,
        }
    }

    /// Whether a delivery to `sinks` is due at `now` (claimed or not, not blocked behind an
    /// earlier event of its payment): what `run --once` waits on. Claims nothing.
    pub async fn any_delivery_due(
        &self,
        now: Millis,
        sinks: Arc<Vec<String>>,
    ) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| Ok(!s.due_deliveries(now, &sinks, 1)?.is_empty()))
                    .await
            }
            Backend::Postgres(p) => p.any_delivery_due(now, &sinks).await,
        }
    }

    /// The earliest retry time strictly after `now`, to sleep until.
    pub async fn next_delivery_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.next_delivery_after(now)).await,
            Backend::Postgres(p) => p.next_delivery_after(now).await,
        }
    }

    /// Deliveries to `sinks` not attempted yet.
    pub async fn unattempted_deliveries(&self, sinks: Arc<Vec<String>>) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.unattempted_deliveries(&sinks)).await,
            Backend::Postgres(p) => p.unattempted_deliveries(&sinks).await,
        }
    }

    /// Records how one attempt to deliver event `event_seq` to `sink` ended.
    pub async fn record_delivery(
        &self,
        event_seq: i64,
        sink: String,
        result: DeliveryResult,
        now: Millis,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.record_delivery(event_seq, &sink, &result, now))
                    .await
            }
            Backend::Postgres(p) => p.record_delivery(event_seq, &sink, &result, now).await,
        }
    }

    /// Events, newest first, optionally in one state (pending, delivered, dead).
    pub async fn list_events(
        &self,
        state: Option<String>,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.list_events(state.as_deref(), limit)).await,
            Backend::Postgres(p) => p.list_events(state.as_deref(), limit).await,
        }
    }

    /// One event by id, with its deliveries.
    pub async fn get_event(
        &self,
        id: String,
    ) -> Result<Option<(EventRow, Vec<SinkDelivery>)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.get_event(&id)).await,
            Backend::Postgres(p) => p.get_event(&id).await,
        }
    }

    /// Makes an event's deliveries (or, without an id, every dead delivery) due again.
    /// Returns how many were reopened.
    pub async fn redeliver(&self, id: Option<String>, now: Millis) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.redeliver(id.as_deref(), now)).await,
            Backend::Postgres(p) => p.redeliver(id.as_deref(), now).await,
        }
    }
}
