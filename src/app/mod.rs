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
mod startup;

use crate::api::{self, ApiState};
use crate::cases::sweep::CaseSweep;
use crate::config::{Config, Credentials};
use crate::confirm::Confirmer;
use crate::confirm::cluster::{ClusterRate, TIMING};
use crate::events::delivery::Deliverer;
use crate::events::email::EmailSink;
use crate::events::sinks::Sink;
use crate::failure::{Exit, Failure};
use crate::http::{self, HttpState};
use crate::ligdicash::{ClientSettings, LigdicashClient};
use crate::lock::InstanceLock;
use crate::metrics::Metrics;
use crate::poller::{Poller, RunMode};
use crate::report::Reporter;
use crate::report::email::Mailer;
use crate::store::{Db, Target};
use crate::systemd;
use crate::tasks::Tasks;
use crate::time::{ms, now_ms};
use ending::{due_deliveries_attempted, first_attempts_made, pass_got_through, task_failure};
use startup::{adopt_legacy_sink_names, api_state, bind};
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
    listener: Option<TcpListener>,
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
        let mut sinks = Sink::from_config(&config.events, env)?;
        // What payment events are addressed to: every sink but the e-mail one.
        let payment_sinks: Vec<String> = sinks.iter().map(|s| s.name().to_owned()).collect();
        let mailer = Mailer::from_config(&config.report, env)?;
        let http_addr = config.http.addr()?;
        let target = Target::from_config(&config, env)?;
        let database = &target;
        let mut lock = (!target.is_postgres())
            .then(|| InstanceLock::acquire(&config.database.path))
            .transpose()?;
        // One handle for the whole process: every part shares its connections (at most
        // `[database] max_connections`) and the gauges' cached counts.
        let db = Db::open(database).await?;
        if let Some(lock) = &mut lock {
            // A database created just now can be locked only now (see `lock`).
            lock.lock_database(&config.database.path)?;
        }
        db.ensure_writable().await?;
        adopt_legacy_sink_names(&config, &db).await?;
        let client = build_client(&config, &creds)?;
        let route = client.route();
        let metrics = Arc::new(Metrics::default());
        let observer = db.clone();
        if let Some(mailer) = mailer {
            tracing::info!(to = %mailer.shown(), "nightly reports will be e-mailed");
            let sink = EmailSink::new(mailer, metrics.report_emails.clone());
            sinks.push(Sink::Email(Box::new(sink)));
        }
        // The reporter's `report.generated` goes to every sink, the e-mail one included;
        // the finite runs wait on every sink's deliveries.
        let sink_names: Vec<String> = sinks.iter().map(|s| s.name().to_owned()).collect();
        let payment_sinks = Arc::new(payment_sinks);
        // Every confirm of the process, the poller's and the re-check's, goes through it.
        let confirmer = Arc::new(Confirmer::new(
            &config.poll,
            &config.payouts,
            client,
            metrics.clone(),
            observer.clone(),
            payment_sinks.clone(),
        ));
        // On PostgreSQL this node joins the cluster: it sends nothing until it has its
        // share of max_requests_per_second (the whole of it when alone).
        let cluster = match db.is_shared() {
            true => Some(
                ClusterRate::start(
                    db.clone(),
                    confirmer.shared_throttle(),
                    TIMING,
                    env!("CARGO_PKG_VERSION"),
                    now_ms(),
                )
                .await?
                .with_metrics(metrics.clone()),
            ),
            false => None,
        };
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
            sinks,
            config.events.retry_schedule.iter().map(|d| d.0).collect(),
            config.events.concurrency,
        )
        .with_write_health(metrics.writes.clone());
        let listener = match http_addr {
            Some(addr) => Some(bind(addr, "http.listen").await?),
            None => None,
        };
        let api_sinks = payment_sinks.clone();
        let api = api_state(&config, env, &db, &confirmer, &metrics, api_sinks).await?;
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
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
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
        if let Some(cluster) = cluster {
            let beats = cluster.run(shutdown.clone());
            tasks.spawn("cluster heartbeat", async move {
                beats
                    .await
                    .map_err(|e| Failure::new(Exit::Database, e.to_string()))
            });
        }
        if let Some(listener) = listener {
            let state = HttpState {
                metrics: metrics.clone(),
                db: observer.clone(),
                stale_after_ms: ms(config.poll.scan_interval.0)
                    .saturating_mul(10)
                    .max(30_000),
            };
            tracing::info!(addr = ?listener.local_addr().ok(), "health and metrics listener started");
            let serve = http::serve(listener, state, shutdown.clone());
            tasks.spawn("http listener", async move {
                serve.await;
                Ok(())
            });
        }
        if let Some((listener, mut state)) = api {
            state.shutdown = shutdown.clone();
            tracing::info!(addr = ?listener.local_addr().ok(), "shop API listener started");
            let serve = api::serve(listener, state, shutdown.clone());
            tasks.spawn("shop API", async move {
                serve.await;
                Ok(())
            });
        }
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
        // The daemon reports on schedule; a finite run catches up once, after the polling.
        let once = match (config.report.enabled, finite) {
            (true, false) => {
                let nightly = reporter.run(shutdown.clone());
                tasks.spawn("nightly report", async move {
                    nightly.await;
                    Ok(())
                });
                None
            }
            (true, true) => Some(reporter.stop_when_held()),
            (false, _) => None,
        };
        // A finite run sweeps once, at the end, so that its cases are opened and announced.
        let mut sweep_at_end = None;
        match finite {
            true => sweep_at_end = Some(sweep),
            false => {
                let sweeping = sweep.run(shutdown.clone());
                tasks.spawn("case sweep", async move {
                    sweeping.await;
                    Ok(())
                });
            }
        }
        let mut failures = Vec::new();
        let polling = poller.run(mode, shutdown.clone());
        tokio::pin!(polling);
        let mut result = loop {
            tokio::select! {
                result = &mut polling => break result,
                Some((name, ended)) = tasks.next() => {
                    if let Some(failure) = task_failure(name, ended, shutdown.is_cancelled()) {
                        // Stop everything: systemd restarts a daemon that exits non-zero.
                        shutdown.cancel();
                        failures.push(failure);
                    }
                }
            }
        };
        systemd::notify("STOPPING=1");
        if result.is_ok() && finite && failures.is_empty() {
            // A pass that ended on a database refusing writes leaves the reports for the
            // next pass; a signal ends the catch-up too (a cron pass must never hang while
            // holding the lock).
            if let Some(reporter) = once.filter(|_| !writes.failing()) {
                tokio::select! {
                    caught_up = reporter.catch_up() => if let Err(e) = caught_up {
                        tracing::error!(error = %e, "nightly report failed");
                    },
                    () = shutdown.cancelled() => {}
                }
            }
            if let Some(sweep) = &mut sweep_at_end
                && let Err(e) = sweep.sweep_all(now_ms()).await
            {
                tracing::error!(error = %e, "case sweep failed");
            }
            result = match mode {
                RunMode::Once => {
                    due_deliveries_attempted(&observer, &sink_names, &writes, &shutdown).await
                }
                _ => first_attempts_made(&observer, &sink_names, &writes, &shutdown).await,
            };
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
