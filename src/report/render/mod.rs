//! The three report formats: JSON (versioned, for machines), CSV (one row per payment, for
//! spreadsheets), and one self-contained HTML page (no external assets) for people.

mod csv;
pub mod html;

pub use csv::csv;
pub use html::html;

use super::figures::Summary;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Pretty JSON of the summary.
pub fn json(summary: &Summary) -> String {
    serde_json::to_string_pretty(summary).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The `data` of a day's `report.generated` event (docs/events.md): the headline figures
/// and the files written.
pub fn event_data(summary: &Summary, files: &[PathBuf]) -> Value {
    let money = &summary.reconciliation.total;
    json!({
        "date": summary.date.format("%Y-%m-%d").to_string(),
        "version": summary.version,
        "received": money.received,
        "completed": money.completed,
        "held_for_review": money.held_for_review,
        "paid_out_xof": summary.money_out.paid_out_xof,
        "net_xof": summary.money_out.net_xof,
        "payouts_needing_a_human": summary.money_out.needing_a_human(),
        "by_status": summary.by_status,
        "discrepancies": summary.discrepancies.count(),
        "pending_at_end": summary.pending_at_end.count,
        "files": files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
}
