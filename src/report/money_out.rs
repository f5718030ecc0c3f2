//! Pure: the report's money-out section, from the day's payouts (withdrawals and straight
//! payouts): what left, what failed, what is still open and what needs a person.
//!
//! Money out is counted as LigdiCash's statement counts it, as money in is: what LigdiCash
//! says left. A `mismatch` (LigdiCash says sent, but with another amount or order
//! reference) left at the amount LigdiCash reports; it counts as sent, "to be checked",
//! and is also listed for a person, who must find out what left before anything is sent
//! again. Leaving it out would make the day's net disagree with the statement with nothing
//! saying why.

use super::figures::{LocalTime, operator_key};
use crate::store::{PayoutFact, PayoutFacts};
use crate::time::Millis;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

pub use super::figures::Amount;

/// The statuses on which money left at LigdiCash.
const MONEY_LEFT: [&str; 2] = ["completed", "mismatch"];

/// What LigdiCash says left for this payout: on a `completed` or `mismatch`, the amount
/// LigdiCash reports, else (none stated) what was asked. `None` where nothing left.
pub fn sent_xof(p: &PayoutFact) -> Option<i64> {
    MONEY_LEFT
        .contains(&p.status.as_str())
        .then(|| p.amount.or(p.expected_amount))
        .flatten()
}

/// A count of payouts and what the shop asked for them: on these, nothing left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Asked {
    pub count: i64,
    pub expected_xof: i64,
}

/// Why a payout needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutIssue {
    /// Still pending at LigdiCash past `[payouts] overdue_after`.
    Overdue,
    /// LigdiCash says sent, but not as asked.
    Mismatch,
    /// LigdiCash does not know the token at the payout endpoints.
    InvalidToken,
    /// The shop wrote `expected_amount` as something other than a whole number of XOF.
    UnreadableAmount,
}

impl PayoutIssue {
    pub const ALL: [Self; 4] = [
        Self::Overdue,
        Self::Mismatch,
        Self::InvalidToken,
        Self::UnreadableAmount,
    ];

    /// The JSON's name for it (`to_handle.rows[].issue`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::Mismatch => "mismatch",
            Self::InvalidToken => "invalid_token",
            Self::UnreadableAmount => "unreadable_amount",
        }
    }

    /// What a person should do, in English (the JSON's `action`; the page translates it).
    pub fn action(self) -> &'static str {
        match self {
            Self::Overdue => {
                "still pending at LigdiCash past overdue_after: ask LigdiCash support; do not send it again"
            }
            Self::Mismatch => {
                "LigdiCash says sent, but not as asked: check with LigdiCash support what left before sending again"
            }
            Self::InvalidToken => {
                "LigdiCash does not know this payout token: check the integration (the kind given at enqueue)"
            }
            Self::UnreadableAmount => {
                "the shop wrote expected_amount as something other than a whole number of XOF: correct the row"
            }
        }
    }
}

/// A payout as the report lists it. Amounts are named as the invoices' are:
/// `expected_xof` what the shop asked, `paid_xof` what LigdiCash says left (only where
/// money left), `expected_as_written` the shop's value where it is not a whole number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayoutRow {
    pub token: String,
    pub kind: String,
    pub transaction_id: Option<String>,
    pub status: String,
    pub operator: Option<String>,
    pub expected_xof: Option<i64>,
    pub expected_as_written: Option<String>,
    pub paid_xof: Option<i64>,
    pub reason: Option<String>,
    pub created_at: LocalTime,
    pub resolved_at: Option<LocalTime>,
    /// Age at the end of the day.
    pub age_secs: i64,
    pub action: &'static str,
}

/// What left through one operator's sub-account. `operator` is `None` when LigdiCash named
/// none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorSent {
    pub operator: Option<String>,
    pub sent: Amount,
}

/// The money-out section of one day's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MoneyOut {
    /// Sent as asked (`completed`).
    pub completed: Amount,
    /// LigdiCash says sent, not as asked (`mismatch`), at the amount it reports: sent, to
    /// be checked.
    pub sent_to_check: Amount,
    /// `completed` + `sent_to_check`: what left, as LigdiCash's statement shows it.
    pub sent: Amount,
    /// `sent` per kind (`payout`, `withdrawal`).
    pub sent_by_kind: BTreeMap<String, Amount>,
    /// `sent` per operator (named ones alphabetically, then the unnamed).
    pub by_operator: Vec<OperatorSent>,
    /// Failed at LigdiCash during the day (`notcompleted`): nothing left.
    pub failed: Asked,
    /// Created before the day ended and not settled by then.
    pub pending: Asked,
    /// Of those, the ones pending past `overdue_after`.
    pub overdue: Vec<PayoutRow>,
    /// Sent, to be checked (the rows of `sent_to_check`).
    pub mismatches: Vec<PayoutRow>,
    pub invalid_tokens: Vec<PayoutRow>,
    /// Payouts of the day (resolved or pending) whose `expected_amount` is not a whole
    /// number: shown as written.
    pub unreadable_amounts: Vec<PayoutRow>,
}

impl MoneyOut {
    /// The rows of one issue.
    pub fn of(&self, issue: PayoutIssue) -> &[PayoutRow] {
        match issue {
            PayoutIssue::Overdue => &self.overdue,
            PayoutIssue::Mismatch => &self.mismatches,
            PayoutIssue::InvalidToken => &self.invalid_tokens,
            PayoutIssue::UnreadableAmount => &self.unreadable_amounts,
        }
    }
}

fn row(p: &PayoutFact, end: Millis, tz: Tz, issue: PayoutIssue) -> PayoutRow {
    PayoutRow {
        token: p.token.clone(),
        kind: p.kind.clone(),
        transaction_id: p.transaction_id.clone(),
        status: p.status.clone(),
        operator: p.operator_name.clone(),
        expected_xof: p.expected_amount,
        expected_as_written: p.expected_as_written.clone(),
        paid_xof: sent_xof(p),
        reason: p.status_reason.clone(),
        created_at: LocalTime {
            at: p.created_at,
            tz,
        },
        resolved_at: p.resolved_at.map(|at| LocalTime { at, tz }),
        age_secs: (end - p.created_at).max(0) / 1000,
        action: issue.action(),
    }
}

fn add(a: &mut Amount, xof: Option<i64>) {
    a.count += 1;
    a.xof += xof.unwrap_or(0);
}

fn asked<'a>(facts: impl Iterator<Item = &'a PayoutFact>) -> Asked {
    facts.fold(Asked::default(), |a, p| Asked {
        count: a.count + 1,
        expected_xof: a.expected_xof + p.expected_amount.unwrap_or(0),
    })
}

/// The section for a day ending at `end` (milliseconds; now, on a day not over), its
/// times shown in `tz`.
pub fn summarise(f: &PayoutFacts, end: Millis, tz: Tz) -> MoneyOut {
    let mut m = MoneyOut::default();
    let mut named: BTreeMap<&str, Amount> = BTreeMap::new();
    let mut unnamed: Option<Amount> = None;
    let left = f
        .resolved
        .iter()
        .filter(|p| MONEY_LEFT.contains(&p.status.as_str()));
    for p in left {
        let sent = sent_xof(p);
        match p.status.as_str() {
            "completed" => add(&mut m.completed, sent),
            _ => add(&mut m.sent_to_check, sent),
        }
        add(&mut m.sent, sent);
        add(m.sent_by_kind.entry(p.kind.clone()).or_default(), sent);
        match operator_key(p.operator_name.as_deref()) {
            Some(name) => add(named.entry(name).or_default(), sent),
            None => add(unnamed.get_or_insert_default(), sent),
        }
    }
    m.by_operator = named
        .into_iter()
        .map(|(name, sent)| OperatorSent {
            operator: Some(name.to_owned()),
            sent,
        })
        .chain(unnamed.map(|sent| OperatorSent {
            operator: None,
            sent,
        }))
        .collect();
    let with_status = |s: &'static str| f.resolved.iter().filter(move |p| p.status == s);
    let rows = |issue, facts: &mut dyn Iterator<Item = &PayoutFact>| {
        facts.map(|p| row(p, end, tz, issue)).collect::<Vec<_>>()
    };
    m.failed = asked(with_status("notcompleted"));
    m.pending = asked(f.pending_at_end.iter());
    m.overdue = rows(
        PayoutIssue::Overdue,
        &mut f
            .pending_at_end
            .iter()
            .filter(|p| p.overdue_at.is_some_and(|at| at < end)),
    );
    m.mismatches = rows(PayoutIssue::Mismatch, &mut with_status("mismatch"));
    m.invalid_tokens = rows(PayoutIssue::InvalidToken, &mut with_status("invalid_token"));
    m.unreadable_amounts = rows(
        PayoutIssue::UnreadableAmount,
        &mut f
            .resolved
            .iter()
            .chain(&f.pending_at_end)
            .filter(|p| p.expected_as_written.is_some()),
    );
    m
}

#[cfg(test)]
mod tests;
