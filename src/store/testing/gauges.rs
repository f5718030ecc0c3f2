//! The gauges of `/metrics`, `/readyz` and systemd's STATUS line.

use super::{Backend, conformance};
use crate::payment::{Kind, NewPayment};
use crate::store::DbGauges;

conformance!(
    a_fresh_database_is_writable_and_its_gauges_are_zero,
    the_counts_are_reused_until_recounted_and_the_rest_read_afresh,
);

/// What a daemon checks at start and shows before any payment: a database it can write,
/// nothing pending, no event, no report.
async fn a_fresh_database_is_writable_and_its_gauges_are_zero(b: Backend) {
    let db = b.db;
    db.ensure_writable().await.unwrap();
    assert_eq!(db.gauges().await.unwrap(), DbGauges::default());
    assert!(!db.any_pending().await.unwrap());
    assert_eq!(db.next_delivery_after(0).await.unwrap(), None);
    assert_eq!(db.last_report_day().await.unwrap(), None);
}

/// The counts of pending payments and events are reused between recounts, the same way on
/// both databases, and shared by every clone of the handle; the oldest pending invoice and
/// the payouts are read afresh every time.
async fn the_counts_are_reused_until_recounted_and_the_rest_read_afresh(b: Backend) {
    let db = b.db;
    for (token, kind, at) in [("a", Kind::Invoice, 5_000), ("b", Kind::Invoice, 1_000)] {
        let p = NewPayment::parse(token, None, None).unwrap().of_kind(kind);
        db.enqueue(p, at, at).await.unwrap();
    }
    let first = db.gauges().await.unwrap();
    assert_eq!(first.pending, 2);
    assert_eq!(first.oldest_pending_created_at, Some(1_000));
    let payout = NewPayment::parse("c", None, None)
        .unwrap()
        .of_kind(Kind::Payout);
    db.enqueue(payout, 500, 500).await.unwrap();
    let cached = db.clone().gauges().await.unwrap();
    assert_eq!(cached.pending, 2, "reused by a clone until recounted");
    assert_eq!(cached.pending_payouts, 1, "read afresh");
    assert_eq!(
        cached.oldest_pending_created_at,
        Some(1_000),
        "invoices only"
    );
    db.expire_counts_for_tests();
    assert_eq!(db.gauges().await.unwrap().pending, 3);
}
