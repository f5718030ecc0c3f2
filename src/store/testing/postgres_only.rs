//! What only PostgreSQL does, for several daemons on one database: claims of due payments
//! and deliveries with a lease (`FOR UPDATE SKIP LOCKED`), LigdiCash's floor kept across
//! nodes (`last_sent_at`), takeovers when a node dies, the report lock, the writable check.
//! Each test starts its own server and opens one [`Db`] per node.

use super::helpers::*;
use crate::config::DatabaseBackend;
use crate::payment::{Kind, Status};
use crate::store::DeliveryResult;
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::lock::SCHEDULE_LOCK;
use crate::store::postgres::testing::TestServer;
use crate::store::{Db, StoreError, Target};
use crate::time::Millis;
use std::collections::HashSet;

/// The database `name` on `pg` as node `node` sees it, with a lease of `lease` ms and the
/// 3 s floor; opening it migrates it.
async fn node(pg: &TestServer, name: &str, node: &str, lease: Millis) -> Db {
    let target = Target {
        backend: DatabaseBackend::Postgres(pg.settings(name)),
        claims: ClaimPolicy::new(node, lease, 3_000),
        max_connections: 4,
    };
    Db::open(&target).await.expect("open a node")
}

/// A fresh database `name` and its first node, `a`.
async fn first_node(pg: &TestServer, name: &str, lease: Millis) -> Db {
    pg.create_database(name).await;
    node(pg, name, "a", lease).await
}

/// The claim: due rows soonest first, in-flight ones skipped, a live lease respected, an
/// expired one taken over, but only `min_interval` after the last send whoever sent it.
#[tokio::test]
async fn due_claims_rows_and_a_dead_nodes_rows_wait_the_floor_before_takeover() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    // A lease shorter than the floor, so the floor is what holds the takeover back.
    let a = first_node(&pg, "claims", 1_000).await;
    let b = node(&pg, "claims", "b", 1_000).await;
    for (token, at) in [
        ("t3", T + 3),
        ("t1", T + 1),
        ("t2", T + 2),
        ("later", T + 50_000),
    ] {
        a.enqueue(new_payment(token, Kind::Invoice), T, at)
            .await
            .unwrap();
    }
    let in_flight = HashSet::from([row(&a, "t2").await.id]);
    let claimed = a.due(T + 10, 10, in_flight).await.unwrap();
    assert_eq!(tokens(&claimed), ["t1", "t3"]);
    assert_eq!(claimed[0].send_by, Some(T + 10 + 500), "half the lease");
    // b sees only what a did not claim; a's live leases are not b's.
    let due = |db: &Db, at| {
        let db = db.clone();
        async move { db.due(at, 10, HashSet::new()).await.unwrap() }
    };
    assert_eq!(tokens(&due(&b, T + 10).await), ["t2"]);
    assert!(due(&b, T + 500).await.is_empty());
    // a died: its leases expired at T + 1010, but it sent at T + 10: b waits for T + 3010.
    assert!(due(&b, T + 2_000).await.is_empty());
    // b's own t2, whose lease expired with no outcome written, is claimable again too.
    assert_eq!(tokens(&due(&b, T + 3_010).await), ["t1", "t2", "t3"]);
    let t1 = "FROM payments WHERE token = 't1'";
    let by_b = int(&b, &format!("SELECT count(*) {t1} AND claimed_by = 'b'")).await;
    assert_eq!(by_b, Some(1));
    let lease = int(&b, &format!("SELECT claim_expires_at {t1}")).await;
    let sent = int(&b, &format!("SELECT last_sent_at {t1}")).await;
    assert_eq!((lease, sent), (Some(T + 4_010), Some(T + 3_010)));
}

/// Nodes claiming the same rows at once: every row is claimed, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_claim_a_row_twice() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let first = first_node(&pg, "race", 30_000).await;
    for i in 0..300 {
        let p = new_payment(&format!("t{i:03}"), Kind::Invoice);
        first.enqueue(p, T, T + i).await.unwrap();
    }
    let mut claimers = tokio::task::JoinSet::new();
    for name in ["a", "b", "c"] {
        let db = node(&pg, "race", name, 30_000).await;
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = db.due(T + 1_000, 7, HashSet::new()).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|p| p.id));
            }
        });
    }
    let all: Vec<i64> = claimers.join_all().await.concat();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!((all.len(), distinct.len()), (300, 300));
}

/// A requeue clears an expired claim (a live one is kept: `claim_one`'s test) but not the
/// last send: the floor from it still holds.
#[tokio::test]
async fn requeue_clears_an_expired_claim_but_keeps_the_floor_from_the_last_send() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let db = first_node(&pg, "requeue", 30_000).await;
    db.enqueue(new_payment("tok", Kind::Invoice), T, T)
        .await
        .unwrap();
    claim(&db, "tok", T).await;
    let expired = T + 50;
    shop(
        &db,
        &format!("UPDATE payments SET status = 'timeout', claim_expires_at = {expired}"),
    )
    .await;
    db.requeue("tok".into(), T + 100).await.unwrap();
    let claimed = int(&db, "SELECT count(claimed_by) FROM payments").await;
    let sent = int(&db, "SELECT last_sent_at FROM payments").await;
    assert_eq!((claimed, sent), (Some(0), Some(T)));
    assert!(db.due(T + 100, 1, HashSet::new()).await.unwrap().is_empty());
    claim(&db, "tok", T + 3_000).await;
}

/// The floor counts from when LigdiCash answered: an outcome moves `last_sent_at` up from
/// the claim's time to the answer's.
#[tokio::test]
async fn the_floor_counts_from_the_answer_of_the_last_confirm() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let db = first_node(&pg, "floor", 30_000).await;
    let p = due_payment(&db, "tok").await;
    let answered = SENT + 7;
    let mut rescheduled = outcome(&p).reschedule(T);
    rescheduled.latency_ms = 7;
    apply(&db, vec![rescheduled], WRITTEN, &[]).await;
    let sent = int(&db, "SELECT last_sent_at FROM payments").await;
    assert_eq!(sent, Some(answered));
    assert!(
        db.due(answered + 2_999, 1, HashSet::new())
            .await
            .unwrap()
            .is_empty()
    );
    claim(&db, "tok", answered + 3_000).await;
}

/// A node whose lease expired and whose row another node took over writes nothing but its
/// attempt; the new holder's outcome applies and frees the row, keeping the last send.
#[tokio::test]
async fn the_outcome_of_a_node_whose_claim_was_taken_over_is_stale() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = first_node(&pg, "takeover", 1_000).await;
    let b = node(&pg, "takeover", "b", 1_000).await;
    let by_a = due_payment(&a, "tok").await;
    let by_b = claim(&b, "tok", T + 5_000).await;
    let stale = apply(
        &a,
        vec![outcome(&by_a).finalize(Status::NotCompleted)],
        T + 5_001,
        &[],
    );
    assert!(stale.await[0].stale);
    let sent_by_b = outcome(&by_b).at(T + 6_000);
    let applied = apply(
        &b,
        vec![sent_by_b.finalize(Status::Completed)],
        T + 6_001,
        &[],
    )
    .await;
    assert_eq!(applied[0].finalized, Some(Status::Completed));
    let held = int(
        &b,
        "SELECT count(claimed_by) + count(claim_expires_at) FROM payments",
    );
    assert_eq!(held.await, Some(0));
    let sent = int(&b, "SELECT last_sent_at FROM payments").await;
    assert_eq!(sent, Some(T + 6_000), "when LigdiCash answered b");
    assert_eq!(event_types(&b, "tok").await, ["payment.completed"]);
    let attempts = int(&b, "SELECT count(*) FROM confirm_attempts").await;
    assert_eq!(attempts, Some(2), "the stale call is logged too");
}

/// A delivery one node claimed is not handed to another, yet is still due for `run
/// --once`; a payment's later event waits for its earlier one whichever node holds that;
/// a dead node's claims are taken over once their lease has passed.
#[tokio::test]
async fn deliveries_are_claimed_by_one_node_in_order_and_taken_over_after_the_lease() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = first_node(&pg, "outbox", 30_000).await;
    let b = node(&pg, "outbox", "b", 30_000).await;
    let both = ["jsonl", "webhook:x"];
    payment_event(&a, "evt_1", "tok", &both, T).await;
    payment_event(&a, "evt_2", "tok", &both, T + 1).await;
    payment_event(&a, "evt_3", "other", &["jsonl"], T + 2).await;
    let to = sinks(&both);
    let claimed = a.due_deliveries(T + 10, to.clone(), 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(
        b.due_deliveries(T + 10, to.clone(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.any_delivery_due(T + 10, to.clone()).await.unwrap(),
        "claimed, still due"
    );
    for d in claimed.iter().filter(|d| d.sink == "jsonl") {
        let delivered = DeliveryResult::Delivered;
        a.record_delivery(d.event_seq, d.sink.clone(), delivered, T + 20)
            .await
            .unwrap();
    }
    let by_b = b.due_deliveries(T + 20, to.clone(), 10).await.unwrap();
    let got: Vec<(&str, &str)> = by_b
        .iter()
        .map(|d| (d.event_id.as_str(), d.sink.as_str()))
        .collect();
    assert_eq!(
        got,
        [("evt_2", "jsonl")],
        "evt_2's webhook waits behind a's claim"
    );
    // a died: its webhook claim expires after the lease and b takes it over.
    let after_lease = T + 10 + 30_000;
    let by_b = b.due_deliveries(after_lease, to, 10).await.unwrap();
    let got: Vec<(&str, &str)> = by_b
        .iter()
        .map(|d| (d.event_id.as_str(), d.sink.as_str()))
        .collect();
    assert_eq!(got, [("evt_1", "webhook:x")]);
}

/// A node opening the database after another finds it migrated, and claims within half
/// its lease.
#[tokio::test]
async fn a_second_node_finds_the_database_migrated() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = first_node(&pg, "open", 30_000).await;
    let b = node(&pg, "open", "b", 30_000).await;
    for db in [&a, &b] {
        db.ensure_writable().await.unwrap();
        let version = db.schema_version().await.unwrap();
        assert_eq!(version, crate::store::postgres::migrations::SCHEMA_VERSION);
        assert_eq!(db.send_window(), Some(15_000));
    }
}

/// A database this node may read but not write (here a read-only default) is refused at
/// start, with the reason.
#[tokio::test]
async fn a_read_only_database_is_refused_as_unwritable() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = first_node(&pg, "ro", 30_000).await;
    shop(
        &a,
        "ALTER DATABASE ro SET default_transaction_read_only = on",
    )
    .await;
    let fresh = node(&pg, "ro", "b", 30_000).await;
    let err = fresh.ensure_writable().await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
}

/// The reports are one node's at a time: the advisory lock, until its holder lets go.
#[tokio::test]
async fn the_report_turn_is_one_nodes_at_a_time() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = first_node(&pg, "turn", 30_000).await;
    let b = node(&pg, "turn", "b", 30_000).await;
    let turn = a.try_report_turn().await.unwrap().expect("a's turn");
    assert!(b.try_report_turn().await.unwrap().is_none(), "a has it");
    turn.release().await;
    let turn = b.try_report_turn().await.unwrap().expect("b's turn now");
    turn.release().await;
}

/// Scheduling the rows the shop inserted is one node's job at a time: while another holds
/// the turn, a node leaves the rows to it; then it schedules them itself.
#[tokio::test]
async fn one_node_at_a_time_schedules_the_rows_the_shop_inserted() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = first_node(&pg, "schedule", 30_000).await;
    shop(
        &a,
        "INSERT INTO payments (token, created_at) VALUES ('s1', 1000), ('s2', 1000)",
    )
    .await;
    let other = a.postgres().expect("PostgreSQL").conn_for_tests().await;
    let lock = "SELECT pg_advisory_lock($1)";
    other.execute(lock, &[&SCHEDULE_LOCK]).await.unwrap();
    assert_eq!(a.schedule_unscheduled(10_000, 10_000).await.unwrap(), 0);
    assert_eq!(
        row(&a, "s1").await.next_poll_at,
        None,
        "left to the other node"
    );
    let unlock = "SELECT pg_advisory_unlock($1)";
    other.execute(unlock, &[&SCHEDULE_LOCK]).await.unwrap();
    assert_eq!(a.schedule_unscheduled(10_000, 10_000).await.unwrap(), 2);
    assert_eq!(row(&a, "s2").await.next_poll_at, Some(11_000));
}
