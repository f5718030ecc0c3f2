//! The delivery worker: claims due deliveries, attempts them with bounded concurrency, and
//! records each attempt. It runs beside the poller, so a slow receiver never delays polling.
//! No delivery (event, sink) is ever attempted twice at once.
//!
//! While the database refuses writes ([`WriteHealth`]) no new attempt starts: its result
//! could not be recorded, and the receiver would get the event again and again. A result
//! already in hand is kept and its recording retried until it succeeds or shutdown.

use super::sinks::{Attempt, Sink};
use crate::health::{WriteHealth, Writer};
use crate::store::{Db, StoreError};
use crate::store::{DeliveryResult, DueDelivery};
use crate::time::{Millis, ms, now_ms};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What to do after an attempt: the pure retry policy. `attempts` counts this one.
/// The schedule gives the wait after attempt 1, 2, ...; past its end the delivery is dead.
pub fn next_step(
    attempt: &Attempt,
    attempts: i64,
    schedule: &[Duration],
    now: Millis,
    unit: f64,
) -> DeliveryResult {
    match attempt {
        Attempt::Delivered => DeliveryResult::Delivered,
        Attempt::Gone => DeliveryResult::Dead {
            error: "endpoint gone (HTTP 410)".into(),
        },
        Attempt::Failed { error, retry_after } => {
            let index = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX);
            let Some(wait) = schedule.get(index) else {
                return DeliveryResult::Dead {
                    error: format!("{error} (gave up after {attempts} attempts)"),
                };
            };
            // ±10 % so a receiver coming back is not hit by every retry at once.
            let jittered = ms(*wait) as f64 * (0.9 + 0.2 * unit.clamp(0.0, 1.0));
            let wait_ms = (jittered as Millis).max(retry_after.map_or(0, ms));
            DeliveryResult::Retry {
                at: now.saturating_add(wait_ms),
                error: error.clone(),
            }
        }
    }
}

/// The worker over one database and a set of sinks.
pub struct Deliverer {
    /// Shared by the claim loop and the attempts recording their results.
    db: Db,
    sinks: Arc<Vec<Arc<Sink>>>,
    names: Arc<Vec<String>>,
    schedule: Arc<Vec<Duration>>,
    concurrency: usize,
    writes: Arc<WriteHealth>,
}

impl Deliverer {
    pub fn new(db: Db, sinks: Vec<Sink>, schedule: Vec<Duration>, concurrency: usize) -> Self {
        let names = sinks.iter().map(|s| s.name().to_owned()).collect();
        Self {
            db,
            sinks: Arc::new(sinks.into_iter().map(Arc::new).collect()),
            names: Arc::new(names),
            schedule: Arc::new(schedule),
            concurrency: concurrency.max(1),
            writes: Arc::default(),
        }
    }

    /// Shares the daemon's view of database writes (see [`crate::metrics::Metrics::writes`]).
    pub fn with_write_health(mut self, writes: Arc<WriteHealth>) -> Self {
        self.writes = writes;
        self
    }

    /// Delivers until `shutdown`; in-flight attempts get `grace` to finish.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) -> Result<(), StoreError> {
        if self.sinks.is_empty() {
            // Nothing to deliver, but a task that returns early looks like a failure.
            shutdown.cancelled().await;
            return Ok(());
        }
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(i64, String)>();
        let mut in_flight: HashSet<(i64, String)> = HashSet::new();
        let mut tasks = JoinSet::new();
        while !shutdown.is_cancelled() {
            while let Ok(key) = done_rx.try_recv() {
                in_flight.remove(&key);
            }
            while tasks.try_join_next().is_some() {}
            if self.writes.failing_besides(Writer::DeliveryScan) {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.cancelled() => {}
                }
                continue;
            }
            // A database that is away (a restart, a failover) is waited out here, as every
            // task waits it out: this task never ends on an error that heals.
            let look = || self.look(&in_flight);
            let fresh = match self
                .writes
                .retry(Writer::DeliveryScan, &shutdown, look)
                .await?
            {
                None => break,
                Some(Round::Due(fresh)) => fresh,
                Some(Round::Idle { wait_ms }) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                        Some(key) = done_rx.recv() => { in_flight.remove(&key); }
                        _ = shutdown.cancelled() => {}
                    }
                    continue;
                }
            };
            for d in fresh {
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = shutdown.cancelled() => break,
                };
                let Some(sink) = self.sinks.iter().find(|s| s.name() == d.sink).cloned() else {
                    continue;
                };
                in_flight.insert((d.event_seq, d.sink.clone()));
                let (db, schedule, done) =
                    (self.db.clone(), self.schedule.clone(), done_tx.clone());
                let (writes, stop) = (self.writes.clone(), shutdown.clone());
                tasks.spawn(async move {
                    let result = attempt_one(&sink, &d, &schedule).await;
                    record(&db, &d, result, &writes, &stop).await;
                    drop(permit);
                    let _ = done.send((d.event_seq, d.sink));
                });
            }
        }
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            tasks.abort_all();
        }
        Ok(())
    }
}

/// What the claim loop found: deliveries to attempt, or how long to sleep.
enum Round {
    Due(Vec<DueDelivery>),
    Idle { wait_ms: u64 },
}

impl Deliverer {
    /// The due deliveries not already in flight, or, when there are none, how long until
    /// the next one is due (at most 500 ms, so new events are picked up promptly).
    async fn look(&self, in_flight: &HashSet<(i64, String)>) -> Result<Round, StoreError> {
        let (now, names) = (now_ms(), self.names.clone());
        let limit = 64 + in_flight.len();
        let due = self.db.due_deliveries(now, names, limit).await?;
        let fresh: Vec<DueDelivery> = due
            .into_iter()
            .filter(|d| !in_flight.contains(&(d.event_seq, d.sink.clone())))
            .collect();
        if !fresh.is_empty() {
            return Ok(Round::Due(fresh));
        }
        let next = self.db.next_delivery_after(now).await?;
        let wait = next.map_or(500, |t| (t - now).clamp(1, 500));
        Ok(Round::Idle {
            wait_ms: u64::try_from(wait).unwrap_or(500),
        })
    }
}

/// One attempt, logged; the result to record.
async fn attempt_one(sink: &Sink, d: &DueDelivery, schedule: &[Duration]) -> DeliveryResult {
    let kind = serde_json::from_str::<serde_json::Value>(&d.payload)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let attempt = sink.deliver(d, &kind).await;
    let result = next_step(
        &attempt,
        d.attempts + 1,
        schedule,
        now_ms(),
        fastrand::f64(),
    );
    sink.observe(&result);
    match &result {
        DeliveryResult::Delivered => {
            tracing::debug!(event = %d.event_id, sink = %d.sink, "event delivered")
        }
        DeliveryResult::Retry { error, .. } => {
            tracing::warn!(event = %d.event_id, sink = %d.sink, error, "event delivery failed; will retry")
        }
        DeliveryResult::Dead { error } => {
            tracing::error!(event = %d.event_id, sink = %d.sink, error, "event delivery abandoned (dead); redeliver with `events redeliver`")
        }
    }
    result
}

/// Records an attempt's result, retrying while the database refuses the write. Given up at
/// shutdown or on another error (logged): the delivery stays due and is attempted again.
async fn record(
    db: &Db,
    d: &DueDelivery,
    result: DeliveryResult,
    writes: &WriteHealth,
    shutdown: &CancellationToken,
) {
    let write = || db.record_delivery(d.event_seq, d.sink.clone(), result.clone(), now_ms());
    if let Err(e) = writes.retry(Writer::Deliveries, shutdown, write).await {
        tracing::error!(error = %e, event = %d.event_id, "cannot record a delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Vec<Duration> {
        [5, 300, 1800].map(Duration::from_secs).to_vec()
    }

    fn fail(retry_after: Option<u64>) -> Attempt {
        Attempt::Failed {
            error: "HTTP 500".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn retries_follow_the_schedule_then_die() {
        let s = schedule();
        assert_eq!(
            next_step(&fail(None), 1, &s, 0, 0.5),
            DeliveryResult::Retry {
                at: 5_000,
                error: "HTTP 500".into()
            }
        );
        assert_eq!(
            next_step(&fail(None), 3, &s, 0, 0.5),
            DeliveryResult::Retry {
                at: 1_800_000,
                error: "HTTP 500".into()
            }
        );
        assert!(matches!(
            next_step(&fail(None), 4, &s, 0, 0.5),
            DeliveryResult::Dead { .. }
        ));
    }

    #[test]
    fn jitter_is_ten_percent_and_retry_after_wins_when_longer() {
        let s = schedule();
        let at = |unit| match next_step(&fail(None), 1, &s, 0, unit) {
            DeliveryResult::Retry { at, .. } => at,
            other => panic!("{other:?}"),
        };
        assert_eq!((at(0.0), at(1.0)), (4_500, 5_500));
        match next_step(&fail(Some(60)), 1, &s, 0, 0.5) {
            DeliveryResult::Retry { at, .. } => assert_eq!(at, 60_000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gone_is_dead_at_once_and_success_is_delivered() {
        assert!(matches!(
            next_step(&Attempt::Gone, 1, &schedule(), 0, 0.5),
            DeliveryResult::Dead { .. }
        ));
        assert_eq!(
            next_step(&Attempt::Delivered, 9, &schedule(), 0, 0.5),
            DeliveryResult::Delivered
        );
    }
}
