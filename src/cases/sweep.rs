//! The case sweep: one task per daemon that looks at what changed since its last look
//! (payments in a status that may need a person, callbacks received, payouts marked
//! overdue, pending windows that passed `[cases] pending_after`, open cases whose payment
//! changed), asks the pure policy what each needs ([`need::needed`], [`need::step`]), and
//! writes the opens and closes, each with its event, in one transaction.
//!
//! Idempotent: a case opens at most once per payment and need, and closes once, whatever
//! the number of sweeps or nodes (the store's compare-and-sets). How far it looked (its
//! marks) is kept in memory and recorded with each write, so an idle daemon writes
//! nothing, and a restart looks again from the last recorded marks ([`LOOK_BACK`] earlier,
//! for writes that commit after the time they record).
//!
//! Bounded: what changed is bounded by the traffic since the last look, but the invoices
//! pending too long are bounded by nothing (a backlog at the first sweep after an
//! upgrade), so their windows are read [`PENDING_CHUNK`] of creation time at a time,
//! starting at the oldest pending one, one chunk after the other until caught up.

use crate::config::CasesConfig;
use crate::payment::case::need::{self, Step};
use crate::store::{
    CaseCandidate, CaseWrite, Db, StoreError, SweepMarks, SweepWindow, SweepWrites,
};
use crate::time::{Millis, ms, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How far before its marks a sweep looks again: a write records the time it was decided
/// (a confirm's outcome, a callback), and may commit a little later, after a busy wait on
/// SQLite or on another node of a cluster. Looking again costs nothing but index probes:
/// what already has its case is left as it is.
pub const LOOK_BACK: Millis = 60_000;

/// The pending windows one sweep reads at most: an hour of invoices created (or requeued).
pub const PENDING_CHUNK: Millis = 3_600_000;

/// The case task.
pub struct CaseSweep {
    db: Db,
    /// Where case events go: every sink payment events go to.
    sinks: Arc<Vec<String>>,
    pending_after: Millis,
    interval: Duration,
    /// How far this process has looked; `None` until the first sweep reads the database's.
    marks: Option<SweepMarks>,
}

/// What one sweep reads, from how far the last one looked: what changed since the marks
/// (a look-back earlier), and the next chunk of pending windows that passed
/// `pending_after`, from `oldest_pending` (the oldest pending payment's start) when the
/// marks are further behind. Whether more chunks are left to read.
pub fn window(
    marks: SweepMarks,
    now: Millis,
    pending_after: Millis,
    oldest_pending: Option<Millis>,
) -> (SweepWindow, bool) {
    let until = now.saturating_sub(pending_after);
    // A window that starts at the mark: a payment pending for `pending_after` committed
    // long ago, whatever the clock of the node that wrote it.
    let from = match oldest_pending {
        Some(oldest) => marks.pending_to.max(oldest.saturating_sub(1)),
        None => marks.pending_to.max(until),
    };
    let chunk_until = until.min(from.saturating_add(PENDING_CHUNK));
    let window = SweepWindow {
        changes_from: marks.changes_to.saturating_sub(LOOK_BACK),
        overdue_from: marks.overdue_to.saturating_sub(LOOK_BACK),
        pending_from: from,
        pending_until: chunk_until.max(from),
    };
    (window, chunk_until < until)
}

/// The writes that bring each candidate's case in line with what it needs at `now`.
pub fn plan(candidates: &[CaseCandidate], now: Millis, pending_after: Millis) -> Vec<CaseWrite> {
    let mut writes = Vec::new();
    for c in candidates {
        let needs = need::needed(&c.seen, now, pending_after);
        let open = c.open.map(|(_, case)| case);
        let open_id = c.open.map(|(id, _)| id);
        let opening = |need| CaseWrite::Open {
            payment_id: c.payment_id,
            need,
            status: c.seen.status,
        };
        match (
            need::step(open, c.seen.status, needs, |n| c.had.contains(n)),
            open_id,
        ) {
            (Step::Keep, _) => {}
            (Step::Open(n), _) => writes.push(opening(n)),
            (Step::Close(reason), Some(case_id)) => {
                writes.push(CaseWrite::Close { case_id, reason });
            }
            (Step::Replace(reason, n), Some(case_id)) => {
                writes.push(CaseWrite::Close { case_id, reason });
                writes.push(opening(n));
            }
            // A close without an open case: the policy only closes what it was given.
            (Step::Close(_) | Step::Replace(..), None) => {}
        }
    }
    writes
}

impl CaseSweep {
    pub fn new(config: &CasesConfig, db: Db, sinks: Arc<Vec<String>>) -> Self {
        Self {
            db,
            sinks,
            pending_after: ms(config.pending_after.0),
            interval: config.sweep_interval.0,
            marks: None,
        }
    }

    /// One sweep at `now`: reads what changed since the last, writes what it needs. Returns
    /// what it wrote, and whether pending windows are left to read (then sweep again).
    pub async fn sweep_once(&mut self, now: Millis) -> Result<(SweepWrites, bool), StoreError> {
        let marks = match self.marks {
            Some(marks) => marks,
            None => self.db.case_marks().await?,
        };
        // The oldest pending payment is asked for only when the marks are behind by more
        // than a chunk (the first sweep, or after a long stop): one index probe.
        let behind = now.saturating_sub(self.pending_after) - marks.pending_to > PENDING_CHUNK;
        let oldest = match behind {
            true => self.db.oldest_pending_start().await?,
            false => Some(marks.pending_to),
        };
        let (window, more) = window(marks, now, self.pending_after, oldest);
        let candidates = self.db.case_candidates(window).await?;
        let writes = plan(&candidates, now, self.pending_after);
        let next = SweepMarks {
            changes_to: now.max(marks.changes_to),
            overdue_to: now.max(marks.overdue_to),
            pending_to: window.pending_until.max(marks.pending_to),
        };
        let done = match writes.is_empty() {
            true => SweepWrites::default(),
            false => {
                let sinks = self.sinks.clone();
                self.db.write_cases(writes, next, now, sinks).await?
            }
        };
        if done.opened + done.closed > 0 {
            tracing::info!(
                opened = done.opened,
                closed = done.closed,
                "cases: payments that need a person, or no longer do (`cases` lists them)"
            );
        }
        self.marks = Some(next);
        Ok((done, more))
    }

    /// Sweeps at `now` until the pending windows are caught up (one sweep, usually).
    pub async fn sweep_all(&mut self, now: Millis) -> Result<SweepWrites, StoreError> {
        let mut total = SweepWrites::default();
        loop {
            let (done, more) = self.sweep_once(now).await?;
            total.opened += done.opened;
            total.closed += done.closed;
            if !more {
                return Ok(total);
            }
        }
    }

    /// Sweeps every `[cases] sweep_interval` until `shutdown`. A sweep that fails (the
    /// database unavailable for a while) is logged and tried again at the next interval:
    /// nothing is lost, the next sweep looks from the same marks.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(self.interval);
        // After a stall, one sweep covers the time missed: no burst of sweeps.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(e) = self.sweep_all(now_ms()).await {
                tracing::error!(error = %e, "case sweep failed; trying again at the next interval");
            }
        }
    }
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
