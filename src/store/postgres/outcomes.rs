//! The one PostgreSQL writer of confirm outcomes, as `store::outcomes` is SQLite's: the
//! attempt log, the payment's new state and, for a final transition, its outbox event, in
//! one transaction per batch.
//!
//! Every write is a compare-and-set on the status the payment was claimed in, and a final
//! one also on the `status_reason` seen at claim: a payment is finalised at most once, with
//! one event. A payout's overdue mark is a compare-and-set on `overdue_at IS NULL`. One
//! more condition for the cluster: the row is not held by *another* node's claim (a node
//! whose lease expired and whose row was taken over writes nothing but its attempt log);
//! the write clears the claim, and moves `last_sent_at` up to the time the call was
//! answered (the claim wrote its own time, earlier): LigdiCash had the request by then, so
//! the next claim keeps the 3 s floor from it whatever the request's transit time.

use super::PgStore;
use super::events::{facts, insert_event};
use crate::payment::{
    Applied, Change, ConfirmOutcome, PAYOUT_OVERDUE, Status, requeued_from_timeout,
    transition_event,
};
use crate::store::StoreError;
use crate::store::payment_payload;
use crate::store::read::FACT_COLUMNS;
use crate::time::Millis;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Statement, Transaction};

/// The answer's columns, as `coalesce($N, column)` so a field a later answer leaves empty
/// keeps its last value; bound at `$1..$11` by [`answer_params`].
const ANSWER_SET: &str = "provider_status = coalesce($1, provider_status), \
    amount = coalesce($2, amount), operator_id = coalesce($3, operator_id), \
    operator_name = coalesce($4, operator_name), customer = coalesce($5, customer), \
    request_id = coalesce($6, request_id), external_id = coalesce($7, external_id), \
    confirmed_transaction_id = coalesce($8, confirmed_transaction_id), \
    oreference = coalesce($9, oreference), provider_date = coalesce($10, provider_date), \
    raw_response = coalesce($11, raw_response)";

/// Clears the claim; the row is this node's or nobody's (`$N` is the node).
const CLAIM_CLEARED: &str = "claimed_by = NULL, claim_expires_at = NULL";

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
        let writes = Writes::prepare(&tx).await?;
        let mut applied = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            applied.push(writes.apply(&tx, o, now, sinks, &self.claims.node).await?);
        }
        tx.commit().await?;
        Ok(applied)
    }
}

/// The statements of one batch, prepared once.
struct Writes {
    attempt: Statement,
    finalize: Statement,
    reschedule: Statement,
    untouched: Statement,
    recheck: Statement,
    overdue: Statement,
}

/// The parameters of [`ANSWER_SET`].
fn answer_params(o: &ConfirmOutcome) -> [&(dyn ToSql + Sync); 11] {
    const NONE: &Option<String> = &None;
    const NO_AMOUNT: &Option<i64> = &None;
    match &o.answer {
        Some(a) => [
            &a.status,
            &a.amount,
            &a.operator_id,
            &a.operator_name,
            &a.customer,
            &a.request_id,
            &a.external_id,
            &a.custom_transaction_id,
            &a.oreference,
            &a.date,
            &o.raw_body,
        ],
        None => [
            NONE,
            NO_AMOUNT,
            NONE,
            NONE,
            NONE,
            NONE,
            NONE,
            NONE,
            NONE,
            NONE,
            &o.raw_body,
        ],
    }
}

impl Writes {
    async fn prepare(tx: &Transaction<'_>) -> Result<Self, StoreError> {
        // As on SQLite: the final answer's amount is taken as it is, empty included (an
        // amount a pending answer carried is not money paid); without a status, it stays.
        let final_set = ANSWER_SET.replace(
            "amount = coalesce($2, amount)",
            "amount = CASE WHEN $1::text IS NULL THEN amount ELSE $2 END",
        );
        let finalize = format!(
            "UPDATE payments SET {final_set}, status = $12, status_reason = $13, \
             resolved_at = $14, updated_at = $14, last_confirm_at = $15, \
             last_sent_at = GREATEST(last_sent_at, $20), attempts = attempts + 1, last_error = NULL, next_poll_at = NULL, \
             recheck_at = NULL, {CLAIM_CLEARED} \
             WHERE id = $16 AND status = $18 AND status_reason IS NOT DISTINCT FROM $17 \
             AND (claimed_by IS NULL OR claimed_by = $19) RETURNING {FACT_COLUMNS}"
        );
        let reschedule = format!(
            "UPDATE payments SET {ANSWER_SET}, next_poll_at = CASE WHEN EXISTS \
             (SELECT 1 FROM callbacks WHERE payment_id = $18 AND received_at >= $17) \
             THEN LEAST($12::bigint, $22::bigint) ELSE $12::bigint END, attempts = attempts + $13, \
             not_found_streak = $14, last_error = $15, updated_at = $16, last_confirm_at = $17, \
             last_sent_at = GREATEST(last_sent_at, $21), {CLAIM_CLEARED} WHERE id = $18 AND status = $19 \
             AND (claimed_by IS NULL OR claimed_by = $20)"
        );
        let untouched = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = $12, updated_at = $13, \
             last_sent_at = GREATEST(last_sent_at, $17), {CLAIM_CLEARED} WHERE id = $14 AND status = $15 \
             AND (claimed_by IS NULL OR claimed_by = $16)"
        );
        // A re-check left the status as it is: done, or tried again at `$18`.
        let recheck = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = $12, updated_at = $13, \
             last_confirm_at = $19, recheck_at = $18, \
             last_sent_at = GREATEST(last_sent_at, $17), {CLAIM_CLEARED} WHERE id = $14 AND status = $15 \
             AND (claimed_by IS NULL OR claimed_by = $16)"
        );
        Ok(Self {
            recheck: tx.prepare(&recheck).await?,
            attempt: tx
                .prepare(
                    "INSERT INTO confirm_attempts (payment_id, at, latency_ms, http_status, \
                     response_code, provider_status, outcome, error) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .await?,
            finalize: tx.prepare(&finalize).await?,
            reschedule: tx.prepare(&reschedule).await?,
            untouched: tx.prepare(&untouched).await?,
            overdue: tx
                .prepare(&format!(
                    "UPDATE payments SET overdue_at = $1 WHERE id = $2 AND status = 'pending' \
                     AND overdue_at IS NULL RETURNING {FACT_COLUMNS}"
                ))
                .await?,
        })
    }

    /// Logs the call, updates the payment if it is still as claimed, and records the
    /// event of a final transition.
    async fn apply(
        &self,
        tx: &Transaction<'_>,
        o: &ConfirmOutcome,
        now: Millis,
        sinks: &[String],
        node: &str,
    ) -> Result<Applied, StoreError> {
        let answer = o.answer.as_ref();
        let http_status = o.http_status.map(i32::from);
        let (code, said) = (
            answer.and_then(|a| a.response_code.as_deref()),
            answer.and_then(|a| a.status.as_deref()),
        );
        tx.execute(
            &self.attempt,
            &[
                &o.payment_id,
                &o.at,
                &o.latency_ms,
                &http_status,
                &code,
                &said,
                &o.outcome,
                &o.error,
            ],
        )
        .await?;
        let head = answer_params(o);
        let from = o.from.as_str();
        let answered = o.at.saturating_add(o.latency_ms);
        let (changed, finalized) = match &o.change {
            Change::Finalize { status, reason } => {
                let tail: [&(dyn ToSql + Sync); 9] = [
                    &status.as_str(),
                    reason,
                    &now,
                    &o.at,
                    &o.payment_id,
                    &o.claimed_reason,
                    &from,
                    &node,
                    &answered,
                ];
                let params: Vec<_> = head.iter().chain(&tail).copied().collect();
                match tx.query_opt(&self.finalize, &params).await? {
                    Some(row) => {
                        self.record_event(tx, o, *status, &facts(&row)?, sinks, now)
                            .await?;
                        (true, Some(*status))
                    }
                    None => (false, None),
                }
            }
            Change::Reschedule {
                next_poll_at,
                callback_poll_at,
                count_attempt,
                not_found_streak,
                overdue,
            } => {
                let tail: [&(dyn ToSql + Sync); 11] = [
                    next_poll_at,
                    &i64::from(*count_attempt),
                    not_found_streak,
                    &o.error,
                    &now,
                    &o.at,
                    &o.payment_id,
                    &from,
                    &node,
                    &answered,
                    callback_poll_at,
                ];
                let params: Vec<_> = head.iter().chain(&tail).copied().collect();
                let n = tx.execute(&self.reschedule, &params).await?;
                if n == 1 && *overdue {
                    self.mark_overdue(tx, o, sinks, now).await?;
                }
                (n == 1, None)
            }
            Change::Untouched => {
                let tail: [&(dyn ToSql + Sync); 6] =
                    [&o.error, &now, &o.payment_id, &from, &node, &answered];
                let params: Vec<_> = head.iter().chain(&tail).copied().collect();
                (tx.execute(&self.untouched, &params).await? == 1, None)
            }
            Change::Recheck { again_at } => {
                let tail: [&(dyn ToSql + Sync); 8] = [
                    &o.error,
                    &now,
                    &o.payment_id,
                    &from,
                    &node,
                    &answered,
                    again_at,
                    &o.at,
                ];
                let params: Vec<_> = head.iter().chain(&tail).copied().collect();
                (tx.execute(&self.recheck, &params).await? == 1, None)
            }
        };
        Ok(Applied {
            payment_id: o.payment_id,
            finalized,
            stale: !changed,
        })
    }

    /// Marks a pending payout overdue and emits its `payout.overdue` event, unless it
    /// already was (the event goes out once per payout).
    async fn mark_overdue(
        &self,
        tx: &Transaction<'_>,
        o: &ConfirmOutcome,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let Some(row) = tx.query_opt(&self.overdue, &[&o.at, &o.payment_id]).await? else {
            return Ok(());
        };
        let facts = facts(&row)?;
        let payload = |id: &str| payment_payload(PAYOUT_OVERDUE, id, now, &facts);
        insert_event(tx, PAYOUT_OVERDUE, Some(&facts.token), payload, sinks, now).await?;
        tracing::warn!(token = %o.token, kind = o.kind.as_str(), "payout still pending past overdue_after: it needs a human (payout.overdue)");
        Ok(())
    }

    /// The outbox event of a final transition, if it has one ([`transition_event`]).
    async fn record_event(
        &self,
        tx: &Transaction<'_>,
        o: &ConfirmOutcome,
        status: Status,
        facts: &crate::store::PaymentFacts,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let late = requeued_from_timeout(o.claimed_reason.as_deref());
        let Some(kind) = transition_event(o.kind, o.from, status, late) else {
            return Ok(());
        };
        let payload = |id: &str| payment_payload(kind, id, now, facts);
        insert_event(tx, kind, Some(&facts.token), payload, sinks, now).await?;
        Ok(())
    }
}
