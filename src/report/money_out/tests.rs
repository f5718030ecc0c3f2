use super::*;
use crate::report::figures::{Reconciliation, reconcile};
use crate::report::net;
use crate::store::PaymentFact;

const DAY: i64 = 86_400_000;
const UTC: Tz = chrono_tz::UTC;

fn payout(token: &str, kind: &str, status: &str, amount: Option<i64>) -> PayoutFact {
    PayoutFact {
        token: token.into(),
        kind: kind.into(),
        status: status.into(),
        expected_amount: Some(1000),
        amount,
        created_at: DAY,
        resolved_at: (status != "pending").then_some(DAY + 60_000),
        ..PayoutFact::default()
    }
}

fn on(operator: &str, p: PayoutFact) -> PayoutFact {
    PayoutFact {
        operator_name: Some(operator.into()),
        ..p
    }
}

#[test]
fn sent_failed_pending_overdue_and_what_needs_a_person() {
    let f = PayoutFacts {
        resolved: vec![
            payout("a", "payout", "completed", Some(1000)),
            payout("b", "withdrawal", "completed", Some(2500)),
            payout("c", "payout", "completed", None),
            payout("d", "payout", "notcompleted", None),
            payout("e", "payout", "mismatch", Some(900)),
            payout("f", "withdrawal", "invalid_token", None),
        ],
        pending_at_end: vec![
            PayoutFact {
                overdue_at: Some(2 * DAY - 1),
                created_at: DAY / 2,
                ..payout("g", "payout", "pending", None)
            },
            // Announced only after the day ended: not overdue in this day's report.
            PayoutFact {
                overdue_at: Some(2 * DAY),
                ..payout("h", "payout", "pending", None)
            },
            payout("i", "withdrawal", "pending", None),
        ],
    };
    let m = summarise(&f, 2 * DAY, UTC);
    let amount = |count, xof| Amount { count, xof };
    assert_eq!(
        m.completed,
        amount(3, 1000 + 2500 + 1000),
        "a completion without a confirmed amount counts what was asked"
    );
    assert_eq!(
        m.sent_to_check,
        amount(1, 900),
        "a mismatch left at the amount LigdiCash reports"
    );
    assert_eq!(m.sent, amount(4, 4500 + 900));
    assert_eq!(m.sent_by_kind["withdrawal"], amount(1, 2500));
    assert_eq!(m.sent_by_kind["payout"], amount(3, 2900));
    let asked = |count, expected_xof| Asked {
        count,
        expected_xof,
    };
    assert_eq!(m.failed, asked(1, 1000));
    assert_eq!(m.pending, asked(3, 3000));
    let overdue: Vec<&str> = m.overdue.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(overdue, ["g"]);
    assert_eq!(
        m.overdue[0].age_secs,
        (2 * DAY - DAY / 2) / 1000,
        "its age at the end of the day"
    );
    let mismatch = &m.mismatches[0];
    assert_eq!(
        (mismatch.expected_xof, mismatch.paid_xof),
        (Some(1000), Some(900))
    );
    assert_eq!(m.invalid_tokens[0].kind, "withdrawal");
    assert_eq!(m.invalid_tokens[0].paid_xof, None, "nothing left");
    assert!(m.unreadable_amounts.is_empty());
    assert_eq!(
        m.by_operator,
        [OperatorSent {
            operator: None,
            sent: m.sent
        }]
    );
}

/// The accountant's day: 74 500 received, a 2 500 payout sent as asked and a 3 000
/// withdrawal LigdiCash says it sent as 2 700. The statement shows 5 200 out and a net of
/// 69 300 (not 2 500 and 72 000), per operator where LigdiCash named one.
#[test]
fn money_out_and_the_net_are_as_on_the_statement_per_operator() {
    let invoice = |token: &str, operator: &str, xof| PaymentFact {
        token: token.into(),
        status: "completed".into(),
        expected_amount: Some(xof),
        amount: Some(xof),
        operator_name: Some(operator.into()),
        ..PaymentFact::default()
    };
    let received: Reconciliation = reconcile(&[
        invoice("in-1", "ORANGE BURKINA", 50_000),
        invoice("in-2", "MOOV AFRICA", 24_500),
    ]);
    let f = PayoutFacts {
        resolved: vec![
            on(
                "ORANGE BURKINA",
                payout("p", "payout", "completed", Some(2500)),
            ),
            PayoutFact {
                expected_amount: Some(3000),
                ..on(
                    " MOOV AFRICA ",
                    payout("w", "withdrawal", "mismatch", Some(2700)),
                )
            },
            on("WAVE", payout("x", "payout", "notcompleted", None)),
        ],
        ..PayoutFacts::default()
    };
    let m = summarise(&f, 2 * DAY, UTC);
    assert_eq!(
        m.sent,
        Amount {
            count: 2,
            xof: 5200
        }
    );
    let n = net::of(&received, &m);
    assert_eq!(
        (n.total.received.xof, n.total.sent.xof, n.total.net_xof),
        (74_500, 5200, 69_300)
    );
    let lines: Vec<_> = n
        .by_operator
        .iter()
        .map(|o| (o.operator.as_deref(), o.figures.net_xof))
        .collect();
    assert_eq!(
        lines,
        [
            (Some("MOOV AFRICA"), 24_500 - 2700),
            (Some("ORANGE BURKINA"), 50_000 - 2500)
        ],
        "operator names trimmed as money in's are; a failed payout moves nothing"
    );
}

#[test]
fn a_day_without_payouts_nets_what_was_received() {
    let m = summarise(&PayoutFacts::default(), DAY, UTC);
    assert_eq!(m.sent, Amount::default());
    assert!(PayoutIssue::ALL.iter().all(|i| m.of(*i).is_empty()));
    // More sent than received: the net is negative.
    let f = PayoutFacts {
        resolved: vec![payout("a", "payout", "completed", Some(9000))],
        ..PayoutFacts::default()
    };
    let n = net::of(&Reconciliation::default(), &summarise(&f, 2 * DAY, UTC));
    assert_eq!(n.total.net_xof, -9000);
    assert_eq!(n.by_operator[0].operator, None);
}

/// A payout whose amount the shop wrote badly is listed with the value as written, whether
/// it settled or is still pending; its expected amount is none, never 0.
#[test]
fn a_badly_written_amount_is_listed_as_written() {
    let bad = |token, status| PayoutFact {
        expected_amount: None,
        expected_as_written: Some("3 000".into()),
        ..payout(token, "withdrawal", status, None)
    };
    let f = PayoutFacts {
        resolved: vec![bad("done", "notcompleted")],
        pending_at_end: vec![bad("open", "pending")],
    };
    let m = summarise(&f, 2 * DAY, UTC);
    let rows: Vec<_> = m
        .unreadable_amounts
        .iter()
        .map(|r| {
            (
                r.token.as_str(),
                r.expected_as_written.as_deref(),
                r.expected_xof,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("done", Some("3 000"), None), ("open", Some("3 000"), None)]
    );
    assert!(
        m.unreadable_amounts
            .iter()
            .all(|r| r.action == PayoutIssue::UnreadableAmount.action())
    );
}

/// Each issue has its own name and action.
#[test]
fn every_payout_issue_has_its_own_key_and_action() {
    let keys: std::collections::BTreeSet<_> = PayoutIssue::ALL.iter().map(|i| i.key()).collect();
    let actions: std::collections::BTreeSet<_> =
        PayoutIssue::ALL.iter().map(|i| i.action()).collect();
    assert_eq!((keys.len(), actions.len()), (4, 4));
}
