//! Pure: the report's money-out section, from the day's payouts (withdrawals and straight
//! payouts): what left, what failed, what is still open and what needs a human, and the
//! net line (received minus paid out).
//!
//! Only a verified completion counts as paid out, as only one counts as received: a
//! `mismatch` (LigdiCash says sent, with another amount or order reference) is listed for a
//! human, who must find out what left before anything is sent again.

use crate::store::{PayoutFact, PayoutFacts};
use serde::Serialize;
use std::collections::BTreeMap;

pub use super::figures::Amount;

/// The count and XOF of these payouts.
fn amount_of<'a>(facts: impl Iterator<Item = &'a PayoutFact>) -> Amount {
    facts.fold(Amount::default(), |a, p| Amount {
        count: a.count + 1,
        xof: a.xof + p.xof(),
    })
}

/// A payout a person must look at, with what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayoutRow {
    pub token: String,
    pub kind: String,
    pub transaction_id: Option<String>,
    pub expected_amount: Option<i64>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    /// Age at the end of the day.
    pub age_secs: i64,
    pub action: &'static str,
}

/// The money-out section of one day's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MoneyOut {
    /// Payouts LigdiCash confirmed during the day, as enqueued: the money that left.
    pub completed: Amount,
    /// `completed` per kind (`payout`, `withdrawal`).
    pub completed_by_kind: BTreeMap<String, Amount>,
    /// Payouts that failed at LigdiCash during the day (`notcompleted`): nothing left.
    pub failed: Amount,
    /// Payouts created before the day ended and not settled by then.
    pub pending: Amount,
    /// Of those, the ones pending past `overdue_after`: they need a human.
    pub overdue: Vec<PayoutRow>,
    /// Completed at LigdiCash with another amount or order reference.
    pub mismatches: Vec<PayoutRow>,
    /// Tokens LigdiCash does not know at the payout endpoints.
    pub invalid_tokens: Vec<PayoutRow>,
    /// The total of `completed`.
    pub paid_out_xof: i64,
    /// The day's received XOF minus `paid_out_xof`.
    pub net_xof: i64,
}

impl MoneyOut {
    /// Rows that need a human.
    pub fn needing_a_human(&self) -> usize {
        self.overdue.len() + self.mismatches.len() + self.invalid_tokens.len()
    }
}

fn row(p: &PayoutFact, end: i64, action: &'static str) -> PayoutRow {
    PayoutRow {
        token: p.token.clone(),
        kind: p.kind.clone(),
        transaction_id: p.transaction_id.clone(),
        expected_amount: p.expected_amount,
        amount: p.amount,
        reason: p.status_reason.clone(),
        age_secs: (end - p.created_at).max(0) / 1000,
        action,
    }
}

/// The section for a day ending at `end` (milliseconds) whose invoices brought in
/// `received_xof`.
pub fn summarise(f: &PayoutFacts, end: i64, received_xof: i64) -> MoneyOut {
    let with_status = |s: &'static str| f.resolved.iter().filter(move |p| p.status == s);
    let completed = amount_of(with_status("completed"));
    let mut completed_by_kind: BTreeMap<String, Amount> = BTreeMap::new();
    for p in with_status("completed") {
        let a = completed_by_kind.entry(p.kind.clone()).or_default();
        *a = Amount {
            count: a.count + 1,
            xof: a.xof + p.xof(),
        };
    }
    MoneyOut {
        completed,
        completed_by_kind,
        failed: amount_of(with_status("notcompleted")),
        pending: amount_of(f.pending_at_end.iter()),
        overdue: f
            .pending_at_end
            .iter()
            .filter(|p| p.overdue_at.is_some_and(|at| at < end))
            .map(|p| row(p, end, "still pending at LigdiCash past overdue_after: ask LigdiCash support; do not send it again"))
            .collect(),
        mismatches: with_status("mismatch")
            .map(|p| row(p, end, "LigdiCash says sent, but not as asked: check with LigdiCash support what left before sending again"))
            .collect(),
        invalid_tokens: with_status("invalid_token")
            .map(|p| row(p, end, "LigdiCash does not know this payout token: check the integration (the kind given at enqueue)"))
            .collect(),
        paid_out_xof: completed.xof,
        net_xof: received_xof.saturating_sub(completed.xof),
    }
}

#[cfg(test)]
mod tests;
