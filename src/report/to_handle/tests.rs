use super::*;
use crate::report::figures::{Discrepancy, Line, LocalTime};
use crate::report::money_out::PayoutRow;

fn line(token: &str) -> Line {
    Line {
        token: token.into(),
        transaction_id: None,
        request_id: None,
        status: "mismatch".into(),
        operator: None,
        expected_xof: Some(5000),
        expected_as_written: None,
        paid_xof: Some(4000),
        reason: None,
        created_at: LocalTime {
            at: 0,
            tz: chrono_tz::UTC,
        },
        resolved_at: None,
    }
}

/// `n` rows with tokens of their own (`prefix-1`, ...).
fn rows(prefix: &str, n: usize) -> Vec<Discrepancy> {
    (1..=n)
        .map(|i| Discrepancy {
            payment: line(&format!("{prefix}-{i}")),
            action: "act",
        })
        .collect()
}

fn payouts(prefix: &str, n: usize) -> Vec<PayoutRow> {
    (1..=n)
        .map(|i| PayoutRow {
            token: format!("{prefix}-{i}"),
            kind: "withdrawal".into(),
            transaction_id: None,
            status: "pending".into(),
            operator: None,
            expected_xof: Some(1000),
            expected_as_written: None,
            paid_xof: None,
            reason: None,
            created_at: LocalTime {
                at: 0,
                tz: chrono_tz::UTC,
            },
            resolved_at: None,
            age_secs: 0,
            action: "act",
        })
        .collect()
}

fn discrepancies(sizes: [usize; 7]) -> Discrepancies {
    Discrepancies {
        mismatches: rows("mismatch", sizes[0]),
        late_completions: rows("late", sizes[1]),
        timeouts: rows("timeout", sizes[2]),
        invalid_tokens: rows("invalid", sizes[3]),
        pending_over_24h: rows("pending", sizes[4]),
        contradictions: rows("contradicted", sizes[5]),
        unreadable_amounts: rows("unreadable", sizes[6]),
    }
}

/// The headline adds every table, in and out: sizes 1 to 7 in and 8 to 11 out give
/// 28 + 38 = 66, and no other arithmetic of them does.
#[test]
fn every_row_in_and_out_is_counted() {
    let d = discrepancies([1, 2, 3, 4, 5, 6, 7]);
    let m = MoneyOut {
        overdue: payouts("overdue", 8),
        mismatches: payouts("sent", 9),
        invalid_tokens: payouts("unknown", 10),
        unreadable_amounts: payouts("bad", 11),
        ..MoneyOut::default()
    };
    let t = of(&d, &m);
    assert_eq!((t.money_in, t.money_out, t.count), (28, 38, 66));
    assert_eq!(t.rows.len(), 66);
    assert_eq!(t.rows[0].issue, Issue::In(DiscrepancyKind::Mismatch));
    assert_eq!(t.rows[0].action, DiscrepancyKind::Mismatch.action());
    assert_eq!(t.rows[28].issue, Issue::Out(PayoutIssue::Overdue));
    assert_eq!(
        (t.rows[28].direction, t.rows[28].kind.as_str()),
        (Direction::Out, "withdrawal")
    );
    let none = of(&discrepancies([0; 7]), &MoneyOut::default());
    assert_eq!((none.count, none.rows.len()), (0, 0));
}

/// A payment in two tables is one thing to handle, listed under the first; the same token
/// in and out (an invoice and a payout share no row) counts in each direction.
#[test]
fn a_payment_in_two_tables_is_listed_once() {
    let mut d = discrepancies([1, 1, 0, 0, 0, 0, 0]);
    d.contradictions = vec![d.late_completions[0].clone()];
    let m = MoneyOut {
        overdue: payouts("late", 1),
        ..MoneyOut::default()
    };
    let t = of(&d, &m);
    let seen: Vec<_> = t
        .rows
        .iter()
        .map(|r| (r.direction, r.issue.key(), r.token.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (Direction::In, "mismatch", "mismatch-1"),
            (Direction::In, "late_completion", "late-1"),
            (Direction::Out, "overdue", "late-1"),
        ]
    );
    assert_eq!((t.money_in, t.money_out), (2, 1));
}

/// The JSON names the issue and the payment's kind, and amounts as the rest of the report.
#[test]
fn a_row_reads_in_json_as_the_report_names_things() {
    let mut d = discrepancies([0, 0, 0, 0, 0, 0, 1]);
    d.unreadable_amounts[0].payment.expected_xof = None;
    d.unreadable_amounts[0].payment.expected_as_written = Some("5 000".into());
    let t = of(&d, &MoneyOut::default());
    let json = serde_json::to_value(&t).unwrap();
    let row = &json["rows"][0];
    assert_eq!(row["direction"], "in");
    assert_eq!(row["issue"], "unreadable_amount");
    assert_eq!(row["kind"], "invoice");
    assert_eq!(row["expected_xof"], serde_json::Value::Null);
    assert_eq!(row["expected_as_written"], "5 000");
    assert_eq!(row["paid_xof"], 4000);
    assert_eq!(json["count"], 1);
}
