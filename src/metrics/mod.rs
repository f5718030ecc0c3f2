//! Process metrics, rendered in the Prometheus text format by the HTTP listener.
//!
//! Counters live here (updated by the poller without locks on the hot path where possible);
//! gauges that describe the database (pending payments, events by state, last report) are
//! read from it at scrape time so they can never drift from it.

use crate::health::WriteHealth;
use crate::listener::ListenerHealth;
use crate::payment::Kind;
use crate::time::{Millis, now_ms};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the confirm latency histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 9] = [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Counters and liveness of one daemon.
#[derive(Debug, Default)]
pub struct Metrics {
    pub confirms: AtomicU64,
    pub finalized: AtomicU64,
    /// Confirm calls by kind of payment and outcome class.
    by_outcome: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Final statuses by kind of payment.
    resolutions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_sum_micros: AtomicU64,
    last_answer_ms: AtomicI64,
    heartbeat_ms: AtomicI64,
    auth_failing: AtomicBool,
    /// LigdiCash callbacks received, by what became of them.
    callbacks: Mutex<BTreeMap<&'static str, u64>>,
    /// Callbacks contradicting a final status, by the status and what became of them.
    contradictions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Final payments confirmed once more for a callback, by status and result.
    rechecks: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Shop API requests by route pattern and status.
    api_requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Whether the database takes our writes (the poller holds its claims while not).
    pub writes: std::sync::Arc<WriteHealth>,
    /// Whether the shop API's listener can take one more connection: written by that
    /// listener, read by `/readyz` and shown here, both served by the other listener.
    pub api_listener: std::sync::Arc<ListenerHealth>,
    /// On a PostgreSQL cluster: this node's share of the request rate, and the live nodes
    /// at its last heartbeat. `None` alone (SQLite): not shown.
    cluster: Mutex<Option<(f64, usize)>>,
    /// Attempts to mail a nightly report, counted by the e-mail sink.
    pub report_emails: std::sync::Arc<report_email::ReportEmails>,
}

impl Metrics {
    /// One confirm call of a payment of `kind` finished with outcome class `label`.
    pub fn confirm(&self, kind: Kind, label: &'static str, latency: Duration, answered: bool) {
        self.confirms.fetch_add(1, Ordering::Relaxed);
        *lock(&self.by_outcome)
            .entry((kind.as_str(), label))
            .or_insert(0) += 1;
        let secs = latency.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
        if answered {
            self.last_answer_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// A payment of `kind` reached final status `status`.
    pub fn resolved(&self, kind: Kind, status: &'static str) {
        self.finalized.fetch_add(1, Ordering::Relaxed);
        *lock(&self.resolutions)
            .entry((kind.as_str(), status))
            .or_insert(0) += 1;
    }

    /// A LigdiCash callback was received: `matched` a payment, `unmatched`, `rejected`, or
    /// `refused_busy` (the route's share of the API's connections was taken).
    pub fn callback(&self, result: &'static str) {
        *lock(&self.callbacks).entry(result).or_insert(0) += 1;
    }

    /// A callback contradicted a payment's final `status`: confirmed once more, or upheld.
    pub fn callback_contradiction(
        &self,
        status: crate::payment::Status,
        what: crate::payment::callback::Contradiction,
    ) {
        *lock(&self.contradictions)
            .entry((status.as_str(), what.as_str()))
            .or_insert(0) += 1;
    }

    /// A final payment confirmed once more because a callback contradicted its `status`:
    /// LigdiCash `changed` it (a late completion), left it `unchanged`, or did not answer.
    pub fn recheck(&self, status: crate::payment::Status, result: &'static str) {
        *lock(&self.rechecks)
            .entry((status.as_str(), result))
            .or_insert(0) += 1;
    }

    /// A shop API request answered with `status` on `route` (the route's pattern).
    pub fn api_request(&self, route: &str, status: u16) {
        *lock(&self.api_requests)
            .entry((route.to_owned(), status))
            .or_insert(0) += 1;
    }

    /// The poll loop is alive (watchdog and `/readyz` read this).
    pub fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since the last heartbeat (a large number before the first).
    pub fn since_heartbeat(&self) -> Millis {
        now_ms() - self.heartbeat_ms.load(Ordering::Relaxed)
    }

    /// This node's share of `max_requests_per_second` now (0 while joining or cut off).
    pub fn set_cluster_rate(&self, rate: f64) {
        let mut cluster = lock(&self.cluster);
        *cluster = Some((rate, cluster.map_or(0, |(_, nodes)| nodes)));
    }

    /// The live nodes of the cluster, as this node's last heartbeat read them.
    pub fn set_cluster_nodes(&self, nodes: usize) {
        let mut cluster = lock(&self.cluster);
        *cluster = Some((cluster.map_or(0.0, |(rate, _)| rate), nodes));
    }

    pub fn set_auth_failing(&self, failing: bool) {
        self.auth_failing.store(failing, Ordering::Relaxed);
    }

    pub fn auth_failing(&self) -> bool {
        self.auth_failing.load(Ordering::Relaxed)
    }

    /// Confirm calls of this process by outcome class, all kinds together: what a
    /// `run --once` pass heard from LigdiCash (`app::ending::pass_got_through`).
    pub fn confirm_outcomes(&self) -> BTreeMap<&'static str, u64> {
        let mut by_class = BTreeMap::new();
        for ((_, class), n) in lock(&self.by_outcome).iter() {
            *by_class.entry(*class).or_insert(0) += n;
        }
        by_class
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

mod render;
pub mod report_email;

#[cfg(test)]
mod tests;
