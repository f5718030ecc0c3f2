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
/// and the files written. `discrepancies` and `payouts_needing_a_human` are the rows to
/// handle in and out, which add up to the page's "need a human".
pub fn event_data(summary: &Summary, files: &[PathBuf]) -> Value {
    let money = &summary.reconciliation.total;
    json!({
        "date": summary.date.format("%Y-%m-%d").to_string(),
        "version": summary.schema_version,
        "received": money.received,
        "completed": money.completed,
        "held_for_review": money.held_for_review,
        "paid_out_xof": summary.money_out.sent.xof,
        "net_xof": summary.net.total.net_xof,
        "payouts_needing_a_human": summary.to_handle.money_out,
        "by_status": summary.by_status,
        "discrepancies": summary.to_handle.money_in,
        "pending_at_end": summary.pending_at_end.count,
        "files": files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
}
