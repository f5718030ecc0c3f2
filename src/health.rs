//! Whether the daemon can record what it learns: the state of database writes.
//!
//! A database can stop taking writes while the daemon runs (the disk fills, the file's
//! owner or mode changes, the shop's migration holds a lock for minutes). Confirming more
//! payments then only asks LigdiCash questions whose answers cannot be kept, so every
//! component that writes reports here, the poller stops claiming new work while any of
//! them fails, `/readyz` fails, and the incident is logged once when it starts and once
//! when it ends. The daemon keeps running and resumes by itself once a write succeeds.

use crate::store::StoreError;
use crate::time::{Millis, now_ms};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};

/// Who writes: each reports its own failures and recoveries, and the database counts as
/// writable again only when every one of them has written since.
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
