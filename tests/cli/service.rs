//! Running as a service: systemd notify and watchdog, health and metrics endpoints.

use crate::helpers::*;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{Faults, Outcome};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn get(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&url).await {
            return (r.status().as_u16(), r.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered");
}

/// Messages systemd would receive, with their arrival times.
fn listen_notify(
    dir: &std::path::Path,
) -> (
    std::path::PathBuf,
    std::sync::mpsc::Receiver<(Instant, String)>,
) {
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if tx.send((Instant::now(), msg)).is_err() {
                return;
            }
        }
    });
    (path, rx)
}

#[tokio::test]
async fn ready_after_migration_watchdog_while_alive_and_silent_when_stuck() {
    let env = TestEnv::start().await;
    let (socket, rx) = listen_notify(env.dir.path());
    let db = env.db.clone();
    let child = env
        .cmd(&["run"])
        .env("NOTIFY_SOCKET", &socket)
        .env("WATCHDOG_USEC", "300000")
        .spawn()
        .unwrap();
    let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "READY=1");
    // READY came after the migration: the schema is already at the current version.
    let version: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version,
        ligdicash_reconciler::store::sqlite::migrations::SCHEMA_VERSION
    );
    let mut watchdogs = 0;
    let mut status = None;
    let until = Instant::now() + Duration::from_millis(1200);
    while let Ok((at, msg)) = rx.recv_timeout(Duration::from_millis(500)) {
        if msg == "WATCHDOG=1" {
            watchdogs += 1;
        } else if msg.starts_with("STATUS=") {
            status = Some(msg);
        }
        if at > until {
            break;
        }
    }
    assert!(
        watchdogs >= 3,
        "{watchdogs} watchdog pings in 1.2 s at 150 ms"
    );
    assert!(status.unwrap().contains("pending"), "STATUS= line");

    // The shop commits a row the loop must schedule, then holds the write lock: the loop
    // blocks on it (busy_timeout), and the pings stop.
    let shop = env.shop_connection();
    for i in 0.. {
        shop.execute(
            "INSERT INTO payments (token) VALUES (?1)",
            [format!("blocked-{i}")],
        )
        .unwrap();
        shop.execute_batch("BEGIN IMMEDIATE").unwrap();
        let unscheduled: i64 = shop
            .query_row(
                "SELECT count(*) FROM payments WHERE next_poll_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if unscheduled > 0 {
            break; // locked before the loop scheduled it
        }
        shop.execute_batch("ROLLBACK").unwrap();
    }
    std::thread::sleep(Duration::from_millis(800)); // the loop reaches the lock
    while rx.try_recv().is_ok() {}
    std::thread::sleep(Duration::from_millis(1000));
    let stuck: Vec<String> = rx
        .try_iter()
        .map(|(_, m)| m)
        .filter(|m| m == "WATCHDOG=1")
        .collect();
    assert!(stuck.is_empty(), "no watchdog while stuck: {stuck:?}");
    shop.execute_batch("COMMIT;").unwrap();
    let resumed = (0..20).any(|_| {
        rx.recv_timeout(Duration::from_millis(500))
            .is_ok_and(|(_, m)| m == "WATCHDOG=1")
    });
    assert!(resumed, "watchdog resumes once the loop is free");

    // SIGHUP (systemctl reload) validates the configuration and keeps running.
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(
        (0..20).any(|_| rx
            .recv_timeout(Duration::from_millis(500))
            .is_ok_and(|(_, m)| m == "WATCHDOG=1")),
        "still alive after SIGHUP"
    );
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    assert_ok(&out);
    assert!(
        stderr(&out).contains("SIGHUP: configuration is valid"),
        "{}",
        stderr(&out)
    );
    assert!(rx.try_iter().any(|(_, m)| m == "STOPPING=1"));
}

#[tokio::test]
async fn sigterm_during_a_busy_drain_loses_nothing_and_exits_0() {
    let env = TestEnv::with_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    })
    .await;
    let mut tokens = Vec::new();
    for i in 0..40 {
        tokens.push(
            env.invoice(Outcome::Completed, 100, &format!("ORD-{i}"))
                .await,
        );
    }
    let child = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) >= 5
    })
    .await;
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    assert_ok(&out);
    // Every call the sandbox answered was recorded; every final status has its one event.
    let served = env.sandbox.sandbox.confirm_count() as i64;
    let logged = env.count(
        "SELECT count(*) FROM confirm_attempts WHERE outcome != ?1",
        "",
    );
    assert_eq!(logged, served, "no answered call lost at shutdown");
    let finals = env.count(
        "SELECT count(*) FROM payments WHERE status != ?1",
        "pending",
    );
    let events = env.count(
        "SELECT count(*) FROM events WHERE type LIKE ?1",
        "payment.%",
    );
    assert_eq!(finals, events);
    assert!(finals < 40, "stopped mid-drain ({finals} done)");
    env.run_until_idle().await;
    for token in &tokens {
        assert_eq!(env.show(token).await["status"], "completed");
    }
}

#[tokio::test]
async fn sighup_applies_poll_settings_live_and_names_those_needing_a_restart() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::secs(3600);
    env.write_config();
    let token = env.invoice(Outcome::Never, 100, "ORD-1").await;
    let child = env.spawn(&["run"]);
    let sandbox = env.sandbox.sandbox.clone();
    let t = token.clone();
    eventually(Duration::from_secs(10), || {
        sandbox.invoice(&t).is_some_and(|i| i.confirms.len() >= 2)
    })
    .await;
    assert_eq!(env.show(&token).await["status"], "pending");

    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.config.http.listen = "off".into();
    env.write_config();
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    eventually(Duration::from_secs(10), || {
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "timeout") == 1
    })
    .await;

    std::fs::write(&env.config_path, "[poll]\nconcurrency = 0\n").unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    terminate(&child);
    let log = stderr(&finished(child).await);
    assert!(log.contains("applied=[\"poll.give_up_after\"]"), "{log}");
    assert!(log.contains("needs_restart=[\"http.listen\"]"), "{log}");
    assert!(
        log.contains("configuration is invalid; keeping the running one"),
        "{log}"
    );
}

/// A database error stops the daemon with exit code 4, nightly reports enabled or not: the
/// report loop is stopped with the poller, not waited for.
#[tokio::test]
async fn a_database_error_ends_the_daemon_with_code_4_even_with_reports_enabled() {
    let mut env = TestEnv::start().await;
    env.config.report.enabled = true;
    env.write_config();
    env.invoice(Outcome::Completed, 100, "ORD-1").await;
    let child = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || env.calls("completed") >= 1).await;
    env.shop_connection()
        .execute_batch("DROP TABLE confirm_attempts; DROP TABLE payments;")
        .unwrap();
    stops_by_itself_with(child, 4).await;
}

/// An idle daemon with a long `scan_interval` is alive, not stuck: the watchdog keeps
/// being pinged between scans.
#[tokio::test]
async fn a_long_scan_interval_keeps_the_watchdog_fed() {
    let mut env = TestEnv::start().await;
    env.config.poll.scan_interval = HumanDuration::secs(5);
    env.write_config();
    assert_watchdog_fed(&env).await;
}

/// Polling paused for refused credentials (a 5 s pause, a 5 s scan) is waiting, not stuck.
#[tokio::test]
async fn a_long_auth_pause_keeps_the_watchdog_fed() {
    let mut env = TestEnv::with_faults(Faults {
        auth_failure: true,
        ..Faults::default()
    })
    .await;
    env.config.poll.scan_interval = HumanDuration::secs(5);
    env.config.poll.auth_retry_initial = HumanDuration::secs(5);
    env.config.poll.auth_retry_max = HumanDuration::secs(5);
    env.write_config();
    env.invoice(Outcome::Completed, 100, "ORD-1").await;
    assert_watchdog_fed(&env).await;
    assert!(env.calls("auth_failed") >= 1, "polling was paused");
}

/// Workers waiting for slots of a slow rate limit (one call per 5 s), with the dispatcher
/// holding a full queue, are waiting, not stuck.
#[tokio::test]
async fn a_slow_rate_limit_keeps_the_watchdog_fed() {
    let mut env = TestEnv::start().await;
    env.config.poll.max_requests_per_second = 0.2;
    env.config.poll.batch_size = 4;
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    let shop = env.shop_connection();
    for _ in 0..12 {
        let token = env
            .sandbox
            .sandbox
            .add_invoice(&settled(Outcome::Never, 100));
        shop.execute("INSERT INTO payments (token) VALUES (?1)", [&token])
            .unwrap();
    }
    assert_watchdog_fed(&env).await;
    assert!(env.calls("pending") >= 1, "slots were granted");
}

/// Runs the daemon under a 1.5 s watchdog for 4 s after READY and expects a ping about
/// every 750 ms. The notifications are read off the async runtime, so the in-process
/// sandbox keeps answering meanwhile.
async fn assert_watchdog_fed(env: &TestEnv) {
    let (socket, rx) = listen_notify(env.dir.path());
    let child = env
        .cmd(&["run"])
        .env("NOTIFY_SOCKET", &socket)
        .env("WATCHDOG_USEC", "1500000")
        .spawn()
        .unwrap();
    let pings = tokio::task::spawn_blocking(move || {
        let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(first, "READY=1");
        let until = Instant::now() + Duration::from_secs(4);
        let mut pings = 0;
        while Instant::now() < until {
            if let Ok((_, msg)) = rx.recv_timeout(Duration::from_millis(200))
                && msg == "WATCHDOG=1"
            {
                pings += 1;
            }
        }
        pings
    })
    .await
    .unwrap();
    assert!(pings >= 4, "{pings} watchdog pings in 4 s at 750 ms");
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());
}

/// A port still held (say by a stopping process) is a runtime failure, exit 1, which the
/// unit restarts; exit 3 would leave the service failed (`RestartPreventExitStatus`).
#[tokio::test]
async fn a_busy_listen_port_exits_1() {
    let mut env = TestEnv::start().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    env.config.http.listen = taken.local_addr().unwrap().to_string();
    env.write_config();
    let out = env.run(&["run"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("http.listen"), "{}", stderr(&out));
}
