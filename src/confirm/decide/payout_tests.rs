//! The payouts' rules: never given up, their own schedule, overdue once.

use super::*;
use crate::config::HumanDuration;
use crate::ligdicash::{ConfirmAnswer, ErrorClass};

const HOUR: Millis = 3_600_000;

fn policy() -> Policy {
    let payouts = PayoutsConfig {
        overdue_after: HumanDuration::secs(3 * 3600),
        jitter: 0.0,
        ..PayoutsConfig::default()
    };
    Policy::from_config(&PollConfig::default(), &payouts)
}

fn payout(kind: Kind) -> DuePayment {
    DuePayment {
        id: 7,
        kind,
        token: "po".into(),
        transaction_id: Some("REFUND-7".into()),
        expected_amount: Some(100),
        ..DuePayment::default()
    }
}

fn pending() -> Classified {
    Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    }
}

/// `(next_poll_at, overdue)` of a reschedule; panics on any other change.
fn rescheduled(d: Decision) -> (Millis, bool) {
    match d.change {
        Change::Reschedule {
            next_poll_at,
            overdue,
            ..
        } => (next_poll_at, overdue),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_pending_payout_is_never_given_up_and_goes_overdue_once() {
    let policy = policy();
    for kind in [Kind::Withdrawal, Kind::Payout] {
        let p = DuePayment {
            attempts: 40,
            ..payout(kind)
        };
        // Long past give_up_after (72h) and overdue_after (3h): still pending.
        let year = 365 * 24 * HOUR;
        let (next, overdue) = rescheduled(decide(&policy, &p, &pending(), year, 0.5));
        assert!(overdue, "{kind}");
        assert_eq!(next, year + HOUR, "{kind}: polled at max_interval");
        let announced = DuePayment {
            overdue: true,
            ..p.clone()
        };
        let (_, again) = rescheduled(decide(&policy, &announced, &pending(), year, 0.5));
        assert!(!again, "{kind}: announced once");
        // Before overdue_after: neither given up nor overdue.
        let (_, early) = rescheduled(decide(&policy, &p, &pending(), 3 * HOUR - 1, 0.5));
        assert!(!early, "{kind}");
        let (_, at) = rescheduled(decide(&policy, &p, &pending(), 3 * HOUR, 0.5));
        assert!(at, "{kind}");
    }
    // The same age makes an invoice a timeout, and never overdue.
    let invoice = payout(Kind::Invoice);
    let d = decide(&policy, &invoice, &pending(), 73 * HOUR, 0.5);
    assert!(matches!(
        d.change,
        Change::Finalize {
            status: Status::Timeout,
            ..
        }
    ));
    let (_, overdue) = rescheduled(decide(&policy, &invoice, &pending(), 4 * HOUR, 0.5));
    assert!(!overdue);
}

#[test]
fn payouts_follow_their_own_schedule_under_the_shared_floor() {
    let policy = policy();
    let p = DuePayment {
        attempts: 0,
        ..payout(Kind::Payout)
    };
    let (next, _) = rescheduled(decide(&policy, &p, &pending(), 0, 0.5));
    assert_eq!(next, 30_000, "payouts.initial_interval");
    let invoice = payout(Kind::Invoice);
    let (next, _) = rescheduled(decide(&policy, &invoice, &pending(), 0, 0.5));
    assert_eq!(next, 10_000, "poll.initial_interval");
    assert_eq!(
        policy.payouts.min_interval,
        PollConfig::default().min_interval.0
    );
    // An outage past overdue_after still announces it: the payout needs a human either way.
    let outage = Classified::Transient {
        class: ErrorClass::Http5xx,
        detail: "HTTP 503".into(),
        retry_after: None,
    };
    let (_, overdue) = rescheduled(decide(&policy, &p, &outage, 4 * HOUR, 0.5));
    assert!(overdue);
}

#[test]
fn a_payout_is_verified_and_judged_like_an_invoice() {
    let policy = policy();
    let p = payout(Kind::Payout);
    let answer = |amount| ConfirmAnswer {
        response_code: Some("00".into()),
        status: Some("completed".into()),
        amount: Some(amount),
        external_id: Some("REFUND-7".into()),
        ..ConfirmAnswer::default()
    };
    let d = decide(&policy, &p, &Classified::Completed(answer(100)), 0, 0.5);
    assert_eq!(
        d.change,
        Change::Finalize {
            status: Status::Completed,
            reason: None
        }
    );
    let d = decide(&policy, &p, &Classified::Completed(answer(90)), 0, 0.5);
    assert_eq!(
        d.change,
        Change::Finalize {
            status: Status::Mismatch,
            reason: Some("confirmed amount 90 XOF differs from expected 100 XOF".into())
        }
    );
    let streak = DuePayment {
        not_found_streak: NOT_FOUND_LIMIT - 1,
        ..p
    };
    let d = decide(&policy, &streak, &Classified::NotFound, 0, 0.5);
    assert!(matches!(
        d.change,
        Change::Finalize {
            status: Status::InvalidToken,
            ..
        }
    ));
}
