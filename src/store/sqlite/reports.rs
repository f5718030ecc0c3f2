//! Queries for the nightly report: the day's facts, the re-check of timeouts, report runs
//! and attempt-log retention.

use super::due_row::{TIMEOUTS_SINCE_SQL, due_payment_or_problem};
use super::events::insert_operational_event_in;
use super::mistyped::{EXPECTED_AS_WRITTEN, LenientRow};
use super::{Store, StoreError};
use crate::payment::DuePayment;
use crate::payment::callback::bucket_of;
use crate::store::model::*;
use crate::store::read::{self, CONTRADICTED_WHERE, TRIES_UNDER_OPEN_CASE, UNDER_OPEN_CASE};
use crate::time::Millis;
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

/// `expected_amount` is read only when it is an integer: a value of another type the shop
/// wrote (see `Store::due`) must not stop every report; it shows as no expected amount,
/// and as written in the last column ([`EXPECTED_AS_WRITTEN`]).
fn fact_columns() -> String {
    format!(
        "token, transaction_id, request_id, status, status_reason, \
         CASE typeof(expected_amount) WHEN 'integer' THEN expected_amount END, amount, \
         nullif(trim(operator_name), ''), created_at, resolved_at, requeued_at IS NOT NULL, \
         {EXPECTED_AS_WRITTEN}"
    )
}

/// Read leniently: a row the shop wrote with a value of the wrong type (a BLOB token, a
/// text `created_at`) is parked by the poller and must not stop every report; its bad
/// fields read as empty.
fn fact(r: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentFact> {
    read::payment_fact(&mut LenientRow::new(r))
}

impl Store {
    /// Everything the report for `[start, end)` needs, read at `now` (which may be before
    /// `end`: a day not over is reported as it stands).
    pub fn day_facts(
        &self,
        start: Millis,
        end: Millis,
        now: Millis,
    ) -> Result<DayFacts, StoreError> {
        let c = &self.conn;
        let columns = fact_columns();
        let resolved = c
            .prepare(&format!(
                "SELECT {columns} FROM payments WHERE kind = 'invoice' \
                 AND status != 'pending' AND resolved_at >= ?1 AND resolved_at < ?2 \
                 ORDER BY resolved_at, id"
            ))?
            .query_map(params![start, end], fact)?
            .collect::<Result<_, _>>()?;
        // Pending at the end of the day: created before it ended and not resolved by then.
        let pending_at_end = c
            .prepare(&format!(
                "SELECT {columns} FROM payments WHERE kind = 'invoice' AND created_at < ?1 \
                 AND (status = 'pending' OR resolved_at >= ?1) ORDER BY created_at, id"
            ))?
            .query_map([end], fact)?
            .collect::<Result<_, _>>()?;
        let late_completed = c
            .prepare(
                "SELECT payment_token FROM events WHERE type = 'payment.late_completed' \
                 AND created_at >= ?1 AND created_at < ?2 ORDER BY seq",
            )?
            .query_map(params![start, end], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let contradicted = c
            .prepare(&format!(
                "SELECT {columns}, said FROM payments JOIN (SELECT payment_id, \
                 lower(trim(said_status)) AS said, max(received_at) AS last_at FROM callbacks \
                 WHERE received_at >= ?1 AND received_at < ?2 AND payment_id IS NOT NULL \
                 GROUP BY 1, 2) ON payment_id = payments.id WHERE {CONTRADICTED_WHERE} \
                 ORDER BY last_at, token"
            ))?
            .query_map(params![start, end], |r| {
                let mut p = fact(r)?;
                let said: String = r.get(12)?;
                p.status_reason = Some(contradiction_reason(&said, &p.status));
                Ok(p)
            })?
            .collect::<Result<_, _>>()?;
        let attempts = c
            .prepare(
                "SELECT outcome, latency_ms FROM confirm_attempts WHERE at >= ?1 AND at < ?2 \
                 ORDER BY id",
            )?
            .query_map(params![start, end], |r| {
                Ok(AttemptFact {
                    outcome: r.get(0)?,
                    latency_ms: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let count = |state: &str| -> Result<i64, StoreError> {
            Ok(c.query_row(
                "SELECT count(*) FROM events WHERE state = ?1",
                [state],
                |r| r.get(0),
            )?)
        };
        Ok(DayFacts {
            start,
            end,
            generated_at: now,
            resolved,
            pending_at_end,
            late_completed,
            attempts,
            events_pending: count("pending")?,
            events_dead: count("dead")?,
            unmatched_callbacks: self.unmatched_callbacks(start, end)?,
            contradicted,
        })
    }

    /// `timeout` payments resolved at or after `since`, to re-confirm.
    /// A row with a value of the wrong type is left out (and logged): one bad row must not
    /// stop the re-check of everyone's timeouts.
    pub fn timeouts_since(&self, since: Millis) -> Result<Vec<DuePayment>, StoreError> {
        let mut stmt = self.conn.prepare(TIMEOUTS_SINCE_SQL)?;
        let rows = stmt.query_map([since], due_payment_or_problem)?;
        let mut due = Vec::new();
        for row in rows {
            match row? {
                Ok(p) => due.push(p),
                Err(problem) => {
                    tracing::warn!(%problem, "a timeout row cannot be re-checked until corrected");
                }
            }
        }
        Ok(due)
    }

    /// The last day whose report was completed.
    pub fn last_report_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        let day: Option<String> = self
            .conn
            .query_row("SELECT max(day) FROM report_runs", [], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }

    /// Records a finished report day with its `report.generated` event, in one transaction.
    /// A day is recorded and announced once: recording it again (a day redone) adds
    /// nothing, and the first record stands, as on PostgreSQL.
    pub fn record_report(
        &mut self,
        day: NaiveDate,
        files: &[String],
        event: &Value,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let files = serde_json::to_string(files).unwrap_or_else(|_| "[]".into());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded = tx.execute(
            "INSERT INTO report_runs (day, generated_at, files) VALUES (?1, ?2, ?3) \
             ON CONFLICT (day) DO NOTHING",
            params![day.format("%Y-%m-%d").to_string(), now, files],
        )?;
        if recorded == 1 {
            insert_operational_event_in(&tx, "report.generated", event, sinks, now)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes confirm attempts, callbacks, delivery tries and the callbacks' tally older
    /// than `before` (the evidence is kept for the same time) but the evidence of payments
    /// with an open case, and the callbacks that matched no payment older than
    /// `unmatched_before`; returns how many attempts and callbacks.
    pub fn prune_attempts(
        &mut self,
        before: Millis,
        unmatched_before: Millis,
    ) -> Result<usize, StoreError> {
        let attempts = self.conn.execute(
            &format!("DELETE FROM confirm_attempts WHERE at < ?1 AND NOT {UNDER_OPEN_CASE}"),
            [before],
        )?;
        let callbacks = self.conn.execute(
            &format!(
                "DELETE FROM callbacks WHERE (received_at < ?1 AND (payment_id IS NULL \
                 OR NOT {UNDER_OPEN_CASE})) OR (payment_id IS NULL AND received_at < ?2)"
            ),
            params![before, unmatched_before],
        )?;
        self.conn.execute(
            &format!("DELETE FROM delivery_attempts WHERE at < ?1 AND NOT {TRIES_UNDER_OPEN_CASE}"),
            [before],
        )?;
        self.conn.execute(
            "DELETE FROM callback_tally WHERE bucket < ?1",
            [bucket_of(before)],
        )?;
        Ok(attempts + callbacks)
    }

    /// Figures for `/metrics`, `/readyz` and systemd's STATUS line, each an index lookup
    /// but the counts, which visit every pending payment and every event: read only when
    /// `recount` (see `store::Db::gauges` for how often), else left at 0.
    pub fn gauges_reading(&mut self, recount: bool) -> Result<DbGauges, StoreError> {
        let (pending, events_by_state) = if recount {
            let pending = self
                .conn
                .prepare_cached(
                    "SELECT count(*) FROM payments INDEXED BY payments_due \
                     WHERE status = 'pending'",
                )?
                .query_row([], |r| r.get(0))?;
            let events = self
                .conn
                .prepare_cached("SELECT state, count(*) FROM events GROUP BY state ORDER BY state")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            (pending, events)
        } else {
            (0, Vec::new())
        };
        let c = &self.conn;
        let oldest: Option<Millis> = c
            .prepare_cached(
                "SELECT min(created_at) FROM payments INDEXED BY payments_pending_age \
                 WHERE status = 'pending' AND kind = 'invoice'",
            )?
            .query_row([], |r| r.get(0))?;
        // From the payouts' partial index alone: pending payouts are few.
        let (pending_payouts, overdue_payouts): (i64, i64) = c
            .prepare_cached(
                "SELECT count(*), count(overdue_at) FROM payments \
                 INDEXED BY payments_payouts_pending WHERE status = 'pending' AND kind != 'invoice'",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let last_report_at = c
            .prepare_cached("SELECT max(generated_at) FROM report_runs")?
            .query_row([], |r| r.get(0))?;
        Ok(DbGauges {
            pending,
            oldest_pending_created_at: oldest,
            pending_payouts,
            overdue_payouts,
            events_by_state,
            last_report_at,
            cases: self.case_gauges()?,
        })
    }
}
