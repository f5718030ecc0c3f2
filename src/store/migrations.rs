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
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0002_events.sql"),
    include_str!("../../migrations/0003_reports.sql"),
];

/// Schema version 1 as released, kept to test upgrades from it.
#[cfg(test)]
const SCHEMA_V1_SQL: &str = include_str!("../../migrations/0001_initial.sql");

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

    /// Tables, indexes and views as SQLite records them, whitespace-normalised.
    fn shape(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(|row| {
                let (name, sql) = row.unwrap();
                (name, sql.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect()
    }

    #[test]
    fn upgrading_from_v1_gives_the_same_schema_as_schema_sql() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.db");
        let mut upgraded = Connection::open(&old).unwrap();
        upgraded.execute_batch(SCHEMA_V1_SQL).unwrap();
        upgraded
            .execute("INSERT INTO payments (token) VALUES ('kept')", [])
            .unwrap();
        migrate(&mut upgraded, &old).unwrap();
        let fresh_path = dir.path().join("fresh.db");
        let mut fresh = Connection::open(&fresh_path).unwrap();
        migrate(&mut fresh, &fresh_path).unwrap();
        let (a, b) = (shape(&upgraded), shape(&fresh));
        let names = |s: &[(String, String)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            // ALTER-free migrations: each object's SQL is the same text modulo whitespace.
            assert_eq!(x, y, "{name}");
        }
        let kept: i64 = upgraded
            .query_row(
                "SELECT count(*) FROM payments WHERE token = 'kept'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1);
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
