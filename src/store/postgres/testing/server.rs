//! A throwaway PostgreSQL server for tests: `initdb` and `pg_ctl` in a temporary directory,
//! on a free loopback port, stopped (and its files removed) when dropped. Real parts, no
//! mocks: every PostgreSQL test runs its SQL against a real server.
//!
//! PostgreSQL refuses to run as root, and tests run as root here and in CI, so the server
//! runs as the `postgres` user (or `nobody`) through `runuser`, in a directory given to
//! that user. The binaries are the newest `/usr/lib/postgresql/*/bin` (Debian's layout) or
//! those on `PATH`. Without them a test says "skipped" and passes, except under CI
//! (`CI` set), which installs `postgresql` and where a missing server is a failure: the
//! rule of the browser test (tests/cli/browser.rs).
//!
//! This file depends on no part of the crate, so the integration tests compile the same
//! harness (`#[path]` in tests/cli/postgres.rs) to run the binary against a real server:
//! one harness, no feature flag. The crate's own helpers (a migrated `PgStore`) are in
//! `testing/mod.rs`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server; dropped, it is stopped.
pub struct TestServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as, when the tests run as root.
    run_as: Option<String>,
    pub port: u16,
}

/// How long `pg_ctl` waits for the server to start or stop.
const PG_CTL_WAIT: &str = "60";

impl TestServer {
    /// Starts a server, or `None` (after saying "skipped") when PostgreSQL is not installed
    /// outside CI.
    pub fn start() -> Option<Self> {
        let Some(bin) = server_binaries() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install postgresql (initdb and pg_ctl not found)"
            );
            eprintln!("skipped: PostgreSQL server not found (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let run_as = (std::fs::metadata(dir.path()).expect("stat").uid() == 0).then(server_user);
        if let Some(user) = &run_as {
            give_to(dir.path(), user);
        }
        let mut server = Self {
            dir,
            bin,
            run_as,
            port: 0,
        };
        let data = server.data();
        server.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            &["--no-locale", "--no-sync", "--no-instructions"],
        );
        // A port found free may be taken before the server binds it: try a few.
        for _ in 0..3 {
            server.port = free_port();
            if server.start_server() {
                return Some(server);
            }
        }
        let log = std::fs::read_to_string(server.dir.path().join("server.log"));
        panic!("PostgreSQL did not start: {log:?}");
    }

    /// Creates the database `name` (no password: the test server trusts loopback
    /// connections).
    pub async fn create_database(&self, name: &str) {
        self.admin(&format!("CREATE DATABASE \"{name}\"")).await;
    }

    /// Creates the superuser `user` with `password`, and has the server ask that user for
    /// it over TCP (scram-sha-256) as a production server does; every other user stays
    /// trusted. Returns once the server applies the rule.
    #[allow(dead_code)] // used by the crate's tests (store::postgres::errors)
    pub async fn add_password_user(&self, user: &str, password: &str) {
        self.admin(&format!(
            "CREATE ROLE \"{user}\" LOGIN SUPERUSER PASSWORD '{password}'"
        ))
        .await;
        let hba = self.dir.path().join("data").join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        let rule = format!("host all {user} 127.0.0.1/32 scram-sha-256\n");
        std::fs::write(&hba, rule + &rules).expect("write pg_hba.conf");
        self.admin("SELECT pg_reload_conf()").await;
        // The server re-reads the file after the signal: wait until it refuses a guess.
        let guess = format!(
            "host=127.0.0.1 port={} user={user} password=not-{password} dbname=postgres",
            self.port
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokio_postgres::connect(&guess, tokio_postgres::NoTls)
            .await
            .is_ok()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "pg_hba.conf not applied"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Runs `sql` as the trusted superuser on the `postgres` database.
    async fn admin(&self, sql: &str) {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres",
                self.port
            ),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect to the test server");
        let task = tokio::spawn(connection);
        client.batch_execute(sql).await.expect(sql);
        drop(client);
        let _ = task.await;
    }

    /// The URL of the database `name`, with `sslmode=disable`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }

    /// Stops the server as an operator's restart does (`-m fast`: sessions are cut),
    /// leaves it down for `down`, and starts it again on the same port.
    #[allow(dead_code)] // used by the integration tests (tests/cli/postgres/cluster.rs)
    pub fn restart(&self, down: std::time::Duration) {
        self.restart_with("fast", down);
    }

    /// Stops the server in `mode` (`fast`, or `immediate`: as a crash, the next start
    /// recovers from the WAL), leaves it down for `down`, and starts it again on the same
    /// port.
    #[allow(dead_code)] // used by the integration tests (tests/cli/postgres/)
    pub fn restart_with(&self, mode: &str, down: std::time::Duration) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", &data, "-m", mode, "-w", "-t", PG_CTL_WAIT],
            &["stop"],
        );
        std::thread::sleep(down);
        assert!(self.start_server(), "PostgreSQL did not start again");
    }

    /// The postmaster's process id, from `postmaster.pid` (the benchmarks read the
    /// server's CPU from `/proc`).
    #[allow(dead_code)] // used by the benchmarks (examples/bench)
    pub fn pid(&self) -> Option<u32> {
        let file = self.dir.path().join("data").join("postmaster.pid");
        std::fs::read_to_string(file)
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The server's log so far (the benchmarks read its slow statements).
    #[allow(dead_code)] // used by the benchmarks (examples/bench)
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn start_server(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let log = log.to_string_lossy().into_owned();
        let data = self.data();
        self.try_run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                PG_CTL_WAIT,
            ],
            &["start"],
        )
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn run(&self, tool: &str, args: &[&str], flags: &[&str]) {
        assert!(self.try_run(tool, args, flags), "{tool} failed");
    }

    /// Runs a server tool as the server's user; whether it succeeded (its output is shown
    /// when it did not).
    fn try_run(&self, tool: &str, args: &[&str], flags: &[&str]) -> bool {
        let program = self.bin.join(tool);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let output = command
            .args(args)
            .args(flags)
            .current_dir(self.dir.path())
            .output()
            .expect("run a PostgreSQL tool");
        if !output.status.success() {
            eprintln!(
                "{tool}: {}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output.status.success()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // `immediate`: the files are deleted next, nothing needs to be written cleanly.
        let data = self.data();
        self.try_run("pg_ctl", &["-D", &data, "-m", "immediate", "-w"], &["stop"]);
    }
}

/// The directory of `initdb` and `pg_ctl`: the newest Debian version directory, else
/// `PATH`'s.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// `postgres` when that user exists (the Debian package makes it), else `nobody`.
fn server_user() -> String {
    let exists = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .is_ok_and(|o| o.status.success());
    if exists { "postgres" } else { "nobody" }.to_owned()
}

/// Hands the temporary directory to the server's user (initdb writes in it).
fn give_to(dir: &Path, user: &str) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, user]).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    std::os::unix::fs::chown(dir, Some(id("-u")), Some(id("-g"))).expect("chown");
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address").port()
}
