//! Pure policy of the case sweep: which case a payment needs now ([`needed`]), and what to
//! do about the case it has open ([`step`]). The store reads what the sweep looks at
//! ([`Seen`]) and carries out the [`Step`]; the rules are here, once, for both databases.
//!
//! A case is of a kind and starts at a time ([`Need::since`]: the payment's final status,
//! its overdue mark, the start of its pending window), so the same need never opens twice:
//! a case a person closed stays closed while the payment stays as it was, and a new need
//! (the payment requeued and given up again) opens a new case.

use super::{CaseKind, closes_on, opens_on};
use crate::payment::{Kind, Status};
use crate::time::Millis;

/// A payment as the case sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub kind: Kind,
    pub status: Status,
    /// The start of its pending window: `created_at`, or `requeued_at` when later.
    pub window_start: Millis,
    pub resolved_at: Option<Millis>,
    /// When a payout still pending was marked overdue.
    pub overdue_at: Option<Millis>,
    /// A confirm asked for by a callback that contradicted the final status is still to
    /// come (`recheck_at`): the contradiction does not stand yet.
    pub recheck_pending: bool,
    /// A callback received since its final status said `completed`.
    pub said_completed: bool,
    /// A callback received since its final status said `notcompleted`.
    pub said_notcompleted: bool,
}

/// A case a payment needs: its kind, and when the payment began to need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Need {
    pub kind: CaseKind,
    pub since: Millis,
}

/// An open case, as the sweep compares it with what its payment needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub kind: CaseKind,
    pub since: Millis,
    /// The payment's status when the case opened.
    pub status: Status,
}

/// What the sweep does about one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing: its case (or its lack of one) is right.
    Keep,
    Open(Need),
    /// The open case closes by itself, with why.
    Close(String),
    /// The open case closes by itself (with why) and the case the payment needs now opens.
    Replace(String, Need),
}

/// The case `seen` needs at `now`, if any; a payment pending longer than `pending_after`
/// needs one (invoices; a payout's is its overdue mark, `[payouts] overdue_after`).
pub fn needed(seen: &Seen, now: Millis, pending_after: Millis) -> Option<Need> {
    let need = |kind, since| Some(Need { kind, since });
    if seen.status == Status::Pending {
        return match (seen.kind.is_money_out(), seen.overdue_at) {
            (true, Some(at)) => need(CaseKind::OverduePayout, at),
            (true, None) => None,
            (false, _) if now.saturating_sub(seen.window_start) >= pending_after => {
                need(CaseKind::PendingTooLong, seen.window_start)
            }
            (false, _) => None,
        };
    }
    // A row the shop wrote final by hand has no resolution time: its window's start stands in.
    let since = seen.resolved_at.unwrap_or(seen.window_start);
    if let Some(kind) = opens_on(seen.status) {
        return need(kind, since);
    }
    // The callback policy's two contradictions (`payment::callback`): `completed` said of an
    // unpaid status stands once the re-check it asked for upheld the status; `notcompleted`
    // said of money LigdiCash confirmed stands at once (never turned back).
    let contradicted = match seen.status {
        Status::NotCompleted => seen.said_completed && !seen.recheck_pending,
        Status::Completed => seen.said_notcompleted,
        _ => false,
    };
    contradicted.then_some(Need {
        kind: CaseKind::Contradicted,
        since,
    })
}

/// What to do about a payment in `status` that has `open` (or no open case) and needs
/// `need` now; `had` says whether a case for a need was opened before (then it is not
/// opened again: a person may have closed it).
pub fn step(
    open: Option<Open>,
    status: Status,
    need: Option<Need>,
    had: impl Fn(&Need) -> bool,
) -> Step {
    let need = need.filter(|n| {
        let is_open = open.is_some_and(|o| o.kind == n.kind && o.since == n.since);
        is_open || !had(n)
    });
    let Some(open) = open else {
        return need.map_or(Step::Keep, Step::Open);
    };
    match need {
        Some(n) if n.kind == open.kind && n.since == open.since => Step::Keep,
        Some(n) => {
            let reason = closes_on(open.kind, open.status, status).map_or_else(
                || format!("replaced by a {} case", n.kind.as_str()),
                str::to_owned,
            );
            Step::Replace(reason, n)
        }
        None => closes_on(open.kind, open.status, status)
            .map_or(Step::Keep, |reason| Step::Close(reason.to_owned())),
    }
}

#[cfg(test)]
#[path = "need_tests.rs"]
mod tests;
