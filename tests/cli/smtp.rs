//! A real SMTP server for the report e-mail tests: aiosmtpd (from PyPI, in a virtualenv
//! made once under `target/`) running `tests/fixtures/smtp_server.py`, with STARTTLS
//! required (the test certificate of `tests/fixtures/tls`, whose CA the reconciler is given
//! as `ca_file`) and AUTH required after it. Each message it accepts is saved as received.
//!
//! Without python3's venv or PyPI a test says "skipped" and passes, except under CI
//! (`CI` set), which installs `python3-venv` and where a missing server is a failure: the
//! rule of the browser and PostgreSQL tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The account the server accepts.
pub const USER: &str = "rapports@boutique.bf";
pub const PASSWORD: &str = "pw-SMTP-7f3c9a";

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The CA that issued the server's certificate: the reconciler's `ca_file`.
pub fn ca_file() -> PathBuf {
    Path::new(FIXTURES).join("tls/ca.pem")
}

/// One server. Stopped when dropped; its messages stay readable in `maildir`.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub maildir: PathBuf,
    refuse_flag: PathBuf,
}

impl SmtpServer {
    /// Whether aiosmtpd can be had: a test checks it first, to skip before setting up.
    pub fn available() -> bool {
        venv_python().is_some()
    }

    /// Starts a server on `port` (0: any free one) saving into `dir/mail`, refusing every
    /// message from the start when `refusing`; `None` (after saying "skipped") where
    /// aiosmtpd cannot be installed, outside CI.
    pub async fn start(dir: &Path, port: u16, refusing: bool) -> Option<Self> {
        let python = venv_python()?;
        let maildir = dir.join("mail");
        std::fs::create_dir_all(&maildir).unwrap();
        let refuse_flag = dir.join("smtp-refuse");
        if refusing {
            std::fs::write(&refuse_flag, "").unwrap();
        }
        let mut child = Command::new(python)
            .arg(Path::new(FIXTURES).join("smtp_server.py"))
            .args(["--port", &port.to_string()])
            .arg("--cert")
            .arg(Path::new(FIXTURES).join("tls/server.pem"))
            .arg("--key")
            .arg(Path::new(FIXTURES).join("tls/server.key"))
            .arg("--maildir")
            .arg(&maildir)
            .arg("--refuse-while")
            .arg(&refuse_flag)
            .env("SMTP_TEST_USER", USER)
            .env("SMTP_TEST_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        let read = stdout.read_line(&mut line);
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the SMTP server did not start in 30 s")
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server said {line:?}"));
        Some(Self {
            child: Some(child),
            port,
            maildir,
            refuse_flag,
        })
    }

    /// While on, every message is refused with a 451 (try again later).
    pub fn refuse(&self, on: bool) {
        match on {
            true => std::fs::write(&self.refuse_flag, "").unwrap(),
            false => std::fs::remove_file(&self.refuse_flag).unwrap(),
        }
    }

    /// The messages received, in order, as received.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Stops the server now (a mail server going down).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

/// The venv's python with aiosmtpd, made once per checkout (`target/smtp-venv`) and
/// shared by every test; `None` outside CI when it cannot be made.
fn venv_python() -> Option<PathBuf> {
    static MADE: Mutex<Option<bool>> = Mutex::new(None);
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/smtp-venv");
    let python = venv.join("bin/python");
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    let ok = *made.get_or_insert_with(|| has_aiosmtpd(&python) || make_venv(&venv, &python));
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must be able to make a python3 venv with aiosmtpd (apt-get install python3-venv)"
    );
    eprintln!("skipped: cannot make a python3 venv with aiosmtpd (apt-get install python3-venv)");
    None
}

fn has_aiosmtpd(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Made beside its place and renamed into it, so that a test run stopped half-way never
/// leaves a venv without aiosmtpd where the next run would take it as done.
fn make_venv(venv: &Path, python: &Path) -> bool {
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let run = |program: &Path, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let made = run(
        Path::new("python3"),
        &["-m", "venv", "--clear", &building.to_string_lossy()],
    ) && run(
        &building.join("bin/pip"),
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "aiosmtpd",
        ],
    );
    if !made {
        let _ = std::fs::remove_dir_all(&building);
        return false;
    }
    // Its python finds its packages from where it lies (pyvenv.cfg beside it), so the
    // venv works under its new name. Another test binary may have put one there first.
    let _ = std::fs::remove_dir_all(venv);
    if std::fs::rename(&building, venv).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    has_aiosmtpd(python)
}
