//! The nodes sharing one database (issue 17): each registers, heartbeats every
//! [`TIMING.heartbeat`](crate::confirm::cluster::TIMING) and deregisters on a clean stop.
//! The live list (a heartbeat within `stale_after`) gives each node its share of the
//! cluster's rate; a node that died stays in the table until pruned, but stops counting
//! once its heartbeat is stale. Times are the nodes' clocks, as for claims: the nodes'
//! clocks must agree to well under a second (NTP).

use super::PgStore;
use super::cached::Cached;
use crate::store::StoreError;
use crate::time::Millis;

impl PgStore {
    /// Registers this node (the claim policy's id) as alive at `now`; a row left by an
    /// earlier run with the same id is taken over.
    pub async fn register_node(
        &self,
        started_at: Millis,
        version: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute_cached(
                "INSERT INTO nodes (id, started_at, heartbeat_at, version) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
                 started_at = $2, heartbeat_at = $3, version = $4",
                &[&self.claims.node, &started_at, &now, &version],
            )
            .await?;
        Ok(())
    }

    /// One heartbeat at `now`, a single UPDATE; false when the row is gone (pruned while
    /// this node was cut off): the caller registers again.
    pub async fn heartbeat(&self, now: Millis) -> Result<bool, StoreError> {
        let updated = self
            .conn()
            .await?
            .execute_cached(
                "UPDATE nodes SET heartbeat_at = $2 WHERE id = $1",
                &[&self.claims.node, &now],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Removes this node (a clean stop): the others take its share at their next
    /// heartbeat instead of after the stale window.
    pub async fn deregister_node(&self) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute_cached("DELETE FROM nodes WHERE id = $1", &[&self.claims.node])
            .await?;
        Ok(())
    }

    /// The ids of the nodes whose heartbeat is at most `stale_after` old at `now`, in
    /// byte order: a node's rank in this list is the same for every node reading it.
    pub async fn live_nodes(
        &self,
        now: Millis,
        stale_after: Millis,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query_cached(
                "SELECT id FROM nodes WHERE heartbeat_at >= $1::bigint - $2::bigint ORDER BY id COLLATE \"C\"",
                &[&now, &stale_after],
            )
            .await?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// Deletes the rows of nodes whose heartbeat is more than `older_than` old at `now`;
    /// how many.
    pub async fn prune_nodes(&self, now: Millis, older_than: Millis) -> Result<u64, StoreError> {
        let pruned = self
            .conn()
            .await?
            .execute_cached(
                "DELETE FROM nodes WHERE heartbeat_at < $1::bigint - $2::bigint",
                &[&now, &older_than],
            )
            .await?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestServer;
    use super::super::{ClaimPolicy, PgStore};
    use super::*;

    const T: Millis = 1_700_000_000_000;

    async fn node(pg: &TestServer, db: &str, id: &str) -> PgStore {
        PgStore::open(&pg.settings(db), 2, ClaimPolicy::new(id, 30_000, 3_000))
            .await
            .unwrap()
    }

    async fn row(store: &PgStore, id: &str) -> Option<(Millis, Millis, String)> {
        let conn = store.conn().await.unwrap();
        let row = conn
            .query_opt(
                "SELECT started_at, heartbeat_at, version FROM nodes WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap()?;
        Some((row.get(0), row.get(1), row.get(2)))
    }

    /// Register, heartbeat, count the fresh ones, prune the stale ones, deregister.
    #[tokio::test]
    async fn nodes_register_heartbeat_go_stale_are_pruned_and_deregister() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let b = pg.store("nodes", "node-b").await;
        let a = node(&pg, "nodes", "node-a").await;
        let c = node(&pg, "nodes", "node-c").await;
        assert_eq!(a.live_nodes(T, 3_000).await.unwrap(), Vec::<String>::new());
        b.register_node(T, "0.1.0", T).await.unwrap();
        a.register_node(T + 10, "0.2.0", T + 10).await.unwrap();
        c.register_node(T - 60_000, "0.1.0", T - 60_000)
            .await
            .unwrap();
        let (b_id, a_id) = ("node-b".to_owned(), "node-a".to_owned());
        assert_eq!(
            row(&a, "node-a").await,
            Some((T + 10, T + 10, "0.2.0".to_owned()))
        );
        // c's heartbeat is a minute old: registered, not live.
        assert_eq!(
            a.live_nodes(T + 1_000, 3_000).await.unwrap(),
            [a_id.clone(), b_id.clone()]
        );

        assert!(b.heartbeat(T + 2_000).await.unwrap());
        assert_eq!(row(&b, "node-b").await.map(|r| r.1), Some(T + 2_000));
        // At T + 3_010 a's heartbeat (T + 10) is exactly 3 s old: still live; then stale.
        assert_eq!(
            a.live_nodes(T + 3_010, 3_000).await.unwrap(),
            [a_id.clone(), b_id.clone()]
        );
        assert_eq!(
            a.live_nodes(T + 3_011, 3_000).await.unwrap(),
            ["node-b".to_owned()]
        );

        assert_eq!(b.prune_nodes(T + 3_011, 60_000).await.unwrap(), 1, "c");
        assert_eq!(row(&b, "node-c").await, None);
        assert!(
            !c.heartbeat(T + 4_000).await.unwrap(),
            "pruned: register again"
        );
        c.register_node(T + 4_000, "0.1.0", T + 4_000)
            .await
            .unwrap();
        assert!(c.heartbeat(T + 4_500).await.unwrap());

        b.deregister_node().await.unwrap();
        assert_eq!(
            a.live_nodes(T + 4_500, 3_000).await.unwrap(),
            ["node-c".to_owned()]
        );
        // Registering again over an old row of the same id takes it over.
        a.register_node(T + 5_000, "0.3.0", T + 5_000)
            .await
            .unwrap();
        assert_eq!(
            row(&a, "node-a").await,
            Some((T + 5_000, T + 5_000, "0.3.0".to_owned()))
        );
    }
}
