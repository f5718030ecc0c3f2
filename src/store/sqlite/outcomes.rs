//! The one store writer of confirm outcomes: the attempt log, the payment's new state and,
//! for a final transition, its outbox event, in one transaction per batch.
//!
//! Every write is a compare-and-set on the status the payment was claimed in
//! ([`ConfirmOutcome::from`]: `pending` for the poller, `timeout` for the re-check), and a
//! final write also on the `status_reason` seen at claim time: whatever races us (a
//! `requeue`, a second process, a replayed outcome), a payment is finalised at most once,
//! with one event, whose type comes from one table ([`transition_event`]). A payout pending
//! past `overdue_after` is marked overdue by a compare-and-set on `overdue_at IS NULL`, so
//! its `payout.overdue` event, written in the same transaction, goes out once.

use super::{Store, StoreError};
use crate::payment::{
    Applied, Change, ConfirmOutcome, PAYOUT_OVERDUE, Status, requeued_from_timeout,
    transition_event,
};
use crate::store::model::*;
use crate::time::Millis;
use rusqlite::types::Null;
use rusqlite::{CachedStatement, ToSql, TransactionBehavior, params, params_from_iter};

impl Store {
    /// Writes a batch of confirm outcomes in one `BEGIN IMMEDIATE` transaction, with one
    /// outbox event (delivered to `sinks`) per payment it finalises.
    pub fn apply_outcomes(
        &mut self,
        outcomes: &[ConfirmOutcome],
        now: Millis,
        sinks: &[String],
    ) -> Result<Vec<Applied>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied = {
            let mut writes = OutcomeWrites::new(&tx)?;
            outcomes
                .iter()
                .map(|o| writes.apply(o, now, sinks))
                .collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(applied)
    }
}

/// The statements that record outcomes, prepared once per batch: a batch of hundreds of
/// outcomes would otherwise look each one up in the statement cache every time.
struct OutcomeWrites<'t> {
    attempt: CachedStatement<'t>,
    finalize: CachedStatement<'t>,
    reschedule: CachedStatement<'t>,
    overdue: CachedStatement<'t>,
    untouched: CachedStatement<'t>,
    recheck: CachedStatement<'t>,
    facts: CachedStatement<'t>,
    events: super::events::EventInsert<'t>,
}

/// The answer's columns, as `coalesce(?N, column)` so a field a later answer leaves empty
/// keeps its last value. Bound by [`answer_params`], at `?1..?11` of the statements below.
const ANSWER_SET: &str = "provider_status = coalesce(?1, provider_status), \
    amount = coalesce(?2, amount), operator_id = coalesce(?3, operator_id), \
    operator_name = coalesce(?4, operator_name), customer = coalesce(?5, customer), \
    request_id = coalesce(?6, request_id), external_id = coalesce(?7, external_id), \
    confirmed_transaction_id = coalesce(?8, confirmed_transaction_id), \
    oreference = coalesce(?9, oreference), provider_date = coalesce(?10, provider_date), \
    raw_response = coalesce(?11, raw_response)";

/// Logs one confirm call (`confirm_attempts`), bound by [`attempt_params`].
pub(super) const ATTEMPT_INSERT: &str = "INSERT INTO confirm_attempts (payment_id, at, \
    latency_ms, http_status, response_code, provider_status, outcome, error) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The parameters of [`ATTEMPT_INSERT`].
pub(super) fn attempt_params(o: &ConfirmOutcome) -> [&dyn ToSql; 8] {
    let answer = o.answer.as_ref();
    [
        &o.payment_id,
        &o.at,
        &o.latency_ms,
        &o.http_status,
        answer.map_or(&Null, |a| &a.response_code),
        answer.map_or(&Null, |a| &a.status),
        &o.outcome,
        &o.error,
    ]
}

/// The parameters of [`ANSWER_SET`].
fn answer_params(o: &ConfirmOutcome) -> [&dyn ToSql; 11] {
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
            &Null,
            &Null,
            &Null,
            &Null,
            &Null,
            &Null,
            &Null,
            &Null,
            &Null,
            &Null,
            &o.raw_body,
        ],
    }
}

impl<'t> OutcomeWrites<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> Result<Self, StoreError> {
        use crate::store::read::FACT_COLUMNS;
        // One statement per change: the answer and the new state are written together.
        // The final write is also a compare-and-set on the `status_reason` seen at claim
        // time, which tells a late completion from a plain one (see `apply`).
        // The final answer's amount is taken as it is, empty included: an amount an earlier
        // pending answer carried (LigdiCash repeats the invoice's) is not money paid, and a
        // final answer with no readable amount must not look paid in the report. Without a
        // final answer (no status), the last amount stays.
        let final_set = ANSWER_SET.replace(
            "amount = coalesce(?2, amount)",
            "amount = CASE WHEN ?1 IS NULL THEN amount ELSE ?2 END",
        );
        let finalize = format!(
            "UPDATE payments SET {final_set}, status = ?12, status_reason = ?13, \
             resolved_at = ?14, updated_at = ?14, last_confirm_at = ?15, \
             attempts = attempts + 1, last_error = NULL, next_poll_at = NULL, \
             recheck_at = NULL WHERE id = ?16 AND status = ?18 AND status_reason IS ?17"
        );
        // A callback received after this call was sent (while it was in flight) made the
        // payment due at once; this reschedule keeps that, floored at `?20`.
        let reschedule = format!(
            "UPDATE payments SET {ANSWER_SET}, next_poll_at = CASE WHEN EXISTS \
             (SELECT 1 FROM callbacks WHERE payment_id = ?18 AND received_at >= ?17) \
             THEN min(?12, ?20) ELSE ?12 END, attempts = attempts + ?13, \
             not_found_streak = ?14, last_error = ?15, updated_at = ?16, last_confirm_at = ?17 \
             WHERE id = ?18 AND status = ?19"
        );
        let untouched = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = ?12, updated_at = ?13 \
             WHERE id = ?14 AND status = ?15"
        );
        // A re-check left the status as it is: done, or tried again at `?16`.
        let recheck = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = ?12, updated_at = ?13, \
             last_confirm_at = ?17, recheck_at = ?16 WHERE id = ?14 AND status = ?15"
        );
        Ok(Self {
            attempt: tx.prepare_cached(ATTEMPT_INSERT)?,
            finalize: tx.prepare_cached(&finalize)?,
            reschedule: tx.prepare_cached(&reschedule)?,
            overdue: tx.prepare_cached(
                "UPDATE payments SET overdue_at = ?1 \
                 WHERE id = ?2 AND status = 'pending' AND overdue_at IS NULL",
            )?,
            untouched: tx.prepare_cached(&untouched)?,
            recheck: tx.prepare_cached(&recheck)?,
            facts: tx.prepare_cached(&format!(
                "SELECT {FACT_COLUMNS} FROM payments WHERE id = ?1"
            ))?,
            events: super::events::EventInsert::new(tx)?,
        })
    }

    /// Logs the call, updates the payment if it is still as claimed, and records the
    /// event of a final transition.
    fn apply(
        &mut self,
        o: &ConfirmOutcome,
        now: Millis,
        sinks: &[String],
    ) -> Result<Applied, StoreError> {
        self.attempt.execute(attempt_params(o))?;
        let head = answer_params(o);
        let (changed, finalized) = match &o.change {
            Change::Finalize { status, reason } => {
                let tail: [&dyn ToSql; 7] = [
                    &status.as_str(),
                    reason,
                    &now,
                    &o.at,
                    &o.payment_id,
                    &o.claimed_reason,
                    &o.from.as_str(),
                ];
                let n = self
                    .finalize
                    .execute(params_from_iter(head.iter().chain(&tail)))?;
                match n {
                    1 => {
                        let facts = self
                            .facts
                            .query_row([o.payment_id], super::events::payment_facts)?;
                        self.record_event(o, *status, &facts, sinks, now)?;
                        (true, Some(*status))
                    }
                    _ => (false, None),
                }
            }
            Change::Reschedule {
                next_poll_at,
                callback_poll_at,
                count_attempt,
                not_found_streak,
                overdue,
            } => {
                let tail: [&dyn ToSql; 9] = [
                    next_poll_at,
                    &i64::from(*count_attempt),
                    not_found_streak,
                    &o.error,
                    &now,
                    &o.at,
                    &o.payment_id,
                    &o.from.as_str(),
                    callback_poll_at,
                ];
                let n = self
                    .reschedule
                    .execute(params_from_iter(head.iter().chain(&tail)))?;
                if n == 1 && *overdue {
                    self.mark_overdue(o, sinks, now)?;
                }
                (n == 1, None)
            }
            Change::Untouched => {
                let tail: [&dyn ToSql; 4] = [&o.error, &now, &o.payment_id, &o.from.as_str()];
                let n = self
                    .untouched
                    .execute(params_from_iter(head.iter().chain(&tail)))?;
                (n == 1, None)
            }
            Change::Recheck { again_at } => {
                let tail: [&dyn ToSql; 6] = [
                    &o.error,
                    &now,
                    &o.payment_id,
                    &o.from.as_str(),
                    again_at,
                    &o.at,
                ];
                let n = self
                    .recheck
                    .execute(params_from_iter(head.iter().chain(&tail)))?;
                (n == 1, None)
            }
        };
        Ok(Applied {
            payment_id: o.payment_id,
            finalized,
            stale: !changed,
        })
    }

    /// Marks a pending payout overdue and emits its `payout.overdue` event, unless it
    /// already was (then nothing happens: the event goes out once per payout).
    fn mark_overdue(
        &mut self,
        o: &ConfirmOutcome,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        if self.overdue.execute(params![o.at, o.payment_id])? == 0 {
            return Ok(());
        }
        let facts = self
            .facts
            .query_row([o.payment_id], super::events::payment_facts)?;
        let payload = |id: &str| payment_payload(PAYOUT_OVERDUE, id, now, &facts);
        self.events
            .insert(PAYOUT_OVERDUE, Some(&facts.token), payload, sinks, now)?;
        tracing::warn!(token = %o.token, kind = o.kind.as_str(), "payout still pending past overdue_after: it needs a human (payout.overdue)");
        Ok(())
    }

    /// The outbox event of a final transition, if it has one ([`transition_event`]).
    fn record_event(
        &mut self,
        o: &ConfirmOutcome,
        status: Status,
        facts: &PaymentFacts,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let late = requeued_from_timeout(o.claimed_reason.as_deref());
        let Some(kind) = transition_event(o.kind, o.from, status, late) else {
            return Ok(());
        };
        let payload = |id: &str| payment_payload(kind, id, now, facts);
        self.events
            .insert(kind, Some(&facts.token), payload, sinks, now)?;
        Ok(())
    }
}
