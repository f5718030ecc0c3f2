//! What only SQLite does: the file opened with its pragmas, a garbage file refused, the
//! hot queries answered from the partial indexes, an old file upgraded; and, in
//! [`mistyped`], rows the shop wrote with values of the wrong type, which SQLite's type
//! affinity lets in and PostgreSQL refuses. These tests may use the SQLite [`Store`] and
//! its SQL directly.

mod mistyped;

use crate::store::Store;
use crate::store::sqlite::{migrations, parked, payments};
use std::path::Path;
use std::time::Duration;

/// A fresh database file, opened as the daemon opens it, and the directory holding it.
fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    (dir, store)
}

#[test]
fn opens_fresh_database_in_wal_with_full_sync() {
    let (_dir, store) = fresh();
    let c = store.connection();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "FULL");
    assert_eq!(store.schema_version().unwrap(), migrations::SCHEMA_VERSION);
}

#[test]
fn missing_directory_is_named() {
    let err = Store::open(
        Path::new("/nonexistent-dir-xyz/r.db"),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent-dir-xyz"), "{err}");
}

/// The hot queries must be answered from the partial indexes, never by scanning the
/// table: the table keeps every payment for years, the indexes only pending ones.
#[test]
fn hot_queries_use_the_partial_indexes() {
    let (_dir, store) = fresh();
    let plan = |sql: &str| -> String {
        let mut stmt = store
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
    };
    use parked::{MISTYPED_POLL_TIME_SQL, PARKED_IDS_SQL};
    use payments::{DUE_SQL, NEXT_DUE_SQL, UNSCHEDULED_SQL};
    let cases = [
        (
            DUE_SQL.replace("?1", "5").replace("?2", "10"),
            "payments_due",
        ),
        (
            NEXT_DUE_SQL.replace("?1", "5").replace("?2", "9"),
            "payments_due",
        ),
        (UNSCHEDULED_SQL.to_owned(), "payments_unscheduled"),
        (MISTYPED_POLL_TIME_SQL.replace("?1", "10"), "payments_due"),
        (
            PARKED_IDS_SQL
                .replace("?1", "9")
                .replace("?2", "0")
                .replace("?3", "64"),
            "payments_due",
        ),
    ];
    for (sql, index) in cases {
        let p = plan(&sql);
        assert!(p.contains(index), "{sql}\n{p}");
        // Scanning a partial index of pending rows is fine; scanning the table is not.
        let table_scan = p
            .split("; ")
            .any(|step| step.starts_with("SCAN payments") && !step.contains("USING"));
        assert!(!table_scan && !p.contains("TEMP B-TREE"), "{sql}\n{p}");
    }
}

/// The due read's id query is answered from the index alone: no table row is read for a
/// payment in flight, however many are skipped.
#[test]
fn the_due_id_query_reads_the_index_alone() {
    let (_dir, store) = fresh();
    let sql = payments::DUE_SQL.replace("?1", "5").replace("?2", "10");
    let program: Vec<String> = store
        .connection()
        .prepare(&format!("EXPLAIN {sql}"))
        .unwrap()
        .query_map([], |r| r.get::<_, String>(1))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(
        !program.iter().any(|op| op == "Column" || op == "SeekRowid"),
        "the id query reads table rows: {program:?}"
    );
}

#[test]
fn garbage_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&path, Duration::from_secs(1)).unwrap_err();
    assert!(err.to_string().contains("not a database"), "{err}");
}

/// Version 6: every row of an older database is an invoice, a shop INSERT without a kind
/// is one too, and an unknown kind is refused by the CHECK.
#[test]
fn upgrading_to_version_6_makes_every_existing_row_an_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(include_str!("../../../migrations/0001_initial.sql"))
            .unwrap();
        old.execute_batch(
            "INSERT INTO payments (token, status) VALUES ('a', 'pending'), ('b', 'completed')",
        )
        .unwrap();
    }
    let mut store = Store::open(&path, Duration::from_secs(1)).unwrap();
    let c = store.connection();
    let kinds: Vec<String> = c
        .prepare("SELECT kind FROM payments_view ORDER BY token")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds, ["invoice", "invoice"]);
    c.execute("INSERT INTO payments (token) VALUES ('c')", [])
        .unwrap();
    c.execute(
        "INSERT INTO payments (token, kind) VALUES ('d', 'withdrawal')",
        [],
    )
    .unwrap();
    let bad = c.execute(
        "INSERT INTO payments (token, kind) VALUES ('e', 'refund')",
        [],
    );
    assert!(bad.unwrap_err().to_string().contains("CHECK"));
    assert_eq!(store.get("c").unwrap().unwrap().kind, "invoice");
    // Shop rows get their kind's first delay.
    store.schedule_unscheduled(10, 30_000).unwrap();
    let due: Vec<(String, i64)> = store
        .connection()
        .prepare(
            "SELECT token, next_poll_at - created_at FROM payments \
             WHERE token IN ('c', 'd') ORDER BY token",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(due, [("c".into(), 10), ("d".into(), 30_000)]);
}

/// The case sweep's read never scans `payments`, `callbacks` or `cases`: each part of its
/// window goes through an index, so an idle daemon's sweep costs a few index probes
/// however many payments the table keeps.
#[test]
fn the_case_sweep_reads_through_indexes_only() {
    let (_dir, store) = fresh();
    let sql = crate::store::sqlite::cases::candidates_sql();
    let mut stmt = store
        .connection()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let steps: Vec<String> = stmt
        .query_map([1, 2, 3, 4], |r| r.get::<_, String>(3))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    // Only the few candidate ids (the CTE) may be read in full.
    let scans: Vec<&String> = steps
        .iter()
        .filter(|s| s.starts_with("SCAN ") && !s.contains("USING") && *s != "SCAN ids")
        .collect();
    assert!(scans.is_empty(), "{scans:?} in {steps:#?}");
    for index in [
        "payments_status",
        "callbacks_received",
        "cases_open",
        "payments_payouts_pending",
        "payments_pending_age",
        "payments_requeued_pending",
    ] {
        assert!(
            steps.iter().any(|s| s.contains(index)),
            "{index} unused: {steps:#?}"
        );
    }
}
