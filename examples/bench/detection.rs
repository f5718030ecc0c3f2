//! Workload 4, detection: how many confirms a payment costs and how long after it settles
//! at LigdiCash the reconciler notices, for a schedule. A simulation over the real policy
//! (`Schedule::delay` and the `give_up_after` rule of `decide`), with simulated time, so a
//! population of 100,000 payments settling over days runs in a second.
//!
//! Settlement delays are an assumption, stated here and in docs/benchmarks.md: most mobile
//! money payers approve the prompt within minutes, some hours later, a few after days;
//! a share of invoices is never paid and stays `pending` until the reconciler gives up.

use ligdicash_reconciler::config::PollConfig;
use ligdicash_reconciler::config::duration::HumanDuration;
use ligdicash_reconciler::confirm::decide::Policy;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// (share of invoices, settle delay band): log-uniform within each band.
const SETTLE_BANDS: [(f64, i64, i64); 5] = [
    (0.45, 10 * SECOND, 2 * MINUTE),
    (0.20, 2 * MINUTE, 15 * MINUTE),
    (0.08, 15 * MINUTE, 3 * HOUR),
    (0.04, 3 * HOUR, 2 * DAY),
    (0.01, 2 * DAY, 5 * DAY),
];
/// The rest of the invoices (22%) are never paid: pending until given up.
const NEVER_PAID: f64 = 0.22;

struct Outcome {
    calls: u32,
    /// Settled at LigdiCash, then seen by a confirm after this long.
    seen_after: Option<i64>,
    /// Settled, but only after the reconciler had given up (`timeout`): the nightly
    /// re-check will find it.
    settled_after_giving_up: bool,
}

pub fn run(payments: usize) -> anyhow::Result<()> {
    let defaults = PollConfig::default();
    let schedules: Vec<(&str, PollConfig)> = vec![
        ("default (10 s, x1.5, cap 15 min, 72 h)", defaults.clone()),
        (
            "before tuning (10 s doubling)",
            PollConfig {
                multiplier: 2.0,
                ..defaults.clone()
            },
        ),
        (
            "LigdiCash's loop (every 5 s, 10 times)",
            PollConfig {
                first_delay: HumanDuration::secs(5),
                initial_interval: HumanDuration::secs(5),
                max_interval: HumanDuration::secs(5),
                multiplier: 1.0,
                jitter: 0.0,
                give_up_after: HumanDuration::secs(50),
                ..defaults.clone()
            },
        ),
        ("cap 5 min", with_cap(&defaults, 5 * 60)),
        (
            "give up after 48 h",
            PollConfig {
                give_up_after: HumanDuration::secs(48 * 3600),
                ..defaults.clone()
            },
        ),
        ("cap 30 min", with_cap(&defaults, 30 * 60)),
        (
            "first confirm at 5 s",
            PollConfig {
                first_delay: HumanDuration::secs(5),
                initial_interval: HumanDuration::secs(5),
                ..defaults.clone()
            },
        ),
    ];
    println!(
        "\n| schedule | confirms per invoice (mean) | per paid invoice | per never-paid invoice | seen after settling: p50 | p95 | p99 | paid but given up first |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, cfg) in &schedules {
        let policy = Policy::from_config(cfg, &Default::default());
        let first = cfg.first_delay.0.as_millis() as i64;
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut all_calls, mut paid_calls, mut paid, mut never_calls, mut never) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut seen = Vec::with_capacity(payments);
        let mut given_up_paid = 0u64;
        for _ in 0..payments {
            let settle = draw_settle(&mut rng);
            let o = simulate(&policy, first, settle, &mut rng);
            all_calls += u64::from(o.calls);
            match settle {
                Some(_) => {
                    paid += 1;
                    paid_calls += u64::from(o.calls);
                }
                None => {
                    never += 1;
                    never_calls += u64::from(o.calls);
                }
            }
            if let Some(d) = o.seen_after {
                seen.push(d);
            }
            if o.settled_after_giving_up {
                given_up_paid += 1;
            }
        }
        seen.sort_unstable();
        let pct = |p: f64| fmt_ms(seen[((seen.len() as f64 * p) as usize).min(seen.len() - 1)]);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {:.2}% |",
            all_calls as f64 / payments as f64,
            paid_calls as f64 / paid.max(1) as f64,
            never_calls as f64 / never.max(1) as f64,
            pct(0.50),
            pct(0.95),
            pct(0.99),
            given_up_paid as f64 / paid.max(1) as f64 * 100.0,
        );
    }
    Ok(())
}

fn with_cap(defaults: &PollConfig, cap_secs: u64) -> PollConfig {
    PollConfig {
        max_interval: HumanDuration::secs(cap_secs),
        ..defaults.clone()
    }
}

/// When the invoice settles after its creation, or `None` if it is never paid.
fn draw_settle(rng: &mut fastrand::Rng) -> Option<i64> {
    let mut u = rng.f64();
    for (share, lo, hi) in SETTLE_BANDS {
        if u < share {
            let (lo, hi) = (lo as f64, hi as f64);
            return Some((lo * (hi / lo).powf(rng.f64())) as i64);
        }
        u -= share;
    }
    debug_assert!(u < NEVER_PAID + 1e-9);
    None
}

/// Polls one invoice as the poller would: first confirm at `first`, then the schedule,
/// until a confirm sees it settled or the `give_up_after` rule gives up.
fn simulate(policy: &Policy, first: i64, settle: Option<i64>, rng: &mut fastrand::Rng) -> Outcome {
    let mut now = first;
    let mut calls = 0;
    loop {
        calls += 1;
        if let Some(s) = settle.filter(|s| now >= *s) {
            return Outcome {
                calls,
                seen_after: Some(now - s),
                settled_after_giving_up: false,
            };
        }
        if now >= policy.give_up_after_ms {
            return Outcome {
                calls,
                seen_after: None,
                settled_after_giving_up: settle.is_some(),
            };
        }
        let delay = policy.schedule.delay(i64::from(calls), rng.f64());
        now += delay.as_millis() as i64;
    }
}

fn fmt_ms(ms: i64) -> String {
    match ms {
        m if m < MINUTE => format!("{:.1} s", m as f64 / 1000.0),
        m if m < HOUR => format!("{:.1} min", m as f64 / MINUTE as f64),
        m => format!("{:.1} h", m as f64 / HOUR as f64),
    }
}
