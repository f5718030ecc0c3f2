//! Versioned migrations of the PostgreSQL schema: `migrations/postgres/NNNN_*.sql`, each
//! recording its version in `schema_migrations`, applied in one transaction under an
//! advisory lock, so two nodes starting at once do not both apply a step (the second waits,
//! then finds nothing to do). A database newer than this build is refused (exit 4), with
//! the same message as SQLite's.
//!
//! `schema.postgres.sql` is the latest schema in one file, for people and for a DBA who
//! creates the database by hand; a test checks that it equals what the steps build.

use super::PgStore;
use super::errors::describe;
use crate::store::StoreError;

/// The steps, in order: step `i` (from 0) brings the schema to version `i + 1`.
const MIGRATIONS: [&str; 4] = [
    include_str!("../../../migrations/postgres/0001_initial.sql"),
    include_str!("../../../migrations/postgres/0002_contradictions.sql"),
    include_str!("../../../migrations/postgres/0003_cases.sql"),
    include_str!("../../../migrations/postgres/0004_answers.sql"),
];

/// The latest schema, as a DBA may apply it.
pub const SCHEMA_SQL: &str = include_str!("../../../schema.postgres.sql");

/// The version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key of migrations (any fixed number; "ldcr" + 1). Transaction-scoped:
/// released by the commit or by the connection dying, never left behind.
const MIGRATION_LOCK: i64 = 0x6c64_6372_0001;

impl PgStore {
    /// Brings the database to [`SCHEMA_VERSION`]; returns the version it found.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        // Read under the lock: another node may have migrated while we waited.
        let found = version_in(&*tx).await?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.shown.clone().into(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.batch_execute(step).await.map_err(|e| {
                StoreError::Migration(format!("to version {}: {}", i + 1, describe(&e)))
            })?;
        }
        // Each step records its version: one that did not is a broken build, not a schema.
        let now = version_in(&*tx).await?;
        if now != SCHEMA_VERSION {
            return Err(StoreError::Migration(format!(
                "the steps left version {now}, not {SCHEMA_VERSION}"
            )));
        }
        tx.commit().await?;
        Ok(found)
    }

    /// The schema version recorded in the database (0 for an empty one).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.conn().await?;
        version_in(&**conn).await
    }
}

/// The highest version in `schema_migrations`, 0 when the table does not exist.
async fn version_in(conn: &impl tokio_postgres::GenericClient) -> Result<i64, StoreError> {
    let exists: bool = conn
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let row = conn
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

#[cfg(test)]
#[path = "migrations_tests.rs"]
mod tests;
