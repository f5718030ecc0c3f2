//! The reports side of [`Db`]: a day's facts, the timeouts to re-check, the record of
//! days done, pruning, and the gauges of `/metrics`, `/readyz` and systemd's STATUS.

use super::{Db, on_sqlite};
use crate::payment::DuePayment;
use crate::store::StoreError;
use crate::store::money_out::PayoutFacts;
use crate::store::reports::{DayFacts, DbGauges};
use crate::time::Millis;
use chrono::NaiveDate;
use serde_json::Value;
use std::sync::Arc;

impl Db {
    /// Everything the report for `[start, end)` needs about invoices, read at `now`.
    pub async fn day_facts(
        &self,
        start: Millis,
        end: Millis,
        now: Millis,
    ) -> Result<DayFacts, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, move |s| s.day_facts(start, end, now)).await,
            Db::Postgres(p) => p.day_facts(start, end, now).await,
        }
    }

    /// Everything the report for `[start, end)` needs about money sent out.
    pub async fn payout_facts(
        &self,
        start: Millis,
        end: Millis,
    ) -> Result<PayoutFacts, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, move |s| s.payout_facts(start, end)).await,
            Db::Postgres(p) => p.payout_facts(start, end).await,
        }
    }

    /// The `timeout` payments resolved since `since`, for the nightly re-check.
    pub async fn timeouts_since(&self, since: Millis) -> Result<Vec<DuePayment>, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, move |s| s.timeouts_since(since)).await,
            Db::Postgres(p) => p.timeouts_since(since).await,
        }
    }

    /// The last day a scheduled report was recorded for.
    pub async fn last_report_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, |s| s.last_report_day()).await,
            Db::Postgres(p) => p.last_report_day().await,
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
        match self {
            Db::Sqlite(s) => {
                on_sqlite(s, move |s| s.record_report(day, &files, event, &sinks, now)).await
            }
            Db::Postgres(p) => p.record_report(day, &files, event, &sinks, now).await,
        }
    }

    /// Deletes confirm attempts and callbacks older than `before`; returns how many rows.
    pub async fn prune_attempts(&self, before: Millis) -> Result<usize, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, move |s| s.prune_attempts(before)).await,
            Db::Postgres(p) => p.prune_attempts(before).await,
        }
    }

    /// The database's gauges. The pending count is cached per handle (see
    /// `Store::gauges`), so callers that ask often share one handle.
    pub async fn gauges(&self) -> Result<DbGauges, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, |s| s.gauges()).await,
            Db::Postgres(p) => p.gauges().await,
        }
    }
}
