//! Payments: enqueue and its conflict rule, the schedule of rows the shop inserted, the due
//! scan, what the scheduler sleeps on and waits for, counts, confirm-now's claim, requeue,
//! and the lookups with their order and paging.

use super::helpers::*;
use super::{Backend, conformance};
use crate::payment::{Kind, NewPayment, Status};
use crate::store::PaymentFilter;
use crate::store::StoreError;
use crate::store::model::SCHEDULE_BATCH;
use crate::store::{Enqueued, Requeued, ToConfirm};
use std::collections::HashSet;

conformance!(
    enqueue_is_idempotent_and_a_different_payment_is_a_conflict,
    enqueues_of_one_token_at_once_insert_it_once,
    rows_the_shop_inserted_are_scheduled_by_kind,
    many_rows_the_shop_inserted_are_scheduled_in_batches_all_of_them,
    due_payments_come_soonest_first_then_final_ones_to_check_again,
    the_next_poll_time_and_what_is_still_pending,
    every_status_is_counted,
    confirm_now_takes_a_pending_or_timeout_payment_and_nothing_final,
    requeue_reopens_a_final_verdict_and_refuses_the_rest,
    lookups_come_newest_first_with_keyset_paging,
);

async fn enqueue_is_idempotent_and_a_different_payment_is_a_conflict(b: Backend) {
    let db = b.db;
    let p = new_payment("tok-1", Kind::Invoice);
    assert_eq!(
        db.enqueue(p.clone(), T, T + 10).await.unwrap(),
        Enqueued::Inserted
    );
    let again = db.enqueue(p.clone(), T + 5, T + 15).await.unwrap();
    assert_eq!(again, Enqueued::AlreadyPresent);
    let changes = [
        (
            "transaction_id",
            NewPayment {
                transaction_id: None,
                ..p.clone()
            },
        ),
        (
            "amount",
            NewPayment {
                expected_amount: Some(6000),
                ..p.clone()
            },
        ),
        ("kind", p.clone().of_kind(Kind::Payout)),
    ];
    for (changed, other) in changes {
        let err = db.enqueue(other, T, T).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { field, .. } if field == changed),
            "{err:?}"
        );
    }
    let row = row(&db, "tok-1").await;
    assert_eq!(
        (
            row.expected_amount,
            row.next_poll_at,
            row.created_at,
            row.kind.as_str()
        ),
        (Some(5000), Some(T + 10), T, "invoice"),
        "written once, by the first enqueue"
    );
    assert_eq!(db.get("nope".into()).await.unwrap(), None);
}

/// The shop's retries (an API call and a command line, two nodes) enqueue one payment at
/// the same moment: one inserts it, the others find it there.
async fn enqueues_of_one_token_at_once_insert_it_once(b: Backend) {
    let db = b.db;
    let mut enqueues = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let db = db.clone();
        let p = new_payment("tok", Kind::Invoice);
        enqueues.spawn(async move { db.enqueue(p, T, T).await.unwrap() });
    }
    let mut got = enqueues.join_all().await;
    got.sort_by_key(|e| *e != Enqueued::Inserted);
    assert_eq!(got[0], Enqueued::Inserted);
    assert!(
        got[1..].iter().all(|e| *e == Enqueued::AlreadyPresent),
        "{got:?}"
    );
    assert_eq!(db.list(None, 10).await.unwrap().len(), 1);
}

async fn rows_the_shop_inserted_are_scheduled_by_kind(b: Backend) {
    let db = b.db;
    shop(
        &db,
        "INSERT INTO payments (token, created_at) VALUES ('inv', 1000); \
         INSERT INTO payments (token, created_at, kind) VALUES ('out', 1000, 'payout'); \
         INSERT INTO payments (token, created_at, next_poll_at) VALUES ('set', 1000, 7)",
    )
    .await;
    assert_eq!(db.schedule_unscheduled(10_000, 60_000).await.unwrap(), 2);
    assert_eq!(db.schedule_unscheduled(10_000, 60_000).await.unwrap(), 0);
    for (token, at) in [("inv", 11_000), ("out", 61_000), ("set", 7)] {
        assert_eq!(row(&db, token).await.next_poll_at, Some(at), "{token}");
    }
}

/// More rows than a batch: every one is scheduled by one call, in several transactions,
/// and a row already resolved or scheduled is left alone.
async fn many_rows_the_shop_inserted_are_scheduled_in_batches_all_of_them(b: Backend) {
    let db = b.db;
    let rows = 2 * SCHEDULE_BATCH + 1;
    shop(
        &db,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             INSERT INTO payments (token, created_at) SELECT 'shop-' || i, 1000 FROM n; \
             INSERT INTO payments (token, status, created_at) VALUES ('done', 'completed', 1000)"
        ),
    )
    .await;
    assert_eq!(
        db.schedule_unscheduled(10_000, 60_000).await.unwrap() as i64,
        rows
    );
    let scheduled = "SELECT count(*) FROM payments WHERE next_poll_at = 11000";
    assert_eq!(int(&db, scheduled).await, Some(rows));
    assert_eq!(
        row(&db, "done").await.next_poll_at,
        None,
        "resolved: left alone"
    );
    assert_eq!(db.schedule_unscheduled(10_000, 60_000).await.unwrap(), 0);
}

/// The scan: pending payments due soonest first (ties by id), then final payments a
/// callback contradicted, however early their re-check is due; never those in flight,
/// settled, or not due yet.
async fn due_payments_come_soonest_first_then_final_ones_to_check_again(b: Backend) {
    let db = b.db;
    shop(
        &db,
        "INSERT INTO payments (token, next_poll_at) VALUES ('a', 50), ('b', 10), ('c', 40), \
         ('d', 20), ('e', 30), ('f', 30), ('late', 1000); \
         INSERT INTO payments (token, status, next_poll_at) VALUES ('done', 'completed', 5); \
         INSERT INTO payments (token, status, recheck_at) VALUES ('contradicted', 'notcompleted', 5)",
    )
    .await;
    let id = |token: &'static str| {
        let db = db.clone();
        async move { row(&db, token).await.id }
    };
    let in_flight = HashSet::from([id("b").await]);
    let first = db.due(100, 2, in_flight).await.unwrap();
    assert_eq!(tokens(&first), ["d", "e"], "e before f, its tie");
    let in_flight: HashSet<i64> = first.iter().map(|p| p.id).collect();
    let rest = db.due(100, 10, in_flight).await.unwrap();
    assert_eq!(tokens(&rest), ["b", "f", "c", "a", "contradicted"]);
    assert_eq!(rest[4].status, Status::NotCompleted, "in its status");
}

async fn the_next_poll_time_and_what_is_still_pending(b: Backend) {
    let db = b.db;
    assert!(!db.any_pending().await.unwrap());
    assert_eq!(db.next_due_after(T).await.unwrap(), None);
    for (token, at) in [("a", T), ("b", T + 10), ("c", T + 20)] {
        db.enqueue(new_payment(token, Kind::Invoice), T, at)
            .await
            .unwrap();
    }
    assert_eq!(db.next_due_after(T).await.unwrap(), Some(T + 10));
    assert_eq!(db.next_due_after(T + 10).await.unwrap(), Some(T + 20));
    assert_eq!(db.next_due_after(T + 20).await.unwrap(), None);
    assert!(db.any_pending().await.unwrap());
    // A payout announced overdue waits for a human, not for `run --until-idle`.
    db.enqueue(new_payment("owed", Kind::Payout), T, T)
        .await
        .unwrap();
    shop(
        &db,
        "UPDATE payments SET status = 'completed' WHERE token <> 'owed'",
    )
    .await;
    assert!(db.any_pending().await.unwrap());
    shop(
        &db,
        "UPDATE payments SET overdue_at = 1 WHERE token = 'owed'",
    )
    .await;
    assert!(!db.any_pending().await.unwrap());
    // A final payment a callback contradicted is pending its one more confirm.
    shop(&db, "UPDATE payments SET recheck_at = 5 WHERE token = 'a'").await;
    assert!(db.any_pending().await.unwrap());
}

async fn every_status_is_counted(b: Backend) {
    let db = b.db;
    let zero: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    assert_eq!(db.status_counts().await.unwrap(), zero);
    for token in ["a", "b", "c"] {
        db.enqueue(new_payment(token, Kind::Invoice), T, T)
            .await
            .unwrap();
    }
    shop(
        &db,
        "UPDATE payments SET status = 'timeout' WHERE token = 'a'",
    )
    .await;
    let counts = db.status_counts().await.unwrap();
    let expected: Vec<(Status, i64)> = Status::ALL
        .iter()
        .map(|s| match s {
            Status::Pending => (*s, 2),
            Status::Timeout => (*s, 1),
            _ => (*s, 0),
        })
        .collect();
    assert_eq!(counts, expected);
}

/// Confirm-now (and the re-check) take a pending or `timeout` payment by token; on
/// PostgreSQL as a claim, let go of with `release_claim` when the confirm is not sent.
async fn confirm_now_takes_a_pending_or_timeout_payment_and_nothing_final(b: Backend) {
    let db = b.db;
    for token in ["open", "gave-up", "paid"] {
        db.enqueue(new_payment(token, Kind::Invoice), T, T)
            .await
            .unwrap();
    }
    shop(
        &db,
        "UPDATE payments SET status = 'timeout', resolved_at = 5 WHERE token = 'gave-up'",
    )
    .await;
    shop(
        &db,
        "UPDATE payments SET status = 'completed', resolved_at = 5 WHERE token = 'paid'",
    )
    .await;
    let take = |token: &'static str| {
        let db = db.clone();
        async move { db.claim_to_confirm(token.into(), T).await.unwrap() }
    };
    let ToConfirm::Claimed(open) = take("open").await else {
        panic!("a pending payment is taken");
    };
    assert_eq!(
        (open.token.as_str(), open.status),
        ("open", Status::Pending)
    );
    db.release_claim(open.id).await.unwrap();
    assert!(matches!(take("open").await, ToConfirm::Claimed(p) if p.id == open.id));
    let ToConfirm::Claimed(gave_up) = take("gave-up").await else {
        panic!("a timeout is taken");
    };
    assert_eq!(gave_up.status, Status::Timeout);
    assert_eq!(take("paid").await, ToConfirm::Not);
    assert_eq!(take("nope").await, ToConfirm::Not);
}

async fn requeue_reopens_a_final_verdict_and_refuses_the_rest(b: Backend) {
    let db = b.db;
    for (token, status) in [("gave-up", Status::Timeout), ("bad", Status::InvalidToken)] {
        let p = due_payment(&db, token).await;
        apply(&db, vec![outcome(&p).finalize(status)], WRITTEN, &[]).await;
        assert_eq!(
            db.requeue(token.into(), LATER).await.unwrap(),
            Requeued::Reopened(status)
        );
        let row = row(&db, token).await;
        assert_eq!(row.status, "pending");
        assert_eq!(row.status_reason, Some(format!("requeued from {status}")));
        assert_eq!(
            (row.next_poll_at, row.resolved_at, row.attempts),
            (Some(LATER), None, 0)
        );
        let again = claim(&db, token, LATER).await;
        assert_eq!(again.claimed_reason, row.status_reason);
        assert_eq!(again.window_start, LATER, "a fresh give_up_after window");
    }
    db.enqueue(new_payment("open", Kind::Invoice), T, T)
        .await
        .unwrap();
    let paid = due_payment(&db, "paid").await;
    apply(
        &db,
        vec![outcome(&paid).finalize(Status::Completed)],
        WRITTEN,
        &[],
    )
    .await;
    for token in ["open", "paid"] {
        let err = db.requeue(token.into(), LATER).await.unwrap_err();
        assert!(matches!(err, StoreError::NotRequeueable { .. }), "{err:?}");
    }
    let err = db.requeue("nope".into(), LATER).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// `list` and `search` return the newest first; a search pages by id (`before_id`), so a
/// page never shifts as payments arrive.
async fn lookups_come_newest_first_with_keyset_paging(b: Backend) {
    let db = b.db;
    for token in ["a", "b", "c"] {
        let p = NewPayment::parse(token, Some("order-x"), Some("100")).unwrap();
        db.enqueue(p, T, T).await.unwrap();
    }
    db.enqueue(new_payment("out", Kind::Payout), T, T)
        .await
        .unwrap();
    shop(
        &db,
        "UPDATE payments SET status = 'completed' WHERE token = 'a'",
    )
    .await;
    let list = |status| {
        let db = db.clone();
        async move { db.list(status, 10).await.unwrap() }
    };
    assert_eq!(tokens(&list(None).await), ["out", "c", "b", "a"]);
    assert_eq!(tokens(&list(Some(Status::Completed)).await), ["a"]);
    assert_eq!(db.list(None, 2).await.unwrap().len(), 2);
    let search = |filter: PaymentFilter, limit| {
        let db = db.clone();
        async move { db.search(filter, limit).await.unwrap() }
    };
    let order_x = PaymentFilter {
        transaction_id: Some("order-x".into()),
        ..PaymentFilter::default()
    };
    assert_eq!(
        tokens(&search(order_x.clone(), 1).await),
        ["c"],
        "the newest"
    );
    let c = row(&db, "c").await.id;
    let next_page = PaymentFilter {
        before_id: Some(c),
        ..order_x.clone()
    };
    assert_eq!(tokens(&search(next_page, 1).await), ["b"]);
    let pending = PaymentFilter {
        status: Some(Status::Pending),
        ..PaymentFilter::default()
    };
    assert_eq!(tokens(&search(pending, 10).await), ["out", "c", "b"]);
    let payouts = PaymentFilter {
        kind: Some(Kind::Payout),
        ..PaymentFilter::default()
    };
    assert_eq!(tokens(&search(payouts, 10).await), ["out"]);
    let first = PaymentFilter {
        before_id: Some(row(&db, "a").await.id),
        ..order_x
    };
    assert!(
        search(first, 10).await.is_empty(),
        "nothing before the first"
    );
}
