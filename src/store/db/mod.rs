//! [`Db`], the one store interface every caller outside `store` uses: the poller, the
//! confirm path, the shop API, event delivery, the reports, `/metrics`, systemd and the
//! command line. None of them knows which database is behind it.
//!
//! An enum, not a trait object (docs/postgres-design.md): backends are few, async methods
//! need no boxing, and a new backend is an arm every method must match. Two arms: SQLite,
//! whose connection (a [`Store`]) is synchronous, so each call runs it on the blocking pool
//! ([`on_sqlite`], the only place that does) and a statement waiting up to `busy_timeout`
//! for the shop's own transaction never stalls the async threads; and PostgreSQL
//! ([`PgStore`]), natively async over a pool, for several daemons on one database.
//! [`Target`] says which, from the configuration and the environment.
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
mod target;

pub use reports::ReportTurn;
pub use target::{PG_POOL_SIZE, Target};

use super::postgres::PgStore;
use super::{Store, StoreError};
use crate::config::DatabaseBackend;
use std::sync::{Arc, Mutex};

/// A handle on the database; see the module docs.
#[derive(Clone, Debug)]
pub enum Db {
    /// One SQLite connection, used by one call at a time.
    Sqlite(Arc<Mutex<Store>>),
    /// A pool of PostgreSQL connections, shared by clones.
    Postgres(PgStore),
}

impl From<Store> for Db {
    fn from(store: Store) -> Self {
        Db::Sqlite(Arc::new(Mutex::new(store)))
    }
}

impl Db {
    /// Opens a new connection to the configured database, creating and migrating it as
    /// needed (a database from a newer version is refused).
    /// On PostgreSQL the migration runs under an advisory lock, so nodes starting
    /// together do not race.
    pub async fn open(target: &Target) -> Result<Self, StoreError> {
        match &target.backend {
            DatabaseBackend::Sqlite { path, busy_timeout } => {
                let (path, busy_timeout) = (path.clone(), *busy_timeout);
                tokio::task::spawn_blocking(move || Store::open(&path, busy_timeout))
                    .await
                    .map_err(|e| StoreError::Task(e.to_string()))?
                    .map(Db::from)
            }
            DatabaseBackend::Postgres(settings) => {
                let store = PgStore::open(settings, PG_POOL_SIZE, target.claims.clone()).await?;
                store.migrate().await?;
                Ok(Db::Postgres(store))
            }
        }
    }

    /// Refuses a database this process can read but not write: a daemon on it would
    /// confirm payments and record nothing.
    pub async fn ensure_writable(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, |s| s.ensure_writable()).await,
            Db::Postgres(p) => p.ensure_writable().await,
        }
    }

    /// How long after its claim a due payment may still be sent, where other daemons
    /// share the rows (PostgreSQL); `None` where this process is alone (SQLite). The
    /// poller claims no more than it can send within it.
    pub fn send_window(&self) -> Option<crate::time::Millis> {
        self.postgres().map(|p| p.claim_policy().send_window)
    }

    /// The PostgreSQL store behind this handle, for what only a cluster needs (the node
    /// registry, the report lock).
    pub fn postgres(&self) -> Option<&PgStore> {
        match self {
            Db::Sqlite(_) => None,
            Db::Postgres(p) => Some(p),
        }
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        match self {
            Db::Sqlite(s) => on_sqlite(s, |s| s.schema_version()).await,
            Db::Postgres(p) => p.schema_version().await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseConfig, HumanDuration};
    use crate::payment::NewPayment;

    /// A call that panics fails alone (its caller gets an error, the daemon goes on), and
    /// the connection it held serves the next call: the lock is taken over, not poisoned.
    #[tokio::test]
    async fn a_panicking_call_fails_alone_and_leaves_the_connection_usable() {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig {
            path: dir.path().join("db.db"),
            busy_timeout: HumanDuration::secs(1),
            ..DatabaseConfig::default()
        };
        let db = Db::open(&Target::sqlite(&config)).await.unwrap();
        let Db::Sqlite(store) = &db else {
            panic!("a SQLite target opens SQLite");
        };
        let failed = on_sqlite(store, |_| -> Result<(), StoreError> {
            panic!("a query panics")
        });
        assert!(matches!(failed.await, Err(StoreError::Task(_))));
        let p = NewPayment::parse("tok", None, None).unwrap();
        db.enqueue(p, 1_000, 2_000).await.unwrap();
        let row = db.clone().get("tok".to_owned()).await.unwrap().unwrap();
        assert_eq!((row.token.as_str(), row.next_poll_at), ("tok", Some(2_000)));
    }
}

#[cfg(test)]
mod postgres_tests;
