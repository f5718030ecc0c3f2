//! `demo`: the whole flow on the embedded sandbox, with no credentials and no network.
//!
//! A simulated shop creates invoices through the sandbox's `create` endpoint, enqueues their
//! tokens into a fresh database, and the real poller resolves them on a fast schedule while
//! a progress line shows the counts. At the end every final status is checked against the
//! sandbox's truth. Then the three paths a callback can take are shown side by side
//! ([`callbacks`]).

/// Prints a line of the demo; a closed stdout stops the demo ([`OutputClosed`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::demo::write_line(&format!($($arg)*))?
    };
}

mod callbacks;
mod payouts;
mod summary;
mod truth;

use crate::app::{App, build_client};
use crate::config::{Config, Credentials, DatabaseConfig, HumanDuration};
use crate::metrics::Metrics;
use crate::payment::NewPayment;
use crate::poller::RunMode;
use crate::sandbox::{self, Faults, SANDBOX_API_KEY, SANDBOX_API_TOKEN, SandboxConfig};
use crate::store::Db;
use crate::time::{ms, now_ms};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Stdout was closed (`demo | head`): the demo stops there, quietly, as every command does.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct OutputClosed;

/// Writes `text` and a newline to stdout, never panicking as `println!` does.
pub(crate) fn write_line(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(format!("{text}\n").as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(OutputClosed.into()),
        Err(e) => Err(anyhow::anyhow!("cannot write to stdout: {e}")),
    }
}

/// Tokens the simulated shop stores by mistake (LigdiCash will not know them).
const BOGUS_TOKENS: usize = 3;

/// Runs the demo with `payments` invoices; keeps the database at `keep_db` if given.
pub fn run(payments: usize, keep_db: Option<&Path>) -> Result<()> {
    if payments == 0 || payments > 100_000 {
        bail!("--payments must be between 1 and 100000");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run_async(payments, keep_db))
}

/// The sandbox's behaviour for the demo: fast settlements and a few faults of each kind.
fn demo_sandbox() -> SandboxConfig {
    let mut cfg = SandboxConfig::default();
    cfg.scenario.settle_min_ms = 200;
    cfg.scenario.settle_max_ms = 6_000;
    cfg.faults = Faults {
        server_error: 0.03,
        rate_limit: 0.01,
        retry_after_secs: 1,
        html: 0.01,
        api_error: 0.01,
        unknown_status: 0.01,
        ..Faults::default()
    };
    cfg
}

/// A fast schedule, allowed because the sandbox is on loopback.
fn demo_config(base_url: String, db: &Path) -> Config {
    let mut c = Config::default();
    c.ligdicash.base_url = base_url;
    c.ligdicash.request_timeout = HumanDuration::secs(5);
    c.database.path = db.to_owned();
    let p = &mut c.poll;
    p.first_delay = HumanDuration::millis(200);
    p.initial_interval = HumanDuration::millis(300);
    p.max_interval = HumanDuration::secs(2);
    p.min_interval = HumanDuration::millis(300);
    p.give_up_after = HumanDuration::secs(10);
    p.concurrency = 8;
    p.max_requests_per_second = 400.0;
    p.scan_interval = HumanDuration::millis(200);
    p.auth_retry_initial = HumanDuration::secs(1);
    // Events go to a JSON-lines file beside the database, as a shop's log shipper would read.
    c.events.jsonl_path = Some(db.with_extension("events.jsonl"));
    c.http.listen = "off".into();
    // A report would add its own event to the ones the demo checks.
    c.report.enabled = false;
    payouts::configure(&mut c);
    c
}

async fn run_async(payments: usize, keep_db: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    let running = sandbox::spawn(([127, 0, 0, 1], 0).into(), demo_sandbox())
        .await
        .context("cannot start the sandbox")?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = keep_db.map_or_else(|| tmp.path().join("demo.db"), Path::to_owned);
    let config = demo_config(running.base_url(), &db);
    config.validate()?;
    let creds = Credentials::fixed(SANDBOX_API_KEY, SANDBOX_API_TOKEN);
    let client = build_client(&config, &creds).map_err(|f| anyhow::anyhow!(f.message))?;
    let where_ = keep_db.map_or_else(
        || "a temporary database".to_owned(),
        |p| p.display().to_string(),
    );
    say!("LigdiCash sandbox on {}; {where_}", running.base_url());

    let store = Db::open(&crate::store::Target::sqlite(&config.database)).await?;
    create_and_enqueue(&client, &store, &config, payments).await?;
    let sent = payouts::send_and_enqueue(&running.sandbox, &store, &config).await?;
    say!(
        "the shop created {payments} invoices and stored {} tokens, and sent {sent} payouts; \
         reconciling...",
        payments + BOGUS_TOKENS
    );

    let sandbox_env = |name: &str| match name {
        "LIGDICASH_API_KEY" => Some(SANDBOX_API_KEY.to_owned()),
        "LIGDICASH_API_TOKEN" => Some(SANDBOX_API_TOKEN.to_owned()),
        _ => None,
    };
    let app = App::build(config.clone(), &sandbox_env)
        .await
        .map_err(|f| anyhow::anyhow!(f.message))?;
    let stats = app.metrics();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run(RunMode::UntilIdle, shutdown.clone()));
    let progress = tokio::spawn(show_progress(db.clone(), started, stats.clone()));
    let result = tokio::time::timeout(Duration::from_secs(120), task).await;
    progress.abort();
    match result {
        Ok(joined) => joined
            .context("the reconciler task failed")?
            .map_err(|f| anyhow::anyhow!(f.message))?,
        Err(_) => {
            shutdown.cancel();
            bail!("the demo did not finish within 120 s");
        }
    }
    let confirms = stats.confirms.load(Ordering::Relaxed);
    let rows = store.list(None, usize::MAX >> 1).await?;
    // The report's facts over all time: their confirm attempts are the demo's.
    let now = now_ms();
    let attempts = store.day_facts(0, now + 1, now).await?.attempts;
    summary::print_summary(&rows, &attempts, started.elapsed(), confirms)?;
    let events = store.list_events(None, usize::MAX >> 1).await?;
    // Payment events only: each case a final status opens is announced too (case.opened).
    let delivered = events
        .iter()
        .filter(|e| e.state == "delivered" && !e.kind.starts_with("case."))
        .count();
    let finalized = rows.iter().filter(|p| p.status != "pending").count();
    // An overdue payout is announced once while it stays pending.
    let overdue = rows.iter().filter(|p| p.overdue_at.is_some()).count();
    if delivered != finalized + overdue {
        bail!(
            "{finalized} final statuses and {overdue} overdue payouts but {delivered} delivered events"
        );
    }
    truth::verify_against_truth(
        &rows,
        &running.sandbox.invoices(),
        ms(config.poll.give_up_after.0),
    )?;
    payouts::verify(&rows, &events, &running.sandbox.payouts())?;
    say!("");
    summary::print_sample_event(&events)?;
    callbacks::three_paths(&running, tmp.path()).await?;
    running.shutdown.cancel();
    say!("");
    let events = config.events.jsonl_path.clone().unwrap_or_default();
    summary::print_next_steps(keep_db.map(|db| (db, events.as_path())))
}

/// Creates invoices through the sandbox's `create` endpoint, as a shop's checkout does.
async fn create_and_enqueue(
    client: &crate::ligdicash::LigdicashClient,
    store: &Db,
    config: &Config,
    payments: usize,
) -> Result<()> {
    let first_delay = ms(config.poll.first_delay.0);
    for i in 0..payments {
        let amount = 500 + 250 * (i as i64 % 40);
        let transaction_id = format!("ORD-2026-{i:05}");
        let body = serde_json::json!({"commande": {
            "invoice": {"items": [], "total_amount": amount, "devise": "XOF",
                        "description": "Demo order", "customer": "", "external_id": "", "otp": ""},
            "store": {"name": "Demo shop", "website_url": "https://shop.example"},
            "actions": {"cancel_url": "https://shop.example/cancel",
                        "return_url": "https://shop.example/return",
                        "callback_url": "https://shop.example/callback"},
            "custom_data": {"transaction_id": transaction_id}
        }});
        let reply = client
            .create_invoice(&body)
            .await
            .map_err(|e| anyhow::anyhow!("create invoice: {e}"))?;
        let reply: serde_json::Value = serde_json::from_slice(&reply)?;
        let token = reply["token"]
            .as_str()
            .context("create returned no token")?;
        let amount_text = amount.to_string();
        let p = NewPayment::parse(token, Some(&transaction_id), Some(&amount_text))
            .map_err(|e| anyhow::anyhow!(e))?;
        let now = now_ms();
        store.enqueue(p, now, now + first_delay).await?;
    }
    for i in 0..BOGUS_TOKENS {
        let p = NewPayment::parse(&format!("not-a-ligdicash-token-{i}"), None, None)
            .map_err(|e| anyhow::anyhow!(e))?;
        let now = now_ms();
        store.enqueue(p, now, now + first_delay).await?;
    }
    Ok(())
}

async fn show_progress(db: std::path::PathBuf, started: Instant, stats: Arc<Metrics>) {
    let config = DatabaseConfig {
        path: db,
        busy_timeout: HumanDuration::secs(5),
        ..DatabaseConfig::default()
    };
    let Ok(store) = Db::open(&crate::store::Target::sqlite(&config)).await else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Ok(counts) = store.status_counts().await else {
            continue;
        };
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let line = format!(
            "[{:>5.1}s] {} | confirms {}",
            started.elapsed().as_secs_f64(),
            parts.join(" | "),
            stats.confirms.load(Ordering::Relaxed)
        );
        // A closed stdout ends the demo at its next line outside this task.
        if write_line(&line).is_err() {
            return;
        }
    }
}
