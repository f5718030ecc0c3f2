//! What every workload needs: the binaries, a sandbox process, a database, and the
//! reconciler's own CPU and memory read from `/proc`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use ligdicash_reconciler::config::database::DATABASE_URL_ENV;

/// Credentials the sandbox accepts; nothing secret.
pub const ENV: [(&str, &str); 2] = [
    ("LIGDICASH_API_KEY", "sandbox-api-key"),
    ("LIGDICASH_API_TOKEN", "sandbox-api-token"),
];

/// The reconciler binary under test: `RECONCILER_BIN`, or the release build.
pub fn bin() -> anyhow::Result<PathBuf> {
    let Some(path) = std::env::var_os("RECONCILER_BIN").map(PathBuf::from) else {
        return release_bin();
    };
    anyhow::ensure!(
        path.exists(),
        "RECONCILER_BIN {} is missing",
        path.display()
    );
    Ok(path)
}

/// The release build, for the sandbox and set-up commands (never wrapped or profiled).
pub fn release_bin() -> anyhow::Result<PathBuf> {
    let path = PathBuf::from("target/release/ligdicash-reconciler");
    anyhow::ensure!(path.exists(), "build first: cargo build --release");
    Ok(path)
}

/// A sandbox running as its own process, killed on drop.
pub struct Sandbox {
    child: Child,
    pub base_url: String,
    pub tokens: Vec<String>,
}

impl Sandbox {
    /// Starts the sandbox with `preload` invoices (completed at once) and `faults` JSON.
    pub fn start(dir: &Path, preload: usize, faults: Option<&str>) -> anyhow::Result<Self> {
        let tokens_path = dir.join("tokens.txt");
        let mut cmd = Command::new(release_bin()?);
        cmd.args(["sandbox", "--listen", "127.0.0.1:0"]);
        if preload > 0 {
            cmd.args(["--preload", &preload.to_string()])
                .arg("--tokens-out")
                .arg(&tokens_path);
        }
        if let Some(f) = faults {
            cmd.args(["--faults", f]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("sandbox has no stdout"))?;
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first)?;
        let base_url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .ok_or_else(|| anyhow::anyhow!("sandbox said {first:?}"))?
            .to_owned();
        let tokens = if preload > 0 {
            std::fs::read_to_string(&tokens_path)?
                .lines()
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            child,
            base_url,
            tokens,
        })
    }

    /// The sandbox's process id, to read its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a config for `base_url` with `poll` lines under `[poll]`, migrates the database,
/// and returns the config's path.
pub fn setup(dir: &Path, base_url: &str, poll: &str, http: &str) -> anyhow::Result<PathBuf> {
    setup_with(dir, base_url, poll, http, None)
}

/// [`setup`] on the PostgreSQL database `url` (given to each command in its environment).
pub fn setup_on(
    dir: &Path,
    base_url: &str,
    poll: &str,
    url: Option<&str>,
) -> anyhow::Result<PathBuf> {
    setup_with(dir, base_url, poll, "off", url)
}

fn setup_with(
    dir: &Path,
    base_url: &str,
    poll: &str,
    http: &str,
    url: Option<&str>,
) -> anyhow::Result<PathBuf> {
    write_and_migrate(dir, base_url, poll, http, url, "")
}

/// [`setup_on`] with `events` (the `[events]` section and its sinks) in the config.
pub fn setup_events(
    dir: &Path,
    base_url: &str,
    poll: &str,
    url: Option<&str>,
    events: &str,
) -> anyhow::Result<PathBuf> {
    write_and_migrate(dir, base_url, poll, "off", url, events)
}

fn write_and_migrate(
    dir: &Path,
    base_url: &str,
    poll: &str,
    http: &str,
    url: Option<&str>,
    events: &str,
) -> anyhow::Result<PathBuf> {
    let db = dir.join("bench.db");
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[ligdicash]\nbase_url = \"{base_url}\"\n[database]\npath = {db:?}\n\
             [poll]\n{poll}\n[http]\nlisten = \"{http}\"\n[report]\nenabled = false\n{events}"
        ),
    )?;
    let mut migrate = Command::new(release_bin()?);
    migrate
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .envs(ENV);
    if let Some(url) = url {
        migrate.env(DATABASE_URL_ENV, url);
    }
    let status = migrate.stdout(Stdio::null()).status()?;
    anyhow::ensure!(status.success(), "migrate failed");
    Ok(config)
}

/// Adds `tokens` as pending payments due at once, in one transaction.
pub fn enqueue_due(db: &Path, tokens: &[String]) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    let tx = conn.transaction()?;
    for t in tokens {
        tx.execute(
            "INSERT INTO payments (token, next_poll_at) VALUES (?1, 0)",
            [t],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Appends `--config CONFIG run --until-idle` and the sandbox credentials to `cmd`, a
/// command that runs the reconciler.
pub fn until_idle<'c>(cmd: &'c mut Command, config: &Path) -> &'c mut Command {
    cmd.arg("--config")
        .arg(config)
        .args(["run", "--until-idle"])
        .envs(ENV)
        .env("RUST_LOG", "warn")
}

/// The database `setup` created.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("bench.db")
}

/// What `/usr/bin/time -f "TIME %e %U %S %M"` reported for a finished process.
pub struct Usage {
    /// User plus system CPU seconds.
    pub cpu_s: f64,
    pub max_rss_mb: f64,
}

impl Usage {
    /// Reads the `TIME` line out of the process's stderr.
    pub fn parse(stderr: &str) -> anyhow::Result<Self> {
        let figures: Vec<f64> = stderr
            .lines()
            .find_map(|l| l.strip_prefix("TIME "))
            .ok_or_else(|| anyhow::anyhow!("no /usr/bin/time line: {stderr}"))?
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        anyhow::ensure!(figures.len() == 4, "odd /usr/bin/time line: {stderr}");
        Ok(Self {
            cpu_s: figures[1] + figures[2],
            max_rss_mb: figures[3] / 1024.0,
        })
    }
}

/// CPU time (user + system) a live process has used, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("odd /proc stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks()?))
}

/// The machine's CPU time so far, from the first line of `/proc/stat`: (busy, idle), in
/// clock ticks; iowait counts as idle, steal as neither.
pub fn machine_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().unwrap_or_default();
    let t: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    anyhow::ensure!(t.len() >= 8, "odd /proc/stat: {line}");
    // user nice system idle iowait irq softirq steal
    Ok((t[0] + t[1] + t[2] + t[5] + t[6], t[3] + t[4]))
}

/// Share of the machine's CPU left idle between two [`machine_ticks`] readings.
pub fn idle_share(before: (u64, u64), after: (u64, u64)) -> f64 {
    let (busy, idle) = (after.0 - before.0, after.1 - before.1);
    idle as f64 / (busy + idle).max(1) as f64
}

/// Peak and current resident memory in MB, from `/proc/PID/status`.
pub fn memory_mb(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    Ok((kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0))
}

fn clock_ticks() -> anyhow::Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// Machine facts for the results table.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cores} cores, {mem_gib:.0} GiB")
}

/// The largest number of calls that started within any `window_ms` (half-open window).
pub fn most_in_window(at: &[i64], window_ms: i64) -> usize {
    let mut start = 0;
    let mut most = 0;
    for end in 0..at.len() {
        while at[end] - at[start] >= window_ms {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

/// CPU time of a server process and its children (a PostgreSQL postmaster and its backends
/// and workers), those that already exited included (the parent's `cutime`/`cstime`).
pub fn tree_cpu_time(parent: u32) -> anyhow::Result<Duration> {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // After the name: state, ppid, ... utime (12), stime (13), cutime (14), cstime (15).
        if pid == parent {
            ticks += num(11) + num(12) + num(13) + num(14);
        } else if num(1) == u64::from(parent) {
            ticks += num(11) + num(12);
        }
    }
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks()?))
}
