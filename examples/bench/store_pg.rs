//! The write path alone on PostgreSQL: what recording a batch of confirm outcomes costs,
//! without HTTP, with the database `rtt_us` away. A shop's PostgreSQL is often on another
//! machine (a managed server half a millisecond or more away), so the round trips a batch
//! takes, more than the server's work, decide how long its transaction holds its row locks.
//! The delay comes from a relay on loopback that holds each chunk for half the round trip
//! in each direction (no `tc`, no root).

use crate::server::TestServer;
use crate::store::completed_outcome;
use ligdicash_reconciler::config::Config;
use ligdicash_reconciler::sandbox::{Sandbox, SandboxConfig};
use ligdicash_reconciler::store::{Db, Target};
use ligdicash_reconciler::time::now_ms;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Outcomes per transaction: the batches a cluster node's writer makes (a few workers'
/// answers at a time) and a draining backlog's.
const BATCHES: [usize; 3] = [4, 32, 256];

pub fn run(payments: usize, rtt_us: u64) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let pg = TestServer::start().ok_or_else(|| {
        anyhow::anyhow!("PostgreSQL is not installed (apt-get install postgresql)")
    })?;
    println!(
        "\n| relay delay (µs) | measured round trip (µs) | batch | payments | write ms per batch | write µs per payment |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for batch in BATCHES {
        let name = format!("store_{batch}");
        runtime.block_on(pg.create_database(&name));
        let url = pg.url(&name);
        let (per_batch, rtt) = runtime.block_on(measure(&url, payments, batch, rtt_us))?;
        println!(
            "| {rtt_us} | {} | {batch} | {payments} | {:.2} | {:.1} |",
            rtt.as_micros(),
            per_batch.as_secs_f64() * 1e3,
            per_batch.as_secs_f64() * 1e6 / batch as f64
        );
    }
    Ok(())
}

/// The mean time to write one batch of `batch` completed outcomes, and the median round
/// trip of a `SELECT 1` through the relay (the timer's granularity rounds the delay up).
async fn measure(
    url: &str,
    payments: usize,
    batch: usize,
    rtt_us: u64,
) -> anyhow::Result<(Duration, Duration)> {
    let relayed = relay(url, Duration::from_micros(rtt_us / 2)).await?;
    let rtt = round_trip(&relayed).await?;
    let config = Config::parse(&format!(
        "[database]\nurl = \"{relayed}\"\nmax_connections = 2\n"
    ))
    .map_err(|e| anyhow::anyhow!(e))?;
    let target = Target::from_config(&config, &|_| None)?;
    let db = Db::open(&target).await?;
    let values: Vec<String> = (0..payments).map(|i| format!("('tok{i:09}', 0)")).collect();
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "INSERT INTO payments (token, next_poll_at) VALUES {}",
            values.join(", ")
        ))
        .await?;
    let sandbox = Sandbox::new(SandboxConfig::default());
    let mut took = Duration::ZERO;
    let mut batches = 0u32;
    loop {
        let due = db.due(now_ms(), batch, Default::default()).await?;
        if due.is_empty() {
            break;
        }
        let mut outcomes = Vec::with_capacity(due.len());
        for p in due {
            outcomes.push(completed_outcome(&sandbox, p)?);
        }
        let started = Instant::now();
        let applied = db
            .apply_outcomes(Arc::new(outcomes), now_ms(), Arc::new(vec!["shop".into()]))
            .await?;
        took += started.elapsed();
        batches += 1;
        anyhow::ensure!(
            applied.iter().all(|a| a.finalized.is_some()),
            "a write was refused"
        );
    }
    anyhow::ensure!(batches > 0, "nothing was due");
    Ok((took / batches, rtt))
}

/// The median of 21 `SELECT 1` through `url`.
async fn round_trip(url: &str) -> anyhow::Result<Duration> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        client.simple_query("SELECT 1").await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// A relay on loopback to the server of `url`, holding every chunk `delay` in each
/// direction; returns the URL through it.
async fn relay(url: &str, delay: Duration) -> anyhow::Result<String> {
    let port: u16 = url
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no loopback port in the test server's URL"))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let relayed = url.replace(
        &format!("127.0.0.1:{port}"),
        &format!("127.0.0.1:{}", listener.local_addr()?.port()),
    );
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if let Ok(server) = TcpStream::connect(("127.0.0.1", port)).await {
                // As tokio-postgres does on its own socket: without it, Nagle's algorithm
                // and delayed acknowledgements add ~40 ms to a small write's round trip.
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, delay));
                tokio::spawn(pump(sr, cw, delay));
            }
        }
    });
    Ok(relayed)
}

/// Copies `from` to `to`, each chunk written `delay` after it was read, in order.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            if !delay.is_zero() {
                tokio::time::sleep_until((at + delay).into()).await;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
            return;
        }
    }
}
