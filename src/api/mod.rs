//! The shop's HTTP API (`[api] listen`): enqueue and look up payments, a live "confirm
//! now" that a shop calls before it cancels an unpaid order, the cases that need a person
//! with their resolution, and a payment's evidence file.
//!
//! A listener of its own, served within the same limits as every listener of the process
//! ([`crate::listener`]). Every `/v1` request carries `Authorization: Bearer <token>`,
//! compared in constant time; the token is never logged. Errors are JSON
//! ([`error::ApiError`]). Confirm-now goes through the one confirm path
//! ([`crate::confirm::Confirmer`]) and the store's one writer, exactly as the poller's
//! confirms: the same rate limit, pauses, floor between confirms of a token, attempt log,
//! status and event.

mod auth;
mod callback_tally;
mod callbacks;
mod cases;
mod confirm_now;
pub mod error;
mod evidence;
mod payments;

use crate::config::ApiToken;
use crate::confirm::Confirmer;
use crate::listener::{self, Limits, Share};
use crate::metrics::Metrics;
use crate::store::Db;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use callback_tally::CallbackTally;
use error::ApiError;
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
    /// The tokens the API accepts, with their names and scopes.
    pub tokens: Arc<Vec<ApiToken>>,
    pub metrics: Arc<Metrics>,
    /// How long a confirm-now may take in all: LigdiCash's request timeout.
    pub confirm_timeout: Duration,
    /// Outbox sinks every new event is addressed to.
    pub sinks: Arc<Vec<String>>,
    /// Cancelled at shutdown: requests then get 503.
    pub shutdown: CancellationToken,
    /// Callbacks counted but not kept raw, written every few seconds.
    pub callbacks: Arc<CallbackTally>,
    /// What an evidence file is built with (LigdiCash's URL, the language, the time zone).
    pub evidence: crate::cases::evidence::Settings,
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
        .route("/v1/payments/{token}/resolution", post(cases::resolution))
        .route("/v1/payments/{token}/evidence", get(evidence::evidence))
        .route("/v1/cases", get(cases::list))
        // The last layer added runs first.
        .route_layer(middleware::from_fn_with_state(MAX_BODY, whole_body))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
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

#[cfg(test)]
mod tests;
