//! `[cases]`: when a payment needs a person, and how often the reconciler looks.
//!
//! A case opens by itself for what the reconciler cannot settle alone (docs/cases.md); the
//! one threshold a shop chooses is how long an invoice may stay pending before a person
//! looks at it. Payouts have theirs in `[payouts] overdue_after`.

use super::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// `[cases]`: every key optional.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CasesConfig {
    /// An invoice still pending this long after its creation (or its requeue) opens a
    /// `pending_too_long` case.
    pub pending_after: HumanDuration,
    /// How often the case sweep looks for payments that need a person, or no longer do.
    /// Each look reads only what changed since the last one, through indexes.
    pub sweep_interval: HumanDuration,
}

impl Default for CasesConfig {
    fn default() -> Self {
        Self {
            pending_after: HumanDuration::secs(24 * 3600),
            sweep_interval: HumanDuration::secs(30),
        }
    }
}
