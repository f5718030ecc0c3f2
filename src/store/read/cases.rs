//! Reading cases and the evidence of a payment, once for both databases (as the rest of
//! [`super`]): the column lists, the conditions both run as they are, and the readers.

use super::Cells;
use crate::payment::case::need::{Open, Seen};
use crate::payment::case::{CaseKind, Decision};
use crate::store::model::evidence::{AttemptRow, CallbackRow, DeliveryTry};
use crate::store::{CaseCandidate, CaseRecord, CaseRow};

/// The final statuses whose change may open a case (their own, or a contradiction's whose
/// re-check upheld them): payments in them changed since the sweep's mark are looked at.
pub const CASE_STATUSES: &str = "('mismatch', 'timeout', 'invalid_token', 'notcompleted')";

/// The spellings of `completed` and `notcompleted` a callback's status is read as
/// (`payment::callback::Said::parse`), lower-cased and trimmed.
const SAID_COMPLETED: &str = "('completed')";
const SAID_NOTCOMPLETED: &str = "('notcompleted', 'nocompleted')";

/// Whether a callback received since the payment `p` got its final status said one of
/// `spellings`: through `callbacks_payment`, a few rows per payment.
fn said_since_final(spellings: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM callbacks cb WHERE cb.payment_id = p.id \
         AND cb.received_at >= p.resolved_at AND lower(trim(cb.said_status)) IN {spellings})"
    )
}

/// The columns [`case_candidate`] reads, of a payment `p` and its open case `o`.
pub fn candidate_columns() -> String {
    format!(
        "p.id, p.token, p.kind, p.status, p.created_at, p.requeued_at, p.resolved_at, \
         p.overdue_at, p.recheck_at IS NOT NULL, {}, {}, o.id, o.kind, o.since, o.payment_status",
        said_since_final(SAID_COMPLETED),
        said_since_final(SAID_NOTCOMPLETED)
    )
}

/// A case kind column.
fn case_kind<C: Cells>(c: &mut C, i: usize) -> Result<CaseKind, C::Error> {
    let text = c.text0(i)?;
    CaseKind::parse(&text).ok_or_else(|| c.unreadable(i, format!("unknown case kind {text:?}")))
}

/// A payment the sweep looks at, selected with [`candidate_columns`]: its id, its token,
/// what the sweep sees, and its open case's id with the case; the cases it had are read
/// apart (left empty here).
pub fn case_candidate<C: Cells>(c: &mut C) -> Result<CaseCandidate, C::Error> {
    let created_at = c.int0(4)?;
    let requeued_at = c.int(5)?;
    let seen = Seen {
        kind: c.kind(2)?,
        status: c.status(3)?,
        window_start: requeued_at.map_or(created_at, |at| at.max(created_at)),
        resolved_at: c.int(6)?,
        overdue_at: c.int(7)?,
        recheck_pending: c.flag(8)?,
        said_completed: c.flag(9)?,
        said_notcompleted: c.flag(10)?,
    };
    let open = match c.int(11)? {
        Some(id) => Some((
            id,
            Open {
                kind: case_kind(c, 12)?,
                since: c.int0(13)?,
                status: c.status(14)?,
            },
        )),
        None => None,
    };
    Ok(CaseCandidate {
        payment_id: c.int0(0)?,
        token: c.text0(1)?,
        seen,
        open,
        had: Vec::new(),
    })
}

/// The columns [`case_row`] reads, of a case `c`, its payment `p` and its latest record
/// `d`; joined by [`CASE_FROM`].
pub const CASE_COLUMNS: &str = "c.id, c.kind, c.since, c.opened_at, c.closed_at, \
    c.payment_status, p.token, p.kind, p.transaction_id, p.status, p.expected_amount, \
    p.amount, d.at, d.decision, d.note, d.decided_by";

/// A case with its payment and its latest record (a case closes once: its one record).
pub const CASE_FROM: &str = "cases c JOIN payments p ON p.id = c.payment_id \
    LEFT JOIN case_decisions d ON d.id = \
    (SELECT max(x.id) FROM case_decisions x WHERE x.case_id = c.id)";

/// A case selected with [`CASE_COLUMNS`] from [`CASE_FROM`].
pub fn case_row<C: Cells>(c: &mut C) -> Result<CaseRow, C::Error> {
    let closing = match c.int(12)? {
        Some(at) => {
            let decision = match c.text(13)? {
                Some(text) => Some(
                    Decision::parse(&text)
                        .ok_or_else(|| c.unreadable(13, format!("unknown decision {text:?}")))?,
                ),
                None => None,
            };
            Some(CaseRecord {
                at,
                decision,
                note: c.text0(14)?,
                by: c.text0(15)?,
            })
        }
        None => None,
    };
    Ok(CaseRow {
        id: c.int0(0)?,
        kind: case_kind(c, 1)?,
        since: c.int0(2)?,
        opened_at: c.int0(3)?,
        closed_at: c.int(4)?,
        opened_on: c.status(5)?,
        token: c.text0(6)?,
        payment_kind: c.kind(7)?,
        transaction_id: c.text(8)?,
        status: c.status(9)?,
        expected_amount: c.int(10)?,
        amount: c.int(11)?,
        closing,
    })
}

/// The columns [`attempt_row`] reads, of `confirm_attempts` (the HTTP status as a 64-bit
/// integer on both databases).
pub const ATTEMPT_COLUMNS: &str = "at, latency_ms, CAST(http_status AS bigint), response_code, \
    provider_status, outcome, error, answer";

/// A confirm call selected with [`ATTEMPT_COLUMNS`].
pub fn attempt_row<C: Cells>(c: &mut C) -> Result<AttemptRow, C::Error> {
    Ok(AttemptRow {
        at: c.int0(0)?,
        latency_ms: c.int0(1)?,
        http_status: c.int(2)?,
        response_code: c.text(3)?,
        provider_status: c.text(4)?,
        outcome: c.text0(5)?,
        error: c.text(6)?,
        answer: c.text(7)?,
    })
}

/// The columns [`callback_row`] reads, of `callbacks`.
pub const CALLBACK_COLUMNS: &str =
    "received_at, content_type, source, body, matched_by, said_status";

/// A callback selected with [`CALLBACK_COLUMNS`].
pub fn callback_row<C: Cells>(c: &mut C) -> Result<CallbackRow, C::Error> {
    Ok(CallbackRow {
        received_at: c.int0(0)?,
        content_type: c.text0(1)?,
        source: c.text(2)?,
        body: c.text0(3)?,
        matched_by: c.text(4)?,
        said_status: c.text(5)?,
    })
}

/// The columns [`delivery_try`] reads, of `delivery_attempts`.
pub const TRY_COLUMNS: &str = "event_seq, sink, at, result, error";

/// A delivery try selected with [`TRY_COLUMNS`], with its event's sequence number.
pub fn delivery_try<C: Cells>(c: &mut C) -> Result<(i64, DeliveryTry), C::Error> {
    Ok((
        c.int0(0)?,
        DeliveryTry {
            sink: c.text0(1)?,
            at: c.int0(2)?,
            result: c.text0(3)?,
            error: c.text(4)?,
        },
    ))
}
