//! The scheduler: claims due payments, confirms them with bounded concurrency under a global
//! rate limit, and writes each batch of outcomes in one transaction.
//!
//! Shape: one dispatcher loop ([`dispatcher`]) queues claim rounds for `concurrency` confirm
//! workers ([`queue`], [`worker`]); the workers send outcomes to one writer task
//! ([`writer`]) that owns the write connection. A payment is "in flight" from dispatch until the writer has committed its
//! outcome (or a worker hands it back unsent), so it is never confirmed twice at once.
//! When nothing is due, the dispatcher sleeps until the next `next_poll_at`, waking every
//! `scan_interval` to pick up rows the shop inserted with plain SQL, or as soon as an
//! in-flight outcome lands.

pub mod decide;
mod dispatcher;
pub mod incidents;
pub mod queue;
pub mod schedule;
pub mod throttle;
pub mod verify;
mod worker;
mod writer;

pub use worker::attempt_record;

use crate::config::PollConfig;
use crate::ligdicash::LigdicashClient;
use crate::metrics::Metrics;
use crate::store::{ConfirmOutcome, Store, StoreError};
use decide::Policy;
use dispatcher::Dispatcher;
use incidents::Incidents;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use throttle::Throttle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use writer::{WRITE_BATCH, write_loop};

/// How often a legitimately waiting poller (idle, held, or rate-limited) beats its
/// heartbeat; well under any sensible watchdog interval.
const HEARTBEAT: Duration = Duration::from_secs(1);

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
    /// In-flight confirms and the writer share `shutdown_grace` to finish; what is left
    /// unrecorded then stays due. An error is one the daemon cannot wait out: the writer
    /// ended (a database error other than a refused write, or a panic) or the scan failed.
    pub async fn run(self, mode: RunMode, shutdown: CancellationToken) -> Result<(), PollerError> {
        let (out_tx, out_rx) = mpsc::channel::<ConfirmOutcome>(WRITE_BATCH * 2);
        let (done_tx, done_rx) = mpsc::unbounded_channel::<i64>();
        let give_up = CancellationToken::new();
        let mut writer = tokio::spawn(write_loop(
            self.writer.clone(),
            out_rx,
            done_tx.clone(),
            self.ctx.clone(),
            give_up.clone(),
        ));
        // Workers stop taking jobs at shutdown, or when the dispatcher is done (until-idle).
        let stop = shutdown.child_token();
        let mut dispatcher = Dispatcher::new(&self, (done_tx, done_rx), out_tx, stop.clone());
        for _ in 0..self.ctx.cfg.concurrency {
            dispatcher.spawn_worker();
        }
        // The writer never ends while the dispatcher holds a sender, unless it failed.
        let (result, mut writer_ended) = tokio::select! {
            r = dispatcher.run(mode, &shutdown) => (r, None),
            ended = &mut writer => (Err(writer_failure(&ended)), Some(ended)),
        };
        stop.cancel();
        let grace = self.ctx.cfg.shutdown_grace.0;
        let deadline = tokio::time::Instant::now() + grace;
        dispatcher.drain(grace).await;
        drop(dispatcher);
        if writer_ended.is_none() {
            let ended = match tokio::time::timeout_at(deadline, &mut writer).await {
                Ok(ended) => ended,
                Err(_) => {
                    give_up.cancel();
                    writer.await
                }
            };
            writer_ended = Some(ended);
        }
        match (result, writer_ended) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(Ok(Err(e)))) => Err(e),
            (Ok(()), Some(Err(e))) => Err(PollerError::Task(format!("the writer failed: {e}"))),
            (Ok(()), _) => Ok(()),
        }
    }
}

/// Why the writer ended while the poller was still running.
fn writer_failure(ended: &Result<Result<(), PollerError>, tokio::task::JoinError>) -> PollerError {
    let why = match ended {
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("it failed: {e}"),
        Ok(Ok(())) => "it stopped".to_owned(),
    };
    PollerError::Task(format!("the outcome writer ended: {why}"))
}

/// Runs a closure on a store connection off the async threads.
pub(super) async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, PollerError> {
    Ok(crate::store::blocking(store, f).await?)
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
}
