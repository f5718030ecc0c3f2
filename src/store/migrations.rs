//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! A new database gets `schema.sql` (the public contract, always the latest version) in one
//! step. An existing one gets each migration after its version, in order, each in its own
//! transaction. A database from a newer release is refused: we never guess at a schema we
//! do not know.

use super::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The whole current schema, as published at the repository root.
pub const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// Migration `MIGRATIONS[i]` takes a database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[];

/// The version `schema.sql` sets; must equal 1 + the number of migrations.
pub const SCHEMA_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

/// Brings the database at `path` to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found == 0 {
        tx.execute_batch(SCHEMA_SQL)?;
    } else {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize - 1) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 2)?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_sql_declares_the_version_the_code_expects() {
        let line = format!("PRAGMA user_version = {SCHEMA_VERSION};");
        assert!(SCHEMA_SQL.contains(&line), "schema.sql must contain {line}");
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn, &path).unwrap_err();
        assert!(
            err.to_string().contains("upgrade ligdicash-reconciler"),
            "{err}"
        );
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }
}
