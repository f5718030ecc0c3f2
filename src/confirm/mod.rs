//! The one confirm path: every confirm of the process (the poller's workers, the nightly
//! re-check and `report --recheck`, the shop API's confirm-now) goes through
//! [`Confirmer::confirm`], so a rule about money lives in one place. Payouts are one more
//! kind of payment on this path (their own endpoint, schedule and rules in `decide`), and a
//! LigdiCash callback only makes a payment due (a pending one now, a final one it
//! contradicts once more) for the poller to confirm here.
//!
//! ```text
//! DuePayment ──▶ throttle (rate limit, pause) ──▶ ligdicash::client ──▶ classify (pure)
//!                                                                         │
//!        ConfirmOutcome ◀── decide (pure: verify, timeout, Code02) ◀── observe (pauses,
//!        (to the store's one writer,                                   incidents, metrics)
//!         a compare-and-set on the status it was claimed in)
//! ```
//!
//! The pieces: [`throttle`] (strict spacing and the global pause), [`schedule`] (the pure
//! backoff), [`mod@decide`] and [`mod@verify`] (the pure policy), [`incidents`] (a failure class
//! logged once per incident), [`cluster`] (on PostgreSQL, this node's share of the rate).

pub mod cluster;
pub mod decide;
mod floors;
pub mod incidents;
pub mod schedule;
pub mod throttle;
pub mod verify;

use crate::config::{PayoutsConfig, PollConfig};
use crate::ligdicash::{Classified, Exchange, LigdicashClient, Timed, classify_for};
use crate::metrics::Metrics;
use crate::payment::{Change, ConfirmOutcome, DuePayment};
use crate::store::Db;
use crate::time::{Millis, ms, now_ms};
use decide::{Policy, decide};
use floors::Floors;
use incidents::Incidents;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use throttle::Throttle;
use tokio_util::sync::CancellationToken;

/// How often a caller waiting for a rate-limit slot beats the heartbeat: a low
/// `max_requests_per_second` is waiting, not a stall.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// [`PollConfig`] keys a running daemon applies on reload; the others need a restart.
/// Every `[payouts]` key is applied on reload.
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

/// Poll settings that can change while running: read afresh for every decision.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub policy: Policy,
    pub first_delay: Duration,
    /// `[payouts] first_delay`: a payout's first confirm after enqueue.
    pub payout_first_delay: Duration,
    pub scan: Duration,
    pub auth_initial: Duration,
    pub auth_max: Duration,
}

impl Live {
    pub fn from_config(cfg: &PollConfig, payouts: &PayoutsConfig) -> Self {
        // A refused call leaves its payment due, so the pause alone spaces its next confirm:
        // it must not be shorter than `min_interval` (LigdiCash's 3 s between confirms).
        let auth_initial = cfg.auth_retry_initial.0.max(cfg.min_interval.0);
        Self {
            policy: Policy::from_config(cfg, payouts),
            first_delay: cfg.first_delay.0,
            payout_first_delay: payouts.first_delay.0,
            scan: cfg.scan_interval.0,
            auth_initial,
            auth_max: cfg.auth_retry_max.0.max(auth_initial),
        }
    }

    /// The wait after enqueue before a payment of `kind` is first confirmed.
    pub fn first_delay_of(&self, kind: crate::payment::Kind) -> Duration {
        if kind.is_money_out() {
            self.payout_first_delay
        } else {
            self.first_delay
        }
    }
}

/// What became of one call to [`Confirmer::confirm`].
#[derive(Debug)]
pub enum Turn {
    /// LigdiCash was asked (or the call failed): the outcome to record.
    Sent(Box<ConfirmOutcome>),
    /// Not sent: polling is paused (credentials refused, 429) or the database refuses
    /// writes, so an answer could not be kept; or its claim's send window has passed.
    /// Try again later.
    Held,
    /// Not sent: `stop` fired while waiting for a slot.
    Stopped,
}

/// Confirms payments: one per process, shared by every caller.
pub struct Confirmer {
    client: LigdicashClient,
    /// Shared with the cluster heartbeat, which sets this node's share of the rate.
    throttle: Arc<Throttle>,
    /// When each payment was last sent (or is reserved to be), so two callers (the poller
    /// and the shop's confirm-now) never confirm one token within `min_interval`.
    floors: Mutex<Floors>,
    live: RwLock<Live>,
    incidents: Incidents,
    metrics: Arc<Metrics>,
    /// Where `reconciler.auth_failed` is recorded, and the sinks it is addressed to.
    events: Db,
    sinks: Arc<Vec<String>>,
}

impl Confirmer {
    pub fn new(
        cfg: &PollConfig,
        payouts: &PayoutsConfig,
        client: LigdicashClient,
        metrics: Arc<Metrics>,
        events: Db,
        sinks: Arc<Vec<String>>,
    ) -> Self {
        Self {
            client,
            throttle: Arc::new(Throttle::per_second(cfg.max_requests_per_second)),
            floors: Mutex::default(),
            live: RwLock::new(Live::from_config(cfg, payouts)),
            incidents: Incidents::default(),
            metrics,
            events,
            sinks,
        }
    }

    /// The settings in force now.
    pub fn live(&self) -> Live {
        *self.live.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the reloadable keys of `cfg` and `payouts` (already validated) at once.
    pub fn reload(&self, cfg: &PollConfig, payouts: &PayoutsConfig) {
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Live::from_config(cfg, payouts);
        self.throttle.set_limit(cfg.max_requests_per_second);
    }

    /// The rate limit and the global pause, for tests that drive them directly.
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// The throttle itself, for the cluster heartbeat that allots this node its share.
    pub fn shared_throttle(&self) -> Arc<Throttle> {
        self.throttle.clone()
    }

    /// How long polling stays paused (refused credentials, 429), if it is.
    pub fn paused_for(&self) -> Option<Duration> {
        self.throttle.pause.remaining()
    }

    /// The health of database writes, which every caller recording an outcome reports to.
    pub fn writes(&self) -> &crate::health::WriteHealth {
        &self.metrics.writes
    }

    /// Whether confirms must wait: paused, or the database refusing writes.
    pub fn held(&self) -> bool {
        self.paused_for().is_some() || self.metrics.writes.failing()
    }

    /// Confirms `p` when the rate limit allows, and decides what its answer means.
    pub async fn confirm(&self, p: DuePayment, stop: &CancellationToken) -> Turn {
        // While held, callers get the payment back at once rather than one per slot.
        if self.held() {
            return Turn::Held;
        }
        if p.send_by.is_some_and(|last| now_ms() > last) {
            return Turn::Held;
        }
        // LigdiCash's floor between two confirms of one token, whoever sent the last one.
        let min = ms(self.live().policy.schedule.min_interval);
        let not_before = lock(&self.floors).reserve(p.id, p.last_confirm_at, now_ms(), min);
        let wait = not_before.saturating_sub(now_ms());
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = stop.cancelled() => return Turn::Stopped,
            }
        }
        if !self.acquire_slot(stop).await {
            return Turn::Stopped;
        }
        // The call's time in the attempt log is when the limiter and the floor let it go.
        let at = loop {
            let now = now_ms();
            let Some(floor) = lock(&self.floors).send(p.id, now, min) else {
                break now;
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(floor.saturating_sub(now) as u64)) => {}
                _ = stop.cancelled() => return Turn::Stopped,
            }
        };
        if self.held() {
            return Turn::Held;
        }
        if p.send_by.is_some_and(|last| at > last) {
            // Sent now, the call could outlive the claim's lease: another node may take
            // the row over and confirm it within LigdiCash's floor. The row is claimed
            // again once the lease ends.
            tracing::warn!(
                token = %p.token,
                "a claimed payment waited past its send window (rate lowered, or a pause); handed back unsent"
            );
            return Turn::Held;
        }
        let timed = self.client.confirm(p.kind, &p.token).await;
        let classified = classify_for(p.kind, &timed.exchange);
        let finished = now_ms();
        // The next call of this token waits `min_interval` from this answer, not from this
        // send: LigdiCash received the request before it answered, so however long this
        // one took in transit (a new connection's handshake), the next cannot arrive
        // within `min_interval` of it.
        lock(&self.floors).answered(p.id, finished);
        self.observe(&p, &classified, at);
        let decision = decide(
            &self.live().policy,
            &p,
            &classified,
            finished,
            fastrand::f64(),
        );
        let answered = classified.answer().is_some() || classified == Classified::NotFound;
        self.metrics
            .confirm(p.kind, classified.label(), timed.latency, answered);
        Turn::Sent(Box::new(attempt_record(
            p,
            at,
            timed,
            classified,
            decision.change,
            decision.error,
        )))
    }

    /// Waits for a rate-limit slot, beating the heartbeat every [`HEARTBEAT`] meanwhile;
    /// false if `stop` came first.
    async fn acquire_slot(&self, stop: &CancellationToken) -> bool {
        if self.throttle.limiter.try_acquire() {
            return true;
        }
        let acquire = self.throttle.limiter.acquire();
        tokio::pin!(acquire);
        loop {
            // Biased: a slot that comes free is taken before the heartbeat branch is polled.
            tokio::select! {
                biased;
                _ = &mut acquire => return true,
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep(HEARTBEAT) => self.metrics.beat(),
            }
        }
    }

    /// Process-wide reactions to an answer: pauses, the auth metric, and logging once per
    /// incident. Every caller goes through here, so none can forget a pause.
    fn observe(&self, p: &DuePayment, c: &Classified, sent_at: Millis) {
        match c {
            Classified::AuthFailed { detail } => {
                let live = self.live();
                let (pause, new) = self
                    .throttle
                    .pause
                    .auth_failed(live.auth_initial, live.auth_max);
                self.metrics.set_auth_failing(true);
                if new {
                    self.record_auth_incident(detail);
                    tracing::error!(
                        detail,
                        pause_ms = pause.as_millis() as u64,
                        "LigdiCash refused our credentials: polling of all payments paused; check the API key and token (and, for Code01, that payin is activated for the project)"
                    );
                }
            }
            Classified::Transient { class, detail, .. } => {
                self.incidents.failed(class.as_str(), detail, now_ms());
                self.throttle.note_rate_limit(c);
            }
            _ => {
                if self.throttle.pause.auth_ok() {
                    self.metrics.set_auth_failing(false);
                    tracing::info!("LigdiCash accepts our credentials again: polling resumed");
                }
                self.incidents.answered(sent_at);
                if let Classified::Pending {
                    unknown_status: Some(s),
                    ..
                } = c
                {
                    self.incidents.unknown_status(s, &p.token);
                }
            }
        }
    }

    /// Emits `reconciler.auth_failed` through the outbox, once per incident.
    fn record_auth_incident(&self, detail: &str) {
        let data = serde_json::json!({ "detail": detail });
        let (db, sinks) = (self.events.clone(), self.sinks.clone());
        tokio::spawn(async move {
            let result = db
                .insert_operational_event("reconciler.auth_failed", data, sinks, now_ms())
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot record the reconciler.auth_failed event");
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one confirm call leaves in the attempt log and on the payment: the HTTP status,
/// the raw body, what LigdiCash answered, the error.
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
        kind: p.kind,
        token: p.token,
        at,
        latency_ms: ms(timed.latency),
        http_status,
        outcome: classified.label(),
        error,
        answer: classified.into_answer(),
        raw_body,
        change,
        from: p.status,
        claimed_reason: p.claimed_reason,
    }
}

/// The body as text, without copying it when it is valid UTF-8 (it nearly always is).
fn body_text(body: Vec<u8>) -> String {
    String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests;
