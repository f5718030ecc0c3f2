//! Whether a listener can take one more connection.
//!
//! [`super::serve`] writes it as it takes connection slots; `/readyz` and `/metrics`, served
//! by another listener, read it: a listener whose slots are all taken cannot answer about
//! itself. Without it, 64 held connections blocked every request of the shop while
//! `/readyz` said ready.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// All slots taken for less than this is a burst, not a problem: `/readyz` stays ready.
const SATURATED_AFTER: Duration = Duration::from_secs(1);

/// A listener's connection slots as [`super::serve`] sees them.
#[derive(Debug)]
pub struct ListenerHealth {
    start: Instant,
    /// The listener's connection cap; 0 until it serves.
    slots: AtomicUsize,
    /// Since when every slot has been taken, in milliseconds after `start`, plus one;
    /// 0 while a slot is free.
    saturated_since: AtomicU64,
}

impl Default for ListenerHealth {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            slots: AtomicUsize::new(0),
            saturated_since: AtomicU64::new(0),
        }
    }
}

impl ListenerHealth {
    pub(crate) fn serving(&self, slots: usize) {
        self.slots.store(slots, Ordering::Relaxed);
    }

    /// No slot could be had at once: saturated from now, unless already.
    pub(crate) fn full(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .saturated_since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// A slot was had: a connection can be accepted.
    pub(crate) fn slot_taken(&self) {
        self.saturated_since.store(0, Ordering::Relaxed);
    }

    /// The listener's connection cap, or 0 when it does not serve (the API turned off).
    pub fn slots(&self) -> usize {
        self.slots.load(Ordering::Relaxed)
    }

    /// How long every slot has been taken; `None` while one is free.
    pub fn saturated_for(&self) -> Option<Duration> {
        match self.saturated_since.load(Ordering::Relaxed) {
            0 => None,
            since => {
                let at = self.start + Duration::from_millis(since - 1);
                Some(Instant::now().saturating_duration_since(at))
            }
        }
    }

    /// The `/readyz` line for the listener called `name`, when it has been saturated for
    /// `SATURATED_AFTER` or more.
    pub fn problem(&self, name: &str) -> Option<String> {
        describe(name, self.slots(), self.saturated_for())
    }
}

fn describe(name: &str, slots: usize, saturated_for: Option<Duration>) -> Option<String> {
    let busy = saturated_for.filter(|d| *d >= SATURATED_AFTER)?;
    Some(format!(
        "{name}: all {slots} connection slots busy for {} s",
        busy.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_names_the_listener_and_how_long_it_has_been_full_after_a_second() {
        let secs = Duration::from_secs;
        assert_eq!(describe("api", 64, None), None);
        assert_eq!(describe("api", 64, Some(Duration::from_millis(999))), None);
        assert_eq!(
            describe("api", 64, Some(Duration::from_millis(3_400))).as_deref(),
            Some("api: all 64 connection slots busy for 3 s")
        );
        assert!(describe("api", 2, Some(secs(1))).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn saturation_counts_from_the_first_refusal_until_a_slot_is_taken() {
        let health = ListenerHealth::default();
        health.serving(2);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(health.problem("api"), None);
        health.full();
        tokio::time::advance(Duration::from_millis(1_500)).await;
        health.full();
        tokio::time::advance(Duration::from_millis(1_000)).await;
        assert_eq!(health.saturated_for(), Some(Duration::from_millis(2_500)));
        assert_eq!(
            health.problem("api").as_deref(),
            Some("api: all 2 connection slots busy for 2 s")
        );
        health.slot_taken();
        assert_eq!(health.saturated_for(), None);
        assert_eq!(health.problem("api"), None);
    }
}
