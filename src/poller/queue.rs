//! The hand-off between the dispatcher and the confirm workers.
//!
//! The dispatcher queues a claim round at once and is woken again only when the queue runs
//! low; a worker that finishes a confirm takes the next job itself. So no one is woken per
//! confirm just to learn that a slot is free (a semaphore permit per call did that: most of
//! the confirm task's own CPU in the drain profile, see docs/benchmarks.md).

use crate::payment::DuePayment;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Due payments waiting for a worker.
#[derive(Debug)]
pub struct JobQueue {
    jobs: Mutex<VecDeque<DuePayment>>,
    /// Signalled when jobs are queued.
    added: Notify,
    /// Signalled when a worker leaves `low_water` jobs or fewer.
    low: Notify,
    low_water: usize,
}

impl JobQueue {
    /// A queue that asks for more work once it holds `low_water` jobs or fewer.
    pub fn new(low_water: usize) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::new()),
            added: Notify::new(),
            low: Notify::new(),
            low_water,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DuePayment>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a claim round and wakes idle workers.
    pub fn push_all(&self, jobs: Vec<DuePayment>) {
        self.lock().extend(jobs);
        self.added.notify_waiters();
    }

    /// Whether the dispatcher should queue more.
    pub fn is_low(&self) -> bool {
        self.lock().len() <= self.low_water
    }

    /// The next job, waiting for one; `None` once `stop` fires.
    pub async fn next(&self, stop: &CancellationToken) -> Option<DuePayment> {
        loop {
            // Registered before looking, so a push between the look and the wait is seen.
            let added = self.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            if stop.is_cancelled() {
                return None;
            }
            if let Some(job) = self.pop() {
                return Some(job);
            }
            tokio::select! {
                _ = added => {}
                _ = stop.cancelled() => return None,
            }
        }
    }

    fn pop(&self) -> Option<DuePayment> {
        let mut jobs = self.lock();
        let job = jobs.pop_front()?;
        if jobs.len() <= self.low_water {
            self.low.notify_one();
        }
        Some(job)
    }

    /// Waits until the queue is low, or at most `limit`.
    pub async fn wait_low(&self, limit: Duration) {
        if self.is_low() {
            return;
        }
        // A stored wake-up may be stale: the caller looks at `is_low` again.
        let _ = tokio::time::timeout(limit, self.low.notified()).await;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A due payment with only an id and a token, for tests of the hand-off.
    pub(in crate::poller) fn job(id: i64) -> DuePayment {
        DuePayment {
            id,
            token: format!("t{id}"),
            ..DuePayment::default()
        }
    }

    #[tokio::test]
    async fn jobs_come_out_in_order_and_a_waiting_worker_is_woken() {
        let queue = std::sync::Arc::new(JobQueue::new(0));
        let stop = CancellationToken::new();
        let (q, s) = (queue.clone(), stop.clone());
        let worker = tokio::spawn(async move { q.next(&s).await.map(|j| j.id) });
        tokio::task::yield_now().await;
        queue.push_all(vec![job(1), job(2)]);
        let woken = tokio::time::timeout(Duration::from_secs(5), worker).await;
        assert_eq!(
            woken.expect("the waiting worker was woken").unwrap(),
            Some(1)
        );
        assert_eq!(queue.next(&stop).await.map(|j| j.id), Some(2));
        assert!(queue.is_low());
    }

    #[tokio::test]
    async fn stop_releases_waiting_workers_even_with_jobs_left() {
        let queue = JobQueue::new(0);
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(queue.next(&stop).await.is_none());
        queue.push_all(vec![job(1)]);
        assert!(
            queue.next(&stop).await.is_none(),
            "a stopped worker takes no new job"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_dispatcher_is_woken_when_the_queue_runs_low() {
        let queue = std::sync::Arc::new(JobQueue::new(1));
        let stop = CancellationToken::new();
        queue.push_all((1..=3).map(job).collect());
        assert!(!queue.is_low());
        let q = queue.clone();
        let waiter = tokio::spawn(async move {
            q.wait_low(Duration::from_secs(3600)).await;
            tokio::time::Instant::now()
        });
        let start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        queue.next(&stop).await;
        queue.next(&stop).await;
        let woke = waiter.await.unwrap();
        assert!(queue.is_low());
        assert!(
            woke - start < Duration::from_secs(60),
            "woken by the pop, not the limit"
        );
    }
}
