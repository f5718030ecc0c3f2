//! The payments side of [`Db`]: enqueue, the poller's due scan, lookups, requeue, the one
//! writer of confirm outcomes, and LigdiCash's callbacks.

use super::{Backend, Db};
use crate::payment::{Applied, ConfirmOutcome, DuePayment, NewPayment, Status};
use crate::store::PaymentFilter;
use crate::store::{CallbackKeys, Received};
use crate::store::{Enqueued, Requeued, ToConfirm};
use crate::store::{PaymentRow, StoreError};
use crate::time::Millis;
use std::collections::HashSet;
use std::sync::Arc;

impl Db {
    /// Adds a pending payment, first due at `first_poll_at`. Idempotent on the token; the
    /// same token with other data is a [`StoreError::Conflict`] and writes nothing.
    pub async fn enqueue(
        &self,
        payment: NewPayment,
        now: Millis,
        first_poll_at: Millis,
    ) -> Result<Enqueued, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.enqueue(&payment, now, first_poll_at))
                    .await
            }
            Backend::Postgres(p) => p.enqueue(&payment, now, first_poll_at).await,
        }
    }

    /// Gives rows the shop inserted with plain SQL their first poll time (`created_at`
    /// plus the first delay of their kind). Returns how many.
    pub async fn schedule_unscheduled(
        &self,
        first_delay_ms: Millis,
        payout_first_delay_ms: Millis,
    ) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.schedule_unscheduled(first_delay_ms, payout_first_delay_ms))
                    .await
            }
            Backend::Postgres(p) => {
                p.schedule_unscheduled(first_delay_ms, payout_first_delay_ms)
                    .await
            }
        }
    }

    /// Up to `limit` pending payments due at `now`, soonest first, leaving out the ids in
    /// `skip` (in flight). Rows that cannot be read are parked on the way.
    pub async fn due(
        &self,
        now: Millis,
        limit: usize,
        skip: HashSet<i64>,
    ) -> Result<Vec<DuePayment>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.due(now, limit, &skip)).await,
            Backend::Postgres(p) => p.due(now, limit, &skip).await,
        }
    }

    /// The earliest poll time strictly after `now`, to sleep until.
    pub async fn next_due_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.next_due_after(now)).await,
            Backend::Postgres(p) => p.next_due_after(now).await,
        }
    }

    /// Whether any payment is still pending that `run --until-idle` must wait for.
    pub async fn any_pending(&self) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(|s| s.any_pending()).await,
            Backend::Postgres(p) => p.any_pending().await,
        }
    }

    /// Payments per status, every status present (zero when none).
    pub async fn status_counts(&self) -> Result<Vec<(Status, i64)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(|s| s.status_counts()).await,
            Backend::Postgres(p) => p.status_counts().await,
        }
    }

    /// The payment `token` (pending, or a `timeout`) taken for one confirm now; see
    /// [`ToConfirm`]. On PostgreSQL it is claimed like a scanned row: release it with
    /// [`Db::release_claim`] if the confirm is not sent.
    pub async fn claim_to_confirm(
        &self,
        token: String,
        now: Millis,
    ) -> Result<ToConfirm, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                let found = s.run(move |s| s.confirmable(&token)).await?;
                Ok(found.map_or(ToConfirm::Not, ToConfirm::Claimed))
            }
            Backend::Postgres(p) => p.claim_to_confirm(&token, now).await,
        }
    }

    /// Lets go of a claim taken by [`Db::claim_to_confirm`] for a confirm not sent.
    pub async fn release_claim(&self, id: i64) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => p.release_claim(id).await,
        }
    }

    /// Puts a `timeout` or `invalid_token` payment back to pending, or makes a corrected
    /// parked row due now.
    pub async fn requeue(&self, token: String, now: Millis) -> Result<Requeued, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.requeue(&token, now)).await,
            Backend::Postgres(p) => p.requeue(&token, now).await,
        }
    }

    /// One payment by token.
    pub async fn get(&self, token: String) -> Result<Option<PaymentRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.get(&token)).await,
            Backend::Postgres(p) => p.get(&token).await,
        }
    }

    /// Payments matching `filter`, newest first (keyset paging).
    pub async fn search(
        &self,
        filter: PaymentFilter,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.search(&filter, limit)).await,
            Backend::Postgres(p) => p.search(&filter, limit).await,
        }
    }

    /// Payments, newest first, optionally of one status.
    pub async fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.list(status, limit)).await,
            Backend::Postgres(p) => p.list(status, limit).await,
        }
    }

    /// Records a batch of confirm outcomes in one transaction, with an outbox event
    /// (addressed to `sinks`) for each payment it finalises. The batch is shared, not
    /// copied, so a writer retrying a refused write keeps it in hand.
    pub async fn apply_outcomes(
        &self,
        outcomes: Arc<Vec<ConfirmOutcome>>,
        now: Millis,
        sinks: Arc<Vec<String>>,
    ) -> Result<Vec<Applied>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.apply_outcomes(&outcomes, now, &sinks))
                    .await
            }
            Backend::Postgres(p) => p.apply_outcomes(&outcomes, now, &sinks).await,
        }
    }

    /// Records a LigdiCash callback as the callback policy plans it
    /// (`payment::callback`): a pending payment it names made due (no sooner than
    /// `min_interval` after its last confirm), a final status it contradicts confirmed once
    /// more, the raw body kept within bounds.
    pub async fn record_callback(
        &self,
        content_type: String,
        body: String,
        keys: CallbackKeys,
        now: Millis,
        min_interval: Millis,
    ) -> Result<Received, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.record_callback(&content_type, &body, &keys, now, min_interval))
                    .await
            }
            Backend::Postgres(p) => {
                p.record_callback(&content_type, &body, &keys, now, min_interval)
                    .await
            }
        }
    }

    /// Adds callbacks counted but not kept raw to the quarter hour `bucket`'s tally.
    pub async fn add_callback_tally(
        &self,
        bucket: i64,
        unmatched: i64,
        not_kept: i64,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.add_callback_tally(bucket, unmatched, not_kept))
                    .await
            }
            Backend::Postgres(p) => p.add_callback_tally(bucket, unmatched, not_kept).await,
        }
    }
}
