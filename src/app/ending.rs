//! How a run ends: whether a task's end is the daemon's failure, what a finite run
//! (`--once`, `--until-idle`) waits for after the polling, and whether a `--once` pass got
//! through to LigdiCash at all.

use crate::cases::sweep::CaseSweep;
use crate::failure::{Exit, Failure};
use crate::health::{WriteHealth, Writer};
use crate::ligdicash::ErrorClass;
use crate::ligdicash::classify::AUTH_FAILED;
use crate::poller::{PollerError, RunMode};
use crate::report::Reporter;
use crate::store::Db;
use crate::tasks::{Ended, Tasks};
use std::collections::BTreeMap;
use std::future::Future;
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
async fn due_deliveries_attempted(
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
async fn first_attempts_made(
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

/// Whether a `--once` pass got through to LigdiCash, from its confirm calls by outcome
/// class: `Err` (exit 6) when it sent some and every one was refused for our credentials
/// or got no HTTP answer at all (connection failed, timed out, cut off). The daemon rides
/// such an incident out, logging it once; a pass from cron would end 0 every minute while
/// confirming nothing, so it fails where cron's mail and monitoring see it. A pass with
/// nothing due sent nothing and is fine; one answer of any other kind (even a 5xx: then
/// LigdiCash is there and has trouble of its own) means the pass got through.
pub(super) fn pass_got_through(outcomes: &BTreeMap<&str, u64>) -> Result<(), Failure> {
    let count = |class: &str| outcomes.get(class).copied().unwrap_or(0);
    let sent: u64 = outcomes.values().sum();
    let refused = count(AUTH_FAILED);
    let unanswered: u64 = [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Transport,
    ]
    .iter()
    .map(|c| count(c.as_str()))
    .sum();
    if sent == 0 || refused + unanswered < sent {
        return Ok(());
    }
    let what = if unanswered == 0 {
        format!(
            "LigdiCash refused our credentials for every confirm call of this pass ({sent}): check the API key and token (and, for Code01, that payin is activated for the project)"
        )
    } else if refused == 0 {
        format!(
            "LigdiCash could not be reached during this pass: none of its {sent} confirm calls got an answer (connection failed or timed out; see the log)"
        )
    } else {
        format!(
            "no confirm call of this pass got through to LigdiCash: {refused} refused our credentials, {unanswered} got no answer (see the log)"
        )
    };
    Err(Failure::new(
        Exit::Ligdicash,
        format!("{what}; the payments stay due for the next pass"),
    ))
}

/// What a finite run does once its polling ended well: the reports caught up (`once`, left
/// for the next pass while the database refuses writes; a signal ends the catch-up too: a
/// cron pass must never hang while holding the lock), its cases swept once, then the wait
/// of its mode.
pub(super) async fn finish_pass(
    once: Option<Reporter>,
    sweep: Option<CaseSweep>,
    mode: RunMode,
    db: &Db,
    sinks: &[String],
    writes: &WriteHealth,
    shutdown: &CancellationToken,
) -> Result<(), PollerError> {
    if let Some(reporter) = once.filter(|_| !writes.failing()) {
        tokio::select! {
            caught_up = reporter.catch_up() => if let Err(e) = caught_up {
                tracing::error!(error = %e, "nightly report failed");
            },
            () = shutdown.cancelled() => {}
        }
    }
    if let Some(mut sweep) = sweep
        && let Err(e) = sweep.sweep_all(crate::time::now_ms()).await
    {
        tracing::error!(error = %e, "case sweep failed");
    }
    match mode {
        RunMode::Once => due_deliveries_attempted(db, sinks, writes, shutdown).await,
        _ => first_attempts_made(db, sinks, writes, shutdown).await,
    }
}

/// Runs the poller to its end while watching the tasks: the first task to fail cancels
/// `shutdown`, so everything stops (systemd restarts a daemon that exits non-zero), and
/// its failure is kept.
pub(super) async fn poll_watched<T>(
    polling: impl Future<Output = T>,
    tasks: &mut Tasks<Failure>,
    shutdown: &CancellationToken,
    failures: &mut Vec<Failure>,
) -> T {
    tokio::pin!(polling);
    loop {
        tokio::select! {
            result = &mut polling => return result,
            Some((name, ended)) = tasks.next() => {
                if let Some(failure) = task_failure(name, ended, shutdown.is_cancelled()) {
                    shutdown.cancel();
                    failures.push(failure);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_fails_only_when_it_sent_confirms_and_none_got_through() {
        /// Confirm calls by outcome class, and what the failure says (`None`: exit 0).
        type Case = (&'static [(&'static str, u64)], Option<&'static str>);
        let cases: &[Case] = &[
            (&[], None),
            (
                &[("auth_failed", 1)],
                Some("refused our credentials for every"),
            ),
            (
                &[("connect", 2), ("timeout", 1)],
                Some("could not be reached"),
            ),
            (&[("transport", 1)], Some("could not be reached")),
            (
                &[("auth_failed", 1), ("connect", 3)],
                Some("1 refused our credentials, 3 got no answer"),
            ),
            (&[("auth_failed", 1), ("pending", 1)], None),
            (&[("connect", 4), ("completed", 1)], None),
            (&[("http_5xx", 2)], None),
            (&[("rate_limited", 1), ("auth_failed", 1)], None),
        ];
        for (outcomes, failure) in cases {
            let outcomes: BTreeMap<&str, u64> = outcomes.iter().copied().collect();
            match (pass_got_through(&outcomes), failure) {
                (Ok(()), None) => {}
                (Err(f), Some(needle)) => {
                    assert_eq!(f.code(), 6, "{outcomes:?}");
                    assert!(f.message.contains(needle), "{outcomes:?}: {}", f.message);
                    assert!(
                        f.message.ends_with("stay due for the next pass"),
                        "{}",
                        f.message
                    );
                }
                (got, want) => panic!("{outcomes:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
