//! Queries on `payments` for PostgreSQL: enqueue, the due scan as a claim, lookups for the
//! scheduler, requeue. The SQLite versions are in `store::payments`; the rules are theirs.
//!
//! The claim (`due`) is the cluster's one new rule. A row is claimable when it is pending
//! and due, no live lease holds it (`claim_expires_at` passed: its node finished or died),
//! and its last confirm was answered at least `min_interval` ago, whatever node sent it
//! (`last_sent_at`: written by this claim before the request leaves, moved up to the
//! answer's time by the outcome). `FOR UPDATE
//! SKIP LOCKED` lets claimers pass over each other's rows instead of waiting: no row is
//! claimed by two nodes, none waits on another's transaction.

use super::cached::Cached;
use super::lock::SCHEDULE_LOCK;
use super::{PgStore, read};
use crate::payment::{DuePayment, Kind, NewPayment, REQUEUED_FROM, Status};
use crate::store::StoreError;
use crate::store::model::SCHEDULE_BATCH;
use crate::store::{Enqueued, Requeued};
use crate::time::Millis;
use std::collections::HashSet;
use std::sync::LazyLock;
use tokio_postgres::types::ToSql;

/// The columns [`read::due_payment`] reads, in its order.
pub(super) const DUE_COLUMNS: &str = "id, token, transaction_id, expected_amount, attempts, \
    not_found_streak, created_at, requeued_at, status_reason, status, last_confirm_at, kind, \
    overdue_at IS NOT NULL, coalesce(next_poll_at, recheck_at)";

/// Claims up to `$5` due rows for node `$1` at `$2` with a lease of `$3` ms, leaving out
/// ids `$6` (this node's in-flight rows) and rows confirmed less than `$4` ms ago. NULL is
/// "never": not `coalesce(.., 0)`, which would hold back a never-sent row while `now` is
/// below `min_interval` (a clock near the epoch, as in tests).
const CLAIM_SQL: &str = "UPDATE payments SET claimed_by = $1, claim_expires_at = $2 + $3, \
    last_sent_at = $2 WHERE id IN (SELECT id FROM payments WHERE status = 'pending' \
    AND next_poll_at <= $2 AND (claim_expires_at IS NULL OR claim_expires_at <= $2) \
    AND (last_sent_at IS NULL OR last_sent_at <= $2 - $4) AND NOT (id = ANY($6)) \
    ORDER BY next_poll_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING ";

/// Claims, as [`CLAIM_SQL`] does, final payments due for one more confirm: a callback
/// contradicted their status (`recheck_at`).
const CLAIM_RECHECK_SQL: &str = "UPDATE payments SET claimed_by = $1, \
    claim_expires_at = $2 + $3, last_sent_at = $2 WHERE id IN (SELECT id FROM payments \
    WHERE recheck_at <= $2 AND status <> 'pending' \
    AND (claim_expires_at IS NULL OR claim_expires_at <= $2) \
    AND (last_sent_at IS NULL OR last_sent_at <= $2 - $4) AND NOT (id = ANY($6)) \
    ORDER BY recheck_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING ";

static CLAIM: LazyLock<String> = LazyLock::new(|| format!("{CLAIM_SQL}{DUE_COLUMNS}"));
static CLAIM_RECHECK: LazyLock<String> =
    LazyLock::new(|| format!("{CLAIM_RECHECK_SQL}{DUE_COLUMNS}"));

/// Whether the shop inserted rows without a schedule: the first of them in the order of
/// the partial index `payments_unscheduled`, so the planner reads that index. An `EXISTS`
/// (whose `ORDER BY` the planner drops) looks cheaper as a sequential scan that stops at
/// the first match, and when there is none, that reads every payment on every scan.
const UNSCHEDULED_SQL: &str = "SELECT (SELECT 1 FROM payments \
    WHERE status = 'pending' AND next_poll_at IS NULL ORDER BY created_at LIMIT 1) IS NOT NULL";

/// Schedules up to `$3` of those rows (`$1`: invoices' first delay, `$2`: payouts'). The
/// rows are locked by the subquery and re-checked, so a row the shop just scheduled or a
/// confirm just resolved is left as it is. `= ANY(ARRAY(..))` reaches the rows by their
/// key; `IN (..)` was planned as a hash join over the whole table.
const SCHEDULE_SQL: &str = "UPDATE payments SET next_poll_at = created_at + \
    CASE kind WHEN 'invoice' THEN $1::bigint ELSE $2::bigint END \
    WHERE id = ANY(ARRAY(SELECT id FROM payments WHERE status = 'pending' \
    AND next_poll_at IS NULL ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED))";

impl PgStore {
    /// Adds a pending payment. Idempotent on the token; the same token with other data is
    /// a [`StoreError::Conflict`] and writes nothing.
    pub async fn enqueue(
        &self,
        p: &NewPayment,
        now: Millis,
        first_poll_at: Millis,
    ) -> Result<Enqueued, StoreError> {
        let conn = self.conn().await?;
        // One statement: a concurrent enqueue of the same token (another node, the shop)
        // meets the unique index and reads the winner's row below instead of failing.
        let inserted = conn
            .execute_cached(
                "INSERT INTO payments (token, transaction_id, expected_amount, next_poll_at, \
                 created_at, updated_at, kind) VALUES ($1, $2, $3, $4, $5, $5, $6) \
                 ON CONFLICT (token) DO NOTHING",
                &[
                    &p.token,
                    &p.transaction_id,
                    &p.expected_amount,
                    &first_poll_at,
                    &now,
                    &p.kind.as_str(),
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok(Enqueued::Inserted);
        }
        let row = conn
            .query_one_cached(
                "SELECT transaction_id, expected_amount, kind FROM payments WHERE token = $1",
                &[&p.token],
            )
            .await?;
        let (transaction_id, expected_amount, kind): (Option<String>, Option<i64>, Kind) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        Enqueued::again(
            &p.token,
            transaction_id == p.transaction_id,
            expected_amount == p.expected_amount,
            kind == p.kind,
        )
    }

    /// Gives rows the shop inserted with plain SQL their first poll time:
    /// `created_at + first_delay` of their kind, [`SCHEDULE_BATCH`] rows per transaction,
    /// one node at a time: a node that finds another scheduling (the advisory lock
    /// [`SCHEDULE_LOCK`]) leaves the rows to it, where all nodes used to run the same
    /// million-row update at once, each waiting on the others' row locks. An index probe
    /// first, so a scan with nothing to schedule costs one lookup.
    pub async fn schedule_unscheduled(
        &self,
        first_delay_ms: Millis,
        payout_first_delay_ms: Millis,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        let probe = conn.prepare_cached(UNSCHEDULED_SQL).await?;
        if !conn.query_one(&probe, &[]).await?.try_get::<_, bool>(0)? {
            return Ok(0);
        }
        let mut scheduled = 0;
        loop {
            let tx = conn.transaction().await?;
            let turn: bool = tx
                .query_one_cached("SELECT pg_try_advisory_xact_lock($1)", &[&SCHEDULE_LOCK])
                .await?
                .try_get(0)?;
            if !turn {
                return Ok(scheduled);
            }
            let n = tx
                .execute_cached(
                    SCHEDULE_SQL,
                    &[&first_delay_ms, &payout_first_delay_ms, &SCHEDULE_BATCH],
                )
                .await?;
            tx.commit().await?;
            scheduled += n as usize;
            if (n as i64) < SCHEDULE_BATCH {
                return Ok(scheduled);
            }
        }
    }

    /// Claims up to `limit` due payments for this node, soonest first, leaving out those in
    /// `skip` (in flight here). See the module docs for what is claimable.
    pub async fn due(
        &self,
        now: Millis,
        limit: usize,
        skip: &HashSet<i64>,
    ) -> Result<Vec<DuePayment>, StoreError> {
        let c = &self.claims;
        let skip: Vec<i64> = skip.iter().copied().collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.conn().await?;
        let claim = conn.prepare_cached(&CLAIM).await?;
        let params = [
            &c.node as &(dyn ToSql + Sync),
            &now,
            &c.lease,
            &c.min_interval,
        ];
        let mut rows = conn
            .query(
                &claim,
                &[params[0], params[1], params[2], params[3], &limit, &skip],
            )
            .await?;
        let room = limit - i64::try_from(rows.len()).unwrap_or(limit);
        if room > 0 {
            let recheck = conn.prepare_cached(&CLAIM_RECHECK).await?;
            let more = [params[0], params[1], params[2], params[3], &room, &skip];
            rows.extend(conn.query(&recheck, &more).await?);
        }
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            let next_poll_at: Option<Millis> = row.try_get(13)?;
            let mut payment = read::due_payment(row)?;
            payment.send_by = Some(now.saturating_add(c.send_window));
            due.push((next_poll_at, payment));
        }
        // RETURNING keeps no order. SQLite's order: pending payments soonest first (ties
        // by id), then the final ones to confirm once more, however early those are due.
        due.sort_by_key(|(at, p)| (p.status != Status::Pending, *at, p.id));
        Ok(due.into_iter().map(|(_, p)| p).collect())
    }

    /// The earliest poll time strictly after `now`, to sleep until.
    pub async fn next_due_after(&self, now: Millis) -> Result<Option<Millis>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt_cached(
                "SELECT next_poll_at FROM payments WHERE status = 'pending' \
                 AND next_poll_at > $1 ORDER BY next_poll_at LIMIT 1",
                &[&now],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Whether any payment is still pending, leaving out payouts already announced as
    /// overdue (as SQLite's; there are no parked rows here). Ordered by `payments_due`'s
    /// key so that index is read, not the table (see [`UNSCHEDULED_SQL`]).
    pub async fn any_pending(&self) -> Result<bool, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one_cached(
                "SELECT (SELECT 1 FROM payments WHERE status = 'pending' \
                 AND overdue_at IS NULL ORDER BY next_poll_at LIMIT 1) IS NOT NULL \
                 OR EXISTS (SELECT 1 FROM payments WHERE recheck_at IS NOT NULL)",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Payments per status, every status present (zero when none).
    pub async fn status_counts(&self) -> Result<Vec<(Status, i64)>, StoreError> {
        let mut counts: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        let rows = self
            .conn()
            .await?
            .query_cached("SELECT status, count(*) FROM payments GROUP BY status", &[])
            .await?;
        for row in rows {
            let (status, n): (Status, i64) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
                slot.1 = n;
            }
        }
        Ok(counts)
    }

    /// Puts a `timeout` or `invalid_token` payment back to `pending`, due now, with a fresh
    /// `give_up_after` window and backoff. An expired claim is cleared; a live one (the
    /// re-check or a confirm-now has a call in flight) stays until its outcome or its lease,
    /// so no poller sends beside that call; `last_sent_at` stays, so the 3 s floor still
    /// holds from its last confirm.
    pub async fn requeue(&self, token: &str, now: Millis) -> Result<Requeued, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let status: Status = tx
            .query_opt_cached(
                "SELECT status FROM payments WHERE token = $1 FOR UPDATE",
                &[&token],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(token.to_owned()))?
            .try_get(0)?;
        if !status.is_requeueable() {
            return Err(StoreError::NotRequeueable {
                token: token.to_owned(),
                status: status.as_str().to_owned(),
            });
        }
        // The reason remembers the earlier verdict: a requeued timeout that completes is a
        // late completion.
        tx.execute_cached(
            "UPDATE payments SET status = 'pending', status_reason = $3, resolved_at = NULL, \
             attempts = 0, not_found_streak = 0, next_poll_at = $2, requeued_at = $2, \
             updated_at = $2, overdue_at = NULL, \
             claimed_by = CASE WHEN claim_expires_at > $2 THEN claimed_by END, \
             claim_expires_at = CASE WHEN claim_expires_at > $2 THEN claim_expires_at END \
             WHERE token = $1",
            &[&token, &now, &format!("{REQUEUED_FROM}{status}")],
        )
        .await?;
        tx.commit().await?;
        Ok(Requeued::Reopened(status))
    }
}
