//! `run`: the daemon ([`crate::app::App`]) under the process's signals: SIGTERM and SIGINT
//! stop it, SIGHUP reloads the reloadable settings. `run --once` is the same daemon for one
//! pass (from cron), without its HTTP listeners.

use super::signals::stop_on_signal_or_reload;
use super::{Exit, Failure, process_env, runtime};
use crate::app::App;
use crate::config::Config;
use crate::poller::RunMode;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// `database_override` is `--database`, which a SIGHUP re-read of the file must keep.
pub fn run(
    config: &Config,
    config_path: Option<PathBuf>,
    database_override: Option<PathBuf>,
    mode: RunMode,
) -> Result<(), Failure> {
    let mut config = config.clone();
    if mode == RunMode::Once {
        // A pass lives seconds: nothing to scrape, and callbacks need a listener that stays.
        config.http.listen = "off".into();
        config.api.listen = "off".into();
    }
    let config = &config;
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let mut app = App::build(config.clone(), &process_env).await?;
        let shutdown = CancellationToken::new();
        let (reloader, running) = (app.confirmer(), Mutex::new(config.clone()));
        let on_signal = stop_on_signal_or_reload(shutdown.clone(), move || {
            reload(
                config_path.as_deref(),
                database_override.as_deref(),
                &running,
                &reloader,
            )
        });
        app.watch("signal handler", async move {
            on_signal.await.map_err(|e| {
                Failure::new(
                    Exit::Failure,
                    format!("cannot install signal handlers: {e}"),
                )
            })
        });
        app.run(mode, shutdown).await
    });
    // A database call stuck past the grace (a lock held by the shop) must not hold up exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

/// SIGHUP: re-reads the configuration file; applies the `[poll]` settings that are safe to
/// change while running (schedule, rate, timeouts of the rule) and the whole `[payouts]`
/// section, and names the changed keys that need a restart. An invalid file changes nothing.
fn reload(
    path: Option<&Path>,
    database_override: Option<&Path>,
    running: &Mutex<Config>,
    reloader: &crate::confirm::Confirmer,
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
    reloader.reload(&plan.poll, &plan.payouts);
    // Only what went live: a key needing a restart is listed again at the next reload.
    running.poll = plan.poll;
    running.payouts = plan.payouts;
    let (live, restart) = (plan.live, plan.restart);
    tracing::info!(
        applied = ?live,
        needs_restart = ?restart,
        "SIGHUP: configuration is valid; reloadable settings applied"
    );
}

/// What a reload does: the `[poll]` and `[payouts]` sections to run with, and the changed
/// keys that went live or need a restart.
#[derive(Debug)]
struct ReloadPlan {
    poll: crate::config::PollConfig,
    payouts: crate::config::PayoutsConfig,
    live: Vec<String>,
    restart: Vec<String>,
}

/// Plans a reload of `new` (already valid on its own) into `running`. The reloadable keys
/// go live alongside everything else as it runs, so they are validated with the running
/// `base_url`, not the file's: a new base_url waits for a restart.
fn plan_reload(running: &Config, new: &Config) -> Result<ReloadPlan, crate::config::ConfigError> {
    let mut applied = running.clone();
    applied.poll = reloadable_merged(&running.poll, &new.poll);
    applied.payouts = new.payouts.clone();
    applied.validate()?;
    let (live, restart) = changed_keys(running, new).into_iter().partition(|k| {
        k.starts_with("payouts.")
            || k.strip_prefix("poll.")
                .is_some_and(|key| crate::confirm::RELOADABLE.contains(&key))
    });
    Ok(ReloadPlan {
        poll: applied.poll,
        payouts: applied.payouts,
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
    for key in crate::confirm::RELOADABLE {
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
        new.payouts.overdue_after = HumanDuration::secs(3600);
        let plan = plan_reload(&running, &new).unwrap();
        assert_eq!(plan.poll.min_interval, HumanDuration::secs(5));
        assert_eq!(plan.payouts.overdue_after, HumanDuration::secs(3600));
        assert_eq!(
            plan.poll.concurrency, running.poll.concurrency,
            "needs a restart"
        );
        assert_eq!(plan.live, ["payouts.overdue_after", "poll.min_interval"]);
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
