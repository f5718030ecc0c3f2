//! The reports side of [`Db`]: a day's facts, the timeouts to re-check, the record of
//! days done, pruning, and the gauges of `/metrics`, `/readyz` and systemd's STATUS.

use super::{Backend, Db};
use crate::payment::DuePayment;
use crate::store::DayFacts;
use crate::store::PayoutFacts;
use crate::store::StoreError;
use crate::store::postgres::lock::SessionLock;
use crate::time::Millis;
use chrono::NaiveDate;
use serde_json::Value;
use std::sync::Arc;

/// The right to write the nightly reports and run the re-check: one node at a time.
#[derive(Debug)]
pub enum ReportTurn {
    /// SQLite: one daemon per file (the instance lock), so always its turn.
    Alone,
    /// PostgreSQL: the advisory lock, held on a connection of its own.
    Locked(SessionLock),
}

impl ReportTurn {
    /// False once a PostgreSQL holder lost its connection: the server has released the
    /// lock and another node may have taken it; the holder stops at its next step.
    pub fn is_held(&self) -> bool {
        match self {
            ReportTurn::Alone => true,
            ReportTurn::Locked(lock) => lock.is_held(),
        }
    }

    /// Lets the next node take its turn. A lock whose release fails goes with its
    /// connection, which is closed here.
    pub async fn release(self) {
        if let ReportTurn::Locked(lock) = self
            && let Err(e) = lock.release().await
        {
            tracing::debug!(error = %e, "report lock released with its connection");
        }
    }
}

impl Db {
    /// This node's turn at the reports, or `None` while another node has it.
    pub async fn try_report_turn(&self) -> Result<Option<ReportTurn>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(ReportTurn::Alone)),
            Backend::Postgres(p) => Ok(p.try_report_lock().await?.map(ReportTurn::Locked)),
        }
    }

    /// Everything the report for `[start, end)` needs about invoices, read at `now`.
    pub async fn day_facts(
        &self,
        start: Millis,
        end: Millis,
        now: Millis,
    ) -> Result<DayFacts, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.day_facts(start, end, now)).await,
            Backend::Postgres(p) => p.day_facts(start, end, now).await,
        }
    }

    /// Everything the report for `[start, end)` needs about money sent out.
    pub async fn payout_facts(
        &self,
        start: Millis,
        end: Millis,
    ) -> Result<PayoutFacts, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.payout_facts(start, end)).await,
            Backend::Postgres(p) => p.payout_facts(start, end).await,
        }
    }

    /// The `timeout` payments resolved since `since`, for the nightly re-check.
    pub async fn timeouts_since(&self, since: Millis) -> Result<Vec<DuePayment>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(move |s| s.timeouts_since(since)).await,
            Backend::Postgres(p) => p.timeouts_since(since).await,
        }
    }

    /// The last day a scheduled report was recorded for.
    pub async fn last_report_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.run(|s| s.last_report_day()).await,
            Backend::Postgres(p) => p.last_report_day().await,
        }
    }

    /// Records a finished report day with its `report.generated` event, in one
    /// transaction.
    pub async fn record_report(
        &self,
        day: NaiveDate,
        files: Vec<String>,
        event: Value,
        sinks: Arc<Vec<String>>,
        now: Millis,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.record_report(day, &files, event, &sinks, now))
                    .await
            }
            Backend::Postgres(p) => p.record_report(day, &files, event, &sinks, now).await,
        }
    }

    /// Deletes confirm attempts and callbacks older than `before`, and callbacks that
    /// matched no payment older than `unmatched_before`; returns how many rows.
    pub async fn prune_attempts(
        &self,
        before: Millis,
        unmatched_before: Millis,
    ) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| s.prune_attempts(before, unmatched_before))
                    .await
            }
            Backend::Postgres(p) => p.prune_attempts(before, unmatched_before).await,
        }
    }
}
