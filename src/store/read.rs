//! Reading rows into the model's types, once for both databases: each backend hands its
//! row over as [`Cells`] (SQLite leniently, where its type affinity lets a value of the
//! wrong type in; PostgreSQL strictly, its column types refuse one at INSERT), and the one
//! reader of each type below takes its columns in the order of that type's column list.
//! The lists and the few conditions both databases run as they are live here too.

pub mod cases;

use crate::payment::{DuePayment, Kind, Status};
use crate::store::{EventRow, PaymentFact, PaymentFacts, PaymentRow, PayoutFact};
use crate::time::Millis;

/// A row read column by column, failing with the backend's own error.
pub trait Cells {
    type Error;

    /// An integer column; `None` for NULL (or, on SQLite, a value of another type, which
    /// the row then lists in [`Cells::take_bad`]).
    fn int(&mut self, i: usize) -> Result<Option<i64>, Self::Error>;
    /// A text column, as [`Cells::int`] for integers.
    fn text(&mut self, i: usize) -> Result<Option<String>, Self::Error>;
    /// A boolean (an SQL condition's value).
    fn flag(&mut self, i: usize) -> Result<bool, Self::Error>;
    /// The error of a value its column's constraints should have kept out.
    fn unreadable(&self, i: usize, what: String) -> Self::Error;
    /// The columns that held a value of the wrong type, with what they held.
    fn take_bad(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// A status column: the CHECK lists keep any other text out, and one that got in
    /// anyway is an error reading the row, never a panic.
    fn status(&mut self, i: usize) -> Result<Status, Self::Error> {
        let text = self.text(i)?.unwrap_or_default();
        Status::parse(&text).ok_or_else(|| self.unreadable(i, format!("unknown status {text:?}")))
    }

    /// A kind column, as [`Cells::status`].
    fn kind(&mut self, i: usize) -> Result<Kind, Self::Error> {
        let text = self.text(i)?.unwrap_or_default();
        Kind::parse(&text).ok_or_else(|| self.unreadable(i, format!("unknown kind {text:?}")))
    }

    /// A NOT NULL integer.
    fn int0(&mut self, i: usize) -> Result<i64, Self::Error> {
        Ok(self.int(i)?.unwrap_or_default())
    }

    /// A NOT NULL text.
    fn text0(&mut self, i: usize) -> Result<String, Self::Error> {
        Ok(self.text(i)?.unwrap_or_default())
    }
}

/// The columns [`due_payment`] reads, in its order.
#[macro_export]
#[doc(hidden)]
macro_rules! due_columns {
    () => {
        "id, token, transaction_id, expected_amount, attempts, not_found_streak, created_at, \
         requeued_at, status_reason, status, last_confirm_at, kind, overdue_at IS NOT NULL"
    };
}
pub use due_columns;

/// A payment the poller (or a re-check) may confirm, selected with [`due_columns!`].
pub fn due_payment<C: Cells>(c: &mut C) -> Result<DuePayment, C::Error> {
    let created_at: Millis = c.int0(6)?;
    let requeued_at = c.int(7)?;
    Ok(DuePayment {
        id: c.int0(0)?,
        token: c.text0(1)?,
        transaction_id: c.text(2)?,
        expected_amount: c.int(3)?,
        attempts: c.int0(4)?,
        not_found_streak: c.int0(5)?,
        window_start: requeued_at.map_or(created_at, |at| at.max(created_at)),
        claimed_reason: c.text(8)?,
        status: c.status(9)?,
        last_confirm_at: c.int(10)?,
        kind: c.kind(11)?,
        overdue: c.flag(12)?,
        send_by: None,
    })
}

/// The columns [`payment_row`] reads, in its order.
pub const ROW_COLUMNS: &str = "id, token, transaction_id, expected_amount, status, \
    status_reason, attempts, next_poll_at, last_confirm_at, created_at, updated_at, \
    resolved_at, last_error, provider_status, amount, operator_id, operator_name, customer, \
    request_id, external_id, confirmed_transaction_id, oreference, provider_date, \
    raw_response, kind, overdue_at";

/// A full row selected with [`ROW_COLUMNS`]; on SQLite, values of the wrong type are left
/// empty and named in `bad_columns`.
pub fn payment_row<C: Cells>(c: &mut C) -> Result<PaymentRow, C::Error> {
    let mut row = PaymentRow {
        id: c.int0(0)?,
        token: c.text0(1)?,
        transaction_id: c.text(2)?,
        expected_amount: c.int(3)?,
        status: c.text0(4)?,
        status_reason: c.text(5)?,
        attempts: c.int0(6)?,
        next_poll_at: c.int(7)?,
        last_confirm_at: c.int(8)?,
        created_at: c.int0(9)?,
        updated_at: c.int0(10)?,
        resolved_at: c.int(11)?,
        last_error: c.text(12)?,
        provider_status: c.text(13)?,
        amount: c.int(14)?,
        operator_id: c.text(15)?,
        operator_name: c.text(16)?,
        customer: c.text(17)?,
        request_id: c.text(18)?,
        external_id: c.text(19)?,
        confirmed_transaction_id: c.text(20)?,
        oreference: c.text(21)?,
        provider_date: c.text(22)?,
        raw_response: c.text(23)?,
        kind: c.text0(24)?,
        overdue_at: c.int(25)?,
        bad_columns: Vec::new(),
    };
    row.bad_columns = c.take_bad();
    Ok(row)
}

/// The payment columns an event shows, in [`payment_facts`]'s order.
pub const FACT_COLUMNS: &str = "token, transaction_id, status, status_reason, expected_amount, \
    amount, operator_id, operator_name, customer, request_id, external_id, provider_date, \
    created_at, resolved_at, kind";

/// What a payment event says about its payment, selected with [`FACT_COLUMNS`].
pub fn payment_facts<C: Cells>(c: &mut C) -> Result<PaymentFacts, C::Error> {
    Ok(PaymentFacts {
        token: c.text0(0)?,
        transaction_id: c.text(1)?,
        status: c.text0(2)?,
        status_reason: c.text(3)?,
        expected_amount: c.int(4)?,
        amount: c.int(5)?,
        operator_id: c.text(6)?,
        operator_name: c.text(7)?,
        customer: c.text(8)?,
        request_id: c.text(9)?,
        external_id: c.text(10)?,
        provider_date: c.text(11)?,
        created_at: c.int0(12)?,
        resolved_at: c.int(13)?,
        kind: c.text0(14)?,
    })
}

/// The columns [`event_row`] reads, in its order.
pub const EVENT_COLUMNS: &str = "seq, id, type, payment_token, payload, created_at, state, \
    attempts, next_attempt_at, last_error, delivered_at";

/// An event as stored, selected with [`EVENT_COLUMNS`].
pub fn event_row<C: Cells>(c: &mut C) -> Result<EventRow, C::Error> {
    Ok(EventRow {
        seq: c.int0(0)?,
        id: c.text0(1)?,
        kind: c.text0(2)?,
        payment_token: c.text(3)?,
        payload: c.text0(4)?,
        created_at: c.int0(5)?,
        state: c.text0(6)?,
        attempts: c.int0(7)?,
        next_attempt_at: c.int(8)?,
        last_error: c.text(9)?,
        delivered_at: c.int(10)?,
    })
}

/// An invoice as the report reads it: `token, transaction_id, request_id, status,
/// status_reason, expected_amount, amount, operator (NULL when empty), created_at,
/// resolved_at, requeued, expected_amount as written` (each backend writes the list in its
/// SQL, SQLite reading an `expected_amount` of the wrong type as none and as written in the
/// last column, PostgreSQL's last column always NULL).
pub fn payment_fact<C: Cells>(c: &mut C) -> Result<PaymentFact, C::Error> {
    Ok(PaymentFact {
        token: c.text0(0)?,
        transaction_id: c.text(1)?,
        request_id: c.text(2)?,
        status: c.text0(3)?,
        status_reason: c.text(4)?,
        expected_amount: c.int(5)?,
        amount: c.int(6)?,
        operator_name: c.text(7)?,
        created_at: c.int0(8)?,
        resolved_at: c.int(9)?,
        requeued: c.flag(10)?,
        expected_as_written: c.text(11)?,
    })
}

/// A payout as the report reads it: `token, kind, transaction_id, status, status_reason,
/// expected_amount, amount, created_at, resolved_at, overdue_at, operator (NULL when
/// empty), expected_amount as written` (as [`payment_fact`]).
pub fn payout_fact<C: Cells>(c: &mut C) -> Result<PayoutFact, C::Error> {
    Ok(PayoutFact {
        token: c.text0(0)?,
        kind: c.text0(1)?,
        transaction_id: c.text(2)?,
        status: c.text0(3)?,
        status_reason: c.text(4)?,
        expected_amount: c.int(5)?,
        amount: c.int(6)?,
        created_at: c.int0(7)?,
        resolved_at: c.int(8)?,
        overdue_at: c.int(9)?,
        operator_name: c.text(10)?,
        expected_as_written: c.text(11)?,
    })
}

/// Which of a day's callbacks (grouped by payment and claim: `said`, and the last one's
/// time `last_at`) contradict their payment's status as it stands: received after that
/// status was given (a callback before it was news, not a contradiction), and claiming the
/// opposite.
pub const CONTRADICTED_WHERE: &str = "last_at >= resolved_at AND (\
    (said = 'completed' AND status IN ('notcompleted', 'timeout', 'invalid_token')) \
    OR (said = 'notcompleted' AND status IN ('completed', 'mismatch')))";

/// Rows of the evidence whose `payment_id` this names are kept whatever their age: the
/// payment has an open case (through the open cases' index).
pub const UNDER_OPEN_CASE: &str =
    "payment_id IN (SELECT payment_id FROM cases WHERE closed_at IS NULL)";

/// Delivery tries of events of a payment with an open case, by `event_seq`.
pub const TRIES_UNDER_OPEN_CASE: &str = "event_seq IN (SELECT e.seq FROM cases c \
    JOIN payments p ON p.id = c.payment_id JOIN events e ON e.payment_token = p.token \
    WHERE c.closed_at IS NULL)";
