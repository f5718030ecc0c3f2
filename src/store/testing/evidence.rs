//! The evidence of a payment, read whole (its row, every confirm call with its own answer,
//! every callback with where it came from, every event with each delivery try, its cases),
//! and the retention that spares the evidence of a payment with an open case.

use super::cases::open;
use super::helpers::*;
use super::{Backend, conformance};
use crate::payment::Status;
use crate::payment::case::CaseKind;
use crate::store::{CallbackKeys, CaseWrite, DeliveryResult, LOGGED_ANSWER_BYTES, SweepMarks};
use crate::time::Millis;

conformance!(
    the_evidence_of_a_payment_holds_everything_kept_in_order,
    each_confirm_call_keeps_its_own_answer_bounded,
    pruning_spares_the_evidence_of_a_payment_with_an_open_case,
);

/// Everything kept about a payment, each list oldest first: its row, every confirm call,
/// every callback with where it came from, every event with each delivery try, its cases.
async fn the_evidence_of_a_payment_holds_everything_kept_in_order(b: Backend) {
    let db = b.db;
    assert_eq!(db.evidence("nobody".into()).await.unwrap(), None);
    let p = due_payment(&db, "e").await;
    let keys = CallbackKeys {
        transaction_id: Some("ord-e".into()),
        status: Some("completed".into()),
        ..CallbackKeys::default()
    };
    let src = Some("203.0.113.5".to_owned());
    let body = r#"{"status":"completed"}"#.to_owned();
    db.record_callback("application/json".into(), body, src, keys, T + 500, 0)
        .await
        .unwrap();
    let mismatch = outcome(&p)
        .answer("completed", Some(100))
        .finalize(Status::Mismatch);
    apply(&db, vec![mismatch], WRITTEN, &["jsonl", "webhook:shop"]).await;
    let seq = db.list_events(None, 1).await.unwrap()[0].seq;
    let retry = DeliveryResult::Retry {
        at: LATER,
        error: "HTTP 503".into(),
    };
    db.record_delivery(seq, "webhook:shop".into(), retry, WRITTEN + 1)
        .await
        .unwrap();
    db.record_delivery(seq, "webhook:shop".into(), DeliveryResult::Delivered, LATER)
        .await
        .unwrap();
    let case = open(&db, "e", CaseKind::Mismatch, WRITTEN, Status::Mismatch).await;
    db.write_cases(vec![case], SweepMarks::default(), LATER, sinks(&[]))
        .await
        .unwrap();
    let e = db.evidence("e".into()).await.unwrap().expect("kept");
    assert_eq!(
        (e.payment.token.as_str(), e.payment.status.as_str()),
        ("e", "mismatch")
    );
    assert_eq!(e.attempts.len(), 1);
    let a = &e.attempts[0];
    assert_eq!(
        (a.at, a.http_status, a.provider_status.as_deref()),
        (SENT, Some(200), Some("completed"))
    );
    assert_eq!(e.callbacks.len(), 1);
    let c = &e.callbacks[0];
    assert_eq!(
        (c.received_at, c.source.as_deref()),
        (T + 500, Some("203.0.113.5"))
    );
    assert_eq!(c.body, r#"{"status":"completed"}"#);
    assert_eq!(c.matched_by.as_deref(), Some("transaction_id"));
    let kinds: Vec<&str> = e.events.iter().map(|x| x.event.kind.as_str()).collect();
    assert_eq!(kinds, ["payment.mismatch", "case.opened"]);
    let first = &e.events[0];
    let sinks_of: Vec<&str> = first.deliveries.iter().map(|d| d.sink.as_str()).collect();
    assert_eq!(sinks_of, ["jsonl", "webhook:shop"]);
    let tries: Vec<(&str, Millis)> = first
        .tries
        .iter()
        .map(|t| (t.result.as_str(), t.at))
        .collect();
    assert_eq!(tries, [("retry", WRITTEN + 1), ("delivered", LATER)]);
    assert_eq!(first.tries[0].error.as_deref(), Some("HTTP 503"));
    assert_eq!(e.cases.len(), 1);
    assert_eq!(e.cases[0].kind, CaseKind::Mismatch);
}

/// Every confirm call keeps the answer it got, as received, in the order of the calls; a
/// call that got none keeps none; a huge answer keeps its first [`LOGGED_ANSWER_BYTES`] and
/// a marker. The payment keeps its last answer whole, as before.
async fn each_confirm_call_keeps_its_own_answer_bounded(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "a").await;
    let pending = outcome(&p).answer("pending", Some(5000)).reschedule(LATER);
    let first = pending.raw_body.clone();
    apply(&db, vec![pending], WRITTEN, &[]).await;
    let p = claim(&db, "a", LATER).await;
    let mut lost = outcome(&p).at(LATER).reschedule(LATER + 10_000);
    (lost.http_status, lost.outcome) = (None, "timeout");
    apply(&db, vec![lost], LATER + 1, &[]).await;
    let p = claim(&db, "a", LATER + 10_000).await;
    let mut done = outcome(&p)
        .at(LATER + 10_000)
        .answer("completed", Some(5000))
        .finalize(Status::Completed);
    // A body LigdiCash never sends, padded past the bound with two-byte characters.
    let huge = format!(r#"{{"status":"completed","pad":"{}"}}"#, "é".repeat(10_000));
    done.raw_body = Some(huge.clone());
    apply(&db, vec![done], LATER + 10_001, &[]).await;
    let e = db.evidence("a".into()).await.unwrap().expect("kept");
    let calls: Vec<(Millis, Option<&str>)> = e
        .attempts
        .iter()
        .map(|a| (a.at, a.provider_status.as_deref()))
        .collect();
    assert_eq!(
        calls,
        [
            (SENT, Some("pending")),
            (LATER, None),
            (LATER + 10_000, Some("completed"))
        ]
    );
    assert_eq!(e.attempts[0].answer, first, "the first answer as received");
    assert_eq!(e.attempts[1].answer, None, "no answer came");
    let kept = e.attempts[2].answer.as_deref().expect("the last answer");
    let (head, marker) = kept.rsplit_once('\n').expect("a marker");
    assert!(head.len() <= LOGGED_ANSWER_BYTES && head.len() > LOGGED_ANSWER_BYTES - 2);
    assert!(huge.starts_with(head), "the answer's first bytes");
    assert!(
        marker.contains(&format!("of {} bytes kept", huge.len())),
        "{marker}"
    );
    assert_eq!(e.payment.raw_response, Some(huge), "the last answer whole");
}

/// Retention deletes old attempts, callbacks and delivery tries, but never those of a
/// payment with an open case; once the case closes, they go too.
async fn pruning_spares_the_evidence_of_a_payment_with_an_open_case(b: Backend) {
    let db = b.db;
    for token in ["kept", "gone"] {
        let p = due_payment(&db, token).await;
        let done = outcome(&p)
            .answer("completed", Some(1))
            .finalize(Status::Mismatch);
        apply(&db, vec![done], WRITTEN, &["jsonl"]).await;
    }
    for e in db.list_events(None, 10).await.unwrap() {
        db.record_delivery(e.seq, "jsonl".into(), DeliveryResult::Delivered, WRITTEN)
            .await
            .unwrap();
    }
    let case = open(&db, "kept", CaseKind::Mismatch, WRITTEN, Status::Mismatch).await;
    db.write_cases(vec![case], SweepMarks::default(), WRITTEN, sinks(&[]))
        .await
        .unwrap();
    let count = |table: &str| format!("SELECT count(*) FROM {table}");
    assert_eq!(
        db.prune_attempts(LATER, LATER).await.unwrap(),
        1,
        "gone's attempt"
    );
    assert_eq!(int(&db, &count("confirm_attempts")).await, Some(1));
    assert_eq!(
        int(&db, &count("delivery_attempts")).await,
        Some(1),
        "kept's try"
    );
    let id = db.open_case("kept".into()).await.unwrap().unwrap().id;
    let close = CaseWrite::Close {
        case_id: id,
        reason: "test".into(),
    };
    db.write_cases(vec![close], SweepMarks::default(), LATER, sinks(&[]))
        .await
        .unwrap();
    assert_eq!(db.prune_attempts(LATER, LATER).await.unwrap(), 1);
    assert_eq!(int(&db, &count("delivery_attempts")).await, Some(0));
}
