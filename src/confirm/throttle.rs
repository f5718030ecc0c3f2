//! Global brakes on confirm traffic: a request-rate limiter and a pause that stops all
//! polling (credentials refused, or LigdiCash answered 429).

use crate::ligdicash::{Classified, ErrorClass};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Spaces requests at least `1 / rate` apart, process-wide. Strict spacing (no burst) means
/// the configured rate is never exceeded over any window.
#[derive(Debug)]
pub struct RateLimiter {
    /// (interval between slots, next free slot)
    state: Mutex<(Duration, Option<Instant>)>,
}

fn interval(rate: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rate.max(1e-6))
}

impl RateLimiter {
    pub fn per_second(rate: f64) -> Self {
        Self {
            state: Mutex::new((interval(rate), None)),
        }
    }

    /// Changes the rate; slots already handed out keep their time.
    pub fn set_rate(&self, rate: f64) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = interval(rate);
    }

    /// Takes the slot if it is free now, without waiting (the common case at high rates).
    pub fn try_acquire(&self) -> bool {
        self.take_slot().is_ok()
    }

    /// Takes the free slot, or says when the next one comes.
    fn take_slot(&self) -> Result<(), Instant> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match state.1 {
            Some(next) if next > now => Err(next),
            _ => {
                state.1 = Some(now + state.0);
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
            let Err(due) = self.take_slot() else {
                return;
            };
            // tokio's timer has millisecond resolution: for a slot less than a millisecond
            // away (high rates), yielding beats sleeping a whole millisecond per request.
            if due.saturating_duration_since(Instant::now()) < Duration::from_millis(1) {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep_until(due).await;
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
}

impl Throttle {
    pub fn per_second(rate: f64) -> Self {
        Self {
            limiter: RateLimiter::per_second(rate),
            pause: Pause::default(),
        }
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
