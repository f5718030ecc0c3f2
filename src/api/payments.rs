//! `/v1/payments`: enqueue (idempotent), look up by token or by the shop's order
//! reference, and confirm now.

mod body;

use super::ApiState;
use super::error::ApiError;
use crate::payment::{Kind, Status, parse_token};
use crate::store::Enqueued;
use crate::store::{PaymentFilter, PaymentRow, StoreError};
use crate::time::{ms, now_ms};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

/// Rows per page when the client gives no `limit`, and at most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

/// `POST /v1/payments`: 201 created, 200 already there with the same data, 409 otherwise.
/// The body is read as any JSON value, then field by field (`body`), so that a refusal
/// says what is wrong in plain words.
pub async fn create(State(s): State<ApiState>, body: Result<Json<Value>, JsonRejection>) -> Answer {
    let Json(body) = body?;
    let payment = body::new_payment(&body)?;
    writable(&s)?;
    let kind = payment.kind;
    let first_delay = ms(s.confirmer.live().first_delay_of(kind));
    let token = payment.token.clone();
    let now = now_ms();
    let enqueued =
        s.db.enqueue(payment, now, now.saturating_add(first_delay))
            .await
            .map_err(|e| match e {
                StoreError::Conflict { token, field } => ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("payment {token} is already enqueued with a different {field}"),
                ),
                other => ApiError::store(other),
            })?;
    let row = find(&s, &token).await?;
    let status = match enqueued {
        Enqueued::Inserted => StatusCode::CREATED,
        Enqueued::AlreadyPresent => StatusCode::OK,
    };
    Ok((status, Json(row.to_json())))
}

/// `GET /v1/payments/{token}`.
pub async fn show(State(s): State<ApiState>, token: Result<Path<String>, PathRejection>) -> Answer {
    let token = token_of(token?)?;
    let row = find(&s, &token).await?;
    Ok((StatusCode::OK, Json(row.to_json())))
}

/// The query of `GET /v1/payments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    transaction_id: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/payments?transaction_id=&status=&kind=&limit=&cursor=`: newest first, paged.
pub async fn search(
    State(s): State<ApiState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Answer {
    let Query(q) = query?;
    let status = q
        .status
        .as_deref()
        .map(|text| {
            Status::parse(text).ok_or_else(|| ApiError::invalid(format!("unknown status {text:?}")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let kind = q
        .kind
        .as_deref()
        .map(Kind::parse_given)
        .transpose()
        .map_err(ApiError::invalid)?;
    let filter = PaymentFilter {
        transaction_id: q.transaction_id,
        status,
        kind,
        before_id: q.cursor.as_deref().map(cursor_id).transpose()?,
    };
    // One more than asked: whether there is a next page, without a count.
    let mut rows =
        s.db.search(filter, limit + 1)
            .await
            .map_err(ApiError::store)?;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|r| cursor_of(r.id))
    });
    let payments: Vec<Value> = rows.iter().map(PaymentRow::to_json).collect();
    Ok((
        StatusCode::OK,
        Json(json!({"payments": payments, "next": next.flatten()})),
    ))
}

/// A token from the path, by the rule every command uses.
pub(super) fn token_of(Path(text): Path<String>) -> Result<String, ApiError> {
    parse_token(&text)
        .map(str::to_owned)
        .map_err(ApiError::invalid)
}

/// 503 while the database refuses writes: an enqueue or a confirm could not be kept.
pub(super) fn writable(s: &ApiState) -> Result<(), ApiError> {
    match s.metrics.writes.problem() {
        Some(problem) => Err(ApiError::unavailable("database_not_writable", problem, 5)),
        None => Ok(()),
    }
}

pub(super) async fn find(s: &ApiState, token: &str) -> Result<PaymentRow, ApiError> {
    s.db.get(token.to_owned())
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(token))
}

/// The opaque cursor of the page after the row `id`.
fn cursor_of(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("before:{id}"))
}

fn cursor_id(cursor: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("before:")?.parse().ok())
        .ok_or_else(|| ApiError::invalid("cursor: not a cursor this API gave"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_its_row_and_garbage_is_refused() {
        assert_eq!(cursor_id(&cursor_of(42)).unwrap(), 42);
        assert!(cursor_id("not-a-cursor").is_err());
        assert!(cursor_id(&URL_SAFE_NO_PAD.encode("after:1")).is_err());
    }
}
