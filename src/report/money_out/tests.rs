use super::*;

const DAY: i64 = 86_400_000;

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

#[test]
fn completed_failed_pending_overdue_and_the_net_line() {
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
    let m = summarise(&f, 2 * DAY, 10_000);
    assert_eq!(
        m.completed,
        Amount {
            count: 3,
            xof: 1000 + 2500 + 1000
        },
        "a completion without a confirmed amount counts what was asked"
    );
    assert_eq!(
        m.completed_by_kind["withdrawal"],
        Amount {
            count: 1,
            xof: 2500
        }
    );
    assert_eq!(m.completed_by_kind["payout"].count, 2);
    assert_eq!(
        m.failed,
        Amount {
            count: 1,
            xof: 1000
        }
    );
    assert_eq!(
        m.pending,
        Amount {
            count: 3,
            xof: 3000
        }
    );
    let overdue: Vec<&str> = m.overdue.iter().map(|r| r.token.as_str()).collect();
    assert_eq!(overdue, ["g"]);
    assert_eq!(
        m.overdue[0].age_secs,
        (2 * DAY - DAY / 2) / 1000,
        "its age at the end of the day"
    );
    assert_eq!(
        m.mismatches.len(),
        1,
        "a mismatch is not counted as paid out"
    );
    assert_eq!(m.invalid_tokens[0].kind, "withdrawal");
    assert_eq!(m.paid_out_xof, 4500);
    assert_eq!(m.net_xof, 10_000 - 4500);
    assert_eq!(m.needing_a_human(), 3);
}

#[test]
fn a_day_without_payouts_nets_what_was_received() {
    let m = summarise(&PayoutFacts::default(), DAY, 7000);
    assert_eq!(m.paid_out_xof, 0);
    assert_eq!(m.net_xof, 7000);
    assert_eq!(m.needing_a_human(), 0);
    // More paid out than received: the net is negative.
    let f = PayoutFacts {
        resolved: vec![payout("a", "payout", "completed", Some(9000))],
        ..PayoutFacts::default()
    };
    assert_eq!(summarise(&f, 2 * DAY, 7000).net_xof, -2000);
}
