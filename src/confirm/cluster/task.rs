//! [`ClusterRate`]: each heartbeat, heartbeat this node, read the live nodes and set the
//! throttle's allotment ([`NodeRate`]). The daemon runs one per node on PostgreSQL; on
//! SQLite there is none and the throttle sends at the whole limit.

use super::{Allotment, Beat, NodeRate, Timing};
use crate::confirm::throttle::Throttle;
use crate::health::Writer;
use crate::metrics::Metrics;
use crate::store::{Db, StoreError};
use crate::time::{Millis, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows of nodes silent this long are deleted (a dead node stays visible to operators for
/// a while, and counts for nothing once stale).
pub const PRUNE_AFTER: Millis = 10 * 60 * 1000;

/// This node's membership of the cluster and its share of the rate.
pub struct ClusterRate {
    db: Db,
    throttle: Arc<Throttle>,
    timing: Timing,
    started_at: Millis,
    version: String,
    state: NodeRate,
    metrics: Arc<Metrics>,
    /// When the rows of long-dead nodes are pruned next.
    next_prune: Millis,
}

/// Rows dead for [`PRUNE_AFTER`] are pruned about this often, not at every heartbeat: a
/// statement a second per node kept the database awake for nothing (issue 27).
const PRUNE_EVERY: Millis = 60_000;

impl ClusterRate {
    /// Registers this node (the store's claim id) at `now` and holds the throttle: the
    /// node sends nothing until the others have made room ([`Timing::join_wait`]).
    pub async fn start(
        db: Db,
        throttle: Arc<Throttle>,
        timing: Timing,
        version: &str,
        now: Millis,
    ) -> Result<Self, StoreError> {
        throttle.set_allotment(Allotment::Hold);
        db.register_node(now, version.to_owned(), now).await?;
        Ok(Self {
            db,
            throttle,
            timing,
            started_at: now,
            version: version.to_owned(),
            state: NodeRate::registered(now),
            metrics: Arc::default(),
            next_prune: now,
        })
    }

    /// Reports to the daemon's metrics: failed heartbeats in the write health, where
    /// `/readyz` and the poller see them (a database that cannot be written is the same
    /// incident whichever writer meets it first), and this node's share and the live
    /// nodes as gauges.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// One heartbeat at `now`: writes it (registering again if the row was pruned), reads
    /// the live nodes, sets the throttle and, every [`PRUNE_EVERY`], prunes long-dead rows. A failure holds the
    /// throttle (the others may soon count this node dead) and is returned for the log.
    pub async fn beat(&mut self, now: Millis) -> (Allotment, Result<(), StoreError>) {
        // A beat that hangs (a partition, a pool exhausted) must hold the node before the
        // others count it dead and take its share: it gets `lateness` to land.
        let limit = Duration::from_millis(u64::try_from(self.timing.lateness).unwrap_or(500));
        let (beat, result) = match tokio::time::timeout(limit, self.read(now)).await {
            Ok(Ok(beat)) => (beat, Ok(())),
            Ok(Err(e)) => (Beat::Failed, Err(e)),
            Err(_) => {
                let late = format!("the heartbeat took longer than {} ms", limit.as_millis());
                (Beat::Failed, Err(StoreError::PostgresPool(late)))
            }
        };
        if let Beat::Ok { live, .. } = beat {
            self.metrics.set_cluster_nodes(live);
        }
        let allotment = self.state.after_beat(now, beat, &self.timing);
        self.throttle.set_allotment(allotment);
        self.metrics.set_cluster_rate(self.throttle.rate());
        if result.is_ok() && now >= self.next_prune {
            // Housekeeping, after the rate is set: a failure or a slow prune changes nothing.
            self.next_prune = now + PRUNE_EVERY;
            let prune = self.db.prune_nodes(now, PRUNE_AFTER);
            let _ = tokio::time::timeout(limit, prune).await;
        }
        (allotment, result)
    }

    async fn read(&self, now: Millis) -> Result<Beat, StoreError> {
        let reregistered = !self.db.heartbeat(now).await?;
        if reregistered {
            self.db
                .register_node(self.started_at, self.version.clone(), now)
                .await?;
        }
        let live = self.db.live_nodes(now, self.timing.stale_after).await?;
        let me = self.db.node_id();
        let beat = Beat::Ok {
            rank: live.iter().position(|id| Some(id.as_str()) == me),
            live: live.len(),
            reregistered,
        };
        Ok(beat)
    }

    /// Beats every [`Timing::heartbeat`] until `stop`, then deregisters (the others take
    /// this node's share at their next beat) and holds the throttle. A heartbeat the
    /// database refuses for a while (restart, failover) holds the node and fails
    /// `/readyz` until one succeeds; any other error (the `nodes` table gone) ends the
    /// task, and with it the daemon: a node that can never beat again must not look alive.
    pub async fn run(mut self, stop: CancellationToken) -> Result<(), StoreError> {
        let period = Duration::from_millis(u64::try_from(self.timing.heartbeat).unwrap_or(1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let ended = loop {
            tokio::select! {
                _ = stop.cancelled() => break Ok(()),
                _ = ticks.tick() => match self.beat(now_ms()).await {
                    (_, Ok(())) => self.metrics.writes.succeeded(Writer::Heartbeat),
                    (_, Err(e)) if e.is_unwritable() => self.metrics.writes.failed(Writer::Heartbeat, &e),
                    (_, Err(e)) => break Err(e),
                },
            }
        };
        self.throttle.set_allotment(Allotment::Hold);
        if let Err(e) = self.db.deregister_node().await {
            tracing::warn!(error = %e, "could not deregister this node; it goes stale instead");
        }
        ended
    }
}

/// A command that confirms outside `run` (`report --recheck-only`) on a cluster: a node
/// for the command's duration, so its calls count within `max_requests_per_second`.
pub struct Membership {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), StoreError>>,
}

/// How long a command waits for its share before giving up.
const JOIN_WITHIN: Duration = Duration::from_secs(10);

impl Membership {
    /// Registers, heartbeats in the background, and returns once this node has a share
    /// (after the join wait, about three seconds).
    pub async fn join(db: Db, throttle: Arc<Throttle>) -> Result<Self, StoreError> {
        let version = env!("CARGO_PKG_VERSION");
        let rate = ClusterRate::start(db, throttle.clone(), super::TIMING, version, now_ms());
        let stop = CancellationToken::new();
        let task = tokio::spawn(rate.await?.run(stop.clone()));
        let member = Self { stop, task };
        let deadline = tokio::time::Instant::now() + JOIN_WITHIN;
        while !throttle.has_share() {
            if tokio::time::Instant::now() >= deadline || member.task.is_finished() {
                member.leave().await;
                return Err(StoreError::PostgresPool(format!(
                    "no share of the cluster's request rate within {} s (database away, or more nodes than requests a second)",
                    JOIN_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(member)
    }

    /// Stops heartbeating and deregisters: the others take the share back at once.
    pub async fn leave(self) {
        self.stop.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the cluster heartbeat had failed"),
            Err(e) => tracing::error!(error = %e, "the cluster heartbeat task panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::TIMING;
    use super::*;
    use crate::store::postgres::testing::TestServer;
    use crate::store::postgres::{ClaimPolicy, PgStore};

    const T: Millis = 1_700_000_000_000;

    /// Two registered nodes on a real server: the second holds while it joins, then the
    /// two rates sum to the limit; a dead node's share comes back after the stale window,
    /// a deregistered one's at the next beat.
    #[tokio::test]
    async fn two_nodes_share_the_limit_join_after_the_wait_and_take_back_a_dead_share() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let a_store = pg.store("rate", "node-a").await;
        let b_store = PgStore::open(&pg.settings("rate"), 2, ClaimPolicy::new("node-b", 1, 1))
            .await
            .unwrap();
        let (a_throttle, b_throttle) = (
            Arc::new(Throttle::per_second(5.0)),
            Arc::new(Throttle::per_second(5.0)),
        );
        let start = |store: &PgStore, throttle: &Arc<Throttle>, now| {
            ClusterRate::start(
                Db::from(store.clone()),
                throttle.clone(),
                TIMING,
                "0.1.0",
                now,
            )
        };
        let mut a = start(&a_store, &a_throttle, T).await.unwrap();
        assert_eq!(a_throttle.rate(), 0.0, "held while joining");
        for at in [T + 1_000, T + 2_000] {
            assert_eq!(a.beat(at).await.0, Allotment::Hold);
        }
        assert_eq!(
            a.beat(T + 3_000).await.0,
            Allotment::Share { rank: 0, of: 1 }
        );
        assert_eq!(a_throttle.rate(), 5.0, "alone: the whole limit");

        let mut b = start(&b_store, &b_throttle, T + 3_000).await.unwrap();
        // a lowers its share at its next beat, while b still holds.
        for at in [T + 4_000, T + 5_000] {
            a.beat(at).await.1.unwrap();
            assert_eq!(a_throttle.rate(), 3.0);
            assert_eq!(b.beat(at).await.0, Allotment::Hold);
        }
        a.beat(T + 6_000).await.1.unwrap();
        assert_eq!(
            b.beat(T + 6_000).await.0,
            Allotment::Share { rank: 1, of: 2 }
        );
        assert_eq!(a_throttle.rate() + b_throttle.rate(), 5.0);

        // b dies after its beat at T + 6_000: a keeps 3 until that beat is stale.
        for at in [T + 7_000, T + 8_000, T + 9_000] {
            a.beat(at).await.1.unwrap();
            assert_eq!(a_throttle.rate(), 3.0, "at {at}");
        }
        a.beat(T + 10_000).await.1.unwrap();
        assert_eq!(a_throttle.rate(), 5.0, "b's share is free");

        // b comes back, joins again, then stops cleanly: a gets it all at its next beat.
        let mut b = start(&b_store, &b_throttle, T + 10_500).await.unwrap();
        a.beat(T + 11_000).await.1.unwrap();
        assert_eq!(a_throttle.rate(), 3.0);
        let stop = CancellationToken::new();
        stop.cancel();
        assert_eq!(b.beat(T + 11_500).await.0, Allotment::Hold);
        b.run(stop).await.unwrap();
        assert_eq!(b_throttle.rate(), 0.0);
        a.beat(T + 12_000).await.1.unwrap();
        assert_eq!(a_throttle.rate(), 5.0);
    }

    /// A lost database holds the node, and its return starts the join wait again.
    #[tokio::test]
    async fn a_failed_heartbeat_holds_the_node_until_it_has_joined_again() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let store = pg.store("lost", "node-a").await;
        let throttle = Arc::new(Throttle::per_second(5.0));
        let metrics = Arc::new(Metrics::default());
        let mut a = ClusterRate::start(
            Db::from(store.clone()),
            throttle.clone(),
            TIMING,
            "0.1.0",
            T,
        )
        .await
        .unwrap()
        .with_metrics(metrics.clone());
        let gauges = crate::store::DbGauges::default();
        assert!(
            !metrics.render(&gauges).contains("cluster_rate_share"),
            "alone: not shown"
        );
        for at in [T + 1_000, T + 2_000, T + 3_000] {
            a.beat(at).await.1.unwrap();
        }
        assert_eq!(throttle.rate(), 5.0);
        let shown = metrics.render(&gauges);
        assert!(
            shown.contains("ligdicash_reconciler_cluster_rate_share 5\n"),
            "{shown}"
        );
        assert!(
            shown.contains("ligdicash_reconciler_cluster_nodes 1\n"),
            "{shown}"
        );
        let conn = store.conn_for_tests().await;
        conn.batch_execute("ALTER TABLE nodes RENAME TO nodes_away")
            .await
            .unwrap();
        let (allotment, failed) = a.beat(T + 4_000).await;
        assert!(failed.is_err());
        assert_eq!((allotment, throttle.rate()), (Allotment::Hold, 0.0));
        conn.batch_execute("ALTER TABLE nodes_away RENAME TO nodes")
            .await
            .unwrap();
        for at in [T + 5_000, T + 6_000, T + 7_000] {
            a.beat(at).await.1.unwrap();
            assert_eq!(throttle.rate(), 0.0, "joining again at {at}");
        }
        a.beat(T + 8_000).await.1.unwrap();
        assert_eq!(throttle.rate(), 5.0);
    }

    /// A heartbeat that hangs (here: blocked on a lock another session holds on `nodes`)
    /// holds the node within `lateness`, before the others could count it dead and take
    /// its share.
    #[tokio::test]
    async fn a_hung_heartbeat_holds_the_node_within_its_lateness() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let store = pg.store("hung", "node-a").await;
        let throttle = Arc::new(Throttle::per_second(5.0));
        let mut a = ClusterRate::start(
            Db::from(store.clone()),
            throttle.clone(),
            TIMING,
            "0.1.0",
            T,
        )
        .await
        .unwrap();
        for at in [T + 1_000, T + 2_000, T + 3_000] {
            a.beat(at).await.1.unwrap();
        }
        assert_eq!(throttle.rate(), 5.0);
        let mut blocker = store.conn_for_tests().await;
        let tx = blocker.transaction().await.unwrap();
        tx.batch_execute("LOCK TABLE nodes IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let (allotment, hung) = a.beat(T + 4_000).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(
            hung.unwrap_err().is_unwritable(),
            "it heals: /readyz fails meanwhile"
        );
        assert_eq!((allotment, throttle.rate()), (Allotment::Hold, 0.0));
        tx.rollback().await.unwrap();
    }
}
