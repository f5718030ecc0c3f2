//! What `App::build` does once per start besides building components, and the parts it
//! builds only when configured (the cluster membership, the shop API).

use super::Env;
use crate::api::ApiState;
use crate::cases::evidence;
use crate::config::Config;
use crate::confirm::Confirmer;
use crate::confirm::cluster::{ClusterRate, TIMING};
use crate::events::email::EmailSink;
use crate::events::sinks::Sink;
use crate::failure::{Exit, Failure};
use crate::lock::InstanceLock;
use crate::metrics::Metrics;
use crate::report::email::Mailer;
use crate::store::{Db, Target};
use crate::time::now_ms;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Webhooks were named by their whole URL (an access key included) before they were named
/// by [`crate::config::WebhookConfig::sink_name`]: their deliveries follow the new name,
/// so none is stranded and the key leaves the database.
async fn adopt_legacy_sink_names(config: &Config, db: &Db) -> Result<(), Failure> {
    for hook in &config.events.webhooks {
        let (legacy, name) = (
            crate::config::events::sink_name::webhook(&hook.url),
            hook.sink_name(),
        );
        if legacy != name {
            let moved = db.rename_sink(legacy, name.clone()).await?;
            if moved > 0 {
                tracing::info!(moved, sink = %name, "deliveries moved to the webhook's sink name");
            }
        }
    }
    Ok(())
}

/// Binds a listener. Exit 1, not 3, on failure: a port still held by a stopping process
/// heals on restart.
pub(super) async fn bind(addr: SocketAddr, key: &str) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr).await.map_err(|e| {
        Failure::new(
            Exit::Failure,
            format!("{key}: cannot listen on {addr}: {e}"),
        )
    })
}

/// On PostgreSQL this node joins the cluster: it sends nothing until it has its share of
/// `max_requests_per_second` (the whole of it when alone).
pub(super) async fn join_cluster(
    db: &Db,
    confirmer: &Confirmer,
    metrics: &Arc<Metrics>,
) -> Result<Option<ClusterRate>, Failure> {
    if !db.is_shared() {
        return Ok(None);
    }
    let rate = ClusterRate::start(
        db.clone(),
        confirmer.shared_throttle(),
        TIMING,
        env!("CARGO_PKG_VERSION"),
        now_ms(),
    )
    .await?;
    Ok(Some(rate.with_metrics(metrics.clone())))
}

/// The shop API's listener, bound, and its handlers' state, when `[api] listen` is set:
/// its tokens loaded (their names and scopes logged, never their secrets).
pub(super) async fn shop_api(
    config: &Config,
    env: Env<'_>,
    db: &Db,
    confirmer: &Arc<Confirmer>,
    metrics: &Arc<Metrics>,
    sinks: &Arc<Vec<String>>,
) -> Result<Option<(TcpListener, ApiState)>, Failure> {
    let Some(addr) = config.api.addr()? else {
        return Ok(None);
    };
    let tokens = config.api.load_tokens(env)?;
    let listener = bind(addr, "api.listen").await?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the shop API listens beyond this machine: put it behind TLS and a firewall");
    }
    for t in &tokens {
        let scopes: Vec<_> = t.scopes.iter().map(|s| s.as_str()).collect();
        tracing::info!(token = %t.name, ?scopes, from = %t.source, "shop API token loaded");
    }
    let state = ApiState {
        db: db.clone(),
        confirmer: confirmer.clone(),
        tokens: Arc::new(tokens),
        metrics: metrics.clone(),
        confirm_timeout: config.ligdicash.request_timeout.0,
        sinks: sinks.clone(),
        shutdown: CancellationToken::new(),
        callbacks: Arc::default(),
        evidence: evidence::Settings::from_config(config)?,
    };
    Ok(Some((listener, state)))
}

/// The sinks of the process and the names events are addressed to.
pub(super) struct Sinks {
    pub all: Vec<Sink>,
    /// Payment events go to every sink but the e-mail one.
    pub payment: Arc<Vec<String>>,
    /// The reporter's `report.generated` goes to every sink, the e-mail one included; the
    /// finite runs wait on every sink's deliveries.
    pub names: Vec<String>,
}

/// Builds the sinks (refusing a bad one before anything is opened), the e-mail one last.
pub(super) fn sinks(config: &Config, env: Env<'_>, metrics: &Metrics) -> Result<Sinks, Failure> {
    let mut all = Sink::from_config(&config.events, env)?;
    let payment = Arc::new(all.iter().map(|s| s.name().to_owned()).collect());
    if let Some(mailer) = Mailer::from_config(&config.report, env)? {
        tracing::info!(to = %mailer.shown(), "nightly reports will be e-mailed");
        let sink = EmailSink::new(mailer, metrics.report_emails.clone());
        all.push(Sink::Email(Box::new(sink)));
    }
    let names = all.iter().map(|s| s.name().to_owned()).collect();
    Ok(Sinks {
        all,
        payment,
        names,
    })
}

/// Opens the process's one handle on the database (every part shares its connections, at
/// most `[database] max_connections`, and the gauges' cached counts), with the instance
/// lock on SQLite, and checks that it takes writes.
pub(super) async fn open_database(
    config: &Config,
    target: &Target,
) -> Result<(Db, Option<InstanceLock>), Failure> {
    let mut lock = (!target.is_postgres())
        .then(|| InstanceLock::acquire(&config.database.path))
        .transpose()?;
    let db = Db::open(target).await?;
    if let Some(lock) = &mut lock {
        // A database created just now can be locked only now (see `lock`).
        lock.lock_database(&config.database.path)?;
    }
    db.ensure_writable().await?;
    adopt_legacy_sink_names(config, &db).await?;
    Ok((db, lock))
}
