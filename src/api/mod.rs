//! The shop's HTTP API (`[api] listen`): enqueue and look up payments, and a live
//! "confirm now" that a shop calls before it cancels an unpaid order.
//!
//! A listener of its own, served within the same limits as every listener of the process
//! ([`crate::listener`]). Every `/v1` request carries `Authorization: Bearer <token>`,
//! compared in constant time; the token is never logged. Errors are JSON
//! ([`error::ApiError`]). Confirm-now goes through the one confirm path
//! ([`crate::confirm::Confirmer`]) and the store's one writer, exactly as the poller's
//! confirms: the same rate limit, pauses, floor between confirms of a token, attempt log,
//! status and event.

mod callback_tally;
mod callbacks;
mod confirm_now;
pub mod error;
mod payments;

use crate::confirm::Confirmer;
use crate::listener::{self, Limits, Share};
use crate::metrics::Metrics;
use crate::store::Db;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use callback_tally::CallbackTally;
use error::ApiError;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Request bodies larger than this are refused (413): a payment is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub db: Db,
    pub confirmer: Arc<Confirmer>,
    pub token: Arc<SecretString>,
    pub metrics: Arc<Metrics>,
    /// How long a confirm-now may take in all: LigdiCash's request timeout.
    pub confirm_timeout: Duration,
    /// Outbox sinks every new event is addressed to.
    pub sinks: Arc<Vec<String>>,
    /// Cancelled at shutdown: requests then get 503.
    pub shutdown: CancellationToken,
    /// Callbacks counted but not kept raw, written every few seconds.
    pub callbacks: Arc<CallbackTally>,
}

/// The routes: the bearer check on every `/v1` path, then the body read whole (so a client
/// without the token is refused before it can hold its connection with a slow body); the
/// callback route within its `callbacks` share of the listener, then its body, capped lower.
pub fn router(state: ApiState, callbacks: Arc<Share>) -> Router {
    let gate = callbacks::Gate {
        share: callbacks,
        metrics: state.metrics.clone(),
    };
    Router::new()
        .route("/v1/payments", post(payments::create).get(payments::search))
        .route("/v1/payments/{token}", get(payments::show))
        .route("/v1/payments/{token}/confirm", post(confirm_now::confirm))
        // The last layer added runs first.
        .route_layer(middleware::from_fn_with_state(MAX_BODY, whole_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        // After the bearer layer: LigdiCash cannot send a token.
        .route(
            "/callbacks/ligdicash",
            post(callbacks::receive)
                .route_layer(middleware::from_fn_with_state(
                    callbacks::MAX_BODY,
                    whole_body,
                ))
                .route_layer(middleware::from_fn_with_state(gate, callbacks::admit)),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves the API until `shutdown`, within the listener limits every listener has; the
/// callback route gets a quarter of the connection slots (`callbacks::share_of`), the
/// listener's health goes to `/readyz` through the metrics, and the callbacks' tally is
/// written every few seconds meanwhile, and once more at the end.
pub async fn serve(listener: TcpListener, state: ApiState, shutdown: CancellationToken) {
    let limits = Limits::default();
    let health = state.metrics.api_listener.clone();
    let callbacks = callbacks::share_of(limits.max_connections);
    let (tally, db) = (state.callbacks.clone(), state.db.clone());
    let flushing = tally.run(db, shutdown.clone());
    let serving = listener::serve(listener, router(state, callbacks), limits, health, shutdown);
    tokio::join!(flushing, serving);
}

/// Checks the bearer token (401 otherwise) and refuses work while shutting down (503).
async fn authorize(State(s): State<ApiState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    if !same_secret(presented.as_bytes(), s.token.expose_secret().as_bytes()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>, the token of [api]",
        )
        .into_response();
    }
    if s.shutdown.is_cancelled() {
        return ApiError::unavailable("shutting_down", "the reconciler is stopping", 5)
            .into_response();
    }
    next.run(request).await
}

/// The token of an `Authorization` value in the bearer scheme. HTTP auth schemes are
/// case-insensitive (RFC 9110, section 11.1), and clients differ in spacing: `bearer`,
/// `BEARER`, several spaces or tabs after the scheme and spaces around are all accepted.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches([' ', '\t']))
}

/// Reads the body whole, at most `cap` bytes and within the listener's request deadline,
/// before the handler runs; a body too large, too slow or broken is refused (413, 408,
/// 400) and its connection closed.
async fn whole_body(State(cap): State<usize>, request: Request, next: Next) -> Response {
    match listener::read_body(request, cap).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => ApiError::from(refusal).into_response(),
    }
}

/// Counts every request by route (the pattern, never the token in the path) and status.
async fn count(State(s): State<ApiState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    s.metrics.api_request(&route, response.status().as_u16());
    response
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_route", "no such route")
}

/// Compares two secrets in time that depends only on their lengths, so a client cannot
/// learn a token byte by byte from response times.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = presented.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(0);
        diff |= usize::from(std::hint::black_box(p ^ e));
    }
    diff == 0 && !expected.is_empty()
}

#[cfg(test)]
mod tests;
