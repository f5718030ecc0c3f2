//! Domain types of a payment, parsed once at the edge ("parse, don't validate").

pub mod callback;
mod kind;
mod outcome;

pub use kind::Kind;

pub use outcome::{
    Applied, Change, ConfirmOutcome, DuePayment, PAYOUT_OVERDUE, REQUEUED_FROM,
    requeued_from_timeout, transition_event,
};
use std::fmt;

/// The statuses of `payments.status`, mirrored by the CHECK constraint in `schema.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Status {
    #[default]
    Pending,
    Completed,
    NotCompleted,
    Timeout,
    Mismatch,
    InvalidToken,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Completed,
        Status::NotCompleted,
        Status::Timeout,
        Status::Mismatch,
        Status::InvalidToken,
    ];

    /// The database and CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::NotCompleted => "notcompleted",
            Self::Timeout => "timeout",
            Self::Mismatch => "mismatch",
            Self::InvalidToken => "invalid_token",
        }
    }

    /// The outbox event type of a transition to this status. (Nothing transitions *to*
    /// `pending` but a requeue, which emits no event; the arm keeps the match total.)
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Pending => "payment.pending",
            Self::Completed => "payment.completed",
            Self::NotCompleted => "payment.notcompleted",
            Self::Timeout => "payment.timeout",
            Self::Mismatch => "payment.mismatch",
            Self::InvalidToken => "payment.invalid_token",
        }
    }

    /// The outbox event type of a payout's (or withdrawal's) transition to this status:
    /// the shop tells money out from money in by the type alone.
    pub fn payout_event_type(self) -> &'static str {
        match self {
            Self::Pending => "payout.pending",
            Self::Completed => "payout.completed",
            Self::NotCompleted => "payout.notcompleted",
            Self::Timeout => "payout.timeout",
            Self::Mismatch => "payout.mismatch",
            Self::InvalidToken => "payout.invalid_token",
        }
    }

    /// Parses the database spelling; unknown text is `None`, never a panic.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Only `timeout` and `invalid_token` may be put back to `pending` by `requeue`:
    /// `completed`/`notcompleted` never change at LigdiCash, and a mismatch needs a human.
    pub fn is_requeueable(self) -> bool {
        matches!(self, Self::Timeout | Self::InvalidToken)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest token accepted; LigdiCash tokens are JWT-like strings of a few hundred bytes.
pub const MAX_TOKEN_LEN: usize = 2048;

/// A payment as the shop hands it over, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub token: String,
    pub transaction_id: Option<String>,
    pub expected_amount: Option<i64>,
    /// Money in (the default) or out: decides the confirm endpoint and the schedule.
    pub kind: Kind,
}

impl NewPayment {
    /// Validates each field and names the one at fault.
    pub fn parse(
        token: &str,
        transaction_id: Option<&str>,
        amount: Option<&str>,
    ) -> Result<Self, String> {
        let token = parse_token(token)?;
        let transaction_id = match transaction_id.map(str::trim) {
            Some("") => return Err("transaction-id: must not be empty when given".into()),
            Some(t) if t.len() > 255 => return Err("transaction-id: longer than 255 bytes".into()),
            other => other.map(str::to_owned),
        };
        let expected_amount = amount.map(parse_amount).transpose()?;
        Ok(Self {
            token: token.to_owned(),
            transaction_id,
            expected_amount,
            kind: Kind::Invoice,
        })
    }

    /// The same payment, of `kind`.
    pub fn of_kind(self, kind: Kind) -> Self {
        Self { kind, ..self }
    }
}

/// A token as given on the command line or to `enqueue`: trimmed, non-empty, at most
/// [`MAX_TOKEN_LEN`] bytes, no control characters. Every command taking a token goes
/// through this one rule, so `show " tok "` finds what `enqueue " tok "` stored.
pub fn parse_token(text: &str) -> Result<&str, String> {
    let token = text.trim();
    if token.is_empty() {
        return Err("token: must not be empty".into());
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(format!("token: longer than {MAX_TOKEN_LEN} bytes"));
    }
    if token.chars().any(char::is_control) {
        return Err("token: contains control characters".into());
    }
    Ok(token)
}

/// An XOF amount: a positive whole number (XOF has no minor unit).
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let value: i64 = text
        .parse()
        .map_err(|_| format!("amount: {text:?} is not a whole number of XOF"))?;
    if value <= 0 {
        return Err(format!("amount: {value} must be positive"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("nocompleted"), None);
    }

    #[test]
    fn bad_fields_are_named() {
        let long = "x".repeat(MAX_TOKEN_LEN + 1);
        let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            ("", None, None, "token"),
            ("  ", None, None, "token"),
            (&long, None, None, "token"),
            ("a\nb", None, None, "token"),
            ("t", Some(""), None, "transaction-id"),
            ("t", None, Some("0"), "amount"),
            ("t", None, Some("-5"), "amount"),
            ("t", None, Some("12.5"), "amount"),
            ("t", None, Some("abc"), "amount"),
        ];
        for (token, tx, amount, field) in cases {
            let err = NewPayment::parse(token, *tx, *amount).unwrap_err();
            assert!(err.starts_with(field), "{err} should name {field}");
        }
    }

    #[test]
    fn good_input_is_normalised() {
        let p = NewPayment::parse(" tok ", Some(" ORD-1 "), Some(" 5000 ")).unwrap();
        assert_eq!(p.token, "tok");
        assert_eq!(p.transaction_id.as_deref(), Some("ORD-1"));
        assert_eq!(p.expected_amount, Some(5000));
    }
}
