//! The one PostgreSQL writer of confirm outcomes, as `sqlite::outcomes` is SQLite's: the
//! attempt log, the payment's new state and, for a final transition, its outbox event, in
//! one transaction per batch. What each outcome writes is decided in the model
//! ([`AnswerColumns`], [`final_event`], [`NewEvent`]); this file only binds it.
//!
//! Every write is a compare-and-set on the status the payment was claimed in, and a final
//! one also on the `status_reason` seen at claim: a payment is finalised at most once, with
//! one event. A payout's overdue mark is a compare-and-set on `overdue_at IS NULL`. One
//! more condition for the cluster: the row is not held by *another* node's claim (a node
//! whose lease expired and whose row was taken over writes nothing but its attempt log);
//! the write clears the claim, and moves `last_sent_at` up to the time the call was
//! answered (the claim wrote its own time, earlier): LigdiCash had the request by then, so
//! the next claim keeps the 3 s floor from it whatever the request's transit time.
//!
//! Round trips, not rows, are what a batch costs when the database is on another machine,
//! and the transaction holds its row locks for all of them. So the batch is pipelined:
//! every attempt and every payment write is sent at once (one round trip; the server runs
//! them in order, exactly as one by one), then every event and overdue mark (a second),
//! then the rare overdue events (a third). Statements are prepared once per connection.

use super::PgStore;
use super::events::{facts, insert_event};
use crate::payment::{Applied, Change, ConfirmOutcome, PAYOUT_OVERDUE};
use crate::store::read::FACT_COLUMNS;
use crate::store::{AnswerColumns, NewEvent, PaymentFacts, StoreError, final_event, logged_answer};
use crate::time::Millis;
use deadpool_postgres::Transaction;
use futures_util::future::{try_join, try_join_all};
use std::sync::LazyLock;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

/// The answer's columns, bound at `$1..$12` by [`answer_params`]: `coalesce($N, column)`,
/// so a field a later answer leaves empty keeps its last value; the amount as the model's
/// `replaces_amount` (`$12`) says.
const ANSWER_SET: &str = "provider_status = coalesce($1, provider_status), \
    amount = CASE WHEN $12 THEN $2 ELSE coalesce($2, amount) END, \
    operator_id = coalesce($3, operator_id), operator_name = coalesce($4, operator_name), \
    customer = coalesce($5, customer), request_id = coalesce($6, request_id), \
    external_id = coalesce($7, external_id), \
    confirmed_transaction_id = coalesce($8, confirmed_transaction_id), \
    oreference = coalesce($9, oreference), provider_date = coalesce($10, provider_date), \
    raw_response = coalesce($11, raw_response)";

/// Every write clears the claim and keeps `last_sent_at` from the answer (`$13`); it
/// applies while the row is in the status claimed (`$15`) and this node's (`$16`) or
/// nobody's, `$14` being its id.
const CLAIMED_ROW: &str = "last_sent_at = GREATEST(last_sent_at, $13), claimed_by = NULL, \
    claim_expires_at = NULL WHERE id = $14 AND status = $15 \
    AND (claimed_by IS NULL OR claimed_by = $16)";

static FINALIZE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE payments SET {ANSWER_SET}, status = $17, status_reason = $18, \
         resolved_at = $19, updated_at = $19, last_confirm_at = $20, attempts = attempts + 1, \
         last_error = NULL, next_poll_at = NULL, recheck_at = NULL, {CLAIMED_ROW} \
         AND status_reason IS NOT DISTINCT FROM $21 RETURNING {FACT_COLUMNS}"
    )
});

/// A callback received after this call was sent (while it was in flight) made the payment
/// due at once; this reschedule keeps that, floored at `$23`.
static RESCHEDULE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE payments SET {ANSWER_SET}, next_poll_at = CASE WHEN EXISTS \
         (SELECT 1 FROM callbacks WHERE payment_id = $14 AND received_at >= $20) \
         THEN LEAST($17::bigint, $23::bigint) ELSE $17::bigint END, attempts = attempts + $18, \
         not_found_streak = $21, last_error = $22, updated_at = $19, last_confirm_at = $20, \
         {CLAIMED_ROW} RETURNING id"
    )
});

static UNTOUCHED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE payments SET {ANSWER_SET}, last_error = $17, updated_at = $18, {CLAIMED_ROW} \
         RETURNING id"
    )
});

/// A re-check left the status as it is: done, or tried again at `$19`.
static RECHECK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE payments SET {ANSWER_SET}, last_error = $17, updated_at = $18, \
         recheck_at = $19, last_confirm_at = $20, {CLAIMED_ROW} RETURNING id"
    )
});

static OVERDUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE payments SET overdue_at = $1 WHERE id = $2 AND status = 'pending' \
         AND overdue_at IS NULL RETURNING {FACT_COLUMNS}"
    )
});

/// Logs one confirm call, with its answer as the log keeps it ([`logged_answer`]).
const ATTEMPT: &str = "INSERT INTO confirm_attempts (payment_id, at, latency_ms, http_status, \
    response_code, provider_status, outcome, error, answer) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl PgStore {
    /// Writes a batch of confirm outcomes in one transaction, with one outbox event
    /// (delivered to `sinks`) per payment it finalises.
    pub async fn apply_outcomes(
        &self,
        outcomes: &[ConfirmOutcome],
        now: Millis,
        sinks: &[String],
    ) -> Result<Vec<Applied>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let s = Statements::cached(&tx).await?;
        let node = self.claims.node.as_str();
        let written = try_join_all(outcomes.iter().map(|o| s.write(&tx, o, now, node))).await?;
        try_join_all(
            outcomes
                .iter()
                .zip(&written)
                .map(|(o, w)| s.announce(&tx, o, w, now, sinks)),
        )
        .await?;
        tx.commit().await?;
        Ok(outcomes
            .iter()
            .zip(written)
            .map(|(o, w)| Applied {
                payment_id: o.payment_id,
                finalized: match (&o.change, w.changed) {
                    (Change::Finalize { status, .. }, true) => Some(*status),
                    _ => None,
                },
                stale: !w.changed,
            })
            .collect())
    }
}

/// What one outcome's write did.
struct Written {
    changed: bool,
    /// The payment as finalised, for its event.
    finalized: Option<PaymentFacts>,
}

/// The statements of the batch, prepared once per connection.
struct Statements {
    attempt: Statement,
    finalize: Statement,
    reschedule: Statement,
    untouched: Statement,
    recheck: Statement,
    overdue: Statement,
}

/// The parameters of [`ANSWER_SET`].
fn answer_params<'a>(c: &'a AnswerColumns<'a>) -> [&'a (dyn ToSql + Sync); 12] {
    [
        &c.status,
        &c.amount,
        &c.operator_id,
        &c.operator_name,
        &c.customer,
        &c.request_id,
        &c.external_id,
        &c.transaction_id,
        &c.oreference,
        &c.provider_date,
        &c.raw_response,
        &c.replaces_amount,
    ]
}

impl Statements {
    async fn cached(tx: &Transaction<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            attempt: tx.prepare_cached(ATTEMPT).await?,
            finalize: tx.prepare_cached(&FINALIZE).await?,
            reschedule: tx.prepare_cached(&RESCHEDULE).await?,
            untouched: tx.prepare_cached(&UNTOUCHED).await?,
            recheck: tx.prepare_cached(&RECHECK).await?,
            overdue: tx.prepare_cached(&OVERDUE).await?,
        })
    }

    /// Logs the call and updates the payment if it is still as claimed: two statements
    /// sent together.
    async fn write(
        &self,
        tx: &Transaction<'_>,
        o: &ConfirmOutcome,
        now: Millis,
        node: &str,
    ) -> Result<Written, StoreError> {
        let answer = o.answer.as_ref();
        let http_status = o.http_status.map(i32::from);
        let (code, said) = (
            answer.and_then(|a| a.response_code.as_deref()),
            answer.and_then(|a| a.status.as_deref()),
        );
        let kept = logged_answer(o);
        let kept = kept.as_deref();
        let logged: [&(dyn ToSql + Sync); 9] = [
            &o.payment_id,
            &o.at,
            &o.latency_ms,
            &http_status,
            &code,
            &said,
            &o.outcome,
            &o.error,
            &kept,
        ];
        let attempt = tx.execute(&self.attempt, &logged);
        let columns = AnswerColumns::of(o);
        let answered = o.at.saturating_add(o.latency_ms);
        let from = o.from.as_str();
        let claimed: [&(dyn ToSql + Sync); 4] = [&answered, &o.payment_id, &from, &node];
        let head = answer_params(&columns).into_iter().chain(claimed);
        let (statement, params): (&Statement, Vec<_>) = match &o.change {
            Change::Finalize { status, reason } => {
                let status = status.as_str();
                let tail: [&(dyn ToSql + Sync); 5] =
                    [&status, reason, &now, &o.at, &o.claimed_reason];
                let rows = try_join(
                    attempt,
                    tx.query(&self.finalize, &head.chain(tail).collect::<Vec<_>>()),
                )
                .await?
                .1;
                return Ok(Written {
                    changed: !rows.is_empty(),
                    finalized: rows.first().map(facts).transpose()?,
                });
            }
            Change::Reschedule {
                next_poll_at,
                callback_poll_at,
                count_attempt,
                not_found_streak,
                ..
            } => {
                let count = i64::from(*count_attempt);
                let tail: [&(dyn ToSql + Sync); 7] = [
                    next_poll_at,
                    &count,
                    &now,
                    &o.at,
                    not_found_streak,
                    &o.error,
                    callback_poll_at,
                ];
                let rows = try_join(
                    attempt,
                    tx.query(&self.reschedule, &head.chain(tail).collect::<Vec<_>>()),
                )
                .await?
                .1;
                return Ok(Written {
                    changed: !rows.is_empty(),
                    finalized: None,
                });
            }
            Change::Untouched => (
                &self.untouched,
                head.chain([&o.error as _, &now as _]).collect(),
            ),
            Change::Recheck { again_at } => (
                &self.recheck,
                head.chain([&o.error as _, &now as _, again_at as _, &o.at as _])
                    .collect(),
            ),
        };
        let rows = try_join(attempt, tx.query(statement, &params)).await?.1;
        Ok(Written {
            changed: !rows.is_empty(),
            finalized: None,
        })
    }

    /// The outbox event of a final transition ([`final_event`]); or a pending payout's
    /// overdue mark and its `payout.overdue` event, unless it already was (once per payout).
    async fn announce(
        &self,
        tx: &Transaction<'_>,
        o: &ConfirmOutcome,
        w: &Written,
        now: Millis,
        sinks: &[String],
    ) -> Result<(), StoreError> {
        match (&o.change, &w.finalized) {
            (Change::Finalize { status, .. }, Some(facts)) => {
                if let Some(kind) = final_event(o, *status) {
                    insert_event(tx, &NewEvent::payment(kind, facts, now, sinks)).await?;
                }
            }
            (Change::Reschedule { overdue: true, .. }, _) if w.changed => {
                let Some(row) = tx.query_opt(&self.overdue, &[&o.at, &o.payment_id]).await? else {
                    return Ok(());
                };
                let facts = facts(&row)?;
                insert_event(tx, &NewEvent::payment(PAYOUT_OVERDUE, &facts, now, sinks)).await?;
                tracing::warn!(token = %o.token, kind = o.kind.as_str(), "payout still pending past overdue_after: it needs a human (payout.overdue)");
            }
            _ => {}
        }
        Ok(())
    }
}
