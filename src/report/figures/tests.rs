use super::*;
use crate::store::reports::AttemptFact;
use crate::time::Millis;

fn fact(
    token: &str,
    status: &str,
    amount: Option<i64>,
    created: Millis,
    resolved: Option<Millis>,
) -> PaymentFact {
    PaymentFact {
        token: token.into(),
        transaction_id: None,
        request_id: None,
        status: status.into(),
        status_reason: None,
        expected_amount: Some(1000),
        amount,
        operator_name: Some("ORANGE BURKINA".into()),
        created_at: created,
        resolved_at: resolved,
        requeued: false,
    }
}

#[test]
fn percentiles_use_nearest_rank() {
    let v: Vec<i64> = (1..=100).collect();
    assert_eq!(percentile(&v, 50.0), Some(50));
    assert_eq!(percentile(&v, 95.0), Some(95));
    assert_eq!(percentile(&[7], 95.0), Some(7));
    assert_eq!(percentile::<i64>(&[], 50.0), None);
}

#[test]
fn totals_resolution_and_discrepancies() {
    let day = 86_400_000;
    let f = DayFacts {
        start: day,
        end: 2 * day,
        resolved: vec![
            fact("a", "completed", Some(5000), day, Some(day + 10_000)),
            fact("b", "completed", Some(2500), day, Some(day + 30_000)),
            fact("c", "mismatch", Some(900), day, Some(day + 20_000)),
            fact("d", "timeout", None, 0, Some(day + 5_000)),
            fact("e", "completed", Some(700), 0, Some(day + 40_000)),
        ],
        pending_at_end: vec![fact("p", "pending", None, day / 2, None)],
        late_completed: vec!["e".into()],
        attempts: vec![
            AttemptFact {
                outcome: "completed".into(),
                latency_ms: 10,
            },
            AttemptFact {
                outcome: "http_5xx".into(),
                latency_ms: 30,
            },
            AttemptFact {
                outcome: "auth_failed".into(),
                latency_ms: 20,
            },
            AttemptFact {
                outcome: "pending".into(),
                latency_ms: 40,
            },
        ],
        events_pending: 1,
        events_dead: 0,
        unmatched_callbacks: 2,
    };
    let s = summarise(&f, "d".into(), "z".into(), ("s".into(), "e".into()));
    assert_eq!(s.health.unmatched_callbacks, 2);
    assert_eq!(s.received_xof, 8200);
    let completed = s.by_status.iter().find(|t| t.key == "completed").unwrap();
    assert_eq!((completed.count, completed.xof), (3, 8200));
    let timeout = s.by_status.iter().find(|t| t.key == "timeout").unwrap();
    assert_eq!(
        (timeout.count, timeout.xof),
        (1, 1000),
        "expected amount when none confirmed"
    );
    assert_eq!(s.by_operator[0].xof, 8200);
    assert_eq!(s.discrepancies.mismatches.len(), 1);
    assert_eq!(s.discrepancies.late_completions[0].token, "e");
    assert_eq!(s.discrepancies.timeouts.len(), 1);
    assert_eq!(s.discrepancies.pending_over_24h.len(), 1);
    assert_eq!(s.pending_at_end.oldest_age_secs, Some(129_600));
    assert_eq!(s.resolution.max_secs, Some(86_440.0));
    assert_eq!(s.health.confirm_calls, 4);
    assert_eq!(s.health.auth_failures, 1);
    assert!((s.health.error_rate - 0.5).abs() < 1e-9);
    assert_eq!(s.health.p95_latency_ms, Some(40));
}

fn rows(n: usize) -> Vec<Discrepancy> {
    let p = fact("t", "mismatch", None, 0, None);
    vec![row(&p, "act"); n]
}

/// The "need a human" headline adds up every table, each counted once: sizes 1 to 5
/// give 15, and no other arithmetic of them does.
#[test]
fn the_need_a_human_count_adds_every_table() {
    let d = Discrepancies {
        mismatches: rows(1),
        late_completions: rows(2),
        timeouts: rows(3),
        invalid_tokens: rows(4),
        pending_over_24h: rows(5),
    };
    assert_eq!(d.count(), 15);
    let none = Discrepancies {
        mismatches: vec![],
        late_completions: vec![],
        timeouts: vec![],
        invalid_tokens: vec![],
        pending_over_24h: vec![],
    };
    assert_eq!(none.count(), 0);
}

/// A payment pending at the end of the day needs a human only once it is older than
/// 24 h: exactly 24 h is not yet, one millisecond more is.
#[test]
fn pending_over_24h_starts_just_after_a_day() {
    let day = 86_400_000;
    let end = 3 * day;
    let f = DayFacts {
        start: 2 * day,
        end,
        resolved: vec![],
        pending_at_end: vec![
            fact("young", "pending", None, end - 3_600_000, None),
            fact("a-day", "pending", None, end - day, None),
            fact("older", "pending", None, end - day - 1, None),
        ],
        late_completed: vec![],
        attempts: vec![],
        events_pending: 0,
        events_dead: 0,
        unmatched_callbacks: 0,
    };
    let s = summarise(&f, "d".into(), "z".into(), ("s".into(), "e".into()));
    let tokens: Vec<&str> = s
        .discrepancies
        .pending_over_24h
        .iter()
        .map(|d| d.token.as_str())
        .collect();
    assert_eq!(tokens, ["older"]);
    assert_eq!(s.pending_at_end.count, 3);
    assert_eq!(s.pending_at_end.oldest_age_secs, Some(86_400));
    assert_eq!(s.discrepancies.count(), 1);
}

/// Resolutions are split between the reconciler's own schedule and a manual requeue;
/// the percentiles are of the resolution times in seconds.
#[test]
fn resolutions_are_split_by_requeue_and_timed() {
    let requeued = |mut p: PaymentFact| {
        p.requeued = true;
        p
    };
    let f = DayFacts {
        start: 0,
        end: 86_400_000,
        resolved: vec![
            fact("a", "completed", Some(1), 1_000, Some(3_000)),
            fact("b", "completed", Some(1), 1_000, Some(5_000)),
            requeued(fact("c", "completed", Some(1), 1_000, Some(11_000))),
        ],
        pending_at_end: vec![],
        late_completed: vec![],
        attempts: vec![],
        events_pending: 0,
        events_dead: 0,
        unmatched_callbacks: 0,
    };
    let s = summarise(&f, "d".into(), "z".into(), ("s".into(), "e".into()));
    assert_eq!(s.resolution.by_reconciler, 2);
    assert_eq!(s.resolution.after_requeue, 1);
    assert_eq!(s.resolution.p50_secs, Some(4.0));
    assert_eq!(s.resolution.p95_secs, Some(10.0));
    assert_eq!(s.resolution.max_secs, Some(10.0));
    assert_eq!(s.pending_at_end.oldest_age_secs, None);
    assert_eq!(s.health.error_rate, 0.0, "no calls, no division");
}
