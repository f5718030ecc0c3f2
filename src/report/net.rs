//! Pure: the day's net, received minus sent, as LigdiCash's statement shows it: per
//! operator sub-account where LigdiCash names one, and in total.
//!
//! Both sides count what moved at LigdiCash: received = completed + held for review
//! (invoices), sent = sent as asked + sent, to be checked (payouts). An operator that only
//! received, or only sent, has a line too, with 0 on the other side.

use super::figures::{Amount, Reconciliation};
use super::money_out::MoneyOut;
use serde::Serialize;
use std::collections::BTreeMap;

/// Received, sent and their difference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NetFigures {
    pub received: Amount,
    pub sent: Amount,
    /// `received.xof − sent.xof`; negative when more left than came in.
    pub net_xof: i64,
}

impl NetFigures {
    fn of(received: Amount, sent: Amount) -> Self {
        Self {
            received,
            sent,
            net_xof: received.xof - sent.xof,
        }
    }
}

/// One operator's sub-account. `operator` is `None` when LigdiCash named none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorNet {
    pub operator: Option<String>,
    #[serde(flatten)]
    pub figures: NetFigures,
}

/// The net block of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Net {
    /// Named operators alphabetically, then the unnamed.
    pub by_operator: Vec<OperatorNet>,
    pub total: NetFigures,
}

/// The net of a day whose invoices reconcile as `r` and whose payouts are `m`.
pub fn of(r: &Reconciliation, m: &MoneyOut) -> Net {
    let mut named: BTreeMap<&str, (Amount, Amount)> = BTreeMap::new();
    let mut unnamed: Option<(Amount, Amount)> = None;
    for o in &r.by_operator {
        let side = match o.operator.as_deref() {
            Some(name) => named.entry(name).or_default(),
            None => unnamed.get_or_insert_default(),
        };
        side.0 = o.receipts.received;
    }
    for o in &m.by_operator {
        let side = match o.operator.as_deref() {
            Some(name) => named.entry(name).or_default(),
            None => unnamed.get_or_insert_default(),
        };
        side.1 = o.sent;
    }
    let line = |operator: Option<&str>, (received, sent)| OperatorNet {
        operator: operator.map(str::to_owned),
        figures: NetFigures::of(received, sent),
    };
    let by_operator = named
        .into_iter()
        .map(|(name, sides)| line(Some(name), sides))
        .chain(unnamed.map(|sides| line(None, sides)))
        .collect();
    Net {
        by_operator,
        total: NetFigures::of(r.total.received, m.sent),
    }
}
