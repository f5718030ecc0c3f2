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

/// Values of the wrong type pass SQLite's CHECKs (`'5 000' > 0` is true for TEXT). Such
/// a row must not stop the due read, and so all polling: it is parked with its reason, and
/// due again at the first scan after the shop corrects it.
#[test]
fn a_row_with_a_value_of_the_wrong_type_is_parked_until_corrected() {
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
    let state = |store: &Store, token: &str| -> (String, i64, Option<String>) {
        store
            .connection()
            .query_row(
                "SELECT status, next_poll_at, last_error FROM payments WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    for (token, what) in [("spaced", "text \"5 000\""), ("fraction", "2500.5")] {
        let (status, next, error) = state(&store, token);
        assert_eq!(status, "pending");
        assert_eq!(next, parked::PARKED);
        let error = error.unwrap();
        assert!(error.starts_with(parked::PARKED_PREFIX), "{error}");
        assert!(
            error.contains("expected_amount") && error.contains(what),
            "{error}"
        );
    }
    // Parked rows are not read again, nor waited for by `--until-idle`.
    assert_eq!(store.due(100, 10, &Default::default()).unwrap().len(), 1);
    assert_eq!(store.next_due_after(100).unwrap(), None);
    assert!(store.any_pending().unwrap());
    store
        .connection()
        .execute(
            "UPDATE payments SET status = 'completed' WHERE token = 'good'",
            [],
        )
        .unwrap();
    assert!(!store.any_pending().unwrap());
    // Nor do they stop the nightly report: they show without an expected amount.
    let facts = store.day_facts(0, i64::MAX, 0).unwrap();
    assert_eq!(facts.pending_at_end.len(), 2, "the two parked");
    // The shop corrects one with a plain UPDATE: it is due in the very next scan.
    store
        .connection()
        .execute(
            "UPDATE payments SET expected_amount = 5000 WHERE token = 'spaced'",
            [],
        )
        .unwrap();
    let due = store.due(200, 10, &Default::default()).unwrap();
    let tokens: Vec<&str> = due.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["spaced"]);
    assert_eq!(due[0].expected_amount, Some(5000));
    assert_eq!(state(&store, "spaced"), ("pending".into(), 200, None));
    assert_eq!(state(&store, "fraction").1, parked::PARKED, "still parked");
}

/// The re-check of parked rows takes turns: with more parked rows than it reads per scan,
/// a corrected row is found within a few scans wherever it is.
#[test]
fn the_recheck_of_parked_rows_reaches_every_one_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let parked_rows = parked::RECHECK_BATCH * 2 + 5;
    for i in 0..parked_rows {
        store
            .connection()
            .execute(
                "INSERT INTO payments (token, expected_amount, next_poll_at) VALUES (?1, 'x', 10)",
                [format!("bad-{i}")],
            )
            .unwrap();
    }
    store.due(100, parked_rows, &Default::default()).unwrap();
    let last = format!("bad-{}", parked_rows - 1);
    store
        .connection()
        .execute(
            "UPDATE payments SET expected_amount = 1 WHERE token = ?1",
            [&last],
        )
        .unwrap();
    let mut found_after = None;
    for scan in 1..=4 {
        let due = store.due(200, 10, &Default::default()).unwrap();
        if due.iter().any(|p| p.token == last) {
            found_after = Some(scan);
            break;
        }
    }
    assert_eq!(found_after, Some(3), "the third batch holds the last row");
}

/// A `next_poll_at` that is not a number (`'soon'`, a BLOB) sorts after every time in
/// SQLite, so the row would never be due, and reading it as the next wake-up would
/// fail. The schedule is the reconciler's: such a row is scheduled as one inserted
/// without a poll time, with a note, and the others still run.
#[test]
fn a_poll_time_that_is_not_a_number_is_rescheduled_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let insert = "INSERT INTO payments (token, next_poll_at, created_at) VALUES (?1, ?2, 50)";
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
        let (next, error): (Option<i64>, String) = store
            .connection()
            .query_row(
                "SELECT next_poll_at, last_error FROM payments WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(next, None, "{token}");
        assert!(error.contains("next_poll_at"), "{token}: {error}");
    }
    assert_eq!(store.next_due_after(100).unwrap(), None);
    // The next scan schedules them at created_at + first_delay, and they are polled.
    assert_eq!(store.schedule_unscheduled(5, 5).unwrap(), 2);
    let due = store.due(100, 10, &Default::default()).unwrap();
    let mut tokens: Vec<&str> = due.iter().map(|p| p.token.as_str()).collect();
    tokens.sort();
    assert_eq!(tokens, ["blob", "good", "soon"]);
}

/// The due read's id query is answered from the index alone: no table row is read for a
/// payment in flight, however many are skipped.
#[test]
fn the_due_id_query_reads_the_index_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
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
        old.execute_batch(include_str!("../../migrations/0001_initial.sql"))
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
