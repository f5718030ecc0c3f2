//! What the demo prints once the reconciler is idle: money where money moved, the faults it
//! survived (instead of warnings interleaved with the progress lines), one event as a shop
//! receives it, and what to try next.

use crate::store::AttemptFact;
use crate::store::EventRow;
use crate::store::PaymentRow;
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Confirm outcomes that are LigdiCash's answer about the payment; every other outcome is a
/// fault the sandbox injected (and the reconciler retried).
const ANSWERS: [&str; 4] = ["pending", "completed", "notcompleted", "not_found"];

/// Payments of one kind in one status: how many, the XOF expected, and the XOF LigdiCash
/// says moved (only where it says money moved: a timeout or a notcompleted paid nothing).
#[derive(Debug, Default, PartialEq)]
struct Line {
    count: i64,
    expected: i64,
    paid: Option<i64>,
}

/// The summary table's lines: invoices first, then each kind of money out, and within a
/// kind the most frequent status first.
fn lines(rows: &[PaymentRow]) -> Vec<((&str, &str), Line)> {
    let mut by: BTreeMap<(&str, &str), Line> = BTreeMap::new();
    for r in rows {
        let line = by.entry((r.kind.as_str(), r.status.as_str())).or_default();
        line.count += 1;
        line.expected += r.expected_amount.unwrap_or(0);
        if matches!(r.status.as_str(), "completed" | "mismatch") {
            *line.paid.get_or_insert(0) += r.amount.unwrap_or(0);
        }
    }
    let mut lines: Vec<_> = by.into_iter().collect();
    lines.sort_by_key(|((kind, _), line)| (*kind != "invoice", *kind, -line.count));
    lines
}

pub(super) fn print_summary(
    rows: &[PaymentRow],
    attempts: &[AttemptFact],
    elapsed: Duration,
    confirms: u64,
) -> Result<()> {
    say!("");
    say!(
        "{:<11} {:<14} {:>7} {:>14} {:>12}",
        "KIND",
        "STATUS",
        "COUNT",
        "EXPECTED XOF",
        "PAID XOF"
    );
    for ((kind, status), line) in lines(rows) {
        let Line {
            count,
            expected,
            paid,
        } = line;
        let paid = paid.map_or_else(|| "-".to_owned(), |p| p.to_string());
        say!("{kind:<11} {status:<14} {count:>7} {expected:>14} {paid:>12}");
    }
    let mut outcomes: BTreeMap<&str, i64> = BTreeMap::new();
    for a in attempts {
        *outcomes.entry(a.outcome.as_str()).or_default() += 1;
    }
    let mut outcomes: Vec<_> = outcomes.into_iter().collect();
    outcomes.sort_by_key(|(_, n)| -n);
    let faults: Vec<String> = outcomes
        .iter()
        .filter(|(o, _)| !ANSWERS.contains(o))
        .map(|(o, n)| format!("{o} {n}"))
        .collect();
    say!("");
    say!("{confirms} confirm calls in {:.1} s", elapsed.as_secs_f64());
    if !faults.is_empty() {
        say!(
            "faults the sandbox injected, each retried with backoff: {}",
            faults.join(", ")
        );
    }
    Ok(())
}

/// One delivered `payment.completed` event, as the shop's webhook or log receives it.
pub(super) fn print_sample_event(events: &[EventRow]) -> Result<()> {
    let sample = events
        .iter()
        .find(|e| e.state == "delivered" && e.kind == "payment.completed");
    if let Some(event) = sample {
        let payload: serde_json::Value = serde_json::from_str(&event.payload)?;
        say!("one event, as a shop's webhook receives it:");
        say!("{}", serde_json::to_string_pretty(&payload)?);
    }
    Ok(())
}

/// Where to go from here; the events file is named only when it outlives the demo.
pub(super) fn print_next_steps(kept: Option<(&Path, &Path)>) -> Result<()> {
    if let Some((db, events)) = kept {
        say!(
            "kept: the database {} (try `ligdicash-reconciler --database {} list`) and the \
             events in {}",
            db.display(),
            db.display(),
            events.display()
        );
    }
    say!(
        "next: try it on your own shop's flow: `ligdicash-reconciler sandbox` in one terminal, \
         `ligdicash-reconciler run` pointed at it in another (docs/sandbox.md, \"Trying the \
         reconciler against it\")"
    );
    Ok(())
}
