//! The PostgreSQL store (issue 17, docs/postgres-design.md): the operations of the SQLite
//! [`Store`](super::Store), with the same names and types, native async over a pool, for
//! shops that run several daemons on one database: the `Postgres` arm of the store
//! facade (`store::Db`).
//!
//! What differs from SQLite is the SQL, never the policy: the compare-and-set writes of
//! outcomes, the events in the same transaction, the idempotent enqueue. Two things are
//! new for the cluster: `due` is a *claim* (`FOR UPDATE SKIP LOCKED` plus a lease, so two
//! nodes never confirm one payment at once and a dead node's rows are taken over), and it
//! records `last_sent_at`, so LigdiCash's 3 s floor holds across nodes ([`ClaimPolicy`]).
//! PostgreSQL refuses a value of the wrong type at INSERT, so no row is parked here.
//!
//! Lifecycle: [`PgStore::open`] builds the pool (TLS per `sslmode`, see [`connect`]) and
//! checks one connection; [`PgStore::migrate`] brings the schema to
//! [`migrations::SCHEMA_VERSION`] under an advisory lock. The pool reconnects by itself: a
//! connection that broke is dropped when it is next taken.

mod cached;
mod callbacks;
mod cases;
mod claim_one;
pub mod connect;
pub mod errors;
mod events;
mod evidence;
pub mod lock;
pub mod migrations;
mod nodes;
mod outbox;
mod outbox_read;
mod outcomes;
mod payments;
mod read;
mod reports;
mod rows;

#[cfg(test)]
pub(crate) mod testing;

use super::StoreError;
use crate::config::PgSettings;
use crate::time::Millis;
use deadpool_postgres::{Object, Pool};

/// How this node claims due payments from the table it shares with others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPolicy {
    /// This node's id in `claimed_by` and `nodes`.
    pub node: String,
    /// How long a claim holds: a node that died frees its rows after this. Longer than a
    /// confirm call and its write, or a slow node's row would be confirmed twice.
    pub lease: Millis,
    /// LigdiCash's floor between two confirms of one token (`poll.min_interval`), kept from
    /// `last_sent_at` whatever node sent the last one.
    pub min_interval: Millis,
    /// How long after its claim a row may still be sent: half the lease. A confirm sent
    /// later could still be in flight, or just answered, when the lease runs out and
    /// another node takes the row over (the lease is sized so that half of it covers a
    /// whole confirm call and `min_interval`; see `store::Target`).
    pub send_window: Millis,
}

impl ClaimPolicy {
    /// A policy for `node` with the given lease and floor.
    pub fn new(node: impl Into<String>, lease: Millis, min_interval: Millis) -> Self {
        Self {
            node: node.into(),
            lease,
            min_interval,
            send_window: lease / 2,
        }
    }
}

/// A pool of connections to one PostgreSQL database. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The URL without its password, for errors and logs.
    shown: String,
    claims: ClaimPolicy,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .field("node", &self.claims.node)
            .finish()
    }
}

impl PgStore {
    /// Builds the pool of at most `max_connections` and checks that one connection can be
    /// made, so a wrong host or password fails at start with the server's reason.
    pub async fn open(
        settings: &PgSettings,
        max_connections: usize,
        claims: ClaimPolicy,
    ) -> Result<Self, StoreError> {
        let shown = settings.url.shown();
        let pool = connect::pool(settings, max_connections).map_err(|reason| StoreError::Open {
            path: shown.clone().into(),
            reason,
        })?;
        let store = Self {
            pool,
            shown,
            claims,
        };
        let checked = store.conn().await.map_err(|e| StoreError::Open {
            path: store.shown.clone().into(),
            reason: e.to_string(),
        })?;
        drop(checked);
        Ok(store)
    }

    /// The URL as it may be shown (no password).
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// How this node claims rows.
    pub fn claim_policy(&self) -> &ClaimPolicy {
        &self.claims
    }

    /// A connection from the pool, for tests that change the database under the store.
    #[cfg(test)]
    pub(crate) async fn conn_for_tests(&self) -> Object {
        self.conn().await.expect("a connection")
    }

    /// A connection from the pool.
    async fn conn(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::PostgresPool(errors::describe_pool(&e)))
    }
}
