//! `/v1/cases` and `/v1/payments/{token}/resolution`: what needs a person, and a person's
//! decision. A resolution needs the `resolve` scope (see `auth`); it is recorded as made
//! by the token's name (`api:<name>`), never by its secret.

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::payments::{token_of, writable};
use crate::cases::resolve::{ResolveError, resolve};
use crate::store::CaseFilter;
use crate::time::now_ms;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// Cases per answer when the client gives no `limit`, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

/// The query of `GET /v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/cases?status=open|closed&limit=`: open cases oldest first (the default), or
/// closed ones newest first, each with its age, kind and order.
pub async fn list(
    State(s): State<ApiState>,
    query: Result<Query<CasesQuery>, QueryRejection>,
) -> Answer {
    let Query(q) = query?;
    let closed = match q.status.as_deref().unwrap_or("open") {
        "open" => false,
        "closed" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "status: {other:?} is neither open nor closed"
            )));
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let filter = CaseFilter {
        closed,
        ..CaseFilter::default()
    };
    let rows =
        s.db.list_cases(filter, limit)
            .await
            .map_err(ApiError::store)?;
    let now = now_ms();
    let cases: Vec<Value> = rows.iter().map(|c| c.to_json(now)).collect();
    Ok((StatusCode::OK, Json(json!({ "cases": cases }))))
}

/// The body of a resolution.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolutionBody {
    decision: String,
    note: String,
}

/// `POST /v1/payments/{token}/resolution` with `{"decision": ..., "note": ...}`: closes
/// the payment's open case. 200 with the closed case; 404 no such payment; 409 no open
/// case (or it closed meanwhile); 422 a decision unknown or not fitting the case, or no
/// note.
pub async fn resolution(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    token: Result<Path<String>, PathRejection>,
    body: Result<Json<ResolutionBody>, JsonRejection>,
) -> Answer {
    let token = token_of(token?)?;
    let Json(body) = body?;
    writable(&s)?;
    let by = format!("api:{}", caller.token);
    let now = now_ms();
    let closed = resolve(
        &s.db,
        &token,
        &body.decision,
        &body.note,
        by,
        now,
        s.sinks.clone(),
    );
    let case = closed.await.map_err(refused)?;
    Ok((StatusCode::OK, Json(case.to_json(now))))
}

/// A refused decision as the API answers it.
fn refused(e: ResolveError) -> ApiError {
    let message = e.to_string();
    match e {
        ResolveError::Store(e) => ApiError::store(e),
        ResolveError::NoSuchPayment(token) => ApiError::not_found(&token),
        ResolveError::NoOpenCase(_) => ApiError::new(StatusCode::CONFLICT, "no_open_case", message),
        ResolveError::ClosedMeanwhile => {
            ApiError::new(StatusCode::CONFLICT, "case_closed", message)
        }
        ResolveError::DoesNotFit { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "decision_does_not_fit",
            message,
        ),
        ResolveError::UnknownDecision(_) | ResolveError::BadNote => ApiError::invalid(message),
    }
}
