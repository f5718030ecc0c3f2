//! Which PostgreSQL errors heal while the daemon runs (`StoreError::is_unwritable`): the
//! server or the connection went away, the server is shutting down or starting, the
//! database is read-only for now (a failover in progress, `default_transaction_read_only`),
//! the disk or the connection slots are full. The daemon waits these out: the poller makes
//! no new claims, writes are retried, `/readyz` fails. Any other error (a dropped table, a
//! constraint broken) is a fault and stops it.
//!
//! Also how such an error reads ([`describe`], [`describe_pool`]): the driver's own
//! `Display` says only "db error" for whatever the server refused, so a wrong password, a
//! missing database and a closed port all looked alike. Every store error's message goes
//! through here (`StoreError`'s `Display`), so every log line and CLI error names the
//! server's reason and SQLSTATE. The password is never part of an error: the server does
//! not repeat it, and the driver's messages do not carry the connection settings.

use deadpool_postgres::{HookError, PoolError};
use tokio_postgres::error::{DbError, SqlState};

/// Whether `e` is one that heals; see the module docs.
pub fn heals(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection failed (I/O, TLS, a timeout), not the statement.
        return e.as_db_error().is_none();
    };
    let healing = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::DISK_FULL,
        SqlState::OUT_OF_MEMORY,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::QUERY_CANCELED,
        SqlState::IDLE_SESSION_TIMEOUT,
    ];
    // Class 08: connection exceptions; class 53: insufficient resources; 58030: I/O error.
    let class = code.code().get(..2);
    healing.contains(code) || matches!(class, Some("08" | "53")) || *code == SqlState::IO_ERROR
}

/// One line an operator can act on: what the server said, with its severity and SQLSTATE
/// (`FATAL: password authentication failed for user "shop" (SQLSTATE 28P01)`), or, when
/// the server said nothing (it could not be reached), the driver's error and its causes
/// (`error connecting to server: Connection refused (os error 111)`).
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => server_said(db),
        None => std::iter::successors(Some(e as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": "),
    }
}

/// [`describe`] for a connection the pool could not make; the pool's own words ("Error
/// occurred while creating a new object") only when the driver had nothing to say.
pub fn describe_pool(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => describe(e),
        other => other.to_string(),
    }
}

/// The server's error on one line: severity, message, SQLSTATE, then its detail and hint.
fn server_said(db: &DbError) -> String {
    let mut text = format!(
        "{}: {} (SQLSTATE {})",
        db.severity(),
        db.message(),
        db.code().code()
    );
    if let Some(detail) = db.detail() {
        text.push_str("; DETAIL: ");
        text.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        text.push_str("; HINT: ");
        text.push_str(hint);
    }
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::postgres::testing::TestServer;
    use crate::store::postgres::{ClaimPolicy, PgStore};

    /// What `PgStore::open` prints, as `run` and every command would, for `url`.
    async fn open_error(url: String, password: Option<&str>) -> String {
        let settings = crate::config::PgSettings {
            url: crate::config::PgUrl::parse(&url).unwrap(),
            password: password.map(|p| secrecy::SecretString::from(p.to_owned())),
            source: "test".to_owned(),
        };
        match PgStore::open(&settings, 1, ClaimPolicy::new("n1", 1, 1)).await {
            Ok(_) => panic!("{url} opened"),
            Err(e) => e.to_string(),
        }
    }

    /// A wrong password, a missing database and a closed port each say which it is (the
    /// driver alone said "db error" for the first two), and never show the password.
    #[tokio::test]
    async fn a_connection_refused_by_the_server_or_the_network_says_why() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        pg.create_database("shop").await;
        pg.add_password_user("app", "right-pw").await;
        let url = |user: &str, db: &str, port: u16| {
            format!("postgres://{user}@127.0.0.1:{port}/{db}?sslmode=disable")
        };

        let wrong = open_error(url("app", "shop", pg.port), Some("wrong-SECRET-pw")).await;
        for needle in [
            "cannot reach the database",
            "password authentication failed for user \"app\"",
            "SQLSTATE 28P01",
        ] {
            assert!(wrong.contains(needle), "{needle}: {wrong}");
        }
        assert!(!wrong.contains("SECRET"), "{wrong}");

        let missing = open_error(url("postgres", "nope", pg.port), None).await;
        assert!(
            missing.contains("database \"nope\" does not exist (SQLSTATE 3D000)"),
            "{missing}"
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = open_error(url("postgres", "shop", port), Some("pw-SECRET")).await;
        assert!(
            refused
                .to_lowercase()
                .contains("error connecting to server: connection refused"),
            "{refused}"
        );
        assert!(!refused.contains("SECRET"), "{refused}");
    }

    /// A read-only database, the server shutting down under an open connection, and a
    /// server that is gone all heal; a missing table does not.
    #[tokio::test]
    async fn a_database_away_or_read_only_is_unwritable_and_a_missing_table_is_not() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let store = pg.store("heal", "n1").await;
        let fault = store
            .conn()
            .await
            .unwrap()
            .batch_execute("SELECT * FROM nope")
            .await;
        let fault = StoreError::from(fault.unwrap_err());
        assert!(!fault.is_unwritable(), "{fault}");
        let said = fault.to_string();
        assert!(
            said.contains(r#"ERROR: relation "nope" does not exist (SQLSTATE 42P01)"#),
            "{said}"
        );

        let c = store.conn().await.unwrap();
        c.batch_execute("SET default_transaction_read_only = on")
            .await
            .unwrap();
        let refused = c.batch_execute("DELETE FROM payments").await.unwrap_err();
        let refused = StoreError::from(refused);
        assert!(refused.is_unwritable(), "{refused}");
        drop(c);

        // The server terminates this session (as a shutdown or a failover does).
        let held = store.conn().await.unwrap();
        let other = PgStore::open(&pg.settings("heal"), 1, ClaimPolicy::new("n2", 1, 1))
            .await
            .unwrap();
        other
            .conn()
            .await
            .unwrap()
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = 'heal' AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
        let lost = StoreError::from(held.batch_execute("SELECT 1").await.unwrap_err());
        assert!(lost.is_unwritable(), "{lost}");
        drop(held);

        drop(pg);
        let p = crate::payment::NewPayment::parse("t", None, None).unwrap();
        let gone = other.enqueue(&p, 0, 0).await.unwrap_err();
        assert!(gone.is_unwritable(), "{gone}");
    }
}
