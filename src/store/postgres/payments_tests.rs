use super::*;
use crate::store::PaymentFilter;
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::testing::TestServer;

const T: Millis = 1_700_000_000_000;

fn payment(token: &str, amount: Option<i64>) -> NewPayment {
    NewPayment {
        token: token.to_owned(),
        transaction_id: Some(format!("order-{token}")),
        expected_amount: amount,
        kind: Kind::Invoice,
    }
}

/// A second node on the same database, with its own claim policy.
async fn node(pg: &TestServer, db: &str, claims: ClaimPolicy) -> PgStore {
    PgStore::open(&pg.settings(db), 4, claims).await.unwrap()
}

fn ids(due: &[DuePayment]) -> Vec<String> {
    due.iter().map(|p| p.token.clone()).collect()
}

#[tokio::test]
async fn enqueue_is_idempotent_and_a_different_payment_is_a_conflict() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("enqueue", "n1").await;
    let p = payment("tok-1", Some(5000));
    assert_eq!(
        store.enqueue(&p, T, T + 10).await.unwrap(),
        Enqueued::Inserted
    );
    assert_eq!(
        store.enqueue(&p, T + 5, T + 15).await.unwrap(),
        Enqueued::AlreadyPresent
    );
    let other_amount = payment("tok-1", Some(6000));
    let err = store.enqueue(&other_amount, T, T).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                field: "amount",
                ..
            }
        ),
        "{err:?}"
    );
    let other_kind = p.clone().of_kind(Kind::Payout);
    let err = store.enqueue(&other_kind, T, T).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "kind", .. }),
        "{err:?}"
    );
    let row = store.get("tok-1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.expected_amount,
            row.next_poll_at,
            row.created_at,
            row.kind.as_str()
        ),
        (Some(5000), Some(T + 10), T, "invoice")
    );
    assert_eq!(store.get("nope").await.unwrap(), None);
}

#[tokio::test]
async fn rows_the_shop_inserted_are_scheduled_by_kind() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("unscheduled", "n1").await;
    let conn = store.conn().await.unwrap();
    conn.batch_execute(
        "INSERT INTO payments (token, created_at) VALUES ('inv', 1000); \
         INSERT INTO payments (token, created_at, kind) VALUES ('out', 1000, 'payout'); \
         INSERT INTO payments (token, created_at, next_poll_at) VALUES ('set', 1000, 7)",
    )
    .await
    .unwrap();
    assert_eq!(store.schedule_unscheduled(10_000, 60_000).await.unwrap(), 2);
    assert_eq!(store.schedule_unscheduled(10_000, 60_000).await.unwrap(), 0);
    let at = |t: &'static str| {
        let store = store.clone();
        async move { store.get(t).await.unwrap().unwrap().next_poll_at }
    };
    assert_eq!(at("inv").await, Some(11_000));
    assert_eq!(at("out").await, Some(61_000));
    assert_eq!(at("set").await, Some(7));
}

/// The claim: due rows soonest first, in-flight ones skipped, a live lease respected, an
/// expired one taken over, but only `min_interval` after the last send whoever sent it.
#[tokio::test]
async fn due_claims_rows_and_a_dead_nodes_rows_wait_the_floor_before_takeover() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    // A lease shorter than the floor, so the floor is what holds the takeover back.
    let _migrated = pg.store("claims", "setup").await;
    let a = node(&pg, "claims", ClaimPolicy::new("a", 1_000, 3_000)).await;
    let b = node(&pg, "claims", ClaimPolicy::new("b", 1_000, 3_000)).await;
    for (token, at) in [
        ("t3", T + 3),
        ("t1", T + 1),
        ("t2", T + 2),
        ("later", T + 50_000),
    ] {
        a.enqueue(&payment(token, None), T, at).await.unwrap();
    }
    let in_flight: HashSet<i64> = [a.get("t2").await.unwrap().unwrap().id].into();
    let claimed = a.due(T + 10, 10, &in_flight).await.unwrap();
    assert_eq!(ids(&claimed), ["t1", "t3"]);
    assert_eq!(claimed[0].status, Status::Pending);
    // b sees only what a did not claim; a's live leases are not b's.
    assert_eq!(
        ids(&b.due(T + 10, 10, &HashSet::new()).await.unwrap()),
        ["t2"]
    );
    assert!(
        b.due(T + 500, 10, &HashSet::new())
            .await
            .unwrap()
            .is_empty()
    );
    // a died: its leases expired at T + 1010, but it sent at T + 10: b waits for T + 3010.
    assert!(
        b.due(T + 2_000, 10, &HashSet::new())
            .await
            .unwrap()
            .is_empty()
    );
    // b's own t2, whose lease expired with no outcome written, is claimable again too.
    let taken = b.due(T + 3_010, 10, &HashSet::new()).await.unwrap();
    assert_eq!(ids(&taken), ["t1", "t2", "t3"]);
    let conn = a.conn().await.unwrap();
    let row = conn
        .query_one(
            "SELECT claimed_by, claim_expires_at, last_sent_at FROM payments WHERE token = 't1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "b");
    assert_eq!(row.get::<_, i64>(1), T + 4_010);
    assert_eq!(row.get::<_, i64>(2), T + 3_010);
}

/// Two nodes claiming the same rows at once: every row is claimed, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_claim_a_row_twice() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let first = pg.store("race", "a").await;
    for i in 0..300 {
        first
            .enqueue(&payment(&format!("t{i:03}"), None), T, T + i)
            .await
            .unwrap();
    }
    let mut claimers = tokio::task::JoinSet::new();
    for name in ["a", "b", "c"] {
        let store = node(&pg, "race", ClaimPolicy::new(name, 30_000, 3_000)).await;
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.due(T + 1_000, 7, &HashSet::new()).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|p| p.id));
            }
        });
    }
    let per_node = claimers.join_all().await;
    let all: Vec<i64> = per_node.iter().flatten().copied().collect();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 300, "claimed {} rows for 300", all.len());
    assert_eq!(distinct.len(), 300);
}

#[tokio::test]
async fn requeue_reopens_a_final_verdict_and_clears_an_expired_claim_but_not_the_last_send() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("requeue", "n1").await;
    store.enqueue(&payment("tok", None), T, T).await.unwrap();
    let err = store.requeue("tok", T).await.unwrap_err();
    assert!(matches!(err, StoreError::NotRequeueable { .. }), "{err:?}");
    assert!(matches!(
        store.requeue("nope", T).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
    store.due(T, 1, &HashSet::new()).await.unwrap();
    let conn = store.conn().await.unwrap();
    // Its claim expired (a live one is kept: `claim_one`'s requeue test).
    conn.batch_execute(&format!(
        "UPDATE payments SET status = 'timeout', resolved_at = 5, claim_expires_at = {}",
        T + 50
    ))
    .await
    .unwrap();
    let requeued = store.requeue("tok", T + 100).await.unwrap();
    assert_eq!(requeued, Requeued::Reopened(Status::Timeout));
    let row = store.get("tok").await.unwrap().unwrap();
    assert_eq!(row.status, "pending");
    assert_eq!(row.status_reason.as_deref(), Some("requeued from timeout"));
    assert_eq!((row.next_poll_at, row.resolved_at), (Some(T + 100), None));
    let claim = conn
        .query_one("SELECT claimed_by, last_sent_at FROM payments", &[])
        .await
        .unwrap();
    assert_eq!(claim.get::<_, Option<String>>(0), None);
    assert_eq!(claim.get::<_, Option<i64>>(1), Some(T));
    // Due now, but the floor from the last send still holds.
    assert!(
        store
            .due(T + 100, 1, &HashSet::new())
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.due(T + 3_000, 1, &HashSet::new()).await.unwrap();
    assert_eq!(
        due[0].claimed_reason.as_deref(),
        Some("requeued from timeout")
    );
    assert_eq!(due[0].window_start, T + 100);
}

#[tokio::test]
async fn lookups_counts_and_the_next_poll_time() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("lookups", "n1").await;
    assert!(!store.any_pending().await.unwrap());
    assert_eq!(store.next_due_after(T).await.unwrap(), None);
    for (i, token) in ["a", "b", "c"].iter().enumerate() {
        let mut p = payment(token, Some(100));
        p.transaction_id = Some("order-x".into());
        store.enqueue(&p, T, T + 10 * i as i64).await.unwrap();
    }
    store
        .conn()
        .await
        .unwrap()
        .batch_execute("UPDATE payments SET status = 'completed' WHERE token = 'a'")
        .await
        .unwrap();
    assert!(store.any_pending().await.unwrap());
    assert_eq!(store.next_due_after(T + 10).await.unwrap(), Some(T + 20));
    let counts = store.status_counts().await.unwrap();
    assert_eq!(counts.len(), Status::ALL.len());
    assert!(counts.contains(&(Status::Pending, 2)) && counts.contains(&(Status::Completed, 1)));
    let tokens =
        |rows: Vec<crate::store::PaymentRow>| rows.into_iter().map(|r| r.token).collect::<Vec<_>>();
    assert_eq!(tokens(store.list(None, 10).await.unwrap()), ["c", "b", "a"]);
    assert_eq!(
        tokens(store.list(Some(Status::Completed), 10).await.unwrap()),
        ["a"]
    );
    let c_id = store.get("c").await.unwrap().unwrap().id;
    let page = store
        .search(
            &PaymentFilter {
                transaction_id: Some("order-x".into()),
                before_id: Some(c_id),
                ..PaymentFilter::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(tokens(page), ["b"]);
    let pending = store
        .search(
            &PaymentFilter {
                status: Some(Status::Pending),
                ..PaymentFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(tokens(pending), ["c", "b"]);
    let order_x = PaymentFilter {
        transaction_id: Some("order-x".into()),
        ..PaymentFilter::default()
    };
    let latest = store.search(&order_x, 1).await.unwrap();
    assert_eq!(tokens(latest), ["c"], "the order's newest payment");
    use crate::store::payments::ToConfirm;
    assert_eq!(
        store.claim_to_confirm("a", T).await.unwrap(),
        ToConfirm::Not
    );
    let ToConfirm::Claimed(b) = store.claim_to_confirm("b", T).await.unwrap() else {
        panic!("b is pending and unclaimed");
    };
    assert_eq!(b.token, "b");
}
