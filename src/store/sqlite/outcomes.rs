//! The one SQLite writer of confirm outcomes: the attempt log, the payment's new state and,
//! for a final transition, its outbox event, in one transaction per batch. What each
//! outcome writes is decided in the model ([`AnswerColumns`], [`final_event`],
//! [`NewEvent`]); this file only binds it.
//!
//! Every write is a compare-and-set on the status the payment was claimed in
//! ([`ConfirmOutcome::from`]: `pending` for the poller, `timeout` for the re-check), and a
//! final write also on the `status_reason` seen at claim time: whatever races us (a
//! `requeue`, a second process, a replayed outcome), a payment is finalised at most once,
//! with one event. A payout pending past `overdue_after` is marked overdue by a
//! compare-and-set on `overdue_at IS NULL`, so its `payout.overdue` event, written in the
//! same transaction, goes out once.

use super::{Store, StoreError};
use crate::payment::{Applied, Change, ConfirmOutcome, PAYOUT_OVERDUE};
use crate::store::model::*;
use crate::store::read::FACT_COLUMNS;
use crate::time::Millis;
use rusqlite::types::Null;
use rusqlite::{CachedStatement, ToSql, TransactionBehavior, params, params_from_iter};

/// The answer's columns, bound at `?1..?12` by [`answer_params`]: `coalesce(?N, column)`,
/// so a field a later answer leaves empty keeps its last value; the amount as the model's
/// `replaces_amount` (`?12`) says.
const ANSWER_SET: &str = "provider_status = coalesce(?1, provider_status), \
    amount = CASE WHEN ?12 THEN ?2 ELSE coalesce(?2, amount) END, \
    operator_id = coalesce(?3, operator_id), operator_name = coalesce(?4, operator_name), \
    customer = coalesce(?5, customer), request_id = coalesce(?6, request_id), \
    external_id = coalesce(?7, external_id), \
    confirmed_transaction_id = coalesce(?8, confirmed_transaction_id), \
    oreference = coalesce(?9, oreference), provider_date = coalesce(?10, provider_date), \
    raw_response = coalesce(?11, raw_response)";

/// Logs one confirm call (`confirm_attempts`), bound by [`attempt_params`].
pub(super) const ATTEMPT_INSERT: &str = "INSERT INTO confirm_attempts (payment_id, at, \
    latency_ms, http_status, response_code, provider_status, outcome, error, answer) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// The parameters of [`ATTEMPT_INSERT`]; `logged` is the answer as the log keeps it
/// ([`logged_answer`]).
pub(super) fn attempt_params<'a>(
    o: &'a ConfirmOutcome,
    logged: &'a Option<&'a str>,
) -> [&'a dyn ToSql; 9] {
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
        logged,
    ]
}

/// The parameters of [`ANSWER_SET`].
fn answer_params<'a>(c: &'a AnswerColumns<'a>) -> [&'a dyn ToSql; 12] {
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
/// outcomes would otherwise look each one up in the statement cache every time. Each
/// write applies while the row is in the status claimed (`?14`), `?13` being its id.
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

impl<'t> OutcomeWrites<'t> {
    fn new(tx: &'t rusqlite::Transaction<'_>) -> Result<Self, StoreError> {
        let finalize = format!(
            "UPDATE payments SET {ANSWER_SET}, status = ?15, status_reason = ?16, \
             resolved_at = ?17, updated_at = ?17, last_confirm_at = ?18, \
             attempts = attempts + 1, last_error = NULL, next_poll_at = NULL, \
             recheck_at = NULL WHERE id = ?13 AND status = ?14 AND status_reason IS ?19"
        );
        // A callback received after this call was sent (while it was in flight) made the
        // payment due at once; this reschedule keeps that, floored at `?21`.
        let reschedule = format!(
            "UPDATE payments SET {ANSWER_SET}, next_poll_at = CASE WHEN EXISTS \
             (SELECT 1 FROM callbacks WHERE payment_id = ?13 AND received_at >= ?18) \
             THEN min(?15, ?21) ELSE ?15 END, attempts = attempts + ?16, \
             not_found_streak = ?19, last_error = ?20, updated_at = ?17, last_confirm_at = ?18 \
             WHERE id = ?13 AND status = ?14"
        );
        let untouched = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = ?15, updated_at = ?16 \
             WHERE id = ?13 AND status = ?14"
        );
        // A re-check left the status as it is: done, or tried again at `?17`.
        let recheck = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = ?15, updated_at = ?16, \
             recheck_at = ?17, last_confirm_at = ?18 WHERE id = ?13 AND status = ?14"
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
    /// event of a final transition or an overdue mark.
    fn apply(
        &mut self,
        o: &ConfirmOutcome,
        now: Millis,
        sinks: &[String],
    ) -> Result<Applied, StoreError> {
        let logged = logged_answer(o);
        self.attempt
            .execute(attempt_params(o, &logged.as_deref()))?;
        let columns = AnswerColumns::of(o);
        let from = o.from.as_str();
        let claimed: [&dyn ToSql; 2] = [&o.payment_id, &from];
        let head = answer_params(&columns).into_iter().chain(claimed);
        let (changed, finalized) = match &o.change {
            Change::Finalize { status, reason } => {
                let name = status.as_str();
                let tail: [&dyn ToSql; 5] = [&name, reason, &now, &o.at, &o.claimed_reason];
                let changed = self.finalize.execute(params_from_iter(head.chain(tail)))? == 1;
                if let (true, Some(kind)) = (changed, final_event(o, *status)) {
                    self.announce(o.payment_id, kind, sinks, now)?;
                }
                (changed, changed.then_some(*status))
            }
            Change::Reschedule {
                next_poll_at,
                callback_poll_at,
                count_attempt,
                not_found_streak,
                overdue,
            } => {
                let count = i64::from(*count_attempt);
                let tail: [&dyn ToSql; 7] = [
                    next_poll_at,
                    &count,
                    &now,
                    &o.at,
                    not_found_streak,
                    &o.error,
                    callback_poll_at,
                ];
                let changed = self
                    .reschedule
                    .execute(params_from_iter(head.chain(tail)))?
                    == 1;
                if changed && *overdue && self.overdue.execute(params![o.at, o.payment_id])? == 1 {
                    self.announce(o.payment_id, PAYOUT_OVERDUE, sinks, now)?;
                    tracing::warn!(token = %o.token, kind = o.kind.as_str(), "payout still pending past overdue_after: it needs a human (payout.overdue)");
                }
                (changed, None)
            }
            Change::Untouched => {
                let tail: [&dyn ToSql; 2] = [&o.error, &now];
                (
                    self.untouched.execute(params_from_iter(head.chain(tail)))? == 1,
                    None,
                )
            }
            Change::Recheck { again_at } => {
                let tail: [&dyn ToSql; 4] = [&o.error, &now, again_at, &o.at];
                (
                    self.recheck.execute(params_from_iter(head.chain(tail)))? == 1,
                    None,
                )
            }
        };
        Ok(Applied {
            payment_id: o.payment_id,
            finalized,
            stale: !changed,
        })
    }

    /// The event `kind` about the payment as it now is, to every sink.
    fn announce(
        &mut self,
        payment_id: i64,
        kind: &str,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let facts = self
            .facts
            .query_row([payment_id], super::events::payment_facts)?;
        self.events
            .insert(&NewEvent::payment(kind, &facts, now, sinks))
    }
}
