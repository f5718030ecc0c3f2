use super::*;
use crate::payment::case::CaseKind;
use crate::payment::case::need::{Need, Open, Seen};
use crate::payment::{Kind, Status};

const HOUR: Millis = 3_600_000;
const NOW: Millis = 100 * HOUR;

fn candidate(status: Status, open: Option<(i64, Open)>, had: Vec<Need>) -> CaseCandidate {
    CaseCandidate {
        payment_id: 7,
        token: "t".into(),
        seen: Seen {
            kind: Kind::Invoice,
            status,
            window_start: NOW - HOUR,
            resolved_at: (status != Status::Pending).then_some(NOW - 10),
            overdue_at: None,
            recheck_pending: false,
            said_completed: false,
            said_notcompleted: false,
        },
        open,
        had,
    }
}

#[test]
fn the_window_starts_a_look_back_before_the_marks_and_reads_pending_windows_by_chunks() {
    let marks = SweepMarks {
        changes_to: NOW - HOUR,
        overdue_to: NOW - 2 * HOUR,
        pending_to: NOW - 30 * HOUR,
    };
    let (w, more) = window(marks, NOW, 24 * HOUR, Some(marks.pending_to));
    assert_eq!(w.changes_from, NOW - HOUR - LOOK_BACK);
    assert_eq!(w.overdue_from, NOW - 2 * HOUR - LOOK_BACK);
    assert_eq!(
        (w.pending_from, w.pending_until),
        (NOW - 30 * HOUR, NOW - 29 * HOUR)
    );
    assert!(more, "five more hours to read");
    let caught_up = SweepMarks {
        pending_to: NOW - 24 * HOUR - 10,
        ..marks
    };
    let (w, more) = window(caught_up, NOW, 24 * HOUR, Some(caught_up.pending_to));
    assert_eq!(
        (w.pending_from, w.pending_until, more),
        (NOW - 24 * HOUR - 10, NOW - 24 * HOUR, false)
    );
    let first = SweepMarks::default();
    let (w, more) = window(first, NOW, 24 * HOUR, Some(NOW - 26 * HOUR));
    assert_eq!(
        (w.pending_from, more),
        (NOW - 26 * HOUR - 1, true),
        "from the oldest pending"
    );
    let (w, more) = window(first, NOW, 24 * HOUR, None);
    assert_eq!(
        (w.pending_from, w.pending_until, more),
        (NOW - 24 * HOUR, NOW - 24 * HOUR, false),
        "none pending"
    );
}

#[test]
fn a_payment_that_needs_a_person_gets_a_case_and_one_that_no_longer_does_loses_it() {
    let mismatch = candidate(Status::Mismatch, None, Vec::new());
    let need = Need {
        kind: CaseKind::Mismatch,
        since: NOW - 10,
    };
    assert_eq!(
        plan(std::slice::from_ref(&mismatch), NOW, 24 * HOUR),
        [CaseWrite::Open {
            payment_id: 7,
            need,
            status: Status::Mismatch
        }]
    );
    let closed_by_a_person = candidate(Status::Mismatch, None, vec![need]);
    assert!(plan(&[closed_by_a_person], NOW, 24 * HOUR).is_empty());
    let timeout = Open {
        kind: CaseKind::Timeout,
        since: NOW - 50,
        status: Status::Timeout,
    };
    let late = candidate(Status::Completed, Some((3, timeout)), Vec::new());
    let writes = plan(&[late], NOW, 24 * HOUR);
    assert!(
        matches!(&writes[..], [CaseWrite::Close { case_id: 3, reason }] if reason.contains("late")),
        "{writes:?}"
    );
}

#[test]
fn a_new_need_closes_the_open_case_before_opening_its_own() {
    let pending = Open {
        kind: CaseKind::PendingTooLong,
        since: NOW - 30 * HOUR,
        status: Status::Pending,
    };
    let timed_out = candidate(Status::Timeout, Some((4, pending)), Vec::new());
    let writes = plan(&[timed_out], NOW, 24 * HOUR);
    assert!(
        matches!(
            &writes[..],
            [CaseWrite::Close { case_id: 4, .. }, CaseWrite::Open { need, .. }]
                if need.kind == CaseKind::Timeout
        ),
        "{writes:?}"
    );
}

/// Through a real SQLite file: a sweep opens the case once, an idle sweep writes nothing
/// (the marks move in memory), and a later sweep closes it when the payment settles.
#[tokio::test]
async fn sweeps_open_once_write_nothing_when_idle_and_close_what_settled() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::DatabaseConfig {
        path: dir.path().join("db.db"),
        ..crate::config::DatabaseConfig::default()
    };
    let db = Db::open(&crate::store::Target::sqlite(&config))
        .await
        .unwrap();
    db.execute_for_tests(&format!(
        "INSERT INTO payments (token, status, created_at, updated_at, resolved_at) \
         VALUES ('t', 'timeout', {0}, {0}, {0})",
        NOW - 10
    ))
    .await
    .unwrap();
    let mut sweep = CaseSweep::new(&CasesConfig::default(), db.clone(), Arc::new(Vec::new()));
    let done = sweep.sweep_all(NOW).await.unwrap();
    assert_eq!((done.opened, done.closed), (1, 0));
    assert_eq!(
        sweep.sweep_all(NOW + 1).await.unwrap(),
        SweepWrites::default()
    );
    let recorded = db.case_marks().await.unwrap();
    assert_eq!(
        recorded.changes_to, NOW,
        "recorded with the write, not when idle"
    );
    db.execute_for_tests(&format!(
        "UPDATE payments SET status = 'completed', updated_at = {0}, resolved_at = {0}",
        NOW + 5
    ))
    .await
    .unwrap();
    let done = sweep.sweep_all(NOW + 10).await.unwrap();
    assert_eq!((done.opened, done.closed), (0, 1));
    let mut restarted = CaseSweep::new(&CasesConfig::default(), db.clone(), Arc::new(Vec::new()));
    let again = restarted.sweep_all(NOW + 20).await.unwrap();
    assert_eq!(
        again,
        SweepWrites::default(),
        "a restart looks again and finds nothing to do"
    );
}

/// A backlog of invoices pending too long (the first sweep after an upgrade) is read an
/// hour of creation time at a time, from the oldest, until caught up: every one gets its
/// case, none twice.
#[tokio::test]
async fn a_backlog_of_pending_invoices_is_read_chunk_by_chunk_from_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::DatabaseConfig {
        path: dir.path().join("db.db"),
        ..crate::config::DatabaseConfig::default()
    };
    let db = Db::open(&crate::store::Target::sqlite(&config))
        .await
        .unwrap();
    // Every 20 minutes from 60 h to 25 h ago: 106 invoices over 35 hours.
    let mut sql = String::new();
    for i in 0..106 {
        let at = NOW - 60 * HOUR + i * 20 * 60_000;
        sql += &format!(
            "INSERT INTO payments (token, created_at, updated_at) VALUES ('p{i}', {at}, {at});"
        );
    }
    db.execute_for_tests(&sql).await.unwrap();
    assert_eq!(
        db.oldest_pending_start().await.unwrap(),
        Some(NOW - 60 * HOUR)
    );
    let mut sweep = CaseSweep::new(&CasesConfig::default(), db.clone(), Arc::new(Vec::new()));
    let (first, more) = sweep.sweep_once(NOW).await.unwrap();
    assert!(
        more && first.opened == 3,
        "one hour, from the oldest: {first:?}"
    );
    let rest = sweep.sweep_all(NOW).await.unwrap();
    assert_eq!(first.opened + rest.opened, 106);
    assert_eq!(
        sweep.sweep_all(NOW + 1).await.unwrap(),
        SweepWrites::default()
    );
}
