//! Workload 3, the slow provider: every confirm takes `latency_ms` at the sandbox. With the
//! default concurrency and rate limit, does throughput hold `max_requests_per_second`
//! without ever exceeding it? Call times come from the reconciler's own attempt log. With
//! `LATENCY_MS` 0 it is the real pace (LigdiCash's 3 s per token, the default 5 req/s): the
//! reconciler's CPU per confirm, start-up and idle scans included, is what a shop pays.

use crate::common::{self, Sandbox};
use ligdicash_reconciler::config::PollConfig;
use std::process::{Command, Stdio};
use std::time::Instant;

pub fn run(payments: usize, latency_ms: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let faults = format!("{{\"latency_ms\":{latency_ms}}}");
    let sandbox = Sandbox::start(dir.path(), payments, Some(&faults))?;
    // Only first_delay changes, so that the whole backlog is due at once.
    let config = common::setup(dir.path(), &sandbox.base_url, "first_delay = \"0s\"", "off")?;
    let db = common::db_path(dir.path());
    common::enqueue_due(&db, &sandbox.tokens)?;
    let started = Instant::now();
    let mut time = Command::new("/usr/bin/time");
    time.args(["-f", "TIME %e %U %S %M"]).arg(common::bin()?);
    let out = common::until_idle(&mut time, &config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "run failed: {stderr}");
    let usage = common::Usage::parse(&stderr)?;
    let conn = rusqlite::Connection::open(&db)?;
    let at: Vec<i64> = conn
        .prepare("SELECT at FROM confirm_attempts ORDER BY at")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        at.len() >= payments && at.len() > 1,
        "{} attempts",
        at.len()
    );
    let defaults = PollConfig::default();
    let limit = defaults.max_requests_per_second;
    let span_s = (at[at.len() - 1] - at[0]) as f64 / 1000.0;
    let rate = (at.len() - 1) as f64 / span_s;
    println!(
        "\n| payments | sandbox latency (ms) | concurrency | limit (req/s) | achieved (req/s) | vs limit | most calls in any 1 s | wall (s) | CPU s per 1,000 | peak RSS (MB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {payments} | {latency_ms} | {} | {limit} | {rate:.2} | {:+.1}% | {} | {:.1} | {:.3} | {:.1} |",
        defaults.concurrency,
        (rate / limit - 1.0) * 100.0,
        common::most_in_window(&at, 1000),
        wall.as_secs_f64(),
        usage.cpu_s / at.len() as f64 * 1000.0,
        usage.max_rss_mb
    );
    Ok(())
}
