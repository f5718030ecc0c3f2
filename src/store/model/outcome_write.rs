//! What a confirm outcome writes, decided once for both databases: the answer's columns
//! (with the rule for the amount), the answer the attempt log keeps, and the event a final
//! write announces. A backend binds these values into its SQL; it decides nothing.

use crate::payment::{Change, ConfirmOutcome, Status, requeued_from_timeout, transition_event};
use std::borrow::Cow;

/// The most of an answer's body one confirm call keeps in the attempt log. LigdiCash's
/// answers are well under 1 KiB; a proxy's error page or a broken answer can be any size
/// (up to the transport's limit), and the log keeps one per call, for as long as
/// `attempt_retention` says.
pub const LOGGED_ANSWER_BYTES: usize = 8 * 1024;

/// The answer of `o` as its attempt-log row keeps it (`confirm_attempts.answer`): the
/// response body as received, whole up to [`LOGGED_ANSWER_BYTES`], else its first bytes
/// cut on a character boundary and a marker saying how long it was; `None` when no
/// answer came. Only the response body: the API key and token went in request headers.
pub fn logged_answer(o: &ConfirmOutcome) -> Option<Cow<'_, str>> {
    let body = o.raw_body.as_deref()?;
    if body.len() <= LOGGED_ANSWER_BYTES {
        return Some(Cow::Borrowed(body));
    }
    let mut end = LOGGED_ANSWER_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    Some(Cow::Owned(format!(
        "{}\n[… {end} of {} bytes kept]",
        &body[..end],
        body.len()
    )))
}

/// The answer's columns as one outcome writes them. Each is written as
/// `coalesce(new, column)`, so a field a later answer leaves empty keeps its last value,
/// except the amount when [`AnswerColumns::replaces_amount`] says otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerColumns<'a> {
    pub status: Option<&'a str>,
    pub amount: Option<i64>,
    /// The amount replaces the stored one, empty included. True for a final write whose
    /// answer has a status: an amount an earlier pending answer carried (LigdiCash repeats
    /// the invoice's) is not money paid, and a final answer with no readable amount must not
    /// look paid in the report. A final write without a status (no answer, an error) keeps
    /// the last amount.
    pub replaces_amount: bool,
    pub operator_id: Option<&'a str>,
    pub operator_name: Option<&'a str>,
    pub customer: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub transaction_id: Option<&'a str>,
    pub oreference: Option<&'a str>,
    pub provider_date: Option<&'a str>,
    pub raw_response: Option<&'a str>,
}

impl<'a> AnswerColumns<'a> {
    pub fn of(o: &'a ConfirmOutcome) -> Self {
        let a = o.answer.as_ref();
        let text = |f: fn(&crate::ligdicash::ConfirmAnswer) -> &Option<String>| {
            a.and_then(|a| f(a).as_deref())
        };
        let status = text(|a| &a.status);
        let finalize = matches!(o.change, Change::Finalize { .. });
        Self {
            status,
            amount: a
                .and_then(|a| a.amount)
                .filter(|_| !finalize || status.is_some()),
            replaces_amount: finalize && status.is_some(),
            operator_id: text(|a| &a.operator_id),
            operator_name: text(|a| &a.operator_name),
            customer: text(|a| &a.customer),
            request_id: text(|a| &a.request_id),
            external_id: text(|a| &a.external_id),
            transaction_id: text(|a| &a.custom_transaction_id),
            oreference: text(|a| &a.oreference),
            provider_date: text(|a| &a.date),
            raw_response: o.raw_body.as_deref(),
        }
    }
}

/// The outbox event of `o`'s final write to `status`, if it has one ([`transition_event`]:
/// one table for every caller; a completion of a payment requeued from `timeout` is a late
/// completion).
pub fn final_event(o: &ConfirmOutcome, status: Status) -> Option<&'static str> {
    let late = requeued_from_timeout(o.claimed_reason.as_deref());
    transition_event(o.kind, o.from, status, late)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::DuePayment;
    use crate::store::testing::helpers::outcome;

    fn pending() -> DuePayment {
        DuePayment {
            id: 7,
            token: "tok".into(),
            ..DuePayment::default()
        }
    }

    #[test]
    fn a_final_answer_replaces_the_amount_even_with_none() {
        let o = outcome(&pending())
            .answer("completed", None)
            .finalize(Status::Completed);
        let c = AnswerColumns::of(&o);
        assert_eq!((c.amount, c.replaces_amount), (None, true));
        let o = outcome(&pending())
            .answer("completed", Some(4000))
            .finalize(Status::Completed);
        let c = AnswerColumns::of(&o);
        assert_eq!((c.amount, c.replaces_amount), (Some(4000), true));
    }

    #[test]
    fn a_final_write_without_a_status_keeps_the_last_amount() {
        let mut o = outcome(&pending())
            .answer("completed", Some(4000))
            .finalize(Status::InvalidToken);
        if let Some(a) = o.answer.as_mut() {
            a.status = None;
        }
        let c = AnswerColumns::of(&o);
        assert_eq!((c.status, c.amount, c.replaces_amount), (None, None, false));
    }

    #[test]
    fn a_pending_answer_only_fills_in() {
        let o = outcome(&pending())
            .answer("pending", Some(5000))
            .reschedule(10);
        let c = AnswerColumns::of(&o);
        assert_eq!(
            (c.status, c.amount, c.replaces_amount),
            (Some("pending"), Some(5000), false)
        );
        assert_eq!(c.raw_response, o.raw_body.as_deref());
        assert_eq!(c.operator_name, Some("Orange Money"));
    }

    #[test]
    fn the_logged_answer_is_the_body_whole_up_to_the_limit() {
        let mut o = outcome(&pending())
            .answer("pending", Some(5000))
            .untouched();
        assert_eq!(logged_answer(&o).as_deref(), o.raw_body.as_deref());
        o.raw_body = Some("x".repeat(LOGGED_ANSWER_BYTES));
        assert!(
            matches!(logged_answer(&o), Some(Cow::Borrowed(b)) if b.len() == LOGGED_ANSWER_BYTES)
        );
        o.raw_body = None;
        assert_eq!(logged_answer(&o), None, "no answer came");
    }

    #[test]
    fn a_longer_answer_is_cut_on_a_character_boundary_with_a_marker() {
        let mut o = outcome(&pending()).untouched();
        // "é" is two bytes: the limit falls inside the last one that fits.
        let body = format!("x{}", "é".repeat(LOGGED_ANSWER_BYTES));
        o.raw_body = Some(body.clone());
        let kept = logged_answer(&o).unwrap();
        let (head, marker) = kept.split_once('\n').unwrap();
        assert_eq!(head.len(), LOGGED_ANSWER_BYTES - 1);
        assert!(body.starts_with(head));
        let total = body.len();
        assert_eq!(marker, format!("[… {} of {total} bytes kept]", head.len()));
    }
}
