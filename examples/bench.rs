//! Drain benchmark: how fast the reconciler resolves a backlog, against the ceiling of the
//! sandbox it talks to, with the reconciler's own CPU and peak memory.
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench -- [PAYMENTS] [CONCURRENCY]
//! ```
//! The sandbox and the reconciler run as separate processes (`target/release/...`), so the
//! reconciler's figures are its own; `/usr/bin/time` (Debian package `time`) measures them.
//! The ceiling is a plain client at the same concurrency confirming the same tokens.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = "target/release/ligdicash-reconciler";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let payments: usize = args.first().map_or(Ok(100_000), |a| a.parse())?;
    let concurrency: usize = args.get(1).map_or(Ok(4), |a| a.parse())?;
    anyhow::ensure!(
        std::path::Path::new(BIN).exists(),
        "build first: cargo build --release"
    );
    let dir = tempfile::tempdir()?;
    let tokens_path = dir.path().join("tokens.txt");

    // 1. The sandbox, preloaded with invoices that are completed at once.
    let mut sandbox = Command::new(BIN)
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--preload",
            &payments.to_string(),
        ])
        .arg("--tokens-out")
        .arg(&tokens_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut first = String::new();
    BufReader::new(
        sandbox
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
    )
    .read_line(&mut first)?;
    let base_url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| anyhow::anyhow!("sandbox said {first:?}"))?
        .to_owned();
    let tokens: Vec<String> = std::fs::read_to_string(&tokens_path)?
        .lines()
        .map(str::to_owned)
        .collect();

    // 2. A database with every token due now.
    let db = dir.path().join("bench.db");
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[ligdicash]\nbase_url = \"{base_url}\"\n[database]\npath = {db:?}\n\
             [poll]\nfirst_delay = \"0s\"\nmin_interval = \"100ms\"\nconcurrency = {concurrency}\n\
             max_requests_per_second = 1000000.0\n[http]\nlisten = \"off\"\n[report]\nenabled = false\n"
        ),
    )?;
    let env = [
        ("LIGDICASH_API_KEY", "sandbox-api-key"),
        ("LIGDICASH_API_TOKEN", "sandbox-api-token"),
    ];
    let status = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .envs(env)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "migrate failed");
    let mut conn = rusqlite::Connection::open(&db)?;
    let tx = conn.transaction()?;
    for t in &tokens {
        tx.execute(
            "INSERT INTO payments (token, next_poll_at) VALUES (?1, 0)",
            [t],
        )?;
    }
    tx.commit()?;

    // 3. The drain, measured by /usr/bin/time.
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "TIME %e %U %S %M"])
        .arg(BIN)
        .arg("--config")
        .arg(&config)
        .args(["run", "--until-idle"])
        .envs(env)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "run failed: {stderr}");
    let figures: Vec<f64> = stderr
        .lines()
        .find_map(|l| l.strip_prefix("TIME "))
        .ok_or_else(|| anyhow::anyhow!("no /usr/bin/time line: {stderr}"))?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (user, sys, max_rss_kb) = (figures[1], figures[2], figures[3]);
    let completed: i64 = conn.query_row(
        "SELECT count(*) FROM payments WHERE status = 'completed'",
        [],
        |r| r.get(0),
    )?;
    anyhow::ensure!(completed as usize == payments, "only {completed} completed");
    let drain_rate = payments as f64 / wall.as_secs_f64();

    // 4. The sandbox's ceiling at the same concurrency, for as long (at most 20 s).
    let window = wall
        .min(Duration::from_secs(20))
        .max(Duration::from_secs(3));
    let ceiling = ceiling(&base_url, &tokens, concurrency, window)?;
    let _ = sandbox.kill();

    let mut table = std::io::stdout().lock();
    writeln!(
        table,
        "| payments | concurrency | wall (s) | confirms/s | sandbox ceiling (req/s) | ratio | CPU s per 1,000 | peak RSS (MB) |"
    )?;
    writeln!(table, "|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        table,
        "| {payments} | {concurrency} | {:.1} | {drain_rate:.0} | {ceiling:.0} | {:.2} | {:.3} | {:.1} |",
        wall.as_secs_f64(),
        drain_rate / ceiling,
        (user + sys) / payments as f64 * 1000.0,
        max_rss_kb / 1024.0
    )?;
    Ok(())
}

/// Confirms per second a plain client gets from the sandbox at `concurrency`.
fn ceiling(
    base_url: &str,
    tokens: &[String],
    concurrency: usize,
    window: Duration,
) -> anyhow::Result<f64> {
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
        Ok(done.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
    })
}
