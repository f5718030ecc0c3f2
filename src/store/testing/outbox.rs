//! The outbox: events addressed to each sink, the deliveries due (a payment's events in
//! order per sink, sinks no longer configured kept from crowding out the others, renamed
//! ones followed), each attempt recorded and summarised on its event, and what `events
//! list`, `show` and `redeliver` read and reopen.

use super::helpers::*;
use super::{Backend, conformance};
use crate::store::StoreError;
use crate::store::{DeliveryResult, DueDelivery};
use serde_json::{Value, json};

conformance!(
    an_event_goes_to_each_sink_and_its_attempts_are_summarised_on_it,
    an_events_error_is_the_first_failing_sinks,
    a_payments_later_event_waits_for_its_earlier_one_per_sink,
    deliveries_to_an_unconfigured_sink_do_not_starve_the_others_and_follow_a_rename,
    events_are_listed_newest_first_optionally_by_state,
    deliveries_to_every_sink_recorded_at_once_leave_the_event_delivered,
);

/// Each delivery as `(event id, sink)`.
fn ids(due: &[DueDelivery]) -> Vec<(&str, &str)> {
    due.iter()
        .map(|d| (d.event_id.as_str(), d.sink.as_str()))
        .collect()
}

fn retry(at: i64, error: &str) -> DeliveryResult {
    DeliveryResult::Retry {
        at,
        error: error.into(),
    }
}

async fn an_event_goes_to_each_sink_and_its_attempts_are_summarised_on_it(b: Backend) {
    let db = b.db;
    let to = sinks(&["jsonl", "webhook:x"]);
    let data = json!({"n": 1});
    let id = db
        .insert_operational_event("reconciler.auth_failed", data, to.clone(), T)
        .await
        .unwrap();
    assert_eq!(db.unattempted_deliveries(to.clone()).await.unwrap(), 2);
    assert!(db.any_delivery_due(T, to.clone()).await.unwrap());
    let due = db.due_deliveries(T, to.clone(), 10).await.unwrap();
    assert_eq!(
        ids(&due),
        [(id.as_str(), "jsonl"), (id.as_str(), "webhook:x")]
    );
    let payload: Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(
        (&payload["id"], &payload["data"]),
        (&json!(id), &json!({"n": 1}))
    );
    let seq = due[0].event_seq;
    let record = |sink: &str, result: DeliveryResult, at| {
        let (db, sink) = (db.clone(), sink.to_owned());
        async move { db.record_delivery(seq, sink, result, at).await.unwrap() }
    };

    record("webhook:x", retry(T + 5_000, "HTTP 503"), T + 1).await;
    record("jsonl", DeliveryResult::Delivered, T + 1).await;
    assert_eq!(db.unattempted_deliveries(to.clone()).await.unwrap(), 0);
    assert_eq!(
        db.next_delivery_after(T + 1).await.unwrap(),
        Some(T + 5_000)
    );
    let (event, deliveries) = db.get_event(id.clone()).await.unwrap().unwrap();
    assert_eq!(
        (event.state.as_str(), event.attempts, event.next_attempt_at),
        ("pending", 2, Some(T + 5_000))
    );
    assert_eq!(event.last_error.as_deref(), Some("HTTP 503"));
    let error = Some("HTTP 503".to_owned());
    assert_eq!(
        deliveries,
        [
            ("jsonl".into(), "delivered".into(), 1, None),
            ("webhook:x".into(), "pending".into(), 1, error),
        ]
    );
    // Due again at the retry's time, not before.
    assert!(!db.any_delivery_due(T + 4_999, to.clone()).await.unwrap());
    assert!(
        db.due_deliveries(T + 4_999, to.clone(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = db.due_deliveries(T + 5_000, to.clone(), 10).await.unwrap();
    assert_eq!(ids(&due), [(id.as_str(), "webhook:x")]);

    let gone = DeliveryResult::Dead {
        error: "HTTP 410".into(),
    };
    record("webhook:x", gone, T + 6_000).await;
    let dead = db.list_events(Some("dead".into()), 10).await.unwrap();
    assert_eq!(
        dead.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert!(
        db.list_events(Some("pending".into()), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // `events redeliver` without an id reopens the dead deliveries only.
    assert_eq!(db.redeliver(None, T + 7_000).await.unwrap(), 1);
    let (event, _) = db.get_event(id.clone()).await.unwrap().unwrap();
    assert_eq!(
        (event.state.as_str(), event.next_attempt_at),
        ("pending", Some(T + 7_000))
    );
    record("webhook:x", DeliveryResult::Delivered, T + 8_000).await;
    let (event, _) = db.get_event(id.clone()).await.unwrap().unwrap();
    assert_eq!(
        (event.state.as_str(), event.delivered_at),
        ("delivered", Some(T + 8_000))
    );
    // With an id, every delivery of that event.
    assert_eq!(db.redeliver(Some(id), T + 9_000).await.unwrap(), 2);
    let unknown = db.redeliver(Some("evt_nope".into()), T).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert!(db.get_event("evt_nope".into()).await.unwrap().is_none());
}

/// With several sinks failing, the event shows the first one's error by sink name,
/// whichever failed last.
async fn an_events_error_is_the_first_failing_sinks(b: Backend) {
    let db = b.db;
    let to = sinks(&["jsonl", "webhook:x"]);
    let data = json!({});
    let id = db
        .insert_operational_event("test", data, to.clone(), T)
        .await
        .unwrap();
    let seq = db.due_deliveries(T, to, 10).await.unwrap()[0].event_seq;
    for (sink, error) in [("webhook:x", "HTTP 503"), ("jsonl", "disk full")] {
        let result = retry(T + 5_000, error);
        db.record_delivery(seq, sink.into(), result, T + 1)
            .await
            .unwrap();
    }
    let (event, _) = db.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.last_error.as_deref(), Some("disk full"));
}

/// Each receiver sees a payment's events in order: a later event waits while an earlier
/// one of its payment is pending for the same sink, and only for that sink.
async fn a_payments_later_event_waits_for_its_earlier_one_per_sink(b: Backend) {
    let db = b.db;
    let both = ["jsonl", "webhook:x"];
    payment_event(&db, "evt_1", "tok", &both, T).await;
    payment_event(&db, "evt_2", "tok", &both, T + 1).await;
    payment_event(&db, "evt_3", "other", &["jsonl"], T + 2).await;
    let to = sinks(&both);
    let due = db.due_deliveries(T + 10, to.clone(), 10).await.unwrap();
    let first = [
        ("evt_1", "jsonl"),
        ("evt_1", "webhook:x"),
        ("evt_3", "jsonl"),
    ];
    assert_eq!(ids(&due), first);
    let record = |seq, sink: &str, result| {
        let (db, sink) = (db.clone(), sink.to_owned());
        async move { db.record_delivery(seq, sink, result, T + 20).await.unwrap() }
    };
    let evt_1 = due[0].event_seq;
    record(evt_1, "jsonl", DeliveryResult::Delivered).await;
    record(
        due[1].event_seq,
        "webhook:x",
        retry(T + 3_600_000, "HTTP 503"),
    )
    .await;
    record(due[2].event_seq, "jsonl", DeliveryResult::Delivered).await;
    let due = db.due_deliveries(T + 20, to.clone(), 10).await.unwrap();
    assert_eq!(ids(&due), [("evt_2", "jsonl")]);
    let webhook = sinks(&["webhook:x"]);
    assert!(!db.any_delivery_due(T + 20, webhook.clone()).await.unwrap());
    record(evt_1, "webhook:x", DeliveryResult::Delivered).await;
    let due = db.due_deliveries(T + 30, webhook, 10).await.unwrap();
    assert_eq!(ids(&due), [("evt_2", "webhook:x")]);
}

/// Deliveries left to a sink no longer configured (a changed URL, a removed sink) must not
/// fill every batch; those of a webhook once named by its whole URL follow its new name,
/// except where the new name already has that event's delivery.
async fn deliveries_to_an_unconfigured_sink_do_not_starve_the_others_and_follow_a_rename(
    b: Backend,
) {
    let db = b.db;
    let old = sinks(&["webhook:https://old.example/hook?key=1"]);
    for i in 0..100 {
        let data = json!({"i": i});
        let inserted = db.insert_operational_event("test.old", data, old.clone(), T);
        inserted.await.unwrap();
    }
    let current = sinks(&["jsonl"]);
    let id = db
        .insert_operational_event("test.new", json!({}), current.clone(), T + 1)
        .await
        .unwrap();
    let due = db.due_deliveries(T + 10, current, 8).await.unwrap();
    assert_eq!(ids(&due), [(id.as_str(), "jsonl")]);
    let new = sinks(&["webhook:https://old.example/hook?…"]);
    shop(
        &db,
        &format!(
            "INSERT INTO event_deliveries (event_seq, sink, next_attempt_at) \
             SELECT min(event_seq), '{}', {T} FROM event_deliveries",
            new[0]
        ),
    )
    .await;
    let moved = db
        .rename_sink(old[0].clone(), new[0].clone())
        .await
        .unwrap();
    assert_eq!(moved, 99);
    assert_eq!(
        db.due_deliveries(T + 10, new, 500).await.unwrap().len(),
        100
    );
    assert_eq!(db.due_deliveries(T + 10, old, 500).await.unwrap().len(), 1);
}

async fn events_are_listed_newest_first_optionally_by_state(b: Backend) {
    let db = b.db;
    let mut ids = Vec::new();
    for to in [sinks(&[]), sinks(&["jsonl"]), sinks(&["jsonl"])] {
        let id = db.insert_operational_event("test", json!({}), to, T).await;
        ids.push(id.unwrap());
    }
    let listed = |state: Option<&str>, limit| {
        let (db, state) = (db.clone(), state.map(str::to_owned));
        async move {
            let events = db.list_events(state, limit).await.unwrap();
            events.into_iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(None, 2).await, [ids[2].clone(), ids[1].clone()]);
    assert_eq!(
        listed(Some("pending"), 10).await,
        [ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        listed(Some("delivered"), 10).await,
        [ids[0].clone()],
        "no sink"
    );
    let (event, deliveries) = db.get_event(ids[0].clone()).await.unwrap().unwrap();
    assert_eq!((event.kind.as_str(), event.payment_token), ("test", None));
    assert!(deliveries.is_empty());
}

/// Every sink of an event delivered at the same moment, each recorded in its own
/// transaction: the event ends delivered (on PostgreSQL, without the event's row lock,
/// each transaction read the others' deliveries as pending and the event stayed pending).
async fn deliveries_to_every_sink_recorded_at_once_leave_the_event_delivered(b: Backend) {
    let db = b.db;
    let to = sinks(&["a", "b", "c", "d"]);
    for round in 0..20 {
        let at = T + round;
        let data = json!({});
        let id = db
            .insert_operational_event("test", data, to.clone(), at)
            .await;
        let due = db.due_deliveries(at, to.clone(), 10).await.unwrap();
        assert_eq!(due.len(), 4);
        let mut recording = tokio::task::JoinSet::new();
        for d in due {
            let db = db.clone();
            let delivered = DeliveryResult::Delivered;
            recording
                .spawn(async move { db.record_delivery(d.event_seq, d.sink, delivered, at).await });
        }
        for recorded in recording.join_all().await {
            recorded.unwrap();
        }
        let (event, _) = db.get_event(id.unwrap()).await.unwrap().unwrap();
        assert_eq!(event.state, "delivered", "round {round}");
    }
}
