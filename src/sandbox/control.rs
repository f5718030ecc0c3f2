//! The sandbox's control API, for tests, the demo and benchmarks: add invoices with a
//! chosen fate, read one back with its confirm history, inject faults, count calls.

use super::{Faults, InvoiceSpec, Sandbox};
use crate::time::now_ms;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/_sandbox/invoices", post(control_add))
        .route("/_sandbox/invoices/{token}", get(control_get))
        .route("/_sandbox/faults", put(control_faults))
        .route("/_sandbox/stats", get(control_stats))
}

async fn control_add(State(sb): State<Arc<Sandbox>>, Json(spec): Json<InvoiceSpec>) -> Response {
    let token = sb.add_invoice(&spec);
    Json(serde_json::json!({ "token": token })).into_response()
}

async fn control_get(State(sb): State<Arc<Sandbox>>, UrlPath(token): UrlPath<String>) -> Response {
    match sb.invoice(&token) {
        Some(invoice) => {
            let status = invoice.status_at(now_ms());
            Json(serde_json::json!({ "status": status, "invoice": invoice })).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn control_faults(State(sb): State<Arc<Sandbox>>, Json(faults): Json<Faults>) -> StatusCode {
    sb.set_faults(faults);
    StatusCode::NO_CONTENT
}

async fn control_stats(State(sb): State<Arc<Sandbox>>) -> Response {
    let s = sb.lock();
    Json(serde_json::json!({ "invoices": s.invoices.len(), "confirms": s.confirms }))
        .into_response()
}
