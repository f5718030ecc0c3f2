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
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_requests_exactly() {
        let limiter = RateLimiter::per_second(5.0);
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(2), "10 gaps of 200 ms");
    }

    /// A held limiter grants nothing until its rate is raised, and a waiter wakes then
    /// (not at some slot computed before); a lowered rate spaces the very next slot.
    #[tokio::test(start_paused = true)]
    async fn a_held_limiter_wakes_its_waiter_when_raised_and_a_lowered_rate_applies_at_once() {
        let limiter = std::sync::Arc::new(RateLimiter::per_second(0.0));
        assert!(!limiter.try_acquire());
        let waiter = limiter.clone();
        let start = Instant::now();
        let granted = tokio::spawn(async move {
            waiter.acquire().await;
            start.elapsed()
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!granted.is_finished(), "held for an hour");
        limiter.set_rate(2.0);
        assert_eq!(granted.await.unwrap(), Duration::from_secs(3600));
        let lowered = Instant::now();
        limiter.set_rate(0.5);
        limiter.acquire().await;
        assert_eq!(
            lowered.elapsed(),
            Duration::from_secs(2),
            "not the old 500 ms"
        );
    }

    /// Exactly whole rates: three a second never puts four in one second.
    #[test]
    fn the_spacing_rounds_up_so_a_second_holds_no_more_than_the_rate() {
        for rate in [3.0, 7.0, 400.0] {
            let spacing = interval(rate).unwrap();
            assert!(spacing.mul_f64(rate) >= Duration::from_secs(1), "{rate}");
        }
        assert_eq!(interval(0.0), None);
        assert_eq!(interval(f64::NAN), None);
    }

    /// A reload changes the limit; on a cluster the node sends at its allotment of it.
    #[test]
    fn the_rate_is_the_allotment_of_the_limit() {
        let throttle = Throttle::per_second(5.0);
        assert_eq!(throttle.rate(), 5.0);
        assert!(throttle.has_share(), "alone: the whole limit");
        throttle.set_allotment(Allotment::Hold);
        assert_eq!(throttle.rate(), 0.0);
        assert!(!throttle.has_share(), "joining or cut off");
        throttle.set_allotment(Allotment::Share { rank: 5, of: 6 });
        assert!(
            !throttle.has_share(),
            "ranked past the fifth request a second"
        );
        throttle.set_allotment(Allotment::Share { rank: 0, of: 2 });
        assert_eq!(throttle.rate(), 3.0);
        assert!(throttle.has_share());
        throttle.set_limit(8.0);
        assert_eq!(throttle.rate(), 4.0);
        assert!(throttle.limiter.try_acquire());
        assert!(!throttle.limiter.try_acquire(), "spaced at 4 a second");
    }

    /// A caller that comes late does not get a burst to catch up.
    #[tokio::test(start_paused = true)]
    async fn rate_limiter_never_bunches_after_a_late_caller() {
        let limiter = RateLimiter::per_second(5.0);
        limiter.acquire().await;
        tokio::time::advance(Duration::from_millis(450)).await;
        let late = Instant::now();
        limiter.acquire().await;
        assert_eq!(late.elapsed(), Duration::ZERO, "the slot was free");
        limiter.acquire().await;
        assert_eq!(late.elapsed(), Duration::from_millis(200));
    }

    /// The re-check's turns come out of the same budget as the poller's, and wait out the
    /// pause a 429 or refused credentials started.
    #[tokio::test(start_paused = true)]
    async fn a_shared_throttle_waits_out_pauses_and_keeps_one_budget() {
        let throttle = std::sync::Arc::new(Throttle::per_second(5.0));
        let start = Instant::now();
        throttle.pause.hold_for(Duration::from_secs(3));
        throttle.wait_turn().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        let other = throttle.clone();
        let poller = tokio::spawn(async move {
            for _ in 0..5 {
                other.limiter.acquire().await;
            }
        });
        for _ in 0..5 {
            throttle.wait_turn().await;
        }
        poller.await.unwrap();
        // Eleven slots in all at 5 per second: ten gaps of 200 ms after the pause.
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    /// Only a 429 with `Retry-After` pauses; other failures leave the pace alone.
    #[tokio::test(start_paused = true)]
    async fn a_429_with_retry_after_pauses_every_caller() {
        let throttle = Throttle::per_second(5.0);
        let transient = |class, retry_after| Classified::Transient {
            class,
            detail: String::new(),
            retry_after,
        };
        let wait = Some(Duration::from_secs(2));
        throttle.note_rate_limit(&transient(ErrorClass::Http5xx, wait));
        throttle.note_rate_limit(&transient(ErrorClass::RateLimited, None));
        assert_eq!(throttle.pause.remaining(), None);
        throttle.note_rate_limit(&transient(ErrorClass::RateLimited, wait));
        assert_eq!(throttle.pause.remaining(), wait);
    }

    #[tokio::test(start_paused = true)]
    async fn auth_pause_doubles_up_to_the_cap_and_logs_once() {
        let pause = Pause::default();
        let (first, new) = pause.auth_failed(Duration::from_secs(30), Duration::from_secs(100));
        assert_eq!((first, new), (Duration::from_secs(30), true));
        let (second, new) = pause.auth_failed(Duration::from_secs(30), Duration::from_secs(100));
        assert_eq!((second, new), (Duration::from_secs(60), false));
        let (third, _) = pause.auth_failed(Duration::from_secs(30), Duration::from_secs(100));
        assert_eq!(third, Duration::from_secs(100));
        assert!(pause.remaining().is_some());
        assert!(pause.auth_ok());
        assert!(!pause.auth_ok());
        tokio::time::advance(Duration::from_secs(101)).await;
        assert_eq!(pause.remaining(), None);
    }
}
