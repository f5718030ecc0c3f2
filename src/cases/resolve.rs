//! A person's decision on a case: the command line's `resolve` and the API's
//! `POST /v1/payments/{token}/resolution` both come here. The decision must fit the case
//! (`Decision::fits`, the pure policy), a note says why, and the record names who: the
//! Unix user, or the API token. It closes the open case once, beside LigdiCash's verdict,
//! which it never changes; its `case.resolved` event is written in the same transaction.

use crate::payment::case::Decision;
use crate::store::{CaseRow, Db, Resolution, StoreError};
use crate::time::Millis;
use std::sync::Arc;

/// The longest note kept, in characters: a sentence or a paragraph, not a file.
pub const MAX_NOTE: usize = 2_000;

/// Why a decision was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no payment with token {0:?}")]
    NoSuchPayment(String),
    #[error("the payment {0:?} has no open case (`cases --status closed` lists the closed ones)")]
    NoOpenCase(String),
    #[error("unknown decision {0:?}: one of {list}", list = all_decisions())]
    UnknownDecision(String),
    #[error(
        "the decision {decision} does not fit a {kind} case on money {way}: it may be {fitting}"
    )]
    DoesNotFit {
        decision: &'static str,
        kind: &'static str,
        way: &'static str,
        fitting: String,
    },
    #[error("a note is required, saying why (at most {MAX_NOTE} characters)")]
    BadNote,
    #[error("the case was closed meanwhile (by a person, or because the payment settled)")]
    ClosedMeanwhile,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn all_decisions() -> String {
    let names: Vec<&str> = Decision::ALL.iter().map(|d| d.as_str()).collect();
    names.join(", ")
}

/// Closes the open case of the payment `token` with `decision` and `note`, recorded as
/// made by `by` at `now`, its event addressed to `sinks`. Returns the closed case.
pub async fn resolve(
    db: &Db,
    token: &str,
    decision: &str,
    note: &str,
    by: String,
    now: Millis,
    sinks: Arc<Vec<String>>,
) -> Result<CaseRow, ResolveError> {
    let decision = Decision::parse(decision.trim())
        .ok_or_else(|| ResolveError::UnknownDecision(decision.to_owned()))?;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE {
        return Err(ResolveError::BadNote);
    }
    let Some(case) = db.open_case(token.to_owned()).await? else {
        return Err(match db.get(token.to_owned()).await? {
            Some(_) => ResolveError::NoOpenCase(token.to_owned()),
            None => ResolveError::NoSuchPayment(token.to_owned()),
        });
    };
    if !decision.fits(case.kind, case.payment_kind) {
        let fitting: Vec<&str> = Decision::fitting(case.kind, case.payment_kind)
            .iter()
            .map(|d| d.as_str())
            .collect();
        return Err(ResolveError::DoesNotFit {
            decision: decision.as_str(),
            kind: case.kind.as_str(),
            way: if case.payment_kind.is_money_out() {
                "out"
            } else {
                "in"
            },
            fitting: fitting.join(", "),
        });
    }
    let resolution = Resolution {
        decision,
        note: note.to_owned(),
        by,
    };
    db.resolve_case(case.id, resolution, now, sinks)
        .await?
        .ok_or(ResolveError::ClosedMeanwhile)
}
