//! The confirm workers: each takes the next due payment from the queue, waits for a
//! rate-limit slot, confirms it, interprets the answer with the pure policy and hands the
//! outcome to the writer.
//!
//! A payment a worker holds is released (no longer in flight) however the worker lets go
//! of it: outcome handed to the writer, handed back unsent, or the worker panicking, in
//! which case it is released only after `min_interval`, so a confirm that was sent and
//! never recorded is not followed by another too soon.

use super::{Context, HEARTBEAT, with_store};
use crate::ligdicash::{Classified, Exchange, Timed, classify};
use crate::store::{Change, ConfirmOutcome, DuePayment};
use crate::time::{Millis, ms, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::decide::decide;
use super::queue::JobQueue;

/// Takes due payments from the queue and confirms them, one at a time, under the global
/// rate limit, until `stop`. A payment taken while polling is held (paused, or the database
/// refusing writes) is handed back unsent.
pub(super) async fn worker(
    ctx: Arc<Context>,
    queue: Arc<JobQueue>,
    out: mpsc::Sender<ConfirmOutcome>,
    done: mpsc::UnboundedSender<i64>,
    stop: CancellationToken,
) {
    while let Some(payment) = queue.next(&stop).await {
        ctx.metrics.beat();
        let release = Release::new(
            payment.id,
            done.clone(),
            ctx.live().policy.schedule.min_interval,
        );
        // While held, queued jobs go back at once rather than one per rate-limit slot.
        if !held(&ctx) && !acquire_slot(&ctx, &stop).await {
            return;
        }
        // The call's time in the attempt log is when the limiter let it go.
        let granted_at = now_ms();
        if held(&ctx) {
            continue;
        }
        let outcome = confirm_one(&ctx, payment, granted_at).await;
        // The writer releases it once recorded. If the writer is gone (shutdown, or it
        // failed), `release` lets go of it here.
        if out.send(outcome).await.is_ok() {
            release.disarm();
        }
    }
}

/// Whether confirms must wait: polling paused (refused credentials, 429) or the database
/// refusing writes (the answers could not be kept).
pub(super) fn held(ctx: &Context) -> bool {
    ctx.throttle.pause.remaining().is_some() || ctx.metrics.writes.failing()
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

/// Confirms one payment and decides what to record.
async fn confirm_one(ctx: &Context, p: DuePayment, at: Millis) -> ConfirmOutcome {
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
    attempt_record(p, at, timed, classified, decision.change, decision.error)
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
