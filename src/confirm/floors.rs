//! LigdiCash's floor between two confirms of one token (`min_interval`), kept in this
//! process between the callers that may confirm one payment at once (the poller, the
//! re-check, the shop's confirm-now). The database keeps it across processes
//! (`last_confirm_at`, and `last_sent_at` on PostgreSQL).
//!
//! Two steps, because a caller waits between them: [`Floors::reserve`] spreads the callers
//! of one token `min` apart as they arrive; [`Floors::send`], right before the call, checks
//! the floor against what happened meanwhile. A reservation is made before the previous
//! call was answered, and the floor counts from that answer (LigdiCash had the request by
//! then, however long it was in transit): a caller whose turn comes less than `min` after
//! an answer, or after another caller's send, waits again.

use crate::time::Millis;
use std::collections::HashMap;

/// Per payment id, the latest send reserved or made, and the latest send made or answer
/// received.
#[derive(Debug, Default)]
pub(super) struct Floors {
    /// The latest time reserved, sent or answered: where the next reservation counts from.
    pub(super) reserved: HashMap<i64, Millis>,
    /// The latest send made or answer received: the floor a send is checked against.
    seen: HashMap<i64, Millis>,
    /// Entries beyond this count trigger a sweep of the stale ones (amortised O(1)).
    sweep_at: usize,
}

impl Floors {
    /// The time the next confirm of `id` may be sent, reserved for the caller: `min` after
    /// the latest reservation, send or answer here, or after `recorded` (the last confirm
    /// the database knows of).
    pub(super) fn reserve(
        &mut self,
        id: i64,
        recorded: Option<Millis>,
        now: Millis,
        min: Millis,
    ) -> Millis {
        let last = self.reserved.get(&id).copied().max(recorded);
        let at = last.map_or(now, |t| t.saturating_add(min).max(now));
        self.reserved.insert(id, at);
        if self.reserved.len() > self.sweep_at {
            self.reserved.retain(|_, t| t.saturating_add(min) > now);
            self.seen.retain(|_, t| t.saturating_add(min) > now);
            self.sweep_at = 2 * self.reserved.len() + 1024;
        }
        at
    }

    /// A caller is about to send a confirm of `id` at `now`: `None` records the send, or
    /// the time to wait for, `min` after the latest send or answer.
    pub(super) fn send(&mut self, id: i64, now: Millis, min: Millis) -> Option<Millis> {
        let floor = self.seen.get(&id).map(|t| t.saturating_add(min));
        match floor.filter(|floor| *floor > now) {
            Some(floor) => Some(floor),
            None => {
                self.seen.insert(id, now);
                None
            }
        }
    }

    /// `id`'s last call was answered at `at`: the next waits from there.
    pub(super) fn answered(&mut self, id: i64, at: Millis) {
        for map in [&mut self.reserved, &mut self.seen] {
            let last = map.entry(id).or_insert(at);
            *last = (*last).max(at);
        }
    }
}
