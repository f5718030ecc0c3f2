//! `run`: builds every component, then runs the poller, the delivery worker, the nightly
//! reports, the HTTP listener and the systemd supervision until a signal (or idleness).
//!
//! Start-up order matters for systemd: credentials, sinks, the instance lock, the database
//! (opened and migrated) and the listener are all ready before `READY=1` is sent.

use super::Failure;
use super::commands::{build_client, process_env, runtime, stop_on_signal_or_reload};
use crate::config::{Config, Credentials};
use crate::events::delivery::Deliverer;
use crate::events::sinks::Sink;
use crate::http::{self, HttpState};
use crate::lock::InstanceLock;
use crate::metrics::Metrics;
use crate::poller::{Poller, PollerError, RunMode};
use crate::report::Reporter;
use crate::store::Store;
use crate::systemd;
use crate::time::ms;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

pub fn run(config: &Config, config_path: Option<PathBuf>, until_idle: bool) -> Result<(), Failure> {
    let creds = Credentials::load(&config.ligdicash, &process_env)?;
    let sinks = Sink::from_config(&config.events, &process_env)?;
    let sink_names: Vec<String> = sinks.iter().map(|s| s.name().to_owned()).collect();
    let http_addr = config.http.addr()?;
    let _lock = InstanceLock::acquire(&config.database.path)?;
    let (path, busy) = (&config.database.path, config.database.busy_timeout.0);
    let client = build_client(config, &creds)?;
    let route = client.route();
    let metrics = Arc::new(Metrics::default());
    let poller = Poller::new(
        &config.poll,
        path,
        busy,
        client.clone(),
        sink_names.clone(),
        metrics.clone(),
    )?;
    // The re-check's confirms share the poller's rate limit and pauses.
    let reporter = Reporter::new(
        &config.report,
        config.report_dir(),
        Store::open(path, busy)?,
        Some(client),
        poller.throttle(),
        sink_names.clone(),
    )?;
    let deliverer = Deliverer::new(
        Store::open(path, busy)?,
        sinks,
        config.events.retry_schedule.iter().map(|d| d.0).collect(),
        config.events.concurrency,
    );
    let observer = Arc::new(Mutex::new(Store::open(path, busy)?));
    let mode = if until_idle {
        RunMode::UntilIdle
    } else {
        RunMode::Forever
    };
    runtime()?.block_on(async {
        let shutdown = CancellationToken::new();
        let (reloader, running) = (poller.reloader(), Mutex::new(config.clone()));
        tokio::spawn(stop_on_signal_or_reload(shutdown.clone(), move || {
            reload(config_path.as_deref(), &running, &reloader)
        }));
        let listener = match http_addr {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                Failure::new(3, format!("http.listen: cannot listen on {addr}: {e}"))
            })?),
            None => None,
        };
        if let Some(listener) = listener {
            let local = listener.local_addr().ok();
            let state = HttpState {
                metrics: metrics.clone(),
                store: observer.clone(),
                stale_after_ms: (ms(config.poll.scan_interval.0) * 10).max(30_000),
            };
            tracing::info!(addr = ?local, "health and metrics listener started");
            tokio::spawn(http::serve(listener, state, shutdown.clone()));
        }
        tracing::info!(
            database = %config.database.path.display(),
            base_url = %config.ligdicash.base_url,
            route,
            sinks = ?sink_names,
            "reconciler started"
        );
        systemd::notify("READY=1");
        tokio::spawn(systemd::supervise(
            metrics.clone(),
            observer.clone(),
            shutdown.clone(),
        ));
        let stop_delivery = CancellationToken::new();
        let grace = config.poll.shutdown_grace.0;
        let delivery = tokio::spawn(deliverer.run(stop_delivery.clone(), grace));
        // The daemon reports on schedule; `--until-idle` catches up once, after the drain.
        let (nightly, once) = match (config.report.enabled, until_idle) {
            (true, false) => (Some(tokio::spawn(reporter.run(shutdown.clone()))), None),
            (true, true) => (None, Some(reporter)),
            (false, _) => (None, None),
        };
        let mut result = poller.run(mode, shutdown.clone()).await;
        systemd::notify("STOPPING=1");
        if result.is_ok() && until_idle {
            if let Some(reporter) = once
                && let Err(e) = reporter.catch_up().await
            {
                tracing::error!(error = %e, "nightly report failed");
            }
            result = first_attempts_made(config, &sink_names, &shutdown).await;
        }
        if let Some(task) = nightly {
            // The poller has stopped, on a signal or on an error: the report loop stops too
            // (waiting for it without cancelling would hang for ever after an error).
            shutdown.cancel();
            let _ = task.await;
        }
        stop_delivery.cancel();
        shutdown.cancel();
        let delivered = delivery
            .await
            .map_err(|e| Failure::new(1, format!("delivery task failed: {e}")))?;
        tracing::info!("reconciler stopped");
        result.map_err(|e| Failure::new(4, e.to_string()))?;
        delivered.map_err(|e| Failure::new(4, e.to_string()))
    })
}

/// SIGHUP: re-reads the configuration file; applies the `[poll]` settings that are safe to
/// change while running (schedule, rate, timeouts of the rule) and names the changed keys
/// that need a restart. An invalid file changes nothing.
fn reload(path: Option<&Path>, running: &Mutex<Config>, reloader: &crate::poller::Reloader) {
    let mut running = running.lock().unwrap_or_else(|p| p.into_inner());
    let new = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: configuration is invalid; keeping the running one");
            return;
        }
    };
    let changed = changed_keys(&running, &new);
    let (live, restart): (Vec<&String>, Vec<&String>) = changed.iter().partition(|k| {
        k.strip_prefix("poll.")
            .is_some_and(|key| crate::poller::RELOADABLE.contains(&key))
    });
    reloader.apply(&new.poll);
    running.poll = new.poll;
    tracing::info!(
        applied = ?live,
        needs_restart = ?restart,
        "SIGHUP: configuration is valid; reloadable settings applied"
    );
}

/// `section.key` names whose values differ (secrets are not part of the rendering).
fn changed_keys(a: &Config, b: &Config) -> Vec<String> {
    let table = |c: &Config| {
        toml::Value::try_from(c)
            .ok()
            .and_then(|v| v.as_table().cloned())
    };
    let (Some(a), Some(b)) = (table(a), table(b)) else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    for (section, value) in &b {
        match (a.get(section).and_then(|v| v.as_table()), value.as_table()) {
            (Some(old), Some(new)) => {
                for (key, v) in new {
                    if old.get(key) != Some(v) {
                        changed.push(format!("{section}.{key}"));
                    }
                }
            }
            _ if a.get(section) != Some(value) => changed.push(section.clone()),
            _ => {}
        }
    }
    changed
}

/// `--until-idle` also waits until every event has had its first delivery attempt.
async fn first_attempts_made(
    config: &Config,
    sinks: &[String],
    shutdown: &CancellationToken,
) -> Result<(), PollerError> {
    let store = Store::open(&config.database.path, config.database.busy_timeout.0)?;
    while !shutdown.is_cancelled() && store.unattempted_deliveries(sinks)? > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}
