//! The rate limiter's spacing, the throttle's rate and share, and the pauses.

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
