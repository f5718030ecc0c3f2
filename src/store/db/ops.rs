//! The store's operations: one list, each with its documentation, that both backends
//! implement under the same name ([`operations!`] makes each a method of [`Db`] that runs
//! it on the backend in use; a backend missing one does not compile). Arguments are owned,
//! so a natively async backend can hold them across an `await`; each backend gets them
//! borrowed ([`Arg`]). What only one database does (claims, the node registry, the report
//! lock) is written by hand beside this list (`db/mod.rs`, `db/nodes.rs`, `db/reports.rs`).

use super::{Backend, Db};
use crate::payment::{Applied, ConfirmOutcome, DuePayment, NewPayment, Status};
use crate::store::{
    CallbackKeys, CaseCandidate, CaseFilter, CaseRow, CaseWrite, DayFacts, DbGauges,
    DeliveryResult, DueDelivery, Enqueued, EventRow, EvidenceFacts, PaymentFilter, PaymentRow,
    PayoutFacts, Received, Requeued, Resolution, SinkDelivery, StoreError, SweepMarks, SweepWindow,
    SweepWrites,
};
use crate::time::Millis;
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// An owned argument, as a backend takes it: copied, or borrowed.
pub trait Arg {
    type Out<'a>
    where
        Self: 'a;
    fn arg(&self) -> Self::Out<'_>;
}

macro_rules! copied {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            type Out<'a> = $t;
            fn arg(&self) -> $t {
                *self
            }
        }
    )*};
}
copied!(
    i64,
    usize,
    bool,
    NaiveDate,
    &'static str,
    SweepMarks,
    SweepWindow
);

macro_rules! borrowed {
    ($($t:ty => $out:ty),*) => {$(
        impl Arg for $t {
            type Out<'a> = &'a $out;
            fn arg(&self) -> &$out {
                self
            }
        }
    )*};
}
borrowed!(
    String => str, NewPayment => NewPayment, CallbackKeys => CallbackKeys,
    PaymentFilter => PaymentFilter, DeliveryResult => DeliveryResult, Value => Value,
    HashSet<i64> => HashSet<i64>, Vec<String> => [String], Arc<Vec<String>> => [String],
    Arc<Vec<ConfirmOutcome>> => [ConfirmOutcome], Vec<CaseWrite> => [CaseWrite],
    Resolution => Resolution, CaseFilter => CaseFilter
);

impl Arg for Option<String> {
    type Out<'a> = Option<&'a str>;
    fn arg(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// Makes each listed operation a method of [`Db`] dispatched to the backend in use.
macro_rules! operations {
    ($(
        $(#[$doc:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        impl Db {$(
            $(#[$doc])*
            $vis async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                match &self.backend {
                    Backend::Sqlite(s) => s.run(move |s| s.$name($($arg.arg()),*)).await,
                    Backend::Postgres(p) => p.$name($($arg.arg()),*).await,
                }
            }
        )*}
    };
}

operations! {
    /// Refuses a database this process can read but not write: a daemon on it would
    /// confirm payments and record nothing.
    pub fn ensure_writable() -> ();
    /// The schema version the database is at.
    pub fn schema_version() -> i64;

    /// Adds a pending payment, first due at `first_poll_at`. Idempotent on the token; the
    /// same token with other data is a [`StoreError::Conflict`] and writes nothing.
    pub fn enqueue(payment: NewPayment, now: Millis, first_poll_at: Millis) -> Enqueued;
    /// Gives rows the shop inserted with plain SQL their first poll time (`created_at`
    /// plus the first delay of their kind). Returns how many.
    pub fn schedule_unscheduled(first_delay_ms: Millis, payout_first_delay_ms: Millis) -> usize;
    /// Up to `limit` payments due at `now`, pending ones first (soonest first), then final
    /// ones due for one more confirm (a callback contradicted them), leaving out the ids
    /// in `skip` (in flight). On PostgreSQL they are claimed for this node; on SQLite rows
    /// that cannot be read are parked on the way.
    pub fn due(now: Millis, limit: usize, skip: HashSet<i64>) -> Vec<DuePayment>;
    /// The earliest poll time strictly after `now`, to sleep until.
    pub fn next_due_after(now: Millis) -> Option<Millis>;
    /// Whether any payment is still pending that `run --until-idle` must wait for.
    pub fn any_pending() -> bool;
    /// Payments per status, every status present (zero when none).
    pub fn status_counts() -> Vec<(Status, i64)>;
    /// Puts a `timeout` or `invalid_token` payment back to pending, or makes a corrected
    /// parked row due now.
    pub fn requeue(token: String, now: Millis) -> Requeued;
    /// One payment by token.
    pub fn get(token: String) -> Option<PaymentRow>;
    /// Payments matching `filter`, newest first (keyset paging: a page never shifts as
    /// rows arrive).
    pub fn search(filter: PaymentFilter, limit: usize) -> Vec<PaymentRow>;
    /// Records a batch of confirm outcomes in one transaction: each a compare-and-set on
    /// the status it was claimed in, with an outbox event (addressed to `sinks`) for each
    /// payment it finalises. The batch is shared, not copied, so a writer retrying a
    /// refused write keeps it in hand.
    pub fn apply_outcomes(
        outcomes: Arc<Vec<ConfirmOutcome>>,
        now: Millis,
        sinks: Arc<Vec<String>>,
    ) -> Vec<Applied>;
    /// Records a LigdiCash callback as the callback policy plans it (`payment::callback`):
    /// a pending payment it names made due (no sooner than `min_interval` after its last
    /// confirm), a final status it contradicts confirmed once more, the raw body kept
    /// within bounds with the address it came from (`source`).
    pub fn record_callback(
        content_type: String,
        body: String,
        source: Option<String>,
        keys: CallbackKeys,
        now: Millis,
        min_interval: Millis,
    ) -> Received;
    /// Adds callbacks counted but not kept raw to the quarter hour `bucket`'s tally.
    pub fn add_callback_tally(bucket: i64, unmatched: i64, not_kept: i64) -> ();

    /// Inserts an event not tied to a payment (`reconciler.auth_failed`), addressed to
    /// `sinks`, in its own transaction. Returns its id.
    pub fn insert_operational_event(
        kind: &'static str,
        data: Value,
        sinks: Arc<Vec<String>>,
        now: Millis,
    ) -> String;
    /// Moves the deliveries of sink `old` to sink `new` (a webhook renamed); a delivery
    /// the new name already has stays as it is. Returns how many moved.
    pub fn rename_sink(old: String, new: String) -> usize;
    /// Up to `limit` deliveries to `sinks` due at `now`, oldest first, each waiting while
    /// an earlier event of its payment is pending for its sink (on PostgreSQL, claimed).
    pub fn due_deliveries(now: Millis, sinks: Arc<Vec<String>>, limit: usize) -> Vec<DueDelivery>;
    /// Whether a delivery to `sinks` is due at `now` (claimed or not, not blocked behind
    /// an earlier event of its payment): what `run --once` waits on. Claims nothing.
    pub fn any_delivery_due(now: Millis, sinks: Arc<Vec<String>>) -> bool;
    /// The earliest retry time strictly after `now`, to sleep until.
    pub fn next_delivery_after(now: Millis) -> Option<Millis>;
    /// Pending deliveries to `sinks` never attempted (`run --until-idle` waits for 0).
    pub fn unattempted_deliveries(sinks: Arc<Vec<String>>) -> i64;
    /// Records one attempt (in the delivery tries, as evidence) and refreshes the event's
    /// summary state.
    pub fn record_delivery(event_seq: i64, sink: String, result: DeliveryResult, now: Millis) -> ();
    /// Events, newest first, optionally in one state.
    pub fn list_events(state: Option<String>, limit: usize) -> Vec<EventRow>;
    /// One event by id, with its deliveries.
    pub fn get_event(id: String) -> Option<(EventRow, Vec<SinkDelivery>)>;
    /// Puts an event's deliveries (or, without an id, every dead one) back to pending, due
    /// now. Returns how many.
    pub fn redeliver(id: Option<String>, now: Millis) -> usize;

    /// Everything the report for `[start, end)` needs about invoices, read at `now` (a day
    /// not over is reported as it stands).
    pub fn day_facts(start: Millis, end: Millis, now: Millis) -> DayFacts;
    /// Everything the report for `[start, end)` needs about money sent out.
    pub fn payout_facts(start: Millis, end: Millis) -> PayoutFacts;
    /// The `timeout` payments resolved since `since`, for the nightly re-check.
    pub fn timeouts_since(since: Millis) -> Vec<DuePayment>;
    /// The last day a scheduled report was recorded for.
    pub fn last_report_day() -> Option<NaiveDate>;
    /// Records a finished report day with its `report.generated` event, in one
    /// transaction; a day recorded already stays as it was, with its one event.
    pub fn record_report(
        day: NaiveDate,
        files: Vec<String>,
        event: Value,
        sinks: Arc<Vec<String>>,
        now: Millis,
    ) -> ();
    /// Deletes confirm attempts, callbacks and delivery tries older than `before`, and
    /// callbacks that matched no payment older than `unmatched_before`; the evidence of a
    /// payment with an open case is kept whatever its age. Returns how many attempts and
    /// callbacks.
    pub fn prune_attempts(before: Millis, unmatched_before: Millis) -> usize;
    /// The gauges, the counts (pending payments, events by state) only when `recount`
    /// (see [`Db::gauges`]).
    pub(super) fn gauges_reading(recount: bool) -> DbGauges;

    /// How far the case sweep has looked, as last recorded.
    pub fn case_marks() -> SweepMarks;
    /// When the oldest pending payment's pending window started (created, or requeued):
    /// where a case sweep far behind starts reading pending windows.
    pub fn oldest_pending_start() -> Option<Millis>;
    /// The payments the case sweep looks at in `window` (each part through an index, never
    /// a scan of `payments`), with their open case and every case they had.
    pub fn case_candidates(window: SweepWindow) -> Vec<CaseCandidate>;
    /// Carries out the case sweep's writes in one transaction, each a compare-and-set with
    /// its `case.opened` or `case.resolved` event (addressed to `sinks`), and records
    /// `marks` (each only moves forward).
    pub fn write_cases(
        writes: Vec<CaseWrite>,
        marks: SweepMarks,
        now: Millis,
        sinks: Arc<Vec<String>>,
    ) -> SweepWrites;
    /// The open case of the payment `token`, if it has one.
    pub fn open_case(token: String) -> Option<CaseRow>;
    /// Closes the open case `case_id` with a person's decision, with its `case.resolved`
    /// event (addressed to `sinks`), in one transaction; `None` when it was closed already.
    pub fn resolve_case(
        case_id: i64,
        resolution: Resolution,
        now: Millis,
        sinks: Arc<Vec<String>>,
    ) -> Option<CaseRow>;
    /// Open cases, oldest first, or closed ones (optionally within a time), newest closed
    /// first.
    pub fn list_cases(filter: CaseFilter, limit: usize) -> Vec<CaseRow>;
    /// Everything kept about the payment `token`, read in one snapshot.
    pub fn evidence(token: String) -> Option<EvidenceFacts>;
}

impl Db {
    /// Payments, newest first, optionally of one status: [`Db::search`] on status alone.
    pub async fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        let filter = PaymentFilter {
            status,
            ..PaymentFilter::default()
        };
        self.search(filter, limit).await
    }
}
