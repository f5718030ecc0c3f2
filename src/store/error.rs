//! [`StoreError`]: what can go wrong at the storage boundary, and which errors heal while
//! the daemon runs.

use super::postgres;
use std::path::PathBuf;

/// Errors at the storage boundary. Callers branch on the kind (exit codes, CLI messages).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "database {path} has schema version {found}, newer than version {supported} that this ligdicash-reconciler knows: upgrade ligdicash-reconciler"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "database {path}: an existing table `{table}` does not match schema.sql (missing {missing}); rename or drop that table, or use another database file"
    )]
    Incompatible {
        path: PathBuf,
        table: String,
        missing: String,
    },
    #[error("payment {token} is already enqueued with a different {field}")]
    Conflict { token: String, field: &'static str },
    #[error("no payment with token {0}")]
    NotFound(String),
    #[error(
        "cannot requeue {token}: its status is {status} (only timeout and invalid_token can be requeued)"
    )]
    NotRequeueable { token: String, status: String },
    #[error(
        "cannot requeue {token}: the row still cannot be read ({problem}); correct it first (see schema.sql)"
    )]
    StillUnreadable { token: String, problem: String },
    #[error("schema migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed: {0}")]
    Task(String),
    /// A PostgreSQL statement failed (`store::postgres`). Shown with the server's message
    /// and SQLSTATE (`postgres::errors::describe`): the driver's own text is "db error".
    #[error("database error: {}", postgres::errors::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool (`store::postgres`), already
    /// described (`postgres::errors::describe_pool`): why the server refused, or could not
    /// be reached.
    #[error("cannot reach the database: {0}")]
    PostgresPool(String),
    /// An operation of a database several daemons share (the node registry), asked of a
    /// SQLite file, which has one daemon.
    #[error("{0} exists only on a database several daemons share (PostgreSQL)")]
    NotShared(&'static str),
    /// A row holds what its column's constraints should have kept out.
    #[error("a row cannot be read: {0}")]
    Unreadable(String),
}

impl StoreError {
    /// A write the database refused for a reason outside the reconciler that can heal
    /// while it runs: a read-only file, a full disk, a lock held past `busy_timeout`, an
    /// I/O error; on PostgreSQL also a lost connection, a server shutting down or
    /// unreachable (`postgres::errors`). The daemon waits these out; any other error (a
    /// dropped table, a corrupt file) stops it with exit 4.
    pub fn is_unwritable(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Postgres(e) => return postgres::errors::heals(e),
            StoreError::PostgresPool(_) => return true,
            _ => {}
        }
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) if matches!(
                e.code,
                C::ReadOnly
                    | C::DiskFull
                    | C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::SystemIoFailure
                    | C::CannotOpen
                    | C::PermissionDenied
                    | C::FileLockingProtocolFailed
            )
        )
    }
}
