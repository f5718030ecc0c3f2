//! The small local HTTP side: `/healthz` (alive), `/readyz` (database reachable and taking
//! writes, scheduler alive, credentials accepted) and `/metrics` (Prometheus). Loopback by default; it exposes
//! no payment data, only counts.

use crate::listener::{self, Limits};
use crate::metrics::Metrics;
use crate::store::Db;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub db: Db,
    /// A heartbeat older than this means the scheduler is stuck.
    pub stale_after_ms: i64,
}

/// Serves until `shutdown`, within the default [`Limits`]: a Prometheus scraper needs one
/// or two connections, and no client may hold the descriptors the confirms need. Accept
/// errors are logged and retried, never returned.
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    listener::serve(listener, app, Limits::default(), shutdown).await;
}

async fn readyz(State(s): State<HttpState>) -> Response {
    let mut problems = Vec::new();
    if let Err(e) = s.db.gauges().await {
        problems.push(format!("database: {e}"));
    }
    if s.metrics.since_heartbeat() > s.stale_after_ms {
        problems.push("scheduler: no heartbeat".to_owned());
    }
    if let Some(writes) = s.metrics.writes.problem() {
        problems.push(writes);
    }
    if s.metrics.auth_failing() {
        problems.push("ligdicash: credentials refused (Code00, Code01 or HTTP 401/403)".to_owned());
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", problems.join("\n")),
        )
            .into_response()
    }
}

async fn metrics(State(s): State<HttpState>) -> Response {
    match s.db.gauges().await {
        Ok(db) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            s.metrics.render(&db),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}
