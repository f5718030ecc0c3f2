//! The dispatcher: claims due payments in rounds, queues them for the confirm workers, and
//! keeps the set of payments in flight (from claim until the writer has committed their
//! outcome, or a worker let go of them) so that no payment is confirmed twice at once.
//!
//! It claims nothing while polling is paused (refused credentials, 429) or while the
//! database refuses writes ([`crate::health::WriteHealth`]): its own scan writes too (first
//! poll times, rows parked), so it retries that scan every [`HEARTBEAT`] until it
//! succeeds, and otherwise waits for the writer to get its batch in.
//!
//! In [`RunMode::Once`] (a pass from cron) every scan reads what was due when the pass
//! began, leaving out what the pass has claimed already, so each payment is confirmed at
//! most once and the pass ends; a pause or failing writes end it early instead of waiting.

use super::queue::JobQueue;
use super::worker::worker;
use super::{Context, Poller, PollerError, RunMode};
use crate::confirm::HEARTBEAT;
use crate::health::Writer;
use crate::payment::{ConfirmOutcome, DuePayment};
use crate::store::{Db, StoreError};
use crate::time::{Millis, ms, now_ms};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How often a node without a share of the rate looks again (its share comes at a
/// heartbeat, every second).
const NO_SHARE_RETRY: Duration = Duration::from_millis(200);

/// On a cluster, a node claims about this much of its sending ahead, within
/// [`CLAIMS_PER_WORKER`] rows per worker ([`Dispatcher::claim_room`]).
const CLAIM_AHEAD_MS: i64 = 2_000;
const CLAIMS_PER_WORKER: f64 = 4.0;

/// Whether the dispatcher goes on after a round.
enum Flow {
    Again,
    /// A finite run has nothing left to do.
    Done,
}

pub(super) struct Dispatcher {
    ctx: Arc<Context>,
    reader: Db,
    queue: Arc<JobQueue>,
    workers: JoinSet<()>,
    stop: CancellationToken,
    in_flight: HashSet<i64>,
    /// Payments to forget: outcome committed, or handed back unsent.
    done_tx: mpsc::UnboundedSender<i64>,
    done_rx: mpsc::UnboundedReceiver<i64>,
    out_tx: mpsc::Sender<ConfirmOutcome>,
}

impl Dispatcher {
    /// A dispatcher without workers yet ([`Dispatcher::spawn_worker`] starts them).
    pub(super) fn new(
        poller: &Poller,
        (done_tx, done_rx): (mpsc::UnboundedSender<i64>, mpsc::UnboundedReceiver<i64>),
        out_tx: mpsc::Sender<ConfirmOutcome>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            ctx: poller.ctx.clone(),
            reader: poller.reader.clone(),
            queue: Arc::new(JobQueue::new(poller.ctx.cfg.batch_size / 4)),
            workers: JoinSet::new(),
            stop,
            in_flight: HashSet::new(),
            done_tx,
            done_rx,
            out_tx,
        }
    }

    /// Rounds until shutdown, or until a finite run is done: each round waits while
    /// claiming is held ([`Dispatcher::held`]), else scans and dispatches
    /// ([`Dispatcher::round`]); a database that refuses the scan is waited out
    /// ([`Dispatcher::unwritable`]). Any other error stops the poller.
    pub(super) async fn run(
        &mut self,
        mode: RunMode,
        shutdown: &CancellationToken,
    ) -> Result<(), PollerError> {
        let pass_start = now_ms();
        // Once: what this pass has claimed, never claimed again in it.
        let mut passed = HashSet::new();
        while !shutdown.is_cancelled() {
            self.ctx.metrics.beat();
            self.reap();
            let flow = match self.held(mode, shutdown).await {
                Some(flow) => flow,
                None => match self.round(mode, pass_start, &mut passed, shutdown).await {
                    Ok(flow) => flow,
                    Err(PollerError::Store(e)) if e.is_unwritable() => {
                        self.unwritable(&e, mode, shutdown).await
                    }
                    Err(e) => return Err(e),
                },
            };
            if let Flow::Done = flow {
                break;
            }
        }
        Ok(())
    }

    /// Waits a while if this node may not claim now, and says how to go on; `None`: it
    /// may. Held: polling paused (refused credentials, 429) or another task failing its
    /// writes (when our own scan is what failed, the next scan is the retry); a finite
    /// pass ends there rather than wait. Also held: a cluster node without a share of the
    /// rate (joining, or its heartbeat failing, which the first test has seen as failing
    /// writes) claims nothing, since rows it claimed would wait out their lease unsent;
    /// that is not a pause, so a finite pass waits for its share too.
    async fn held(&self, mode: RunMode, shutdown: &CancellationToken) -> Option<Flow> {
        let paused = self.ctx.confirmer.paused_for();
        if paused.is_some() || self.ctx.metrics.writes.failing_besides(Writer::Scan) {
            if mode == RunMode::Once {
                tracing::warn!(
                    "polling is held (refused credentials, rate limit, or database writes failing): this pass ends; what is left stays due for the next one"
                );
                return Some(Flow::Done);
            }
            let wait = paused.unwrap_or(HEARTBEAT);
            // In slices, so the heartbeat shows a held loop is still alive.
            let slice = wait.min(self.ctx.confirmer.live().scan).min(HEARTBEAT);
            sleep_unless_shutdown(slice, shutdown).await;
            return Some(Flow::Again);
        }
        if !self.ctx.confirmer.throttle().has_share() {
            sleep_unless_shutdown(NO_SHARE_RETRY, shutdown).await;
            return Some(Flow::Again);
        }
        None
    }

    /// After a scan the database refused (away, read-only, locked): every read and write
    /// of the loop is retried by the next round, nothing is claimed meanwhile, and the
    /// daemon stays up (`/readyz` fails) until the database answers again. A finite pass
    /// ends instead.
    async fn unwritable(
        &self,
        e: &StoreError,
        mode: RunMode,
        shutdown: &CancellationToken,
    ) -> Flow {
        self.ctx.metrics.writes.failed(Writer::Scan, e);
        if mode == RunMode::Once {
            tracing::warn!(
                "the database refuses writes: this pass ends; what is left stays due for the next one"
            );
            return Flow::Done;
        }
        sleep_unless_shutdown(HEARTBEAT, shutdown).await;
        Flow::Again
    }

    /// One round: a scan, then the due rows queued for the workers, or a sleep until the
    /// next due time when there are none.
    async fn round(
        &mut self,
        mode: RunMode,
        pass_start: Millis,
        passed: &mut HashSet<i64>,
        shutdown: &CancellationToken,
    ) -> Result<Flow, PollerError> {
        let clock = now_ms();
        // Where other nodes share the rows, a claim is timed by the clock (its lease and
        // send window), so a pass takes what is due as it goes; `passed` still confirms
        // each payment at most once.
        let now = if mode == RunMode::Once && self.reader.send_window().is_none() {
            pass_start
        } else {
            clock
        };
        let fresh = self.scan(now, passed).await?;
        let writes = &self.ctx.metrics.writes;
        writes.succeeded(Writer::Scan);
        if writes.failing() {
            // Another writer is still failing: claim nothing more.
            return Ok(Flow::Again);
        }
        if fresh.is_empty() {
            if mode == RunMode::Once && self.in_flight.is_empty() {
                return Ok(Flow::Done);
            }
            if mode == RunMode::UntilIdle
                && self.in_flight.is_empty()
                && !self.reader.any_pending().await?
            {
                return Ok(Flow::Done);
            }
            self.idle(clock, shutdown).await?;
            return Ok(Flow::Again);
        }
        if mode == RunMode::Once {
            passed.extend(fresh.iter().map(|p| p.id));
        }
        self.in_flight.extend(fresh.iter().map(|p| p.id));
        self.queue.push_all(fresh);
        self.wait_for_room(shutdown).await;
        Ok(Flow::Again)
    }

    /// Gives shop rows their first poll time, then reads the due rows neither in flight
    /// nor in `passed`.
    async fn scan(
        &self,
        now: Millis,
        passed: &HashSet<i64>,
    ) -> Result<Vec<DuePayment>, PollerError> {
        let live = self.ctx.confirmer.live();
        let (first_delay, payouts) = (ms(live.first_delay), ms(live.payout_first_delay));
        let batch = self.claim_room();
        self.reader
            .schedule_unscheduled(first_delay, payouts)
            .await?;
        if batch == 0 {
            return Ok(Vec::new());
        }
        let skip: HashSet<i64> = self.in_flight.union(passed).copied().collect();
        Ok(self.reader.due(now, batch, skip).await?)
    }

    /// How many rows the next scan may take: a batch; and where other nodes share the
    /// rows ([`Db::send_window`]), a few per worker: what this node's rate sends in
    /// [`CLAIM_AHEAD_MS`], at least one and at most [`CLAIMS_PER_WORKER`] per worker, never
    /// more than it sends within half the window. The rest stays claimable by the others
    /// (a slow provider does not leave one node with the backlog while another idles), and
    /// a node killed mid-batch strands little until its lease runs out. It claims again
    /// once half of what it holds is done, not a row at a time.
    fn claim_room(&self) -> usize {
        let batch = self.ctx.cfg.batch_size;
        let Some(window) = self.reader.send_window() else {
            return batch;
        };
        let rate = self.ctx.confirmer.throttle().rate();
        let workers = self.ctx.cfg.concurrency as f64;
        let ahead = (rate * CLAIM_AHEAD_MS as f64 / 1_000.0).ceil();
        let within_window = (rate * window as f64 / 2_000.0).floor().max(1.0);
        let held = ahead
            .clamp(workers, workers * CLAIMS_PER_WORKER)
            .min(within_window) as usize;
        if self.in_flight.len() * 2 > held {
            return 0;
        }
        batch.min(held - self.in_flight.len())
    }

    /// Waits until the workers have nearly emptied the queue. The heartbeat meanwhile comes
    /// from the workers taking jobs: if they stop (the writer is stuck and the outcome
    /// channel full, or every call hangs), it goes stale and the watchdog sees it.
    async fn wait_for_room(&mut self, shutdown: &CancellationToken) {
        while !self.queue.is_low() && !shutdown.is_cancelled() {
            self.reap();
            tokio::select! {
                _ = self.queue.wait_low(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }

    /// Forgets payments whose outcome the writer has committed; replaces a worker that died.
    pub(super) fn reap(&mut self) {
        while let Ok(id) = self.done_rx.try_recv() {
            self.in_flight.remove(&id);
        }
        while let Some(ended) = self.workers.try_join_next() {
            if self.stop.is_cancelled() {
                continue;
            }
            // Only a panic ends a worker early; its payment stays in flight until restart.
            let error = ended.err().map(|e| e.to_string());
            tracing::error!(
                ?error,
                "a confirm worker ended unexpectedly; starting another"
            );
            self.spawn_worker();
        }
    }

    pub(super) fn spawn_worker(&mut self) {
        self.workers.spawn(worker(
            self.ctx.clone(),
            self.queue.clone(),
            self.out_tx.clone(),
            self.done_tx.clone(),
            self.stop.clone(),
        ));
    }

    /// Sleeps until the next due time, the next scan, an outcome landing, or shutdown,
    /// beating the heartbeat every [`HEARTBEAT`]: a long `scan_interval` is not a stall.
    async fn idle(&mut self, now: Millis, shutdown: &CancellationToken) -> Result<(), PollerError> {
        let next = self.reader.next_due_after(now).await?;
        let scan = ms(self.ctx.confirmer.live().scan);
        let wait = next.map_or(scan, |t| (t - now).min(scan)).max(1);
        let until = tokio::time::Instant::now() + Duration::from_millis(wait as u64);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until.min(tokio::time::Instant::now() + HEARTBEAT)) => {
                    if tokio::time::Instant::now() >= until {
                        break;
                    }
                    self.ctx.metrics.beat();
                }
                Some(id) = self.done_rx.recv() => { self.in_flight.remove(&id); break; }
                _ = shutdown.cancelled() => break,
            }
        }
        Ok(())
    }

    /// Gives in-flight confirms `grace` to finish, then abandons the rest (they stay due).
    pub(super) async fn drain(&mut self, grace: Duration) {
        let finished = tokio::time::timeout(grace, async {
            while self.workers.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                abandoned = self.workers.len(),
                "shutdown grace elapsed; unfinished confirms stay due and will be retried"
            );
            self.workers.abort_all();
            while self.workers.join_next().await.is_some() {}
        }
    }
}

/// Sleeps `wait`, or less if `shutdown` fires first.
async fn sleep_unless_shutdown(wait: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shutdown.cancelled() => {}
    }
}

#[cfg(test)]
#[path = "dispatcher_tests.rs"]
mod tests;
