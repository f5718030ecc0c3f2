//! Workload 1, the drain: a backlog of payments that each resolve at their first confirm,
//! against the sandbox's own ceiling at the same concurrency.

use crate::common::{self, Sandbox};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub fn run(payments: usize, concurrency: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::start(dir.path(), payments, None)?;
    let poll = format!(
        "first_delay = \"0s\"\nmin_interval = \"100ms\"\nconcurrency = {concurrency}\n\
         max_requests_per_second = 1000000.0"
    );
    let config = common::setup(dir.path(), &sandbox.base_url, &poll, "off")?;
    common::enqueue_due(&common::db_path(dir.path()), &sandbox.tokens)?;

    // The drain, measured by /usr/bin/time; BENCH_PERF=FILE records a perf profile too.
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "TIME %e %U %S %M"]);
    // The reconciler's async worker threads alone (the sandbox and the ceiling's client
    // keep theirs), to measure how the runtime's size trades CPU against idle cores.
    if let Some(n) = std::env::var_os("BENCH_RECONCILER_THREADS") {
        cmd.env("TOKIO_WORKER_THREADS", n);
    }
    if let Some(out) = std::env::var_os("BENCH_PERF") {
        cmd.args([
            "perf",
            "record",
            "-e",
            "cpu-clock",
            "-F",
            "2000",
            "--call-graph",
            "dwarf,16384",
            "-o",
        ])
        .arg(out)
        .arg("--");
    }
    // The ceiling is measured just before and just after the drain (the two cores are
    // shared, so a single window can land on a busy or an idle moment of the machine).
    let before = Ceiling::measure(&sandbox, concurrency, Duration::from_secs(8))?;
    let sandbox_cpu = common::cpu_time(sandbox.pid())?;
    let machine = common::machine_ticks()?;
    let started = Instant::now();
    let out = common::until_idle(cmd.arg(common::bin()?), &config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let wall = started.elapsed();
    let drain_idle = common::idle_share(machine, common::machine_ticks()?);
    let sandbox_cpu = common::cpu_time(sandbox.pid())? - sandbox_cpu;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "run failed: {stderr}");
    let usage = common::Usage::parse(&stderr)?;
    let conn = rusqlite::Connection::open(common::db_path(dir.path()))?;
    let completed: i64 = conn.query_row(
        "SELECT count(*) FROM payments WHERE status = 'completed'",
        [],
        |r| r.get(0),
    )?;
    anyhow::ensure!(completed as usize == payments, "only {completed} completed");
    let drain_rate = payments as f64 / wall.as_secs_f64();

    let after = Ceiling::measure(&sandbox, concurrency, Duration::from_secs(8))?;
    let ceiling = (before.rate + after.rate) / 2.0;

    println!(
        "| payments | concurrency | wall (s) | confirms/s | sandbox ceiling (req/s), before / after | ratio | CPU s per 1,000 | peak RSS (MB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {payments} | {concurrency} | {:.1} | {drain_rate:.0} | {ceiling:.0} ({:.0} / {:.0}) | {:.2} | {:.3} | {:.1} |",
        wall.as_secs_f64(),
        before.rate,
        after.rate,
        drain_rate / ceiling,
        usage.cpu_s / payments as f64 * 1000.0,
        usage.max_rss_mb
    );
    println!(
        "\nCPU µs per confirm: reconciler {:.0}, sandbox {:.0} (drain); plain client {:.0}, sandbox {:.0} (ceiling, mean of both)",
        usage.cpu_s / payments as f64 * 1e6,
        sandbox_cpu.as_secs_f64() * 1e6 / payments as f64,
        (before.client_us + after.client_us) / 2.0,
        (before.sandbox_us + after.sandbox_us) / 2.0,
    );
    println!(
        "machine idle: {:.0}% during the drain, {:.0}% during the ceiling (mean of both)",
        drain_idle * 100.0,
        (before.idle + after.idle) * 50.0,
    );
    Ok(())
}

/// The sandbox's ceiling at one moment: a plain client's rate and each side's CPU per request.
struct Ceiling {
    rate: f64,
    client_us: f64,
    sandbox_us: f64,
    /// Share of the machine's CPU left idle meanwhile.
    idle: f64,
}

impl Ceiling {
    fn measure(sandbox: &Sandbox, concurrency: usize, window: Duration) -> anyhow::Result<Self> {
        let (sandbox_before, client_before) = (
            common::cpu_time(sandbox.pid())?,
            common::cpu_time(std::process::id())?,
        );
        let machine = common::machine_ticks()?;
        let (rate, requests) = ceiling(&sandbox.base_url, &sandbox.tokens, concurrency, window)?;
        let idle = common::idle_share(machine, common::machine_ticks()?);
        let per_request = |cpu: Duration| cpu.as_secs_f64() * 1e6 / requests.max(1) as f64;
        Ok(Self {
            rate,
            sandbox_us: per_request(common::cpu_time(sandbox.pid())? - sandbox_before),
            client_us: per_request(common::cpu_time(std::process::id())? - client_before),
            idle,
        })
    }
}

/// Confirms per second a plain client gets from the sandbox at `concurrency`, and how many
/// it made.
fn ceiling(
    base_url: &str,
    tokens: &[String],
    concurrency: usize,
    window: Duration,
) -> anyhow::Result<(f64, u64)> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let client = reqwest::Client::new();
        let done = Arc::new(AtomicU64::new(0));
        let tokens = Arc::new(tokens.to_vec());
        let deadline = Instant::now() + window;
        let mut tasks = Vec::new();
        for worker in 0..concurrency {
            let (client, done, tokens) = (client.clone(), done.clone(), tokens.clone());
            let url = format!("{base_url}/pay/v01/redirect/checkout-invoice/confirm/");
            tasks.push(tokio::spawn(async move {
                let mut i = worker;
                while Instant::now() < deadline {
                    let token = &tokens[i % tokens.len()];
                    let sent = client
                        .get(format!("{url}?invoiceToken={token}"))
                        .header("Apikey", "sandbox-api-key")
                        .header("Authorization", "Bearer sandbox-api-token")
                        .send()
                        .await;
                    if let Ok(r) = sent
                        && r.bytes().await.is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    i += concurrency;
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let done = done.load(Ordering::Relaxed);
        Ok((done as f64 / window.as_secs_f64(), done))
    })
}
