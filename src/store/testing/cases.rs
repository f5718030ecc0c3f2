//! Cases: what the case sweep reads through its window, its writes (one open case per
//! payment, one case per need, each with its event, the marks moving forward only), a
//! person's decision (once, append-only), the listings and the gauges.

use super::helpers::*;
use super::{Backend, conformance};
use crate::payment::case::need::Need;
use crate::payment::case::{CaseKind, Decision};
use crate::payment::{Kind, Status};
use crate::store::Db;
use crate::store::{CallbackKeys, CaseFilter, CaseWrite, Resolution, SweepMarks, SweepWindow};
use crate::time::Millis;
use serde_json::Value;

conformance!(
    the_oldest_pending_window_is_read_from_the_indexes,
    the_sweep_reads_what_may_need_a_case_within_its_window,
    a_case_opens_once_per_need_and_one_at_a_time_with_its_events,
    a_decision_closes_the_case_once_and_the_records_are_append_only,
);

/// Inserts a payment as the shop and the reconciler would have left it.
async fn payment(db: &Db, token: &str, kind: &str, status: &str, at: Millis, overdue: &str) {
    let resolved = match status {
        "pending" => "NULL".to_owned(),
        _ => at.to_string(),
    };
    shop(
        db,
        &format!(
            "INSERT INTO payments (token, transaction_id, expected_amount, kind, status, \
             created_at, updated_at, resolved_at, overdue_at) VALUES ('{token}', 'ord-{token}', \
             5000, '{kind}', '{status}', {at}, {at}, {resolved}, {overdue})"
        ),
    )
    .await;
}

async fn id_of(db: &Db, token: &str) -> i64 {
    let sql = format!("SELECT id FROM payments WHERE token = '{token}'");
    int(db, &sql).await.expect("a payment")
}

fn window(changes_from: Millis, pending: (Millis, Millis)) -> SweepWindow {
    SweepWindow {
        changes_from,
        overdue_from: changes_from,
        pending_from: pending.0,
        pending_until: pending.1,
    }
}

pub(super) async fn open(
    db: &Db,
    token: &str,
    kind: CaseKind,
    since: Millis,
    status: Status,
) -> CaseWrite {
    CaseWrite::Open {
        payment_id: id_of(db, token).await,
        need: Need { kind, since },
        status,
    }
}

/// Where a sweep far behind starts: the oldest pending payment's window start, created or
/// requeued; settled payments do not count.
async fn the_oldest_pending_window_is_read_from_the_indexes(b: Backend) {
    let db = b.db;
    assert_eq!(db.oldest_pending_start().await.unwrap(), None);
    payment(&db, "settled", "invoice", "completed", T - 900, "NULL").await;
    payment(&db, "young", "invoice", "pending", T + 50, "NULL").await;
    assert_eq!(db.oldest_pending_start().await.unwrap(), Some(T + 50));
    payment(&db, "requeued", "invoice", "pending", T + 90, "NULL").await;
    shop(
        &db,
        &format!(
            "UPDATE payments SET requeued_at = {} WHERE token = 'requeued'",
            T + 20
        ),
    )
    .await;
    assert_eq!(db.oldest_pending_start().await.unwrap(), Some(T + 20));
}

/// Each part of the window through its own index: payments changed in a status that may
/// need a case, callbacks received, payouts marked overdue, pending windows started; each
/// candidate with what the sweep sees, its open case and the cases it had.
async fn the_sweep_reads_what_may_need_a_case_within_its_window(b: Backend) {
    let db = b.db;
    payment(
        &db,
        "old-mismatch",
        "invoice",
        "mismatch",
        T - 5_000,
        "NULL",
    )
    .await;
    payment(&db, "mismatch", "invoice", "mismatch", T + 5, "NULL").await;
    payment(&db, "paid", "invoice", "completed", T + 5, "NULL").await;
    payment(&db, "unpaid", "invoice", "notcompleted", T - 9_000, "NULL").await;
    payment(
        &db,
        "overdue",
        "payout",
        "pending",
        T - 9_000,
        &(T + 7).to_string(),
    )
    .await;
    payment(&db, "waiting", "invoice", "pending", T - 100, "NULL").await;
    payment(&db, "young", "invoice", "pending", T + 900, "NULL").await;
    let keys = CallbackKeys {
        transaction_id: Some("ord-unpaid".into()),
        status: Some(" Completed".into()),
        ..CallbackKeys::default()
    };
    let src = Some("198.51.100.7".to_owned());
    let body = "{}".to_owned();
    db.record_callback("application/json".into(), body, src, keys, T + 10, 0)
        .await
        .unwrap();
    let got = db.case_candidates(window(T, (T - 200, T))).await.unwrap();
    assert_eq!(
        tokens(&got),
        ["mismatch", "unpaid", "overdue", "waiting"],
        "by payment id"
    );
    let unpaid = &got[1];
    assert!(unpaid.seen.said_completed && !unpaid.seen.said_notcompleted);
    assert!(
        unpaid.seen.recheck_pending,
        "the callback asked for a re-check"
    );
    assert_eq!(got[2].seen.overdue_at, Some(T + 7));
    assert_eq!(
        (got[3].seen.kind, got[3].seen.status),
        (Kind::Invoice, Status::Pending)
    );
    assert_eq!(got[3].seen.window_start, T - 100);
    let mismatch = open(&db, "mismatch", CaseKind::Mismatch, T + 5, Status::Mismatch).await;
    let marks = SweepMarks::default();
    db.write_cases(vec![mismatch], marks, T + 20, sinks(&[]))
        .await
        .unwrap();
    let later = db.case_candidates(window(T + 10, (T, T))).await.unwrap();
    assert!(later.is_empty(), "nothing changed since: {later:?}");
    shop(
        &db,
        "UPDATE payments SET updated_at = 5 + updated_at WHERE token = 'mismatch'",
    )
    .await;
    let again = db.case_candidates(window(T + 9, (T, T))).await.unwrap();
    let (case_id, case) = again[0].open.expect("its open case");
    assert!(case_id > 0);
    assert_eq!(
        (case.kind, case.since, case.status),
        (CaseKind::Mismatch, T + 5, Status::Mismatch)
    );
    assert_eq!(again[0].had.len(), 1);
}

/// Opening is idempotent and one case at a time per payment; a case a person (or the
/// payment) closed does not open again for the same need; a new need opens a new case.
/// Each change has its event, in the same transaction; the marks only move forward.
async fn a_case_opens_once_per_need_and_one_at_a_time_with_its_events(b: Backend) {
    let db = b.db;
    payment(&db, "t", "invoice", "timeout", T, "NULL").await;
    let to = sinks(&["jsonl"]);
    let timeout = open(&db, "t", CaseKind::Timeout, T, Status::Timeout).await;
    let marks = |n| SweepMarks {
        changes_to: n,
        overdue_to: n,
        pending_to: n,
    };
    let done = db
        .write_cases(
            vec![timeout.clone(), timeout.clone()],
            marks(T),
            T + 1,
            to.clone(),
        )
        .await
        .unwrap();
    assert_eq!((done.opened, done.closed), (1, 0));
    let other = open(&db, "t", CaseKind::Contradicted, T, Status::Timeout).await;
    let done = db.write_cases(vec![other], marks(T - 5), T + 2, to.clone());
    assert_eq!(done.await.unwrap().opened, 0, "one open case per payment");
    assert_eq!(
        db.case_marks().await.unwrap(),
        marks(T),
        "marks move forward only"
    );
    let case = db.open_case("t".into()).await.unwrap().expect("open");
    assert_eq!(
        (case.kind, case.opened_at, case.closed_at),
        (CaseKind::Timeout, T + 1, None)
    );
    assert_eq!(case.transaction_id.as_deref(), Some("ord-t"));
    let close = CaseWrite::Close {
        case_id: case.id,
        reason: "completed late".into(),
    };
    let done = db.write_cases(vec![close.clone(), close], marks(T + 3), T + 3, to.clone());
    assert_eq!(done.await.unwrap().closed, 1);
    let done = db.write_cases(vec![timeout], marks(T + 4), T + 4, to.clone());
    assert_eq!(
        done.await.unwrap().opened,
        0,
        "the same need never opens twice"
    );
    let requeued = open(&db, "t", CaseKind::Timeout, T + 50, Status::Timeout).await;
    let done = db.write_cases(vec![requeued], marks(T + 5), T + 5, to.clone());
    assert_eq!(done.await.unwrap().opened, 1, "a new need opens a new case");
    assert_eq!(
        event_types(&db, "t").await,
        ["case.opened", "case.resolved", "case.opened"]
    );
    let events = db.list_events(None, 10).await.unwrap();
    let resolved: Value = serde_json::from_str(&events[1].payload).unwrap();
    assert_eq!(resolved["case"]["state"], "closed");
    assert_eq!(resolved["case"]["decided_by"], "reconciler");
    assert_eq!(resolved["case"]["note"], "completed late");
    assert_eq!(resolved["case"]["decision"], Value::Null);
    assert_eq!(resolved["case"]["payment"]["transaction_id"], "ord-t");
    assert_eq!(db.unattempted_deliveries(to).await.unwrap(), 3);
    let gauges = db.gauges().await.unwrap().cases;
    assert!(gauges.open_by_kind.contains(&(CaseKind::Timeout, 1)));
    assert_eq!(gauges.open_by_kind.len(), CaseKind::ALL.len());
    assert_eq!(gauges.oldest_opened_at, Some(T + 5));
}

/// A person's decision closes the open case once, with its event; the record names who
/// and why; listings show open cases oldest first and closed ones newest first; the
/// records cannot be changed or deleted, and LigdiCash's status is untouched.
async fn a_decision_closes_the_case_once_and_the_records_are_append_only(b: Backend) {
    let db = b.db;
    payment(&db, "m", "invoice", "mismatch", T, "NULL").await;
    payment(&db, "o", "payout", "pending", T, &T.to_string()).await;
    let writes = vec![
        open(&db, "o", CaseKind::OverduePayout, T, Status::Pending).await,
        open(&db, "m", CaseKind::Mismatch, T, Status::Mismatch).await,
    ];
    db.write_cases(writes, SweepMarks::default(), T + 1, sinks(&[]))
        .await
        .unwrap();
    let open_now = db.list_cases(CaseFilter::default(), 10).await.unwrap();
    assert_eq!(open_now.len(), 2);
    let case = db.open_case("m".into()).await.unwrap().unwrap();
    let decision = Resolution {
        decision: Decision::Refunded,
        note: "refunded by bank transfer".into(),
        by: "api:accounting".into(),
    };
    let to = sinks(&["webhook:backoffice"]);
    let resolve = |at| db.resolve_case(case.id, decision.clone(), at, to.clone());
    let closed = resolve(T + 9).await.unwrap().expect("closed now");
    assert_eq!(closed.closed_at, Some(T + 9));
    let record = closed.closing.as_ref().unwrap();
    assert_eq!(record.decision, Some(Decision::Refunded));
    assert_eq!((record.by.as_str(), record.at), ("api:accounting", T + 9));
    assert_eq!(resolve(T + 10).await.unwrap(), None, "once");
    assert_eq!(
        row(&db, "m").await.status,
        "mismatch",
        "LigdiCash's verdict stays"
    );
    assert_eq!(db.open_case("m".into()).await.unwrap(), None);
    let still = db.list_cases(CaseFilter::default(), 10).await.unwrap();
    assert_eq!(tokens(&still), ["o"]);
    let closed_filter = CaseFilter {
        closed: true,
        closed_from: Some(T + 9),
        closed_until: Some(T + 10),
    };
    let listed = db.list_cases(closed_filter, 10).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&closed));
    let json = closed.to_json(T + 9);
    assert_eq!(
        (json["decision"].as_str(), json["age_seconds"].as_i64()),
        (Some("refunded"), Some(0))
    );
    assert_eq!(
        event_types(&db, "m").await,
        ["case.opened", "case.resolved"]
    );
    for sql in [
        "UPDATE case_decisions SET note = 'changed'",
        "DELETE FROM case_decisions",
    ] {
        let refused = db.execute_for_tests(sql).await;
        assert!(
            matches!(&refused, Err(e) if e.to_string().contains("append-only")),
            "{sql}: {refused:?}"
        );
    }
    let open_json = still[0].to_json(T + 61_001);
    assert_eq!(open_json["fitting_decisions"][0], "sent_again");
    assert_eq!(open_json["age_seconds"], 61);
}
