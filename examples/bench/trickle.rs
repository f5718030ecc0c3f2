//! Issue 27's steady load: a shop inserts `rate` payments a second for `seconds` (plain
//! SQL, as `examples/shop` does), each completed at LigdiCash after one, two or three
//! confirms (`first_delay` 1 s, then every 3 s), and every event goes to two sinks: a
//! webhook on loopback that answers one delivery in ten with a 500 (redelivered every 5 s)
//! and a JSON-lines file. What does a payment cost the daemon (and, on PostgreSQL, the
//! server)? CPU from the first insert until every payment is resolved and every event
//! delivered, divided by the payments; memory at the end.

use crate::common::{self, ENV, Sandbox};
use crate::server::TestServer;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A Standard Webhooks secret: 32 zero bytes. Nothing secret.
const SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

pub fn run(rate: usize, seconds: u64, backend: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::start(dir.path(), 0, None)?;
    let hook = Webhook::start()?;
    let jsonl = dir.path().join("events.jsonl");
    let events = format!(
        "[events]\njsonl_path = {jsonl:?}\nretry_schedule = [\"5s\", \"5s\", \"5s\", \"5s\", \"5s\"]\n[[events.webhooks]]\nurl = \"http://127.0.0.1:{}/hook\"\n\
         secret_env = \"BENCH_WEBHOOK_SECRET\"\n",
        hook.port
    );
    let poll = "first_delay = \"1s\"\ninitial_interval = \"3s\"\nmultiplier = 1.0\nmax_requests_per_second = 200";
    let pg = match backend {
        "sqlite" => None,
        "postgres" => Some(TestServer::start().ok_or_else(|| {
            anyhow::anyhow!("PostgreSQL is not installed (apt-get install postgresql)")
        })?),
        other => anyhow::bail!("trickle on {other:?}? sqlite or postgres"),
    };
    let url = pg.as_ref().map(|pg| {
        runtime.block_on(pg.create_database("trickle"));
        pg.url("trickle")
    });
    let config =
        common::setup_events(dir.path(), &sandbox.base_url, poll, url.as_deref(), &events)?;
    let shop = Shop::open(&runtime, &common::db_path(dir.path()), url.as_deref())?;

    let mut cmd = Command::new(common::bin()?);
    if let Some(out) = std::env::var_os("BENCH_PERF") {
        cmd = Command::new("perf");
        cmd.args([
            "record",
            "-e",
            "cpu-clock",
            "-F",
            "1000",
            "--call-graph",
            "dwarf,16384",
            "-o",
        ])
        .arg(out)
        .arg("--")
        .arg(common::bin()?);
    }
    let mut daemon = cmd
        .arg("--config")
        .arg(&config)
        .arg("run")
        .envs(ENV)
        .env("BENCH_WEBHOOK_SECRET", SECRET)
        .envs(url.as_ref().map(|u| (common::DATABASE_URL_ENV, u.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("daemon.log"))?)
        .spawn()?;
    std::thread::sleep(Duration::from_secs(2));
    let pid = daemon_pid(&daemon)?;
    let server = pg.as_ref().and_then(TestServer::pid);
    let cpu0 = common::cpu_time(pid)?;
    let server0 = server.map(common::tree_cpu_time).transpose()?;

    let started = Instant::now();
    let payments = rate * seconds as usize;
    for i in 0..payments {
        let at = Duration::from_secs_f64(i as f64 / rate as f64);
        std::thread::sleep(at.saturating_sub(started.elapsed()));
        // One, two or three confirms: settled before the first (1 s), second (4 s), third (7 s).
        let settle_ms = [0, 2_000, 5_000][i % 3];
        let token = sandbox_invoice(&sandbox.base_url, i, settle_ms)?;
        shop.insert(&runtime, &token, &format!("order-{i}"))?;
    }
    let inserted = started.elapsed();
    // Done when every payment is resolved and every event delivered to both sinks, or
    // 30 s after the last insert (what is left then is reported, not waited for).
    let deadline = Instant::now() + Duration::from_secs(30);
    while shop.open_work(&runtime)? > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let undelivered = shop.int(
        &runtime,
        "SELECT count(*) FROM events WHERE state = 'pending'",
    )?;
    let span = started.elapsed();
    let cpu = common::cpu_time(pid)? - cpu0;
    let server_cpu = match (server, server0) {
        (Some(s), Some(before)) => Some(common::tree_cpu_time(s)? - before),
        _ => None,
    };
    let (peak_mb, rss_mb) = common::memory_mb(pid)?;
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = daemon.wait();

    let completed = shop.completed(&runtime)?;
    let lines = std::fs::read_to_string(&jsonl)?.lines().count();
    println!(
        "\n{payments} payments in {:.1} s, done after {:.1} s: {completed} completed with one event each, {undelivered} events still to deliver; {lines} JSON lines; webhook: {} answered 2xx, {} answered 500",
        inserted.as_secs_f64(),
        span.as_secs_f64(),
        hook.ok.load(Ordering::Relaxed),
        hook.failed.load(Ordering::Relaxed),
    );
    println!(
        "\n| backend | rate (/s) | payments | daemon CPU (s) | daemon CPU per payment (ms) | daemon (% of a core) | server CPU per payment (ms) | peak RSS (MB) | RSS at end (MB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {backend} | {rate} | {payments} | {:.2} | {:.3} | {:.1} | {} | {peak_mb:.1} | {rss_mb:.1} |",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1000.0 / payments as f64,
        cpu.as_secs_f64() / span.as_secs_f64() * 100.0,
        server_cpu.map_or("—".to_owned(), |c| format!(
            "{:.3}",
            c.as_secs_f64() * 1000.0 / payments as f64
        )),
    );
    Ok(())
}

/// The daemon's own pid: perf's child when recording, else the process itself.
fn daemon_pid(child: &std::process::Child) -> anyhow::Result<u32> {
    if std::env::var_os("BENCH_PERF").is_none() {
        return Ok(child.id());
    }
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))?;
    Ok(children
        .split_whitespace()
        .next()
        .ok_or_else(|| anyhow::anyhow!("perf has no child"))?
        .parse()?)
}

/// An invoice at the sandbox, completed `settle_ms` after now; its token.
fn sandbox_invoice(base_url: &str, i: usize, settle_ms: i64) -> anyhow::Result<String> {
    let body = format!(
        "{{\"outcome\":\"completed\",\"amount\":1000,\"transaction_id\":\"order-{i}\",\"settle_after_ms\":{settle_ms}}}"
    );
    let host = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host)?;
    write!(
        stream,
        "POST /_sandbox/invoices HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let token = json
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("sandbox said {answer:.200}"))?;
    Ok(token.to_owned())
}

/// The shop's side of the database: its inserts, and what the harness checks.
enum Shop {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Shop {
    fn open(
        runtime: &tokio::runtime::Runtime,
        db: &std::path::Path,
        url: Option<&str>,
    ) -> anyhow::Result<Self> {
        Ok(match url {
            None => {
                let conn = rusqlite::Connection::open(db)?;
                conn.busy_timeout(Duration::from_secs(5))?;
                Shop::Sqlite(conn)
            }
            Some(url) => {
                let (client, connection) =
                    runtime.block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))?;
                runtime.spawn(connection);
                Shop::Postgres(client)
            }
        })
    }

    fn insert(&self, rt: &tokio::runtime::Runtime, token: &str, order: &str) -> anyhow::Result<()> {
        let sql = "INSERT INTO payments (token, transaction_id, expected_amount) \
                   VALUES ($1, $2, 1000)";
        match self {
            Shop::Sqlite(c) => {
                c.execute(&sql.replace('$', "?"), [token, order])?;
            }
            Shop::Postgres(c) => {
                rt.block_on(c.execute(sql, &[&token, &order]))?;
            }
        }
        Ok(())
    }

    /// Payments still pending plus events still to deliver (to either sink).
    fn open_work(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<i64> {
        self.int(
            rt,
            "SELECT (SELECT count(*) FROM payments WHERE status = 'pending') + \
             (SELECT count(*) FROM events WHERE state = 'pending')",
        )
    }

    fn completed(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<usize> {
        let n = self.int(
            rt,
            "SELECT count(*) FROM payments p WHERE status = 'completed' AND \
             (SELECT count(*) FROM events e WHERE e.payment_token = p.token) = 1",
        )?;
        Ok(usize::try_from(n)?)
    }

    fn int(&self, rt: &tokio::runtime::Runtime, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Shop::Sqlite(c) => c.query_row(sql, [], |r| r.get(0))?,
            Shop::Postgres(c) => rt.block_on(c.query_one(sql, &[]))?.get(0),
        })
    }
}

/// The shop's webhook receiver: answers every tenth delivery with a 500, the rest 204.
struct Webhook {
    port: u16,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl Webhook {
    fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let hook = Self {
            port,
            ok: Arc::default(),
            failed: Arc::default(),
        };
        let (ok, failed) = (hook.ok.clone(), hook.failed.clone());
        std::thread::spawn(move || {
            let seen = Arc::new(AtomicUsize::new(0));
            for stream in listener.incoming().flatten() {
                let (ok, failed, seen) = (ok.clone(), failed.clone(), seen.clone());
                // One thread per connection: the reconciler keeps several alive.
                std::thread::spawn(move || serve(stream, &ok, &failed, &seen));
            }
        });
        Ok(hook)
    }
}

/// Answers the requests of one kept-alive connection; one request in ten (of all
/// connections) gets a 500.
fn serve(
    stream: TcpStream,
    ok: &AtomicUsize,
    failed: &AtomicUsize,
    seen: &AtomicUsize,
) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let fail = seen.fetch_add(1, Ordering::Relaxed) % 10 == 9;
        let (counter, status) = if fail {
            (failed, "500 Internal Server Error")
        } else {
            (ok, "204 No Content")
        };
        counter.fetch_add(1, Ordering::Relaxed);
        write!(writer, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n")?;
    }
}
