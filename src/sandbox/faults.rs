//! Fault injection on the confirm endpoints (invoices and payouts alike): the faults the
//! control API switched on are drawn per call and answered instead of the truth.

use super::{Sandbox, authorized, html, responses};
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Draws this call's fault: `Err` is the answer to send instead of the truth (a refusal of
/// the credentials included); `Ok(true)` asks for an undocumented status in the answer.
pub(super) async fn before_confirm(sb: &Sandbox, headers: &HeaderMap) -> Result<bool, Response> {
    let faults = sb.lock().faults.clone();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.auth_failure || !authorized(sb, headers) {
        return Err(Json(responses::api_error("00", false)).into_response());
    }
    let roll = |p: f64| p > 0.0 && fastrand::f64() < p;
    if roll(faults.hang) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    if roll(faults.rate_limit) {
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(faults.retry_after_secs),
        );
        return Err(r);
    }
    if roll(faults.server_error) {
        let status = [500u16, 502, 503, 504][fastrand::usize(..4)];
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err((code, html(responses::html_error(status))).into_response());
    }
    if roll(faults.html) {
        return Err(html(responses::html_error(502)).into_response());
    }
    if roll(faults.empty_body) {
        return Err(StatusCode::OK.into_response());
    }
    if roll(faults.reset_mid_body) {
        // Promise more bytes than are sent: the server closes the connection mid-body.
        let mut r = (StatusCode::OK, "{\"response_code\":\"00\",\"sta").into_response();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(4096u32));
        return Err(r);
    }
    if roll(faults.api_error) {
        return Err(Json(responses::api_error("03", false)).into_response());
    }
    Ok(roll(faults.unknown_status))
}
