//! Who may call the shop API, and what for: the bearer token names its caller (the
//! `default` token of `[api]`, or one of `[api.tokens.NAME]`) and the caller's scopes; each
//! route needs one scope ([`scope_of`]). No token, or an unknown one: 401. A token without
//! the route's scope: 403. Tokens are compared in constant time, every one of them, so the
//! time of an answer says nothing about which token came close; none is ever logged.

use super::ApiState;
use super::error::ApiError;
use crate::config::{ApiToken, Scope};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

/// The caller of a request, for the handlers that record who did what (a decision on a
/// case names its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token: String,
}

/// The scope each route needs: one table for the whole API.
pub fn scope_of(method: &Method, route: &str) -> Option<Scope> {
    let scope = match (method.as_str(), route) {
        ("POST", "/v1/payments") => Scope::Enqueue,
        ("GET", "/v1/payments" | "/v1/payments/{token}") => Scope::Read,
        ("POST", "/v1/payments/{token}/confirm") => Scope::Confirm,
        ("POST", "/v1/payments/{token}/resolution") => Scope::Resolve,
        ("GET", route) if route.starts_with("/v1/") => Scope::Read,
        _ => return None,
    };
    Some(scope)
}

/// Checks the bearer token (401 otherwise) and the route's scope (403), refuses work while
/// shutting down (503), and hands the handlers the [`Caller`].
pub async fn authorize(State(s): State<ApiState>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    let Some(token) = matching(&s.tokens, presented) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <token>, a token of [api]",
        )
        .into_response();
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", |p| p.as_str());
    let needed = scope_of(request.method(), route);
    if let Some(scope) = needed.filter(|scope| !token.scopes.contains(scope)) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the token {:?} may not do this: it needs the scope {:?} ([api.tokens.{}] scopes)",
                token.name,
                scope.as_str(),
                token.name
            ),
        )
        .into_response();
    }
    if s.shutdown.is_cancelled() {
        return ApiError::unavailable("shutting_down", "the reconciler is stopping", 5)
            .into_response();
    }
    request.extensions_mut().insert(Caller {
        token: token.name.clone(),
    });
    next.run(request).await
}

/// The token `presented` is, comparing it with every token in constant time.
fn matching<'t>(tokens: &'t [ApiToken], presented: &str) -> Option<&'t ApiToken> {
    let mut found = None;
    for token in tokens {
        if same_secret(
            presented.as_bytes(),
            token.secret.expose_secret().as_bytes(),
        ) {
            found = Some(token);
        }
    }
    found
}

/// The token of an `Authorization` value in the bearer scheme. HTTP auth schemes are
/// case-insensitive (RFC 9110, section 11.1), and clients differ in spacing: `bearer`,
/// `BEARER`, several spaces or tabs after the scheme and spaces around are all accepted.
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_matches([' ', '\t']))
}

/// Compares two secrets in time that depends only on their lengths, so a client cannot
/// learn a token byte by byte from response times.
pub(super) fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = presented.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(0);
        diff |= usize::from(std::hint::black_box(p ^ e));
    }
    diff == 0 && !expected.is_empty()
}
