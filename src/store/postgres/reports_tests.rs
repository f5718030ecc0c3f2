//! The report's facts, report runs, pruning, gauges, the writable check and callbacks, on
//! a real PostgreSQL server.

use super::*;
use crate::store::callbacks::CallbackKeys;
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::testing::TestServer;
use serde_json::json;

const DAY: Millis = 86_400_000;
const START: Millis = 1_700_000_000_000;
const END: Millis = START + DAY;

/// Inserts a payment as the shop and the reconciler would have left it.
async fn row(
    store: &PgStore,
    token: &str,
    kind: &str,
    status: &str,
    created: Millis,
    resolved: Option<Millis>,
) {
    store
        .conn()
        .await
        .unwrap()
        .execute(
            "INSERT INTO payments (token, transaction_id, expected_amount, amount, kind, status, \
             operator_name, created_at, updated_at, resolved_at, next_poll_at) \
             VALUES ($1::text, 'ord-' || $1::text, 5000, 5000, $2, $3::text, ' ', $4::bigint, \
             $4::bigint, $5, CASE WHEN $3::text = 'pending' THEN $4::bigint END)",
            &[&token, &kind, &status, &created, &resolved],
        )
        .await
        .unwrap();
}

fn tokens<T>(rows: &[T], token: impl Fn(&T) -> &str) -> Vec<String> {
    rows.iter().map(|r| token(r).to_owned()).collect()
}

#[tokio::test]
async fn a_days_facts_hold_what_the_day_resolved_and_left_pending() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("facts", "n1").await;
    row(
        &store,
        "done",
        "invoice",
        "completed",
        START - 10,
        Some(START + 5),
    )
    .await;
    row(
        &store,
        "yesterday",
        "invoice",
        "completed",
        START - 20,
        Some(START - 1),
    )
    .await;
    row(&store, "waiting", "invoice", "pending", START + 1, None).await;
    row(&store, "tomorrow", "invoice", "pending", END + 1, None).await;
    row(
        &store,
        "late",
        "invoice",
        "timeout",
        START - 30,
        Some(END + 3),
    )
    .await;
    row(
        &store,
        "gave",
        "invoice",
        "timeout",
        START + 2,
        Some(START + 9),
    )
    .await;
    row(&store, "out", "payout", "completed", START, Some(START + 7)).await;
    row(
        &store,
        "still-out",
        "withdrawal",
        "pending",
        START + 3,
        None,
    )
    .await;
    let c = store.conn().await.unwrap();
    c.execute(
        "INSERT INTO confirm_attempts (payment_id, at, latency_ms, outcome) \
         SELECT id, $1, 42, 'completed' FROM payments WHERE token = 'done'",
        &[&(START + 5)],
    )
    .await
    .unwrap();
    drop(c);
    store
        .record_callback(
            "application/json",
            "{}",
            &CallbackKeys::default(),
            START + 6,
            0,
        )
        .await
        .unwrap();

    let facts = store.day_facts(START, END, END + 10).await.unwrap();
    assert_eq!(tokens(&facts.resolved, |f| &f.token), ["done", "gave"]);
    // `late` was created before the day ended and resolved after: pending at its end.
    assert_eq!(
        tokens(&facts.pending_at_end, |f| &f.token),
        ["late", "waiting"]
    );
    let done = &facts.resolved[0];
    assert_eq!(
        (done.amount, done.operator_name.as_deref(), done.requeued),
        (Some(5000), None, false)
    );
    assert_eq!(
        facts.attempts,
        [AttemptFact {
            outcome: "completed".into(),
            latency_ms: 42
        }]
    );
    assert_eq!(
        (facts.unmatched_callbacks, facts.generated_at),
        (1, END + 10)
    );

    let payouts = store.payout_facts(START, END).await.unwrap();
    assert_eq!(tokens(&payouts.resolved, |f| &f.token), ["out"]);
    assert_eq!(tokens(&payouts.pending_at_end, |f| &f.token), ["still-out"]);
    assert_eq!(payouts.pending_at_end[0].kind, "withdrawal");

    let timeouts = store.timeouts_since(START + 8).await.unwrap();
    assert_eq!(tokens(&timeouts, |p| &p.token), ["gave", "late"]);
}

#[tokio::test]
async fn a_report_day_is_recorded_once_and_the_gauges_and_pruning_see_the_tables() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("runs", "n1").await;
    assert_eq!(store.last_report_day().await.unwrap(), None);
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let to = vec!["jsonl".to_owned()];
    for at in [START, START + 1] {
        store
            .record_report(
                day,
                &["r.csv".into()],
                json!({"day": "2026-03-01"}),
                &to,
                at,
            )
            .await
            .unwrap();
    }
    let earlier = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
    store
        .record_report(earlier, &[], json!({}), &[], START + 2)
        .await
        .unwrap();
    assert_eq!(store.last_report_day().await.unwrap(), Some(day));
    let runs: i64 = store
        .conn()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM report_runs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 2);

    row(&store, "old", "invoice", "pending", START - 50, None).await;
    row(&store, "new", "invoice", "pending", START - 10, None).await;
    row(&store, "owed", "payout", "pending", START - 90, None).await;
    let gauges = store.gauges(true).await.unwrap();
    assert_eq!(
        gauges,
        DbGauges {
            pending: 3,
            oldest_pending_created_at: Some(START - 50),
            pending_payouts: 1,
            overdue_payouts: 0,
            // The day recorded twice is announced once (a node that lost its report lock
            // may record a day another node did): one report.generated event to the sink,
            // one with no sink (born delivered).
            events_by_state: vec![("delivered".into(), 1), ("pending".into(), 1)],
            last_report_at: Some(START + 2),
        }
    );

    let c = store.conn().await.unwrap();
    c.batch_execute(
        "INSERT INTO confirm_attempts (payment_id, at, latency_ms, outcome) \
         SELECT id, at, 1, 'pending' FROM payments, (VALUES (10), (20), (30)) AS t (at) \
         WHERE token = 'old'",
    )
    .await
    .unwrap();
    drop(c);
    for at in [15, 25] {
        store
            .record_callback("text/plain", "x", &CallbackKeys::default(), at, 0)
            .await
            .unwrap();
    }
    assert_eq!(store.prune_attempts(21, 21).await.unwrap(), 3);
    assert_eq!(store.prune_attempts(21, 21).await.unwrap(), 0);
    assert_eq!(store.prune_attempts(31, 31).await.unwrap(), 2);
}

#[tokio::test]
async fn a_read_only_database_is_refused_as_unwritable() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = pg.store("ro", "n1").await;
    store.ensure_writable().await.unwrap();
    store
        .conn()
        .await
        .unwrap()
        .batch_execute("ALTER DATABASE ro SET default_transaction_read_only = on")
        .await
        .unwrap();
    let fresh = PgStore::open(&pg.settings("ro"), 1, ClaimPolicy::new("n2", 30_000, 3_000))
        .await
        .unwrap();
    let err = fresh.ensure_writable().await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
}
