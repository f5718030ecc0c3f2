//! Which PostgreSQL errors heal while the daemon runs (`StoreError::is_unwritable`): the
//! server or the connection went away, the server is shutting down or starting, the
//! database is read-only for now (a failover in progress, `default_transaction_read_only`),
//! the disk or the connection slots are full. The daemon waits these out: the poller makes
//! no new claims, writes are retried, `/readyz` fails. Any other error (a dropped table, a
//! constraint broken) is a fault and stops it.

use tokio_postgres::error::SqlState;

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

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::postgres::testing::TestServer;
    use crate::store::postgres::{ClaimPolicy, PgStore};

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
