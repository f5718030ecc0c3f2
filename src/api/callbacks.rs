//! `POST /callbacks/ligdicash`: LigdiCash's callbacks, taken as a reason to confirm at once
//! and never as a verdict. No bearer token (LigdiCash cannot send one; the shop's reverse
//! proxy forwards the callback here), so anyone may post: a forged callback can at most
//! make a payment confirmed sooner (a pending one, or a final one it contradicts, once),
//! never change a status; every confirm still keeps `min_interval` between two of one token
//! and goes through the rate limit, so a flood never makes the daemon exceed
//! `max_requests_per_second`. What each callback does is `payment::callback`'s policy.
//!
//! LigdiCash posts each callback twice, as `application/json` and as
//! `application/x-www-form-urlencoded` (where `custom_data` is a JSON string); both are
//! read into one JSON object, and the copies that arrive before the confirm they caused is
//! sent fold into it. Raw bodies are kept within bounds; every callback is counted.
//!
//! Anyone may also post slowly. The route has its own share of the API listener's
//! connections ([`admit`]): a quarter of them, at most [`PER_SOURCE`] from one source, so
//! that the shop's own requests always keep three quarters of the slots and a genuine
//! callback from LigdiCash's address is not crowded out by one attacking host. Its bodies
//! are capped at [`MAX_BODY`] and, as on every route, must arrive within the request
//! deadline.

use super::ApiState;
use super::error::ApiError;
use crate::ligdicash::ConfirmAnswer;
use crate::listener::{BodyRefusal, Share};
use crate::metrics::Metrics;
use crate::payment::callback::Contradiction;
use crate::store::{CallbackKeys, Received};
use crate::time::{Millis, now_ms};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// A callback's body is a few hundred bytes; LigdiCash's largest, with every `custom_data`
/// entry a shop could add, is a few KiB.
pub const MAX_BODY: usize = 16 * 1024;

/// Callbacks served at once from one source address (an IPv6 /64). LigdiCash posts each
/// event twice (JSON, then form), and several payments may settle together; a host with 70
/// sockets holds no more than this.
pub const PER_SOURCE: usize = 8;

/// The callback route's share of an API listener of `max_connections`: a quarter, so that
/// the shop's own requests keep at least three quarters of the slots.
pub fn share_of(max_connections: usize) -> Arc<Share> {
    Share::new(max_connections / 4, PER_SOURCE)
}

/// What [`admit`] needs: the route's share and the callback counters.
#[derive(Clone)]
pub struct Gate {
    pub share: Arc<Share>,
    pub metrics: Arc<Metrics>,
}

/// Lets a callback in within the route's share, holding its place until the answer is
/// ready; beyond it, 503 at once with `Retry-After` and `Connection: close` (waiting would
/// hold the slot the share protects), counted as `refused_busy`. The body is read only
/// after this, so a slow one is held within the share.
pub async fn admit(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let from = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    match gate.share.try_take(from) {
        Ok(_ticket) => next.run(request).await,
        Err(refusal) => {
            gate.metrics.callback("refused_busy");
            // Not logged above debug: a flood would fill the journal; the counter shows it.
            tracing::debug!(%from, ?refusal, "LigdiCash callback refused: its share of connections is taken");
            ApiError::unavailable(
                "callbacks_busy",
                "too many callbacks are being received at once",
                1,
            )
            .closing()
            .into_response()
        }
    }
}

/// Answers 200 to every well-formed callback, matched or not (a forger learns nothing),
/// 400 to garbage, 415 to another content type (408, 413 and 503 come before, from
/// [`admit`] and the body's read).
pub async fn receive(
    State(s): State<ApiState>,
    from: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // Already read whole by the route's layer: this cannot fail but for a bug.
    let body = body.map_err(|_| ApiError::from(BodyRefusal::TooLarge { cap: MAX_BODY }))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let object = match read_body(&content_type, &body) {
        Ok(object) => object,
        Err(e) => {
            s.metrics.callback("rejected");
            return Err(e);
        }
    };
    let keys = keys_of(&object);
    let raw = String::from_utf8_lossy(&body).into_owned();
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let now = now_ms();
    // Kept with the callback as evidence: who sent it (LigdiCash's addresses, or a forger's).
    let source = from.map(|Extension(ConnectInfo(at))| at.ip().to_string());
    let received =
        s.db.record_callback(kind, raw, source, keys, now, floor_ms(&s))
            .await
            .map_err(ApiError::store)?;
    note(&s, &received, now);
    Ok((StatusCode::OK, Json(json!({"received": true}))))
}

/// LigdiCash's floor between two confirms of one token, as the confirm path keeps it.
fn floor_ms(s: &ApiState) -> Millis {
    crate::time::ms(s.confirmer.live().policy.schedule.min_interval)
}

/// Counts and logs what became of a callback. What it did is logged once per interval for
/// all callbacks ([`super::CallbackTally`]); only a contradiction of a final status gets a
/// line of its own, while its evidence is kept (so a flood of them cannot fill the log).
fn note(s: &ApiState, received: &Received, now: Millis) {
    let plan = &received.plan;
    if !received.kept {
        s.callbacks.not_kept(now, received.payment_id.is_some());
    }
    let (Some(id), Some(by), Some(status)) =
        (received.payment_id, received.matched_by, received.status)
    else {
        s.metrics.callback("unmatched");
        s.callbacks.unmatched(received.kept);
        return;
    };
    s.metrics.callback("matched");
    s.callbacks.matched(plan.acted());
    if let Some(contradiction) = plan.contradiction {
        s.metrics.callback_contradiction(status, contradiction);
    }
    match plan.contradiction {
        Some(Contradiction::Rechecked) if plan.recheck => tracing::warn!(
            payment_id = id,
            matched_by = by,
            status = status.as_str(),
            "a LigdiCash callback says completed of a payment LigdiCash left unpaid: confirming it once more"
        ),
        Some(Contradiction::Upheld) if received.kept => tracing::warn!(
            payment_id = id,
            matched_by = by,
            status = status.as_str(),
            "a LigdiCash callback says notcompleted of a payment LigdiCash confirmed: the status stands (counted in /metrics)"
        ),
        _ => tracing::debug!(
            payment_id = id,
            matched_by = by,
            made_due = plan.make_due,
            "LigdiCash callback received"
        ),
    }
}

/// The callback as one JSON object, whichever encoding it came in.
fn read_body(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let garbage = |why: &str| ApiError::new(StatusCode::BAD_REQUEST, "malformed_callback", why);
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => Ok(object),
            _ => Err(garbage("the body is not a JSON object")),
        }
    } else if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let mut object = Map::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            object.insert(key.into_owned(), Value::String(value.into_owned()));
        }
        if object.is_empty() {
            return Err(garbage("the form has no fields"));
        }
        Ok(object)
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a callback is application/json or application/x-www-form-urlencoded",
        ))
    }
}

/// What could name the payment, read by the confirm-answer parser (every `custom_data`
/// shape, numbers or strings) plus the top-level `transaction_id` of payout callbacks.
fn keys_of(object: &Map<String, Value>) -> CallbackKeys {
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let bytes = Value::Object(object.clone()).to_string();
    let answer = ConfirmAnswer::parse(bytes.as_bytes()).unwrap_or_default();
    CallbackKeys {
        transaction_id: answer
            .custom_transaction_id
            .or_else(|| text("transaction_id")),
        external_id: answer.external_id,
        request_id: answer.request_id,
        token: text("token"),
        status: answer.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_of_one_callback_name_the_same_payment() {
        let json = br#"{"token":"","status":"completed","request_id":"P27","external_id":"ORD-9","custom_data":[{"keyof_customdata":"transaction_id","valueof_customdata":"ORD-9"}]}"#;
        let form = b"token=&status=completed&request_id=P27&external_id=ORD-9&custom_data=%5B%7B%22keyof_customdata%22%3A%22transaction_id%22%2C%22valueof_customdata%22%3A%22ORD-9%22%7D%5D";
        let a = keys_of(&read_body("application/json", json).unwrap());
        let b =
            keys_of(&read_body("application/x-www-form-urlencoded; charset=utf-8", form).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.transaction_id.as_deref(), Some("ORD-9"));
        assert_eq!(a.request_id.as_deref(), Some("P27"));
        assert_eq!(a.token, None, "an empty token names nothing");
    }

    #[test]
    fn garbage_is_refused_by_kind() {
        let status = |ct: &str, body: &[u8]| read_body(ct, body).unwrap_err().status;
        assert_eq!(
            status("application/json", b"[1,2]"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status("application/json", b"{nope"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status("application/x-www-form-urlencoded", b""),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status("text/plain", b"hi"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn a_payout_callback_names_its_order_at_the_top_level() {
        let body = br#"{"token":"eyJ","status":"completed","custom_data":[],"transaction_id":"502d36","external_id":"502d36","montant":"100","amount":"100","operator_id":12}"#;
        let keys = keys_of(&read_body("application/json", body).unwrap());
        assert_eq!(keys.transaction_id.as_deref(), Some("502d36"));
        assert_eq!(keys.token.as_deref(), Some("eyJ"));
    }
}
