//! What the demo prints once the reconciler is idle: money where money moved, the faults it
//! survived (instead of warnings interleaved with the progress lines), one event as a shop
//! receives it, and what to try next.

use crate::store::Store;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// Confirm outcomes that are LigdiCash's answer about the payment; every other outcome is a
/// fault the sandbox injected (and the reconciler retried).
const ANSWERS: [&str; 4] = ["pending", "completed", "notcompleted", "not_found"];

pub(super) fn print_summary(store: &Store, elapsed: Duration, confirms: u64) -> Result<()> {
    let conn = store.connection();
    say!("");
    // "paid" only where LigdiCash says money moved: a timeout or a notcompleted paid nothing.
    say!(
        "{:<11} {:<14} {:>7} {:>14} {:>12}",
        "KIND",
        "STATUS",
        "COUNT",
        "EXPECTED XOF",
        "PAID XOF"
    );
    let mut stmt = conn.prepare(
        "SELECT kind, status, count(*), coalesce(sum(expected_amount), 0), \
                CASE WHEN status IN ('completed', 'mismatch') \
                     THEN coalesce(sum(amount), 0) END \
         FROM payments GROUP BY kind, status \
         ORDER BY kind = 'invoice' DESC, kind, count(*) DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    for row in rows {
        let (kind, status, count, expected, paid) = row?;
        let paid = paid.map_or_else(|| "-".to_owned(), |p| p.to_string());
        say!("{kind:<11} {status:<14} {count:>7} {expected:>14} {paid:>12}");
    }
    let mut stmt = conn.prepare(
        "SELECT outcome, count(*) FROM confirm_attempts GROUP BY outcome ORDER BY count(*) DESC",
    )?;
    let outcomes = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let faults: Vec<String> = outcomes
        .iter()
        .filter(|(o, _)| !ANSWERS.contains(&o.as_str()))
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
pub(super) fn print_sample_event(store: &Store) -> Result<()> {
    let sample = store
        .list_events(Some("delivered"), 1_000)?
        .into_iter()
        .find(|e| e.kind == "payment.completed");
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
