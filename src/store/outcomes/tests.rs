//! "Finalised at most once", at the store.

use super::*;
use crate::payment::{DuePayment, Kind, NewPayment};
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
        kind: p.kind,
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

/// An outcome that keeps `p` pending, marking it overdue when `overdue`.
fn still_pending(p: &DuePayment, overdue: bool) -> ConfirmOutcome {
    ConfirmOutcome {
        outcome: "pending",
        change: Change::Reschedule {
            next_poll_at: 10,
            callback_poll_at: 10,
            count_attempt: true,
            not_found_streak: 0,
            overdue,
        },
        ..outcome(p, Status::Pending)
    }
}

#[test]
fn an_overdue_payout_is_announced_once_and_stays_pending() {
    let (_dir, mut store) = store();
    let p = NewPayment::parse("po-1", Some("REFUND-1"), Some("100"))
        .unwrap()
        .of_kind(Kind::Payout);
    store.enqueue(&p, 0, 0).unwrap();
    let due = store.due(1, 10, &HashSet::new()).unwrap().remove(0);
    assert_eq!((due.kind, due.overdue), (Kind::Payout, false));
    store
        .apply_outcomes(&[still_pending(&due, false)], 2, &[])
        .unwrap();
    assert!(events(&store, "po-1").is_empty());
    // Two workers' outcomes, or one replayed: the compare-and-set lets one through.
    let twice = [still_pending(&due, true), still_pending(&due, true)];
    store.apply_outcomes(&twice, 3, &["jsonl".into()]).unwrap();
    store
        .apply_outcomes(&[still_pending(&due, true)], 4, &[])
        .unwrap();
    assert_eq!(events(&store, "po-1"), ["payout.overdue"]);
    let row = store.get("po-1").unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.kind.as_str()),
        ("pending", "payout")
    );
    assert_eq!(row.overdue_at, Some(1));
    let payload: String = store
        .connection()
        .query_row("SELECT payload FROM events", [], |r| r.get(0))
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["type"], "payout.overdue");
    assert_eq!(payload["payment"]["kind"], "payout");
    assert_eq!(payload["payment"]["status"], "pending");
    let again = store.due(i64::MAX, 10, &HashSet::new()).unwrap().remove(0);
    assert!(again.overdue, "claimed again, it is known to be overdue");
    // Its final transition is a payout event.
    store
        .apply_outcomes(&[outcome(&again, Status::Completed)], 5, &[])
        .unwrap();
    assert_eq!(
        events(&store, "po-1"),
        ["payout.overdue", "payout.completed"]
    );
}

/// A mismatch whose final answer has no readable amount does not keep the amount an
/// earlier pending answer carried: the report would show it as paid.
#[test]
fn a_final_answer_without_an_amount_clears_the_pending_answers_amount() {
    use crate::ligdicash::answer::ConfirmAnswer;
    let (_dir, mut store) = store();
    let due = claim(&mut store, "tok-amount");
    let pending = ConfirmOutcome {
        answer: Some(ConfirmAnswer {
            status: Some("pending".into()),
            amount: Some(9000),
            ..ConfirmAnswer::default()
        }),
        ..still_pending(&due, false)
    };
    store.apply_outcomes(&[pending], 2, &[]).unwrap();
    assert_eq!(store.get("tok-amount").unwrap().unwrap().amount, Some(9000));
    let again = store.due(i64::MAX, 10, &HashSet::new()).unwrap().remove(0);
    let unreadable = ConfirmOutcome {
        answer: Some(ConfirmAnswer {
            status: Some("completed".into()),
            amount: None,
            ..ConfirmAnswer::default()
        }),
        ..outcome(&again, Status::Mismatch)
    };
    store.apply_outcomes(&[unreadable], 3, &[]).unwrap();
    let row = store.get("tok-amount").unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.amount), ("mismatch", None));
}

/// A callback received after a call was sent and before its answer is written (in flight)
/// brings the next poll forward to `callback_poll_at`; one received before the send was
/// already seen by that call, and the reschedule stands.
#[test]
fn a_callback_received_while_the_call_was_in_flight_keeps_the_payment_due_soon() {
    use crate::store::callbacks::CallbackKeys;
    let (_dir, mut store) = store();
    let keys = |token: &str| CallbackKeys {
        transaction_id: None,
        external_id: None,
        request_id: None,
        token: Some(token.into()),
        status: Some("completed".into()),
    };
    let rescheduled = |p: &DuePayment, at| ConfirmOutcome {
        at,
        outcome: "pending",
        change: Change::Reschedule {
            next_poll_at: 900_000,
            callback_poll_at: 3_100,
            count_attempt: true,
            not_found_streak: 0,
            overdue: false,
        },
        ..outcome(p, Status::Pending)
    };
    let next_poll = |store: &Store, token: &str| -> i64 {
        store
            .connection()
            .query_row(
                "SELECT next_poll_at FROM payments WHERE token = ?1",
                [token],
                |r| r.get(0),
            )
            .unwrap()
    };
    let in_flight = claim(&mut store, "tok-in-flight");
    let before = claim(&mut store, "tok-before");
    store
        .record_callback("application/json", "{}", &keys("tok-before"), 50, 0)
        .unwrap();
    store
        .record_callback("application/json", "{}", &keys("tok-in-flight"), 150, 0)
        .unwrap();
    let outcomes = [rescheduled(&in_flight, 100), rescheduled(&before, 100)];
    store.apply_outcomes(&outcomes, 200, &[]).unwrap();
    assert_eq!(
        next_poll(&store, "tok-in-flight"),
        3_100,
        "the callback's head start kept"
    );
    assert_eq!(
        next_poll(&store, "tok-before"),
        900_000,
        "seen by the call itself"
    );
}
