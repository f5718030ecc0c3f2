//! What the conformance tests share, all through [`Db`]: a payment enqueued and claimed as
//! the poller would, an outcome builder, and short reads of what the store wrote.
//!
//! The clock is fixed: a payment is enqueued and claimed at [`T`], its confirm is sent at
//! [`SENT`] and answered at once (so PostgreSQL's floor, kept from the answer, and SQLite's,
//! kept from the send, fall at the same time), the outcome is written at [`WRITTEN`], and
//! [`LATER`] is past the 3 s floor, when a payment may be claimed again on either database.

use crate::ligdicash::ConfirmAnswer;
use crate::payment::{Applied, Change, ConfirmOutcome, DuePayment, Kind, NewPayment, Status};
use crate::store::{Db, PaymentRow};
use crate::time::Millis;
use std::collections::HashSet;
use std::sync::Arc;

pub const T: Millis = 1_700_000_000_000;
pub const SENT: Millis = T + 1_000;
pub const WRITTEN: Millis = T + 2_000;
pub const LATER: Millis = T + 10_000;

/// A payment of `kind` for the order `ord-{token}`, of 5000 XOF.
pub fn new_payment(token: &str, kind: Kind) -> NewPayment {
    NewPayment::parse(token, Some(&format!("ord-{token}")), Some("5000"))
        .expect("a valid payment")
        .of_kind(kind)
}

/// Enqueues the invoice `token` due at [`T`] and claims it then, as the poller would.
pub async fn due_payment(db: &Db, token: &str) -> DuePayment {
    due_of_kind(db, token, Kind::Invoice).await
}

/// [`due_payment`] of another kind.
pub async fn due_of_kind(db: &Db, token: &str, kind: Kind) -> DuePayment {
    let enqueued = db.enqueue(new_payment(token, kind), T, T).await;
    enqueued.expect("enqueue");
    claim(db, token, T).await
}

/// Claims `token`, due at `at`, as the poller's scan would, and no other payment: on
/// PostgreSQL a scan claims every row it returns, so the others are skipped as in flight.
pub async fn claim(db: &Db, token: &str, at: Millis) -> DuePayment {
    let others: HashSet<i64> = db
        .list(None, 10_000)
        .await
        .expect("list")
        .into_iter()
        .filter(|r| r.token != token)
        .map(|r| r.id)
        .collect();
    let mut due = db.due(at, 1, others).await.expect("due");
    assert_eq!(tokens(&due), [token], "due at {at}");
    due.remove(0)
}

/// A confirm of `p` sent at [`SENT`], answered at once without a body: say how it changes
/// the payment with one of the builder's last calls ([`OutcomeBuilder::finalize`], ...).
pub fn outcome(p: &DuePayment) -> OutcomeBuilder {
    OutcomeBuilder {
        outcome: ConfirmOutcome {
            payment_id: p.id,
            kind: p.kind,
            token: p.token.clone(),
            at: SENT,
            latency_ms: 0,
            http_status: Some(200),
            outcome: "pending",
            error: None,
            answer: None,
            raw_body: None,
            change: Change::Untouched,
            from: p.status,
            claimed_reason: p.claimed_reason.clone(),
        },
        callback_poll_at: None,
        overdue: false,
    }
}

/// See [`outcome`].
pub struct OutcomeBuilder {
    outcome: ConfirmOutcome,
    callback_poll_at: Option<Millis>,
    overdue: bool,
}

impl OutcomeBuilder {
    /// Sent at `at` instead of [`SENT`].
    pub fn at(mut self, at: Millis) -> Self {
        self.outcome.at = at;
        self
    }

    /// LigdiCash answered `status` and `amount` (kept byte for byte as the raw body).
    pub fn answer(mut self, status: &str, amount: Option<i64>) -> Self {
        self.outcome.answer = Some(ConfirmAnswer {
            response_code: Some("00".into()),
            status: Some(status.into()),
            amount,
            operator_name: Some("Orange Money".into()),
            ..ConfirmAnswer::default()
        });
        self.outcome.raw_body = Some(format!(r#"{{"status":"{status}","amount":{amount:?}}}"#));
        self.outcome.outcome = "answered";
        self
    }

    /// A reschedule that goes to `at` if a callback came in while the call was in flight.
    pub fn callback_poll_at(mut self, at: Millis) -> Self {
        self.callback_poll_at = Some(at);
        self
    }

    /// A reschedule that marks a payout overdue.
    pub fn overdue(mut self) -> Self {
        self.overdue = true;
        self
    }

    pub fn finalize(self, status: Status) -> ConfirmOutcome {
        self.change(Change::Finalize {
            status,
            reason: None,
        })
    }

    /// Still pending: confirm again at `next_poll_at`.
    pub fn reschedule(self, next_poll_at: Millis) -> ConfirmOutcome {
        let change = Change::Reschedule {
            next_poll_at,
            callback_poll_at: self.callback_poll_at.unwrap_or(next_poll_at),
            count_attempt: true,
            not_found_streak: 0,
            overdue: self.overdue,
        };
        self.change(change)
    }

    /// A call that was not the payment's fault (refused credentials).
    pub fn untouched(self) -> ConfirmOutcome {
        ConfirmOutcome {
            error: Some("auth failed".into()),
            ..self.change(Change::Untouched)
        }
    }

    /// A final payment confirmed once more and left as it is.
    pub fn recheck(self, again_at: Option<Millis>) -> ConfirmOutcome {
        self.change(Change::Recheck { again_at })
    }

    fn change(self, change: Change) -> ConfirmOutcome {
        ConfirmOutcome {
            change,
            ..self.outcome
        }
    }
}

/// The sinks named.
pub fn sinks(names: &[&str]) -> Arc<Vec<String>> {
    Arc::new(names.iter().map(|s| (*s).to_owned()).collect())
}

/// Applies `outcomes` in one batch written at `now`, with their events to `to`.
pub async fn apply(
    db: &Db,
    outcomes: Vec<ConfirmOutcome>,
    now: Millis,
    to: &[&str],
) -> Vec<Applied> {
    let applied = db.apply_outcomes(Arc::new(outcomes), now, sinks(to)).await;
    applied.expect("apply outcomes")
}

/// The payment `token` as `show` reads it.
pub async fn row(db: &Db, token: &str) -> PaymentRow {
    let found = db.get(token.to_owned()).await.expect("get");
    found.unwrap_or_else(|| panic!("no payment {token}"))
}

/// The types of the events of the payment `token`, oldest first.
pub async fn event_types(db: &Db, token: &str) -> Vec<String> {
    let events = db.list_events(None, 10_000).await.expect("list events");
    let mine = events.into_iter().rev();
    mine.filter(|e| e.payment_token.as_deref() == Some(token))
        .map(|e| e.kind)
        .collect()
}

/// Inserts the event `id` of the payment `token` at `at`, addressed to `to`, as the one
/// writer of outcomes would have.
pub async fn payment_event(db: &Db, id: &str, token: &str, to: &[&str], at: Millis) {
    let mut sql = format!(
        "INSERT INTO events (id, type, payment_token, payload, created_at, state, \
         next_attempt_at) VALUES ('{id}', 'payment.completed', '{token}', '{{}}', {at}, \
         'pending', {at})"
    );
    for sink in to {
        sql += &format!(
            "; INSERT INTO event_deliveries (event_seq, sink, next_attempt_at) \
             SELECT seq, '{sink}', {at} FROM events WHERE id = '{id}'"
        );
    }
    shop(db, &sql).await;
}

/// The first column of the first row of `sql`, an integer, on either database.
pub async fn int(db: &Db, sql: &str) -> Option<i64> {
    db.int_for_tests(sql).await.expect(sql)
}

/// Runs `sql` as the shop would.
pub async fn shop(db: &Db, sql: &str) {
    db.execute_for_tests(sql).await.expect(sql)
}

/// The tokens of what has one, in order.
pub fn tokens<R: HasToken>(rows: &[R]) -> Vec<&str> {
    rows.iter().map(HasToken::token).collect()
}

/// Rows that name a payment by its token.
pub trait HasToken {
    fn token(&self) -> &str;
}

impl HasToken for DuePayment {
    fn token(&self) -> &str {
        &self.token
    }
}

impl HasToken for PaymentRow {
    fn token(&self) -> &str {
        &self.token
    }
}

impl HasToken for crate::store::PaymentFact {
    fn token(&self) -> &str {
        &self.token
    }
}

impl HasToken for crate::store::PayoutFact {
    fn token(&self) -> &str {
        &self.token
    }
}

impl HasToken for String {
    fn token(&self) -> &str {
        self
    }
}

impl HasToken for crate::store::CaseCandidate {
    fn token(&self) -> &str {
        &self.token
    }
}

impl HasToken for crate::store::CaseRow {
    fn token(&self) -> &str {
        &self.token
    }
}
