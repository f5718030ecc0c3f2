//! Re-checks of final payments: the nightly re-check of a timeout, and one more confirm of
//! a status a callback contradicted.

use super::tests::{HOUR, answer, due, policy, status_of};
use super::*;
use crate::ligdicash::ErrorClass;
use std::time::Duration;

/// A re-checked timeout changes only on a final answer, never times out again, never
/// reschedules, and a late completion is verified like any other.
#[test]
fn a_rechecked_timeout_changes_only_on_a_final_answer() {
    let timeout = DuePayment {
        status: Status::Timeout,
        window_start: 0,
        ..due()
    };
    let at = |c: &Classified| decide(&policy(), &timeout, c, 1_000 * HOUR, 0.5);
    let ok = Classified::Completed(answer(Some(5000), Some("ORD-1"), None));
    assert_eq!(status_of(&at(&ok)), Some(Status::Completed));
    let short = at(&Classified::Completed(answer(Some(4000), None, None)));
    assert!(
        matches!(&short.change, Change::Finalize { status: Status::Mismatch, reason: Some(r) } if r.starts_with("late: "))
    );
    let failed = at(&Classified::NotCompleted(answer(None, None, None)));
    assert_eq!(status_of(&failed), Some(Status::NotCompleted));
    let pending = Classified::Pending {
        answer: answer(None, None, None),
        unknown_status: None,
    };
    for c in [pending, Classified::NotFound] {
        let left = at(&c).change;
        assert_eq!(left, Change::Recheck { again_at: None }, "{c:?}");
    }
}

/// A final payment a callback contradicted is confirmed once more: a completion LigdiCash
/// now confirms is a late completion naming the status it replaces; LigdiCash upholding its
/// verdict changes nothing; a re-check it could not answer is tried again later.
#[test]
fn a_contradicted_final_status_changes_only_when_ligdicash_now_says_otherwise() {
    let now = 1_000 * HOUR;
    for was in [Status::NotCompleted, Status::InvalidToken] {
        let p = DuePayment {
            status: was,
            ..due()
        };
        let at = |c: &Classified| decide(&policy(), &p, c, now, 0.5);
        let paid = at(&Classified::Completed(answer(
            Some(5000),
            Some("ORD-1"),
            None,
        )));
        let reason = format!("completed after {}", was.as_str());
        assert_eq!(
            paid.change,
            Change::Finalize {
                status: Status::Completed,
                reason: Some(reason.clone())
            }
        );
        let short = at(&Classified::Completed(answer(Some(4000), None, None)));
        assert!(
            matches!(&short.change, Change::Finalize { status: Status::Mismatch, reason: Some(r) } if r.starts_with("late: ") && r.ends_with(&format!("; {reason}"))),
            "{short:?}"
        );
        let refused = at(&Classified::AuthFailed {
            detail: "Code00".into(),
        });
        assert_eq!(
            refused.change,
            Change::Recheck {
                again_at: Some(now + RECHECK_RETRY_MS)
            }
        );
        let down = at(&Classified::Transient {
            class: ErrorClass::Http5xx,
            detail: "HTTP 503".into(),
            retry_after: Some(Duration::from_secs(600)),
        });
        assert_eq!(
            down.change,
            Change::Recheck {
                again_at: Some(now + 600_000)
            }
        );
    }
    let upheld = DuePayment {
        status: Status::NotCompleted,
        ..due()
    };
    let again = decide(
        &policy(),
        &upheld,
        &Classified::NotCompleted(answer(None, None, None)),
        now,
        0.5,
    );
    assert_eq!(again.change, Change::Recheck { again_at: None });
}
