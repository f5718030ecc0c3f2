//! Every error of the shop API as one JSON shape, `{"error": {"code", "message"}}`, with the
//! HTTP status a client can branch on, and axum's own rejections mapped onto it.

use crate::listener::{BodyRefusal, REQUEST_TIMEOUT};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error: the status, a stable snake_case code and one human sentence.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed (503 while held, 429).
    pub retry_after: Option<u64>,
    /// Answered with `Connection: close`: the request's body was left unread (or cut), so
    /// the connection must not wait for the rest of it.
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            close: false,
        }
    }

    /// The same error, answered with `Connection: close`.
    pub fn closing(self) -> Self {
        Self {
            close: true,
            ..self
        }
    }

    /// A field that is present but invalid (422).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    pub fn not_found(token: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no payment with token {token}"),
        )
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// A failure of the daemon's own (a task that died), never the client's.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "shop API: internal error");
        Self::unavailable("database_unavailable", "the database cannot be used now", 5)
    }

    /// A database failure: the daemon's own trouble, never the client's. One that heals (the
    /// database away for a while) is the incident the daemon's tasks log once, so each
    /// request that meets it is not logged again.
    pub fn store(e: crate::store::StoreError) -> Self {
        if e.is_unwritable() {
            tracing::debug!(error = %e, "shop API: the database is away");
            Self::unavailable("database_unavailable", "the database cannot be used now", 5)
        } else {
            Self::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ),
            JsonRejection::JsonDataError(e) => Self::invalid(e.body_text()),
            JsonRejection::JsonSyntaxError(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not valid JSON",
            ),
            JsonRejection::BytesRejection(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is over 64 KiB",
            ),
            other => Self::new(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
        }
    }
}

impl From<BodyRefusal> for ApiError {
    /// Each answered with `Connection: close`: the rest of the body is never read.
    fn from(r: BodyRefusal) -> Self {
        let error = match r {
            BodyRefusal::TooLarge { cap } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is over {} KiB", cap / 1024),
            ),
            BodyRefusal::TooSlow => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request was not received whole within {} s",
                    REQUEST_TIMEOUT.as_secs()
                ),
            ),
            BodyRefusal::Broken => Self::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body was broken off or malformed",
            ),
        };
        error.closing()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::invalid(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}
