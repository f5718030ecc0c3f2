//! The plans of the queries a PostgreSQL node runs over and over (issue 27): each must
//! reach `payments` through an index, never read the whole table. A sequential scan that
//! costs nothing on a test database costs a tenth of a core per million pending rows on
//! every node's every scan.
//!
//! The plans are the ones the server really chose for the statements the store really
//! sent: `auto_explain` (shipped with PostgreSQL) logs the plan of every statement of the
//! node's connections, and the test reads the server's log. So a query changed or added to
//! these operations is checked without this file naming its SQL. The table holds enough
//! rows, mostly resolved history as in a shop's database, and is analysed, so the planner
//! chooses as it would in production.

use super::helpers::*;
use crate::config::DatabaseBackend;
use crate::store::postgres::ClaimPolicy;
use crate::store::postgres::testing::TestServer;
use crate::store::{Db, Target};
use std::collections::HashSet;
use std::sync::Arc;

/// Every periodic operation on `payments`, on a table of 60,000 resolved and 6,000
/// pending payments (some due, some not yet scheduled, some payouts), after `ANALYZE`.
#[tokio::test]
async fn periodic_queries_never_scan_the_whole_payments_table() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    pg.create_database("plans").await;
    let target = Target {
        backend: DatabaseBackend::Postgres(pg.settings("plans")),
        claims: ClaimPolicy::new("a", 30_000, 3_000),
        max_connections: 2,
    };
    let setup = Db::open(&target).await.expect("open");
    let now = 1_700_000_000_000_i64;
    shop(
        &setup,
        &format!(
            "INSERT INTO payments (token, status, created_at, updated_at, resolved_at) \
             SELECT 'old-' || i, 'completed', {now} - i * 1000, {now} - i * 1000, \
             {now} - i * 1000 FROM generate_series(1, 60000) i; \
             INSERT INTO payments (token, next_poll_at, created_at) \
             SELECT 'wait-' || i, {now} + i * 100, {now} - i FROM generate_series(1, 5000) i; \
             INSERT INTO payments (token, next_poll_at, created_at) \
             SELECT 'due-' || i, {now} - i, {now} - i FROM generate_series(1, 500) i; \
             INSERT INTO payments (token, kind, next_poll_at, created_at) \
             SELECT 'out-' || i, 'payout', {now} + i, {now} - i FROM generate_series(1, 300) i; \
             INSERT INTO payments (token, created_at) \
             SELECT 'shop-' || i, {now} - i FROM generate_series(1, 200) i; \
             ANALYZE; \
             ALTER DATABASE plans SET session_preload_libraries = 'auto_explain'; \
             ALTER DATABASE plans SET auto_explain.log_min_duration = 0"
        ),
    )
    .await;
    // A node opened now: its connections load auto_explain.
    let db = Db::open(&target).await.expect("open a node");
    let from = pg.log().len();
    let sinks = Arc::new(vec!["hook".to_owned()]);
    db.schedule_unscheduled(3_600_000, 3_600_000).await.unwrap();
    db.schedule_unscheduled(3_600_000, 3_600_000).await.unwrap();
    db.due(now, 4, HashSet::new()).await.unwrap();
    db.next_due_after(now).await.unwrap();
    db.any_pending().await.unwrap();
    db.expire_counts_for_tests();
    db.gauges().await.unwrap();
    db.due_deliveries(now, sinks.clone(), 16).await.unwrap();
    db.next_delivery_after(now).await.unwrap();
    db.any_delivery_due(now, sinks).await.unwrap();
    let log = pg.log()[from..].to_owned();
    let plans = log.matches("Query Text:").count();
    assert!(plans >= 10, "auto_explain logged {plans} plans:\n{log}");
    assert!(
        log.contains("payments_due"),
        "the due index in the plans:\n{log}"
    );
    let scans: Vec<&str> = log
        .split("LOG:")
        .filter(|plan| plan.contains("Seq Scan on payments"))
        .collect();
    assert!(
        scans.is_empty(),
        "sequential scans of payments:\n{}",
        scans.join("\n")
    );
}
