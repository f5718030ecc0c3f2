//! The payments that need a human, by kind, each with what to do about it.

use super::Line;
use crate::store::{DayFacts, PaymentFact};
use crate::time::Millis;
use chrono_tz::Tz;
use serde::Serialize;

/// A pending payment needs a human once it is older than this at the end of the day.
const PENDING_TOO_LONG_MS: Millis = 86_400_000;

/// The tables of discrepancies, in the order the report shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscrepancyKind {
    Mismatch,
    LateCompletion,
    Timeout,
    InvalidToken,
    PendingOver24h,
    /// A callback of the day said otherwise than the status LigdiCash's confirm gave, and
    /// the status stands.
    Contradicted,
    /// The shop wrote `expected_amount` as something other than a whole number of XOF
    /// (`'5 000'`): a pending one cannot be confirmed until corrected.
    UnreadableAmount,
}

impl DiscrepancyKind {
    pub const ALL: [Self; 7] = [
        Self::Mismatch,
        Self::LateCompletion,
        Self::Timeout,
        Self::InvalidToken,
        Self::PendingOver24h,
        Self::Contradicted,
        Self::UnreadableAmount,
    ];

    /// The JSON's name for it (`to_handle.rows[].issue`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Mismatch => "mismatch",
            Self::LateCompletion => "late_completion",
            Self::Timeout => "timeout",
            Self::InvalidToken => "invalid_token",
            Self::PendingOver24h => "pending_over_24h",
            Self::Contradicted => "contradicted",
            Self::UnreadableAmount => "unreadable_amount",
        }
    }

    /// What a person should do, in English (the JSON's `action`; the HTML translates it).
    pub fn action(self) -> &'static str {
        match self {
            Self::Mismatch => "check the amount or order with LigdiCash support before fulfilling",
            Self::LateCompletion => "money received after the order was given up: fulfil or refund",
            Self::Timeout => {
                "re-checked after each nightly report; cancel the order or ask the customer"
            }
            Self::InvalidToken => {
                "the shop stored a token LigdiCash does not know: check the integration"
            }
            Self::PendingOver24h => {
                "still pending at LigdiCash after a day: ask the customer or LigdiCash"
            }
            Self::Contradicted => {
                "LigdiCash's confirm stands; ask LigdiCash support which is right before refunding or fulfilling"
            }
            Self::UnreadableAmount => {
                "the shop wrote expected_amount as something other than a whole number of XOF: correct the row (a pending one is confirmed once corrected)"
            }
        }
    }
}

/// A row of a discrepancy table: the payment and the action a person should take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discrepancy {
    #[serde(flatten)]
    pub payment: Line,
    pub action: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discrepancies {
    pub mismatches: Vec<Discrepancy>,
    pub late_completions: Vec<Discrepancy>,
    pub timeouts: Vec<Discrepancy>,
    pub invalid_tokens: Vec<Discrepancy>,
    pub pending_over_24h: Vec<Discrepancy>,
    pub contradictions: Vec<Discrepancy>,
    /// Payments of the day (resolved or pending at its end) whose `expected_amount` is not
    /// a whole number: shown as written.
    pub unreadable_amounts: Vec<Discrepancy>,
}

impl Discrepancies {
    /// The rows of one kind.
    pub fn of(&self, kind: DiscrepancyKind) -> &[Discrepancy] {
        match kind {
            DiscrepancyKind::Mismatch => &self.mismatches,
            DiscrepancyKind::LateCompletion => &self.late_completions,
            DiscrepancyKind::Timeout => &self.timeouts,
            DiscrepancyKind::InvalidToken => &self.invalid_tokens,
            DiscrepancyKind::PendingOver24h => &self.pending_over_24h,
            DiscrepancyKind::Contradicted => &self.contradictions,
            DiscrepancyKind::UnreadableAmount => &self.unreadable_amounts,
        }
    }
}

/// The day's discrepancies; pending payments are aged at `as_of` (the end of the day, or
/// now on a day not over).
pub(super) fn find(f: &DayFacts, as_of: Millis, tz: Tz) -> Discrepancies {
    let rows = |kind: DiscrepancyKind, payments: &mut dyn Iterator<Item = &PaymentFact>| {
        payments
            .map(|p| Discrepancy {
                payment: Line::of(p, tz),
                action: kind.action(),
            })
            .collect::<Vec<_>>()
    };
    let with_status = |s: &'static str| f.resolved.iter().filter(move |p| p.status == s);
    Discrepancies {
        mismatches: rows(DiscrepancyKind::Mismatch, &mut with_status("mismatch")),
        late_completions: rows(
            DiscrepancyKind::LateCompletion,
            &mut f
                .resolved
                .iter()
                .filter(|p| f.late_completed.contains(&p.token)),
        ),
        timeouts: rows(DiscrepancyKind::Timeout, &mut with_status("timeout")),
        invalid_tokens: rows(
            DiscrepancyKind::InvalidToken,
            &mut with_status("invalid_token"),
        ),
        pending_over_24h: rows(
            DiscrepancyKind::PendingOver24h,
            &mut f
                .pending_at_end
                .iter()
                .filter(|p| as_of - p.created_at > PENDING_TOO_LONG_MS),
        ),
        contradictions: rows(DiscrepancyKind::Contradicted, &mut f.contradicted.iter()),
        unreadable_amounts: rows(
            DiscrepancyKind::UnreadableAmount,
            &mut f
                .resolved
                .iter()
                .chain(&f.pending_at_end)
                .filter(|p| p.expected_as_written.is_some()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each table tells a person what to do about its own kind (the JSON's `action`) and
    /// has its own name: no action or key is empty or shared by two kinds.
    #[test]
    fn every_kind_of_discrepancy_says_its_own_action() {
        let actions: std::collections::BTreeSet<&str> =
            DiscrepancyKind::ALL.iter().map(|k| k.action()).collect();
        assert_eq!(actions.len(), DiscrepancyKind::ALL.len(), "{actions:?}");
        assert!(actions.iter().all(|a| !a.trim().is_empty()));
        let keys: std::collections::BTreeSet<&str> =
            DiscrepancyKind::ALL.iter().map(|k| k.key()).collect();
        assert_eq!(keys.len(), DiscrepancyKind::ALL.len(), "{keys:?}");
    }
}
