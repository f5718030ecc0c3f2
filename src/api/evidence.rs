//! `GET /v1/payments/{token}/evidence?format=json|html&language=fr|en`: the payment's
//! evidence file, as `evidence TOKEN` writes it (`cases::evidence`). The body is the file
//! itself, named by `Content-Disposition`; `X-Evidence-SHA256` is the SHA-256 of its JSON
//! (which the HTML shows too), so the file sent on can be checked later.

use super::ApiState;
use super::error::ApiError;
use super::payments::token_of;
use crate::cases::evidence;
use crate::config::ReportLanguage;
use crate::time::now_ms;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The header carrying the SHA-256 of the evidence's JSON.
pub const SHA256_HEADER: &str = "x-evidence-sha256";

/// The query of the evidence route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    format: Option<String>,
    language: Option<String>,
}

/// The evidence file of the payment `token`: JSON (the default) or HTML.
pub async fn evidence(
    State(s): State<ApiState>,
    token: Result<Path<String>, PathRejection>,
    query: Result<Query<EvidenceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let token = token_of(token?)?;
    let Query(q) = query?;
    let html = match q.format.as_deref().unwrap_or("json") {
        "json" => false,
        "html" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "format: {other:?} is neither json nor html"
            )));
        }
    };
    let language = match q.language.as_deref() {
        None => None,
        Some("fr") => Some(ReportLanguage::French),
        Some("en") => Some(ReportLanguage::English),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "language: {other:?} is neither fr nor en"
            )));
        }
    };
    let facts =
        s.db.evidence(token.clone())
            .await
            .map_err(ApiError::store)?
            .ok_or_else(|| ApiError::not_found(&token))?;
    let file = evidence::build(&facts, &s.evidence.at(now_ms(), language));
    let (body, content_type, extension) = match html {
        true => (file.html, "text/html; charset=utf-8", "html"),
        false => (file.json, "application/json", "json"),
    };
    let disposition = format!(
        "attachment; filename=\"{}.{extension}\"",
        evidence::file_stem(&facts)
    );
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (HeaderName::from_static(SHA256_HEADER), value(&file.sha256)?),
        (header::CONTENT_DISPOSITION, value(&disposition)?),
    ];
    Ok((StatusCode::OK, headers, body).into_response())
}

/// A header value of text the evidence module made (hexadecimal, a safe file name).
fn value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text).map_err(ApiError::internal)
}
