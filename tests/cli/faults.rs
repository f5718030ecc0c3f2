//! Faults an operator meets: a log reader that goes away, a database that stops taking
//! writes, a daemon task that fails. Each through the real binary.

use crate::helpers::*;
use crate::service::{free_port, get};
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// `run 2>&1 | head -1`: the reader of stderr goes away after one line. Every payment still
/// resolves, and SIGTERM still stops the daemon at once, with exit 0.
#[tokio::test]
async fn a_closed_stderr_stops_neither_the_payments_nor_sigterm() {
    let env = TestEnv::start().await;
    let mut child = env.spawn(&["run"]);
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    assert!(matches!(first, Ok(Ok(Some(_)))), "one line read: {first:?}");
    drop(lines);
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(
            env.invoice(Outcome::Completed, 1000 + i, &format!("ORD-{i}"))
                .await,
        );
    }
    eventually(Duration::from_secs(15), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) == 5
    })
    .await;
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("SIGTERM must stop the daemon")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

/// A task beside the poller that fails (here the event deliverer, its table dropped) stops
/// the daemon with a non-zero exit, rather than leaving a process that looks healthy and
/// delivers nothing.
#[tokio::test]
async fn a_failed_delivery_task_stops_the_daemon() {
    let mut env = TestEnv::start().await;
    env.config.events.jsonl_path = Some(env.dir.path().join("events.jsonl"));
    env.write_config();
    let child = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM sqlite_master WHERE name = ?1",
            "payments",
        ) == 1
    })
    .await;
    env.shop_connection()
        .execute_batch("DROP TABLE event_deliveries;")
        .unwrap();
    let out = stops_by_itself_with(child, 4).await;
    assert!(
        stderr(&out).contains("event delivery"),
        "the log names the task: {}",
        stderr(&out)
    );
}

/// A database the daemon's user can read but not write is refused at start (exit 4), not
/// run on while every confirm's answer is lost.
#[tokio::test]
async fn a_database_it_cannot_write_is_refused_at_start() {
    let env = TestEnv::start().await;
    assert_ok(&env.run(&["migrate"]).await);
    let as_root = is_root();
    let mut cmd = env.cmd(&["run"]);
    if as_root {
        // Root writes anything: run as nobody, on a root-owned 0644 file in a directory
        // everyone may write (the -wal and -shm files can be made; the database cannot).
        set_mode(env.dir.path(), 0o777);
        set_mode(&env.config_path, 0o644);
        set_mode(&env.db, 0o644);
        let mut wrapped = tokio::process::Command::new("setpriv");
        wrapped
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(BIN)
            .arg("--config")
            .arg(&env.config_path)
            .arg("run");
        copy_env(&cmd, &mut wrapped);
        cmd = wrapped;
    } else {
        set_mode(&env.db, 0o444);
    }
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("must refuse at once, not run")
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
}

/// The disk fills while the daemon runs: it stops claiming work, `/readyz` fails, a metric
/// counts, the incident is logged once; answers already received are written once space
/// is back, with no restart. Filled again, SIGTERM still stops it within `shutdown_grace`.
#[tokio::test]
async fn a_full_disk_holds_the_work_fails_readyz_and_heals_by_itself() {
    let mut env = TestEnv::start().await;
    let Some(mount) = SmallDisk::mount(&env.dir.path().join("disk")) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); disk-full is untested");
        return;
    };
    let port = free_port();
    env.db = mount.path.join("reconciler.db");
    env.config.database.path = env.db.clone();
    env.config.http.listen = format!("127.0.0.1:{port}");
    env.config.poll.max_interval = HumanDuration::millis(200);
    // The late invoice stays pending through the first fault: it must not time out.
    env.config.poll.give_up_after = HumanDuration::secs(3600);
    env.write_config();
    let mut tokens: Vec<String> = pending_invoices(&env, 4).await;
    let late = tokens.pop().unwrap();
    let child = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || env.calls("pending") >= 4).await;
    mount.fill();
    // The invoices settle now: their answers cannot be recorded.
    for t in &tokens {
        assert!(env.sandbox.sandbox.settle_now(t, Outcome::Completed));
    }
    readyz_fails(port).await;
    let (_, metrics) = get(port, "/metrics").await;
    assert!(
        metrics.contains("ligdicash_reconciler_store_writable 0"),
        "{metrics}"
    );
    let before = env.sandbox.sandbox.confirm_count();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = env.sandbox.sandbox.confirm_count() - before;
    assert!(
        during <= 1,
        "no new claims while writes fail: {during} confirms in 2 s"
    );
    mount.free();
    eventually(Duration::from_secs(15), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) == 3
    })
    .await;
    assert_eq!(get(port, "/readyz").await.0, 200);
    mount.fill();
    assert!(env.sandbox.sandbox.settle_now(&late, Outcome::Completed));
    readyz_fails(port).await;
    let stopping = Instant::now();
    terminate(&child);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("SIGTERM must stop the daemon")
        .unwrap();
    let took = stopping.elapsed();
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        took < env.config.poll.shutdown_grace.0 + Duration::from_millis(1500),
        "stopped in {took:?}"
    );
    assert_eq!(
        log.matches("cannot write the database").count(),
        2,
        "once per incident: {log}"
    );
    assert_eq!(
        log.matches("the database is writable again").count(),
        1,
        "{log}"
    );
    mount.free();
}

async fn readyz_fails(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = get(port, "/readyz").await;
        if status == 503 && body.contains("writes failing") {
            return;
        }
        assert!(Instant::now() < deadline, "readyz never failed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Invoices that stay pending until the test settles them.
async fn pending_invoices(env: &TestEnv, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..n {
        let spec = InvoiceSpec {
            settle_after_ms: 3_600_000,
            ..settled(Outcome::Completed, 2000)
        };
        let token = env.sandbox.sandbox.add_invoice(&spec);
        env.enqueue(&token, Some(&format!("ORD-D{i}")), Some(2000))
            .await;
        tokens.push(token);
    }
    tokens
}

/// A small tmpfs the test can fill and free; unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path) -> Option<Self> {
        std::fs::create_dir_all(path).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self {
            path: path.to_owned(),
        })
    }

    fn filler(&self) -> PathBuf {
        self.path.join("filler")
    }

    /// Writes until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.filler());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The environment `cmd` sets, onto `to` (which inherits nothing else of ours).
fn copy_env(cmd: &tokio::process::Command, to: &mut tokio::process::Command) {
    to.env_clear();
    for (k, v) in cmd.as_std().get_envs() {
        if let Some(v) = v {
            to.env(k, v);
        }
    }
    to.env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
}
