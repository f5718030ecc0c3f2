//! Whether the daemon can record what it learns: the state of database writes, and of the
//! reads a task cannot work without.
//!
//! A database can stop taking writes while the daemon runs (the disk fills, the file's
//! owner or mode changes, the shop's migration holds a lock for minutes, PostgreSQL
//! restarts or fails over). Confirming more payments then only asks LigdiCash questions
//! whose answers cannot be kept, so every long-running task that uses the database reports
//! here, the poller stops claiming new work while any of them fails, `/readyz` fails, and
//! the incident is logged once when it starts and once when it ends. An error that heals
//! ([`StoreError::is_unwritable`]) never stops a task: it waits with backoff
//! ([`WriteHealth::retry`]) and resumes by itself once the database answers again. Only an
//! error that cannot heal (a dropped table, a corrupt file) stops the daemon.

use crate::store::StoreError;
use crate::time::{Millis, now_ms};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Backoff between two attempts at a refused database call: from the first to the last.
pub const RETRY_FIRST: Duration = Duration::from_millis(200);
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// Who uses the database: each reports its own failures and recoveries, and the database
/// counts as usable again only when every one of them has succeeded since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The poller's writer task: attempt log, statuses and events.
    Outcomes = 1,
    /// The dispatcher's scan: first poll times of shop rows, rows set aside.
    Scan = 2,
    /// The event deliverer: the result of each delivery attempt.
    Deliveries = 4,
    /// A cluster node's heartbeat (PostgreSQL): without it the node has no share of the
    /// rate and the others soon count it dead.
    Heartbeat = 8,
    /// The event deliverer's reads of what is due: without them nothing is delivered.
    DeliveryScan = 16,
    /// The nightly re-check recording what LigdiCash said of a timeout.
    Recheck = 32,
    /// The shop API's confirm-now recording what LigdiCash said.
    ConfirmNow = 64,
}

/// The health of database writes, shared by the writers, `/readyz` and `/metrics`.
#[derive(Debug, Default)]
pub struct WriteHealth {
    /// One bit per [`Writer`] whose last write failed.
    failing: AtomicU8,
    /// Failed write attempts since start.
    failures: AtomicU64,
    since_ms: AtomicI64,
    last_error: Mutex<String>,
}

impl WriteHealth {
    /// A write by `writer` failed with `error`; logs only the first failure of an incident.
    pub fn failed(&self, writer: Writer, error: &StoreError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error.to_string();
        let before = self.failing.fetch_or(writer as u8, Ordering::AcqRel);
        if before == 0 {
            self.since_ms.store(now_ms(), Ordering::Relaxed);
            tracing::error!(
                error = %error,
                "cannot write the database: no new payments are claimed until it is writable again; answers already received are kept and written then"
            );
        } else {
            tracing::debug!(error = %error, "database write failed again");
        }
    }

    /// A write by `writer` succeeded; logs the end of the incident when it was the last.
    pub fn succeeded(&self, writer: Writer) {
        if self.failing.load(Ordering::Acquire) & writer as u8 == 0 {
            return;
        }
        let before = self.failing.fetch_and(!(writer as u8), Ordering::AcqRel);
        if before == writer as u8 {
            let secs = (now_ms() - self.since_ms.load(Ordering::Relaxed)) / 1000;
            tracing::info!(
                after_s = secs,
                "the database is writable again: claiming payments resumed"
            );
        }
    }

    /// True while any writer's last attempt failed.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Acquire) != 0
    }

    /// True while a writer other than `me` fails: `me` then waits for the others, while its
    /// own failure is retried by its own next attempt.
    pub fn failing_besides(&self, me: Writer) -> bool {
        self.failing.load(Ordering::Acquire) & !(me as u8) != 0
    }

    /// Runs `call` until it succeeds, waiting out the errors that heal with backoff (from
    /// [`RETRY_FIRST`] to [`RETRY_MAX`]) as `who`'s incident: logged once, `/readyz` failing
    /// meanwhile. `Ok(None)` if `stop` fires first (a call in progress then finishes, or
    /// not, in the background: a transaction is atomic either way); `Err` for an error that
    /// cannot heal, which the caller must not wait out.
    pub async fn retry<T, F, Fut>(
        &self,
        who: Writer,
        stop: &CancellationToken,
        mut call: F,
    ) -> Result<Option<T>, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut delay = RETRY_FIRST;
        loop {
            let result = tokio::select! {
                r = call() => r,
                () = stop.cancelled() => return Ok(None),
            };
            match result {
                Ok(value) => {
                    self.succeeded(who);
                    return Ok(Some(value));
                }
                Err(e) if e.is_unwritable() => self.failed(who, &e),
                Err(e) => return Err(e),
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.cancelled() => return Ok(None),
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }

    /// Failed write attempts since start (the metric).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// For `/readyz`: since when writes fail and the last error, while they do.
    pub fn problem(&self) -> Option<String> {
        if !self.failing() {
            return None;
        }
        let since: Millis = self.since_ms.load(Ordering::Relaxed);
        let error = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        Some(format!(
            "database: writes failing for {} s: {error}",
            (now_ms() - since) / 1000
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ))
    }

    /// A call that meets an error that heals is tried again (with backoff, the incident
    /// open meanwhile) until it succeeds; an error that cannot heal is returned at once;
    /// a stop ends the wait.
    #[tokio::test(start_paused = true)]
    async fn retry_waits_out_errors_that_heal_and_returns_the_others() {
        let health = WriteHealth::default();
        let stop = CancellationToken::new();
        let mut calls = 0;
        let healed = health.retry(Writer::DeliveryScan, &stop, || {
            calls += 1;
            let result = if calls < 4 { Err(full()) } else { Ok(calls) };
            async move { result }
        });
        assert_eq!(healed.await.unwrap(), Some(4));
        assert_eq!(health.failures(), 3);
        assert!(!health.failing(), "the success ends the incident");

        let mut calls = 0;
        let fault = health.retry(Writer::Scan, &stop, || {
            calls += 1;
            async { Err::<(), _>(StoreError::Task("no such table".into())) }
        });
        assert!(matches!(fault.await, Err(StoreError::Task(_))));
        assert_eq!(calls, 1, "a fault is not retried");

        stop.cancel();
        let stopped = health.retry(Writer::Scan, &stop, || async { Err::<(), _>(full()) });
        assert_eq!(stopped.await.unwrap(), None);
    }

    #[test]
    fn a_writer_waits_only_for_the_others_failures() {
        let health = WriteHealth::default();
        health.failed(Writer::Scan, &full());
        assert!(
            !health.failing_besides(Writer::Scan),
            "its own failure: retry"
        );
        assert!(health.failing_besides(Writer::DeliveryScan));
        health.failed(Writer::Outcomes, &full());
        assert!(health.failing_besides(Writer::Scan));
    }

    #[test]
    fn writes_are_healthy_again_only_when_every_failed_writer_has_written() {
        let health = WriteHealth::default();
        assert!(!health.failing() && health.problem().is_none());
        health.failed(Writer::Outcomes, &full());
        health.failed(Writer::Scan, &full());
        health.failed(Writer::Scan, &full());
        assert_eq!(health.failures(), 3);
        health.succeeded(Writer::Scan);
        assert!(health.failing(), "the outcomes writer has not written yet");
        let problem = health.problem().unwrap();
        assert!(problem.contains("database or disk is full"), "{problem}");
        health.succeeded(Writer::Outcomes);
        assert!(!health.failing());
        health.succeeded(Writer::Outcomes);
        assert_eq!(health.failures(), 3, "successes count nothing");
    }
}
