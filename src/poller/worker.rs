//! The confirm workers: each takes the next due payment from the queue, confirms it through
//! the one confirm path ([`crate::confirm::Confirmer`]) and hands the outcome to the writer.
//!
//! A payment a worker holds is released (no longer in flight) however the worker lets go
//! of it: outcome handed to the writer, handed back unsent, or the worker panicking, in
//! which case it is released only after `min_interval`, so a confirm that was sent and
//! never recorded is not followed by another too soon.

use super::Context;
use super::queue::JobQueue;
use crate::confirm::Turn;
use crate::payment::ConfirmOutcome;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Takes due payments from the queue and confirms them, one at a time, until `stop`. A
/// payment taken while confirms are held (paused, or the database refusing writes) is
/// handed back unsent.
pub(super) async fn worker(
    ctx: Arc<Context>,
    queue: Arc<JobQueue>,
    out: mpsc::Sender<ConfirmOutcome>,
    done: mpsc::UnboundedSender<i64>,
    stop: CancellationToken,
) {
    while let Some(payment) = queue.next(&stop).await {
        ctx.metrics.beat();
        let floor = ctx.confirmer.live().policy.schedule.min_interval;
        let release = Release::new(payment.id, done.clone(), floor);
        match ctx.confirmer.confirm(payment, &stop).await {
            // The writer releases it once recorded. If the writer is gone (shutdown, or it
            // failed), `release` lets go of it here.
            Turn::Sent(outcome) => {
                if out.send(*outcome).await.is_ok() {
                    release.disarm();
                }
            }
            Turn::Held => {}
            Turn::Stopped => return,
        }
    }
}

/// Tells the dispatcher a payment is no longer in flight when dropped, unless disarmed.
struct Release {
    id: Option<i64>,
    done: mpsc::UnboundedSender<i64>,
    floor: Duration,
}

impl Release {
    fn new(id: i64, done: mpsc::UnboundedSender<i64>, floor: Duration) -> Self {
        Self {
            id: Some(id),
            done,
            floor,
        }
    }

    /// Someone else (the writer) releases the payment.
    fn disarm(mut self) {
        self.id = None;
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        if !std::thread::panicking() {
            let _ = self.done.send(id);
            return;
        }
        // A confirm may have been sent: LigdiCash's floor between two confirms still holds.
        let (done, floor) = (self.done.clone(), self.floor);
        tracing::error!(
            payment_id = id,
            "a confirm worker panicked; the payment is due again after min_interval"
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(floor).await;
                let _ = done.send(id);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that panics while holding a payment lets go of it, after the floor.
    #[tokio::test(start_paused = true)]
    async fn a_panicking_worker_releases_its_payment_after_min_interval() {
        let (done, mut released) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let _release = Release::new(7, done, Duration::from_secs(3));
            panic!("a confirm fails");
        });
        assert!(task.await.unwrap_err().is_panic());
        tokio::time::sleep(Duration::from_millis(2_900)).await;
        assert!(released.try_recv().is_err(), "not before min_interval");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(released.try_recv().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_payment_is_released_at_once_when_handed_back_and_not_when_disarmed() {
        let (done, mut released) = mpsc::unbounded_channel();
        drop(Release::new(1, done.clone(), Duration::from_secs(3)));
        assert_eq!(released.try_recv().unwrap(), 1);
        Release::new(2, done, Duration::from_secs(3)).disarm();
        assert!(released.try_recv().is_err());
    }
}
