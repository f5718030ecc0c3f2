//! A `TestEnv` per test: the sandbox on a random loopback port, a temporary directory with
//! a real SQLite file and a config file, and helpers that run the real binary.

pub use crate::pg_server::TestServer;
use ligdicash_reconciler::config::database::DATABASE_URL_ENV;
use ligdicash_reconciler::config::{Config, HumanDuration};
use ligdicash_reconciler::sandbox::{self, InvoiceSpec, Outcome, RunningSandbox, SandboxConfig};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_ligdicash-reconciler");

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub sandbox: RunningSandbox,
    pub db: PathBuf,
    pub config_path: PathBuf,
    pub config: Config,
    /// On PostgreSQL: the server (stopped on drop) and the database's URL, given to every
    /// command in `LIGDICASH_RECONCILER_DATABASE_URL`. `None`: the SQLite file `db`.
    pub pg: Option<(TestServer, String)>,
}

/// The database a test of the backend matrix runs on (see [`TestEnv::start_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one test body on both backends: `both!(name, body)` makes `name::sqlite` and
/// `name::postgresql`, each calling `body(env)` with a fresh [`TestEnv`]. The PostgreSQL
/// case says "skipped" where PostgreSQL is not installed, except in CI.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:path) => {
        mod $name {
            use $crate::helpers::{Backend, TestEnv};

            #[tokio::test]
            async fn sqlite() {
                $body(TestEnv::start_on(Backend::Sqlite).await.unwrap()).await;
            }

            #[tokio::test]
            async fn postgresql() {
                if let Some(env) = TestEnv::start_on(Backend::Postgres).await {
                    $body(env).await;
                }
            }
        }
    };
}

/// A sandbox whose invoices made through the create endpoint wait for the payment page's
/// buttons instead of settling by themselves (`sandbox --wait-for-pay`).
pub fn waiting_for_pay() -> SandboxConfig {
    let mut cfg = SandboxConfig::default();
    cfg.scenario.wait_for_pay = true;
    cfg
}

impl TestEnv {
    /// Sandbox with default scenario and no faults; a fast schedule.
    pub async fn start() -> Self {
        Self::with_sandbox(SandboxConfig::default()).await
    }

    pub async fn with_sandbox(cfg: SandboxConfig) -> Self {
        let sandbox = sandbox::spawn(([127, 0, 0, 1], 0).into(), cfg)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("reconciler.db");
        let config_path = dir.path().join("config.toml");
        let mut config = Config::default();
        config.ligdicash.base_url = sandbox.base_url();
        config.ligdicash.request_timeout = HumanDuration::secs(2);
        config.ligdicash.connect_timeout = HumanDuration::secs(1);
        config.database.path = db.clone();
        let p = &mut config.poll;
        p.first_delay = HumanDuration::millis(0);
        p.initial_interval = HumanDuration::millis(100);
        p.max_interval = HumanDuration::millis(400);
        p.min_interval = HumanDuration::millis(100);
        p.give_up_after = HumanDuration::secs(3);
        p.max_requests_per_second = 200.0;
        p.scan_interval = HumanDuration::millis(100);
        p.auth_retry_initial = HumanDuration::millis(200);
        p.auth_retry_max = HumanDuration::millis(400);
        p.shutdown_grace = HumanDuration::secs(3);
        // Reports have their own tests; elsewhere they would add report.generated events.
        config.report.enabled = false;
        // Any free port: tests run in parallel.
        config.http.listen = "127.0.0.1:0".into();
        let env = Self {
            dir,
            sandbox,
            db,
            config_path,
            config,
            pg: None,
        };
        env.write_config();
        env
    }

    /// A fresh environment on `backend`: on PostgreSQL a throwaway server and database,
    /// or `None` where PostgreSQL is not installed (outside CI).
    pub async fn start_on(backend: Backend) -> Option<Self> {
        let mut env = Self::start().await;
        if backend == Backend::Postgres {
            let server = TestServer::start()?;
            server.create_database("shop").await;
            let url = server.url("shop");
            env.pg = Some((server, url));
        }
        Some(env)
    }

    /// Sandbox injecting `faults` from the start.
    pub async fn with_faults(faults: ligdicash_reconciler::sandbox::Faults) -> Self {
        Self::with_sandbox(SandboxConfig {
            faults,
            ..SandboxConfig::default()
        })
        .await
    }

    /// Confirm calls logged with this outcome class.
    pub fn calls(&self, outcome: &str) -> i64 {
        self.count(
            "SELECT count(*) FROM confirm_attempts WHERE outcome = ?1",
            outcome,
        )
    }

    /// Rewrites the config file from `self.config`.
    pub fn write_config(&self) {
        let text = toml::to_string(&self.config).unwrap();
        std::fs::write(&self.config_path, text).unwrap();
    }

    /// The binary with our config and the sandbox's credentials, nothing inherited (a
    /// proxy set on the test machine would otherwise carry the calls to the sandbox).
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_via(&[], args)
    }

    /// [`Self::cmd`] started by `launcher` (say `prlimit --nofile=256:256 --`), which must
    /// exec the binary so that the child's pid is the daemon's.
    pub fn cmd_via(&self, launcher: &[&str], args: &[&str]) -> Command {
        let mut cmd = match launcher.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(BIN);
                cmd
            }
            None => Command::new(BIN),
        };
        cmd.arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env_remove("LIGDICASH_RECONCILER_CONFIG")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env("LIGDICASH_API_KEY", sandbox::SANDBOX_API_KEY)
            .env("LIGDICASH_API_TOKEN", sandbox::SANDBOX_API_TOKEN)
            .env("RUST_LOG", "info")
            .env_remove(DATABASE_URL_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
            cmd.env_remove(proxy).env_remove(proxy.to_lowercase());
        }
        if let Some((_, url)) = &self.pg {
            cmd.env(DATABASE_URL_ENV, url);
        }
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        tokio::time::timeout(Duration::from_secs(60), self.cmd(args).output())
            .await
            .expect("command timed out")
            .unwrap()
    }

    /// Runs the daemon until nothing is pending; asserts it exits 0.
    pub async fn run_until_idle(&self) -> Output {
        let out = self.run(&["run", "--until-idle"]).await;
        assert_ok(&out);
        out
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args).spawn().unwrap()
    }

    pub async fn enqueue(&self, token: &str, transaction_id: Option<&str>, amount: Option<i64>) {
        let mut args = vec!["enqueue".to_owned(), token.to_owned()];
        if let Some(t) = transaction_id {
            args.extend(["--transaction-id".into(), t.into()]);
        }
        if let Some(a) = amount {
            args.extend(["--amount".into(), a.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_ok(&self.run(&args).await);
    }

    pub async fn show(&self, token: &str) -> serde_json::Value {
        let out = self.run(&["show", token]).await;
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Creates an invoice at the sandbox with a chosen fate, and enqueues it as a shop would.
    pub async fn invoice(&self, outcome: Outcome, amount: i64, tx: &str) -> String {
        self.invoice_with(InvoiceSpec {
            outcome,
            amount,
            paid_amount: None,
            transaction_id: Some(tx.into()),
            confirmed_transaction_id: None,
            settle_after_ms: 0,
        })
        .await
    }

    pub async fn invoice_with(&self, spec: InvoiceSpec) -> String {
        let token = self.sandbox.sandbox.add_invoice(&spec);
        self.enqueue(&token, spec.transaction_id.as_deref(), Some(spec.amount))
            .await;
        token
    }

    /// Waits (at most 10 s) until the sandbox has answered a confirm of `token`.
    pub async fn wait_confirmed(&self, token: &str) {
        let sandbox = self.sandbox.sandbox.clone();
        eventually(Duration::from_secs(10), || {
            sandbox
                .invoice(token)
                .is_some_and(|i| !i.confirms.is_empty())
        })
        .await;
    }
}

pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits (at most 20 s) for a child to exit; asserts exit 0 and returns its output.
pub async fn finished(child: Child) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("process did not exit in 20 s")
        .unwrap();
    assert_ok(&out);
    out
}

/// Waits (at most 20 s) for a daemon to stop by itself; asserts its exit code.
pub async fn stops_by_itself_with(child: Child, code: i32) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the daemon must stop by itself")
        .unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    out
}

/// Sends SIGTERM to a child process.
/// An invoice that settles at once with `outcome`, without an order reference.
pub fn settled(outcome: Outcome, amount: i64) -> InvoiceSpec {
    InvoiceSpec {
        outcome,
        amount,
        paid_amount: None,
        transaction_id: None,
        confirmed_transaction_id: None,
        settle_after_ms: 0,
    }
}

pub fn terminate(child: &Child) {
    let pid = child.id().expect("child still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until `check` holds, polling every 20 ms, for at most `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
