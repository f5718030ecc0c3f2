//! A deterministic simulation of the cluster rate: nodes that join, die and lose their
//! heartbeat at arbitrary times, each ticking every heartbeat on its own phase with the
//! real policy ([`NodeRate`], [`share`]), its new rate applied up to `lateness` after the
//! tick, and each sending as fast as its limiter allows (spacing `1 / rate` from the last
//! request, as `RateLimiter` does, counted in nanoseconds). The requests of all nodes are
//! then counted in every window of a second, as LigdiCash would.

use super::*;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

const NS: i64 = 1_000_000; // nanoseconds in a millisecond

struct NodePlan {
    id: u64,
    join: Millis,
    death: Option<Millis>,
    /// Heartbeats fail in this span (the node keeps running).
    outage: Option<(Millis, Millis)>,
}

struct Plan {
    limit: f64,
    nodes: Vec<NodePlan>,
    end: Millis,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Register,
    Tick,
    Apply(Allotment),
    Death,
}

#[derive(Default)]
struct Node {
    state: Option<NodeRate>,
    /// Nanoseconds between two requests; `None`: holding.
    interval: Option<i64>,
    last: Option<i64>,
    next: Option<i64>,
    dead: bool,
}

impl Node {
    /// Emits this node's requests before `until` (ns).
    fn send_before(&mut self, until: i64, sends: &mut Vec<i64>) {
        while let (Some(next), Some(interval)) = (self.next, self.interval) {
            if next >= until {
                break;
            }
            sends.push(next);
            self.last = Some(next);
            self.next = Some(next + interval);
        }
    }

    fn set_rate(&mut self, at: i64, rate: f64) {
        // Rounded up to the nanosecond, as `RateLimiter` does.
        self.interval = (rate > 0.0).then(|| (1e9 / rate).ceil() as i64);
        self.next = self
            .interval
            .map(|i| self.last.map_or(at, |last| (last + i).max(at)));
    }
}

/// Events by time; a random tie-break: events of one millisecond come in any order.
struct Queue {
    heap: BinaryHeap<Reverse<(Millis, u64, usize, Event)>>,
    ties: fastrand::Rng,
}

impl Queue {
    fn push(&mut self, at: Millis, node: usize, event: Event) {
        self.heap
            .push(Reverse((at, self.ties.u64(..), node, event)));
    }
}

/// The send times (ns) of every node of `plan`; ticks apply within `lateness` ms.
fn simulate(plan: &Plan, timing: &Timing, lateness: Millis, rng: &mut fastrand::Rng) -> Vec<i64> {
    let mut queue = Queue {
        heap: BinaryHeap::new(),
        ties: fastrand::Rng::with_seed(rng.u64(..)),
    };
    for (i, n) in plan.nodes.iter().enumerate() {
        queue.push(n.join, i, Event::Register);
        if let Some(death) = n.death {
            queue.push(death, i, Event::Death);
        }
    }
    let mut nodes: Vec<Node> = plan.nodes.iter().map(|_| Node::default()).collect();
    let mut table: BTreeMap<u64, Millis> = BTreeMap::new();
    let mut sends = Vec::new();
    let mut lag = fastrand::Rng::with_seed(rng.u64(..));
    while let Some(Reverse((at, _, i, event))) = queue.heap.pop() {
        if at > plan.end {
            break;
        }
        for node in &mut nodes {
            node.send_before(at * NS, &mut sends);
        }
        if nodes[i].dead {
            continue;
        }
        let id = plan.nodes[i].id;
        match event {
            Event::Death => {
                nodes[i].dead = true;
                nodes[i].set_rate(at * NS, 0.0);
            }
            Event::Register => {
                table.insert(id, at);
                nodes[i].state = Some(NodeRate::registered(at));
                nodes[i].set_rate(at * NS, 0.0);
                queue.push(at + timing.heartbeat, i, Event::Tick);
            }
            Event::Apply(allotment) => nodes[i].set_rate(at * NS, allotment.rate(plan.limit)),
            Event::Tick => {
                queue.push(at + timing.heartbeat, i, Event::Tick);
                let out = plan.nodes[i]
                    .outage
                    .is_some_and(|(from, to)| (from..to).contains(&at));
                let beat = if out {
                    Beat::Failed
                } else {
                    table.insert(id, at);
                    let live: Vec<u64> = table
                        .iter()
                        .filter(|(_, beat)| **beat >= at - timing.stale_after)
                        .map(|(id, _)| *id)
                        .collect();
                    Beat::Ok {
                        rank: live.iter().position(|n| *n == id),
                        live: live.len(),
                        reregistered: false,
                    }
                };
                let Some(state) = nodes[i].state.as_mut() else {
                    continue;
                };
                let allotment = state.after_beat(at, beat, timing);
                let apply = at + lag.i64(0..=lateness);
                queue.push(apply, i, Event::Apply(allotment));
            }
        }
    }
    for node in &mut nodes {
        node.send_before(plan.end * NS, &mut sends);
    }
    sends.sort_unstable();
    sends
}

/// The most requests in any window of `window` ms (windows starting at a request: the
/// busiest window always does).
fn busiest(sends: &[i64], window: Millis) -> usize {
    let mut first = 0;
    let mut most = 0;
    for (last, at) in sends.iter().enumerate() {
        while sends[first] <= at - window * NS {
            first += 1;
        }
        most = most.max(last + 1 - first);
    }
    most
}

/// LigdiCash's second, whatever the policy assumes.
const SECOND: Millis = 1_000;

const LIMITS: [f64; 8] = [5.0, 2.5, 10.0, 7.3, 0.5, 1.0, 3.0, 40.0];

/// Nodes at arbitrary times: up to four at the start, up to five joining later, some
/// dying, some losing their heartbeats for a while.
fn random_plan(rng: &mut fastrand::Rng, limit: f64) -> Plan {
    let end = 40_000;
    let starting = rng.usize(1..=4);
    let joining = rng.usize(0..=5);
    let nodes = (0..starting + joining)
        .map(|i| {
            let join = if i < starting {
                rng.i64(0..2_000)
            } else {
                rng.i64(0..30_000)
            };
            NodePlan {
                id: rng.u64(..),
                join,
                death: rng.bool().then(|| rng.i64(join..end)),
                outage: (rng.u8(..) < 64).then(|| {
                    let from = rng.i64(join..end);
                    (from, from + rng.i64(500..6_000))
                }),
            }
        })
        .collect();
    Plan { limit, nodes, end }
}

/// The worst window of `runs` random plans per limit, as (requests, limit).
fn worst(seed: u64, runs: usize, timing: &Timing, lateness: Millis) -> Vec<(usize, f64)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut found = Vec::new();
    for limit in LIMITS {
        for _ in 0..runs {
            let plan = random_plan(&mut rng, limit);
            let sends = simulate(&plan, timing, lateness, &mut rng);
            found.push((busiest(&sends, SECOND), limit));
        }
    }
    found
}

/// The bound, proven for the chosen numbers: whatever joins, deaths and lost
/// heartbeats, no second sees more requests than one node alone at the limit would send
/// (`ceil(limit)`: the limit itself when it is whole), so never more than 10% over a
/// limit of 10 or more, and never over a whole limit at all.
#[test]
fn the_cluster_never_sends_more_in_a_second_than_one_node_at_the_limit() {
    let mut busiest_seen = 0.0_f64;
    for (requests, limit) in worst(17, 150, &TIMING, TIMING.lateness) {
        assert!(
            requests as f64 <= limit.ceil(),
            "{requests} requests in a second over a limit of {limit}"
        );
        busiest_seen = busiest_seen.max(requests as f64 / limit.ceil());
    }
    // The simulation did drive the cluster to its limit, not to an idle trickle.
    assert_eq!(busiest_seen, 1.0);
}

/// The simulation can fail: with the design note's first rule (a joining node waits one
/// heartbeat only) or a stale window shorter than a heartbeat, a lateness and a window,
/// some second goes more than 10% over.
#[test]
fn a_shorter_join_wait_or_stale_window_goes_over_the_limit() {
    let one_heartbeat = Timing {
        window: 0,
        lateness: 0,
        ..TIMING
    };
    assert_eq!(one_heartbeat.join_wait(), TIMING.heartbeat);
    let short_stale = Timing {
        stale_after: 1_500,
        ..TIMING
    };
    assert!(!short_stale.frees_safely());
    for (timing, lateness) in [(one_heartbeat, 0), (short_stale, TIMING.lateness)] {
        let over = worst(17, 150, &timing, lateness)
            .into_iter()
            .any(|(requests, limit)| requests as f64 > 1.1 * limit.ceil());
        assert!(over, "{timing:?} never went over");
    }
}

/// The counting itself: a window holds the requests less than a second apart.
#[test]
fn the_busiest_window_counts_requests_less_than_a_window_apart() {
    let s = |ms: &[i64]| ms.iter().map(|m| m * NS).collect::<Vec<_>>();
    assert_eq!(busiest(&s(&[]), 1_000), 0);
    assert_eq!(busiest(&s(&[0, 200, 400, 600, 800, 1_000]), 1_000), 5);
    assert_eq!(busiest(&s(&[0, 999, 1_000, 1_001, 5_000]), 1_000), 3);
}
