//! The one place that assembles the daemon from its [`Config`] and runs it under one
//! shutdown token: `run` and `demo` are thin callers, and tests can start it in-process.
//!
//! [`App::build`] does everything that can fail at start, in the order systemd needs it:
//! credentials, sinks, the instance lock, the database (opened, migrated, writable), the
//! client, the listener bound. Only then does [`App::run`] send `READY=1` and start the
//! poller, with the watched tasks beside it ([`crate::tasks`]): the HTTP listener, the
//! systemd supervision, event delivery, the case sweep and the nightly reports. The first to fail stops
//! everything, and the daemon exits non-zero.

mod ending;
mod serving;
mod startup;

use crate::api::ApiState;
use crate::cases::sweep::CaseSweep;
use crate::config::{Config, Credentials};
use crate::confirm::Confirmer;
use crate::confirm::cluster::ClusterRate;
use crate::events::delivery::Deliverer;
use crate::failure::{Exit, Failure};
use crate::http::HttpState;
use crate::ligdicash::{ClientSettings, LigdicashClient};
use crate::lock::InstanceLock;
use crate::metrics::Metrics;
use crate::poller::{Poller, RunMode};
use crate::report::Reporter;
use crate::store::{Db, Target};
use crate::systemd;
use crate::tasks::Tasks;
use crate::time::ms;
use ending::{finish_pass, pass_got_through, poll_watched, task_failure};
use serving::{schedule_reports, schedule_sweep, spawn_serving};
use startup::{bind, join_cluster, open_database, shop_api};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Reads an environment variable (the process's, or a fixed set in tests and the demo).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The daemon, built and not yet running.
pub struct App {
    config: Config,
    /// SQLite only (one daemon per file); on PostgreSQL several share the database.
    _lock: Option<InstanceLock>,
    metrics: Arc<Metrics>,
    /// The process's one handle on the database (every part holds a clone): here for
    /// `/metrics`, `/readyz`, systemd's STATUS and the finite runs' last waits.
    observer: Db,
    confirmer: Arc<Confirmer>,
    /// This node's heartbeat and share of the rate, on PostgreSQL.
    cluster: Option<ClusterRate>,
    poller: Poller,
    reporter: Reporter,
    /// Opens and closes cases: what needs a person.
    sweep: CaseSweep,
    deliverer: Deliverer,
    listener: Option<(TcpListener, HttpState)>,
    api: Option<(TcpListener, ApiState)>,
    sink_names: Vec<String>,
    route: &'static str,
    /// The database as it may be shown (a PostgreSQL URL without its password).
    database: String,
    tasks: Tasks<Failure>,
}

/// Builds the one LigdiCash client of the process from the configuration.
pub fn build_client(config: &Config, creds: &Credentials) -> Result<LigdicashClient, Failure> {
    let settings = ClientSettings::from_config(config)?;
    LigdicashClient::new(&settings, creds).map_err(|e| Failure::new(Exit::Config, e.to_string()))
}

impl App {
    /// Builds every component; nothing runs yet.
    pub async fn build(config: Config, env: Env<'_>) -> Result<Self, Failure> {
        let creds = Credentials::load(&config.ligdicash, env)?;
        let metrics = Arc::new(Metrics::default());
        let sinks = startup::sinks(&config, env, &metrics)?;
        let (payment_sinks, sink_names) = (sinks.payment.clone(), sinks.names.clone());
        let http_addr = config.http.addr()?;
        let target = Target::from_config(&config, env)?;
        let (db, lock) = open_database(&config, &target).await?;
        let client = build_client(&config, &creds)?;
        let route = client.route();
        let observer = db.clone();
        // Every confirm of the process, the poller's and the re-check's, goes through it.
        let confirmer = Arc::new(Confirmer::new(
            &config.poll,
            &config.payouts,
            client,
            metrics.clone(),
            observer.clone(),
            payment_sinks.clone(),
        ));
        let cluster = join_cluster(&db, &confirmer, &metrics).await?;
        let poller_dbs = (db.clone(), db.clone());
        let poller = Poller::new(
            &config.poll,
            poller_dbs,
            confirmer.clone(),
            payment_sinks.clone(),
            metrics.clone(),
        );
        let reporter = Reporter::new(
            &config.report,
            config.report_dir(),
            db.clone(),
            Some(confirmer.clone()),
            Arc::new(sink_names.clone()),
        )?;
        let sweep = CaseSweep::new(&config.cases, db.clone(), payment_sinks.clone());
        let deliverer = Deliverer::new(
            db.clone(),
            sinks.all,
            config.events.retry_schedule.iter().map(|d| d.0).collect(),
            config.events.concurrency,
        )
        .with_write_health(metrics.writes.clone());
        let listener = match http_addr {
            Some(addr) => {
                let state = HttpState {
                    metrics: metrics.clone(),
                    db: observer.clone(),
                    stale_after_ms: ms(config.poll.scan_interval.0)
                        .saturating_mul(10)
                        .max(30_000),
                };
                Some((bind(addr, "http.listen").await?, state))
            }
            None => None,
        };
        let api = shop_api(&config, env, &db, &confirmer, &metrics, &payment_sinks).await?;
        Ok(Self {
            config,
            _lock: lock,
            metrics,
            observer,
            confirmer,
            cluster,
            poller,
            reporter,
            sweep,
            deliverer,
            listener,
            api,
            sink_names,
            route,
            database: target.shown(),
            tasks: Tasks::default(),
        })
    }

    /// Counters and health, shared with whoever watches the daemon (the demo's progress).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Where the shop API answers, if enabled.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Where `/healthz`, `/readyz` and `/metrics` answer, if enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.listener
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
    }

    /// The one confirm path, which also applies new poll settings while running (SIGHUP).
    pub fn confirmer(&self) -> Arc<Confirmer> {
        self.confirmer.clone()
    }

    /// Runs `task` beside the daemon, watched like its own tasks (the signal handler).
    pub fn watch(
        &mut self,
        name: &'static str,
        task: impl Future<Output = Result<(), Failure>> + Send + 'static,
    ) {
        self.tasks.spawn(name, task);
    }

    /// Runs until `shutdown` is cancelled, or until a task fails. In [`RunMode::UntilIdle`]
    /// it returns once nothing is pending, the reports are caught up and every event has
    /// had its first delivery attempt; in [`RunMode::Once`], once the payments due at the
    /// start have been confirmed, the reports caught up, and every delivery then due
    /// attempted; such a pass fails with [`Exit::Ligdicash`] when it sent confirms and
    /// none got through (see `ending::pass_got_through`).
    pub async fn run(self, mode: RunMode, shutdown: CancellationToken) -> Result<(), Failure> {
        let Self {
            config,
            metrics,
            observer,
            poller,
            reporter,
            sweep,
            deliverer,
            listener,
            api,
            sink_names,
            route,
            database,
            mut tasks,
            _lock,
            confirmer: _,
            cluster,
        } = self;
        spawn_serving(&mut tasks, cluster, listener, api, &shutdown);
        tracing::info!(
            database,
            base_url = %config.shown_base_url(),
            route,
            sinks = ?sink_names,
            "reconciler started"
        );
        systemd::notify("READY=1");
        let writes = metrics.writes.clone();
        let heard = metrics.clone();
        let supervise = systemd::supervise(metrics, observer.clone(), shutdown.clone());
        tasks.spawn("systemd supervision", async move {
            supervise.await;
            Ok(())
        });
        let stop_delivery = CancellationToken::new();
        let grace = config.poll.shutdown_grace.0;
        let delivery = deliverer.run(stop_delivery.clone(), grace);
        tasks.spawn("event delivery", async move {
            delivery
                .await
                .map_err(|e| Failure::new(Exit::Database, e.to_string()))
        });
        let finite = mode != RunMode::Forever;
        let once = schedule_reports(
            &mut tasks,
            reporter,
            config.report.enabled,
            finite,
            &shutdown,
        );
        let sweep_at_end = schedule_sweep(&mut tasks, sweep, finite, &shutdown);
        let mut failures = Vec::new();
        let polling = poller.run(mode, shutdown.clone());
        let mut result = poll_watched(polling, &mut tasks, &shutdown, &mut failures).await;
        systemd::notify("STOPPING=1");
        if result.is_ok() && finite && failures.is_empty() {
            result = finish_pass(
                once,
                sweep_at_end,
                mode,
                &observer,
                &sink_names,
                &writes,
                &shutdown,
            )
            .await;
        }
        // The poller has stopped, on a signal or on an error: everything else stops too.
        shutdown.cancel();
        stop_delivery.cancel();
        for (name, ended) in tasks.join_all(grace).await {
            failures.extend(task_failure(name, ended, true));
        }
        tracing::info!("reconciler stopped");
        result.map_err(|e| Failure::new(Exit::Database, e.to_string()))?;
        failures.into_iter().next().map_or(Ok(()), Err)?;
        if mode == RunMode::Once {
            // Last: a failure of the daemon itself says more than what LigdiCash answered.
            pass_got_through(&heard.confirm_outcomes())?;
        }
        Ok(())
    }
}
