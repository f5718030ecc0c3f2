//! The outbox on a real PostgreSQL server: per-payment order per sink whichever node
//! claims, claims that exclude each other and expire, the attempt record and the event's
//! summary, renamed sinks, `events list/show/redeliver`.

use super::*;
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::testing::TestServer;
use serde_json::json;

const T: Millis = 1_700_000_000_000;

fn sinks(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Inserts a payment event of `token` at `at`, addressed to `to`.
async fn payment_event(store: &PgStore, token: &str, to: &[String], at: Millis) -> String {
    let mut conn = store.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    let id = insert_event(
        &tx,
        "payment.completed",
        Some(token),
        |_| "{}".into(),
        to,
        at,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn ids(due: &[DueDelivery]) -> Vec<(String, String)> {
    due.iter()
        .map(|d| (d.event_id.clone(), d.sink.clone()))
        .collect()
}

#[tokio::test]
async fn a_payments_later_event_waits_for_its_earlier_one_whichever_node_claims() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = pg.store("order", "a").await;
    let b = PgStore::open(
        &pg.settings("order"),
        2,
        ClaimPolicy::new("b", 30_000, 3_000),
    )
    .await
    .unwrap();
    let to = sinks(&["jsonl", "webhook:x"]);
    let first = payment_event(&a, "tok", &to, T).await;
    let second = payment_event(&a, "tok", &to, T + 1).await;
    let other = payment_event(&a, "other", &to[..1], T + 2).await;

    // Node a claims the first event for both sinks and the other payment's; the second
    // event waits behind the first, so node b finds nothing.
    let claimed = a.due_deliveries(T + 10, &to, 10).await.unwrap();
    let mut expected = vec![
        (first.clone(), "jsonl".to_owned()),
        (first.clone(), "webhook:x".to_owned()),
        (other.clone(), "jsonl".to_owned()),
    ];
    expected.sort();
    let mut got = ids(&claimed);
    got.sort();
    assert_eq!(got, expected);
    assert!(b.due_deliveries(T + 10, &to, 10).await.unwrap().is_empty());

    // Delivered to the JSON-lines file, the first event frees the second for that sink
    // only: the webhook still has the first one pending (claimed by a).
    a.record_delivery(
        claimed[0].event_seq,
        "jsonl",
        &DeliveryResult::Delivered,
        T + 20,
    )
    .await
    .unwrap();
    let got = b.due_deliveries(T + 20, &to, 10).await.unwrap();
    assert_eq!(ids(&got), vec![(second.clone(), "jsonl".to_owned())]);
    let other_seq = claimed
        .iter()
        .find(|d| d.event_id == other)
        .unwrap()
        .event_seq;
    a.record_delivery(other_seq, "jsonl", &DeliveryResult::Delivered, T + 20)
        .await
        .unwrap();

    // Node a dies: its webhook claim expires after the lease and b takes it over, still
    // before the second event.
    let after_lease = T + 10 + 30_000;
    let got = b.due_deliveries(after_lease, &to, 10).await.unwrap();
    assert_eq!(ids(&got), vec![(first.clone(), "webhook:x".to_owned())]);
}

#[tokio::test]
async fn an_attempt_is_recorded_and_summarised_on_the_event() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("record", "n1").await;
    let to = sinks(&["jsonl", "webhook:x"]);
    let id = store
        .insert_operational_event("reconciler.auth_failed", json!({"n": 1}), &to, T)
        .await
        .unwrap();
    assert_eq!(store.unattempted_deliveries(&to).await.unwrap(), 2);
    let due = store.due_deliveries(T, &to, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    let payload: Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(payload["id"], json!(id));
    assert_eq!(payload["data"], json!({"n": 1}));
    let seq = due[0].event_seq;

    let retry = DeliveryResult::Retry {
        at: T + 5_000,
        error: "HTTP 503".into(),
    };
    store
        .record_delivery(seq, "webhook:x", &retry, T + 1)
        .await
        .unwrap();
    store
        .record_delivery(seq, "jsonl", &DeliveryResult::Delivered, T + 1)
        .await
        .unwrap();
    assert_eq!(store.unattempted_deliveries(&to).await.unwrap(), 0);
    assert_eq!(
        store.next_delivery_after(T + 1).await.unwrap(),
        Some(T + 5_000)
    );
    let (event, deliveries) = store.get_event(&id).await.unwrap().unwrap();
    assert_eq!(
        (event.state.as_str(), event.attempts, event.next_attempt_at),
        ("pending", 2, Some(T + 5_000))
    );
    assert_eq!(event.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        deliveries,
        vec![
            ("jsonl".to_owned(), "delivered".to_owned(), 1, None),
            (
                "webhook:x".to_owned(),
                "pending".to_owned(),
                1,
                Some("HTTP 503".to_owned())
            ),
        ]
    );
    // The retry released the claim: due again at its time, not before.
    assert!(
        store
            .due_deliveries(T + 4_999, &to, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .due_deliveries(T + 5_000, &to, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let dead = DeliveryResult::Dead {
        error: "HTTP 410".into(),
    };
    store
        .record_delivery(seq, "webhook:x", &dead, T + 6_000)
        .await
        .unwrap();
    let dead_events = store.list_events(Some("dead"), 10).await.unwrap();
    assert_eq!(dead_events.len(), 1);
    assert_eq!(dead_events[0].id, id);
    assert!(
        store
            .list_events(Some("pending"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // `events redeliver` without an id reopens the dead delivery only.
    assert_eq!(store.redeliver(None, T + 7_000).await.unwrap(), 1);
    let (event, _) = store.get_event(&id).await.unwrap().unwrap();
    assert_eq!(
        (event.state.as_str(), event.next_attempt_at),
        ("pending", Some(T + 7_000))
    );
    store
        .record_delivery(seq, "webhook:x", &DeliveryResult::Delivered, T + 8_000)
        .await
        .unwrap();
    let (event, _) = store.get_event(&id).await.unwrap().unwrap();
    assert_eq!(
        (event.state.as_str(), event.delivered_at),
        ("delivered", Some(T + 8_000))
    );
    // With an id, every delivery of that event is reopened.
    assert_eq!(store.redeliver(Some(&id), T + 9_000).await.unwrap(), 2);
    assert!(matches!(
        store.redeliver(Some("evt_nope"), T).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.get_event("evt_nope").await.unwrap().is_none());
    assert_eq!(store.list_events(None, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn deliveries_to_an_unconfigured_sink_do_not_starve_the_others_and_follow_a_rename() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("rename", "n1").await;
    let old = sinks(&["webhook:https://old.example/hook?key=1"]);
    for i in 0..100 {
        store
            .insert_operational_event("test.old", json!({"i": i}), &old, T)
            .await
            .unwrap();
    }
    let current = sinks(&["jsonl"]);
    let id = store
        .insert_operational_event("test.new", json!({}), &current, T + 1)
        .await
        .unwrap();
    let due = store.due_deliveries(T + 10, &current, 8).await.unwrap();
    assert_eq!(ids(&due), vec![(id, "jsonl".to_owned())]);

    // One old delivery already has the new name: it stays as it is, the others move.
    let new = sinks(&["webhook:https://old.example/hook?…"]);
    let first_seq: i64 = store
        .conn()
        .await
        .unwrap()
        .query_one("SELECT min(event_seq) FROM event_deliveries", &[])
        .await
        .unwrap()
        .get(0);
    store
        .conn()
        .await
        .unwrap()
        .execute(
            "INSERT INTO event_deliveries (event_seq, sink, next_attempt_at) VALUES ($1, $2, $3)",
            &[&first_seq, &new[0], &T],
        )
        .await
        .unwrap();
    assert_eq!(store.rename_sink(&old[0], &new[0]).await.unwrap(), 99);
    assert_eq!(
        store.due_deliveries(T + 10, &new, 500).await.unwrap().len(),
        100
    );
    assert_eq!(
        store.due_deliveries(T + 10, &old, 500).await.unwrap().len(),
        1
    );
}

/// Every sink of an event delivered at the same moment, each recorded in its own
/// transaction: the event ends delivered (without the event's row lock, each transaction
/// read the others' deliveries as pending and the event stayed pending).
#[tokio::test]
async fn deliveries_recorded_at_once_leave_the_event_delivered() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("race", "n1").await;
    let to = sinks(&["a", "b", "c", "d"]);
    for round in 0..20 {
        store
            .insert_operational_event("reconciler.auth_failed", json!({}), &to, T + round)
            .await
            .unwrap();
        let due = store.due_deliveries(T + round, &to, 10).await.unwrap();
        assert_eq!(due.len(), 4);
        let mut recording = tokio::task::JoinSet::new();
        for d in &due {
            let (store, seq, sink) = (store.clone(), d.event_seq, d.sink.clone());
            recording.spawn(async move {
                store
                    .record_delivery(seq, &sink, &DeliveryResult::Delivered, T + round)
                    .await
            });
        }
        while let Some(recorded) = recording.join_next().await {
            recorded.unwrap().unwrap();
        }
        let state: String = store
            .conn()
            .await
            .unwrap()
            .query_one(
                "SELECT state FROM events WHERE seq = $1",
                &[&due[0].event_seq],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(state, "delivered", "round {round}");
    }
}
