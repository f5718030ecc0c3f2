//! The SQLite backend: the file shared with the shop, opened with the right pragmas and
//! migrated, and the operations of [`super::Db`] as SQLite runs them, synchronously, on a
//! connection of the pool (`db::Connections`).
//!
//! Every connection uses WAL (the shop reads while we write), `synchronous=FULL` (a
//! resolved payment must survive power loss), a busy timeout (the shop's own writes make us
//! wait, never fail), and writes start with `BEGIN IMMEDIATE` so they never deadlock on a
//! read-to-write upgrade. SQLite's type affinity lets a shop write a value of the wrong
//! type: such rows are read leniently (`mistyped`) and, when due, parked (`parked`).

mod callbacks;
pub mod cases;
mod deliveries;
mod due_row;
mod events;
mod evidence;
pub mod migrations;
pub(crate) mod mistyped;
mod money_out;
mod outcomes;
pub mod parked;
pub mod payments;
mod reports;
mod rows;

use super::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

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
