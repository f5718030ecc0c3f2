//! The cluster side of [`Db`]: the nodes sharing a PostgreSQL database, each registered and
//! heartbeating so the others know their share of the request rate
//! (`confirm::cluster`). A SQLite file has one daemon ([`Db::is_shared`] is false): these
//! operations are refused there, and nothing calls them.

use super::{Backend, Db};
use crate::store::StoreError;
use crate::time::Millis;

/// What a SQLite file answers to an operation of a shared database.
fn alone(what: &'static str) -> StoreError {
    StoreError::NotShared(what)
}

impl Db {
    /// Whether several daemons may share this database (PostgreSQL): claims then hold the
    /// rows each one confirms, and the nodes share `max_requests_per_second`.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// This process's id among the nodes (and in `claimed_by`), where the database is shared.
    pub fn node_id(&self) -> Option<&str> {
        self.postgres().map(|p| p.claim_policy().node.as_str())
    }

    /// Registers this node as alive at `now` (an earlier run's row with its id is taken
    /// over).
    pub async fn register_node(
        &self,
        started_at: Millis,
        version: String,
        now: Millis,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Err(alone("the node registry")),
            Backend::Postgres(p) => p.register_node(started_at, &version, now).await,
        }
    }

    /// One heartbeat at `now`; false when this node's row is gone (pruned while it was
    /// cut off): it registers again.
    pub async fn heartbeat(&self, now: Millis) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Err(alone("the node registry")),
            Backend::Postgres(p) => p.heartbeat(now).await,
        }
    }

    /// Removes this node (a clean stop): the others take its share at their next beat.
    pub async fn deregister_node(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Err(alone("the node registry")),
            Backend::Postgres(p) => p.deregister_node().await,
        }
    }

    /// The ids of the nodes that beat within `stale_after` of `now`, in one order every
    /// node reads alike (a node's rank in it deals its share).
    pub async fn live_nodes(
        &self,
        now: Millis,
        stale_after: Millis,
    ) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Err(alone("the node registry")),
            Backend::Postgres(p) => p.live_nodes(now, stale_after).await,
        }
    }

    /// Deletes the rows of nodes silent for more than `older_than`; how many.
    pub async fn prune_nodes(&self, now: Millis, older_than: Millis) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Err(alone("the node registry")),
            Backend::Postgres(p) => p.prune_nodes(now, older_than).await,
        }
    }
}
