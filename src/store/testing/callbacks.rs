//! LigdiCash callbacks: which payment one names, a pending payment made due (no sooner
//! than `min_interval` after its last confirm) with its copies folded in, a final status it
//! contradicts checked again or upheld, the evidence kept within bounds, and the callbacks
//! that name no payment sampled and counted.

use super::helpers::*;
use super::{Backend, conformance};
use crate::payment::callback::{
    BUCKET_MS, Contradiction, FIRST_KEPT, LAST_KEPT, TAIL_EVERY_MS, UNMATCHED_SAMPLE, bucket_of,
};
use crate::payment::{Kind, NewPayment, Status};
use crate::store::Db;
use crate::store::PARKED;
use crate::store::{CallbackKeys, Received};
use crate::time::Millis;
use std::collections::HashSet;

conformance!(
    a_callback_names_its_payment_by_order_then_external_id_request_id_and_token,
    a_callback_makes_a_pending_payment_due_and_its_copies_fold_into_that_confirm,
    a_callback_never_makes_a_parked_row_due,
    a_callback_contradicting_a_final_status_is_checked_again_or_upheld,
    evidence_is_bounded_to_the_first_five_then_one_a_minute_and_the_last_five,
    callbacks_naming_no_payment_are_sampled_and_all_counted,
    two_copies_of_one_callback_recorded_at_once_make_the_payment_due_once,
    a_flood_of_callbacks_recorded_at_once_keeps_the_evidence_bounded,
);

const DAY: Millis = 86_400_000;

/// A callback that names the order `order` and says `said`.
fn by_order(order: &str, said: Option<&str>) -> CallbackKeys {
    CallbackKeys {
        transaction_id: Some(order.into()),
        status: said.map(Into::into),
        ..CallbackKeys::default()
    }
}

/// Records a JSON callback with `keys` received at `at`, LigdiCash's floor being 3 s.
async fn record(db: &Db, keys: CallbackKeys, at: Millis) -> Received {
    let got = db.record_callback(
        "application/json".into(),
        "{}".into(),
        None,
        keys,
        at,
        3_000,
    );
    got.await.expect("record a callback")
}

/// Callbacks kept raw for the payment `token`.
async fn kept(db: &Db, token: &str) -> Option<i64> {
    let sql = format!(
        "SELECT count(*) FROM callbacks JOIN payments ON payments.id = payment_id \
         WHERE token = '{token}'"
    );
    int(db, &sql).await
}

/// The order reference first (an invoice before a payout of the same order, a pending
/// payment before a settled one, the newest first), then `external_id`'s parts, then
/// `request_id`, last the token.
async fn a_callback_names_its_payment_by_order_then_external_id_request_id_and_token(b: Backend) {
    let db = b.db;
    let enqueue = |token: &'static str, order: &'static str, kind| {
        let db = db.clone();
        async move {
            let p = NewPayment::parse(token, Some(order), None)
                .unwrap()
                .of_kind(kind);
            db.enqueue(p, T, T + DAY).await.unwrap();
            row(&db, token).await.id
        }
    };
    let invoice = enqueue("inv", "ORD-1", Kind::Invoice).await;
    enqueue("refund", "ORD-1", Kind::Payout).await;
    let first_try = enqueue("first-try", "ORD-2", Kind::Invoice).await;
    let second_try = enqueue("second-try", "ORD-2", Kind::Invoice).await;
    let other = enqueue("other", "ORD-3", Kind::Invoice).await;
    shop(
        &db,
        "UPDATE payments SET request_id = 'req-9' WHERE token = 'other'",
    )
    .await;
    let named = |got: Received| (got.payment_id, got.matched_by);
    let got = record(&db, by_order("ORD-1", None), T).await;
    assert_eq!(named(got), (Some(invoice), Some("transaction_id")));
    assert_eq!(got.status, Some(Status::Pending));
    let got = record(&db, by_order("ORD-2", None), T).await;
    assert_eq!(got.payment_id, Some(second_try), "the newest");
    shop(
        &db,
        "UPDATE payments SET status = 'notcompleted' WHERE token = 'second-try'",
    )
    .await;
    let got = record(&db, by_order("ORD-2", None), T).await;
    assert_eq!(got.payment_id, Some(first_try), "the pending one");
    let by_external = CallbackKeys {
        transaction_id: Some("ORD-404".into()),
        external_id: Some("nothing; ORD-3".into()),
        ..CallbackKeys::default()
    };
    let got = record(&db, by_external, T).await;
    assert_eq!(named(got), (Some(other), Some("external_id")));
    let by_request = CallbackKeys {
        request_id: Some("req-9".into()),
        token: Some("inv".into()),
        ..CallbackKeys::default()
    };
    let got = record(&db, by_request, T).await;
    assert_eq!(named(got), (Some(other), Some("request_id")));
    let by_token = CallbackKeys {
        request_id: Some(" ".into()),
        token: Some("inv".into()),
        ..CallbackKeys::default()
    };
    let got = record(&db, by_token, T).await;
    assert_eq!(named(got), (Some(invoice), Some("token")));
    let got = record(&db, by_order("ORD-404", None), T).await;
    assert_eq!(named(got), (None, None));
}

/// A callback makes a pending payment due at once; its copies received before that confirm
/// is sent fold into it; after the confirm, the next callback makes it due again, but no
/// sooner than `min_interval` after that confirm.
async fn a_callback_makes_a_pending_payment_due_and_its_copies_fold_into_that_confirm(b: Backend) {
    let db = b.db;
    db.enqueue(new_payment("inv", Kind::Invoice), T, T + DAY)
        .await
        .unwrap();
    let got = record(&db, by_order("ord-inv", Some("completed")), T).await;
    assert!(got.plan.make_due && got.kept);
    assert_eq!(row(&db, "inv").await.next_poll_at, Some(T));
    let copy = db.record_callback(
        "application/x-www-form-urlencoded".into(),
        "a=b".into(),
        Some("203.0.113.9".into()),
        by_order("ord-inv", Some("completed")),
        T + 50,
        3_000,
    );
    let copy = copy.await.unwrap();
    assert!(
        !copy.plan.make_due && copy.kept,
        "folded, and kept as evidence"
    );
    let p = claim(&db, "inv", T + 100).await;
    apply(&db, vec![outcome(&p).reschedule(T + DAY)], WRITTEN, &[]).await;
    let got = record(&db, by_order("ord-inv", None), SENT + 300).await;
    assert!(got.plan.make_due);
    assert_eq!(
        got.plan.due_at,
        SENT + 3_000,
        "the floor after the last confirm"
    );
    assert_eq!(row(&db, "inv").await.next_poll_at, Some(SENT + 3_000));
    let again = record(&db, by_order("ord-inv", None), SENT + 400).await;
    assert!(!again.plan.make_due, "due by then already");
    assert_eq!(kept(&db, "inv").await, Some(4));
}

/// A row at the parked marker (a value of the wrong type, on SQLite) is made due only by
/// its correction, never by a callback.
async fn a_callback_never_makes_a_parked_row_due(b: Backend) {
    let db = b.db;
    db.enqueue(new_payment("bad", Kind::Invoice), T, T)
        .await
        .unwrap();
    let park = format!("UPDATE payments SET next_poll_at = {PARKED} WHERE token = 'bad'");
    shop(&db, &park).await;
    let got = record(&db, by_order("ord-bad", Some("completed")), T).await;
    assert!(got.payment_id.is_some() && !got.plan.make_due, "{got:?}");
    assert_eq!(row(&db, "bad").await.next_poll_at, Some(PARKED));
}

/// `completed` said of a payment LigdiCash left unpaid asks for one more confirm
/// (`recheck_at`), once for its copies; `notcompleted` said of a paid one is upheld: the
/// money LigdiCash confirmed is never turned back by a callback.
async fn a_callback_contradicting_a_final_status_is_checked_again_or_upheld(b: Backend) {
    let db = b.db;
    for (token, status) in [
        ("refused", Status::NotCompleted),
        ("paid", Status::Completed),
    ] {
        let p = due_payment(&db, token).await;
        apply(&db, vec![outcome(&p).finalize(status)], WRITTEN, &[]).await;
    }
    let recheck_at = |token| format!("SELECT recheck_at FROM payments WHERE token = '{token}'");
    let got = record(&db, by_order("ord-refused", Some("completed")), LATER).await;
    assert_eq!(got.status, Some(Status::NotCompleted));
    assert_eq!(got.plan.contradiction, Some(Contradiction::Rechecked));
    assert!(got.plan.recheck && !got.plan.make_due);
    assert_eq!(int(&db, &recheck_at("refused")).await, Some(LATER));
    let copy = record(&db, by_order("ord-refused", Some("Completed")), LATER + 10).await;
    assert!(!copy.plan.recheck, "asked for already");
    assert!(
        db.any_pending().await.unwrap(),
        "pending its one more confirm"
    );
    let got = record(&db, by_order("ord-paid", Some("notcompleted")), LATER).await;
    assert_eq!(got.plan.contradiction, Some(Contradiction::Upheld));
    assert!(!got.plan.acted());
    assert_eq!(int(&db, &recheck_at("paid")).await, None);
    let due = db.due(LATER, 10, HashSet::new()).await.unwrap();
    assert_eq!(tokens(&due), ["refused"]);
}

/// Of the callbacks that change nothing, a payment keeps the first five, then one a
/// minute, and of those only the last five: a flood naming one payment costs a read.
async fn evidence_is_bounded_to_the_first_five_then_one_a_minute_and_the_last_five(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "paid").await;
    apply(
        &db,
        vec![outcome(&p).finalize(Status::Completed)],
        WRITTEN,
        &[],
    )
    .await;
    let start = LATER;
    let mut kept_now = Vec::new();
    for i in 0..8 {
        kept_now.push(
            record(&db, by_order("ord-paid", None), start + i)
                .await
                .kept,
        );
    }
    let first = usize::try_from(FIRST_KEPT).unwrap();
    assert_eq!(
        kept_now,
        [vec![true; first], vec![false; 8 - first]].concat()
    );
    let last_of_the_first = start + FIRST_KEPT - 1;
    for k in 1..=LAST_KEPT + 2 {
        let at = last_of_the_first + k * TAIL_EVERY_MS;
        assert!(
            record(&db, by_order("ord-paid", None), at).await.kept,
            "one a minute"
        );
    }
    assert_eq!(kept(&db, "paid").await, Some(FIRST_KEPT + LAST_KEPT));
    let read = |sql: &str| sql.replace("START", &start.to_string());
    let head = read("SELECT max(received_at) FROM callbacks WHERE received_at < START + 10");
    assert_eq!(
        int(&db, &head).await,
        Some(last_of_the_first),
        "the first five"
    );
    let tail = read("SELECT min(received_at) FROM callbacks WHERE received_at > START + 10");
    let third = last_of_the_first + 3 * TAIL_EVERY_MS;
    assert_eq!(int(&db, &tail).await, Some(third), "the last five");
}

/// Of the callbacks that name no payment, a sample is kept per quarter hour; the daemon
/// adds the others to the tally, so the report counts every one.
async fn callbacks_naming_no_payment_are_sampled_and_all_counted(b: Backend) {
    let db = b.db;
    let bucket = bucket_of(T);
    let start = bucket * BUCKET_MS;
    let mut not_kept = 0;
    for i in 0..UNMATCHED_SAMPLE + 5 {
        let got = record(&db, by_order("forged", None), start + i).await;
        assert_eq!(got.kept, i < UNMATCHED_SAMPLE, "callback {i}");
        not_kept += i64::from(!got.kept);
    }
    db.add_callback_tally(bucket, not_kept, 0).await.unwrap();
    let next_quarter = record(&db, by_order("forged", None), start + BUCKET_MS).await;
    assert!(next_quarter.kept, "a sample per quarter hour");
    db.add_callback_tally(bucket + 1, 0, 3).await.unwrap();
    let tally = format!(
        "SELECT not_kept FROM callback_tally WHERE bucket = {}",
        bucket + 1
    );
    assert_eq!(int(&db, &tally).await, Some(3));
    let unmatched = "SELECT count(*) FROM callbacks WHERE payment_id IS NULL";
    assert_eq!(int(&db, unmatched).await, Some(UNMATCHED_SAMPLE + 1));
    let facts = db.day_facts(start, start + DAY, start + DAY).await.unwrap();
    assert_eq!(facts.unmatched_callbacks, UNMATCHED_SAMPLE + 5 + 1);
    let next_day = db
        .day_facts(start + DAY, start + 2 * DAY, start)
        .await
        .unwrap();
    assert_eq!(next_day.unmatched_callbacks, 0);
}

/// LigdiCash's JSON and form copies of one callback arrive at the same moment: the
/// payment is made due at that moment, once, and the scan claims it once.
async fn two_copies_of_one_callback_recorded_at_once_make_the_payment_due_once(b: Backend) {
    let db = b.db;
    for round in 0..10 {
        let token = format!("tok-{round}");
        db.enqueue(new_payment(&token, Kind::Invoice), T, T + DAY)
            .await
            .unwrap();
        let at = T + round;
        let order = format!("ord-{token}");
        let (json, form) = tokio::join!(
            record(&db, by_order(&order, Some("completed")), at),
            record(&db, by_order(&order, Some("completed")), at),
        );
        assert!(json.plan.make_due || form.plan.make_due, "round {round}");
        assert_eq!(row(&db, &token).await.next_poll_at, Some(at));
        let due = db.due(at, 10, HashSet::new()).await.unwrap();
        assert_eq!(tokens(&due), [token.as_str()]);
        apply(
            &db,
            vec![outcome(&due[0]).finalize(Status::Completed)],
            WRITTEN,
            &[],
        )
        .await;
    }
}

/// Callbacks naming one payment recorded at once, each a minute after the other: the
/// kept ones never exceed the bound, whatever order their writes land in.
async fn a_flood_of_callbacks_recorded_at_once_keeps_the_evidence_bounded(b: Backend) {
    let db = b.db;
    let p = due_payment(&db, "paid").await;
    apply(
        &db,
        vec![outcome(&p).finalize(Status::Completed)],
        WRITTEN,
        &[],
    )
    .await;
    let mut flood = tokio::task::JoinSet::new();
    for k in 0..30 {
        let db = db.clone();
        let at = LATER + k * TAIL_EVERY_MS;
        flood.spawn(async move { record(&db, by_order("ord-paid", None), at).await });
    }
    flood.join_all().await;
    let kept = kept(&db, "paid").await.unwrap_or_default();
    assert!(
        (FIRST_KEPT..=FIRST_KEPT + LAST_KEPT).contains(&kept),
        "{kept} kept"
    );
}
