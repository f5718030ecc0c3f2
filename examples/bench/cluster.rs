//! Issue 17's scale workload: one and then two daemons drain one PostgreSQL database
//! against a sandbox that takes `latency_ms` per confirm, `concurrency = 4` per node. Two
//! nodes should drain at least 1.8 times as fast as one while the cluster's rate limit is
//! out of reach; with the limit in reach, the pair must hold it (never more than 10% over
//! in any second). Call times come from the attempt log (`confirm_attempts.at`, the time
//! each call left), throughput from the first call to the last (the nodes' three seconds of
//! joining are before the first call).

use crate::common::{self, Sandbox};
use crate::server;
use std::process::{Command, Stdio};

/// One measured drain.
struct Drain {
    calls: usize,
    rate: f64,
    busiest: usize,
}

pub fn run(payments: usize, latency_ms: u64) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let pg = server::TestServer::start().ok_or_else(|| {
        anyhow::anyhow!("PostgreSQL is not installed (apt-get install postgresql)")
    })?;
    println!(
        "\n| limit (req/s) | nodes | payments | latency (ms) | calls | achieved (req/s) | vs one node | most calls in any 1 s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Out of reach: four workers at 300 ms make 13 req/s per node. In reach: 10 req/s.
    for limit in [1_000.0, 10.0] {
        let mut one = None;
        for nodes in [1, 2] {
            let name = format!("bench_{}_{nodes}", limit as u64);
            runtime.block_on(pg.create_database(&name));
            let d = drain(&runtime, &pg.url(&name), payments, latency_ms, nodes, limit)?;
            let vs = one.map_or("1.00×".to_owned(), |r: f64| format!("{:.2}×", d.rate / r));
            one.get_or_insert(d.rate);
            println!(
                "| {limit} | {nodes} | {payments} | {latency_ms} | {} | {:.2} | {vs} | {} |",
                d.calls, d.rate, d.busiest
            );
        }
    }
    Ok(())
}

fn drain(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    payments: usize,
    latency_ms: u64,
    nodes: usize,
    limit: f64,
) -> anyhow::Result<Drain> {
    let dir = tempfile::tempdir()?;
    let faults = format!("{{\"latency_ms\":{latency_ms}}}");
    let sandbox = Sandbox::start(dir.path(), payments, Some(&faults))?;
    let poll = format!("first_delay = \"0s\"\nconcurrency = 4\nmax_requests_per_second = {limit}");
    let config = common::setup_on(dir.path(), &sandbox.base_url, &poll, Some(url))?;
    let values: Vec<String> = sandbox
        .tokens
        .iter()
        .map(|t| format!("('{t}', 0)"))
        .collect();
    runtime.block_on(execute(
        url,
        &format!(
            "INSERT INTO payments (token, next_poll_at) VALUES {}",
            values.join(", ")
        ),
    ))?;
    let children = (0..nodes)
        .map(|_| {
            common::until_idle(&mut Command::new(common::bin()?), &config)
                .env(common::DATABASE_URL_ENV, url)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for mut child in children {
        anyhow::ensure!(child.wait()?.success(), "a node failed");
    }
    let at = runtime.block_on(attempt_times(url))?;
    anyhow::ensure!(
        at.len() >= payments && at.len() > 1,
        "{} attempts",
        at.len()
    );
    let span_s = (at[at.len() - 1] - at[0]) as f64 / 1000.0;
    Ok(Drain {
        calls: at.len(),
        rate: (at.len() - 1) as f64 / span_s,
        busiest: common::most_in_window(&at, 1000),
    })
}

async fn client(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn execute(url: &str, sql: &str) -> anyhow::Result<()> {
    client(url).await?.batch_execute(sql).await?;
    Ok(())
}

async fn attempt_times(url: &str) -> anyhow::Result<Vec<i64>> {
    let rows = client(url)
        .await?
        .query("SELECT at FROM confirm_attempts ORDER BY at", &[])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
