//! `POST /v1/payments/{token}/confirm`: "confirm before you cancel". Asks LigdiCash now,
//! through the one confirm path, records the answer exactly as the poller would, and
//! answers with the payment. A payment already final is answered as it is: `completed`
//! and `notcompleted` never change.
//!
//! On PostgreSQL a confirm of the same payment may be under way when the shop asks (the
//! poller's, or another node's: the row is claimed): LigdiCash's 3 s floor forbids a second
//! call now, and an answer to a call sent after the shop asked is as fresh as ours. So the
//! handler waits for that claim to end and answers with the payment as that confirm left
//! it, or claims the row and asks itself, within the request timeout. On SQLite there is
//! one process, and the confirm path's floor spaces the two calls instead.

use super::ApiState;
use super::error::ApiError;
use super::payments::{find, token_of, writable};
use crate::confirm::{HEARTBEAT, Turn};
use crate::health::Writer;
use crate::payment::ConfirmOutcome;
use crate::store::ToConfirm;
use crate::time::now_ms;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a request waits for its answer to be recorded, even past its deadline: a
/// write takes milliseconds when the database is there.
const RECORD_AT_LEAST: Duration = Duration::from_millis(500);

/// How often a request waiting for another confirm of its payment looks again.
const BUSY_RETRY: Duration = Duration::from_millis(200);

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

pub async fn confirm(
    State(s): State<ApiState>,
    token: Result<Path<String>, PathRejection>,
) -> Answer {
    let token = token_of(token?)?;
    writable(&s)?;
    if !s.confirmer.throttle().has_share() {
        // A cluster node joining, or cut off from the others: it may not send now.
        return Err(ApiError::unavailable(
            "joining",
            "this node has no share of the request rate yet (joining the cluster, or its heartbeat failing); try again in a few seconds or ask another node",
            3,
        ));
    }
    let asked_at = now_ms();
    let deadline = Instant::now() + s.confirm_timeout;
    let due = loop {
        let found = s.db.claim_to_confirm(token.clone(), now_ms()).await;
        match found.map_err(ApiError::store)? {
            ToConfirm::Claimed(due) => break due,
            ToConfirm::Not => return answer(&s, &token).await,
            ToConfirm::Busy => {
                let row = find(&s, &token).await?;
                if row.last_confirm_at.is_some_and(|at| at >= asked_at) {
                    return Ok((StatusCode::OK, Json(row.to_json())));
                }
                if Instant::now() + BUSY_RETRY > deadline {
                    return Err(busy());
                }
                tokio::time::sleep(BUSY_RETRY).await;
            }
        }
    };
    let id = due.id;
    let sent = tokio::time::timeout_at(deadline, s.confirmer.confirm(due, &s.shutdown)).await;
    let outcome = match sent {
        Ok(Turn::Sent(outcome)) => *outcome,
        Ok(Turn::Held) => {
            release(&s, id).await;
            let wait = s
                .confirmer
                .paused_for()
                .unwrap_or(HEARTBEAT)
                .as_secs()
                .max(1);
            return Err(ApiError::unavailable(
                "held",
                "confirms are paused (LigdiCash refused the credentials, asked us to slow down, or the database refuses writes); try again later",
                wait,
            ));
        }
        Ok(Turn::Stopped) => {
            release(&s, id).await;
            return Err(ApiError::unavailable(
                "shutting_down",
                "the reconciler is stopping",
                5,
            ));
        }
        // The call may have been sent: the claim stays until its lease ends, so no
        // other node confirms the token within the floor of that call.
        Err(_) => return Err(busy()),
    };
    record(&s, outcome, deadline).await?;
    answer(&s, &token).await
}

/// Records LigdiCash's answer through a database that may be away for a while. The write
/// runs in a task of its own, retried until it succeeds or the daemon stops: an answer in
/// hand is never dropped, not even when the client gives up on its request. The request
/// waits for it until `deadline`, then answers 503 while the write goes on.
async fn record(s: &ApiState, outcome: ConfirmOutcome, deadline: Instant) -> Result<(), ApiError> {
    let (db, sinks, metrics, stop) = (
        s.db.clone(),
        s.sinks.clone(),
        s.metrics.clone(),
        s.shutdown.clone(),
    );
    let written = tokio::spawn(async move {
        let outcome = Arc::new(vec![outcome]);
        let write = || db.apply_outcomes(outcome.clone(), now_ms(), sinks.clone());
        let written = metrics.writes.retry(Writer::ConfirmNow, &stop, write).await;
        if let Err(e) = &written {
            tracing::error!(error = %e, "shop API: cannot record a confirm-now answer");
        }
        written
    });
    match tokio::time::timeout_at(deadline.max(Instant::now() + RECORD_AT_LEAST), written).await {
        Ok(Ok(Ok(Some(_)))) => Ok(()),
        Ok(Ok(Ok(None))) => Err(ApiError::unavailable(
            "shutting_down",
            "the reconciler is stopping",
            5,
        )),
        Ok(Ok(Err(e))) => Err(ApiError::store(e)),
        Ok(Err(e)) => Err(ApiError::internal(e)),
        Err(_) => Err(ApiError::unavailable(
            "database_unavailable",
            "LigdiCash answered, but the database cannot be written now; the answer is recorded as soon as it can be: ask again in a few seconds",
            5,
        )),
    }
}

async fn answer(s: &ApiState, token: &str) -> Answer {
    let row = find(s, token).await?;
    Ok((StatusCode::OK, Json(row.to_json())))
}

fn busy() -> ApiError {
    ApiError::unavailable(
        "busy",
        "LigdiCash could not be asked within the request timeout; try again",
        3,
    )
}

/// A claim for a confirm not sent goes back at once, for the poller or another node.
async fn release(s: &ApiState, id: i64) {
    if let Err(e) = s.db.release_claim(id).await {
        tracing::warn!(error = %e, "could not release a confirm-now claim; it expires with its lease");
    }
}
