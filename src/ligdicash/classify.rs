//! Pure classification of one confirm exchange: what did LigdiCash (or the network) tell us?
//!
//! This is the single place that turns HTTP statuses, bodies and transport errors into
//! meaning. It performs no I/O so every branch is table-tested.

use super::answer::{AnswerError, ConfirmAnswer};
use crate::payment::Kind;
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

/// The words of the attempt log and of webhook errors: one wording for every request the
/// reconciler sends.
impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("request timed out"),
            Self::Connect(why) => write!(f, "connection failed: {why}"),
            Self::Other(why) => f.write_str(why),
        }
    }
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

/// Interprets one exchange of an invoice's confirm. See the module docs.
pub fn classify(exchange: &Exchange) -> Classified {
    classify_for(Kind::Invoice, exchange)
}

/// Interprets one exchange of the confirm of a payment of `kind`. The one difference:
/// `Echec (Code01)` at a payout endpoint is an error of that payout (payouts not activated
/// for the project, say), retried on its schedule, not a refusal of our credentials that
/// would pause the polling of every invoice too: a refused key shows at the invoices'
/// endpoint as well, and pauses everything from there.
pub fn classify_for(kind: Kind, exchange: &Exchange) -> Classified {
    let (status, retry_after, body) = match exchange {
        Exchange::Failed(e) => {
            let class = match e {
                TransportError::Timeout => ErrorClass::Timeout,
                TransportError::Connect(_) => ErrorClass::Connect,
                TransportError::Other(_) => ErrorClass::Transport,
            };
            return transient(class, e.to_string(), None);
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
        return api_error(answer, kind);
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
fn api_error(answer: &ConfirmAnswer, kind: Kind) -> Classified {
    let text = answer.response_text.clone().unwrap_or_default();
    match sub_code(&text).as_deref() {
        Some("00") => Classified::AuthFailed {
            detail: format!("LigdiCash refused the credentials ({text})"),
        },
        // Payin not activated for the project (on the test platform: application
        // authentication). Like Code00 it concerns every payment, not this one.
        Some("01") if kind.is_money_out() => transient(
            ErrorClass::ApiError,
            format!(
                "LigdiCash refused this {kind} (Code01: are payouts activated for the project?) ({text})"
            ),
            None,
        ),
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
mod tests;
