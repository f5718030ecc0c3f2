//! What a payment row is: money in (an invoice) or money out (a withdrawal to a customer's
//! LigdiCash wallet, a straight payout to a mobile-money number). The kind decides the
//! confirm endpoint, the schedule, whether it may ever be given up, and the event names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of `payments.kind`, mirrored by the CHECK constraint in `schema.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A hosted-payin invoice: money in. Every row without a kind is one.
    #[default]
    Invoice,
    /// A withdrawal to a customer's LigdiCash wallet: money out.
    Withdrawal,
    /// A straight payout to a mobile-money number: money out.
    Payout,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Invoice, Kind::Withdrawal, Kind::Payout];

    /// The database, CLI and API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::Withdrawal => "withdrawal",
            Self::Payout => "payout",
        }
    }

    /// Parses the database spelling; unknown text is `None`, never a panic.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Parses a kind given by a person (CLI, API), with an error naming the choices.
    pub fn parse_given(text: &str) -> Result<Self, String> {
        Self::parse(text.trim()).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
            format!("kind: unknown kind {text:?} (one of {})", all.join(", "))
        })
    }

    /// Money leaving the shop. A pending payout is never given up as `timeout`: it is the
    /// shop's money, and a payout retried because it looked lost can pay twice.
    pub fn is_money_out(self) -> bool {
        self != Self::Invoice
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_named() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(Kind::parse_given(&format!(" {k} ")), Ok(k));
        }
        let err = Kind::parse_given("refund").unwrap_err();
        assert!(
            err.contains("\"refund\"") && err.contains("invoice, withdrawal, payout"),
            "{err}"
        );
        assert_eq!(Kind::default(), Kind::Invoice);
        assert!(!Kind::Invoice.is_money_out());
        assert!(Kind::Withdrawal.is_money_out() && Kind::Payout.is_money_out());
    }
}
