//! The steps of a payment in the order they happened: created, each confirm call, each
//! callback, its final status, each event and each delivery try, each case opened and
//! closed. What a dispute is answered with: who said what, when.

use super::Language;
use super::words::words;
use crate::store::model::evidence::{AttemptRow, CallbackRow, DeliveryTry};
use crate::store::{CaseRow, EventRow, EvidenceFacts, PaymentRow};
use crate::time::Millis;

/// One step.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// The shop handed the payment over.
    Created,
    Confirm(&'a AttemptRow),
    Callback(&'a CallbackRow),
    /// LigdiCash's final status (as it stands now).
    Resolved,
    Event(&'a EventRow),
    Delivery(&'a EventRow, &'a DeliveryTry),
    CaseOpened(&'a CaseRow),
    CaseClosed(&'a CaseRow),
}

/// A step and when it happened.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub at: Millis,
    pub step: Step<'a>,
}

impl Step<'_> {
    /// The step's name in the JSON.
    pub fn code(&self) -> &'static str {
        match self {
            Step::Created => "created",
            Step::Confirm(_) => "confirm",
            Step::Callback(_) => "callback",
            Step::Resolved => "final_status",
            Step::Event(_) => "event",
            Step::Delivery(..) => "delivery",
            Step::CaseOpened(_) => "case_opened",
            Step::CaseClosed(_) => "case_closed",
        }
    }

    /// Within one millisecond, the order the steps happen in: a call before the status it
    /// gave, the status before its event, an event before its delivery.
    fn rank(&self) -> u8 {
        match self {
            Step::Created => 0,
            Step::Callback(_) => 1,
            Step::Confirm(_) => 2,
            Step::Resolved => 3,
            Step::Event(_) => 4,
            Step::CaseOpened(_) => 5,
            Step::Delivery(..) => 6,
            Step::CaseClosed(_) => 7,
        }
    }

    /// One line saying what happened, in `language`.
    pub fn summary(&self, p: &PaymentRow, language: Language) -> String {
        let w = words(language);
        // French puts a no-break space before a colon.
        let colon = crate::report::i18n::colon(language);
        let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
        match self {
            Step::Created => format!(
                "{} {} ({} {}, {} {})",
                w.enqueued,
                p.kind,
                w.order,
                or_dash(p.transaction_id.as_deref()),
                w.expected,
                p.expected_amount
                    .map_or("-".to_owned(), |a| format!("{a} XOF"))
            ),
            Step::Confirm(a) => {
                let http = a
                    .http_status
                    .map_or(w.no_answer.to_owned(), |s| format!("HTTP {s}"));
                let said = match (&a.response_code, &a.provider_status) {
                    (None, None) => String::new(),
                    (code, status) => format!(
                        ", {} {} / {}",
                        w.answered,
                        or_dash(code.as_deref()),
                        or_dash(status.as_deref())
                    ),
                };
                let error = a
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                format!(
                    "{}: {http}, {} ms{said} → {}{error}",
                    w.confirm, a.latency_ms, a.outcome
                )
            }
            Step::Callback(c) => format!(
                "{} {} {} ({}), {} {}, {} {}",
                w.callback,
                w.from,
                or_dash(c.source.as_deref()),
                c.content_type,
                w.saying,
                or_dash(c.said_status.as_deref()),
                w.matched_by,
                or_dash(c.matched_by.as_deref())
            ),
            Step::Resolved => format!(
                "{}{colon}{}{}",
                w.final_status,
                p.status,
                p.status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Step::Event(e) => format!("{} {} ({})", w.event, e.kind, e.id),
            Step::Delivery(e, t) => format!(
                "{} {} → {}{colon}{}{}",
                w.delivery,
                e.kind,
                t.sink,
                t.result,
                t.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
            Step::CaseOpened(c) => format!("{} {} (#{})", w.case_opened, c.kind.as_str(), c.id),
            Step::CaseClosed(c) => {
                let record = c.closing.as_ref();
                let decision = record
                    .and_then(|r| r.decision)
                    .map_or(w.by_itself, |d| d.as_str());
                format!(
                    "{} #{}{colon}{decision}, {} {}{colon}{}",
                    w.case_closed,
                    c.id,
                    w.by,
                    record.map_or("-", |r| r.by.as_str()),
                    record.map_or("", |r| r.note.as_str())
                )
            }
        }
    }
}

/// Every step of the payment, oldest first.
pub fn timeline(f: &EvidenceFacts) -> Vec<Entry<'_>> {
    let p = &f.payment;
    let mut steps = vec![Entry {
        at: p.created_at,
        step: Step::Created,
    }];
    let at = |at, step| Entry { at, step };
    steps.extend(f.attempts.iter().map(|a| at(a.at, Step::Confirm(a))));
    steps.extend(
        f.callbacks
            .iter()
            .map(|c| at(c.received_at, Step::Callback(c))),
    );
    if let Some(resolved) = p.resolved_at.filter(|_| p.status != "pending") {
        steps.push(at(resolved, Step::Resolved));
    }
    for e in &f.events {
        steps.push(at(e.event.created_at, Step::Event(&e.event)));
        steps.extend(
            e.tries
                .iter()
                .map(|t| at(t.at, Step::Delivery(&e.event, t))),
        );
    }
    for c in &f.cases {
        steps.push(at(c.opened_at, Step::CaseOpened(c)));
        if let Some(closed) = c.closed_at {
            steps.push(at(closed, Step::CaseClosed(c)));
        }
    }
    // Stable: steps of one kind keep the store's order within a millisecond.
    steps.sort_by_key(|e| (e.at, e.step.rank()));
    steps
}
