//! Pure policy: what one LigdiCash callback does to the payment it names. A callback is
//! never trusted: it is only a reason to confirm sooner, and evidence to keep. Both
//! backends read the payment's state, ask [`plan`], and carry out the plan with a
//! compare-and-set each, so two copies of one callback racing change nothing twice.
//!
//! The rules, each unit-tested below:
//! - **A pending payment is made due now**, unless it is due already (a confirm of it is
//!   waiting for its turn, or in flight): a callback that arrives after the last confirm
//!   was sent always leads to one more confirm, while copies that arrive before it is sent
//!   (LigdiCash's JSON and form copies, a forger's) fold into that one. The confirm path
//!   still spaces two confirms of one token by `min_interval`. (A confirm in flight keeps a
//!   callback received meanwhile by its own reschedule: `Change::Reschedule`'s
//!   `callback_poll_at`.)
//! - **A callback that says `completed` of a payment LigdiCash left `notcompleted`,
//!   `timeout` or `invalid_token` is a contradiction to check**: the payment is confirmed
//!   once more (`recheck_at`); its status changes only if LigdiCash's confirm now says
//!   completed (a late completion).
//! - **A callback that says `notcompleted` of a `completed` (or `mismatch`) payment is
//!   upheld**: money LigdiCash confirmed is never turned back by a callback; the
//!   contradiction is counted and logged.
//! - **Evidence is bounded**: every callback that acted is kept raw; of the others, the
//!   first [`FIRST_KEPT`] of a payment, then one every [`TAIL_EVERY_MS`], and only the last
//!   [`LAST_KEPT`] of those. A flood of forged callbacks naming one payment costs a read,
//!   not a write. Of the callbacks naming no payment, [`UNMATCHED_SAMPLE`] per quarter hour
//!   are kept; every callback is counted by quarter hour (`callback_tally`).

use super::Status;
use crate::time::Millis;

/// The first callbacks of a payment that are always kept.
pub const FIRST_KEPT: i64 = 5;
/// After the first ones, the newest callbacks kept.
pub const LAST_KEPT: i64 = 5;
/// After the first ones, a callback that did nothing is kept only when the newest one kept
/// is older than this.
pub const TAIL_EVERY_MS: Millis = 60_000;

/// What a callback claims (`status`), as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    Completed,
    NotCompleted,
    /// Anything else, or nothing: evidence only.
    Other,
}

impl Said {
    /// From the callback's `status` field.
    pub fn parse(status: Option<&str>) -> Self {
        match status.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("completed") => Self::Completed,
            Some("notcompleted" | "nocompleted") => Self::NotCompleted,
            _ => Self::Other,
        }
    }
}

/// The payment a callback named, as read before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    pub status: Status,
    /// `next_poll_at` as a number (`None`: the shop's row has no schedule yet).
    pub next_poll_at: Option<Millis>,
    /// Whether the row is parked (a value of the wrong type, SQLite): only a correction
    /// makes it due, never a callback.
    pub parked: bool,
    pub recheck_at: Option<Millis>,
    /// When its last confirm was sent (or answered): LigdiCash's floor counts from it.
    pub last_confirm_at: Option<Millis>,
    /// Callbacks kept raw for it so far, and when the newest of them arrived.
    pub kept: i64,
    pub last_kept_at: Option<Millis>,
}

/// A callback against a final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contradiction {
    /// Said completed of a payment LigdiCash left unpaid: confirmed once more.
    Rechecked,
    /// Said notcompleted of a payment LigdiCash confirmed paid: never turned back.
    Upheld,
}

impl Contradiction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rechecked => "rechecked",
            Self::Upheld => "upheld",
        }
    }
}

/// What to do with one callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// When the payment may be confirmed next: now, or `min_interval` after its last
    /// confirm when that is later. A payment made due is due then, not sooner: a worker
    /// never waits on the floor with the payment in hand while others are due.
    pub due_at: Millis,
    /// Set `next_poll_at` to [`Plan::due_at`] (a compare-and-set on `pending`, not due
    /// by then already).
    pub make_due: bool,
    /// Set `recheck_at` to [`Plan::due_at`] (a compare-and-set on the status read, not
    /// due by then already).
    pub recheck: bool,
    pub contradiction: Option<Contradiction>,
    /// Keep the raw body (and then drop the oldest of the newest ones past [`LAST_KEPT`]).
    pub keep: bool,
}

impl Plan {
    /// Whether the callback changed what the reconciler does.
    pub fn acted(&self) -> bool {
        self.make_due || self.recheck
    }

    /// Whether carrying it out writes anything.
    pub fn writes(&self) -> bool {
        self.acted() || self.keep
    }
}

/// What one callback saying `said` does to `payment` at `now`, `min_interval` being
/// LigdiCash's floor between two confirms of one token; see the module docs.
pub fn plan(payment: &Named, said: Said, now: Millis, min_interval: Millis) -> Plan {
    let due_at = payment
        .last_confirm_at
        .map_or(now, |last| last.saturating_add(min_interval).max(now));
    let due_now = |at: Option<Millis>| at.is_some_and(|t| t <= due_at);
    let make_due =
        payment.status == Status::Pending && !payment.parked && !due_now(payment.next_poll_at);
    let contradiction = match (payment.status, said) {
        (Status::NotCompleted | Status::Timeout | Status::InvalidToken, Said::Completed) => {
            Some(Contradiction::Rechecked)
        }
        (Status::Completed | Status::Mismatch, Said::NotCompleted) => Some(Contradiction::Upheld),
        _ => None,
    };
    let recheck = contradiction == Some(Contradiction::Rechecked) && !due_now(payment.recheck_at);
    let quiet_tail_due = payment
        .last_kept_at
        .is_none_or(|at| now.saturating_sub(at) >= TAIL_EVERY_MS);
    let keep = make_due || recheck || payment.kept < FIRST_KEPT || quiet_tail_due;
    Plan {
        due_at,
        make_due,
        recheck,
        contradiction,
        keep,
    }
}

/// How many kept callbacks of a payment to delete after keeping one more, oldest of the
/// tail first (the first [`FIRST_KEPT`] stay).
pub fn excess_after_keeping(kept_before: i64) -> i64 {
    (kept_before + 1 - FIRST_KEPT - LAST_KEPT).max(0)
}

/// Callbacks naming no payment kept raw per tally bucket: a sample of a flood of forged
/// ones, enough to see what it was. Every one is counted in `callback_tally`.
pub const UNMATCHED_SAMPLE: i64 = 20;

/// How long the raw callbacks that matched no payment are kept (at most; the attempt log's
/// retention when shorter): a sample of forgeries, not evidence about a payment.
pub const UNMATCHED_RETENTION_MS: Millis = 7 * 86_400_000;

/// The tally bucket of a time: quarter hours since the epoch, so a day in any time zone
/// (offsets are multiples of 15 minutes) is a whole number of buckets.
pub fn bucket_of(at: Millis) -> i64 {
    at.div_euclid(BUCKET_MS)
}

/// The length of a tally bucket.
pub const BUCKET_MS: Millis = 15 * 60 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_000_000;
    const FLOOR: Millis = 3_000;

    fn pending(next_poll_at: Option<Millis>) -> Named {
        Named {
            status: Status::Pending,
            next_poll_at,
            parked: false,
            recheck_at: None,
            last_confirm_at: None,
            kept: 0,
            last_kept_at: None,
        }
    }

    fn with(status: Status) -> Named {
        Named {
            status,
            ..pending(None)
        }
    }

    #[test]
    fn a_pending_payment_is_made_due_unless_it_is_due_already() {
        let later = plan(&pending(Some(NOW + 30_000)), Said::Completed, NOW, FLOOR);
        assert!(later.make_due && later.keep && later.acted());
        assert!(
            plan(&pending(None), Said::Other, NOW, FLOOR).make_due,
            "no schedule yet"
        );
        // A forged callback made it due; the genuine one arriving before that confirm is
        // sent folds into it...
        let folded = plan(&pending(Some(NOW - 5)), Said::Completed, NOW, FLOOR);
        assert!(!folded.make_due && !folded.acted());
        // ...and once that confirm is answered and rescheduled, the next one acts again.
        assert!(plan(&pending(Some(NOW + 9_000)), Said::Completed, NOW, FLOOR).make_due);
        let parked = Named {
            parked: true,
            ..pending(Some(NOW + 9_000))
        };
        assert!(!plan(&parked, Said::Completed, NOW, FLOOR).make_due);
    }

    #[test]
    fn completed_said_of_an_unpaid_final_status_is_rechecked_once() {
        for status in [Status::NotCompleted, Status::Timeout, Status::InvalidToken] {
            let p = plan(&with(status), Said::Completed, NOW, FLOOR);
            assert_eq!(
                p.contradiction,
                Some(Contradiction::Rechecked),
                "{status:?}"
            );
            assert!(p.recheck && !p.make_due && p.keep, "{status:?}");
            let queued = Named {
                recheck_at: Some(NOW - 1),
                ..with(status)
            };
            let again = plan(&queued, Said::Completed, NOW, FLOOR);
            assert!(!again.recheck, "already due: one confirm for both copies");
            assert_eq!(again.contradiction, Some(Contradiction::Rechecked));
        }
        assert_eq!(
            plan(&with(Status::NotCompleted), Said::NotCompleted, NOW, FLOOR),
            Plan {
                due_at: NOW,
                keep: true,
                ..Plan::default()
            }
        );
    }

    /// A payment confirmed a moment ago is made due when LigdiCash's floor allows, not
    /// sooner; a copy arriving meanwhile folds into that time.
    #[test]
    fn a_payment_is_made_due_no_sooner_than_the_floor_after_its_last_confirm() {
        let confirmed = |next_poll_at| Named {
            last_confirm_at: Some(NOW - 1_000),
            ..pending(Some(next_poll_at))
        };
        let p = plan(&confirmed(NOW + 3_600_000), Said::Completed, NOW, FLOOR);
        assert!(p.make_due);
        assert_eq!(p.due_at, NOW - 1_000 + FLOOR);
        let copy = plan(&confirmed(p.due_at), Said::Completed, NOW + 5, FLOOR);
        assert!(!copy.make_due, "folded into the confirm due then");
        let long_ago = Named {
            last_confirm_at: Some(NOW - 60_000),
            ..pending(Some(NOW + 3_600_000))
        };
        assert_eq!(plan(&long_ago, Said::Completed, NOW, FLOOR).due_at, NOW);
        let final_one = Named {
            last_confirm_at: Some(NOW - 500),
            ..with(Status::NotCompleted)
        };
        let recheck = plan(&final_one, Said::Completed, NOW, FLOOR);
        assert!(recheck.recheck);
        assert_eq!(recheck.due_at, NOW - 500 + FLOOR);
    }

    #[test]
    fn a_confirmed_payment_is_never_turned_back_only_the_contradiction_is_noted() {
        for status in [Status::Completed, Status::Mismatch] {
            let p = plan(&with(status), Said::NotCompleted, NOW, FLOOR);
            assert_eq!(p.contradiction, Some(Contradiction::Upheld));
            assert!(!p.acted(), "{status:?}");
        }
        assert_eq!(
            plan(&with(Status::Completed), Said::Completed, NOW, FLOOR).contradiction,
            None
        );
    }

    #[test]
    fn evidence_keeps_the_first_then_one_a_minute_of_what_did_nothing() {
        let flooded = |kept, last_kept_at| Named {
            kept,
            last_kept_at,
            ..pending(Some(NOW - 1))
        };
        assert!(plan(&flooded(4, Some(NOW - 10)), Said::Completed, NOW, FLOOR).keep);
        assert!(!plan(&flooded(5, Some(NOW - 10)), Said::Completed, NOW, FLOOR).keep);
        assert!(
            plan(
                &flooded(5, Some(NOW - TAIL_EVERY_MS)),
                Said::Completed,
                NOW,
                FLOOR
            )
            .keep
        );
        // What acts is always kept: the reason a confirm was made.
        let acting = Named {
            kept: 50,
            last_kept_at: Some(NOW - 10),
            ..pending(Some(NOW + 1))
        };
        assert!(plan(&acting, Said::Other, NOW, FLOOR).keep);
        assert_eq!(
            (0..=12).map(excess_after_keeping).collect::<Vec<_>>(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]
        );
    }

    /// A copy that neither acts nor is kept writes nothing: a flood of them costs a read
    /// each, not a write (`writes` is what tells the store).
    #[test]
    fn only_a_callback_that_acts_or_is_kept_writes() {
        let flooded = Named {
            kept: 5,
            last_kept_at: Some(NOW - 10),
            ..pending(Some(NOW - 1))
        };
        let quiet = plan(&flooded, Said::Completed, NOW, FLOOR);
        assert!(!quiet.acted() && !quiet.keep && !quiet.writes());
        let kept = plan(&Named { kept: 0, ..flooded }, Said::Completed, NOW, FLOOR);
        assert!(!kept.acted() && kept.keep && kept.writes());
        let acting = plan(&pending(None), Said::Other, NOW, FLOOR);
        assert!(acting.acted() && acting.writes());
    }

    /// The names `/metrics` shows (`callback_contradictions_total`'s `result` label, which
    /// dashboards and alert rules may match).
    #[test]
    fn a_contradiction_is_named_as_documented() {
        assert_eq!(Contradiction::Rechecked.as_str(), "rechecked");
        assert_eq!(Contradiction::Upheld.as_str(), "upheld");
    }

    #[test]
    fn what_a_callback_says_is_read_leniently() {
        assert_eq!(Said::parse(Some(" Completed ")), Said::Completed);
        assert_eq!(
            Said::parse(Some("nocompleted")),
            Said::NotCompleted,
            "the JS SDK's"
        );
        assert_eq!(Said::parse(Some("pending")), Said::Other);
        assert_eq!(Said::parse(None), Said::Other);
    }

    /// Samples of callbacks that matched nothing are kept for 7 days, as operators are told
    /// (CHANGELOG): a sample of forgeries, not evidence about a payment.
    #[test]
    fn callbacks_naming_no_payment_are_kept_a_week() {
        assert_eq!(
            std::time::Duration::from_millis(UNMATCHED_RETENTION_MS as u64),
            std::time::Duration::from_secs(7 * 24 * 3600)
        );
    }

    #[test]
    fn a_day_in_any_time_zone_is_whole_buckets() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(BUCKET_MS - 1), 0);
        assert_eq!(bucket_of(-1), -1);
        // 00:00 at UTC+05:45 (Nepal) is a bucket boundary.
        assert_eq!((86_400_000 - (5 * 60 + 45) * 60_000) % BUCKET_MS, 0);
    }
}
