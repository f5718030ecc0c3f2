//! The small local HTTP side: `/healthz` (alive), `/readyz` (database reachable and taking
//! writes, scheduler alive, credentials accepted, the shop API able to accept a connection)
//! and `/metrics` (Prometheus). Loopback by default; it exposes no payment data, only counts.

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
    // Its own health goes unread: a listener that is full cannot answer about itself.
    let health = Arc::default();
    listener::serve(listener, app, Limits::default(), health, shutdown).await;
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
    if let Some(api) = s.metrics.api_listener.problem("api") {
        problems.push(api);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use std::time::Duration;

    async fn answer(state: &HttpState) -> (StatusCode, String) {
        let response = readyz(State(state.clone())).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// The shop API's listener, full for over a second, fails `/readyz` with a line saying
    /// so; ready again once it has a free slot.
    #[tokio::test(start_paused = true)]
    async fn readyz_fails_while_every_slot_of_the_api_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
        let state = HttpState {
            metrics: Arc::new(Metrics::default()),
            db: Db::from(store),
            stale_after_ms: i64::MAX,
        };
        let api = &state.metrics.api_listener;
        api.serving(64);
        assert_eq!(answer(&state).await, (StatusCode::OK, "ready\n".to_owned()));
        api.full();
        tokio::time::advance(Duration::from_millis(3_200)).await;
        let (status, text) = answer(&state).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            text.lines()
                .any(|l| l == "api: all 64 connection slots busy for 3 s"),
            "{text}"
        );
        api.slot_taken();
        assert_eq!(answer(&state).await.0, StatusCode::OK);
    }
}
