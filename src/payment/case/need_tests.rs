use super::*;

const DAY: Millis = 86_400_000;
const NOW: Millis = 10 * DAY;

fn seen(kind: Kind, status: Status) -> Seen {
    Seen {
        kind,
        status,
        window_start: NOW - 1_000,
        resolved_at: (status != Status::Pending).then_some(NOW - 500),
        overdue_at: None,
        recheck_pending: false,
        said_completed: false,
        said_notcompleted: false,
    }
}

fn need(kind: CaseKind, since: Millis) -> Option<Need> {
    Some(Need { kind, since })
}

#[test]
fn final_statuses_that_need_a_person_need_their_case_from_their_resolution() {
    for (status, kind) in [
        (Status::Mismatch, CaseKind::Mismatch),
        (Status::Timeout, CaseKind::Timeout),
        (Status::InvalidToken, CaseKind::InvalidToken),
    ] {
        let s = seen(Kind::Invoice, status);
        assert_eq!(needed(&s, NOW, DAY), need(kind, NOW - 500), "{status:?}");
    }
    for fine in [Status::Completed, Status::NotCompleted] {
        assert_eq!(needed(&seen(Kind::Invoice, fine), NOW, DAY), None);
    }
    let by_hand = Seen {
        resolved_at: None,
        ..seen(Kind::Invoice, Status::Timeout)
    };
    assert_eq!(
        needed(&by_hand, NOW, DAY),
        need(CaseKind::Timeout, NOW - 1_000)
    );
}

#[test]
fn an_invoice_pending_too_long_and_an_overdue_payout_need_a_person() {
    let young = seen(Kind::Invoice, Status::Pending);
    assert_eq!(needed(&young, NOW, DAY), None);
    let old = Seen {
        window_start: NOW - DAY,
        ..young.clone()
    };
    assert_eq!(
        needed(&old, NOW, DAY),
        need(CaseKind::PendingTooLong, NOW - DAY),
        "exactly pending_after"
    );
    let payout = Seen {
        window_start: NOW - 5 * DAY,
        ..seen(Kind::Payout, Status::Pending)
    };
    assert_eq!(
        needed(&payout, NOW, DAY),
        None,
        "a payout's limit is overdue_after"
    );
    let overdue = Seen {
        overdue_at: Some(NOW - 7),
        ..payout
    };
    assert_eq!(
        needed(&overdue, NOW, DAY),
        need(CaseKind::OverduePayout, NOW - 7)
    );
}

#[test]
fn a_contradiction_needs_a_person_once_it_stands() {
    let said_paid = Seen {
        said_completed: true,
        recheck_pending: true,
        ..seen(Kind::Invoice, Status::NotCompleted)
    };
    assert_eq!(
        needed(&said_paid, NOW, DAY),
        None,
        "the re-check is to come"
    );
    let upheld = Seen {
        recheck_pending: false,
        ..said_paid
    };
    assert_eq!(
        needed(&upheld, NOW, DAY),
        need(CaseKind::Contradicted, NOW - 500)
    );
    let said_unpaid = Seen {
        said_notcompleted: true,
        ..seen(Kind::Payout, Status::Completed)
    };
    assert_eq!(
        needed(&said_unpaid, NOW, DAY),
        need(CaseKind::Contradicted, NOW - 500)
    );
    let agrees = Seen {
        said_completed: true,
        ..seen(Kind::Invoice, Status::Completed)
    };
    assert_eq!(needed(&agrees, NOW, DAY), None);
    let timeout = Seen {
        said_completed: true,
        ..seen(Kind::Invoice, Status::Timeout)
    };
    assert_eq!(
        needed(&timeout, NOW, DAY).map(|n| n.kind),
        Some(CaseKind::Timeout),
        "its own case covers it"
    );
}

fn open(kind: CaseKind, since: Millis, status: Status) -> Option<Open> {
    Some(Open {
        kind,
        since,
        status,
    })
}

#[test]
fn a_need_opens_its_case_once() {
    let n = Need {
        kind: CaseKind::Mismatch,
        since: 5,
    };
    assert_eq!(
        step(None, Status::Mismatch, Some(n), |_| false),
        Step::Open(n)
    );
    assert_eq!(
        step(None, Status::Mismatch, Some(n), |h| *h == n),
        Step::Keep,
        "a person closed it: it stays closed"
    );
    assert_eq!(step(None, Status::Completed, None, |_| false), Step::Keep);
    let same = open(CaseKind::Mismatch, 5, Status::Mismatch);
    assert_eq!(step(same, Status::Mismatch, Some(n), |_| true), Step::Keep);
}

#[test]
fn an_open_case_closes_by_itself_when_its_payment_no_longer_needs_a_person() {
    let timeout = open(CaseKind::Timeout, 5, Status::Timeout);
    let Step::Close(reason) = step(timeout, Status::Completed, None, |_| false) else {
        panic!("a late completion closes the case");
    };
    assert!(reason.contains("late"), "{reason}");
    assert!(matches!(
        step(timeout, Status::Pending, None, |_| false),
        Step::Close(r) if r.contains("requeued")
    ));
    let overdue = open(CaseKind::OverduePayout, 5, Status::Pending);
    assert!(matches!(
        step(overdue, Status::Completed, None, |_| false),
        Step::Close(_)
    ));
    let pending = open(CaseKind::PendingTooLong, 5, Status::Pending);
    assert_eq!(
        step(pending, Status::Pending, None, |_| false),
        Step::Keep,
        "pending_after raised: still a person's to close"
    );
}

#[test]
fn a_new_need_replaces_the_open_case() {
    let pending = open(CaseKind::PendingTooLong, 5, Status::Pending);
    let timeout = Need {
        kind: CaseKind::Timeout,
        since: 9,
    };
    let Step::Replace(reason, n) = step(pending, Status::Timeout, Some(timeout), |_| false) else {
        panic!("the timeout's case replaces the pending one");
    };
    assert_eq!(n, timeout);
    assert!(reason.contains("replaced"), "{reason}");
    let again = open(CaseKind::Timeout, 5, Status::Timeout);
    assert!(matches!(
        step(again, Status::Timeout, Some(timeout), |_| false),
        Step::Replace(r, n) if n == timeout && r.contains("timeout")
    ));
    let mismatch = Need {
        kind: CaseKind::Mismatch,
        since: 9,
    };
    assert!(matches!(
        step(again, Status::Mismatch, Some(mismatch), |_| false),
        Step::Replace(_, n) if n == mismatch
    ));
}
