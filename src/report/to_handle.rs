//! Pure: "À traiter" / "need a human", the one list of the day's rows a person must look
//! at, money in and money out, each payment once, with what to do.
//!
//! It is built from the rows of the tables (the invoices' discrepancies, the payouts'
//! issues) and nothing else, so the page's headline, the e-mail's subject and the JSON
//! count the same rows. A payment in two tables (a late completion a callback contradicted)
//! is one thing to handle: it is listed once, under the first of its tables in the page's
//! order. Another source of rows (open cases) can feed [`of_rows`] the same way.

use super::figures::{Discrepancies, DiscrepancyKind};
use super::money_out::{MoneyOut, PayoutIssue};
use serde::{Serialize, Serializer};
use std::collections::HashSet;

/// Which way the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Invoices: customers paying the shop.
    In,
    /// Payouts and withdrawals.
    Out,
}

/// What is wrong with a row, in its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    In(DiscrepancyKind),
    Out(PayoutIssue),
}

impl Issue {
    pub fn direction(self) -> Direction {
        match self {
            Self::In(_) => Direction::In,
            Self::Out(_) => Direction::Out,
        }
    }

    /// The JSON's `issue`: `mismatch`, `late_completion`, ..., `overdue` (with `direction`
    /// telling an invoice's mismatch from a payout's).
    pub fn key(self) -> &'static str {
        match self {
            Self::In(k) => k.key(),
            Self::Out(i) => i.key(),
        }
    }

    /// What to do, in English.
    pub fn action(self) -> &'static str {
        match self {
            Self::In(k) => k.action(),
            Self::Out(i) => i.action(),
        }
    }
}

fn issue_key<S: Serializer>(issue: &Issue, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(issue.key())
}

/// A row that needs a person. Amounts are named as everywhere in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub direction: Direction,
    #[serde(serialize_with = "issue_key")]
    pub issue: Issue,
    /// The payment's kind: `invoice`, `payout`, `withdrawal`.
    pub kind: String,
    pub token: String,
    pub transaction_id: Option<String>,
    pub status: String,
    pub expected_xof: Option<i64>,
    /// The shop's `expected_amount` as written, where it is not a whole number of XOF.
    pub expected_as_written: Option<String>,
    pub paid_xof: Option<i64>,
    pub reason: Option<String>,
    pub action: &'static str,
}

/// The list and its counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToHandle {
    /// Every row, in and out: the headline figure.
    pub count: usize,
    pub money_in: usize,
    pub money_out: usize,
    pub rows: Vec<Row>,
}

/// The rows of the day's tables, invoices first, each table in the page's order.
pub fn rows(d: &Discrepancies, m: &MoneyOut) -> Vec<Row> {
    let money_in = DiscrepancyKind::ALL.into_iter().flat_map(|kind| {
        d.of(kind).iter().map(move |r| {
            let l = &r.payment;
            Row {
                direction: Direction::In,
                issue: Issue::In(kind),
                kind: "invoice".to_owned(),
                token: l.token.clone(),
                transaction_id: l.transaction_id.clone(),
                status: l.status.clone(),
                expected_xof: l.expected_xof,
                expected_as_written: l.expected_as_written.clone(),
                paid_xof: l.paid_xof,
                reason: l.reason.clone(),
                action: kind.action(),
            }
        })
    });
    let money_out = PayoutIssue::ALL.into_iter().flat_map(|issue| {
        m.of(issue).iter().map(move |p| Row {
            direction: Direction::Out,
            issue: Issue::Out(issue),
            kind: p.kind.clone(),
            token: p.token.clone(),
            transaction_id: p.transaction_id.clone(),
            status: p.status.clone(),
            expected_xof: p.expected_xof,
            expected_as_written: p.expected_as_written.clone(),
            paid_xof: p.paid_xof,
            reason: p.reason.clone(),
            action: issue.action(),
        })
    });
    money_in.chain(money_out).collect()
}

/// The list from any rows: each payment (direction and token) once, the first row kept.
pub fn of_rows(rows: Vec<Row>) -> ToHandle {
    let mut seen = HashSet::new();
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| seen.insert((r.direction, r.token.clone())))
        .collect();
    let count_of = |d: Direction| rows.iter().filter(|r| r.direction == d).count();
    ToHandle {
        count: rows.len(),
        money_in: count_of(Direction::In),
        money_out: count_of(Direction::Out),
        rows,
    }
}

/// The day's list.
pub fn of(d: &Discrepancies, m: &MoneyOut) -> ToHandle {
    of_rows(rows(d, m))
}

#[cfg(test)]
mod tests;
