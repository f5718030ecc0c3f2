//! "Finalised at most once", at the PostgreSQL store: the SQLite store's cases
//! (`store::outcomes` tests), and a node whose claim was taken over.

use super::*;
use crate::ligdicash::ConfirmAnswer;
use crate::payment::{DuePayment, Kind, NewPayment};
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::testing::TestServer;
use std::collections::HashSet;

/// Enqueues `token` of `kind` due at 0 and claims it at `at` as `store`'s node.
async fn claim(store: &PgStore, token: &str, kind: Kind, at: Millis) -> DuePayment {
    let p = NewPayment::parse(token, None, Some("5000"))
        .unwrap()
        .of_kind(kind);
    store.enqueue(&p, 0, 0).await.unwrap();
    let due = store.due(at, 10, &HashSet::new()).await.unwrap();
    due.into_iter().find(|d| d.token == token).unwrap()
}

fn outcome(p: &DuePayment, change: Change) -> ConfirmOutcome {
    ConfirmOutcome {
        payment_id: p.id,
        kind: p.kind,
        token: p.token.clone(),
        at: 10_000,
        latency_ms: 7,
        http_status: Some(200),
        outcome: "completed",
        error: None,
        answer: Some(ConfirmAnswer {
            response_code: Some("00".into()),
            status: Some("completed".into()),
            amount: Some(5000),
            operator_name: Some("Orange Money".into()),
            ..ConfirmAnswer::default()
        }),
        raw_body: Some(r#"{"response_code":"00","status":"completed","amount":"5000"}"#.into()),
        change,
        from: p.status,
        claimed_reason: p.claimed_reason.clone(),
    }
}

fn finalize(p: &DuePayment, status: Status) -> ConfirmOutcome {
    outcome(
        p,
        Change::Finalize {
            status,
            reason: None,
        },
    )
}

fn still_pending(p: &DuePayment, overdue: bool) -> ConfirmOutcome {
    let change = Change::Reschedule {
        next_poll_at: 99_000,
        callback_poll_at: 99_000,
        count_attempt: true,
        not_found_streak: 0,
        overdue,
    };
    ConfirmOutcome {
        answer: None,
        outcome: "pending",
        ..outcome(p, change)
    }
}

/// The event types of a payment, oldest first, with their delivery rows' sinks.
async fn events(store: &PgStore, token: &str) -> Vec<(String, Vec<String>)> {
    let rows = store
        .conn()
        .await
        .unwrap()
        .query(
            "SELECT e.type, coalesce(array_agg(d.sink ORDER BY d.sink) FILTER \
             (WHERE d.sink IS NOT NULL), '{}') FROM events e LEFT JOIN event_deliveries d \
             ON d.event_seq = e.seq WHERE e.payment_token = $1 GROUP BY e.seq ORDER BY e.seq",
            &[&token],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn attempts_logged(store: &PgStore) -> i64 {
    let conn = store.conn().await.unwrap();
    conn.query_one("SELECT count(*) FROM confirm_attempts", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn two_outcomes_in_one_batch_finalise_once_with_one_event_per_sink() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("once", "n1").await;
    let p = claim(&store, "tok-1", Kind::Invoice, 1).await;
    let batch = [
        finalize(&p, Status::Completed),
        finalize(&p, Status::NotCompleted),
    ];
    let sinks = ["jsonl".to_owned(), "webhook:crm".to_owned()];
    let applied = store.apply_outcomes(&batch, 20_000, &sinks).await.unwrap();
    assert_eq!(applied[0].finalized, Some(Status::Completed));
    assert!(applied[1].stale && applied[1].finalized.is_none());
    let row = store.get("tok-1").await.unwrap().unwrap();
    assert_eq!(row.status, "completed");
    assert_eq!((row.amount, row.resolved_at), (Some(5000), Some(20_000)));
    assert_eq!(row.operator_name.as_deref(), Some("Orange Money"));
    assert_eq!(
        row.raw_response, batch[0].raw_body,
        "the raw body is kept byte for byte"
    );
    assert_eq!(
        events(&store, "tok-1").await,
        [("payment.completed".to_owned(), sinks.to_vec())]
    );
    assert_eq!(
        attempts_logged(&store).await,
        2,
        "every call is logged, stale or not"
    );
    let conn = store.conn().await.unwrap();
    let payload: String = conn
        .query_one("SELECT payload FROM events", &[])
        .await
        .unwrap()
        .get(0);
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["payment"]["status"], "completed");
    assert_eq!(payload["payment"]["amount"], 5000);
}

/// A requeue between the claim and the outcome makes it stale; the requeued payment's
/// completion is then a late one.
#[tokio::test]
async fn a_stale_outcome_after_a_requeue_changes_nothing_and_the_next_completion_is_late() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("requeue", "n1").await;
    let p = claim(&store, "tok-2", Kind::Invoice, 1).await;
    store
        .apply_outcomes(&[finalize(&p, Status::Timeout)], 2, &[])
        .await
        .unwrap();
    store.requeue("tok-2", 3).await.unwrap();
    let late = store
        .apply_outcomes(&[finalize(&p, Status::Completed)], 4, &[])
        .await
        .unwrap();
    assert!(late[0].stale);
    assert_eq!(store.get("tok-2").await.unwrap().unwrap().status, "pending");
    // The stale call was sent at 10_000 and answered 7 ms later: not claimable before
    // 13_007.
    assert!(
        store
            .due(13_006, 10, &HashSet::new())
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.due(13_007, 10, &HashSet::new()).await.unwrap();
    store
        .apply_outcomes(&[finalize(&again[0], Status::Completed)], 13_008, &[])
        .await
        .unwrap();
    let types: Vec<String> = events(&store, "tok-2")
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(types, ["payment.timeout", "payment.late_completed"]);
}

/// A node whose lease expired and whose row another node took over writes nothing but its
/// attempt; the new holder's outcome applies and frees the row, keeping the last send.
#[tokio::test]
async fn the_outcome_of_a_node_whose_claim_was_taken_over_is_stale() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let _migrated = pg.store("takeover", "setup").await;
    let open = |node: &'static str| {
        let settings = pg.settings("takeover");
        async move {
            PgStore::open(&settings, 2, ClaimPolicy::new(node, 1_000, 3_000))
                .await
                .unwrap()
        }
    };
    let (a, b) = (open("a").await, open("b").await);
    let by_a = claim(&a, "tok-3", Kind::Invoice, 1).await;
    let by_b = b.due(5_000, 10, &HashSet::new()).await.unwrap();
    assert_eq!(by_b.len(), 1, "a's lease expired and the floor passed");
    let stale = a
        .apply_outcomes(&[finalize(&by_a, Status::NotCompleted)], 5_001, &[])
        .await
        .unwrap();
    assert!(stale[0].stale);
    let applied = b
        .apply_outcomes(&[finalize(&by_b[0], Status::Completed)], 5_002, &[])
        .await
        .unwrap();
    assert_eq!(applied[0].finalized, Some(Status::Completed));
    let conn = b.conn().await.unwrap();
    let row = conn
        .query_one(
            "SELECT claimed_by, claim_expires_at, last_sent_at FROM payments",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert_eq!(row.get::<_, Option<i64>>(1), None);
    // b's call went at 10_000 and was answered 7 ms later, after its claim at 5_000.
    assert_eq!(
        row.get::<_, Option<i64>>(2),
        Some(10_007),
        "when LigdiCash answered"
    );
    assert_eq!(events(&b, "tok-3").await.len(), 1);
}

#[tokio::test]
async fn an_overdue_payout_is_announced_once_and_stays_pending() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("overdue", "n1").await;
    let p = claim(&store, "out-1", Kind::Payout, 1).await;
    assert_eq!((p.kind, p.overdue), (Kind::Payout, false));
    let applied = store
        .apply_outcomes(
            &[still_pending(&p, true), still_pending(&p, true)],
            20_000,
            &[],
        )
        .await
        .unwrap();
    assert!(applied.iter().all(|a| !a.stale && a.finalized.is_none()));
    let row = store.get("out-1").await.unwrap().unwrap();
    assert_eq!(row.status, "pending");
    assert_eq!(
        (row.overdue_at, row.next_poll_at, row.attempts),
        (Some(10_000), Some(99_000), 2)
    );
    let types: Vec<String> = events(&store, "out-1")
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(types, [PAYOUT_OVERDUE]);
    assert!(
        !store.any_pending().await.unwrap(),
        "an overdue payout waits for a human"
    );
}

/// As on SQLite: a callback received while the call was in flight brings the next poll
/// forward to `callback_poll_at`; one received before the send does not.
#[tokio::test]
async fn a_callback_received_while_the_call_was_in_flight_keeps_the_payment_due_soon() {
    use crate::store::callbacks::CallbackKeys;
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("callback", "n1").await;
    let keys = |token: &str| CallbackKeys {
        token: Some(token.into()),
        ..CallbackKeys::default()
    };
    let rescheduled = |p: &DuePayment| {
        let change = Change::Reschedule {
            next_poll_at: 900_000,
            callback_poll_at: 13_100,
            count_attempt: true,
            not_found_streak: 0,
            overdue: false,
        };
        outcome(p, change) // sent at 10_000
    };
    let in_flight = claim(&store, "tok-in-flight", Kind::Invoice, 1).await;
    let before = claim(&store, "tok-before", Kind::Invoice, 1).await;
    for (token, at) in [("tok-before", 9_000), ("tok-in-flight", 10_500)] {
        store
            .record_callback("application/json", "{}", &keys(token), at, 0)
            .await
            .unwrap();
    }
    let outcomes = [rescheduled(&in_flight), rescheduled(&before)];
    store.apply_outcomes(&outcomes, 11_000, &[]).await.unwrap();
    let next_poll = |token: &'static str| {
        let store = store.clone();
        async move {
            store
                .conn()
                .await
                .unwrap()
                .query_one(
                    "SELECT next_poll_at FROM payments WHERE token = $1",
                    &[&token],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(
        next_poll("tok-in-flight").await,
        13_100,
        "the callback's head start kept"
    );
    assert_eq!(
        next_poll("tok-before").await,
        900_000,
        "seen by the call itself"
    );
}
