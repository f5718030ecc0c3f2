//! What `App::build` does once per start besides building components.

use super::Env;
use crate::api::ApiState;
use crate::cases::evidence;
use crate::config::Config;
use crate::confirm::Confirmer;
use crate::failure::{Exit, Failure};
use crate::metrics::Metrics;
use crate::store::Db;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Webhooks were named by their whole URL (an access key included) before they were named
/// by [`crate::config::WebhookConfig::sink_name`]: their deliveries follow the new name,
/// so none is stranded and the key leaves the database.
pub(super) async fn adopt_legacy_sink_names(config: &Config, db: &Db) -> Result<(), Failure> {
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

/// The shop API's listener, bound, and its handlers' state, when `[api] listen` is set:
/// its tokens loaded (their names and scopes logged, never their secrets).
pub(super) async fn api_state(
    config: &Config,
    env: Env<'_>,
    db: &Db,
    confirmer: &Arc<Confirmer>,
    metrics: &Arc<Metrics>,
    sinks: Arc<Vec<String>>,
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
        sinks,
        shutdown: CancellationToken::new(),
        callbacks: Arc::default(),
        evidence: evidence::Settings::from_config(config)?,
    };
    Ok(Some((listener, state)))
}
