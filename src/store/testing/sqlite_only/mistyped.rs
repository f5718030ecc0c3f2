//! Rows the shop wrote with values of the wrong type (`expected_amount = '5 000'`, a
//! BLOB token, a text poll time): SQLite's CHECKs let them in, PostgreSQL refuses them at
//! INSERT. Such a row is parked by the poller until corrected, and read leniently by the
//! report, the re-check and enqueue: it never stops the work on the others.

use super::fresh;
use crate::store::sqlite::parked;
use crate::store::{Store, StoreError};

/// Values of the wrong type pass SQLite's CHECKs (`'5 000' > 0` is true for TEXT). Such
/// a row must not stop the due read, and so all polling: it is parked with its reason, and
/// due again at the first scan after the shop corrects it.
#[test]
fn a_row_with_a_value_of_the_wrong_type_is_parked_until_corrected() {
    let (_dir, mut store) = fresh();
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
    let (_dir, mut store) = fresh();
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
    let (_dir, mut store) = fresh();
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

/// A row with a BLOB token (a Python shop binding `bytes`) or a text `created_at` neither
/// stops the day's report nor the re-check of everyone else's timeouts.
#[test]
fn mistyped_rows_stop_neither_the_report_nor_the_recheck() {
    let (_dir, store) = fresh();
    let c = store.connection();
    c.execute(
        "INSERT INTO payments (token, created_at) VALUES (x'00ff', 10)",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO payments (token, kind, created_at) VALUES (x'01', 'payout', 10)",
        [],
    )
    .unwrap();
    for (token, created_at) in [("good-timeout", "20"), ("text-created", "'yesterday'")] {
        c.execute(
            &format!(
                "INSERT INTO payments (token, status, created_at, resolved_at) \
                 VALUES ('{token}', 'timeout', {created_at}, 30)"
            ),
            [],
        )
        .unwrap();
    }
    let facts = store.day_facts(0, 100, 100).unwrap();
    assert_eq!(
        facts.pending_at_end.len(),
        1,
        "the BLOB-token invoice, read leniently"
    );
    assert_eq!(store.payout_facts(0, 100).unwrap().pending_at_end.len(), 1);
    let due = store.timeouts_since(0).unwrap();
    let tokens: Vec<&str> = due.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["good-timeout"], "the mistyped one is left out");
}

/// An `expected_amount` the shop wrote badly reaches the report as written, for a person to
/// see, on an invoice and on a payout alike; a whole one has nothing as written.
#[test]
fn a_mistyped_amount_reaches_the_report_as_written() {
    let (_dir, store) = fresh();
    let c = store.connection();
    for (token, kind, amount) in [
        ("spaced", "invoice", "'5 000'"),
        ("fraction", "invoice", "2500.5"),
        ("blob", "invoice", "x'0102'"),
        ("whole", "invoice", "5000"),
        ("out-spaced", "withdrawal", "'3 000'"),
    ] {
        c.execute(
            &format!(
                "INSERT INTO payments (token, kind, expected_amount, created_at) \
                 VALUES ('{token}', '{kind}', {amount}, 10)"
            ),
            [],
        )
        .unwrap();
    }
    let facts = store.day_facts(0, 100, 100).unwrap();
    let seen: Vec<_> = facts
        .pending_at_end
        .iter()
        .map(|p| (p.expected_amount, p.expected_as_written.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (None, Some("5 000")),
            (None, Some("2500.5")),
            (None, Some("BLOB of 2 bytes")),
            (Some(5000), None)
        ]
    );
    let out = store.payout_facts(0, 100).unwrap().pending_at_end;
    assert_eq!(out[0].expected_as_written.as_deref(), Some("3 000"));
    assert_eq!(out[0].expected_amount, None);
}

/// Enqueueing a token the shop already wrote with a mistyped amount is a conflict (409,
/// exit 1), not "database unusable".
#[test]
fn enqueue_over_a_mistyped_row_is_a_conflict() {
    let (_dir, mut store) = fresh();
    store
        .connection()
        .execute(
            "INSERT INTO payments (token, expected_amount) VALUES ('tok', '5 000')",
            [],
        )
        .unwrap();
    use crate::payment::NewPayment;
    use crate::store::Enqueued;
    let p = NewPayment::parse("tok", None, Some("5000")).unwrap();
    let err = store.enqueue(&p, 0, 0).unwrap_err();
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
    let same = NewPayment::parse("fresh", None, Some("5000")).unwrap();
    store.enqueue(&same, 0, 0).unwrap();
    assert_eq!(
        store.enqueue(&same, 0, 0).unwrap(),
        Enqueued::AlreadyPresent
    );
}
