//! How a run ends: whether a task's end is the daemon's failure, and what a finite run
//! (`--once`, `--until-idle`) waits for after the polling.

use crate::failure::{Exit, Failure};
use crate::health::{WriteHealth, Writer};
use crate::poller::PollerError;
use crate::store::Db;
use crate::tasks::Ended;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Whether a task's end is a failure of the daemon: an error or a panic always, a return
/// only while the daemon was meant to keep running. Logged here, once.
pub(super) fn task_failure(
    name: &'static str,
    ended: Ended<Failure>,
    stopping: bool,
) -> Option<Failure> {
    let failure = match ended {
        Ended::Finished | Ended::Aborted if stopping => return None,
        Ended::Finished | Ended::Aborted => Failure::new(
            Exit::Failure,
            format!("the {name} task stopped unexpectedly"),
        ),
        Ended::Failed(f) => f,
        Ended::Panicked(message) => Failure::new(
            Exit::Failure,
            format!("the {name} task panicked: {message}"),
        ),
    };
    tracing::error!(task = name, error = %failure.message, "a daemon task failed; stopping");
    Some(failure)
}

/// `--once` ends once every delivery due now has been attempted (delivered, or put off to
/// its next retry time, which a later pass takes up), or as soon as the database refuses
/// writes: an attempt that cannot be recorded stays due, for a later pass.
pub(super) async fn due_deliveries_attempted(
    db: &Db,
    sinks: &[String],
    writes: &WriteHealth,
    shutdown: &CancellationToken,
) -> Result<(), PollerError> {
    let (now, sinks) = (crate::time::now_ms(), Arc::new(sinks.to_vec()));
    while !shutdown.is_cancelled() && !writes.failing() {
        match db.any_delivery_due(now, sinks.clone()).await {
            Ok(true) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            Ok(false) => break,
            // The database went away at the end of the pass: the deliveries stay due.
            Err(e) if e.is_unwritable() => {
                tracing::warn!(error = %e, "the database is away: the deliveries still due wait for the next pass");
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `--until-idle` also waits until every event has had its first delivery attempt, through
/// a database that is away for a while.
pub(super) async fn first_attempts_made(
    db: &Db,
    sinks: &[String],
    writes: &WriteHealth,
    shutdown: &CancellationToken,
) -> Result<(), PollerError> {
    let sinks = Arc::new(sinks.to_vec());
    let count = || db.unattempted_deliveries(sinks.clone());
    while let Some(left) = writes.retry(Writer::DeliveryScan, shutdown, count).await? {
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}
