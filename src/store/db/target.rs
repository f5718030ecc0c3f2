//! [`Target`]: what [`Db::open`](super::Db::open) needs to open a handle: the backend the
//! configuration and the environment select (`[database] path`, or `url` /
//! `LIGDICASH_RECONCILER_DATABASE_URL` with its password) and, for PostgreSQL, how this
//! process claims rows. One `Target` per process: every handle opened from it claims as
//! the same node, so the poller's writer recognises the claims its scan made.

use crate::config::{Config, ConfigError, DatabaseBackend, DatabaseConfig};
use crate::store::postgres::ClaimPolicy;
use crate::time::Millis;

/// The shortest claim lease: longer than a confirm call and its write.
const MIN_LEASE_MS: Millis = 30_000;

/// Where the state lives and as which node this process claims rows.
#[derive(Debug, Clone)]
pub struct Target {
    pub backend: DatabaseBackend,
    pub claims: ClaimPolicy,
    /// `[database] max_connections`.
    pub max_connections: usize,
}

impl Target {
    /// The configured database. `env` supplies `LIGDICASH_RECONCILER_DATABASE_URL` and
    /// `PGPASSWORD` (the process's environment, or a fixed set in tests).
    pub fn from_config(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let backend = config.database_backend(env)?;
        let request_ms = Millis::try_from(config.ligdicash.request_timeout.0.as_millis())
            .unwrap_or(Millis::MAX / 4);
        let min_interval =
            Millis::try_from(config.poll.min_interval.0.as_millis()).unwrap_or(Millis::MAX / 4);
        let lease = lease_for(request_ms, min_interval);
        Ok(Self {
            backend,
            claims: ClaimPolicy::new(node_id(), lease, min_interval),
            max_connections: config.database.max_connections,
        })
    }

    /// The SQLite file of `[database]` alone (the demo, tests).
    pub fn sqlite(config: &DatabaseConfig) -> Self {
        Self {
            backend: DatabaseBackend::Sqlite {
                path: config.path.clone(),
                busy_timeout: config.busy_timeout.0,
            },
            claims: ClaimPolicy::new(node_id(), MIN_LEASE_MS, 3_000),
            max_connections: config.max_connections,
        }
    }

    /// The database as it may be shown: the SQLite file, or the URL without its password.
    pub fn shown(&self) -> String {
        match &self.backend {
            DatabaseBackend::Sqlite { path, .. } => path.display().to_string(),
            DatabaseBackend::Postgres(settings) => settings.url.shown(),
        }
    }

    /// Whether the state is in PostgreSQL (shared by several daemons).
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, DatabaseBackend::Postgres(_))
    }
}

/// A claimed row is sent within the first half of its lease ([`ClaimPolicy::send_window`]);
/// the second half covers that confirm call, its write, and `min_interval` with 10 s to
/// spare, so a node taking over an expired claim never confirms the token within
/// `min_interval` of the dead node's last send.
fn lease_for(request_ms: Millis, min_interval: Millis) -> Millis {
    let call_and_floor = request_ms.saturating_add(min_interval);
    MIN_LEASE_MS.max(call_and_floor.saturating_add(10_000).saturating_mul(2))
}

/// This process's node id in `claimed_by`: the host name, the process id and a random
/// part (a restarted process is a new node; the old one's claims expire).
fn node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The half of the lease after the last send covers the call and the floor.
    #[test]
    fn the_lease_leaves_a_whole_call_and_the_floor_after_the_send_window() {
        for (request, floor) in [(10_000, 3_000), (1_000, 3_000), (60_000, 10_000)] {
            let policy = ClaimPolicy::new("n", lease_for(request, floor), floor);
            assert!(policy.lease >= MIN_LEASE_MS);
            assert!(policy.lease - policy.send_window >= request + floor + 10_000);
        }
    }
}
