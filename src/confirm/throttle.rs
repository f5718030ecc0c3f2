//! Global brakes on confirm traffic: a request-rate limiter and a pause that stops all
//! polling (credentials refused, or LigdiCash answered 429).

use super::cluster::Allotment;
use crate::ligdicash::{Classified, ErrorClass};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Spaces requests at least `1 / rate` apart, process-wide. Strict spacing (no burst) means
/// the configured rate is never exceeded over any window. A rate of zero holds every
/// request until the rate is raised (a cluster node not yet allotted a share).
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<Slots>,
    /// Wakes the waiters when the rate changes: a held request must not sleep on.
    changed: Notify,
}

#[derive(Debug)]
struct Slots {
    /// Between two slots; `None`: held.
    interval: Option<Duration>,
    /// When the last slot was granted.
    last: Option<Instant>,
}

/// The spacing of `rate` requests a second, rounded up to the nanosecond: rounded down,
/// `rate` spacings would fit in less than a second and a window of one second could see
/// one request more than `rate` (4 at 3 a second). `None` (held) for zero or less.
fn interval(rate: f64) -> Option<Duration> {
    // Saturating cast; at most 10^15 ns (a rate floor of 10^-6).
    (rate > 0.0).then(|| Duration::from_nanos((1e9 / rate.max(1e-6)).ceil() as u64))
}

impl RateLimiter {
    pub fn per_second(rate: f64) -> Self {
        Self {
            state: Mutex::new(Slots {
                interval: interval(rate),
                last: None,
            }),
            changed: Notify::new(),
        }
    }

    /// Changes the rate at once, the next slot included: it is `1 / rate` after the last
    /// one granted, so a lowered rate is never followed by a slot at the old spacing.
    /// Zero holds every request until the rate is raised again.
    pub fn set_rate(&self, rate: f64) {
        self.lock().interval = interval(rate);
        self.changed.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the slot if it is free now, without waiting (the common case at high rates).
    pub fn try_acquire(&self) -> bool {
        self.take_slot().is_ok()
    }

    /// Takes the free slot, or says when the next one comes (`None`: held).
    fn take_slot(&self) -> Result<(), Option<Instant>> {
        let mut state = self.lock();
        let interval = state.interval.ok_or(None)?;
        let now = Instant::now();
        match state.last.map(|last| last.checked_add(interval)) {
            Some(None) => Err(None),
            Some(Some(next)) if next > now => Err(Some(next)),
            _ => {
                state.last = Some(now);
                Ok(())
            }
        }
    }

    /// Waits for the next free slot. The next slot is counted from the moment this one is
    /// actually granted, not from when it was due: a timer that fires late (tokio's has
    /// millisecond resolution) then delays the next request instead of squeezing two
    /// requests closer than `1 / rate`, so no window of any length ever sees more.
    pub async fn acquire(&self) {
        loop {
            // Registered before the slot is looked at, so a change in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let due = match self.take_slot() {
                Ok(()) => return,
                Err(None) => {
                    changed.await;
                    continue;
                }
                Err(Some(due)) => due,
            };
            // tokio's timer has millisecond resolution: for a slot less than a millisecond
            // away (high rates), yielding beats sleeping a whole millisecond per request.
            if due.saturating_duration_since(Instant::now()) < Duration::from_millis(1) {
                tokio::task::yield_now().await;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = &mut changed => {}
                }
            }
        }
    }
}

/// The rate limit and the pause every confirm call of the process obeys: the poller's and
/// the nightly re-check's alike, so together they never exceed `max_requests_per_second`
/// and both stop for a 429's `Retry-After` or refused credentials.
#[derive(Debug)]
pub struct Throttle {
    pub limiter: RateLimiter,
    pub pause: Pause,
    /// What the limiter's rate is computed from.
    rate: Mutex<RateParts>,
}

/// The configured limit and, on a cluster, this node's allotment of it.
#[derive(Debug, Clone, Copy)]
struct RateParts {
    limit: f64,
    allotment: Option<Allotment>,
}

impl RateParts {
    fn rate(self) -> f64 {
        self.allotment.map_or(self.limit, |a| a.rate(self.limit))
    }
}

impl Throttle {
    pub fn per_second(rate: f64) -> Self {
        Self {
            limiter: RateLimiter::per_second(rate),
            pause: Pause::default(),
            rate: Mutex::new(RateParts {
                limit: rate,
                allotment: None,
            }),
        }
    }

    /// Sets `max_requests_per_second` (a reload). Alone, the node sends at that rate; on a
    /// cluster, at its allotment of it.
    pub fn set_limit(&self, limit: f64) {
        self.update(|parts| parts.limit = limit);
    }

    /// Sets this node's allotment of the cluster's limit (each heartbeat, from
    /// [`ClusterRate`](super::cluster::ClusterRate)); it applies at once.
    pub fn set_allotment(&self, allotment: Allotment) {
        self.update(|parts| parts.allotment = Some(allotment));
    }

    /// The rate this node sends at now, requests a second (zero: held).
    pub fn rate(&self) -> f64 {
        self.parts().rate()
    }

    /// Whether this node may send confirms at all now. A cluster node joining, cut off from
    /// the others (its heartbeat failing), or ranked past the last whole request a second
    /// has a rate of 0 until an allotment gives it some: a confirm it claimed or waited
    /// for would be held as long, so callers ask first rather than sit on a payment (or the
    /// report lock) meanwhile. A lone node always has its share, `max_requests_per_second`
    /// being positive. One test, so every caller reads "no share" the same way.
    pub fn has_share(&self) -> bool {
        self.rate() > 0.0
    }

    fn parts(&self) -> RateParts {
        *self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut RateParts)) {
        let mut parts = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut parts);
        // Under the lock: two updates at once reach the limiter in their order.
        self.limiter.set_rate(parts.rate());
    }

    /// A 429's `Retry-After` holds back every confirm of the process, whoever got it.
    pub fn note_rate_limit(&self, c: &Classified) {
        if let Classified::Transient {
            class: ErrorClass::RateLimited,
            retry_after: Some(wait),
            ..
        } = c
        {
            self.pause.hold_for(*wait);
        }
    }

    /// Waits out any pause, then for a rate-limit slot; again if a pause began meanwhile.
    pub async fn wait_turn(&self) {
        loop {
            if let Some(wait) = self.pause.remaining() {
                tokio::time::sleep(wait).await;
                continue;
            }
            self.limiter.acquire().await;
            if self.pause.remaining().is_none() {
                return;
            }
        }
    }
}

/// A process-wide pause of all polling.
#[derive(Debug, Default)]
pub struct Pause {
    state: Mutex<PauseState>,
}

#[derive(Debug, Default)]
struct PauseState {
    until: Option<Instant>,
    auth_failures: u32,
}

impl Pause {
    fn lock(&self) -> std::sync::MutexGuard<'_, PauseState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long polling must still wait, if it is paused.
    pub fn remaining(&self) -> Option<Duration> {
        let until = self.lock().until?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Records a credentials refusal; returns the pause length and whether this failure
    /// starts a new incident (so the caller logs it once, not per call).
    pub fn auth_failed(&self, initial: Duration, max: Duration) -> (Duration, bool) {
        let mut s = self.lock();
        s.auth_failures += 1;
        let factor = 2u32.saturating_pow(s.auth_failures.saturating_sub(1).min(20));
        let pause = initial.saturating_mul(factor).min(max);
        let until = instant_after(pause);
        s.until = Some(s.until.map_or(until, |u| u.max(until)));
        (pause, s.auth_failures == 1)
    }

    /// Records an answer that proves the credentials work; true if that ends an incident.
    pub fn auth_ok(&self) -> bool {
        let mut s = self.lock();
        let was_failing = s.auth_failures > 0;
        s.auth_failures = 0;
        was_failing
    }

    /// Holds every request back for `wait` (a 429's `Retry-After`).
    pub fn hold_for(&self, wait: Duration) {
        let mut s = self.lock();
        let until = instant_after(wait);
        s.until = Some(s.until.map_or(until, |u| u.max(until)));
    }
}

/// `wait` from now, saturating where `Instant + Duration` would panic. Validated pauses
/// never come near that; a year stands in for anything longer.
fn instant_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
