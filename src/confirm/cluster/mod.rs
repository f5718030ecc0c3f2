//! The cluster's request rate (issue 17): `max_requests_per_second` is the limit of all the
//! nodes on one PostgreSQL database together, measured from LigdiCash's side in any one
//! second. Each node heartbeats ([`Timing::heartbeat`]), reads the live nodes (a heartbeat
//! within [`Timing::stale_after`]) and sends at its [`share`]; this module is the pure
//! policy, [`ClusterRate`] the task that applies it to the node's
//! [`Throttle`](super::throttle::Throttle).
//!
//! Three rules keep the sum within the limit in every window of [`Timing::window`]:
//! - **Whole shares.** A node's limiter spaces its requests `1 / share` apart, so a window
//!   sees up to `ceil(share)` of them: `n` nodes at `limit / n` each could send `n - 1` more
//!   than the limit in a second (6 instead of 5 with two nodes at 2.5). Shares are
//!   therefore apportioned by rank in the live list (ordered by id): whole requests first,
//!   the fraction to one node, so the ceilings sum to `ceil(limit)` (5 = 3 + 2). A node
//!   joining never raises another's share, a node leaving never lowers one.
//! - **Joining.** A node that registers (or comes back after a missed heartbeat) holds
//!   until [`Timing::join_wait`]: one heartbeat for the others to read it and lower their
//!   shares, one window for their old pace to leave the measured second, and the lateness
//!   a tick may have. Waiting one heartbeat only is not enough (the simulation shows it).
//! - **Dying.** A dead node's share is freed when its heartbeat is older than
//!   `stale_after`: at least a window after its last request, given its heartbeat period
//!   and lateness ([`Timing::frees_safely`]). A node whose heartbeat fails holds at once,
//!   and rejoins when it succeeds again, so the others never take the share of a node that
//!   is still sending.

#[cfg(test)]
mod sim_tests;
mod task;

pub use task::{ClusterRate, Membership, PRUNE_AFTER};

use crate::time::Millis;

/// The cluster's clock: how often nodes heartbeat and when a heartbeat is too old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between two heartbeats of a node.
    pub heartbeat: Millis,
    /// A node whose heartbeat is older is dead: its share is freed.
    pub stale_after: Millis,
    /// The window the limit is measured over (LigdiCash's second).
    pub window: Millis,
    /// How late a heartbeat's new rate may apply after the tick that read it (the
    /// heartbeat and read round trips, a busy runtime).
    pub lateness: Millis,
}

/// The numbers chosen: a heartbeat a second, dead after 3 s, measured per second, a tick's
/// rate applied within half a second.
pub const TIMING: Timing = Timing {
    heartbeat: 1_000,
    stale_after: 3_000,
    window: 1_000,
    lateness: 500,
};

impl Timing {
    /// How long a (re)joining node holds before sending at its share.
    pub fn join_wait(&self) -> Millis {
        self.heartbeat + self.window + self.lateness
    }

    /// A good heartbeat this long after the previous one counts as a rejoin: a tick that
    /// came late may have let the others see this node dead.
    pub fn max_gap(&self) -> Millis {
        self.heartbeat + self.lateness
    }

    /// Whether a dead node's last request has left the window before its share is given
    /// out again: it sent until its last tick's rate applied at the latest.
    pub fn frees_safely(&self) -> bool {
        self.stale_after >= self.heartbeat + self.lateness + self.window
    }
}

/// What a node may send: nothing yet, or its share as `rank` of `of` live nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Allotment {
    Hold,
    Share { rank: usize, of: usize },
}

impl Allotment {
    /// Requests a second under the cluster's `limit`.
    pub fn rate(self, limit: f64) -> f64 {
        match self {
            Allotment::Hold => 0.0,
            Allotment::Share { rank, of } => share(limit, rank, of),
        }
    }
}

/// The share of the node at `rank` (0-based, in id order) of `of` live nodes. The whole
/// requests of `limit` are dealt one by one from rank 0, the fraction goes to the first
/// rank without an extra one: the shares sum to `limit` and their ceilings to
/// `ceil(limit)`. With more nodes than requests a second, the last ranks get nothing.
pub fn share(limit: f64, rank: usize, of: usize) -> f64 {
    if rank >= of || limit.is_nan() || limit <= 0.0 {
        return 0.0;
    }
    if limit.is_infinite() {
        return limit;
    }
    let whole = limit.floor();
    let fraction = limit - whole;
    // Saturating cast: a limit beyond u64 is not a rate anyone configures.
    let whole = whole as u64;
    let (of, rank) = (of as u64, rank as u64);
    let (each, extra) = (whole / of, whole % of);
    let top = match rank.cmp(&extra) {
        std::cmp::Ordering::Less => 1.0,
        std::cmp::Ordering::Equal => fraction,
        std::cmp::Ordering::Greater => 0.0,
    };
    each as f64 + top
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The heartbeat or the read failed: others may soon see this node dead.
    Failed,
    /// Written; this node's rank among `live` nodes (`None`: not among them).
    Ok {
        rank: Option<usize>,
        live: usize,
        /// The row was gone (pruned) and was written anew.
        reregistered: bool,
    },
}

/// One node's state across heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRate {
    /// Since when the others can count this node without a break; `None`: they may not.
    joined_at: Option<Millis>,
    last_beat: Millis,
}

impl NodeRate {
    /// A node that registered at `now`: it holds until [`Timing::join_wait`] has passed.
    pub fn registered(now: Millis) -> Self {
        Self {
            joined_at: Some(now),
            last_beat: now,
        }
    }

    /// The allotment after the heartbeat at `now`.
    pub fn after_beat(&mut self, now: Millis, beat: Beat, timing: &Timing) -> Allotment {
        let (rank, live, reregistered) = match beat {
            Beat::Ok {
                rank: Some(rank),
                live,
                reregistered,
            } => (rank, live, reregistered),
            Beat::Failed | Beat::Ok { rank: None, .. } => {
                self.joined_at = None;
                return Allotment::Hold;
            }
        };
        let late = now.saturating_sub(self.last_beat) > timing.max_gap();
        self.last_beat = now;
        let joined_at = match self.joined_at {
            Some(at) if !late && !reregistered => at,
            _ => *self.joined_at.insert(now),
        };
        if now.saturating_sub(joined_at) >= timing.join_wait() {
            Allotment::Share { rank, of: live }
        } else {
            Allotment::Hold
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(limit: f64, of: usize) -> Vec<f64> {
        (0..of).map(|rank| share(limit, rank, of)).collect()
    }

    #[test]
    fn whole_requests_are_dealt_by_rank_and_the_fraction_goes_to_one_node() {
        assert_eq!(shares(5.0, 1), [5.0]);
        assert_eq!(shares(5.0, 2), [3.0, 2.0]);
        assert_eq!(shares(5.5, 2), [3.0, 2.5]);
        assert_eq!(shares(5.0, 3), [2.0, 2.0, 1.0]);
        assert_eq!(shares(2.0, 3), [1.0, 1.0, 0.0]);
        assert_eq!(shares(0.5, 3), [0.5, 0.0, 0.0]);
        assert_eq!(share(5.0, 2, 2), 0.0, "a rank beyond the list");
        assert_eq!(share(5.0, 0, 0), 0.0);
        assert_eq!(share(f64::NAN, 0, 1), 0.0);
    }

    /// For any limit and node count: the shares sum to the limit, their ceilings (what a
    /// second can see of each) to the limit's ceiling, and adding a node never raises
    /// another's share whatever rank it takes.
    #[test]
    fn shares_sum_to_the_limit_and_a_join_never_raises_another() {
        let mut rng = fastrand::Rng::with_seed(17);
        for _ in 0..2_000 {
            let limit = (rng.f64() * 40.0 * 100.0).round() / 100.0 + 0.01;
            let of = rng.usize(1..12);
            let all = shares(limit, of);
            let sum: f64 = all.iter().sum();
            assert!((sum - limit).abs() < 1e-9, "{limit} over {of}: {all:?}");
            let ceilings: f64 = all.iter().map(|s| s.ceil()).sum();
            assert!(ceilings <= limit.ceil(), "{limit} over {of}: {all:?}");
            let joiner = rng.usize(0..=of);
            for (rank, before) in all.iter().enumerate() {
                let after_rank = if rank < joiner { rank } else { rank + 1 };
                let after = share(limit, after_rank, of + 1);
                assert!(
                    after <= *before,
                    "{limit}: rank {rank} of {of} rose to {after}"
                );
            }
        }
    }

    fn ok(rank: usize, live: usize) -> Beat {
        Beat::Ok {
            rank: Some(rank),
            live,
            reregistered: false,
        }
    }

    #[test]
    fn a_joining_node_holds_for_the_join_wait_then_sends_its_share() {
        assert_eq!(TIMING.join_wait(), 2_500);
        assert!(TIMING.frees_safely());
        let mut node = NodeRate::registered(0);
        assert_eq!(node.after_beat(1_000, ok(0, 2), &TIMING), Allotment::Hold);
        assert_eq!(node.after_beat(2_000, ok(0, 2), &TIMING), Allotment::Hold);
        let share = Allotment::Share { rank: 0, of: 2 };
        assert_eq!(node.after_beat(3_000, ok(0, 2), &TIMING), share);
        assert_eq!(node.after_beat(4_000, ok(1, 3), &TIMING).rate(5.0), 2.0);
    }

    #[test]
    fn a_failed_late_or_reregistered_heartbeat_starts_the_wait_again() {
        let sending = |now| {
            let mut node = NodeRate::registered(0);
            for beat in [1_000, 2_000] {
                assert_eq!(node.after_beat(beat, ok(0, 1), &TIMING), Allotment::Hold);
            }
            assert_ne!(node.after_beat(now, ok(0, 1), &TIMING), Allotment::Hold);
            node
        };
        let mut node = sending(3_000);
        assert_eq!(
            node.after_beat(4_000, Beat::Failed, &TIMING),
            Allotment::Hold
        );
        assert_eq!(node.after_beat(5_000, ok(0, 1), &TIMING), Allotment::Hold);
        assert_eq!(node.after_beat(6_000, ok(0, 1), &TIMING), Allotment::Hold);
        assert_eq!(node.after_beat(7_000, ok(0, 1), &TIMING), Allotment::Hold);
        assert_ne!(node.after_beat(8_000, ok(0, 1), &TIMING), Allotment::Hold);

        let mut node = sending(3_000);
        let missing = Beat::Ok {
            rank: None,
            live: 1,
            reregistered: false,
        };
        assert_eq!(node.after_beat(4_000, missing, &TIMING), Allotment::Hold);

        let mut node = sending(3_000);
        let pruned = Beat::Ok {
            rank: Some(0),
            live: 1,
            reregistered: true,
        };
        assert_eq!(node.after_beat(4_000, pruned, &TIMING), Allotment::Hold);

        let mut node = sending(3_000);
        assert_eq!(node.after_beat(4_501, ok(0, 1), &TIMING), Allotment::Hold);
        let mut node = sending(3_000);
        assert_ne!(node.after_beat(4_500, ok(0, 1), &TIMING), Allotment::Hold);
    }
}
