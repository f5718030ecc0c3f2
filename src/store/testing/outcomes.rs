//! The one writer of confirm outcomes: a payment finalised at most once with one event
//! (compare-and-set on the claimed status and `status_reason`), late completions, the
//! reschedule and a callback in flight, untouched payments, re-checks of final ones,
//! payouts marked overdue once, and which amount a payment keeps.

use super::helpers::*;
use super::{Backend, conformance};
use crate::payment::{Kind, Status};
use crate::store::CallbackKeys;
use serde_json::Value;

conformance!(
    two_outcomes_in_one_batch_finalise_once_with_one_event_per_sink,
    a_stale_outcome_after_a_requeue_changes_nothing_and_the_next_completion_is_late,
    a_rechecked_timeout_that_completes_is_a_late_completion_once,
    a_rechecked_timeout_that_failed_changes_status_quietly,
    a_final_answers_amount_is_taken_as_it_is_and_a_reschedule_keeps_the_last,
    a_callback_received_while_the_call_was_in_flight_keeps_the_payment_due_soon,
    an_untouched_payment_keeps_its_status_and_schedule,
    a_final_payment_checked_again_stays_as_it_is_or_completes_late,
    an_overdue_payout_is_announced_once_and_stays_pending,
    two_outcomes_applied_at_once_finalise_once_with_one_event,
);

async fn two_outcomes_in_one_batch_finalise_once_with_one_event_per_sink(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "tok").await;
    let batch = vec![
        outcome(&p)
            .answer("completed", Some(5000))
            .finalize(Status::Completed),
        outcome(&p).finalize(Status::NotCompleted),
    ];
    let raw = batch[0].raw_body.clone();
    let applied = apply(&db, batch, WRITTEN, &["jsonl", "webhook:crm"]).await;
    assert_eq!(applied[0].finalized, Some(Status::Completed));
    assert!(applied[1].stale && applied[1].finalized.is_none());
    let row = row(&db, "tok").await;
    assert_eq!(
        (
            row.status.as_str(),
            row.amount,
            row.resolved_at,
            row.attempts
        ),
        ("completed", Some(5000), Some(WRITTEN), 1)
    );
    assert_eq!(row.last_confirm_at, Some(SENT));
    assert_eq!(row.operator_name.as_deref(), Some("Orange Money"));
    assert_eq!(row.raw_response, raw, "the raw body kept byte for byte");
    assert_eq!(event_types(&db, "tok").await, ["payment.completed"]);
    let event = db.list_events(None, 10).await.unwrap().remove(0);
    let (_, deliveries) = db.get_event(event.id.clone()).await.unwrap().unwrap();
    let to: Vec<&str> = deliveries.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(to, ["jsonl", "webhook:crm"]);
    let payload: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload["type"], "payment.completed");
    assert_eq!(payload["id"], event.id.as_str());
    assert_eq!(payload["payment"]["status"], "completed");
    assert_eq!(payload["payment"]["amount"], 5000);
    let calls = int(&db, "SELECT count(*) FROM confirm_attempts").await;
    assert_eq!(calls, Some(2), "every call is logged, stale or not");
}

async fn a_stale_outcome_after_a_requeue_changes_nothing_and_the_next_completion_is_late(
    b: Backend,
) {
    let db = b.db;
    let p = due_payment(&db, "tok").await;
    apply(
        &db,
        vec![outcome(&p).finalize(Status::Timeout)],
        WRITTEN,
        &[],
    )
    .await;
    db.requeue("tok".into(), LATER).await.unwrap();
    // An answer to the claim made before the timeout and the requeue arrives late.
    let late = apply(
        &db,
        vec![outcome(&p).finalize(Status::Completed)],
        LATER,
        &[],
    )
    .await;
    assert!(late[0].stale);
    assert_eq!(row(&db, "tok").await.status, "pending");
    let again = claim(&db, "tok", LATER).await;
    let completed = outcome(&again).at(LATER).finalize(Status::Completed);
    apply(&db, vec![completed], LATER + 1, &[]).await;
    let events = event_types(&db, "tok").await;
    assert_eq!(events, ["payment.timeout", "payment.late_completed"]);
}

/// The nightly re-check confirms a `timeout` (a compare-and-set on `timeout`): its
/// completion is a late one, recorded once; the poller's old claim of it is stale.
async fn a_rechecked_timeout_that_completes_is_a_late_completion_once(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "tok").await;
    apply(
        &db,
        vec![outcome(&p).finalize(Status::Timeout)],
        WRITTEN,
        &[],
    )
    .await;
    let timeout = db.timeouts_since(0).await.unwrap().remove(0);
    assert_eq!(
        (timeout.token.as_str(), timeout.status),
        ("tok", Status::Timeout)
    );
    let twice = vec![
        outcome(&timeout).at(LATER).finalize(Status::Completed),
        outcome(&timeout).at(LATER).finalize(Status::Completed),
    ];
    let applied = apply(&db, twice, LATER + 1, &[]).await;
    assert_eq!(applied[0].finalized, Some(Status::Completed));
    assert!(applied[1].stale);
    let events = event_types(&db, "tok").await;
    assert_eq!(events, ["payment.timeout", "payment.late_completed"]);
    let as_pending = outcome(&p).finalize(Status::Completed);
    assert!(apply(&db, vec![as_pending], LATER + 2, &[]).await[0].stale);
}

/// `timeout` → `notcompleted`: the shop already treats both as failed, so no event.
async fn a_rechecked_timeout_that_failed_changes_status_quietly(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "tok").await;
    apply(
        &db,
        vec![outcome(&p).finalize(Status::Timeout)],
        WRITTEN,
        &[],
    )
    .await;
    let timeout = db.timeouts_since(0).await.unwrap().remove(0);
    let failed = outcome(&timeout).at(LATER).finalize(Status::NotCompleted);
    let applied = apply(&db, vec![failed], LATER + 1, &[]).await;
    assert_eq!(applied[0].finalized, Some(Status::NotCompleted));
    assert_eq!(row(&db, "tok").await.status, "notcompleted");
    assert_eq!(event_types(&db, "tok").await, ["payment.timeout"]);
}

/// A final answer's amount is taken as it is, empty included: the amount a pending answer
/// carried (LigdiCash repeats the invoice's) is not money paid, and a final answer without
/// a readable one must not look paid in the report. A reschedule, or a final write without
/// an answer (given up), keeps the last amount.
async fn a_final_answers_amount_is_taken_as_it_is_and_a_reschedule_keeps_the_last(b: Backend) {
    let db = b.db;
    let cases = [
        ("rescheduled", None, Some(9000)),
        (
            "paid",
            Some(("completed", Some(5000), Status::Completed)),
            Some(5000),
        ),
        (
            "unreadable",
            Some(("completed", None, Status::Mismatch)),
            None,
        ),
        (
            "refused",
            Some(("notcompleted", None, Status::NotCompleted)),
            None,
        ),
    ];
    for (token, last, amount) in cases {
        let p = due_payment(&db, token).await;
        let mut batch = vec![
            outcome(&p).answer("pending", Some(9000)).reschedule(LATER),
            outcome(&p).answer("pending", None).reschedule(LATER),
        ];
        if let Some((said, paid, status)) = last {
            batch.push(outcome(&p).answer(said, paid).finalize(status));
        }
        apply(&db, batch, WRITTEN, &[]).await;
        assert_eq!(row(&db, token).await.amount, amount, "{token}");
    }
    let p = due_payment(&db, "gave-up").await;
    let batch = vec![
        outcome(&p).answer("pending", Some(9000)).reschedule(LATER),
        outcome(&p).finalize(Status::Timeout),
    ];
    apply(&db, batch, WRITTEN, &[]).await;
    let row = row(&db, "gave-up").await;
    assert_eq!((row.status.as_str(), row.amount), ("timeout", Some(9000)));
}

/// A callback received after a call was sent and before its answer is written (in flight)
/// brings the next poll forward to `callback_poll_at`; one received before the send was
/// already seen by that call, and the reschedule stands.
async fn a_callback_received_while_the_call_was_in_flight_keeps_the_payment_due_soon(b: Backend) {
    let db = b.db;
    let in_flight = due_payment(&db, "in-flight").await;
    let before = due_payment(&db, "before").await;
    for (token, at) in [("before", SENT - 1), ("in-flight", SENT + 500)] {
        let keys = CallbackKeys {
            token: Some(token.into()),
            ..CallbackKeys::default()
        };
        let body = "{}".to_owned();
        db.record_callback("application/json".into(), body, None, keys, at, 0)
            .await
            .unwrap();
    }
    let far = T + 900_000;
    let soon = SENT + 3_000;
    let batch = vec![
        outcome(&in_flight).callback_poll_at(soon).reschedule(far),
        outcome(&before).callback_poll_at(soon).reschedule(far),
    ];
    apply(&db, batch, WRITTEN, &[]).await;
    let next = row(&db, "in-flight").await.next_poll_at;
    assert_eq!(next, Some(soon), "the callback's head start kept");
    assert_eq!(
        row(&db, "before").await.next_poll_at,
        Some(far),
        "seen by the call"
    );
}

/// A call that was not the payment's fault (refused credentials) is logged with its error
/// and changes neither the status nor the schedule nor the attempt count.
async fn an_untouched_payment_keeps_its_status_and_schedule(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "tok").await;
    let applied = apply(&db, vec![outcome(&p).untouched()], WRITTEN, &[]).await;
    assert!(!applied[0].stale && applied[0].finalized.is_none());
    let row = row(&db, "tok").await;
    assert_eq!(
        (row.status.as_str(), row.next_poll_at, row.attempts),
        ("pending", Some(T), 0)
    );
    assert_eq!(row.last_error.as_deref(), Some("auth failed"));
    apply(
        &db,
        vec![outcome(&p).finalize(Status::Completed)],
        WRITTEN,
        &[],
    )
    .await;
    assert!(apply(&db, vec![outcome(&p).untouched()], WRITTEN, &[]).await[0].stale);
    let calls = int(&db, "SELECT count(*) FROM confirm_attempts").await;
    assert_eq!(calls, Some(3));
}

/// A final payment a callback contradicted is confirmed once more (`recheck_at`): an
/// answer that upholds its status leaves it as it is, tried again while LigdiCash could not
/// be asked, done after; one that says completed makes it a late completion.
async fn a_final_payment_checked_again_stays_as_it_is_or_completes_late(b: Backend) {
    let db = b.db;
    for token in ["upheld", "paid"] {
        let p = due_payment(&db, token).await;
        apply(
            &db,
            vec![outcome(&p).finalize(Status::NotCompleted)],
            WRITTEN,
            &[],
        )
        .await;
        let keys = CallbackKeys {
            token: Some(token.into()),
            status: Some("completed".into()),
            ..CallbackKeys::default()
        };
        let got = db.record_callback("application/json".into(), "{}".into(), None, keys, LATER, 0);
        assert!(got.await.unwrap().plan.recheck);
    }
    let recheck_at = |token| format!("SELECT recheck_at FROM payments WHERE token = '{token}'");
    let upheld = claim(&db, "upheld", LATER).await;
    assert_eq!(upheld.status, Status::NotCompleted);
    let again_at = LATER + 60_000;
    let unreachable = outcome(&upheld).at(LATER).recheck(Some(again_at));
    assert!(!apply(&db, vec![unreachable], LATER + 1, &[]).await[0].stale);
    assert_eq!(int(&db, &recheck_at("upheld")).await, Some(again_at));
    let upheld = claim(&db, "upheld", again_at).await;
    let done = outcome(&upheld).at(again_at).answer("notcompleted", None);
    apply(&db, vec![done.recheck(None)], again_at + 1, &[]).await;
    assert_eq!(int(&db, &recheck_at("upheld")).await, None);
    let row = row(&db, "upheld").await;
    assert_eq!(
        (row.status.as_str(), row.last_confirm_at),
        ("notcompleted", Some(again_at))
    );
    assert_eq!(row.provider_status.as_deref(), Some("notcompleted"));
    assert_eq!(event_types(&db, "upheld").await, ["payment.notcompleted"]);

    let paid = claim(&db, "paid", LATER).await;
    let completed = outcome(&paid).at(LATER).answer("completed", Some(5000));
    apply(
        &db,
        vec![completed.finalize(Status::Completed)],
        LATER + 1,
        &[],
    )
    .await;
    assert_eq!(int(&db, &recheck_at("paid")).await, None);
    let events = event_types(&db, "paid").await;
    assert_eq!(events, ["payment.notcompleted", "payment.late_completed"]);
    assert!(!db.any_pending().await.unwrap());
}

/// Two workers' outcomes, or one replayed: the compare-and-set on `overdue_at` lets one
/// `payout.overdue` through; the payout stays pending, out of `run --until-idle`'s wait.
async fn an_overdue_payout_is_announced_once_and_stays_pending(b: Backend) {
    let db = b.db;
    let p = due_of_kind(&db, "po", Kind::Payout).await;
    assert_eq!((p.kind, p.overdue), (Kind::Payout, false));
    apply(&db, vec![outcome(&p).reschedule(LATER)], WRITTEN, &[]).await;
    assert!(event_types(&db, "po").await.is_empty());
    let overdue = || outcome(&p).overdue().reschedule(LATER);
    let applied = apply(&db, vec![overdue(), overdue()], WRITTEN, &["jsonl"]).await;
    assert!(applied.iter().all(|a| !a.stale && a.finalized.is_none()));
    apply(&db, vec![overdue()], WRITTEN, &[]).await;
    assert_eq!(event_types(&db, "po").await, ["payout.overdue"]);
    let row = row(&db, "po").await;
    assert_eq!(
        (row.status.as_str(), row.kind.as_str(), row.attempts),
        ("pending", "payout", 4)
    );
    assert_eq!(
        (row.overdue_at, row.next_poll_at),
        (Some(SENT), Some(LATER))
    );
    let event = db.list_events(None, 1).await.unwrap().remove(0);
    let payload: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload["type"], "payout.overdue");
    assert_eq!(payload["payment"]["kind"], "payout");
    assert_eq!(payload["payment"]["status"], "pending");
    assert!(!db.any_pending().await.unwrap(), "it waits for a human");
    assert_eq!(db.gauges().await.unwrap().overdue_payouts, 1);
    let again = claim(&db, "po", LATER).await;
    assert!(again.overdue, "claimed again, it is known to be overdue");
    let completed = outcome(&again).at(LATER).finalize(Status::Completed);
    apply(&db, vec![completed], LATER + 1, &[]).await;
    let events = event_types(&db, "po").await;
    assert_eq!(events, ["payout.overdue", "payout.completed"]);
}

/// Two writers (the poller and confirm-now, two nodes) record outcomes of one claim at
/// the same moment: one finalises the payment, the other finds it stale.
async fn two_outcomes_applied_at_once_finalise_once_with_one_event(b: Backend) {
    let db = b.db;
    for round in 0..10 {
        let token = format!("tok-{round}");
        let p = due_payment(&db, &token).await;
        let (first, second) = tokio::join!(
            apply(
                &db,
                vec![outcome(&p).finalize(Status::Completed)],
                WRITTEN,
                &["jsonl"]
            ),
            apply(
                &db,
                vec![outcome(&p).finalize(Status::NotCompleted)],
                WRITTEN,
                &["jsonl"]
            ),
        );
        let finalised = [first[0], second[0]].iter().filter(|a| !a.stale).count();
        assert_eq!(finalised, 1, "round {round}");
        assert_eq!(event_types(&db, &token).await.len(), 1, "round {round}");
    }
}
