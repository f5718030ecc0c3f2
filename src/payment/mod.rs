//! Domain types of a payment, parsed once at the edge ("parse, don't validate").

pub mod callback;
pub mod case;
mod kind;
mod new_payment;
mod outcome;

pub use kind::Kind;
pub use new_payment::{
    Field, MAX_TOKEN_LEN, NewPayment, Refused, amount_refused, amount_too_large, parse_amount,
    parse_token,
};

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
}
