//! The writer task: owns the write connection and records confirm outcomes in batches, one
//! transaction each (attempt log, status, event).
//!
//! When the database refuses writes for a reason that can heal (read-only, disk full, a
//! long lock), the batch in hand is kept and retried with backoff, and [`WriteHealth`]
//! makes the dispatcher stop claiming work meanwhile: answers already received are never
//! dropped for a passing fault, and at most one batch (plus the calls still in flight) waits
//! in memory. At shutdown the writer gets what is left of `shutdown_grace`; an outcome it
//! could not write by then leaves its payment pending, to be confirmed again.

use super::{Context, PollerError};
use crate::health::Writer;
use crate::metrics::Metrics;
use crate::payment::{Applied, Change, ConfirmOutcome, Status};
use crate::store::Db;
use crate::time::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Outcomes written per transaction at most.
pub(super) const WRITE_BATCH: usize = 512;

/// How long the first outcome of a batch waits for company before the batch is written.
/// Every commit rewrites the index pages it touches and syncs the WAL, so a commit of 16
/// outcomes costs nearly what one of 160 does; 20 ms is nothing next to seconds between
/// polls, and cut the reconciler's CPU per confirm by a quarter in the drain benchmark.
const GATHER_WINDOW: Duration = Duration::from_millis(20);

/// Writes outcomes in batches and tells the dispatcher which payments are settled in the
/// database (or given up at shutdown). Ends when every sender is gone and all is written,
/// when `give_up` fires, or with an error the daemon cannot wait out.
pub(super) async fn write_loop(
    store: Db,
    mut rx: mpsc::Receiver<ConfirmOutcome>,
    done: mpsc::UnboundedSender<i64>,
    ctx: Arc<Context>,
    give_up: CancellationToken,
) -> Result<(), PollerError> {
    let mut buffer = Vec::with_capacity(WRITE_BATCH);
    while gather(&mut rx, &mut buffer).await > 0 {
        let batch = Arc::new(std::mem::take(&mut buffer));
        let written = write_until_done(&store, &batch, &ctx, &give_up).await;
        for o in batch.iter() {
            let _ = done.send(o.payment_id);
        }
        match written? {
            Some(applied) => report(&batch, &applied, &ctx.metrics),
            None => {
                tracing::warn!(
                    outcomes = batch.len(),
                    "shutdown grace elapsed before these answers could be recorded; those payments stay pending and will be confirmed again"
                );
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Waits for outcomes, lets more arrive for [`GATHER_WINDOW`] (without waking for each
/// one), then takes what came, up to a full batch. Returns how many are in `buffer`: 0 once
/// every sender is gone and all is written.
async fn gather(
    rx: &mut mpsc::Receiver<ConfirmOutcome>,
    buffer: &mut Vec<ConfirmOutcome>,
) -> usize {
    if rx.recv_many(buffer, WRITE_BATCH).await == 0 {
        return 0;
    }
    if buffer.len() < WRITE_BATCH {
        tokio::time::sleep(GATHER_WINDOW).await;
    }
    while buffer.len() < WRITE_BATCH {
        match rx.try_recv() {
            Ok(outcome) => buffer.push(outcome),
            Err(_) => break,
        }
    }
    buffer.len()
}

/// Writes one batch, retrying refused writes until they succeed; `None` if `give_up`
/// fires first (an attempt in progress then finishes, or not, in the background: its
/// transaction is atomic either way).
async fn write_until_done(
    store: &Db,
    batch: &Arc<Vec<ConfirmOutcome>>,
    ctx: &Context,
    give_up: &CancellationToken,
) -> Result<Option<Vec<Applied>>, PollerError> {
    let write = || store.apply_outcomes(batch.clone(), now_ms(), ctx.sinks.clone());
    Ok(ctx
        .metrics
        .writes
        .retry(Writer::Outcomes, give_up, write)
        .await?)
}

fn report(batch: &[ConfirmOutcome], applied: &[Applied], metrics: &Metrics) {
    for (o, a) in batch.iter().zip(applied) {
        if o.from != Status::Pending {
            recheck_done(o, a, metrics);
        }
        if let Some(status) = a.finalized {
            metrics.resolved(o.kind, status.as_str());
            tracing::info!(token = %o.token, status = status.as_str(), "payment resolved");
        } else if a.stale {
            tracing::debug!(token = %o.token, "payment changed meanwhile; outcome not applied");
        }
    }
}

/// A final payment confirmed once more because a callback contradicted it: what LigdiCash
/// said, counted and logged (a person may want to look at the customer's claim).
fn recheck_done(o: &ConfirmOutcome, a: &Applied, metrics: &Metrics) {
    let result = match (&o.change, a.finalized) {
        (_, Some(_)) => "changed",
        (Change::Recheck { again_at: None }, None) if !a.stale => "unchanged",
        (Change::Recheck { again_at: Some(_) }, None) => "unanswered",
        _ => return,
    };
    metrics.recheck(o.from, result);
    if result == "unchanged" {
        tracing::warn!(
            token = %o.token,
            status = o.from.as_str(),
            "LigdiCash confirms the status a callback contradicted: it stands"
        );
    }
}
