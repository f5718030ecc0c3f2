//! [`Db`], the one store interface every caller outside `store` uses: the poller, the
//! confirm path, the shop API, event delivery, the reports, `/metrics`, systemd and the
//! command line. None of them knows which database is behind it.
//!
//! An enum, not a trait object (docs/postgres-design.md): backends are few, async methods
//! need no boxing, and a new backend is an arm every method must match. Today there is one
//! arm, SQLite, whose connection (a [`Store`]) is synchronous: each call runs it on the
//! blocking pool ([`on_sqlite`], the only place that does), so a statement waiting up to
//! `busy_timeout` for the shop's own transaction never stalls the async threads.
//!
//! Arguments are owned (or cheap `Arc` clones) and results are the store's plain types
//! (`DuePayment`, `PaymentRow`, `DayFacts`, ...): a backend that is natively async must be
//! able to take them across an `await` without borrowing from its caller.
//!
//! A `Db` is a handle: clones share one connection. Which callers share one and which have
//! their own is decided where the daemon is assembled (`app`): the poller's scan and its
//! writer each have their own, so a long write never holds up the scan.

pub(super) mod outbox;
mod payments;
mod reports;

use super::{Store, StoreError};
use crate::config::DatabaseConfig;
use std::sync::{Arc, Mutex};

/// A handle on the database; see the module docs.
#[derive(Clone, Debug)]
pub enum Db {
    /// One SQLite connection, used by one call at a time.
    Sqlite(Arc<Mutex<Store>>),
}

impl From<Store> for Db {
    fn from(store: Store) -> Self {
        Db::Sqlite(Arc::new(Mutex::new(store)))
    }
}

impl Db {
    /// Opens a new connection to the configured database, creating and migrating it as
    /// needed (a database from a newer version is refused).
    pub async fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let (path, busy_timeout) = (config.path.clone(), config.busy_timeout.0);
        tokio::task::spawn_blocking(move || Store::open(&path, busy_timeout))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map(Db::from)
    }

    /// Refuses a database this process can read but not write: a daemon on it would
    /// confirm payments and record nothing.
    pub async fn ensure_writable(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, |s| s.ensure_writable()).await,
        }
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, |s| s.schema_version()).await,
        }
    }
}

/// Runs `f` on the SQLite connection on the blocking pool. A caller that panicked while
/// holding the connection left no transaction open (rusqlite rolls back on drop), so the
/// connection is taken over rather than poisoned for good.
async fn on_sqlite<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}
