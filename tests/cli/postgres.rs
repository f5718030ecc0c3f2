//! The real binary on a real PostgreSQL server (issue 17): `migrate`, `enqueue`, `run
//! --until-idle` against the sandbox, `show`; the payment ends completed and its event
//! delivered, and no SQLite file or lock file appears. Several daemons share one database,
//! so `run` takes no file lock there: a second `run` beside a running one is no exit 5.
//!
//! The server is the crate's own test harness, compiled here from its file (it depends on
//! nothing in the crate): one harness for the unit and the integration tests, no feature
//! flag to remember. Without PostgreSQL installed the test says "skipped", except in CI.

mod cluster;
mod outage;

use crate::helpers::{TestEnv, assert_ok, settled, stderr, terminate};
use crate::pg_server::TestServer;
use ligdicash_reconciler::config::database::DATABASE_URL_ENV;
use ligdicash_reconciler::sandbox::Outcome;
use std::process::Output;
use std::time::Duration;

/// Runs the binary with the database URL in the environment, as a systemd drop-in would.
async fn run(env: &TestEnv, url: &str, args: &[&str]) -> Output {
    let out = env.cmd(args).env(DATABASE_URL_ENV, url).output();
    tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("command timed out")
        .unwrap()
}

/// One value read from the database, as the shop's code would.
async fn query_text(url: &str, sql: &str) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    let rows = client.query(sql, &[]).await.unwrap();
    drop(client);
    let _ = task.await;
    rows.iter().map(|r| r.get(0)).collect()
}

async fn enqueue_and_settle(env: &TestEnv, url: &str, order: &str) -> String {
    let token = env
        .sandbox
        .sandbox
        .add_invoice(&settled(Outcome::Completed, 5000));
    let out = run(
        env,
        url,
        &[
            "enqueue",
            &token,
            "--transaction-id",
            order,
            "--amount",
            "5000",
        ],
    )
    .await;
    assert_ok(&out);
    token
}

#[tokio::test]
async fn a_payment_is_reconciled_and_its_event_delivered_on_postgresql() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    pg.create_database("shop").await;
    let url = pg.url("shop");
    let mut env = TestEnv::start().await;
    let jsonl = env.dir.path().join("events.jsonl");
    env.config.events.jsonl_path = Some(jsonl.clone());
    env.write_config();

    let out = run(&env, &url, &["migrate"]).await;
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("127.0.0.1") && said.contains("schema version 4"),
        "{said}"
    );

    let token = enqueue_and_settle(&env, &url, "ORD-1").await;
    assert_ok(&run(&env, &url, &["run", "--until-idle"]).await);
    let out = run(&env, &url, &["show", &token]).await;
    assert_ok(&out);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], "completed", "{shown}");
    assert_eq!(shown["amount"], 5000, "{shown}");

    let events = query_text(&url, "SELECT type || ' ' || state FROM events").await;
    assert_eq!(events, ["payment.completed delivered"]);
    let delivered = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        delivered.contains(&token) && delivered.contains("payment.completed"),
        "{delivered}"
    );
    assert!(!env.db.exists(), "no SQLite file beside PostgreSQL");
    let lock = env.dir.path().join("reconciler.db.lock");
    assert!(!lock.exists(), "no file lock on PostgreSQL");

    // A daemon runs; a second one on the same database is not refused (no exit 5) and
    // reconciles the next payment beside it.
    let mut first = env
        .cmd(&["run"])
        .env(DATABASE_URL_ENV, &url)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(first.try_wait().unwrap().is_none(), "the first daemon runs");
    let second = enqueue_and_settle(&env, &url, "ORD-2").await;
    let out = run(&env, &url, &["run", "--until-idle"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let statuses = query_text(
        &url,
        "SELECT token || ' ' || status FROM payments ORDER BY id",
    )
    .await;
    assert_eq!(
        statuses,
        [format!("{token} completed"), format!("{second} completed")]
    );
    let events = query_text(&url, "SELECT count(*)::text FROM events").await;
    assert_eq!(
        events,
        ["2"],
        "one event per payment, whichever node finalised it"
    );
    terminate(&first);
    let stopped = tokio::time::timeout(Duration::from_secs(20), first.wait())
        .await
        .expect("the first daemon stops on SIGTERM")
        .unwrap();
    assert!(stopped.success(), "{stopped:?}");
}

/// A database the server refuses says why on the command line: the server's message and
/// SQLSTATE (the driver alone says "db error"), with the URL as it may be shown.
#[tokio::test]
async fn a_missing_database_is_named_with_the_servers_reason() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let env = TestEnv::start().await;
    let out = run(&env, &pg.url("nope"), &["migrate"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}/nope", pg.port))
            && err.contains(r#"FATAL: database "nope" does not exist (SQLSTATE 3D000)"#),
        "{err}"
    );
}
