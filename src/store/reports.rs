//! Queries for the nightly report: the day's facts, the re-check of timeouts, report runs
//! and attempt-log retention.

use super::due_row::{TIMEOUTS_SINCE_SQL, due_payment_or_problem};
use super::events::insert_operational_event_in;
use super::mistyped::LenientRow;
use super::{Store, StoreError};
use crate::payment::DuePayment;
use crate::payment::callback::bucket_of;
use crate::time::Millis;
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde_json::Value;

/// A payment as the report needs it. `amount` is what LigdiCash's last answer said, which
/// on a pending answer is the invoice's amount, not money paid: the report's one rule for
/// money (`report::figures::paid_xof`) decides when it counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentFact {
    pub token: String,
    pub transaction_id: Option<String>,
    pub request_id: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub expected_amount: Option<i64>,
    pub amount: Option<i64>,
    /// `None` when LigdiCash named no operator (it sends `""` while a payment is pending).
    pub operator_name: Option<String>,
    pub created_at: Millis,
    pub resolved_at: Option<Millis>,
    pub requeued: bool,
}

/// One confirm call of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFact {
    pub outcome: String,
    pub latency_ms: i64,
}

/// Everything read from the database for one day.
#[derive(Debug, Clone, Default)]
pub struct DayFacts {
    pub start: Millis,
    pub end: Millis,
    /// When the facts were read: before `end`, the day is not over.
    pub generated_at: Millis,
    /// Invoices that reached a final status during the day (payouts, money out, are in
    /// [`super::money_out`]).
    pub resolved: Vec<PaymentFact>,
    /// Invoices still pending when the day ended.
    pub pending_at_end: Vec<PaymentFact>,
    /// Tokens whose `payment.late_completed` event was emitted during the day.
    pub late_completed: Vec<String>,
    pub attempts: Vec<AttemptFact>,
    pub events_pending: i64,
    pub events_dead: i64,
    /// LigdiCash callbacks of the day that matched no payment (counted, a sample kept).
    pub unmatched_callbacks: i64,
    /// Payments of any kind a callback of the day contradicted, whose status still stands
    /// (LigdiCash upheld it, or its re-check is still to come); the reason says what the
    /// callback said ([`contradiction_reason`]).
    pub contradicted: Vec<PaymentFact>,
}

/// Which of a day's callbacks (grouped by payment and claim: `said`, and the last one's
/// time `last_at`) contradict their payment's status as it stands: received after that
/// status was given (a callback before it was news, not a contradiction), and claiming the
/// opposite.
pub(crate) const CONTRADICTED_WHERE: &str = "last_at >= resolved_at AND (\
    (said = 'completed' AND status IN ('notcompleted', 'timeout', 'invalid_token')) \
    OR (said = 'notcompleted' AND status IN ('completed', 'mismatch')))";

/// Why a contradicted payment is listed (`report::i18n::reason` translates it).
pub fn contradiction_reason(said: &str, status: &str) -> String {
    format!("a callback said {said}, LigdiCash says {status}")
}

/// What the database says at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbGauges {
    pub pending: i64,
    /// Of the oldest pending invoice: payouts may stay pending for days.
    pub oldest_pending_created_at: Option<Millis>,
    pub pending_payouts: i64,
    /// Pending payouts past `overdue_after` (announced by `payout.overdue`).
    pub overdue_payouts: i64,
    pub events_by_state: Vec<(String, i64)>,
    pub last_report_at: Option<Millis>,
}

/// `expected_amount` is read only when it is an integer: a value of another type the shop
/// wrote (see `Store::due`) must not stop every report; it shows as no expected amount.
const FACT_COLUMNS: &str = "token, transaction_id, request_id, status, status_reason, \
    CASE typeof(expected_amount) WHEN 'integer' THEN expected_amount END, amount, \
    nullif(trim(operator_name), ''), created_at, resolved_at, requeued_at IS NOT NULL";

/// Read leniently: a row the shop wrote with a value of the wrong type (a BLOB token, a
/// text `created_at`) is parked by the poller and must not stop every report; its bad
/// fields read as empty.
fn fact(r: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentFact> {
    let mut r = LenientRow::new(r);
    Ok(PaymentFact {
        token: r.text(0)?,
        transaction_id: r.text(1)?,
        request_id: r.text(2)?,
        status: r.text(3)?,
        status_reason: r.text(4)?,
        expected_amount: r.int(5)?,
        amount: r.int(6)?,
        operator_name: r.text(7)?,
        created_at: r.int(8)?,
        resolved_at: r.int(9)?,
        requeued: r.int(10)?,
    })
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
        let resolved = c
            .prepare(&format!(
                "SELECT {FACT_COLUMNS} FROM payments WHERE kind = 'invoice' \
                 AND status != 'pending' AND resolved_at >= ?1 AND resolved_at < ?2 \
                 ORDER BY resolved_at, id"
            ))?
            .query_map(params![start, end], fact)?
            .collect::<Result<_, _>>()?;
        // Pending at the end of the day: created before it ended and not resolved by then.
        let pending_at_end = c
            .prepare(&format!(
                "SELECT {FACT_COLUMNS} FROM payments WHERE kind = 'invoice' AND created_at < ?1 \
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
                "SELECT {FACT_COLUMNS}, said FROM payments JOIN (SELECT payment_id, \
                 lower(trim(said_status)) AS said, max(received_at) AS last_at FROM callbacks \
                 WHERE received_at >= ?1 AND received_at < ?2 AND payment_id IS NOT NULL \
                 GROUP BY 1, 2) ON payment_id = payments.id WHERE {CONTRADICTED_WHERE} \
                 ORDER BY last_at, token"
            ))?
            .query_map(params![start, end], |r| {
                let mut p = fact(r)?;
                let said: String = r.get(11)?;
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
        event: Value,
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

    /// Deletes confirm attempts, callbacks and their tally older than `before` (the
    /// evidence is kept for the same time), and the callbacks that matched no payment
    /// older than `unmatched_before`; returns how many attempts and callbacks.
    pub fn prune_attempts(
        &mut self,
        before: Millis,
        unmatched_before: Millis,
    ) -> Result<usize, StoreError> {
        let attempts = self
            .conn
            .execute("DELETE FROM confirm_attempts WHERE at < ?1", [before])?;
        let callbacks = self.conn.execute(
            "DELETE FROM callbacks WHERE received_at < ?1 \
             OR (payment_id IS NULL AND received_at < ?2)",
            params![before, unmatched_before],
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
    pub fn gauges(&mut self, recount: bool) -> Result<DbGauges, StoreError> {
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
        })
    }
}
