//! The nightly report's queries for PostgreSQL, as `store::reports` and
//! `store::money_out` are SQLite's: a day's facts about money in and out, the re-check of
//! timeouts, report runs, attempt-log retention, the gauges, and the check that the
//! database can be written. PostgreSQL refuses values of the wrong type at INSERT, so the
//! rows are read strictly (SQLite's lenient reading is for what its affinity lets in).

use super::PgStore;
use super::cached::Cached;
use super::outbox::insert_operational_event_in;
use super::payments::DUE_COLUMNS;
use super::read::PgCells;
use crate::payment::DuePayment;
use crate::payment::callback::bucket_of;
use crate::store::StoreError;
use crate::store::read::{self, CONTRADICTED_WHERE, TRIES_UNDER_OPEN_CASE, UNDER_OPEN_CASE};
use crate::store::{AttemptFact, DayFacts, DbGauges, PaymentFact, contradiction_reason};
use crate::store::{PayoutFact, PayoutFacts};
use crate::time::Millis;
use chrono::NaiveDate;
use serde_json::Value;
use std::sync::LazyLock;
use tokio_postgres::Row;

/// The last column is `expected_amount` as written where it is not a whole number, which
/// the bigint column never holds here: always NULL.
const FACT_COLUMNS: &str = "token, transaction_id, request_id, status, status_reason, \
    expected_amount, amount, nullif(trim(operator_name), ''), created_at, resolved_at, \
    requeued_at IS NOT NULL, NULL::text";

const PAYOUT_COLUMNS: &str = "token, kind, transaction_id, status, status_reason, \
    expected_amount, amount, created_at, resolved_at, overdue_at, \
    nullif(trim(operator_name), ''), NULL::text";

fn fact(r: &Row) -> Result<PaymentFact, StoreError> {
    read::payment_fact(&mut PgCells(r))
}

fn payout_fact(r: &Row) -> Result<PayoutFact, StoreError> {
    read::payout_fact(&mut PgCells(r))
}

/// The queries of one kind of payment (`kind` is `= 'invoice'` or `<> 'invoice'`): those
/// resolved during `[$1, $2)`, and those created before the day ended (`$1`) and not
/// resolved by then.
fn day_queries(columns: &str, kind: &str) -> (String, String) {
    (
        format!(
            "SELECT {columns} FROM payments WHERE kind {kind} AND status <> 'pending' \
             AND resolved_at >= $1 AND resolved_at < $2 ORDER BY resolved_at, id"
        ),
        format!(
            "SELECT {columns} FROM payments WHERE kind {kind} AND created_at < $1 \
             AND (status = 'pending' OR resolved_at >= $1) ORDER BY created_at, id"
        ),
    )
}

static INVOICE_DAY: LazyLock<(String, String)> =
    LazyLock::new(|| day_queries(FACT_COLUMNS, "= 'invoice'"));
static PAYOUT_DAY: LazyLock<(String, String)> =
    LazyLock::new(|| day_queries(PAYOUT_COLUMNS, "<> 'invoice'"));

/// The payments a callback of the day contradicted, with what it said.
static CONTRADICTED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {FACT_COLUMNS}, said FROM payments JOIN (SELECT payment_id, \
         lower(trim(said_status)) AS said, max(received_at) AS last_at \
         FROM callbacks WHERE received_at >= $1 AND received_at < $2 \
         AND payment_id IS NOT NULL GROUP BY 1, 2) c \
         ON c.payment_id = payments.id WHERE {CONTRADICTED_WHERE} \
         ORDER BY last_at, token"
    )
});

static TIMEOUTS_SINCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {DUE_COLUMNS} FROM payments WHERE status = 'timeout' AND resolved_at >= $1 \
         ORDER BY resolved_at, id"
    )
});

/// Retention keeps the evidence of a payment with an open case.
static PRUNE_ATTEMPTS: LazyLock<String> = LazyLock::new(|| {
    format!("DELETE FROM confirm_attempts WHERE at < $1 AND NOT {UNDER_OPEN_CASE}")
});
static PRUNE_CALLBACKS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM callbacks WHERE (received_at < $1 AND (payment_id IS NULL \
         OR NOT {UNDER_OPEN_CASE})) OR (payment_id IS NULL AND received_at < $2)"
    )
});
static PRUNE_DELIVERY_TRIES: LazyLock<String> = LazyLock::new(|| {
    format!("DELETE FROM delivery_attempts WHERE at < $1 AND NOT {TRIES_UNDER_OPEN_CASE}")
});

impl PgStore {
    /// Everything the report for `[start, end)` needs about invoices, read at `now`.
    pub async fn day_facts(
        &self,
        start: Millis,
        end: Millis,
        now: Millis,
    ) -> Result<DayFacts, StoreError> {
        let c = self.conn().await?;
        let (resolved_sql, pending_sql) = &*INVOICE_DAY;
        let resolved = c.query_cached(resolved_sql, &[&start, &end]).await?;
        let pending = c.query_cached(pending_sql, &[&end]).await?;
        let late = c
            .query_cached(
                "SELECT payment_token FROM events WHERE type = 'payment.late_completed' \
                 AND created_at >= $1 AND created_at < $2 ORDER BY seq",
                &[&start, &end],
            )
            .await?;
        let contradicted = c.query_cached(&CONTRADICTED, &[&start, &end]).await?;
        let attempts = c
            .query_cached(
                "SELECT outcome, latency_ms FROM confirm_attempts WHERE at >= $1 AND at < $2 \
                 ORDER BY id",
                &[&start, &end],
            )
            .await?;
        let counts = c
            .query_one_cached(
                "SELECT (SELECT count(*) FROM events WHERE state = 'pending'), \
                 (SELECT count(*) FROM events WHERE state = 'dead'), \
                 (SELECT coalesce(sum(unmatched), 0)::bigint FROM callback_tally \
                  WHERE bucket >= $1 AND bucket < $2)",
                &[&bucket_of(start), &bucket_of(end)],
            )
            .await?;
        Ok(DayFacts {
            start,
            end,
            generated_at: now,
            resolved: resolved.iter().map(fact).collect::<Result<_, _>>()?,
            pending_at_end: pending.iter().map(fact).collect::<Result<_, _>>()?,
            late_completed: late
                .iter()
                .filter_map(|r| r.try_get::<_, Option<String>>(0).transpose())
                .collect::<Result<_, _>>()?,
            attempts: attempts
                .iter()
                .map(|r| {
                    Ok(AttemptFact {
                        outcome: r.try_get(0)?,
                        latency_ms: r.try_get(1)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            events_pending: counts.try_get(0)?,
            events_dead: counts.try_get(1)?,
            unmatched_callbacks: counts.try_get(2)?,
            contradicted: contradicted
                .iter()
                .map(|r| {
                    let mut p = fact(r)?;
                    let said: String = r.try_get(12)?;
                    p.status_reason = Some(contradiction_reason(&said, &p.status));
                    Ok(p)
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }

    /// The payouts (money out) of the day `[start, end)`.
    pub async fn payout_facts(
        &self,
        start: Millis,
        end: Millis,
    ) -> Result<PayoutFacts, StoreError> {
        let c = self.conn().await?;
        let (resolved_sql, pending_sql) = &*PAYOUT_DAY;
        let resolved = c.query_cached(resolved_sql, &[&start, &end]).await?;
        let pending = c.query_cached(pending_sql, &[&end]).await?;
        Ok(PayoutFacts {
            resolved: resolved.iter().map(payout_fact).collect::<Result<_, _>>()?,
            pending_at_end: pending.iter().map(payout_fact).collect::<Result<_, _>>()?,
        })
    }

    /// `timeout` payments resolved at or after `since`, to re-confirm.
    pub async fn timeouts_since(&self, since: Millis) -> Result<Vec<DuePayment>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query_cached(&TIMEOUTS_SINCE, &[&since])
            .await?;
        rows.iter().map(super::read::due_payment).collect()
    }

    /// The last day whose report was completed.
    pub async fn last_report_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached("SELECT max(day) FROM report_runs", &[])
            .await?;
        let day: Option<String> = row.try_get(0)?;
        Ok(day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }

    /// Records a finished report day with its `report.generated` event, in one transaction
    /// (idempotent: a redone day keeps one row).
    pub async fn record_report(
        &self,
        day: NaiveDate,
        files: &[String],
        event: &Value,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let files = serde_json::to_string(files).unwrap_or_else(|_| "[]".into());
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // A day is announced once: a node whose report lock went with its connection may
        // still reach this after another node recorded the day; it then adds nothing.
        let recorded = tx
            .execute_cached(
                "INSERT INTO report_runs (day, generated_at, files) VALUES ($1, $2, $3) \
                 ON CONFLICT (day) DO NOTHING",
                &[&day.format("%Y-%m-%d").to_string(), &now, &files],
            )
            .await?;
        if recorded == 1 {
            insert_operational_event_in(&tx, "report.generated", event, sinks, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes confirm attempts, callbacks, delivery tries and the callbacks' tally older
    /// than `before` but the evidence of payments with an open case, and the callbacks that
    /// matched no payment older than `unmatched_before` (as on SQLite); returns how many
    /// attempts and callbacks.
    pub async fn prune_attempts(
        &self,
        before: Millis,
        unmatched_before: Millis,
    ) -> Result<usize, StoreError> {
        let c = self.conn().await?;
        let attempts = c.execute_cached(&PRUNE_ATTEMPTS, &[&before]).await?;
        let callbacks = c
            .execute_cached(&PRUNE_CALLBACKS, &[&before, &unmatched_before])
            .await?;
        c.execute_cached(&PRUNE_DELIVERY_TRIES, &[&before]).await?;
        c.execute_cached(
            "DELETE FROM callback_tally WHERE bucket < $1",
            &[&bucket_of(before)],
        )
        .await?;
        Ok((attempts + callbacks) as usize)
    }

    /// Figures for `/metrics`, `/readyz` and systemd's STATUS line, each an index lookup
    /// but the counts of pending payments and of events, read only when `recount` (see
    /// `store::Db::gauges` for how often), else left at 0.
    pub async fn gauges_reading(&self, recount: bool) -> Result<DbGauges, StoreError> {
        let c = self.conn().await?;
        let row = c
            .query_one_cached(
                "SELECT (SELECT min(created_at) FROM payments WHERE status = 'pending' \
                  AND kind = 'invoice'), \
                 (SELECT count(*) FROM payments WHERE status = 'pending' AND kind <> 'invoice'), \
                 (SELECT count(overdue_at) FROM payments WHERE status = 'pending' \
                  AND kind <> 'invoice'), \
                 (SELECT max(generated_at) FROM report_runs)",
                &[],
            )
            .await?;
        let mut gauges = DbGauges {
            oldest_pending_created_at: row.try_get(0)?,
            pending_payouts: row.try_get(1)?,
            overdue_payouts: row.try_get(2)?,
            last_report_at: row.try_get(3)?,
            cases: self.case_gauges().await?,
            ..DbGauges::default()
        };
        if recount {
            let pending = c
                .query_one_cached(
                    "SELECT count(*) FROM payments WHERE status = 'pending'",
                    &[],
                )
                .await?;
            gauges.pending = pending.try_get(0)?;
            let states = c
                .query_cached(
                    "SELECT state, count(*) FROM events GROUP BY state ORDER BY state",
                    &[],
                )
                .await?;
            gauges.events_by_state = states
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, StoreError>>()?;
        }
        Ok(gauges)
    }

    /// Refuses a database this node can read but not write: a hot standby, a read-only
    /// default, or a role without the rights on `payments`. A daemon on it would confirm
    /// payments and record nothing.
    pub async fn ensure_writable(&self) -> Result<(), StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached(
                "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on', \
                 has_table_privilege('payments', 'INSERT, UPDATE, DELETE') \
                 AND has_table_privilege('events', 'INSERT, UPDATE') \
                 AND has_table_privilege('event_deliveries', 'INSERT, UPDATE') \
                 AND has_table_privilege('cases', 'INSERT, UPDATE') \
                 AND has_table_privilege('case_decisions', 'INSERT')",
                &[],
            )
            .await?;
        let (standby, read_only, rights): (bool, bool, bool) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let reason = if standby {
            "the server is a standby (in recovery): point the URL at the primary"
        } else if read_only {
            "transactions are read-only for this role or database (default_transaction_read_only)"
        } else if !rights {
            "this role may not write the reconciler's tables (it needs INSERT, UPDATE and DELETE)"
        } else {
            return Ok(());
        };
        Err(StoreError::Open {
            path: self.shown.clone().into(),
            reason: reason.to_owned(),
        })
    }
}
