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

/// `database_override` is `--database`, which a SIGHUP re-read of the file must keep.
pub fn run(
    config: &Config,
    config_path: Option<PathBuf>,
    database_override: Option<PathBuf>,
    until_idle: bool,
) -> Result<(), Failure> {
    let creds = Credentials::load(&config.ligdicash, &process_env)?;
    let sinks = Sink::from_config(&config.events, &process_env)?;
    let sink_names: Vec<String> = sinks.iter().map(|s| s.name().to_owned()).collect();
    let http_addr = config.http.addr()?;
    let mut lock = InstanceLock::acquire(&config.database.path)?;
    let (path, busy) = (&config.database.path, config.database.busy_timeout.0);
    let mut report_store = Store::open(path, busy)?;
    // A database created just now can be locked only now (see `lock`).
    lock.lock_database(path)?;
    adopt_legacy_sink_names(config, &mut report_store)?;
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
        report_store,
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
            reload(
                config_path.as_deref(),
                database_override.as_deref(),
                &running,
                &reloader,
            )
        }));
        let listener = match http_addr {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                // Exit 1, not 3: a port still held by a stopping process heals on restart.
                Failure::new(1, format!("http.listen: cannot listen on {addr}: {e}"))
            })?),
            None => None,
        };
        if let Some(listener) = listener {
            let local = listener.local_addr().ok();
            let state = HttpState {
                metrics: metrics.clone(),
                store: observer.clone(),
                stale_after_ms: ms(config.poll.scan_interval.0)
                    .saturating_mul(10)
                    .max(30_000),
            };
            tracing::info!(addr = ?local, "health and metrics listener started");
            tokio::spawn(http::serve(listener, state, shutdown.clone()));
        }
        tracing::info!(
            database = %config.database.path.display(),
            base_url = %config.shown_base_url(),
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

/// Webhooks were named by their whole URL (an access key included) before they were named
/// by [`crate::config::WebhookConfig::sink_name`]: their deliveries follow the new name,
/// so none is stranded and the key leaves the database.
fn adopt_legacy_sink_names(config: &Config, store: &mut Store) -> Result<(), Failure> {
    for hook in &config.events.webhooks {
        let (legacy, name) = (format!("webhook:{}", hook.url), hook.sink_name());
        if legacy != name {
            let moved = store.rename_sink(&legacy, &name)?;
            if moved > 0 {
                tracing::info!(moved, sink = %name, "deliveries moved to the webhook's sink name");
            }
        }
    }
    Ok(())
}

/// SIGHUP: re-reads the configuration file; applies the `[poll]` settings that are safe to
/// change while running (schedule, rate, timeouts of the rule) and names the changed keys
/// that need a restart. An invalid file changes nothing.
fn reload(
    path: Option<&Path>,
    database_override: Option<&Path>,
    running: &Mutex<Config>,
    reloader: &crate::poller::Reloader,
) {
    let mut running = running.lock().unwrap_or_else(|p| p.into_inner());
    let mut new = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: configuration is invalid; keeping the running one");
            return;
        }
    };
    if let Some(db) = database_override {
        new.database.path = db.to_owned();
    }
    let plan = match plan_reload(&running, &new) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: the new [poll] settings are invalid with the running configuration (base_url changes need a restart); keeping the running ones");
            return;
        }
    };
    reloader.apply(&plan.poll);
    // Only what went live: a key needing a restart is listed again at the next reload.
    running.poll = plan.poll;
    let (live, restart) = (plan.live, plan.restart);
    tracing::info!(
        applied = ?live,
        needs_restart = ?restart,
        "SIGHUP: configuration is valid; reloadable settings applied"
    );
}

/// What a reload does: the `[poll]` section to run with, and the changed keys that went
/// live or need a restart.
#[derive(Debug)]
struct ReloadPlan {
    poll: crate::config::PollConfig,
    live: Vec<String>,
    restart: Vec<String>,
}

/// Plans a reload of `new` (already valid on its own) into `running`. The reloadable keys
/// go live alongside everything else as it runs, so they are validated with the running
/// `base_url`, not the file's: a new base_url waits for a restart.
fn plan_reload(running: &Config, new: &Config) -> Result<ReloadPlan, crate::config::ConfigError> {
    let mut applied = running.clone();
    applied.poll = reloadable_merged(&running.poll, &new.poll);
    applied.validate()?;
    let (live, restart) = changed_keys(running, new).into_iter().partition(|k| {
        k.strip_prefix("poll.")
            .is_some_and(|key| crate::poller::RELOADABLE.contains(&key))
    });
    Ok(ReloadPlan {
        poll: applied.poll,
        live,
        restart,
    })
}

/// `running` with the reloadable keys of `new`; the others stay as the process started.
fn reloadable_merged(
    running: &crate::config::PollConfig,
    new: &crate::config::PollConfig,
) -> crate::config::PollConfig {
    let (Ok(toml::Value::Table(mut merged)), Ok(toml::Value::Table(fresh))) =
        (toml::Value::try_from(running), toml::Value::try_from(new))
    else {
        return running.clone();
    };
    for key in crate::poller::RELOADABLE {
        if let Some(value) = fresh.get(key) {
            merged.insert(key.to_owned(), value.clone());
        }
    }
    toml::Value::Table(merged)
        .try_into()
        .unwrap_or_else(|_| running.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    fn production() -> Config {
        Config::default()
    }

    #[test]
    fn a_reload_applies_reloadable_keys_and_keeps_the_others_listed() {
        let running = production();
        let mut new = running.clone();
        new.poll.min_interval = HumanDuration::secs(5);
        new.poll.concurrency = 32;
        let plan = plan_reload(&running, &new).unwrap();
        assert_eq!(plan.poll.min_interval, HumanDuration::secs(5));
        assert_eq!(
            plan.poll.concurrency, running.poll.concurrency,
            "needs a restart"
        );
        assert_eq!(plan.live, ["poll.min_interval"]);
        assert_eq!(plan.restart, ["poll.concurrency"]);
        // Once applied, the pending restart is still named at the next reload.
        let mut after = running.clone();
        after.poll = plan.poll;
        let again = plan_reload(&after, &new).unwrap();
        assert_eq!(again.restart, ["poll.concurrency"]);
    }

    /// A file pointing at loopback may poll fast; the running production client may not.
    #[test]
    fn fast_polling_is_refused_while_the_running_base_url_is_not_loopback() {
        let running = production();
        let mut new = running.clone();
        new.ligdicash.base_url = "http://127.0.0.1:9".into();
        new.poll.min_interval = HumanDuration::millis(100);
        new.validate().unwrap();
        let err = plan_reload(&running, &new).unwrap_err().to_string();
        assert!(err.contains("min_interval"), "{err}");
    }
}
