use super::*;
use crate::store::AttemptFact;
use crate::time::Millis;

const DAY: Millis = 86_400_000;

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
        expected_as_written: None,
    }
}

fn on(operator: Option<&str>, mut p: PaymentFact) -> PaymentFact {
    p.operator_name = operator.map(str::to_owned);
    p
}

/// The facts of day 1 (`[DAY, 2 * DAY)`), read after it ended.
fn day_one(resolved: Vec<PaymentFact>, pending_at_end: Vec<PaymentFact>) -> DayFacts {
    DayFacts {
        start: DAY,
        end: 2 * DAY,
        generated_at: 2 * DAY + 600_000,
        resolved,
        pending_at_end,
        ..DayFacts::default()
    }
}

fn summary(f: &DayFacts) -> Summary {
    summarise(
        f,
        NaiveDate::from_ymd_opt(1970, 1, 2).unwrap(),
        chrono_tz::UTC,
    )
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
    let mut f = day_one(
        vec![
            fact("a", "completed", Some(5000), DAY, Some(DAY + 10_000)),
            fact("b", "completed", Some(2500), DAY, Some(DAY + 30_000)),
            fact("c", "mismatch", Some(900), DAY, Some(DAY + 20_000)),
            fact("d", "timeout", None, 0, Some(DAY + 5_000)),
            fact("e", "completed", Some(700), 0, Some(DAY + 40_000)),
        ],
        vec![fact("p", "pending", None, DAY / 2, None)],
    );
    f.late_completed = vec!["e".into()];
    f.unmatched_callbacks = 2;
    f.events_pending = 1;
    f.attempts = [
        ("completed", 10),
        ("http_5xx", 30),
        ("auth_failed", 20),
        ("pending", 40),
    ]
    .map(|(outcome, latency_ms)| AttemptFact {
        outcome: outcome.into(),
        latency_ms,
    })
    .to_vec();
    let s = summary(&f);
    assert!(!s.partial, "generated after the day ended");
    assert_eq!(s.health.unmatched_callbacks, 2);
    let completed = s.by_status.iter().find(|t| t.key == "completed").unwrap();
    assert_eq!(
        (completed.count, completed.expected_xof, completed.paid_xof),
        (3, 3000, Some(8200))
    );
    let total = s.reconciliation.total;
    assert_eq!(
        total.completed,
        Amount {
            count: 3,
            xof: 8200
        }
    );
    assert_eq!(total.held_for_review, Amount { count: 1, xof: 900 });
    assert_eq!(
        total.received,
        Amount {
            count: 4,
            xof: 9100
        }
    );
    assert_eq!(s.discrepancies.mismatches.len(), 1);
    assert_eq!(s.discrepancies.late_completions[0].payment.token, "e");
    assert_eq!(s.discrepancies.timeouts.len(), 1);
    assert_eq!(s.discrepancies.pending_over_24h.len(), 1);
    let completed_tokens: Vec<&str> = s.completed.iter().map(|l| l.token.as_str()).collect();
    assert_eq!(
        completed_tokens,
        ["a", "b", "e"],
        "late completions listed too"
    );
    assert_eq!(s.pending_at_end.oldest_age_secs, Some(129_600));
    assert_eq!(s.pending_at_end.expected_xof, 1000);
    assert_eq!(s.resolution.max_secs, Some(86_440.0));
    assert_eq!(s.health.confirm_calls, 4);
    assert_eq!(s.health.auth_failures, 1);
    assert!((s.health.error_rate - 0.5).abs() < 1e-9);
    assert_eq!(s.health.p95_latency_ms, Some(40));
}

/// LigdiCash's pending answers state the invoice's amount, which the store keeps in
/// `amount`: on a `timeout`, `notcompleted` or `invalid_token` that is not money paid.
/// Those show what was expected and no paid amount, in the totals and in the tables.
#[test]
fn money_counts_as_paid_only_where_it_moved() {
    let s = summary(&day_one(
        vec![
            fact("t", "timeout", Some(9000), DAY, Some(DAY + 1)),
            fact("n", "notcompleted", Some(4000), DAY, Some(DAY + 2)),
            fact("i", "invalid_token", Some(3000), DAY, Some(DAY + 3)),
            fact("c", "completed", Some(1000), DAY, Some(DAY + 4)),
        ],
        vec![fact("p", "pending", Some(7000), DAY, None)],
    ));
    for key in ["timeout", "notcompleted", "invalid_token"] {
        let t = s.by_status.iter().find(|t| t.key == key).unwrap();
        assert_eq!(
            (t.count, t.expected_xof, t.paid_xof),
            (1, 1000, None),
            "{key}"
        );
    }
    assert_eq!(s.discrepancies.timeouts[0].payment.paid_xof, None);
    assert_eq!(s.discrepancies.timeouts[0].payment.expected_xof, Some(1000));
    assert_eq!(s.discrepancies.invalid_tokens[0].payment.paid_xof, None);
    assert_eq!(
        s.reconciliation.total.received,
        Amount {
            count: 1,
            xof: 1000
        }
    );
    assert_eq!(
        s.pending_at_end.expected_xof, 1000,
        "expected, not LigdiCash's 7000"
    );
}

/// Completed + held for review = received, per operator and in total; the operators'
/// lines add up to the total; an operator LigdiCash did not name gets a line of its own,
/// last; money whose amount LigdiCash did not state is counted and flagged.
#[test]
fn the_reconciliation_adds_up_per_operator() {
    let orange = Some("ORANGE BURKINA");
    let moov = Some("MOOV AFRICA BURKINA");
    let s = summary(&day_one(
        vec![
            on(
                moov,
                fact("m1", "completed", Some(2000), DAY, Some(DAY + 1)),
            ),
            on(
                orange,
                fact("o1", "completed", Some(5000), DAY, Some(DAY + 2)),
            ),
            on(
                orange,
                fact("o2", "mismatch", Some(4000), DAY, Some(DAY + 3)),
            ),
            on(Some("  "), fact("u1", "mismatch", None, DAY, Some(DAY + 4))),
            on(
                orange,
                fact("o3", "notcompleted", Some(9000), DAY, Some(DAY + 5)),
            ),
            on(moov, fact("m2", "completed", Some(300), DAY, Some(DAY + 6))),
        ],
        vec![],
    ));
    let r = &s.reconciliation;
    let names: Vec<Option<&str>> = r
        .by_operator
        .iter()
        .map(|o| o.operator.as_deref())
        .collect();
    assert_eq!(names, [moov, orange, None]);
    let line = |i: usize| r.by_operator[i].receipts;
    assert_eq!(
        line(0).completed,
        Amount {
            count: 2,
            xof: 2300
        }
    );
    assert_eq!(line(0).held_for_review, Amount::default());
    assert_eq!(
        line(1).completed,
        Amount {
            count: 1,
            xof: 5000
        }
    );
    assert_eq!(
        line(1).held_for_review,
        Amount {
            count: 1,
            xof: 4000
        }
    );
    assert_eq!(
        line(1).received,
        Amount {
            count: 2,
            xof: 9000
        }
    );
    assert_eq!(line(2).held_for_review, Amount { count: 1, xof: 0 });
    assert_eq!(
        r.total.received,
        Amount {
            count: 5,
            xof: 11_300
        }
    );
    assert_eq!(r.amount_not_stated, 1);
    let parts: [fn(Receipts) -> Amount; 3] =
        [|x| x.completed, |x| x.held_for_review, |x| x.received];
    for part in parts {
        let (count, xof) = r.by_operator.iter().fold((0, 0), |(c, x), o| {
            (c + part(o.receipts).count, x + part(o.receipts).xof)
        });
        assert_eq!(Amount { count, xof }, part(r.total));
    }
}

/// A report made before the day is over says so, and ages pending payments to now, not
/// to a midnight that has not come.
#[test]
fn a_day_not_over_is_partial_and_ages_pending_payments_to_now() {
    let mut f = day_one(
        vec![],
        vec![
            fact("old", "pending", None, DAY - 3_600_001, None),
            fact("new", "pending", None, DAY + 3_600_000, None),
        ],
    );
    f.generated_at = DAY + 7_200_000;
    let s = summary(&f);
    assert!(s.partial);
    assert_eq!(s.pending_at_end.oldest_age_secs, Some(10_800));
    assert!(
        s.discrepancies.pending_over_24h.is_empty(),
        "3 h old at 02:00, not 27 h at midnight"
    );
    f.generated_at = 2 * DAY;
    assert!(!summary(&f).partial, "made at midnight, the day is over");
}

/// A payment pending at the end of the day needs a human only once it is older than
/// 24 h: exactly 24 h is not yet, one millisecond more is.
#[test]
fn pending_over_24h_starts_just_after_a_day() {
    let end = 2 * DAY;
    let s = summary(&day_one(
        vec![],
        vec![
            fact("young", "pending", None, end - 3_600_000, None),
            fact("a-day", "pending", None, end - DAY, None),
            fact("older", "pending", None, end - DAY - 1, None),
        ],
    ));
    let tokens: Vec<&str> = s
        .discrepancies
        .pending_over_24h
        .iter()
        .map(|d| d.payment.token.as_str())
        .collect();
    assert_eq!(tokens, ["older"]);
    assert_eq!(s.pending_at_end.count, 3);
    assert_eq!(s.pending_at_end.oldest_age_secs, Some(86_400));
    assert_eq!(s.to_handle.count, 1);
}

/// Resolutions are split between the reconciler's own schedule and a manual requeue;
/// the percentiles are of the resolution times in seconds.
#[test]
fn resolutions_are_split_by_requeue_and_timed() {
    let requeued = |mut p: PaymentFact| {
        p.requeued = true;
        p
    };
    let s = summary(&day_one(
        vec![
            fact("a", "completed", Some(1), DAY, Some(DAY + 2_000)),
            fact("b", "completed", Some(1), DAY, Some(DAY + 4_000)),
            requeued(fact("c", "completed", Some(1), DAY, Some(DAY + 10_000))),
        ],
        vec![],
    ));
    assert_eq!(s.resolution.by_reconciler, 2);
    assert_eq!(s.resolution.after_requeue, 1);
    assert_eq!(s.resolution.p50_secs, Some(4.0));
    assert_eq!(s.resolution.p95_secs, Some(10.0));
    assert_eq!(s.resolution.max_secs, Some(10.0));
    assert_eq!(s.pending_at_end.oldest_age_secs, None);
    assert_eq!(s.health.error_rate, 0.0, "no calls, no division");
}

/// The JSON's times are RFC 3339 in the shop's zone, its date and zone plain strings.
#[test]
fn the_json_names_times_in_the_shop_s_zone() {
    let f = day_one(
        vec![fact("a", "completed", Some(1), DAY, Some(DAY + 1_000))],
        vec![],
    );
    let lagos: Tz = "Africa/Lagos".parse().unwrap();
    let s = summarise(&f, NaiveDate::from_ymd_opt(1970, 1, 2).unwrap(), lagos);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["schema_version"], 3);
    assert!(
        json.get("version").is_none(),
        "named schema_version since 3"
    );
    assert_eq!(json["date"], "1970-01-02");
    assert_eq!(json["time_zone"], "Africa/Lagos");
    assert_eq!(json["window_start"], "1970-01-02T01:00:00+01:00");
    assert_eq!(
        json["completed"][0]["resolved_at"],
        "1970-01-02T01:00:01+01:00"
    );
    assert_eq!(
        json["reconciliation"]["by_operator"][0]["operator"],
        "ORANGE BURKINA"
    );
    assert_eq!(
        json["reconciliation"]["by_operator"][0]["received"]["xof"],
        1
    );
}
