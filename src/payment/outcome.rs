//! What one confirm takes and gives: the payment it decides about, the change it makes,
//! and the outcome the store records. The poller, the nightly re-check and every later
//! caller of the one confirm path ([`crate::confirm::Confirmer`]) speak these types.

use super::{Kind, Status};
use crate::ligdicash::ConfirmAnswer;
use crate::time::Millis;

/// `status_reason` of a payment put back to `pending` by `requeue`, before the old status.
pub const REQUEUED_FROM: &str = "requeued from ";

/// What a confirm needs of a payment to decide: a pending payment the poller claimed, a
/// `timeout` the nightly re-check looks at again, or a final payment a callback
/// contradicted (`recheck_at`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuePayment {
    pub id: i64,
    /// Which endpoint confirms it and which schedule it follows.
    pub kind: Kind,
    /// The status it was claimed in: every write of its outcome is a compare-and-set on it.
    pub status: Status,
    pub token: String,
    pub transaction_id: Option<String>,
    pub expected_amount: Option<i64>,
    pub attempts: i64,
    pub not_found_streak: i64,
    /// Start of the `give_up_after` window: `created_at`, or `requeued_at` when later.
    pub window_start: Millis,
    /// `status_reason` when claimed (set by a requeue): the final write checks it is
    /// unchanged, and "requeued from timeout" makes a completion a late one.
    pub claimed_reason: Option<String>,
    /// When it was last confirmed, as recorded: LigdiCash's floor between two confirms of
    /// one token is kept from it by every caller of [`crate::confirm::Confirmer`].
    pub last_confirm_at: Option<Millis>,
    /// Whether a payout was already announced as overdue (`payout.overdue` goes out once).
    pub overdue: bool,
    /// The latest time this claim may be sent (PostgreSQL: the claim's send window); after
    /// it the lease may run out mid-call, and the payment is handed back unsent. `None`:
    /// the row is this process's alone (SQLite).
    pub send_by: Option<Millis>,
}

/// What a confirm did to its payment.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A final status, with why.
    Finalize {
        status: Status,
        reason: Option<String>,
    },
    /// Still open: confirm again at `next_poll_at`.
    Reschedule {
        next_poll_at: Millis,
        /// When the next poll goes instead, if a LigdiCash callback for this payment came
        /// in while this call was in flight (after it was sent): the answer plus
        /// `min_interval`, or any longer wait LigdiCash asked for. The callback's reason to
        /// confirm at once is not lost to this call's reschedule.
        callback_poll_at: Millis,
        count_attempt: bool,
        not_found_streak: i64,
        /// A payout pending past `overdue_after` and not announced yet: mark it overdue
        /// and emit `payout.overdue`, once.
        overdue: bool,
    },
    /// Not the payment's fault (credentials refused): log the call, touch nothing else.
    Untouched,
    /// A payment with a final status confirmed once more (the nightly re-check of a
    /// timeout, or a callback that contradicted the status) and left as it is: the answer
    /// is recorded, and the re-check is done (`again_at` `None`) or, when LigdiCash could
    /// not be asked, tried again at `again_at`.
    Recheck { again_at: Option<Millis> },
}

/// Everything one confirm call produces, written in one transaction with its batch.
#[derive(Debug, Clone)]
pub struct ConfirmOutcome {
    pub payment_id: i64,
    /// The payment's kind: names its events (`payment.*` or `payout.*`).
    pub kind: Kind,
    /// For logs only; the row is addressed by `payment_id`.
    pub token: String,
    pub at: Millis,
    pub latency_ms: i64,
    pub http_status: Option<u16>,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub answer: Option<ConfirmAnswer>,
    pub raw_body: Option<String>,
    pub change: Change,
    /// The status the payment was claimed in ([`DuePayment::status`]): the write applies
    /// only if it still is.
    pub from: Status,
    /// The payment's `status_reason` when it was claimed ([`DuePayment::claimed_reason`]).
    pub claimed_reason: Option<String>,
}

/// The effect of one outcome once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub payment_id: i64,
    /// The final status written, if this outcome finalised the payment.
    pub finalized: Option<Status>,
    /// The payment was no longer as claimed (requeued, finalised elsewhere): nothing changed.
    pub stale: bool,
}

/// The event announcing that a pending payout passed `overdue_after`.
pub const PAYOUT_OVERDUE: &str = "payout.overdue";

/// The outbox event of a transition from `from` to `to`, if it has one. One table for every
/// caller, so the poller and the re-check cannot drift:
/// - a payout's (or withdrawal's) transition is a `payout.*` event (it is never given up
///   as `timeout`);
/// - a completion of a payment given up as `timeout` is a late completion, whether the
///   re-check found it or a `requeue` put it back first (`requeued_from_timeout`);
/// - a completion of a payment LigdiCash had left `notcompleted` or `invalid_token` (a
///   callback contradicted it and the confirm agreed) is a late completion too, of either
///   kind: `payout.late_completed` for money out, which the shop may have sent again;
/// - a `timeout` or `invalid_token` that LigdiCash now calls `notcompleted` emits nothing:
///   the shop already treats both as failed.
pub fn transition_event(
    kind: Kind,
    from: Status,
    to: Status,
    requeued_from_timeout: bool,
) -> Option<&'static str> {
    let unpaid = matches!(
        from,
        Status::Timeout | Status::NotCompleted | Status::InvalidToken
    );
    match (from, to) {
        (_, Status::Completed) if unpaid && kind.is_money_out() => Some("payout.late_completed"),
        (_, Status::Completed) if unpaid => Some("payment.late_completed"),
        (Status::Timeout | Status::InvalidToken, Status::NotCompleted) => None,
        _ if kind.is_money_out() => Some(to.payout_event_type()),
        (Status::Pending, Status::Completed) if requeued_from_timeout => {
            Some("payment.late_completed")
        }
        (_, to) => Some(to.event_type()),
    }
}

/// Whether a `status_reason` says the payment was requeued from `timeout`.
pub fn requeued_from_timeout(reason: Option<&str>) -> bool {
    reason.and_then(|r| r.strip_prefix(REQUEUED_FROM)) == Some(Status::Timeout.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transition_has_its_event_and_late_completions_are_named_as_such() {
        use Kind::Invoice;
        use Status::*;
        assert_eq!(
            transition_event(Invoice, Pending, Completed, false),
            Some("payment.completed")
        );
        assert_eq!(
            transition_event(Invoice, Pending, Completed, true),
            Some("payment.late_completed")
        );
        assert_eq!(
            transition_event(Invoice, Timeout, Completed, false),
            Some("payment.late_completed")
        );
        assert_eq!(
            transition_event(Invoice, Timeout, Mismatch, false),
            Some("payment.mismatch")
        );
        assert_eq!(
            transition_event(Invoice, Timeout, NotCompleted, false),
            None
        );
        assert_eq!(
            transition_event(Invoice, Pending, NotCompleted, true),
            Some("payment.notcompleted")
        );
        assert_eq!(
            transition_event(Invoice, Pending, Timeout, false),
            Some("payment.timeout")
        );
        assert_eq!(
            transition_event(Invoice, Pending, InvalidToken, false),
            Some("payment.invalid_token")
        );
        for kind in [Kind::Withdrawal, Kind::Payout] {
            assert_eq!(
                transition_event(kind, Pending, Completed, true),
                Some("payout.completed")
            );
            assert_eq!(
                transition_event(kind, Pending, Mismatch, false),
                Some("payout.mismatch")
            );
            assert_eq!(
                transition_event(kind, Pending, NotCompleted, false),
                Some("payout.notcompleted")
            );
            assert_eq!(
                transition_event(kind, Pending, InvalidToken, false),
                Some("payout.invalid_token")
            );
        }
        for (kind, late) in [
            (Invoice, "payment.late_completed"),
            (Kind::Payout, "payout.late_completed"),
        ] {
            for from in [NotCompleted, InvalidToken] {
                assert_eq!(transition_event(kind, from, Completed, false), Some(late));
            }
            assert_eq!(
                transition_event(kind, InvalidToken, NotCompleted, false),
                None
            );
        }
        assert!(requeued_from_timeout(Some("requeued from timeout")));
        assert!(!requeued_from_timeout(Some("requeued from invalid_token")));
        assert!(!requeued_from_timeout(None));
    }
}
