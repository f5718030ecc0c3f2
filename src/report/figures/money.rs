//! Money: per-status totals and the reconciliation an accountant checks against
//! LigdiCash's statement, which keeps one sub-account per operator (Orange, Moov, ...).
//!
//! Received at LigdiCash = completed + held for review (`mismatch`): LigdiCash took the
//! customer's money on a mismatch too, so leaving it out would make the day disagree with
//! the statement with nothing saying why.

use crate::store::PaymentFact;
use serde::Serialize;
use std::collections::BTreeMap;

/// The statuses on which the customer's money reached LigdiCash.
const MONEY_MOVED: [&str; 2] = ["completed", "mismatch"];

/// What the customer paid, only where money moved: the amount LigdiCash confirmed on a
/// `completed` or `mismatch`. `None` on every other status, and where LigdiCash's final
/// answer stated no usable amount.
pub fn paid_xof(p: &PaymentFact) -> Option<i64> {
    MONEY_MOVED
        .contains(&p.status.as_str())
        .then_some(p.amount)
        .flatten()
}

/// The name a sub-account is filed under: LigdiCash's operator name trimmed, `None` when
/// it named none (blank).
pub fn operator_key(name: Option<&str>) -> Option<&str> {
    name.map(str::trim).filter(|o| !o.is_empty())
}

/// Payments of one final status: how many, what the shop expected, and what was paid
/// (`None` for a status on which no money moves).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusTotal {
    pub key: String,
    pub count: i64,
    pub expected_xof: i64,
    pub paid_xof: Option<i64>,
}

/// A count of payments and their XOF.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub count: i64,
    pub xof: i64,
}

impl Amount {
    fn add(&mut self, xof: Option<i64>) {
        self.count += 1;
        self.xof += xof.unwrap_or(0);
    }
}

/// Money received, split as LigdiCash's statement cannot: `received` is the sum of the
/// other two, and is what the statement shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Receipts {
    pub completed: Amount,
    pub held_for_review: Amount,
    pub received: Amount,
}

impl Receipts {
    fn add(&mut self, p: &PaymentFact) {
        let paid = paid_xof(p);
        match p.status.as_str() {
            "completed" => self.completed.add(paid),
            _ => self.held_for_review.add(paid),
        }
        self.received.add(paid);
    }
}

/// One operator's sub-account. `operator` is `None` when LigdiCash named none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorReceipts {
    pub operator: Option<String>,
    #[serde(flatten)]
    pub receipts: Receipts,
}

/// The reconciliation block: per operator and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub by_operator: Vec<OperatorReceipts>,
    pub total: Receipts,
    /// Payments whose money moved but whose amount LigdiCash did not state usably: counted,
    /// with no XOF. Any here means the XOF total is short of the statement.
    pub amount_not_stated: i64,
}

/// Per final status, in a fixed order (alphabetical by key).
pub fn by_status(resolved: &[PaymentFact]) -> Vec<StatusTotal> {
    let mut map: BTreeMap<&str, StatusTotal> = BTreeMap::new();
    for p in resolved {
        let moved = MONEY_MOVED.contains(&p.status.as_str());
        let t = map.entry(p.status.as_str()).or_insert_with(|| StatusTotal {
            key: p.status.clone(),
            count: 0,
            expected_xof: 0,
            paid_xof: moved.then_some(0),
        });
        t.count += 1;
        t.expected_xof += p.expected_amount.unwrap_or(0);
        if let Some(paid) = &mut t.paid_xof {
            *paid += paid_xof(p).unwrap_or(0);
        }
    }
    map.into_values().collect()
}

/// Money received during the day, per operator (named ones alphabetically, then the
/// unnamed) and in total.
pub fn reconcile(resolved: &[PaymentFact]) -> Reconciliation {
    let mut named: BTreeMap<&str, Receipts> = BTreeMap::new();
    let mut unnamed: Option<Receipts> = None;
    let mut total = Receipts::default();
    let mut amount_not_stated = 0;
    for p in resolved
        .iter()
        .filter(|p| MONEY_MOVED.contains(&p.status.as_str()))
    {
        match operator_key(p.operator_name.as_deref()) {
            Some(name) => named.entry(name).or_default().add(p),
            None => unnamed.get_or_insert_default().add(p),
        }
        total.add(p);
        if paid_xof(p).is_none() {
            amount_not_stated += 1;
        }
    }
    let mut by_operator: Vec<OperatorReceipts> = named
        .into_iter()
        .map(|(name, receipts)| OperatorReceipts {
            operator: Some(name.to_owned()),
            receipts,
        })
        .collect();
    by_operator.extend(unnamed.map(|receipts| OperatorReceipts {
        operator: None,
        receipts,
    }));
    Reconciliation {
        by_operator,
        total,
        amount_not_stated,
    }
}
