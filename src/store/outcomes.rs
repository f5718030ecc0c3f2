//! The one store writer of confirm outcomes: the attempt log, the payment's new state and,
//! for a final transition, its outbox event, in one transaction per batch.
//!
//! Every write is a compare-and-set on the status the payment was claimed in
//! ([`ConfirmOutcome::from`]: `pending` for the poller, `timeout` for the re-check), and a
//! final write also on the `status_reason` seen at claim time: whatever races us (a
//! `requeue`, a second process, a replayed outcome), a payment is finalised at most once,
//! with one event, whose type comes from one table ([`transition_event`]).

use super::{Store, StoreError};
use crate::payment::{
    Applied, Change, ConfirmOutcome, Status, requeued_from_timeout, transition_event,
};
use crate::time::Millis;
use rusqlite::types::Null;
use rusqlite::{CachedStatement, ToSql, TransactionBehavior, params_from_iter};

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
    untouched: CachedStatement<'t>,
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
        use super::events::FACT_COLUMNS;
        // One statement per change: the answer and the new state are written together.
        // The final write is also a compare-and-set on the `status_reason` seen at claim
        // time, which tells a late completion from a plain one (see `apply`).
        let finalize = format!(
            "UPDATE payments SET {ANSWER_SET}, status = ?12, status_reason = ?13, \
             resolved_at = ?14, updated_at = ?14, last_confirm_at = ?15, \
             attempts = attempts + 1, last_error = NULL, next_poll_at = NULL \
             WHERE id = ?16 AND status = ?18 AND status_reason IS ?17"
        );
        let reschedule = format!(
            "UPDATE payments SET {ANSWER_SET}, next_poll_at = ?12, attempts = attempts + ?13, \
             not_found_streak = ?14, last_error = ?15, updated_at = ?16, last_confirm_at = ?17 \
             WHERE id = ?18 AND status = ?19"
        );
        let untouched = format!(
            "UPDATE payments SET {ANSWER_SET}, last_error = ?12, updated_at = ?13 \
             WHERE id = ?14 AND status = ?15"
        );
        Ok(Self {
            attempt: tx.prepare_cached(ATTEMPT_INSERT)?,
            finalize: tx.prepare_cached(&finalize)?,
            reschedule: tx.prepare_cached(&reschedule)?,
            untouched: tx.prepare_cached(&untouched)?,
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
                            .query_row([o.payment_id], super::events::PaymentFacts::from_row)?;
                        self.record_event(o, *status, &facts, sinks, now)?;
                        (true, Some(*status))
                    }
                    _ => (false, None),
                }
            }
            Change::Reschedule {
                next_poll_at,
                count_attempt,
                not_found_streak,
            } => {
                let tail: [&dyn ToSql; 8] = [
                    next_poll_at,
                    &i64::from(*count_attempt),
                    not_found_streak,
                    &o.error,
                    &now,
                    &o.at,
                    &o.payment_id,
                    &o.from.as_str(),
                ];
                let n = self
                    .reschedule
                    .execute(params_from_iter(head.iter().chain(&tail)))?;
                (n == 1, None)
            }
            Change::Untouched => {
                let tail: [&dyn ToSql; 4] = [&o.error, &now, &o.payment_id, &o.from.as_str()];
                let n = self
                    .untouched
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

    /// The outbox event of a final transition, if it has one ([`transition_event`]).
    fn record_event(
        &mut self,
        o: &ConfirmOutcome,
        status: Status,
        facts: &super::events::PaymentFacts,
        sinks: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let late = requeued_from_timeout(o.claimed_reason.as_deref());
        let Some(kind) = transition_event(o.from, status, late) else {
            return Ok(());
        };
        let payload = |id: &str| super::events::payment_payload(kind, id, now, facts);
        self.events
            .insert(kind, Some(&facts.token), payload, sinks, now)?;
        Ok(())
    }
}

/// "Finalised at most once", at the store: whatever order outcomes arrive in, a payment
/// gets one final status and one event.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{DuePayment, NewPayment};
    use std::collections::HashSet;
    use std::time::Duration;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
        (dir, store)
    }

    /// Enqueues `token` due at once and claims it as the poller would.
    fn claim(store: &mut Store, token: &str) -> DuePayment {
        let p = NewPayment::parse(token, None, None).unwrap();
        store.enqueue(&p, 0, 0).unwrap();
        let due = store.due(1, 10, &HashSet::new()).unwrap();
        due.into_iter().find(|d| d.token == token).unwrap()
    }

    fn outcome(p: &DuePayment, status: Status) -> ConfirmOutcome {
        ConfirmOutcome {
            payment_id: p.id,
            token: p.token.clone(),
            at: 1,
            latency_ms: 1,
            http_status: Some(200),
            outcome: "completed",
            error: None,
            answer: None,
            raw_body: None,
            change: Change::Finalize {
                status,
                reason: None,
            },
            from: p.status,
            claimed_reason: p.claimed_reason.clone(),
        }
    }

    fn events(store: &Store, token: &str) -> Vec<String> {
        let c = store.connection();
        let mut stmt = c
            .prepare("SELECT type FROM events WHERE payment_token = ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([token], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn status(store: &Store, token: &str) -> String {
        store.get(token).unwrap().unwrap().status
    }

    #[test]
    fn two_outcomes_for_one_payment_in_one_batch_finalise_it_once() {
        let (_dir, mut store) = store();
        let p = claim(&mut store, "tok-1");
        let batch = [
            outcome(&p, Status::Completed),
            outcome(&p, Status::NotCompleted),
        ];
        let applied = store.apply_outcomes(&batch, 2, &["jsonl".into()]).unwrap();
        assert_eq!(applied[0].finalized, Some(Status::Completed));
        assert!(applied[1].stale && applied[1].finalized.is_none());
        assert_eq!(status(&store, "tok-1"), "completed");
        assert_eq!(events(&store, "tok-1"), ["payment.completed"]);
    }

    #[test]
    fn a_stale_outcome_after_a_requeue_is_not_applied() {
        let (_dir, mut store) = store();
        let p = claim(&mut store, "tok-2");
        let gave_up = outcome(&p, Status::Timeout);
        store.apply_outcomes(&[gave_up], 2, &[]).unwrap();
        store.requeue("tok-2", 3).unwrap();
        // An answer to the claim made before the timeout and the requeue arrives late.
        let late = outcome(&p, Status::Completed);
        let applied = store.apply_outcomes(&[late], 4, &[]).unwrap();
        assert!(applied[0].stale);
        assert_eq!(status(&store, "tok-2"), "pending");
        assert_eq!(events(&store, "tok-2"), ["payment.timeout"]);
    }

    #[test]
    fn a_late_completion_is_recorded_once_as_such_from_a_recheck_or_a_requeue() {
        let (_dir, mut store) = store();
        // The re-check: a compare-and-set on `timeout`.
        let p = claim(&mut store, "tok-3");
        store
            .apply_outcomes(&[outcome(&p, Status::Timeout)], 2, &[])
            .unwrap();
        let timeout = store.timeouts_since(0).unwrap().remove(0);
        assert_eq!(timeout.status, Status::Timeout);
        let twice = [
            outcome(&timeout, Status::Completed),
            outcome(&timeout, Status::Completed),
        ];
        let applied = store.apply_outcomes(&twice, 3, &[]).unwrap();
        assert_eq!(applied[0].finalized, Some(Status::Completed));
        assert!(applied[1].stale);
        assert_eq!(
            events(&store, "tok-3"),
            ["payment.timeout", "payment.late_completed"]
        );
        // The same payment seen by the poller as a pending one is stale: it is no longer one.
        assert!(
            store
                .apply_outcomes(&[outcome(&p, Status::Completed)], 4, &[])
                .unwrap()[0]
                .stale
        );
        // A requeued timeout that completes at the poller is a late completion too.
        let q = claim(&mut store, "tok-4");
        store
            .apply_outcomes(&[outcome(&q, Status::Timeout)], 2, &[])
            .unwrap();
        store.requeue("tok-4", 3).unwrap();
        let again = store.due(i64::MAX, 10, &HashSet::new()).unwrap().remove(0);
        store
            .apply_outcomes(&[outcome(&again, Status::Completed)], 5, &[])
            .unwrap();
        assert_eq!(
            events(&store, "tok-4"),
            ["payment.timeout", "payment.late_completed"]
        );
    }

    #[test]
    fn a_rechecked_timeout_that_failed_changes_status_quietly() {
        let (_dir, mut store) = store();
        let p = claim(&mut store, "tok-5");
        store
            .apply_outcomes(&[outcome(&p, Status::Timeout)], 2, &[])
            .unwrap();
        let timeout = store.timeouts_since(0).unwrap().remove(0);
        let applied = store
            .apply_outcomes(&[outcome(&timeout, Status::NotCompleted)], 3, &[])
            .unwrap();
        assert_eq!(applied[0].finalized, Some(Status::NotCompleted));
        assert_eq!(events(&store, "tok-5"), ["payment.timeout"]);
    }
}
