//! Pure classification of one confirm exchange: what did LigdiCash (or the network) tell us?
//!
//! This is the single place that turns HTTP statuses, bodies and transport errors into
//! meaning. It performs no I/O so every branch is table-tested.

use super::answer::{AnswerError, ConfirmAnswer};
use std::time::Duration;

/// What happened on the wire, before interpretation.
#[derive(Debug, Clone)]
pub enum Exchange {
    /// An HTTP response arrived (whatever its status).
    Reply {
        status: u16,
        retry_after: Option<Duration>,
        body: Vec<u8>,
    },
    /// No usable response: the request failed in transport.
    Failed(TransportError),
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    Timeout,
    Connect(String),
    /// Reset mid-body, protocol errors, a body over the size limit.
    Other(String),
}

/// The meaning of one confirm exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    Completed(ConfirmAnswer),
    NotCompleted(ConfirmAnswer),
    /// Still pending. `unknown_status` holds a status string we do not know, which is
    /// treated as pending (including for the timeout rule) and logged.
    Pending {
        answer: ConfirmAnswer,
        unknown_status: Option<String>,
    },
    /// `Echec (Code00)`, `Code01` (payin not activated) or HTTP 401/403: our credentials are
    /// refused. Not the payment's fault.
    AuthFailed {
        detail: String,
    },
    /// `Echec (Code02)`: LigdiCash does not know this token.
    NotFound,
    /// Anything worth retrying later: network, 5xx, 429, malformed bodies, other API codes.
    Transient {
        class: ErrorClass,
        detail: String,
        retry_after: Option<Duration>,
    },
}

/// Coarse classes of failure, stored in the attempt log and counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    Timeout,
    Connect,
    Transport,
    Http5xx,
    RateLimited,
    Http4xx,
    Malformed,
    ApiError,
}

impl ErrorClass {
    /// Stable label for the database and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Transport => "transport",
            Self::Http5xx => "http_5xx",
            Self::RateLimited => "rate_limited",
            Self::Http4xx => "http_4xx",
            Self::Malformed => "malformed",
            Self::ApiError => "api_error",
        }
    }
}

/// The outcome label of a call refused for our credentials (in the attempt log too).
pub const AUTH_FAILED: &str = "auth_failed";

impl Classified {
    /// The error the attempt log keeps for a call that got no usable answer; `None` for
    /// an answer. One wording for the poller and the nightly re-check.
    pub fn failure(&self) -> Option<String> {
        match self {
            Self::AuthFailed { detail } | Self::Transient { detail, .. } => Some(detail.clone()),
            Self::NotFound => Some("invoice not found (Code02)".to_owned()),
            _ => None,
        }
    }

    /// Stable outcome label for the attempt log.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Completed(_) => "completed",
            Self::NotCompleted(_) => "notcompleted",
            Self::Pending {
                unknown_status: Some(_),
                ..
            } => "unknown_status",
            Self::Pending { .. } => "pending",
            Self::AuthFailed { .. } => AUTH_FAILED,
            Self::NotFound => "not_found",
            Self::Transient { class, .. } => class.as_str(),
        }
    }

    /// The parsed answer, when LigdiCash gave a usable one.
    pub fn answer(&self) -> Option<&ConfirmAnswer> {
        match self {
            Self::Completed(a) | Self::NotCompleted(a) | Self::Pending { answer: a, .. } => Some(a),
            _ => None,
        }
    }

    /// The parsed answer, moved out (the poller's hot path keeps it without a copy).
    pub fn into_answer(self) -> Option<ConfirmAnswer> {
        match self {
            Self::Completed(a) | Self::NotCompleted(a) | Self::Pending { answer: a, .. } => Some(a),
            _ => None,
        }
    }
}

/// Interprets one exchange. See the module docs.
pub fn classify(exchange: &Exchange) -> Classified {
    let (status, retry_after, body) = match exchange {
        Exchange::Failed(TransportError::Timeout) => {
            return transient(ErrorClass::Timeout, "request timed out".into(), None);
        }
        Exchange::Failed(TransportError::Connect(e)) => {
            return transient(ErrorClass::Connect, format!("connection failed: {e}"), None);
        }
        Exchange::Failed(TransportError::Other(e)) => {
            return transient(ErrorClass::Transport, e.clone(), None);
        }
        Exchange::Reply {
            status,
            retry_after,
            body,
        } => (*status, *retry_after, body),
    };
    if status == 429 {
        return transient(ErrorClass::RateLimited, "HTTP 429".into(), retry_after);
    }
    if status >= 500 {
        return transient(ErrorClass::Http5xx, format!("HTTP {status}"), retry_after);
    }
    let parsed = ConfirmAnswer::parse(body);
    if status == 401 || status == 403 {
        // Whatever the body says: a refusal at HTTP level concerns every payment.
        let text = parsed
            .as_ref()
            .ok()
            .and_then(|a| a.response_text.as_deref());
        return Classified::AuthFailed {
            detail: text.map_or(format!("HTTP {status}"), |t| format!("HTTP {status} ({t})")),
        };
    }
    if let Ok(answer) = &parsed
        && answer.response_code.as_deref() == Some("01")
    {
        return api_error(answer);
    }
    if (300..400).contains(&status) {
        let detail = format!("HTTP {status}: redirects are not followed; check ligdicash.base_url");
        return transient(ErrorClass::Http4xx, detail, retry_after);
    }
    if !(200..300).contains(&status) {
        return transient(ErrorClass::Http4xx, format!("HTTP {status}"), retry_after);
    }
    match parsed {
        Ok(answer) => interpret(answer),
        Err(e) => malformed(&e),
    }
}

fn transient(class: ErrorClass, detail: String, retry_after: Option<Duration>) -> Classified {
    Classified::Transient {
        class,
        detail,
        retry_after,
    }
}

fn malformed(e: &AnswerError) -> Classified {
    transient(
        ErrorClass::Malformed,
        format!("malformed response: {e}"),
        None,
    )
}

/// `response_code "01"`: the sub-code in `response_text` says why.
fn api_error(answer: &ConfirmAnswer) -> Classified {
    let text = answer.response_text.clone().unwrap_or_default();
    match sub_code(&text).as_deref() {
        Some("00") => Classified::AuthFailed {
            detail: format!("LigdiCash refused the credentials ({text})"),
        },
        // Payin not activated for the project (on the test platform: application
        // authentication). Like Code00 it concerns every payment, not this one.
        Some("01") => Classified::AuthFailed {
            detail: format!("LigdiCash refused the project: payin not activated ({text})"),
        },
        Some("02") => Classified::NotFound,
        code => transient(
            ErrorClass::ApiError,
            format!(
                "LigdiCash API error {} ({text})",
                code.map_or("without sub-code".to_owned(), |c| format!("Code{c}"))
            ),
            None,
        ),
    }
}

/// Extracts `03a` from `Echec (Code03a)`, following the official SDK's `\d{2,3}[a-z]?`.
pub fn sub_code(response_text: &str) -> Option<String> {
    let lower = response_text.to_ascii_lowercase();
    let start = lower.find("code")? + 4;
    let rest = &lower[start..];
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(3)
        .collect();
    if digits.len() < 2 {
        return None;
    }
    let suffix = rest[digits.len()..]
        .chars()
        .next()
        .filter(char::is_ascii_lowercase);
    Some(suffix.map_or(digits.clone(), |c| format!("{digits}{c}")))
}

fn interpret(answer: ConfirmAnswer) -> Classified {
    match answer.response_code.as_deref() {
        Some("00") | None => {}
        Some(other) => {
            let detail = format!("unexpected response_code {other:?}");
            return transient(ErrorClass::ApiError, detail, None);
        }
    }
    match answer.status.as_deref() {
        Some("completed") => Classified::Completed(answer),
        Some("notcompleted") => Classified::NotCompleted(answer),
        Some("pending") => Classified::Pending {
            answer,
            unknown_status: None,
        },
        Some(other) => {
            let unknown = Some(other.to_owned());
            Classified::Pending {
                answer,
                unknown_status: unknown,
            }
        }
        None => transient(ErrorClass::Malformed, "response has no status".into(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Exchange {
        Exchange::Reply {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    fn label(exchange: &Exchange) -> &'static str {
        classify(exchange).label()
    }

    #[test]
    fn every_kind_of_answer_has_one_meaning() {
        let cases: &[(Exchange, &str)] = &[
            (
                reply(
                    200,
                    r#"{"response_code":"00","status":"completed","amount":5}"#,
                ),
                "completed",
            ),
            (
                reply(200, r#"{"response_code":"00","status":"notcompleted"}"#),
                "notcompleted",
            ),
            (
                reply(200, r#"{"response_code":"00","status":"pending"}"#),
                "pending",
            ),
            (
                reply(200, r#"{"response_code":"00","status":"refunded"}"#),
                "unknown_status",
            ),
            (
                reply(200, r#"{"response_code":"00","status":"nocompleted"}"#),
                "unknown_status",
            ),
            (
                reply(
                    200,
                    r#"{"response_code":"01","response_text":"Echec (Code00)"}"#,
                ),
                "auth_failed",
            ),
            (
                reply(
                    200,
                    r#"{"response_code":"01","response_text":"Echec (Code01)"}"#,
                ),
                "auth_failed",
            ),
            (
                reply(
                    401,
                    r#"{"response_code":"01","response_text":"Unauthorized"}"#,
                ),
                "auth_failed",
            ),
            (
                reply(
                    200,
                    r#"{"response_code":"01","response_text":"Echec (Code02)"}"#,
                ),
                "not_found",
            ),
            (
                reply(
                    200,
                    r#"{"response_code":"01","response_text":"Echec (Code03)"}"#,
                ),
                "api_error",
            ),
            (
                reply(200, r#"{"response_code":"01","response_text":""}"#),
                "api_error",
            ),
            (
                reply(200, r#"{"response_code":"02","status":"completed"}"#),
                "api_error",
            ),
            (reply(200, r#"{"response_code":"00"}"#), "malformed"),
            (reply(200, "<html>Bad gateway</html>"), "malformed"),
            (reply(200, ""), "malformed"),
            (reply(401, "unauthorized"), "auth_failed"),
            (reply(403, ""), "auth_failed"),
            (reply(404, "<html>not found</html>"), "http_4xx"),
            (reply(301, ""), "http_4xx"),
            (
                reply(
                    400,
                    r#"{"response_code":"01","response_text":"Echec (Code02)"}"#,
                ),
                "not_found",
            ),
            (reply(429, ""), "rate_limited"),
            (
                reply(500, r#"{"response_code":"00","status":"completed"}"#),
                "http_5xx",
            ),
            (reply(502, "<html>"), "http_5xx"),
            (reply(503, ""), "http_5xx"),
            (reply(504, "<html>Gateway Time-out</html>"), "http_5xx"),
            (Exchange::Failed(TransportError::Timeout), "timeout"),
            (
                Exchange::Failed(TransportError::Connect("refused".into())),
                "connect",
            ),
            (
                Exchange::Failed(TransportError::Other("reset".into())),
                "transport",
            ),
        ];
        for (exchange, expected) in cases {
            assert_eq!(label(exchange), *expected, "{exchange:?}");
        }
    }

    #[test]
    fn retry_after_is_carried_for_429() {
        let exchange = Exchange::Reply {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            body: vec![],
        };
        match classify(&exchange) {
            Classified::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sub_codes_follow_the_sdk_pattern() {
        assert_eq!(sub_code("Echec (Code00)").as_deref(), Some("00"));
        assert_eq!(sub_code("Echec (Code03a)").as_deref(), Some("03a"));
        assert_eq!(sub_code("echec (code123)").as_deref(), Some("123"));
        assert_eq!(sub_code("Echec (Code0)"), None);
        assert_eq!(sub_code("Echec"), None);
        assert_eq!(sub_code(""), None);
    }

    #[test]
    fn unknown_status_keeps_the_answer_and_the_string() {
        let c = classify(&reply(200, r#"{"response_code":"00","status":"Refunded"}"#));
        match c {
            Classified::Pending { unknown_status, .. } => {
                assert_eq!(unknown_status.as_deref(), Some("refunded"))
            }
            other => panic!("{other:?}"),
        }
    }

    /// A call that got no usable answer keeps its error in the attempt log; an answer
    /// keeps none, and is the only kind that carries the parsed body.
    #[test]
    fn failures_carry_their_error_and_answers_their_body() {
        let answer = ConfirmAnswer {
            status: Some("pending".into()),
            ..ConfirmAnswer::default()
        };
        let cases: [(Classified, Option<&str>, bool); 8] = [
            (Classified::Completed(answer.clone()), None, true),
            (Classified::NotCompleted(answer.clone()), None, true),
            (
                Classified::Pending {
                    answer: answer.clone(),
                    unknown_status: None,
                },
                None,
                true,
            ),
            (
                Classified::Pending {
                    answer: answer.clone(),
                    unknown_status: Some("refunded".into()),
                },
                None,
                true,
            ),
            (
                Classified::AuthFailed {
                    detail: "HTTP 401".into(),
                },
                Some("HTTP 401"),
                false,
            ),
            (
                Classified::NotFound,
                Some("invoice not found (Code02)"),
                false,
            ),
            (
                Classified::Transient {
                    class: ErrorClass::Http5xx,
                    detail: "HTTP 503".into(),
                    retry_after: None,
                },
                Some("HTTP 503"),
                false,
            ),
            (
                classify(&Exchange::Failed(TransportError::Timeout)),
                Some("request timed out"),
                false,
            ),
        ];
        for (c, failure, has_answer) in cases {
            assert_eq!(c.failure().as_deref(), failure, "{c:?}");
            let expected = has_answer.then_some(&answer);
            assert_eq!(c.answer(), expected, "{c:?}");
            assert_eq!(c.clone().into_answer().as_ref(), expected, "{c:?}");
        }
    }
}
