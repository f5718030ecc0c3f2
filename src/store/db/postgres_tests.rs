//! The facade's PostgreSQL arm, end to end on a real server: opened (and migrated) from a
//! [`Target`], a payment goes from enqueue through the claim and its outcome to a delivered
//! event, and the report side sees it, all through [`Db`].

use super::*;
use crate::config::DatabaseBackend;
use crate::ligdicash::ConfirmAnswer;
use crate::payment::{Change, ConfirmOutcome, NewPayment, Status};
use crate::store::deliveries::DeliveryResult;
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::testing::TestServer;
use std::collections::HashSet;

const T: i64 = 1_700_000_000_000;

#[tokio::test]
async fn a_payment_goes_from_enqueue_to_a_delivered_event_through_the_postgres_arm() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let target = Target {
        backend: DatabaseBackend::Postgres(pg.database("facade").await),
        claims: ClaimPolicy::new("n1", 30_000, 3_000),
        max_connections: 4,
    };
    let db = Db::open(&target).await.unwrap();
    assert!(db.postgres().is_some());
    db.ensure_writable().await.unwrap();
    let version = db.schema_version().await.unwrap();
    assert_eq!(version, crate::store::postgres::migrations::SCHEMA_VERSION);
    // A second handle (another node starting) finds the schema there.
    let other = Db::open(&target).await.unwrap();

    let p = NewPayment::parse("tok", Some("ORD-1"), Some("5000")).unwrap();
    db.enqueue(p, T, T).await.unwrap();
    assert!(db.any_pending().await.unwrap());
    let due = db.due(T, 10, HashSet::new()).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(other.due(T, 10, HashSet::new()).await.unwrap().is_empty());
    let d = &due[0];
    let outcome = ConfirmOutcome {
        payment_id: d.id,
        kind: d.kind,
        token: d.token.clone(),
        at: T + 1,
        latency_ms: 5,
        http_status: Some(200),
        outcome: "completed",
        error: None,
        answer: Some(ConfirmAnswer {
            status: Some("completed".into()),
            amount: Some(5000),
            ..ConfirmAnswer::default()
        }),
        raw_body: Some("{}".into()),
        change: Change::Finalize {
            status: Status::Completed,
            reason: None,
        },
        from: d.status,
        claimed_reason: d.claimed_reason.clone(),
    };
    let sinks = Arc::new(vec!["jsonl".to_owned()]);
    let applied = db
        .apply_outcomes(Arc::new(vec![outcome]), T + 2, sinks.clone())
        .await
        .unwrap();
    assert_eq!(applied[0].finalized, Some(Status::Completed));
    let row = other.get("tok".into()).await.unwrap().unwrap();
    assert_eq!(row.status, "completed");

    assert_eq!(db.unattempted_deliveries(sinks.clone()).await.unwrap(), 1);
    assert!(db.any_delivery_due(T + 3, sinks.clone()).await.unwrap());
    let deliveries = db.due_deliveries(T + 3, sinks.clone(), 10).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    // Claimed, it is not handed to the other node, yet still due for `run --once`.
    assert!(
        other
            .due_deliveries(T + 3, sinks.clone(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(other.any_delivery_due(T + 3, sinks.clone()).await.unwrap());
    let seq = deliveries[0].event_seq;
    db.record_delivery(seq, "jsonl".into(), DeliveryResult::Delivered, T + 4)
        .await
        .unwrap();
    let events = other
        .list_events(Some("delivered".into()), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "payment.completed");
    assert!(!db.any_delivery_due(T + 5, sinks.clone()).await.unwrap());

    let facts = db.day_facts(T, T + 86_400_000, T + 10).await.unwrap();
    assert_eq!(facts.resolved.len(), 1);
    let gauges = db.gauges().await.unwrap();
    assert_eq!(
        (gauges.pending, gauges.events_by_state.clone()),
        (0, vec![("delivered".into(), 1)])
    );
}
