//! The scheduler: claims due payments and confirms them with bounded concurrency through
//! the one confirm path ([`crate::confirm::Confirmer`]), and writes each batch of outcomes
//! in one transaction.
//!
//! Shape: one dispatcher loop (`dispatcher`) queues claim rounds for `concurrency` confirm
//! workers ([`queue`], `worker`); the workers send outcomes to one writer task
//! (`writer`) that owns the write connection. A payment is "in flight" from dispatch
//! until the writer has committed its outcome (or a worker hands it back unsent), so it is
//! never confirmed twice at once. When nothing is due, the dispatcher sleeps until the next
//! `next_poll_at`, waking every `scan_interval` to pick up rows the shop inserted with plain
//! SQL, or as soon as an in-flight outcome lands.

mod dispatcher;
pub mod queue;
mod worker;
mod writer;

use crate::config::PollConfig;
use crate::confirm::Confirmer;
use crate::metrics::Metrics;
use crate::payment::ConfirmOutcome;
use crate::store::{Db, StoreError};
use dispatcher::Dispatcher;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use writer::{WRITE_BATCH, write_loop};

/// Whether `run` returns when the work is done or keeps serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Forever,
    /// Return once no payment is pending (and every outcome is written).
    UntilIdle,
    /// One pass: confirm each payment due when the pass starts, at most once, then return
    /// (`run --once`, from cron). A pause (refused credentials, 429) or failing database
    /// writes end the pass early: what is left stays due for the next one.
    Once,
}

/// Errors that stop the poller (the database became unusable).
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("task failed: {0}")]
    Task(String),
}

/// Shared by the dispatcher, the confirm workers and the writer.
struct Context {
    /// Fixed for the life of the process: concurrency, batch size, shutdown grace.
    cfg: PollConfig,
    confirmer: Arc<Confirmer>,
    metrics: Arc<Metrics>,
    /// Outbox sinks every new event is addressed to.
    sinks: Arc<Vec<String>>,
}

/// The polling engine over one database.
pub struct Poller {
    ctx: Arc<Context>,
    /// The dispatcher's scan. Not shared with the writer: a long write (a big batch, or
    /// one waiting out the shop's lock) must not hold up the scan.
    reader: Db,
    /// The writer's own, so its transactions never queue behind a scan.
    writer: Db,
}

impl Poller {
    /// Prepares the engine over two handles on the database: `reader` for the scan and
    /// `writer` for the outcomes. For SQLite they must be two connections (see
    /// [`Poller`]'s fields); `app` opens them.
    pub fn new(
        cfg: &PollConfig,
        (reader, writer): (Db, Db),
        confirmer: Arc<Confirmer>,
        sinks: Arc<Vec<String>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            ctx: Arc::new(Context {
                cfg: cfg.clone(),
                confirmer,
                metrics,
                sinks,
            }),
            reader,
            writer,
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
