//! Workload 2, idle at scale: a million pending payments, none due for an hour. What does
//! the reconciler cost while it waits (the case sweep included)? Start-up to READY=1, CPU over the window, memory,
//! and the plans of the queries it keeps running. It runs as under systemd (`NOTIFY_SOCKET`,
//! `WATCHDOG_USEC` as in the shipped unit, so the STATUS= refresh runs) and `/metrics` is
//! scraped every 15 s, as Prometheus would.

use crate::common::{self, ENV, Sandbox};
use ligdicash_reconciler::store::sqlite::payments::{DUE_SQL, NEXT_DUE_SQL, UNSCHEDULED_SQL};
use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn run(rows: usize, seconds: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::start(dir.path(), 0, None)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = common::setup(
        dir.path(),
        &sandbox.base_url,
        "",
        &format!("127.0.0.1:{port}"),
    )?;
    // The rows are up to three days old and still pending: past the default pending_after
    // (24 h) each would open a case, which is work, not idling. The case sweep still runs
    // every 30 s and is measured with the rest.
    let mut file = std::fs::OpenOptions::new().append(true).open(&config)?;
    file.write_all(b"[cases]\npending_after = \"7d\"\nsweep_interval = \"30s\"\n")?;
    let db = common::db_path(dir.path());
    let fill = Instant::now();
    fill_pending(&db, rows)?;
    let fill = fill.elapsed();
    print_plans(&db)?;
    if let Some(keep) = std::env::var_os("BENCH_KEEP_DB") {
        rusqlite::Connection::open(&db)?.execute("VACUUM INTO ?1", [keep.to_string_lossy()])?;
    }

    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path)?;
    socket.set_read_timeout(Some(Duration::from_secs(30)))?;
    let started = Instant::now();
    let mut daemon = Command::new(common::bin()?)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .envs(ENV)
        .env("RUST_LOG", "warn")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "60000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut buf = [0u8; 512];
    loop {
        let n = socket.recv(&mut buf)?;
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "READY=1")
        {
            break;
        }
    }
    let startup = started.elapsed();
    let pid = daemon.id();
    let cpu_start = common::cpu_time(pid)?;
    let window = Duration::from_secs(seconds);
    let mut scrapes = 0;
    while started.elapsed() < startup + window {
        scrape(port)?;
        scrapes += 1;
        let left = (startup + window).saturating_sub(started.elapsed());
        std::thread::sleep(left.min(Duration::from_secs(15)));
    }
    let cpu = common::cpu_time(pid)? - cpu_start;
    let (peak_mb, rss_mb) = common::memory_mb(pid)?;
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = daemon.wait();

    println!(
        "\n| pending rows | fill (s) | start-up to READY (ms) | CPU over {seconds} s (% of one core) | peak RSS (MB) | RSS at end (MB) | /metrics scrapes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {rows} | {:.1} | {} | {:.3} | {peak_mb:.1} | {rss_mb:.1} | {scrapes} |",
        fill.as_secs_f64(),
        startup.as_millis(),
        cpu.as_secs_f64() / window.as_secs_f64() * 100.0,
    );
    Ok(())
}

/// `rows` pending payments created over the last three days, next due in 1 to 2 hours.
fn fill_pending(db: &std::path::Path, rows: usize) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let mut conn = rusqlite::Connection::open(db)?;
    // Set-up only: a big cache and no fsync make the fill take seconds, not a minute.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO payments (token, transaction_id, expected_amount, next_poll_at, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?;
        let mut rng = fastrand::Rng::with_seed(7);
        for i in 0..rows {
            let created = now - rng.i64(0..3 * 86_400_000);
            let due = now + 3_600_000 + rng.i64(0..3_600_000);
            insert.execute(rusqlite::params![
                format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{:016x}", rng.u64(..)),
                format!("order-{i}"),
                rng.i64(100..100_000),
                due,
                created
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// `EXPLAIN QUERY PLAN` of the queries the idle loop runs.
fn print_plans(db: &std::path::Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    for (name, sql) in [
        ("due", DUE_SQL),
        ("next due", NEXT_DUE_SQL),
        ("unscheduled", UNSCHEDULED_SQL),
    ] {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let params: Vec<i64> = (0..stmt.parameter_count()).map(|_| 0).collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(params), |r| r.get(3))?
            .collect::<Result<_, _>>()?;
        println!("plan of the {name} query: {}", plan.join("; "));
    }
    let sweep = ligdicash_reconciler::store::sqlite::cases::candidates_sql();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sweep}"))?;
    let plan: Vec<String> = stmt
        .query_map([0, 0, 0, 0], |r| r.get(3))?
        .collect::<Result<_, _>>()?;
    println!("plan of the case sweep's query: {}", plan.join("; "));
    Ok(())
}

/// One Prometheus-style scrape of `/metrics`.
fn scrape(port: u16) -> anyhow::Result<()> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut body = String::new();
    stream.read_to_string(&mut body)?;
    anyhow::ensure!(body.starts_with("HTTP/1.1 200"), "metrics: {body:.80}");
    Ok(())
}
