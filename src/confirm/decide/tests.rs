use super::*;
use crate::config::HumanDuration;
use crate::ligdicash::{ConfirmAnswer, ErrorClass};
use std::time::Duration;

pub(super) const HOUR: Millis = 3_600_000;

pub(super) fn policy() -> Policy {
    Policy::from_config(&PollConfig::default(), &PayoutsConfig::default())
}

pub(super) fn due() -> DuePayment {
    DuePayment {
        id: 1,
        token: "tok".into(),
        transaction_id: Some("ORD-1".into()),
        expected_amount: Some(5000),
        ..DuePayment::default()
    }
}

pub(super) fn answer(
    amount: Option<i64>,
    custom: Option<&str>,
    external: Option<&str>,
) -> ConfirmAnswer {
    ConfirmAnswer {
        response_code: Some("00".into()),
        status: Some("completed".into()),
        amount,
        custom_transaction_id: custom.map(Into::into),
        external_id: external.map(Into::into),
        ..Default::default()
    }
}

pub(super) fn status_of(d: &Decision) -> Option<Status> {
    match &d.change {
        Change::Finalize { status, .. } => Some(*status),
        _ => None,
    }
}

#[test]
fn completed_is_verified_against_the_enqueued_payment() {
    let cases = [
        (
            answer(Some(5000), Some("ORD-1"), Some("ORD-1")),
            Status::Completed,
        ),
        (answer(Some(5000), None, None), Status::Completed),
        (
            answer(Some(5000), None, Some("ORD-1;CUST-9")),
            Status::Completed,
        ),
        (answer(Some(4000), Some("ORD-1"), None), Status::Mismatch),
        (answer(None, Some("ORD-1"), None), Status::Mismatch),
        (
            answer(Some(5000), Some("ORD-2"), Some("ORD-2")),
            Status::Mismatch,
        ),
        (answer(Some(5000), None, Some("OTHER")), Status::Mismatch),
        (
            answer(Some(5000), Some("ORD-1"), Some("ORD-2")),
            Status::Mismatch,
        ),
    ];
    for (a, expected) in cases {
        let d = decide(
            &policy(),
            &due(),
            &Classified::Completed(a.clone()),
            HOUR,
            0.5,
        );
        assert_eq!(status_of(&d), Some(expected), "{a:?}");
    }
}

#[test]
fn nothing_to_check_means_completed() {
    let p = DuePayment {
        transaction_id: None,
        expected_amount: None,
        ..due()
    };
    let d = decide(
        &policy(),
        &p,
        &Classified::Completed(ConfirmAnswer::default()),
        0,
        0.5,
    );
    assert_eq!(status_of(&d), Some(Status::Completed));
}

#[test]
fn pending_times_out_only_after_give_up_after() {
    let pending = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    };
    let before = decide(&policy(), &due(), &pending, 72 * HOUR - 1, 0.5);
    assert!(matches!(before.change, Change::Reschedule { .. }));
    let after = decide(&policy(), &due(), &pending, 72 * HOUR, 0.5);
    assert_eq!(status_of(&after), Some(Status::Timeout));
    match after.change {
        Change::Finalize { reason, .. } => {
            assert_eq!(
                reason.as_deref(),
                Some("still pending at LigdiCash after 3d")
            )
        }
        other => panic!("{other:?}"),
    }
    let unknown = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: Some("refunded".into()),
    };
    let d = decide(&policy(), &due(), &unknown, 73 * HOUR, 0.5);
    assert_eq!(
        status_of(&d),
        Some(Status::Timeout),
        "unknown counts as pending"
    );
}

#[test]
fn outages_never_time_a_payment_out() {
    let transient = Classified::Transient {
        class: ErrorClass::Http5xx,
        detail: "HTTP 503".into(),
        retry_after: None,
    };
    let auth = Classified::AuthFailed {
        detail: "Code00".into(),
    };
    for c in [transient, auth] {
        let d = decide(&policy(), &due(), &c, 1000 * HOUR, 0.5);
        assert_eq!(status_of(&d), None, "{c:?}");
    }
}

#[test]
fn auth_failure_counts_no_attempt() {
    let d = decide(
        &policy(),
        &due(),
        &Classified::AuthFailed { detail: "x".into() },
        0,
        0.5,
    );
    assert_eq!(d.change, Change::Untouched);
}

#[test]
fn three_consecutive_not_found_make_the_token_invalid() {
    let mut p = due();
    for streak in 1..NOT_FOUND_LIMIT {
        let d = decide(&policy(), &p, &Classified::NotFound, 0, 0.5);
        match d.change {
            Change::Reschedule {
                not_found_streak, ..
            } => assert_eq!(not_found_streak, streak),
            other => panic!("{other:?}"),
        }
        p.not_found_streak = streak;
    }
    let d = decide(&policy(), &p, &Classified::NotFound, 0, 0.5);
    assert_eq!(status_of(&d), Some(Status::InvalidToken));
    let pending = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    };
    match decide(&policy(), &p, &pending, 0, 0.5).change {
        Change::Reschedule {
            not_found_streak, ..
        } => assert_eq!(not_found_streak, 0, "a real answer resets the streak"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn retry_after_pushes_the_next_poll_out() {
    let c = Classified::Transient {
        class: ErrorClass::RateLimited,
        detail: "HTTP 429".into(),
        retry_after: Some(Duration::from_secs(120)),
    };
    match decide(&policy(), &due(), &c, 0, 0.5).change {
        Change::Reschedule {
            next_poll_at,
            count_attempt,
            ..
        } => {
            assert_eq!(next_poll_at, 120_000);
            assert!(count_attempt);
        }
        other => panic!("{other:?}"),
    }
}

/// The largest schedule and the latest clock give the latest poll time, never a
/// wrapped-around (negative) one that would make the token due at once, every time.
#[test]
fn the_next_poll_time_saturates_instead_of_wrapping() {
    let cfg = PollConfig {
        initial_interval: HumanDuration(Duration::MAX),
        max_interval: HumanDuration(Duration::MAX),
        multiplier: 1e300,
        ..PollConfig::default()
    };
    let pending = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    };
    for now in [0, HOUR, i64::MAX - 1] {
        let p = DuePayment {
            attempts: 40,
            window_start: now,
            ..due()
        };
        for unit in [0.0, 0.5, 0.999] {
            match decide(
                &Policy::from_config(&cfg, &PayoutsConfig::default()),
                &p,
                &pending,
                now,
                unit,
            )
            .change
            {
                Change::Reschedule { next_poll_at, .. } => {
                    assert!(
                        next_poll_at >= now.saturating_add(3000),
                        "{now} -> {next_poll_at}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let far = DuePayment {
        window_start: i64::MIN,
        ..due()
    };
    let d = decide(&policy(), &far, &pending, i64::MAX, 0.5);
    assert_eq!(status_of(&d), Some(Status::Timeout));
}

#[test]
fn next_poll_follows_the_schedule() {
    let mut p = due();
    p.attempts = 2;
    let pending = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    };
    match decide(&policy(), &p, &pending, 1_000, 0.5).change {
        // The third confirm waits 10 s × 1.5² (the default schedule).
        Change::Reschedule { next_poll_at, .. } => assert_eq!(next_poll_at, 1_000 + 22_500),
        other => panic!("{other:?}"),
    }
}

/// The timeout reason states the payment's age since its window started, in whole
/// seconds (a part of a second is dropped), and keeps the unknown-status note.
#[test]
fn the_timeout_reason_states_the_age_since_the_window_started() {
    let p = DuePayment {
        window_start: 5 * HOUR,
        ..due()
    };
    let reason = |c: &Classified, now: Millis| match decide(&policy(), &p, c, now, 0.5).change {
        Change::Finalize {
            status: Status::Timeout,
            reason,
        } => reason,
        other => panic!("{other:?}"),
    };
    let pending = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    };
    assert_eq!(
        reason(&pending, 5 * HOUR + 73 * HOUR + 1_500).as_deref(),
        Some("still pending at LigdiCash after 262801s")
    );
    assert_eq!(
        reason(&pending, 5 * HOUR + 73 * HOUR + 999).as_deref(),
        Some("still pending at LigdiCash after 73h")
    );
    let unknown = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: Some("refunded".into()),
    };
    assert_eq!(
        reason(&unknown, 5 * HOUR + 72 * HOUR).as_deref(),
        Some("still pending at LigdiCash after 3d; unknown status \"refunded\" treated as pending")
    );
}

/// Every call that is retried keeps its error for `last_error` and the attempt log; a
/// real answer keeps none (an unknown status keeps its note).
#[test]
fn a_retried_call_keeps_its_error() {
    let p = DuePayment {
        not_found_streak: 1,
        ..due()
    };
    let transient = Classified::Transient {
        class: ErrorClass::Http5xx,
        detail: "HTTP 503".into(),
        retry_after: None,
    };
    let unknown = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: Some("refunded".into()),
    };
    let pending = Classified::Pending {
        answer: ConfirmAnswer::default(),
        unknown_status: None,
    };
    let cases = [
        (transient, Some("HTTP 503"), 1),
        (Classified::NotFound, Some("invoice not found (Code02)"), 2),
        (
            unknown,
            Some("unknown status \"refunded\" treated as pending"),
            0,
        ),
        (pending, None, 0),
    ];
    for (c, error, streak) in cases {
        let d = decide(&policy(), &p, &c, HOUR, 0.5);
        assert_eq!(d.error.as_deref(), error, "{c:?}");
        match d.change {
            Change::Reschedule {
                count_attempt,
                not_found_streak,
                ..
            } => {
                assert!(count_attempt, "{c:?}");
                assert_eq!(not_found_streak, streak, "{c:?}");
            }
            other => panic!("{c:?}: {other:?}"),
        }
    }
    let auth = Classified::AuthFailed {
        detail: "HTTP 401".into(),
    };
    assert_eq!(
        decide(&policy(), &p, &auth, HOUR, 0.5).error.as_deref(),
        Some("HTTP 401")
    );
}
