//! The nightly report's side: a day's facts about money in and out, each list in one
//! defined order, the timeouts to re-check, the days recorded (once, with one event),
//! pruning of the attempt log, callbacks and their tally, and the report's turn.

use super::helpers::*;
use super::{Backend, conformance};
use crate::payment::callback::{BUCKET_MS, bucket_of};
use crate::store::AttemptFact;
use crate::store::CallbackKeys;
use crate::store::Db;
use crate::time::Millis;
use chrono::NaiveDate;
use serde_json::json;

conformance!(
    a_days_facts_hold_what_it_resolved_and_left_pending_in_a_defined_order,
    a_report_day_is_recorded_once_with_one_event,
    a_payout_names_its_operator_as_an_invoice_does,
    pruning_deletes_old_attempts_and_callbacks_and_unmatched_ones_sooner,
    the_report_turn_is_taken_and_released,
);

const DAY: Millis = 86_400_000;
const START: Millis = T;
const END: Millis = T + DAY;

/// Inserts a payment as the shop and the reconciler would have left it: `kind`, `status`,
/// created at `created`, resolved at `resolved`.
async fn payment(db: &Db, token: &str, kind: &str, status: &str, created: Millis, resolved: &str) {
    let next_poll_at = if status == "pending" {
        created.to_string()
    } else {
        "NULL".into()
    };
    let sql = format!(
        "INSERT INTO payments (token, transaction_id, expected_amount, amount, kind, status, \
         operator_name, created_at, updated_at, resolved_at, next_poll_at) VALUES ('{token}', \
         'ord-{token}', 5000, 5000, '{kind}', '{status}', ' ', {created}, {created}, {resolved}, \
         {next_poll_at})"
    );
    shop(db, &sql).await;
}

/// A callback for the order of `token` saying `said`, received at `at`.
async fn callback(db: &Db, token: &str, said: Option<&str>, at: Millis) {
    let keys = CallbackKeys {
        transaction_id: Some(format!("ord-{token}")),
        status: said.map(Into::into),
        ..CallbackKeys::default()
    };
    let body = "{}".to_owned();
    let recorded = db.record_callback("application/json".into(), body, None, keys, at, 0);
    recorded.await.expect("record a callback");
}

/// Every list in the same order on both databases: by time, ties by insertion (`id`, the
/// event's `seq`), so two reports of one day are the same files.
async fn a_days_facts_hold_what_it_resolved_and_left_pending_in_a_defined_order(b: Backend) {
    let db = b.db;
    let at = |t: Millis| t.to_string();
    payment(
        &db,
        "done-z",
        "invoice",
        "completed",
        START - 10,
        &at(START + 5),
    )
    .await;
    payment(
        &db,
        "done-a",
        "invoice",
        "completed",
        START - 10,
        &at(START + 5),
    )
    .await;
    payment(
        &db,
        "yesterday",
        "invoice",
        "completed",
        START - 20,
        &at(START - 1),
    )
    .await;
    payment(&db, "waiting-z", "invoice", "pending", START + 1, "NULL").await;
    payment(&db, "waiting-a", "invoice", "pending", START + 1, "NULL").await;
    payment(&db, "tomorrow", "invoice", "pending", END + 1, "NULL").await;
    payment(&db, "late", "invoice", "timeout", START - 30, &at(END + 3)).await;
    payment(&db, "gave", "invoice", "timeout", START + 2, &at(START + 9)).await;
    payment(
        &db,
        "gave-too",
        "invoice",
        "timeout",
        START + 2,
        &at(START + 9),
    )
    .await;
    payment(&db, "out-z", "payout", "completed", START, &at(START + 7)).await;
    payment(
        &db,
        "out-a",
        "withdrawal",
        "completed",
        START,
        &at(START + 7),
    )
    .await;
    payment(&db, "still-out", "withdrawal", "pending", START + 3, "NULL").await;
    // The attempts in the order they were made, whatever their times say.
    for (when, outcome, latency) in [(START + 6, "completed", 42), (START + 5, "pending", 7)] {
        shop(
            &db,
            &format!(
                "INSERT INTO confirm_attempts (payment_id, at, latency_ms, outcome) \
                 SELECT id, {when}, {latency}, '{outcome}' FROM payments WHERE token = 'done-z'"
            ),
        )
        .await;
    }
    for (id, token, state, when) in [
        ("evt_b", "b-late", "delivered", START + 8),
        ("evt_a", "a-late", "dead", START + 4),
        ("evt_c", "c-late", "pending", END),
    ] {
        shop(
            &db,
            &format!(
                "INSERT INTO events (id, type, payment_token, payload, created_at, state) \
                 VALUES ('{id}', 'payment.late_completed', '{token}', '{{}}', {when}, '{state}')"
            ),
        )
        .await;
    }
    callback(&db, "done-z", Some("notcompleted"), START + 20).await;
    callback(&db, "gave", Some("completed"), START + 10).await;
    callback(&db, "nobody", None, START + 6).await;

    let facts = db.day_facts(START, END, END + 10).await.unwrap();
    assert_eq!(
        tokens(&facts.resolved),
        ["done-z", "done-a", "gave", "gave-too"]
    );
    // `late` was created before the day ended and resolved after: pending at its end.
    let pending = tokens(&facts.pending_at_end);
    assert_eq!(pending, ["late", "waiting-z", "waiting-a"]);
    assert_eq!(tokens(&facts.late_completed), ["b-late", "a-late"]);
    let done = &facts.resolved[0];
    assert_eq!(
        (
            done.amount,
            done.expected_amount,
            done.operator_name.as_deref()
        ),
        (Some(5000), Some(5000), None)
    );
    assert_eq!((done.requeued, done.resolved_at), (false, Some(START + 5)));
    let attempt = |outcome: &str, latency_ms| AttemptFact {
        outcome: outcome.into(),
        latency_ms,
    };
    assert_eq!(
        facts.attempts,
        [attempt("completed", 42), attempt("pending", 7)]
    );
    assert_eq!((facts.events_pending, facts.events_dead), (1, 1));
    assert_eq!(
        (facts.unmatched_callbacks, facts.generated_at),
        (1, END + 10)
    );
    assert_eq!(tokens(&facts.contradicted), ["gave", "done-z"]);
    let reason = facts.contradicted[1].status_reason.as_deref();
    assert_eq!(
        reason,
        Some("a callback said notcompleted, LigdiCash says completed")
    );

    let payouts = db.payout_facts(START, END).await.unwrap();
    assert_eq!(tokens(&payouts.resolved), ["out-z", "out-a"]);
    assert_eq!(tokens(&payouts.pending_at_end), ["still-out"]);
    let still_out = &payouts.pending_at_end[0];
    assert_eq!(
        (still_out.kind.as_str(), still_out.xof()),
        ("withdrawal", 5000)
    );

    let timeouts = db.timeouts_since(START + 8).await.unwrap();
    assert_eq!(tokens(&timeouts), ["gave", "gave-too", "late"]);
}

/// Money out is reconciled per operator as money in is: a payout's facts carry the operator
/// LigdiCash named (none for a blank one); a whole `expected_amount` has nothing "as
/// written" on either kind.
async fn a_payout_names_its_operator_as_an_invoice_does(b: Backend) {
    let db = b.db;
    let sql = format!(
        "INSERT INTO payments (token, transaction_id, expected_amount, amount, kind, status, \
         operator_name, created_at, updated_at, resolved_at) VALUES \
         ('out-orange', 'o1', 3000, 2700, 'withdrawal', 'mismatch', 'ORANGE BURKINA', {START}, \
          {START}, {START} + 1), \
         ('out-blank', 'o2', 1000, 1000, 'payout', 'completed', ' ', {START}, {START}, {START} + 2), \
         ('in-moov', 'o3', 500, 500, 'invoice', 'completed', 'MOOV', {START}, {START}, {START} + 3)"
    );
    shop(&db, &sql).await;
    let out = db.payout_facts(START, END).await.unwrap().resolved;
    let seen: Vec<_> = out
        .iter()
        .map(|p| (p.token.as_str(), p.operator_name.as_deref(), p.amount))
        .collect();
    assert_eq!(
        seen,
        [
            ("out-orange", Some("ORANGE BURKINA"), Some(2700)),
            ("out-blank", None, Some(1000))
        ]
    );
    assert!(out.iter().all(|p| p.expected_as_written.is_none()));
    let day = db.day_facts(START, END, END).await.unwrap();
    assert_eq!(tokens(&day.resolved), ["in-moov"]);
    assert_eq!(day.resolved[0].expected_as_written, None);
}

/// A day is recorded once and announced once, whoever records it again (a node that lost
/// the report lock, a day redone after a crash): the first record stands.
async fn a_report_day_is_recorded_once_with_one_event(b: Backend) {
    let db = b.db;
    assert_eq!(db.last_report_day().await.unwrap(), None);
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    for at in [T, T + 1] {
        let files = vec![format!("r-{at}.csv")];
        let event = json!({"day": "2026-03-01"});
        db.record_report(day, files, event, sinks(&["jsonl"]), at)
            .await
            .unwrap();
    }
    let earlier = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
    let no_sink = sinks(&[]);
    db.record_report(earlier, vec![], json!({}), no_sink, T + 2)
        .await
        .unwrap();
    assert_eq!(db.last_report_day().await.unwrap(), Some(day));
    assert_eq!(int(&db, "SELECT count(*) FROM report_runs").await, Some(2));
    let first = "SELECT generated_at FROM report_runs WHERE day = '2026-03-01'";
    assert_eq!(int(&db, first).await, Some(T), "the first record stands");
    let events = db.list_events(None, 10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["report.generated", "report.generated"],
        "one per day"
    );
    db.expire_counts_for_tests();
    let gauges = db.gauges().await.unwrap();
    // The day with no sink is born delivered.
    let by_state = vec![("delivered".to_owned(), 1), ("pending".to_owned(), 1)];
    assert_eq!(gauges.events_by_state, by_state);
    assert_eq!(gauges.last_report_at, Some(T + 2));
}

/// Attempts and the callbacks about a payment are kept for the attempt log's retention;
/// callbacks that named no payment go sooner, and the tally of a pruned quarter hour with
/// them.
async fn pruning_deletes_old_attempts_and_callbacks_and_unmatched_ones_sooner(b: Backend) {
    let db = b.db;
    db.enqueue(new_payment("old", crate::payment::Kind::Invoice), T, T)
        .await
        .unwrap();
    let base = bucket_of(T) * BUCKET_MS;
    let quarter = |n: i64| base + n * BUCKET_MS;
    for n in 0..3 {
        shop(
            &db,
            &format!(
                "INSERT INTO confirm_attempts (payment_id, at, latency_ms, outcome) \
                 SELECT id, {}, 1, 'pending' FROM payments WHERE token = 'old'",
                quarter(n) + 10
            ),
        )
        .await;
    }
    for n in 0..2 {
        callback(&db, "old", None, quarter(n) + 15).await;
        callback(&db, "nobody", None, quarter(n) + 15).await;
    }
    let unmatched = || {
        let db = db.clone();
        async move {
            let facts = db.day_facts(base, base + DAY, base).await.unwrap();
            facts.unmatched_callbacks
        }
    };
    assert_eq!(unmatched().await, 2);
    let prune = |before, unmatched_before| {
        let db = db.clone();
        async move { db.prune_attempts(before, unmatched_before).await.unwrap() }
    };
    // Two attempts, one matched callback, both unmatched ones.
    assert_eq!(prune(quarter(1) + 12, quarter(2)).await, 5);
    assert_eq!(prune(quarter(1) + 12, quarter(2)).await, 0);
    assert_eq!(
        unmatched().await,
        1,
        "the first quarter's tally went with them"
    );
    assert_eq!(prune(quarter(3), quarter(3)).await, 2);
    assert_eq!(unmatched().await, 0);
    assert_eq!(
        int(&db, "SELECT count(*) FROM confirm_attempts").await,
        Some(0)
    );
}

/// The right to write the reports and run the re-check: taken, held, released and taken
/// again (on PostgreSQL one node at a time: `postgres_only`).
async fn the_report_turn_is_taken_and_released(b: Backend) {
    let db = b.db;
    let turn = db
        .try_report_turn()
        .await
        .unwrap()
        .expect("this node's turn");
    assert!(turn.is_held());
    turn.release().await;
    let again = db.try_report_turn().await.unwrap().expect("its turn again");
    assert!(again.is_held());
    again.release().await;
}
