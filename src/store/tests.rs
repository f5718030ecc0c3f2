use super::*;

#[test]
fn opens_fresh_database_in_wal_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let plan = |sql: &str| -> String {
        let mut stmt = store
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
    };
    use payments::{DUE_SQL, MISTYPED_POLL_TIME_SQL, NEXT_DUE_SQL, UNSCHEDULED_SQL};
    let cases = [
        (
            DUE_SQL.replace("?1", "5").replace("?2", "10"),
            "payments_due",
        ),
        (NEXT_DUE_SQL.replace("?1", "5"), "payments_due"),
        (UNSCHEDULED_SQL.to_owned(), "payments_unscheduled"),
        (MISTYPED_POLL_TIME_SQL.replace("?1", "10"), "payments_due"),
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

/// Values of the wrong type pass SQLite's CHECKs (`'5 000' > 0` is true for TEXT). Such
/// a row must not stop the due read, and so all polling: it is put off with its reason.
#[test]
fn a_row_with_a_value_of_the_wrong_type_is_set_aside_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let insert = "INSERT INTO payments (token, expected_amount, next_poll_at) VALUES (?1, ?2, 10)";
    let c = store.connection();
    c.execute(insert, rusqlite::params!["good", 2500]).unwrap();
    c.execute(insert, rusqlite::params!["spaced", "5 000"])
        .unwrap();
    c.execute(insert, rusqlite::params!["fraction", 2500.5])
        .unwrap();
    let due = store.due(100, 10, &Default::default()).unwrap();
    let tokens: Vec<&str> = due.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["good"]);
    for token in ["spaced", "fraction"] {
        let (status, next, error): (String, i64, String) = store
            .connection()
            .query_row(
                "SELECT status, next_poll_at, last_error FROM payments WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(status, "pending");
        assert_eq!(next, 100 + payments::UNREADABLE_RETRY_MS);
        assert!(error.contains("expected_amount"), "{error}");
    }
    assert!(store.due(100, 10, &Default::default()).unwrap().len() == 1);
    // `--until-idle` stops once only set-aside rows are left.
    assert!(store.any_pending().unwrap());
    store
        .connection()
        .execute(
            "UPDATE payments SET status = 'completed' WHERE token = 'good'",
            [],
        )
        .unwrap();
    assert!(!store.any_pending().unwrap());
    // Nor does it stop the nightly report: it shows without an expected amount.
    let facts = store.day_facts(0, i64::MAX, 0).unwrap();
    assert_eq!(facts.pending_at_end.len(), 2, "the two set aside");
}

/// A `next_poll_at` that is not a number (`'soon'`, a BLOB) sorts after every time in
/// SQLite, so the row would never be due, and reading it as the next wake-up would
/// fail. It is set aside like any other wrongly typed value, and the others still run.
#[test]
fn a_poll_time_that_is_not_a_number_is_set_aside_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let insert = "INSERT INTO payments (token, next_poll_at) VALUES (?1, ?2)";
    let c = store.connection();
    c.execute(insert, rusqlite::params!["good", 10]).unwrap();
    c.execute(insert, rusqlite::params!["soon", "soon"])
        .unwrap();
    c.execute(insert, rusqlite::params!["blob", vec![1u8, 2]])
        .unwrap();
    let due = store.due(100, 10, &Default::default()).unwrap();
    let tokens: Vec<&str> = due.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["good"]);
    for token in ["soon", "blob"] {
        let (next, error): (i64, String) = store
            .connection()
            .query_row(
                "SELECT next_poll_at, last_error FROM payments WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(next, 100 + payments::UNREADABLE_RETRY_MS, "{token}");
        assert!(error.contains("next_poll_at"), "{token}: {error}");
    }
    assert_eq!(
        store.next_due_after(100).unwrap(),
        Some(100 + payments::UNREADABLE_RETRY_MS)
    );
    store
        .connection()
        .execute(
            "UPDATE payments SET status = 'completed' WHERE token = 'good'",
            [],
        )
        .unwrap();
    assert!(
        !store.any_pending().unwrap(),
        "only set-aside rows are left"
    );
}

/// The due read: soonest first, without the payments in flight, only pending ones,
/// and the id query answered from the index alone (no table row read for a skipped id).
#[test]
fn due_payments_come_soonest_first_without_those_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let rows = [
        ("a", 50, "pending"),
        ("b", 10, "pending"),
        ("c", 40, "pending"),
        ("d", 20, "pending"),
        ("e", 30, "pending"),
        ("late", 1000, "pending"),
        ("done", 5, "completed"),
    ];
    for (token, at, status) in rows {
        store
            .connection()
            .execute(
                "INSERT INTO payments (token, next_poll_at, status) VALUES (?1, ?2, ?3)",
                rusqlite::params![token, at, status],
            )
            .unwrap();
    }
    let id = |token: &str| -> i64 {
        store
            .connection()
            .query_row("SELECT id FROM payments WHERE token = ?1", [token], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let in_flight = std::collections::HashSet::from([id("b"), id("e")]);
    let due = store.due(100, 2, &in_flight).unwrap();
    let tokens: Vec<&str> = due.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["d", "c"]);
    let all = store.due(100, 10, &Default::default()).unwrap();
    let tokens: Vec<&str> = all.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["b", "d", "e", "c", "a"]);

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
