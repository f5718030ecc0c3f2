//! What `App::build` does once per start besides building components.

use crate::config::Config;
use crate::failure::{Exit, Failure};
use crate::store::Db;
use std::net::SocketAddr;
use tokio::net::TcpListener;

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
