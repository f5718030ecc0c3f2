//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! A new database gets `schema.sql` (the public contract, always the latest version) in one
//! step. An existing one gets each migration after its version, in order, each in its own
//! transaction. A database from a newer release is refused: we never guess at a schema we
//! do not know.

use super::StoreError;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;

/// The whole current schema, as published at the repository root.
pub const SCHEMA_SQL: &str = include_str!("../../../schema.sql");

/// One migration: plain SQL, or code for what SQL alone cannot say.
enum Step {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> Result<(), StoreError>),
}

/// Migration `MIGRATIONS[i]` takes a database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[Step] = &[
    Step::Sql(include_str!("../../../migrations/0002_events.sql")),
    Step::Sql(include_str!("../../../migrations/0003_reports.sql")),
    Step::Code(version_4),
    Step::Sql(include_str!("../../../migrations/0005_callbacks.sql")),
    Step::Sql(include_str!("../../../migrations/0006_payouts.sql")),
    Step::Sql(include_str!("../../../migrations/0007_contradictions.sql")),
    Step::Sql(include_str!("../../../migrations/0008_cases.sql")),
    Step::Sql(include_str!("../../../migrations/0009_answers.sql")),
];

/// The `IN (...)` CHECK constraints of versions 1 to 3, rewritten as OR chains by
/// [`checks_without_in_lists`]: (table, column, allowed values).
const LISTED_CHECKS: [(&str, &str, &[&str]); 3] = [
    (
        "payments",
        "status",
        &[
            "pending",
            "completed",
            "notcompleted",
            "timeout",
            "mismatch",
            "invalid_token",
        ],
    ),
    ("events", "state", &["pending", "delivered", "dead"]),
    (
        "event_deliveries",
        "state",
        &["pending", "delivered", "dead"],
    ),
];

/// Version 3 to 4: cheaper writes and an index for the oldest pending payment's age.
fn version_4(tx: &Transaction<'_>) -> Result<(), StoreError> {
    checks_without_in_lists(tx)?;
    tx.execute_batch(PENDING_AGE_INDEX)?;
    Ok(())
}

/// As in `schema.sql`: `/metrics` reads the oldest pending payment's age from it.
const PENDING_AGE_INDEX: &str = "CREATE INDEX IF NOT EXISTS payments_pending_age \
    ON payments (created_at) WHERE status = 'pending';";

/// SQLite evaluates a CHECK's `IN (...)` list of three or more values
/// by building a temporary B-tree on every insert or update of the column: about a fifth
/// of the cost of recording a confirm outcome. The same constraint as an OR chain costs
/// nothing. A CHECK is only text in the schema (rows are not rewritten), so this uses
/// SQLite's documented procedure for such changes ("Making Other Kinds Of Table Schema
/// Changes" in the ALTER TABLE page): edit `sqlite_schema` under `writable_schema` and
/// bump `schema_version`, in the migration's transaction. Instant even on a table of
/// millions of rows, where rebuilding the table would copy every row.
fn checks_without_in_lists(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let mut rewrites = Vec::new();
    for (table, column, values) in LISTED_CHECKS {
        let sql: String = tx.query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if let Some(rewritten) = or_chain_check(&sql, column, values) {
            rewrites.push((table, rewritten));
        }
    }
    replace_table_sql(tx, &rewrites)
}

/// Replaces the `CREATE TABLE` text of tables whose rows stay valid as they are, by the
/// procedure above. Reading each table afterwards makes SQLite parse the new text: a
/// malformed edit fails here, and dropping the transaction leaves the file as it was.
/// (Constant time, unlike `integrity_check`, which reads every row of every table.)
fn replace_table_sql(tx: &Transaction<'_>, rewrites: &[(&str, String)]) -> Result<(), StoreError> {
    if rewrites.is_empty() {
        return Ok(());
    }
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.pragma_update(None, "writable_schema", true)?;
    for (table, sql) in rewrites {
        tx.execute(
            "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2",
            [sql.as_str(), table],
        )?;
    }
    tx.pragma_update(None, "schema_version", version + 1)?;
    tx.pragma_update(None, "writable_schema", false)?;
    for (table, _) in rewrites {
        // Stepping, not just preparing: SQLite notices the new schema version (and reloads
        // the schema) only when a statement runs.
        tx.query_row(
            &format!("SELECT count(*) FROM (SELECT * FROM {table} LIMIT 0)"),
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| StoreError::Migration(format!("rewriting the schema of {table}: {e}")))?;
    }
    Ok(())
}

/// `sql` with `CHECK (column IN (...))` replaced by the equivalent OR chain over
/// `values`; `None` when the table has no such CHECK (already rewritten, or customised).
fn or_chain_check(sql: &str, column: &str, values: &[&str]) -> Option<String> {
    let opening = format!("CHECK ({column} IN (");
    let start = sql.find(&opening)?;
    let end = start + sql[start..].find("))")? + 2;
    let chain = values
        .iter()
        .map(|v| format!("{column} = '{v}'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    Some(format!("{}CHECK ({chain}){}", &sql[..start], &sql[end..]))
}

/// Schema version 1 as released, kept to test upgrades from it.
#[cfg(test)]
const SCHEMA_V1_SQL: &str = include_str!("../../../migrations/0001_initial.sql");

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
        existing_tables_match(&tx, path)?;
        run_script(&tx, SCHEMA_SQL)?;
    } else {
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize - 1) {
            match step {
                Step::Sql(sql) => run_script(&tx, sql)?,
                Step::Code(run) => run(&tx)?,
            }
            tx.pragma_update(None, "user_version", i as i64 + 2)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Runs a migration script. SQLite's error for a script names the whole script; this
/// keeps its message only, so the error stays one readable line.
fn run_script(tx: &Transaction<'_>, sql: &str) -> Result<(), StoreError> {
    tx.execute_batch(sql).map_err(|e| match e {
        rusqlite::Error::SqlInputError { msg, .. } => StoreError::Migration(msg),
        other => other.into(),
    })
}

/// A fresh database (version 0) may already hold a table of `schema.sql`'s names: a shop
/// may have made its own `payments` before. `CREATE TABLE IF NOT EXISTS` would keep it,
/// and the first index on a column it lacks would fail. Names the first such table and
/// what it lacks instead, compared with `schema.sql` applied to an empty in-memory database.
fn existing_tables_match(tx: &Transaction<'_>, path: &Path) -> Result<(), StoreError> {
    let reference = Connection::open_in_memory()?;
    reference.execute_batch(SCHEMA_SQL)?;
    let tables: Vec<String> = reference
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for table in tables {
        let have = columns(tx, &table)?;
        if have.is_empty() {
            continue;
        }
        let missing: Vec<String> = columns(&reference, &table)?
            .into_iter()
            .filter(|c| !have.contains(c))
            .collect();
        if let Some(first) = missing.first() {
            let missing = match missing.len() {
                1 => format!("column {first}"),
                n => format!("columns {first} and {} more", n - 1),
            };
            return Err(StoreError::Incompatible {
                path: path.to_owned(),
                table,
                missing,
            });
        }
    }
    Ok(())
}

/// A table's column names, lower-cased (SQLite's names are case-insensitive); none when
/// there is no such table.
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT lower(name) FROM pragma_table_info(?1)")?
        .query_map([table], |r| r.get(0))?
        .collect()
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

    /// Tables, indexes and views as SQLite records them, whitespace-normalised. `ALTER
    /// TABLE ... ADD COLUMN` (version 6) appends `, <column>` to the text before the
    /// table's closing parenthesis: space before `,` or `)` does not count.
    fn shape(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(|row| {
                let (name, sql) = row.unwrap();
                let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                (name, sql.replace(" ,", ",").replace(" )", ")"))
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

    /// Version 4 rewrote the CHECK lists: they must still refuse what they refused, and
    /// writing a status or state must no longer build a temporary B-tree.
    #[test]
    fn checks_refuse_bad_values_without_temporary_btrees() {
        let dir = tempfile::tempdir().unwrap();
        for upgraded in [true, false] {
            let path = dir.path().join(format!("r{upgraded}.db"));
            let mut conn = Connection::open(&path).unwrap();
            if upgraded {
                conn.execute_batch(SCHEMA_V1_SQL).unwrap();
            }
            migrate(&mut conn, &path).unwrap();
            let bad = conn.execute(
                "INSERT INTO payments (token, status) VALUES ('t', 'paid')",
                [],
            );
            assert!(bad.unwrap_err().to_string().contains("CHECK"), "{path:?}");
            conn.execute(
                "INSERT INTO payments (token, status) VALUES ('t', 'invalid_token')",
                [],
            )
            .unwrap();
            let bad = conn.execute(
                "INSERT INTO events (id, type, payload, created_at, state) \
                 VALUES ('e', 'x', '{}', 0, 'lost')",
                [],
            );
            assert!(bad.unwrap_err().to_string().contains("CHECK"));
            for sql in [
                "UPDATE payments SET status = ?1 WHERE id = 1",
                "INSERT INTO events (id, type, payload, created_at, state) VALUES ('e', 'x', '{}', 0, ?1)",
                "UPDATE event_deliveries SET state = ?1",
            ] {
                let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
                let ops: Vec<String> = stmt
                    .query_map(["pending"], |r| r.get(1))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                assert!(
                    !ops.iter().any(|op| op == "OpenEphemeral"),
                    "{sql}: {ops:?}"
                );
            }
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok");
        }
    }

    /// A rewrite SQLite cannot parse is refused and, the transaction dropped, the table is
    /// exactly as it was.
    #[test]
    fn a_malformed_schema_rewrite_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let before = shape(&conn);
        {
            let tx = conn.transaction().unwrap();
            let broken = [(
                "events",
                "CREATE TABLE events (seq INTEGER PRIMARY KEY,".to_owned(),
            )];
            let err = replace_table_sql(&tx, &broken).unwrap_err();
            assert!(err.to_string().contains("events"), "{err}");
        }
        assert_eq!(shape(&conn), before);
        conn.execute(
            "INSERT INTO events (id, type, payload, created_at, state) VALUES ('e', 'x', '{}', 0, 'dead')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn or_chain_leaves_a_table_without_the_list_alone() {
        let sql = "CREATE TABLE t (s TEXT CHECK (s = 'a' OR s = 'b'))";
        assert_eq!(or_chain_check(sql, "s", &["a", "b"]), None);
        let listed = "CREATE TABLE t (s TEXT CHECK (s IN ('a',\n 'b')), n INT)";
        assert_eq!(
            or_chain_check(listed, "s", &["a", "b"]).unwrap(),
            "CREATE TABLE t (s TEXT CHECK (s = 'a' OR s = 'b'), n INT)"
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
