//! The callbacks counted but not kept raw (a flood of forged ones beyond the bounds of
//! `payment::callback`), tallied in memory and written to `callback_tally` every
//! [`FLUSH_EVERY`] and at shutdown: a flood costs no commit per callback. The same beat
//! logs what the callbacks of the interval did in one line, instead of a line per
//! callback: a flood cannot fill the log.
//!
//! A crash loses at most the last [`FLUSH_EVERY`] of these counts in the report;
//! `/metrics` counts every callback as it comes.

use crate::payment::callback::bucket_of;
use crate::store::Db;
use crate::time::Millis;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the counts are written and a flood is logged.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// Counts not yet written, by quarter hour: (unmatched, matched but not kept).
#[derive(Debug, Default)]
pub struct CallbackTally {
    pending: Mutex<BTreeMap<i64, (i64, i64)>>,
    /// What the callbacks did since the last log line.
    since_log: Mutex<Interval>,
}

/// What the callbacks of one interval did, for its log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Made a payment due, or asked one more confirm of a final one.
    pub acted: u64,
    /// Named a payment already due or final: folded into what was under way.
    pub folded: u64,
    pub unmatched: u64,
    /// Of the callbacks matching no payment, kept raw as a sample.
    pub sampled: u64,
}

impl CallbackTally {
    /// A callback received at `at` was not kept: it matched a payment (`matched`), or none.
    pub fn not_kept(&self, at: Millis, matched: bool) {
        let mut pending = lock(&self.pending);
        let counts = pending.entry(bucket_of(at)).or_default();
        if matched {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
    }

    /// A callback matching no payment was received; `kept` as a sample or not.
    pub fn unmatched(&self, kept: bool) {
        let mut counts = lock(&self.since_log);
        counts.unmatched += 1;
        counts.sampled += u64::from(kept);
    }

    /// A callback named a payment: it `acted` (made the reconciler confirm), or folded.
    pub fn matched(&self, acted: bool) {
        let mut counts = lock(&self.since_log);
        if acted {
            counts.acted += 1;
        } else {
            counts.folded += 1;
        }
    }

    /// Writes the counts; those the database refuses stay for the next flush. Logs what
    /// the callbacks since the last flush did, in one line (a warning when some matched
    /// no payment: forged, or meant for another shop).
    pub async fn flush(&self, db: &Db) {
        let Interval {
            acted,
            folded,
            unmatched,
            sampled,
        } = std::mem::take(&mut *lock(&self.since_log));
        let every_s = FLUSH_EVERY.as_secs();
        if unmatched > 0 {
            tracing::warn!(
                acted,
                folded,
                unmatched,
                kept_as_sample = sampled,
                every_s,
                "LigdiCash callbacks received, some matching no payment (forged, or for another shop): counted, a sample kept as evidence"
            );
        } else if acted + folded > 0 {
            tracing::info!(
                acted,
                folded,
                every_s,
                "LigdiCash callbacks received: each payment they named is confirmed rather than trusted"
            );
        }
        let counts = std::mem::take(&mut *lock(&self.pending));
        for (bucket, (unmatched, not_kept)) in counts {
            if let Err(e) = db.add_callback_tally(bucket, unmatched, not_kept).await {
                tracing::debug!(error = %e, "callback counts kept for the next flush");
                let mut pending = lock(&self.pending);
                let counts = pending.entry(bucket).or_default();
                counts.0 += unmatched;
                counts.1 += not_kept;
            }
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `shutdown`, then once more.
    pub async fn run(&self, db: Db, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.flush(&db).await,
                () = shutdown.cancelled() => break,
            }
        }
        self.flush(&db).await;
    }

    /// Counts not written yet (for tests).
    pub fn unwritten(&self) -> i64 {
        lock(&self.pending).values().map(|(a, b)| a + b).sum()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatabaseConfig, HumanDuration};
    use crate::store::Target;

    /// Counts reach the tally table at a flush, by quarter hour, and the report reads
    /// the unmatched ones back.
    #[tokio::test]
    async fn counts_are_written_at_a_flush_and_read_by_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig {
            path: dir.path().join("t.db"),
            busy_timeout: HumanDuration::secs(1),
            ..DatabaseConfig::default()
        };
        let db = Db::open(&Target::sqlite(&config)).await.unwrap();
        let tally = CallbackTally::default();
        let at = 1_800_000_000_000;
        for _ in 0..3 {
            tally.not_kept(at, false);
        }
        tally.not_kept(at, true);
        tally.not_kept(at + 900_000, false);
        tally.unmatched(false);
        assert_eq!(tally.unwritten(), 5);
        tally.flush(&db).await;
        assert_eq!(tally.unwritten(), 0);
        let facts = db.day_facts(at, at + 86_400_000, at).await.unwrap();
        assert_eq!(facts.unmatched_callbacks, 4);
    }
}
