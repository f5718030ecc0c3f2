//! The shop's side of payouts: enqueue through the API with a kind, an unknown kind
//! refused, and an existing database migrated (every row an invoice).

use super::env;
use crate::api::{TOKEN, api_daemon, call};
use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn an_unknown_kind_is_refused_and_nothing_is_written() {
    let env = env().await;
    for args in [
        vec!["enqueue", "tok-1", "--kind", "refund"],
        vec!["enqueue", "tok-1", "--kind", ""],
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--kind") && err.contains("invoice, withdrawal, payout"),
            "{err}"
        );
    }
    assert!(
        !env.db.exists(),
        "a refused enqueue must not create the database"
    );
    // The same token again with another kind is a conflict, not a silent change.
    assert_ok(&env.run(&["enqueue", "tok-2", "--kind", "withdrawal"]).await);
    let out = env.run(&["enqueue", "tok-2"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("different kind"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_api_enqueues_each_kind_and_refuses_an_unknown_one() {
    let mut env = env().await;
    let (daemon, base) = api_daemon(&mut env).await;
    let url = format!("{base}/v1/payments");
    let body = |v: Value| Some(("application/json", v.to_string()));
    let (status, p) = call(
        "POST",
        &url,
        Some(TOKEN),
        body(json!({"token": "w-1", "kind": "withdrawal", "expected_amount": 100})),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["kind"], "withdrawal");
    let (status, p) = call("POST", &url, Some(TOKEN), body(json!({"token": "i-1"}))).await;
    assert_eq!((status, p["kind"].as_str()), (201, Some("invoice")));
    let (status, p) = call(
        "POST",
        &url,
        Some(TOKEN),
        body(json!({"token": "x-1", "kind": "refund"})),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    assert!(p.to_string().contains("refund"), "{p}");
    terminate(&daemon);
    finished(daemon).await;
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE token = ?1", "x-1"),
        0
    );
}

/// A database of an earlier version, with rows: after `migrate` every row is an invoice.
#[tokio::test]
async fn migrating_an_existing_database_makes_every_row_an_invoice() {
    let env = env().await;
    {
        let conn = rusqlite::Connection::open(&env.db).unwrap();
        conn.execute_batch(include_str!("../../../migrations/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO payments (token, status) VALUES ('old-1', 'pending'), ('old-2', 'completed')",
        )
        .unwrap();
    }
    assert_ok(&env.run(&["migrate"]).await);
    for token in ["old-1", "old-2"] {
        assert_eq!(env.show(token).await["kind"], "invoice");
    }
    let conn = env.shop_connection();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version,
        ligdicash_reconciler::store::sqlite::migrations::SCHEMA_VERSION
    );
    let kinds: i64 = conn
        .query_row(
            "SELECT count(*) FROM payments_view WHERE kind = 'invoice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kinds, 2);
}
