//! Workload 2 on PostgreSQL (issue 27): a million pending payments a shop inserted with
//! plain SQL (no poll time yet), `first_delay = 1h` so none is due, and `NODES` daemons on
//! one throwaway server. What do the waiting nodes cost, themselves and the database? The
//! server's CPU is read from `/proc` for the postmaster and every child (backends,
//! autovacuum, checkpointer), first alone, then with the nodes. `pg_stat_statements`
//! (loaded for the run) lists what the nodes ran while scheduling and while idle.

use crate::common::{self, ENV, Sandbox};
use crate::server::TestServer;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn run(rows: usize, seconds: u64, nodes: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let pg = TestServer::start().ok_or_else(|| {
        anyhow::anyhow!("PostgreSQL is not installed (apt-get install postgresql)")
    })?;
    runtime.block_on(pg.create_database("idle"));
    runtime.block_on(each(
        &connect_now(&runtime, &pg.url("idle"))?,
        &["ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"],
    ))?;
    pg.restart(Duration::ZERO);
    let server = pg
        .pid()
        .ok_or_else(|| anyhow::anyhow!("no postmaster.pid"))?;
    let url = pg.url("idle");
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::start(dir.path(), 0, None)?;
    let config = common::setup_on(
        dir.path(),
        &sandbox.base_url,
        "first_delay = \"1h\"",
        Some(&url),
    )?;
    let client = connect_now(&runtime, &url)?;
    runtime.block_on(client.batch_execute("CREATE EXTENSION pg_stat_statements"))?;
    let fill = Instant::now();
    // As a shop inserts: token, reference, amount; created within the last minute, so
    // `created_at + 1h` is an hour away; no `next_poll_at`.
    runtime.block_on(client.batch_execute(&format!(
        "INSERT INTO payments (token, transaction_id, expected_amount, created_at, updated_at) \
         SELECT 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.' || md5(i::text), 'order-' || i, \
         100 + (i::bigint * 7919) % 99900, t - i % 60000, t \
         FROM generate_series(1, {rows}) i, \
         (SELECT (extract(epoch FROM now()) * 1000)::bigint AS t) now"
    )))?;
    runtime.block_on(each(&client, &["VACUUM ANALYZE payments", "CHECKPOINT"]))?;
    let fill = fill.elapsed();
    let alone = Duration::from_secs(seconds.min(20));
    let server_alone = share(cpu_over(server, alone)?, alone);
    runtime.block_on(client.batch_execute("SELECT pg_stat_statements_reset()"))?;

    let started = Instant::now();
    let cpu0 = common::tree_cpu_time(server)?;
    let mut daemons = (0..nodes)
        .map(|_| spawn_node(&config, &url))
        .collect::<anyhow::Result<Vec<Child>>>()?;
    // Shaped unlike the nodes' own probe, so pg_stat_statements keeps it apart.
    let unscheduled = "SELECT count(*) > 0 FROM (SELECT 1 FROM payments \
                       WHERE status = 'pending' AND next_poll_at IS NULL LIMIT 1) harness";
    while runtime
        .block_on(client.query_one(unscheduled, &[]))?
        .get::<_, bool>(0)
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "never scheduled"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let scheduled = started.elapsed();
    let scheduling_cpu = common::tree_cpu_time(server)? - cpu0;
    let scheduling_statements = runtime.block_on(statements(&client))?;
    // The update's dead row versions are vacuumed now, not by autovacuum in the window.
    runtime.block_on(each(&client, &["VACUUM ANALYZE payments", "CHECKPOINT"]))?;
    std::thread::sleep(Duration::from_secs(5));

    runtime.block_on(client.batch_execute("SELECT pg_stat_statements_reset()"))?;
    let window = Duration::from_secs(seconds);
    let pids: Vec<u32> = daemons.iter().map(Child::id).collect();
    let nodes0 = pids
        .iter()
        .map(|p| common::cpu_time(*p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let server_with = share(cpu_over(server, window)?, window);
    let mut node_shares = Vec::new();
    for (pid, before) in pids.iter().zip(nodes0) {
        node_shares.push(share(common::cpu_time(*pid)? - before, window));
    }
    let rss: Vec<f64> = pids
        .iter()
        .map(|p| common::memory_mb(*p).map(|m| m.0))
        .collect::<anyhow::Result<_>>()?;
    let window_statements = runtime.block_on(statements(&client))?;
    for d in &mut daemons {
        let _ = Command::new("kill").arg(d.id().to_string()).status();
        let _ = d.wait();
    }

    println!("\nwhile scheduling (calls, total ms, max ms, statement):\n{scheduling_statements}");
    println!("idle window (calls, total ms, max ms, statement):\n{window_statements}");
    println!(
        "\n| pending rows | nodes | fill (s) | scheduled after (s) | server CPU while scheduling (s) | server alone (% of a core) | server with the nodes (%) | added by the nodes (%) | each node (%) | peak RSS per node (MB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let each: Vec<String> = node_shares.iter().map(|s| format!("{s:.2}")).collect();
    let rss: Vec<String> = rss.iter().map(|m| format!("{m:.1}")).collect();
    println!(
        "| {rows} | {nodes} | {:.1} | {:.1} | {:.1} | {server_alone:.2} | {server_with:.2} | {:.2} | {} | {} |",
        fill.as_secs_f64(),
        scheduled.as_secs_f64(),
        scheduling_cpu.as_secs_f64(),
        server_with - server_alone,
        each.join(" / "),
        rss.join(" / "),
    );
    Ok(())
}

fn spawn_node(config: &std::path::Path, url: &str) -> anyhow::Result<Child> {
    Ok(Command::new(common::bin()?)
        .arg("--config")
        .arg(config)
        .arg("run")
        .envs(ENV)
        .env(common::DATABASE_URL_ENV, url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?)
}

/// The CPU the server (all its processes) uses over the next `window`.
fn cpu_over(server: u32, window: Duration) -> anyhow::Result<Duration> {
    let before = common::tree_cpu_time(server)?;
    std::thread::sleep(window);
    Ok(common::tree_cpu_time(server)? - before)
}

/// `cpu` as a percentage of one core over `window`.
fn share(cpu: Duration, window: Duration) -> f64 {
    cpu.as_secs_f64() / window.as_secs_f64() * 100.0
}

/// The statements the server ran since the last reset, the costliest first (the
/// harness's own left out).
async fn statements(client: &tokio_postgres::Client) -> anyhow::Result<String> {
    let rows = client
        .query(
            "SELECT calls, total_exec_time, max_exec_time, left(regexp_replace(query, \
             '\\s+', ' ', 'g'), 120) FROM pg_stat_statements \
             WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%harness%' \
             ORDER BY total_exec_time DESC LIMIT 12",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (calls, total, max, sql): (i64, f64, f64, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            format!("  {calls} | {total:.0} | {max:.1} | {sql}")
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Runs each statement on its own (VACUUM and ALTER SYSTEM refuse a transaction block).
async fn each(client: &tokio_postgres::Client, statements: &[&str]) -> anyhow::Result<()> {
    for sql in statements {
        client.batch_execute(sql).await?;
    }
    Ok(())
}

fn connect_now(
    runtime: &tokio::runtime::Runtime,
    url: &str,
) -> anyhow::Result<tokio_postgres::Client> {
    runtime.block_on(connect(url))
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}
