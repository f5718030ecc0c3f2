//! Pure policy: given a due payment and the classified answer, what changes?
//!
//! The rules, each unit-tested below:
//! - `completed` is verified against what the shop enqueued ([`super::verify`]); any
//!   difference, or an amount that cannot be read, is `mismatch`.
//! - `pending` (or an unknown status) past `give_up_after` becomes `timeout`; only a real
//!   answer from LigdiCash can cause that, never an outage.
//! - A payout (or withdrawal) is never given up: it follows `[payouts]`' schedule, and
//!   once pending past `overdue_after` it is marked overdue, once, while it stays pending.
//! - `Code02` (invoice not found) three times in a row makes the token `invalid_token`.
//! - Credentials refused: the payment is untouched and no attempt is counted.
//! - Anything transient: try again later on the backoff schedule, honouring `Retry-After`.
//! - Every reschedule also says when to poll instead if a LigdiCash callback came in while
//!   this call was in flight (`callback_poll_at`): `min_interval` after the answer, or
//!   `Retry-After` if longer; the store applies it only when such a callback exists.
//! - A final payment looked at again (the nightly re-check of a `timeout`, or a
//!   `notcompleted`, `timeout` or `invalid_token` a callback said was completed) changes
//!   only on a final answer that differs: completed (verified: a late completion, "completed
//!   after notcompleted", or `mismatch`), or notcompleted for a timeout or invalid token.
//!   A re-check LigdiCash did not answer is tried again a minute later.

use super::schedule::Schedule;
use super::verify::verify;
use crate::config::duration::format_duration;
use crate::config::{PayoutsConfig, PollConfig};
use crate::ligdicash::Classified;
use crate::payment::{Change, DuePayment, Kind, Status};
use crate::time::{Millis, ms};

/// Consecutive "invoice not found" answers before a token is declared invalid.
pub const NOT_FOUND_LIMIT: i64 = 3;

/// How long after a re-check LigdiCash did not answer (an outage, refused credentials) it
/// is tried again.
pub const RECHECK_RETRY_MS: Millis = 60_000;

/// The decision parameters.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Invoices' backoff (`[poll]`).
    pub schedule: Schedule,
    pub give_up_after_ms: Millis,
    /// Payouts' backoff (`[payouts]`).
    pub payouts: Schedule,
    pub overdue_after_ms: Millis,
}

impl Policy {
    pub fn from_config(p: &PollConfig, o: &PayoutsConfig) -> Self {
        Self {
            schedule: Schedule::from_config(p),
            give_up_after_ms: ms(p.give_up_after.0),
            payouts: Schedule::for_payouts(o, p),
            overdue_after_ms: ms(o.overdue_after.0),
        }
    }

    /// The backoff a payment of `kind` follows.
    pub fn schedule_of(&self, kind: Kind) -> &Schedule {
        if kind.is_money_out() {
            &self.payouts
        } else {
            &self.schedule
        }
    }
}

/// The change to write, and the error text to keep in `last_error` and the attempt log.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub change: Change,
    pub error: Option<String>,
}

/// Decides what one classified confirm means for payment `p`. `now` is when the answer
/// arrived; `unit` is a uniform sample in `[0, 1)` for jitter.
pub fn decide(policy: &Policy, p: &DuePayment, c: &Classified, now: Millis, unit: f64) -> Decision {
    if p.status != Status::Pending {
        return recheck(p, c, now);
    }
    let attempts = p.attempts + 1;
    let schedule = policy.schedule_of(p.kind);
    let money_out = p.kind.is_money_out();
    let overdue =
        money_out && !p.overdue && now >= p.window_start.saturating_add(policy.overdue_after_ms);
    let later = |extra_ms: Millis, streak: i64, error: Option<String>| Decision {
        change: Change::Reschedule {
            // Saturating: no schedule or Retry-After may wrap a poll time negative.
            next_poll_at: now.saturating_add(ms(schedule.delay(attempts, unit)).max(extra_ms)),
            callback_poll_at: now.saturating_add(ms(schedule.min_interval).max(extra_ms)),
            count_attempt: true,
            not_found_streak: streak,
            overdue,
        },
        error,
    };
    match c {
        Classified::Completed(answer) => match verify(p, answer) {
            Ok(()) => finalize(Status::Completed, None),
            Err(reason) => finalize(Status::Mismatch, Some(reason)),
        },
        Classified::NotCompleted(_) => finalize(Status::NotCompleted, None),
        Classified::Pending { unknown_status, .. } => {
            let note = unknown_status
                .as_ref()
                .map(|s| format!("unknown status {s:?} treated as pending"));
            // A payout is never given up: it is the shop's money, and one retried because it
            // looked lost can pay twice.
            if !money_out && now >= p.window_start.saturating_add(policy.give_up_after_ms) {
                let age = now.saturating_sub(p.window_start).max(0) as u64 / 1000;
                let age = format_duration(std::time::Duration::from_secs(age));
                let reason = format!("still pending at LigdiCash after {age}");
                finalize(
                    Status::Timeout,
                    Some(note.map_or(reason.clone(), |n| format!("{reason}; {n}"))),
                )
            } else {
                later(0, 0, note)
            }
        }
        Classified::NotFound => {
            let streak = p.not_found_streak + 1;
            if streak >= NOT_FOUND_LIMIT {
                let reason = format!(
                    "LigdiCash answered invoice not found (Code02) {streak} times in a row"
                );
                finalize(Status::InvalidToken, Some(reason))
            } else {
                later(0, streak, c.failure())
            }
        }
        Classified::AuthFailed { .. } => Decision {
            change: Change::Untouched,
            error: c.failure(),
        },
        Classified::Transient { retry_after, .. } => {
            let wait = retry_after.map_or(0, ms);
            later(wait, p.not_found_streak, c.failure())
        }
    }
}

fn finalize(status: Status, reason: Option<String>) -> Decision {
    Decision {
        change: Change::Finalize { status, reason },
        error: None,
    }
}

/// A final payment confirmed again: a `timeout` by the nightly re-check, or one a callback
/// contradicted. Only a final answer that differs changes it (a late completion, verified
/// as always); anything else leaves it as it is, with the answer recorded. A re-check that
/// got no answer from LigdiCash is tried again after [`RECHECK_RETRY_MS`] (or the
/// `Retry-After` LigdiCash asked for, if longer).
fn recheck(p: &DuePayment, c: &Classified, now: Millis) -> Decision {
    // A status LigdiCash gave is named in the reason of the one that replaces it.
    let after = |reason: Option<String>| match p.status {
        Status::Timeout => reason,
        was => Some(match reason {
            Some(reason) => format!("{reason}; completed after {}", was.as_str()),
            None => format!("completed after {}", was.as_str()),
        }),
    };
    let done = |error: Option<String>| Decision {
        change: Change::Recheck { again_at: None },
        error,
    };
    match c {
        Classified::Completed(answer) => match verify(p, answer) {
            Ok(()) => finalize(Status::Completed, after(None)),
            Err(reason) => finalize(Status::Mismatch, after(Some(format!("late: {reason}")))),
        },
        // LigdiCash upholds its verdict: nothing changes.
        Classified::NotCompleted(_) if p.status == Status::NotCompleted => done(None),
        Classified::NotCompleted(_) => finalize(
            Status::NotCompleted,
            Some("re-check: LigdiCash says notcompleted".to_owned()),
        ),
        Classified::Pending { .. } | Classified::NotFound => done(c.failure()),
        Classified::AuthFailed { .. } => Decision {
            change: Change::Recheck {
                again_at: Some(now.saturating_add(RECHECK_RETRY_MS)),
            },
            error: c.failure(),
        },
        Classified::Transient { retry_after, .. } => Decision {
            change: Change::Recheck {
                again_at: Some(now.saturating_add(RECHECK_RETRY_MS.max(retry_after.map_or(0, ms)))),
            },
            error: c.failure(),
        },
    }
}

#[cfg(test)]
mod payout_tests;
#[cfg(test)]
mod recheck_tests;
#[cfg(test)]
mod tests;
