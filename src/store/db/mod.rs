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

mod claims;
mod nodes;
mod ops;
mod pool;
mod reports;
mod target;

pub use pool::Connections;
pub use reports::ReportTurn;
pub use target::Target;

use super::postgres::PgStore;
use super::{Store, StoreError};
use crate::config::DatabaseBackend;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The process's handle on the database; see the module docs. Clones share the backend's
/// connections and the gauges' cached counts.
#[derive(Clone, Debug)]
pub struct Db {
    pub(in crate::store) backend: Backend,
    pub(in crate::store) counts: Arc<Mutex<Option<CachedCounts>>>,
}

/// The two databases the store speaks to.
#[derive(Clone, Debug)]
pub(in crate::store) enum Backend {
    /// Connections to one SQLite file, each used by one call at a time.
    Sqlite(Connections),
    /// A pool of PostgreSQL connections.
    Postgres(PgStore),
}

/// The counts behind the gauges (pending payments, events by state), until when they may
/// be reused (see [`Db::gauges`]).
#[derive(Debug, Clone)]
pub(in crate::store) struct CachedCounts {
    pending: i64,
    events_by_state: Vec<(String, i64)>,
    fresh_until: Instant,
}

/// Counting visits every pending payment and every event: the counts are reused for this
/// many times as long as counting took, so a backlog of millions never costs more than 1%
/// of a core however often they are asked. On SQLite that core is the daemon's own.
const RECOUNT_AFTER: u32 = 100;

/// On PostgreSQL the counting is done by the server, which every node shares: each node
/// spends a tenth of SQLite's budget, 0.1% of the server's core (ten nodes together 1%).
/// At a million pending payments (half a second to count) the counts are then minutes old
/// at worst; the metrics' help says they may lag.
const RECOUNT_AFTER_SHARED: u32 = 1_000;

/// Counts are reused for at least this long: a scraper and a probe asking at once share
/// one count, however fast counting a small table is.
const FRESH_AT_LEAST: Duration = Duration::from_secs(1);

/// How long counts that took `took` to make are reused, `times` times as long.
fn fresh_for(took: Duration, times: u32) -> Duration {
    (took * times).max(FRESH_AT_LEAST)
}

impl From<Backend> for Db {
    fn from(backend: Backend) -> Self {
        Self {
            backend,
            counts: Arc::default(),
        }
    }
}

impl From<PgStore> for Db {
    /// A handle on a PostgreSQL store opened by hand (tests).
    fn from(store: PgStore) -> Self {
        Backend::Postgres(store).into()
    }
}

impl From<Store> for Db {
    /// A handle on one SQLite connection opened by hand (tests): a pool of one.
    fn from(store: Store) -> Self {
        let path = store
            .connection()
            .path()
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        let cursor = Arc::default();
        Backend::Sqlite(Connections::from_store(
            store,
            path,
            Duration::from_secs(5),
            1,
            cursor,
        ))
        .into()
    }
}

impl Db {
    /// Opens the configured database, creating and migrating it as needed (a database
    /// from a newer version is refused): once per process, whose every part then shares
    /// this handle (clones) and its connections, at most `[database] max_connections`.
    /// On PostgreSQL the migration runs under an advisory lock, so nodes starting
    /// together do not race.
    pub async fn open(target: &Target) -> Result<Self, StoreError> {
        let backend = match &target.backend {
            DatabaseBackend::Sqlite { path, busy_timeout } => Backend::Sqlite(
                Connections::open(path.clone(), *busy_timeout, target.max_connections).await?,
            ),
            DatabaseBackend::Postgres(settings) => {
                let store =
                    PgStore::open(settings, target.max_connections, target.claims.clone()).await?;
                store.migrate().await?;
                Backend::Postgres(store)
            }
        };
        Ok(backend.into())
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
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(p) => Some(p),
        }
    }

    /// The database's gauges for `/metrics`, `/readyz` and systemd's STATUS line. The
    /// counts of pending payments and of events by state are reused for [`RECOUNT_AFTER`]
    /// times as long as counting them took on SQLite, [`RECOUNT_AFTER_SHARED`] times on
    /// PostgreSQL (a second at least), by every clone of this handle: between two recounts they may be behind by what changed meanwhile (the
    /// metrics' help says so); the other gauges are read afresh each time.
    pub async fn gauges(&self) -> Result<super::DbGauges, StoreError> {
        let cached = lock(&self.counts)
            .clone()
            .filter(|c| Instant::now() < c.fresh_until);
        let recount = cached.is_none();
        let times = match self.backend {
            Backend::Sqlite(_) => RECOUNT_AFTER,
            Backend::Postgres(_) => RECOUNT_AFTER_SHARED,
        };
        let started = Instant::now();
        let mut gauges = self.gauges_reading(recount).await?;
        match cached {
            Some(c) => {
                gauges.pending = c.pending;
                gauges.events_by_state = c.events_by_state;
            }
            None => {
                *lock(&self.counts) = Some(CachedCounts {
                    pending: gauges.pending,
                    events_by_state: gauges.events_by_state.clone(),
                    fresh_until: Instant::now() + fresh_for(started.elapsed(), times),
                });
            }
        }
        Ok(gauges)
    }
}

pub(in crate::store) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseConfig, HumanDuration};
    use crate::payment::NewPayment;

    /// A call that panics fails alone (its caller gets an error, the daemon goes on), and
    /// the connection it held serves the next call: it goes back to the pool.
    #[tokio::test]
    async fn a_panicking_call_fails_alone_and_leaves_the_connection_usable() {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig {
            path: dir.path().join("db.db"),
            busy_timeout: HumanDuration::secs(1),
            ..DatabaseConfig::default()
        };
        let db = Db::open(&Target::sqlite(&config)).await.unwrap();
        let Backend::Sqlite(store) = &db.backend else {
            panic!("a SQLite target opens SQLite");
        };
        let failed = store.run(|_| -> Result<(), StoreError> { panic!("a query panics") });
        assert!(matches!(failed.await, Err(StoreError::Task(_))));
        let p = NewPayment::parse("tok", None, None).unwrap();
        db.enqueue(p, 1_000, 2_000).await.unwrap();
        let row = db.clone().get("tok".to_owned()).await.unwrap().unwrap();
        assert_eq!((row.token.as_str(), row.next_poll_at), ("tok", Some(2_000)));
    }
}
