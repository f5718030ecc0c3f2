//! The Prometheus text exposition of [`Metrics`]: counters from memory, gauges read from
//! the database at scrape time ([`DbGauges`]).

use super::{LATENCY_BUCKETS, Metrics, lock};
use crate::store::DbGauges;
use crate::time::now_ms;
use std::fmt::Write;
use std::sync::atomic::Ordering;

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self, db: &DbGauges) -> String {
        let mut out = String::new();
        let now = now_ms();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "ligdicash_reconciler_build_info",
            "gauge",
            "Build information.",
        );
        let _ = writeln!(
            out,
            "ligdicash_reconciler_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        family(
            &mut out,
            "ligdicash_reconciler_pending_payments",
            "gauge",
            "Payments not resolved yet.",
        );
        let _ = writeln!(out, "ligdicash_reconciler_pending_payments {}", db.pending);
        family(
            &mut out,
            "ligdicash_reconciler_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest pending invoice (0 when none). Payouts may stay pending for days: see overdue_payouts.",
        );
        let age = db
            .oldest_pending_created_at
            .map_or(0, |c| (now - c).max(0) / 1000);
        let _ = writeln!(out, "ligdicash_reconciler_oldest_pending_age_seconds {age}");
        self.render_payouts(&mut out, db);
        family(
            &mut out,
            "ligdicash_reconciler_resolutions_total",
            "counter",
            "Payments resolved by this process, by kind and final status.",
        );
        for ((kind, status), n) in lock(&self.resolutions).iter() {
            let _ = writeln!(
                out,
                "ligdicash_reconciler_resolutions_total{{kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        family(
            &mut out,
            "ligdicash_reconciler_confirm_calls_total",
            "counter",
            "Confirm calls by kind of payment and outcome class.",
        );
        for ((kind, outcome), n) in lock(&self.by_outcome).iter() {
            let _ = writeln!(
                out,
                "ligdicash_reconciler_confirm_calls_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        self.render_latency(&mut out);
        family(
            &mut out,
            "ligdicash_reconciler_events",
            "gauge",
            "Outbox events by delivery state.",
        );
        for (state, n) in &db.events_by_state {
            let _ = writeln!(out, "ligdicash_reconciler_events{{state=\"{state}\"}} {n}");
        }
        family(
            &mut out,
            "ligdicash_reconciler_last_successful_confirm_timestamp_seconds",
            "gauge",
            "When LigdiCash last answered a confirm (0: never).",
        );
        let last = self.last_answer_ms.load(Ordering::Relaxed) / 1000;
        let _ = writeln!(
            out,
            "ligdicash_reconciler_last_successful_confirm_timestamp_seconds {last}"
        );
        family(
            &mut out,
            "ligdicash_reconciler_last_report_timestamp_seconds",
            "gauge",
            "When the last nightly report was written (0: never).",
        );
        let report = db.last_report_at.unwrap_or(0) / 1000;
        let _ = writeln!(
            out,
            "ligdicash_reconciler_last_report_timestamp_seconds {report}"
        );
        family(
            &mut out,
            "ligdicash_reconciler_auth_failing",
            "gauge",
            "1 while LigdiCash refuses the credentials.",
        );
        let _ = writeln!(
            out,
            "ligdicash_reconciler_auth_failing {}",
            u8::from(self.auth_failing())
        );
        if let Some((rate, nodes)) = *lock(&self.cluster) {
            family(
                &mut out,
                "ligdicash_reconciler_cluster_rate_share",
                "gauge",
                "Confirms a second this node may send now: its share of max_requests_per_second (PostgreSQL; 0 while joining or cut off).",
            );
            let _ = writeln!(out, "ligdicash_reconciler_cluster_rate_share {rate}");
            family(
                &mut out,
                "ligdicash_reconciler_cluster_nodes",
                "gauge",
                "Live nodes sharing the database, at this node's last heartbeat.",
            );
            let _ = writeln!(out, "ligdicash_reconciler_cluster_nodes {nodes}");
        }
        family(
            &mut out,
            "ligdicash_reconciler_callbacks_total",
            "counter",
            "LigdiCash callbacks received: matched a payment, unmatched, rejected (malformed), or refused_busy (the route's share of connections was taken).",
        );
        for (result, n) in lock(&self.callbacks).iter() {
            let _ = writeln!(
                out,
                "ligdicash_reconciler_callbacks_total{{result=\"{result}\"}} {n}"
            );
        }
        family(
            &mut out,
            "ligdicash_reconciler_callback_contradictions_total",
            "counter",
            "Callbacks contradicting a final status: said completed of an unpaid one (rechecked: confirmed once more) or notcompleted of a paid one (upheld: never turned back).",
        );
        for ((status, what), n) in lock(&self.contradictions).iter() {
            let _ = writeln!(
                out,
                "ligdicash_reconciler_callback_contradictions_total{{status=\"{status}\",result=\"{what}\"}} {n}"
            );
        }
        family(
            &mut out,
            "ligdicash_reconciler_contradiction_rechecks_total",
            "counter",
            "Final payments confirmed once more because a callback contradicted them, by status and what LigdiCash said: changed (a late completion), unchanged (the status stands), unanswered (tried again later).",
        );
        for ((status, result), n) in lock(&self.rechecks).iter() {
            let _ = writeln!(
                out,
                "ligdicash_reconciler_contradiction_rechecks_total{{status=\"{status}\",result=\"{result}\"}} {n}"
            );
        }
        family(
            &mut out,
            "ligdicash_reconciler_api_requests_total",
            "counter",
            "Shop API requests by route and HTTP status.",
        );
        for ((route, status), n) in lock(&self.api_requests).iter() {
            let _ = writeln!(
                out,
                "ligdicash_reconciler_api_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        self.render_faults(&mut out);
        self.render_api_listener(&mut out);
        out
    }

    /// The shop API's connection slots, when it serves.
    fn render_api_listener(&self, out: &mut String) {
        let slots = self.api_listener.slots();
        if slots == 0 {
            return;
        }
        let saturated = self
            .api_listener
            .saturated_for()
            .map_or(0.0, |d| d.as_secs_f64());
        let families = [
            (
                "ligdicash_reconciler_api_connection_slots",
                "Connections the shop API serves at once; more wait unaccepted.",
                slots.to_string(),
            ),
            (
                "ligdicash_reconciler_api_saturated_seconds",
                "How long every connection slot of the shop API has been taken (0: one is free).",
                format!("{saturated:.3}"),
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
    }

    /// Money out still open, read from the database at scrape time.
    fn render_payouts(&self, out: &mut String, db: &DbGauges) {
        let families = [
            (
                "ligdicash_reconciler_pending_payouts",
                "Withdrawals and straight payouts not settled by LigdiCash yet.",
                db.pending_payouts,
            ),
            (
                "ligdicash_reconciler_overdue_payouts",
                "Pending payouts past [payouts] overdue_after: they need a human.",
                db.overdue_payouts,
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
    }

    /// The side effects that must never stop the work, and whether they are failing.
    fn render_faults(&self, out: &mut String) {
        let families = [
            (
                "ligdicash_reconciler_store_writable",
                "gauge",
                "0 while the database refuses writes (no new payments are claimed meanwhile).",
                u64::from(!self.writes.failing()),
            ),
            (
                "ligdicash_reconciler_store_write_failures_total",
                "counter",
                "Database writes that failed and were retried.",
                self.writes.failures(),
            ),
            (
                "ligdicash_reconciler_log_lines_dropped_total",
                "counter",
                "Log lines lost because stderr was closed, failing or too slow.",
                crate::telemetry::dropped_lines(),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }

    fn render_latency(&self, out: &mut String) {
        let name = "ligdicash_reconciler_confirm_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Confirm call latency.\n# TYPE {name} histogram"
        );
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.confirms.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}
