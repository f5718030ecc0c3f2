//! The SQLite store shared with the shop: opening with the right pragmas, versioned
//! migrations, and the queries of [`payments`].
//!
//! Every connection uses WAL (the shop reads while we write), `synchronous=FULL` (a
//! resolved payment must survive power loss), a busy timeout (the shop's own writes make us
//! wait, never fail), and writes start with `BEGIN IMMEDIATE` so they never deadlock on a
//! read-to-write upgrade.
//!
//! Callers outside this module never hold a [`Store`]: they use [`Db`], the async store
//! interface, whose SQLite arm runs these synchronous queries on the blocking pool.

pub mod callbacks;
mod db;
pub mod deliveries;
mod due_row;
pub mod events;
pub mod migrations;
pub(crate) mod mistyped;
pub mod money_out;
mod outcomes;
pub mod parked;
pub mod payments;
pub mod postgres;
pub mod reports;
pub mod rows;

pub use db::outbox::SinkDelivery;
pub use db::{Db, ReportTurn, Target};
pub use rows::{PaymentFilter, PaymentRow};

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

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

/// Statuses are read from the database as the domain type: the CHECK constraint of
/// `schema.sql` keeps any other text out, and one that got in anyway is a conversion error
/// (a row that cannot be read), never a panic.
impl rusqlite::types::FromSql for crate::payment::Status {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown status {text:?}").into())
        })
    }
}

/// Kinds are read as the domain type, by the same reasoning as statuses.
impl rusqlite::types::FromSql for crate::payment::Kind {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown kind {text:?}").into())
        })
    }
}

/// One connection to the database, migrated to the current schema.
pub struct Store {
    conn: Connection,
    /// The id after which the next re-check of parked rows starts (see `parked`), shared
    /// by every connection of a pool.
    parked_cursor: Arc<AtomicI64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let mut store = Self::connect(path, busy_timeout)?;
        migrations::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    /// Shares `cursor` with the other connections of a pool.
    pub fn sharing_cursor(self, cursor: Arc<AtomicI64>) -> Self {
        Self {
            parked_cursor: cursor,
            ..self
        }
    }

    /// Opens the database at `path` with the pragmas every connection needs, without
    /// migrating it (another connection of the process did).
    pub fn connect(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.to_owned(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(open_err(format!(
                "directory {} does not exist",
                parent.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(e.to_string()))?;
        configure(&conn, busy_timeout).map_err(|e| open_err(e.to_string()))?;
        Ok(Self {
            conn,
            parked_cursor: Arc::default(),
        })
    }

    /// Refuses a database this process can read but not write (SQLite then opens it
    /// read-only without a word): a daemon on it would confirm payments and record nothing.
    pub fn ensure_writable(&self) -> Result<(), StoreError> {
        if self.conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(StoreError::Open {
                path: self.conn.path().unwrap_or_default().into(),
                reason: "the file is read-only for this user: its owner and mode must let the reconciler write it (and create the -wal and -shm files beside it)".to_owned(),
            });
        }
        Ok(())
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Raw access for the few callers (tests, the demo summary) that need ad-hoc reads.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Pragmas every connection needs; see the module docs for why each one.
fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    conn.busy_timeout(busy_timeout)?;
    // journal_mode returns a row; query it so a read-only or corrupt file fails here.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "cannot switch to WAL journal mode (got {mode})"
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

#[cfg(test)]
mod testing;
