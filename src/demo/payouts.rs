//! The demo's money out: a handful of withdrawals and straight payouts beside the invoices,
//! one of each fate a shop meets, checked against the sandbox like the invoices are.
//!
//! A payout is never given up: the one LigdiCash never settles stays `pending`, is
//! announced once as `payout.overdue`, and `run --until-idle` stops waiting for it.

use crate::config::{Config, HumanDuration};
use crate::payment::{Kind, NewPayment, Status};
use crate::sandbox::payouts::{Payout, PayoutSpec};
use crate::sandbox::{Outcome, Sandbox};
use crate::store::EventRow;
use crate::store::{Db, PaymentRow};
use crate::time::{ms, now_ms};
use anyhow::{Result, bail};
use std::collections::HashMap;

/// After `give_up_after` (10 s): an invoice this late would be a timeout, a payout is not.
const LATE_MS: i64 = 11_000;

/// Kind, fate, amount, what LigdiCash reports as sent, settle delay, the shop's reference.
type Planned = (Kind, Outcome, i64, Option<i64>, i64, &'static str);

const PAYOUTS: [Planned; 6] = [
    (
        Kind::Withdrawal,
        Outcome::Completed,
        2_500,
        None,
        800,
        "REFUND-0001",
    ),
    (
        Kind::Payout,
        Outcome::Completed,
        12_000,
        None,
        1_500,
        "SELLER-0001",
    ),
    (
        Kind::Payout,
        Outcome::NotCompleted,
        4_000,
        None,
        1_000,
        "SELLER-0002",
    ),
    (
        Kind::Payout,
        Outcome::Completed,
        6_000,
        Some(5_000),
        2_000,
        "SELLER-0003",
    ),
    (
        Kind::Payout,
        Outcome::Completed,
        3_000,
        None,
        LATE_MS,
        "SELLER-0004",
    ),
    (
        Kind::Withdrawal,
        Outcome::Never,
        1_500,
        None,
        0,
        "REFUND-0002",
    ),
];

/// The demo's payout schedule: fast, and overdue only after the late one has settled.
pub(super) fn configure(c: &mut Config) {
    let p = &mut c.payouts;
    p.first_delay = HumanDuration::millis(200);
    p.initial_interval = HumanDuration::millis(300);
    p.max_interval = HumanDuration::secs(1);
    p.overdue_after = HumanDuration::secs(14);
}

/// The shop sends its payouts (at the sandbox) and hands their tokens to the reconciler.
pub(super) async fn send_and_enqueue(sandbox: &Sandbox, store: &Db, c: &Config) -> Result<usize> {
    for (kind, outcome, amount, paid_amount, settle_after_ms, order) in PAYOUTS {
        let token = sandbox.add_payout(&PayoutSpec {
            kind,
            outcome,
            amount,
            paid_amount,
            transaction_id: Some(order.into()),
            settle_after_ms,
        });
        let p = NewPayment::parse(&token, Some(order), Some(&amount.to_string()))
            .map_err(|e| anyhow::anyhow!(e))?
            .of_kind(kind);
        let now = now_ms();
        store
            .enqueue(p, now, now + ms(c.payouts.first_delay.0))
            .await?;
    }
    Ok(PAYOUTS.len())
}

/// Every payout ends as the sandbox says; the one never settled is pending, overdue, and
/// announced exactly once.
pub(super) fn verify(rows: &[PaymentRow], events: &[EventRow], payouts: &[Payout]) -> Result<()> {
    let truth: HashMap<&str, &Payout> = payouts.iter().map(|p| (p.token.as_str(), p)).collect();
    let mut wrong = Vec::new();
    for (token, payout) in &truth {
        let Some(row) = rows.iter().find(|r| r.token == *token) else {
            wrong.push(format!("{token}: not in the database"));
            continue;
        };
        let expected = match payout.fate.outcome {
            Outcome::Completed if payout.fate.paid_amount != payout.amount => Status::Mismatch,
            Outcome::Completed => Status::Completed,
            Outcome::NotCompleted => Status::NotCompleted,
            Outcome::Never => Status::Pending,
        };
        if row.status != expected.as_str() {
            wrong.push(format!("{token}: {} (expected {expected})", row.status));
        }
        let announced = events
            .iter()
            .filter(|e| e.kind == "payout.overdue" && e.payment_token.as_deref() == Some(token))
            .count() as i64;
        let want = i64::from(payout.fate.outcome == Outcome::Never);
        if announced != want || (want == 1) != row.overdue_at.is_some() {
            wrong.push(format!("{token}: {announced} payout.overdue events"));
        }
    }
    if !wrong.is_empty() {
        bail!("payouts disagree with the sandbox: {}", wrong.join("; "));
    }
    say!(
        "all {} payouts agree with the sandbox (the one never settled is pending, announced \
         once as payout.overdue, and still polled)",
        payouts.len()
    );
    Ok(())
}
