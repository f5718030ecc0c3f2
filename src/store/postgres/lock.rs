//! One node at a time (issue 17): the nightly report and the re-check run under a
//! session-level advisory lock held on a connection of its own, taken out of the pool. The
//! lock lives as long as that connection: released by [`SessionLock::release`], by
//! dropping the holder (the connection is closed), or by the server when the node dies
//! and its connection goes with it. Nothing is left behind for an operator to clear; a day
//! missed because the holder died is caught up by the next node to take the lock (the
//! report's catch-up from `report_runs`).

use super::PgStore;
use super::cached::Cached;
use crate::store::StoreError;
use deadpool_postgres::{ClientWrapper, Object};

/// The advisory lock key of the nightly report and re-check ("ldcr" + 2; migrations take
/// "ldcr" + 1, transaction-scoped).
pub const REPORT_LOCK: i64 = 0x6c64_6372_0002;

/// The advisory lock key of scheduling the rows the shop inserted without a poll time
/// ("ldcr" + 3), transaction-scoped: one node schedules them, a batch at a time.
pub const SCHEDULE_LOCK: i64 = 0x6c64_6372_0003;

/// A held advisory lock and the connection that holds it.
pub struct SessionLock {
    key: i64,
    client: ClientWrapper,
}

impl std::fmt::Debug for SessionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLock")
            .field("key", &self.key)
            .field("held", &self.is_held())
            .finish()
    }
}

impl SessionLock {
    /// False once the connection is lost: the server has released the lock, and another
    /// node may hold it now. The holder stops its work at the next step.
    pub fn is_held(&self) -> bool {
        !self.client.is_closed()
    }

    /// The server's process id of the holding connection (for tests and logs).
    pub async fn backend_pid(&self) -> Result<i32, StoreError> {
        let row = self
            .client
            .query_one_cached("SELECT pg_backend_pid()", &[])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Releases the lock and closes its connection.
    pub async fn release(self) -> Result<(), StoreError> {
        self.client
            .execute_cached("SELECT pg_advisory_unlock($1)", &[&self.key])
            .await?;
        Ok(())
    }
}

impl PgStore {
    /// Takes the advisory lock `key` for this session if no other session holds it:
    /// `None` when another node does. Never waits.
    pub async fn try_session_lock(&self, key: i64) -> Result<Option<SessionLock>, StoreError> {
        // Out of the pool: a pooled connection would carry the lock to its next user.
        let client = Object::take(self.conn().await?);
        let row = client
            .query_one_cached("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?;
        let taken: bool = row.try_get(0)?;
        Ok(taken.then_some(SessionLock { key, client }))
    }

    /// [`Self::try_session_lock`] on [`REPORT_LOCK`].
    pub async fn try_report_lock(&self) -> Result<Option<SessionLock>, StoreError> {
        self.try_session_lock(REPORT_LOCK).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestServer;
    use super::super::{ClaimPolicy, PgStore};
    use super::*;
    use std::time::Duration;

    /// Waits until the server has ended the session `pid` (its lock is then released);
    /// false if it is still there after a minute.
    async fn session_ended(store: &PgStore, pid: i32) -> bool {
        let conn = store.conn().await.unwrap();
        for _ in 0..600 {
            let row = conn
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Two nodes: the second is refused while the first holds the lock, and gets it once
    /// the first releases it, drops it, or dies with its connection.
    #[tokio::test]
    async fn the_report_lock_has_one_holder_until_its_connection_ends() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let a = pg.store("lock", "node-a").await;
        let b = PgStore::open(&pg.settings("lock"), 2, ClaimPolicy::new("node-b", 1, 1))
            .await
            .unwrap();

        let held = a.try_report_lock().await.unwrap().expect("free at first");
        assert!(held.is_held());
        assert!(b.try_report_lock().await.unwrap().is_none(), "a holds it");
        assert!(
            a.try_report_lock().await.unwrap().is_none(),
            "one per session"
        );
        // Another key is not this lock.
        let other = b.try_session_lock(REPORT_LOCK + 1).await.unwrap();
        assert!(other.is_some());

        // Released: b takes it, and a is refused in turn.
        held.release().await.unwrap();
        let held = b.try_report_lock().await.unwrap().expect("released");
        assert!(a.try_report_lock().await.unwrap().is_none(), "b holds it");

        // Dropped: the connection closes and the server lets the lock go.
        let pid = held.backend_pid().await.unwrap();
        drop(held);
        assert!(session_ended(&a, pid).await);
        let held = a.try_report_lock().await.unwrap().expect("dropped");

        // The holder dies: its connection is cut by the server, not closed by the node.
        let pid = held.backend_pid().await.unwrap();
        assert!(b.try_report_lock().await.unwrap().is_none(), "a holds it");
        let conn = b.conn().await.unwrap();
        conn.execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap();
        assert!(session_ended(&b, pid).await);
        let taken = b.try_report_lock().await.unwrap();
        assert!(taken.is_some(), "the dead holder's lock is free");
        // The dead holder notices on its next statement: its connection is gone.
        assert!(held.backend_pid().await.is_err());
        assert!(!held.is_held());
    }
}
