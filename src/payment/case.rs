//! Pure policy of cases: what needs a person, and what a person may decide about it.
//!
//! A case opens by itself when a payment enters a state the reconciler cannot settle alone
//! ([`CaseKind`]), one open case per payment at a time. A person closes it with a
//! [`Decision`] that fits it ([`Decision::fits`]) and a note; a case that stops needing a
//! person by itself (a timeout that completes late, an overdue payout that settles) closes
//! itself, with the reason. LigdiCash's verdict is never overwritten: the payment keeps the
//! status LigdiCash gave, and the decision is a record beside it. Decisions are append-only:
//! a case closes once; reopening opens a new case.
//!
//! The rules, each unit-tested below:
//! - [`opens_on`]: the case a final status or a mark opens (mismatch, timeout, invalid
//!   token, an overdue payout, a contradiction that stands, a payment pending too long);
//! - [`closes_on`]: when a change of the payment ends its open case by itself, and why;
//! - [`Decision::fits`]: which decisions a case of a kind, on money in or out, accepts;
//! - [`need`]: the case a payment needs now, and what the case sweep does about its open one.

pub mod need;

use super::{Kind, Status};

/// Why a payment needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaseKind {
    /// LigdiCash says paid (or sent), but the amount or the order differs.
    Mismatch,
    /// An invoice given up as `timeout`: LigdiCash may still complete it.
    Timeout,
    /// LigdiCash does not know the token (three `Code02` in a row).
    InvalidToken,
    /// A payout still pending past `[payouts] overdue_after`.
    OverduePayout,
    /// A LigdiCash callback contradicted the final status, and the status stands.
    Contradicted,
    /// An invoice pending longer than `[cases] pending_after` (24 h by default).
    PendingTooLong,
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Mismatch,
        CaseKind::Timeout,
        CaseKind::InvalidToken,
        CaseKind::OverduePayout,
        CaseKind::Contradicted,
        CaseKind::PendingTooLong,
    ];

    /// The database, CLI, API and event spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mismatch => "mismatch",
            Self::Timeout => "timeout",
            Self::InvalidToken => "invalid_token",
            Self::OverduePayout => "overdue_payout",
            Self::Contradicted => "contradicted",
            Self::PendingTooLong => "pending_too_long",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What a person decided about a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// The money as LigdiCash reports it is kept: fulfil (money in), or what left is
    /// right (money out).
    Accepted,
    /// The money went back to the customer.
    Refunded,
    /// The customer paid, or was paid, another way: nothing is owed through LigdiCash.
    PaidElsewhere,
    /// The customer did not pay: the order is cancelled.
    NotPaid,
    /// The shop gives the amount up (too small to chase, a dispute lost).
    WrittenOff,
    /// A payout the shop sent again (LigdiCash's never arrived).
    SentAgain,
}

impl Decision {
    pub const ALL: [Decision; 6] = [
        Decision::Accepted,
        Decision::Refunded,
        Decision::PaidElsewhere,
        Decision::NotPaid,
        Decision::WrittenOff,
        Decision::SentAgain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refunded => "refunded",
            Self::PaidElsewhere => "paid_elsewhere",
            Self::NotPaid => "not_paid",
            Self::WrittenOff => "written_off",
            Self::SentAgain => "sent_again",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Whether a person may close a case of `kind`, on a payment of `payment` kind, with
    /// this decision: what shops and accountants do with such a case.
    pub fn fits(self, kind: CaseKind, payment: Kind) -> bool {
        Self::fitting(kind, payment).contains(&self)
    }

    /// The decisions a case of `kind` on a payment of `payment` kind accepts, for the
    /// error that refuses another.
    pub fn fitting(kind: CaseKind, payment: Kind) -> &'static [Decision] {
        use Decision::*;
        match (kind, payment.is_money_out()) {
            (CaseKind::Mismatch, false) => &[Accepted, Refunded, WrittenOff],
            (CaseKind::Mismatch, true) => &[Accepted, WrittenOff],
            (CaseKind::Timeout | CaseKind::InvalidToken | CaseKind::PendingTooLong, false) => {
                &[NotPaid, PaidElsewhere, WrittenOff]
            }
            (CaseKind::InvalidToken | CaseKind::OverduePayout, true) => {
                &[SentAgain, PaidElsewhere, WrittenOff]
            }
            (CaseKind::Contradicted, false) => {
                &[Accepted, Refunded, NotPaid, PaidElsewhere, WrittenOff]
            }
            (CaseKind::Contradicted, true) => &[Accepted, SentAgain, WrittenOff],
            // Overdue is a payout's mark: on an invoice it never opens.
            (CaseKind::OverduePayout, false) => &[WrittenOff],
            // A payout is never given up nor left pending as an invoice is.
            (CaseKind::Timeout | CaseKind::PendingTooLong, true) => &[WrittenOff],
        }
    }
}

/// The case a payment reaching `status` opens, if any (the marks that open the others,
/// overdue, contradicted and pending too long, open theirs where they are made).
pub fn opens_on(status: Status) -> Option<CaseKind> {
    match status {
        Status::Mismatch => Some(CaseKind::Mismatch),
        Status::Timeout => Some(CaseKind::Timeout),
        Status::InvalidToken => Some(CaseKind::InvalidToken),
        Status::Pending | Status::Completed | Status::NotCompleted => None,
    }
}

/// Why an open case of `kind` closes by itself when its payment goes from `from` to `to`
/// (a final write, or a requeue back to `pending`), or `None` when it still needs a person.
pub fn closes_on(kind: CaseKind, from: Status, to: Status) -> Option<&'static str> {
    use Status::*;
    if from == to {
        return None;
    }
    match (kind, from, to) {
        (_, _, Pending) => Some("requeued: LigdiCash is asked again"),
        (CaseKind::Timeout | CaseKind::InvalidToken, _, Completed) => {
            Some("completed late: LigdiCash confirmed the payment")
        }
        (CaseKind::Timeout | CaseKind::InvalidToken, _, NotCompleted) => {
            Some("LigdiCash confirmed it failed")
        }
        (CaseKind::OverduePayout | CaseKind::PendingTooLong, Pending, Completed) => {
            Some("settled: LigdiCash confirmed it")
        }
        (CaseKind::OverduePayout | CaseKind::PendingTooLong, Pending, NotCompleted) => {
            Some("settled: LigdiCash confirmed it failed")
        }
        // A pending payment that reaches a status needing a person: that status's own
        // case replaces this one.
        (CaseKind::PendingTooLong, Pending, Mismatch | Timeout | InvalidToken) => {
            Some("replaced by the case of its final status")
        }
        (CaseKind::OverduePayout, Pending, Mismatch | InvalidToken) => {
            Some("replaced by the case of its final status")
        }
        (CaseKind::Contradicted, _, _) => {
            Some("LigdiCash changed the status the callback contradicted")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_that_need_a_person_open_their_case() {
        assert_eq!(opens_on(Status::Mismatch), Some(CaseKind::Mismatch));
        assert_eq!(opens_on(Status::Timeout), Some(CaseKind::Timeout));
        assert_eq!(opens_on(Status::InvalidToken), Some(CaseKind::InvalidToken));
        for fine in [Status::Completed, Status::NotCompleted, Status::Pending] {
            assert_eq!(opens_on(fine), None);
        }
    }

    #[test]
    fn a_case_closes_by_itself_only_when_the_payment_no_longer_needs_a_person() {
        use Status::{Completed, Mismatch, NotCompleted, Pending, Timeout};
        let k = |kind, from, to| closes_on(kind, from, to);
        assert!(k(CaseKind::Timeout, Timeout, Completed).is_some_and(|r| r.contains("late")));
        assert!(k(CaseKind::Timeout, Timeout, NotCompleted).is_some());
        assert!(k(CaseKind::Mismatch, Mismatch, Mismatch).is_none());
        assert!(k(CaseKind::Timeout, Timeout, Pending).is_some_and(|r| r.contains("requeued")));
        assert!(k(CaseKind::OverduePayout, Pending, Completed).is_some());
        assert!(
            k(CaseKind::OverduePayout, Pending, Pending).is_none(),
            "still overdue"
        );
        assert!(
            k(CaseKind::PendingTooLong, Pending, Timeout).is_some(),
            "the timeout case replaces it"
        );
        assert!(k(CaseKind::Contradicted, NotCompleted, Completed).is_some());
        assert!(
            k(CaseKind::Contradicted, NotCompleted, NotCompleted).is_none(),
            "upheld"
        );
        for kind in CaseKind::ALL {
            assert!(k(kind, Completed, Completed).is_none(), "{kind:?}");
        }
    }

    #[test]
    fn each_case_accepts_the_decisions_that_fit_it() {
        use Decision::*;
        assert!(Accepted.fits(CaseKind::Mismatch, Kind::Invoice));
        assert!(Refunded.fits(CaseKind::Mismatch, Kind::Invoice));
        assert!(
            !NotPaid.fits(CaseKind::Mismatch, Kind::Invoice),
            "LigdiCash says it was paid"
        );
        assert!(
            !SentAgain.fits(CaseKind::Mismatch, Kind::Invoice),
            "money in"
        );
        assert!(NotPaid.fits(CaseKind::Timeout, Kind::Invoice));
        assert!(
            !Accepted.fits(CaseKind::Timeout, Kind::Invoice),
            "no money to keep"
        );
        assert!(SentAgain.fits(CaseKind::OverduePayout, Kind::Payout));
        assert!(SentAgain.fits(CaseKind::OverduePayout, Kind::Withdrawal));
        assert!(!Refunded.fits(CaseKind::OverduePayout, Kind::Payout));
        for kind in CaseKind::ALL {
            for payment in Kind::ALL {
                let fitting = Decision::fitting(kind, payment);
                assert!(!fitting.is_empty(), "{kind:?} {payment:?}");
                assert!(WrittenOff.fits(kind, payment), "writing off always fits");
            }
        }
    }

    #[test]
    fn names_read_back() {
        for kind in CaseKind::ALL {
            assert_eq!(CaseKind::parse(kind.as_str()), Some(kind));
        }
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(Decision::parse("approve"), None);
    }
}
