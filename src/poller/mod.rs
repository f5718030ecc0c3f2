//! The scheduler: claims due payments, confirms them with bounded concurrency under a global
//! rate limit, and writes each batch of outcomes in one transaction.
//!
//! Shape: one dispatcher loop (this file) queues claim rounds for `concurrency` confirm
//! workers ([`queue`]); the workers send outcomes to one writer task that owns the write
//! connection. A payment is "in flight" from dispatch until the writer has committed its
//! outcome (or a worker hands it back unsent), so it is never confirmed twice at once.
//! When nothing is due, the dispatcher sleeps until the next `next_poll_at`, waking every
//! `scan_interval` to pick up rows the shop inserted with plain SQL, or as soon as an
//! in-flight outcome lands.

pub mod decide;
pub mod incidents;
pub mod queue;
pub mod schedule;
pub mod throttle;
pub mod verify;

use crate::config::PollConfig;
use crate::ligdicash::{Classified, Exchange, LigdicashClient, Timed, classify};
use crate::metrics::Metrics;
use crate::store::{Applied, Change, ConfirmOutcome, DuePayment, Store, StoreError};
use crate::time::{Millis, ms, now_ms};
use decide::{Policy, decide};
use incidents::Incidents;
use queue::JobQueue;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use throttle::Throttle;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Outcomes written per transaction at most.
const WRITE_BATCH: usize = 512;

/// How long the first outcome of a batch waits for company before the batch is written.
/// Every commit rewrites the index pages it touches and syncs the WAL, so a commit of 16
/// outcomes costs nearly what one of 160 does; 20 ms is nothing next to seconds between
/// polls, and cut the reconciler's CPU per confirm by a quarter in the drain benchmark.
const GATHER_WINDOW: Duration = Duration::from_millis(20);

/// Whether `run` returns when the work is done or keeps serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Forever,
    /// Return once no payment is pending (and every outcome is written).
    UntilIdle,
}

/// Errors that stop the poller (the database became unusable).
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("task failed: {0}")]
    Task(String),
}

/// How often a legitimately waiting poller (idle, or rate-limited) beats its heartbeat;
/// well under any sensible watchdog interval.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Poll settings that can change while running: they are read afresh for every decision.
#[derive(Debug, Clone, Copy)]
struct Live {
    policy: Policy,
    first_delay: Duration,
    scan: Duration,
    auth_initial: Duration,
    auth_max: Duration,
}

impl Live {
    fn from_config(cfg: &PollConfig) -> Self {
        // A refused call leaves its payment due, so the pause alone spaces its next confirm:
        // it must not be shorter than `min_interval` (LigdiCash's 3 s between confirms).
        let auth_initial = cfg.auth_retry_initial.0.max(cfg.min_interval.0);
        Self {
            policy: Policy::from_config(cfg),
            first_delay: cfg.first_delay.0,
            scan: cfg.scan_interval.0,
            auth_initial,
            auth_max: cfg.auth_retry_max.0.max(auth_initial),
        }
    }
}

/// [`PollConfig`] keys a running poller applies on reload; the others need a restart.
pub const RELOADABLE: [&str; 11] = [
    "first_delay",
    "initial_interval",
    "max_interval",
    "multiplier",
    "jitter",
    "min_interval",
    "give_up_after",
    "max_requests_per_second",
    "scan_interval",
    "auth_retry_initial",
    "auth_retry_max",
];

/// Applies new poll settings to a running poller.
#[derive(Clone)]
pub struct Reloader {
    ctx: Arc<Context>,
}

impl Reloader {
    /// Applies the reloadable keys of `cfg` (already validated) at once.
    pub fn apply(&self, cfg: &PollConfig) {
        *self.ctx.live.write().unwrap_or_else(|p| p.into_inner()) = Live::from_config(cfg);
        self.ctx
            .throttle
            .limiter
            .set_rate(cfg.max_requests_per_second);
    }
}

/// Shared by the dispatcher and the confirm tasks.
struct Context {
    /// Fixed for the life of the process: concurrency, batch size, shutdown grace.
    cfg: PollConfig,
    /// The settings a SIGHUP may change while running (see [`Poller::reloader`]).
    live: std::sync::RwLock<Live>,
    client: LigdicashClient,
    throttle: Arc<Throttle>,
    incidents: Incidents,
    metrics: Arc<Metrics>,
    /// Outbox sinks every new event is addressed to.
    sinks: Arc<Vec<String>>,
    writer: Arc<Mutex<Store>>,
}

impl Context {
    fn live(&self) -> Live {
        *self.live.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// The polling engine over one database.
pub struct Poller {
    ctx: Arc<Context>,
    reader: Arc<Mutex<Store>>,
    writer: Arc<Mutex<Store>>,
}

impl Poller {
    /// Opens two connections (read, write) to the database and prepares the engine.
    pub fn new(
        cfg: &PollConfig,
        db_path: &Path,
        busy_timeout: Duration,
        client: LigdicashClient,
        sinks: Vec<String>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let reader = Store::open(db_path, busy_timeout)?;
        let writer = Arc::new(Mutex::new(Store::open(db_path, busy_timeout)?));
        Ok(Self {
            ctx: Arc::new(Context {
                cfg: cfg.clone(),
                live: std::sync::RwLock::new(Live::from_config(cfg)),
                client,
                throttle: Arc::new(Throttle::per_second(cfg.max_requests_per_second)),
                incidents: Incidents::default(),
                metrics,
                sinks: Arc::new(sinks),
                writer: writer.clone(),
            }),
            reader: Arc::new(Mutex::new(reader)),
            writer,
        })
    }

    /// The rate limit and pause of this poller's confirms, for other callers of confirm
    /// in the process (the nightly re-check) to share.
    pub fn throttle(&self) -> Arc<Throttle> {
        self.ctx.throttle.clone()
    }

    /// A handle that applies new settings to this poller while it runs (SIGHUP).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            ctx: self.ctx.clone(),
        }
    }

    /// Polls until `shutdown` fires (or, in [`RunMode::UntilIdle`], nothing is pending).
    /// In-flight confirms get `shutdown_grace` to finish; unfinished ones stay due.
    pub async fn run(self, mode: RunMode, shutdown: CancellationToken) -> Result<(), PollerError> {
        let (out_tx, out_rx) = mpsc::channel::<ConfirmOutcome>(WRITE_BATCH * 2);
        let (done_tx, done_rx) = mpsc::unbounded_channel::<i64>();
        let writer = tokio::spawn(write_loop(
            self.writer.clone(),
            out_rx,
            done_tx.clone(),
            self.ctx.clone(),
        ));
        // Workers stop taking jobs at shutdown, or when the dispatcher is done (until-idle).
        let stop = shutdown.child_token();
        let mut dispatcher = Dispatcher::new(&self, (done_tx, done_rx), out_tx, stop.clone());
        for _ in 0..self.ctx.cfg.concurrency {
            dispatcher.spawn_worker();
        }
        let result = dispatcher.run(mode, &shutdown).await;
        stop.cancel();
        dispatcher.drain(self.ctx.cfg.shutdown_grace.0).await;
        drop(dispatcher);
        writer.await.map_err(|e| PollerError::Task(e.to_string()))?;
        result
    }
}

/// Runs a closure on a store connection off the async threads.
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, PollerError> {
    Ok(crate::store::blocking(store, f).await?)
}

struct Dispatcher {
    ctx: Arc<Context>,
    reader: Arc<Mutex<Store>>,
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
    fn new(
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

    async fn run(
        &mut self,
        mode: RunMode,
        shutdown: &CancellationToken,
    ) -> Result<(), PollerError> {
        let batch = self.ctx.cfg.batch_size;
        while !shutdown.is_cancelled() {
            let Live {
                first_delay, scan, ..
            } = self.ctx.live();
            let first_delay = ms(first_delay);
            self.ctx.metrics.beat();
            self.reap();
            if let Some(wait) = self.ctx.throttle.pause.remaining() {
                // In slices, so the heartbeat shows a paused loop is still alive.
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(scan).min(HEARTBEAT)) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            let now = now_ms();
            with_store(&self.reader, move |s| s.schedule_unscheduled(first_delay)).await?;
            let skip = self.in_flight.clone();
            let fresh = with_store(&self.reader, move |s| s.due(now, batch, &skip)).await?;
            if fresh.is_empty() {
                if mode == RunMode::UntilIdle
                    && self.in_flight.is_empty()
                    && !with_store(&self.reader, |s| s.any_pending()).await?
                {
                    break;
                }
                self.idle(now, shutdown).await?;
                continue;
            }
            self.in_flight.extend(fresh.iter().map(|p| p.id));
            self.queue.push_all(fresh);
            self.wait_for_room(shutdown).await;
        }
        Ok(())
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
    fn reap(&mut self) {
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

    fn spawn_worker(&mut self) {
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
        let next = with_store(&self.reader, move |s| s.next_due_after(now)).await?;
        let scan = ms(self.ctx.live().scan);
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
    async fn drain(&mut self, grace: Duration) {
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

/// Takes due payments from the queue and confirms them, one at a time, under the global
/// rate limit, until `stop`. A payment taken while polling is paused is handed back unsent.
async fn worker(
    ctx: Arc<Context>,
    queue: Arc<JobQueue>,
    out: mpsc::Sender<ConfirmOutcome>,
    done: mpsc::UnboundedSender<i64>,
    stop: CancellationToken,
) {
    while let Some(payment) = queue.next(&stop).await {
        ctx.metrics.beat();
        // While paused, queued jobs go back at once rather than one per rate-limit slot.
        if ctx.throttle.pause.remaining().is_none() && !acquire_slot(&ctx, &stop).await {
            return;
        }
        // The call's time in the attempt log is when the limiter let it go.
        let granted_at = now_ms();
        if ctx.throttle.pause.remaining().is_some() {
            let _ = done.send(payment.id);
            continue;
        }
        confirm_one(&ctx, payment, granted_at, &out).await;
    }
}

/// Waits for a rate-limit slot, beating the heartbeat every [`HEARTBEAT`] meanwhile (a low
/// `max_requests_per_second` is not a stall); false if `stop` came first.
async fn acquire_slot(ctx: &Context, stop: &CancellationToken) -> bool {
    if ctx.throttle.limiter.try_acquire() {
        return true;
    }
    let acquire = ctx.throttle.limiter.acquire();
    tokio::pin!(acquire);
    loop {
        // Biased: a slot that comes free is taken before the heartbeat branch is polled.
        tokio::select! {
            biased;
            _ = &mut acquire => return true,
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(HEARTBEAT) => ctx.metrics.beat(),
        }
    }
}

/// Confirms one payment and hands the outcome to the writer.
async fn confirm_one(ctx: &Context, p: DuePayment, at: Millis, out: &mpsc::Sender<ConfirmOutcome>) {
    let timed = ctx.client.confirm(&p.token).await;
    let classified = classify(&timed.exchange);
    let finished = now_ms();
    observe(ctx, &p, &classified, at);
    let decision = decide(
        &ctx.live().policy,
        &p,
        &classified,
        finished,
        fastrand::f64(),
    );
    let answered = classified.answer().is_some() || classified == Classified::NotFound;
    ctx.metrics
        .confirm(classified.label(), timed.latency, answered);
    let outcome = attempt_record(p, at, timed, classified, decision.change, decision.error);
    // The writer only goes away at shutdown; the payment then simply stays due.
    let _ = out.send(outcome).await;
}

/// What one confirm call leaves in the attempt log and on the payment. The poller and the
/// nightly re-check both build it here, so both keep the same facts (HTTP status, the raw
/// body, what LigdiCash answered, the error).
pub fn attempt_record(
    p: DuePayment,
    at: Millis,
    timed: Timed,
    classified: Classified,
    change: Change,
    error: Option<String>,
) -> ConfirmOutcome {
    let (http_status, raw_body) = match timed.exchange {
        Exchange::Reply { status, body, .. } => (Some(status), Some(body_text(body))),
        Exchange::Failed(_) => (None, None),
    };
    ConfirmOutcome {
        payment_id: p.id,
        token: p.token,
        at,
        latency_ms: ms(timed.latency),
        http_status,
        outcome: classified.label(),
        error,
        answer: classified.into_answer(),
        raw_body,
        change,
        claimed_reason: p.claimed_reason,
    }
}

/// The body as text, without copying it when it is valid UTF-8 (it nearly always is).
fn body_text(body: Vec<u8>) -> String {
    String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Process-wide reactions to an answer: pauses, and logging once per incident.
fn observe(ctx: &Context, p: &DuePayment, c: &Classified, sent_at: Millis) {
    match c {
        Classified::AuthFailed { detail } => {
            let live = ctx.live();
            let (pause, new) = ctx
                .throttle
                .pause
                .auth_failed(live.auth_initial, live.auth_max);
            ctx.metrics.set_auth_failing(true);
            if new {
                record_auth_incident(ctx, detail);
                tracing::error!(
                    detail,
                    pause_ms = pause.as_millis() as u64,
                    "LigdiCash refused our credentials: polling of all payments paused; check the API key and token (and, for Code01, that payin is activated for the project)"
                );
            }
        }
        Classified::Transient { class, detail, .. } => {
            ctx.incidents.failed(class.as_str(), detail, now_ms());
            ctx.throttle.note_rate_limit(c);
        }
        _ => {
            if ctx.throttle.pause.auth_ok() {
                ctx.metrics.set_auth_failing(false);
                tracing::info!("LigdiCash accepts our credentials again: polling resumed");
            }
            ctx.incidents.answered(sent_at);
            if let Classified::Pending {
                unknown_status: Some(s),
                ..
            } = c
            {
                ctx.incidents.unknown_status(s, &p.token);
            }
        }
    }
}

/// Emits `reconciler.auth_failed` through the outbox, once per incident.
fn record_auth_incident(ctx: &Context, detail: &str) {
    let data = serde_json::json!({ "detail": detail });
    let (writer, sinks) = (ctx.writer.clone(), ctx.sinks.clone());
    tokio::spawn(async move {
        let result = with_store(&writer, move |s| {
            s.insert_operational_event("reconciler.auth_failed", data, &sinks, now_ms())
        })
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record the reconciler.auth_failed event");
        }
    });
}

/// Writes outcomes in batches; tells the dispatcher which payments are settled in the DB.
async fn write_loop(
    store: Arc<Mutex<Store>>,
    mut rx: mpsc::Receiver<ConfirmOutcome>,
    done: mpsc::UnboundedSender<i64>,
    ctx: Arc<Context>,
) {
    let mut buffer = Vec::with_capacity(WRITE_BATCH);
    while gather(&mut rx, &mut buffer).await > 0 {
        let batch = Arc::new(std::mem::take(&mut buffer));
        match write_with_retry(&store, &batch, &ctx.sinks).await {
            Ok(applied) => report(&batch, &applied, &ctx.metrics),
            Err(e) => tracing::error!(
                error = %e,
                outcomes = batch.len(),
                "cannot record confirm outcomes; those payments stay pending and will be confirmed again"
            ),
        }
        for o in batch.iter() {
            let _ = done.send(o.payment_id);
        }
    }
}

/// Waits for outcomes, lets more arrive for [`GATHER_WINDOW`] (without waking for each
/// one), then takes what came, up to a full batch. Returns how many are in `buffer`: 0 once
/// every sender is gone and all is written.
async fn gather(
    rx: &mut mpsc::Receiver<ConfirmOutcome>,
    buffer: &mut Vec<ConfirmOutcome>,
) -> usize {
    if rx.recv_many(buffer, WRITE_BATCH).await == 0 {
        return 0;
    }
    if buffer.len() < WRITE_BATCH {
        tokio::time::sleep(GATHER_WINDOW).await;
    }
    while buffer.len() < WRITE_BATCH {
        match rx.try_recv() {
            Ok(outcome) => buffer.push(outcome),
            Err(_) => break,
        }
    }
    buffer.len()
}

async fn write_with_retry(
    store: &Arc<Mutex<Store>>,
    batch: &Arc<Vec<ConfirmOutcome>>,
    sinks: &Arc<Vec<String>>,
) -> Result<Vec<Applied>, PollerError> {
    let mut delay = Duration::from_millis(200);
    let mut tries = 0;
    loop {
        let (b, sinks) = (batch.clone(), sinks.clone());
        match with_store(store, move |s| s.apply_outcomes(&b, now_ms(), &sinks)).await {
            Ok(applied) => return Ok(applied),
            Err(e) if tries < 4 => {
                tracing::warn!(error = %e, "writing confirm outcomes failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn report(batch: &[ConfirmOutcome], applied: &[Applied], metrics: &Metrics) {
    for (o, a) in batch.iter().zip(applied) {
        if let Some(status) = a.finalized {
            metrics.resolved(status.as_str());
            tracing::info!(token = %o.token, status = status.as_str(), "payment resolved");
        } else if a.stale {
            tracing::debug!(token = %o.token, "payment changed meanwhile; outcome not applied");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_auth_pause_is_never_shorter_than_min_interval() {
        use crate::config::HumanDuration;
        let mut cfg = crate::config::PollConfig {
            min_interval: HumanDuration::secs(3),
            auth_retry_initial: HumanDuration::secs(1),
            auth_retry_max: HumanDuration::secs(2),
            ..Default::default()
        };
        let live = super::Live::from_config(&cfg);
        assert_eq!(live.auth_initial, std::time::Duration::from_secs(3));
        assert_eq!(live.auth_max, std::time::Duration::from_secs(3));
        cfg.auth_retry_initial = HumanDuration::secs(30);
        cfg.auth_retry_max = HumanDuration::secs(600);
        let live = super::Live::from_config(&cfg);
        assert_eq!(live.auth_initial, std::time::Duration::from_secs(30));
        assert_eq!(live.auth_max, std::time::Duration::from_secs(600));
    }

    use super::*;
    use crate::config::{ConfirmStyle, Credentials};
    use crate::ligdicash::ClientSettings;
    use queue::tests::job;

    /// A poller whose client points at a closed loopback port: these tests never call it.
    fn poller(dir: &Path, max_requests_per_second: f64) -> Poller {
        let cfg = PollConfig {
            max_requests_per_second,
            ..PollConfig::default()
        };
        let settings = ClientSettings {
            base_url: reqwest::Url::parse("http://127.0.0.1:9").unwrap(),
            style: ConfirmStyle::Token,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            pool_size: 1,
        };
        let client = LigdicashClient::new(&settings, &Credentials::fixed("k", "t")).unwrap();
        let db = dir.join("poller.db");
        let metrics = Arc::new(Metrics::default());
        Poller::new(
            &cfg,
            &db,
            Duration::from_secs(1),
            client,
            Vec::new(),
            metrics,
        )
        .unwrap()
    }

    fn dispatcher(poller: &Poller) -> (Dispatcher, mpsc::Receiver<ConfirmOutcome>) {
        let (out_tx, out_rx) = mpsc::channel(8);
        let done = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        (Dispatcher::new(poller, done, out_tx, stop), out_rx)
    }

    /// While paused, queued jobs go back to the dispatcher at once: they do not wait for
    /// rate-limit slots (here one per 1,000 s, the first already taken) and are not sent.
    #[tokio::test]
    async fn jobs_taken_while_paused_go_back_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let poller = poller(dir.path(), 0.001);
        let (mut d, mut out) = dispatcher(&poller);
        d.ctx.throttle.limiter.acquire().await;
        d.ctx.throttle.pause.hold_for(Duration::from_secs(3600));
        d.queue.push_all((1..=5).map(job).collect());
        d.spawn_worker();
        let mut back = Vec::new();
        for _ in 0..5 {
            let id = tokio::time::timeout(Duration::from_secs(5), d.done_rx.recv()).await;
            back.push(id.expect("handed back without waiting").unwrap());
        }
        assert_eq!(back, [1, 2, 3, 4, 5]);
        assert!(out.try_recv().is_err(), "nothing was confirmed");
        d.stop.cancel();
    }

    /// A worker that dies (only a panic ends one early) is replaced, so concurrency holds.
    #[tokio::test]
    async fn a_worker_that_panics_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let poller = poller(dir.path(), 5.0);
        let (mut d, _out) = dispatcher(&poller);
        d.spawn_worker();
        d.workers.spawn(async { panic!("a confirm worker fails") });
        tokio::time::sleep(Duration::from_millis(50)).await;
        d.reap();
        assert_eq!(
            d.workers.len(),
            2,
            "one worker kept, one started for the dead one"
        );
        assert!(
            d.workers.try_join_next().is_none(),
            "both are alive, waiting for jobs"
        );
        d.stop.cancel();
    }
}
