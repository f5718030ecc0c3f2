//! The exposition of `Metrics`: families, labels, the latency histogram.

use super::*;
use crate::store::DbGauges;

#[test]
fn resolutions_and_open_payouts_are_shown_by_kind() {
    let m = Metrics::default();
    m.resolved(Kind::Withdrawal, "completed");
    m.resolved(Kind::Invoice, "completed");
    let db = DbGauges {
        pending_payouts: 3,
        overdue_payouts: 1,
        ..DbGauges::default()
    };
    let text = m.render(&db);
    for line in [
        "ligdicash_reconciler_resolutions_total{kind=\"withdrawal\",status=\"completed\"} 1",
        "ligdicash_reconciler_resolutions_total{kind=\"invoice\",status=\"completed\"} 1",
        "ligdicash_reconciler_pending_payouts 3",
        "ligdicash_reconciler_overdue_payouts 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
}

#[test]
fn histogram_buckets_are_cumulative_and_count_everything() {
    let m = Metrics::default();
    m.confirm(Kind::Invoice, "completed", Duration::from_millis(30), true);
    m.confirm(Kind::Invoice, "http_5xx", Duration::from_millis(700), false);
    m.confirm(Kind::Payout, "timeout", Duration::from_secs(15), false);
    let text = m.render(&DbGauges::default());
    assert!(
        text.contains("confirm_latency_seconds_bucket{le=\"0.05\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("confirm_latency_seconds_bucket{le=\"1\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("confirm_latency_seconds_bucket{le=\"10\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("confirm_latency_seconds_bucket{le=\"+Inf\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("confirm_calls_total{kind=\"invoice\",outcome=\"http_5xx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("confirm_calls_total{kind=\"payout\",outcome=\"timeout\"} 1"),
        "{text}"
    );
    assert!(
        m.render(&DbGauges::default())
            .lines()
            .all(|l| !l.is_empty())
    );
}

#[test]
fn the_api_listener_slots_are_shown_only_while_it_serves() {
    let m = Metrics::default();
    assert!(
        !m.render(&DbGauges::default())
            .contains("api_connection_slots")
    );
    m.api_listener.serving(64);
    let text = m.render(&DbGauges::default());
    for line in [
        "ligdicash_reconciler_api_connection_slots 64",
        "ligdicash_reconciler_api_saturated_seconds 0.000",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
}

/// The whole exposition with every family shown, line for line: what a scraper and the
/// alert rules (deploy/prometheus-alerts.yml) read, kept as it is by any change to how it
/// is written.
#[test]
fn the_whole_exposition_is_stable() {
    let m = Metrics::default();
    m.resolved(Kind::Invoice, "completed");
    m.confirm(Kind::Invoice, "completed", Duration::from_millis(30), false);
    m.callback("matched");
    m.callback_contradiction(
        crate::payment::Status::NotCompleted,
        crate::payment::callback::Contradiction::Rechecked,
    );
    m.recheck(crate::payment::Status::NotCompleted, "changed");
    m.api_request("/v1/payments", 201);
    m.set_cluster_rate(2.5);
    m.set_cluster_nodes(2);
    m.api_listener.serving(64);
    let db = DbGauges {
        pending: 7,
        oldest_pending_created_at: None,
        pending_payouts: 2,
        overdue_payouts: 1,
        events_by_state: vec![("dead".into(), 1), ("pending".into(), 4)],
        last_report_at: Some(86_400_000),
        cases: crate::store::CaseGauges::from_counts(&[("mismatch".into(), 2)], None),
    };
    let text = m.render(&db);
    // The one value shared by the whole process: other tests may drop log lines.
    let text: String = text
        .lines()
        .map(
            |l| match l.strip_prefix("ligdicash_reconciler_log_lines_dropped_total ") {
                Some(_) => "ligdicash_reconciler_log_lines_dropped_total N\n".to_owned(),
                None => format!("{l}\n"),
            },
        )
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let expected = EXPOSITION.replace("VERSION", version);
    for (got, want) in text.lines().zip(expected.lines()) {
        assert_eq!(got, want);
    }
    assert_eq!(text, expected);
}

/// What [`the_whole_exposition_is_stable`] expects, `VERSION` standing for the crate's.
const EXPOSITION: &str = include_str!("exposition.txt");
