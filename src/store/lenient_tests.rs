//! Rows the shop wrote with values of the wrong type, beyond the poller's parking
//! (`tests.rs`): the report, the re-check and enqueue read them without failing.

use super::*;
use std::time::Duration;

/// A row with a BLOB token (a Python shop binding `bytes`) or a text `created_at` neither
/// stops the day's report nor the re-check of everyone else's timeouts.
#[test]
fn mistyped_rows_stop_neither_the_report_nor_the_recheck() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
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

/// Enqueueing a token the shop already wrote with a mistyped amount is a conflict (409,
/// exit 1), not "database unusable".
#[test]
fn enqueue_over_a_mistyped_row_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    store
        .connection()
        .execute(
            "INSERT INTO payments (token, expected_amount) VALUES ('tok', '5 000')",
            [],
        )
        .unwrap();
    use crate::payment::NewPayment;
    use crate::store::payments::Enqueued;
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
