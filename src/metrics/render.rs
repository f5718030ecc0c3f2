//! The Prometheus text exposition of [`Metrics`]: counters from memory, gauges read from
//! the database at scrape time ([`DbGauges`]).
//!
//! Each family is a [`Family`] value (name, type, help and samples) in a list, in the order
//! of the exposition, and one function writes them all: a family's `# HELP` and `# TYPE`
//! lines cannot be forgotten or drift from its samples, and adding one is adding an entry.

use super::{LATENCY_BUCKETS, Metrics, lock};
use crate::store::DbGauges;
use crate::time::now_ms;
use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// One metric family of the exposition.
struct Family {
    name: &'static str,
    /// The Prometheus type: `gauge`, `counter` or `histogram`.
    kind: &'static str,
    help: &'static str,
    /// Each sample: what follows the name on its line (its labels, or a histogram's
    /// `_bucket{le="..."}`, `_sum` and `_count`; nothing for a lone value) and its value.
    samples: Vec<(String, String)>,
}

impl Family {
    /// The family's lines: `# HELP`, `# TYPE`, then one per sample.
    fn write(&self, out: &mut String) {
        let Self {
            name, kind, help, ..
        } = self;
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (after_name, value) in &self.samples {
            let _ = writeln!(out, "{name}{after_name} {value}");
        }
    }
}

fn gauge(name: &'static str, help: &'static str, samples: Vec<(String, String)>) -> Family {
    Family {
        name,
        kind: "gauge",
        help,
        samples,
    }
}

fn counter(name: &'static str, help: &'static str, samples: Vec<(String, String)>) -> Family {
    Family {
        name,
        kind: "counter",
        help,
        samples,
    }
}

/// The one sample of a family without labels.
fn one(value: impl Display) -> Vec<(String, String)> {
    vec![(String::new(), value.to_string())]
}

/// `{name="value",...}`.
fn labels(pairs: &[(&str, &dyn Display)]) -> String {
    let pairs: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}=\"{v}\"")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// The samples of a count by one label, `name`. The lock is held only while reading.
fn by_one<A: Display>(counts: &Mutex<BTreeMap<A, u64>>, name: &str) -> Vec<(String, String)> {
    lock(counts)
        .iter()
        .map(|(a, n)| (labels(&[(name, a)]), n.to_string()))
        .collect()
}

/// The samples of a count by two labels, `names`. The lock is held only while reading.
fn by_pair<A: Display, B: Display>(
    counts: &Mutex<BTreeMap<(A, B), u64>>,
    [first, second]: [&str; 2],
) -> Vec<(String, String)> {
    lock(counts)
        .iter()
        .map(|((a, b), n)| (labels(&[(first, a), (second, b)]), n.to_string()))
        .collect()
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self, db: &DbGauges) -> String {
        let mut out = String::new();
        let families = [
            self.backlog(db),
            self.confirm_families(),
            self.liveness(db),
            self.callback_and_api_families(),
            self.faults(),
            self.api_listener(),
        ];
        for family in families.iter().flatten() {
            family.write(&mut out);
        }
        self.report_emails.render(&mut out);
        out
    }

    /// The build, and what is still open, read from the database at scrape time.
    fn backlog(&self, db: &DbGauges) -> Vec<Family> {
        let version = labels(&[("version", &env!("CARGO_PKG_VERSION"))]);
        let age = db
            .oldest_pending_created_at
            .map_or(0, |c| (now_ms() - c).max(0) / 1000);
        let case_age = db
            .cases
            .oldest_opened_at
            .map_or(0, |c| (now_ms() - c).max(0) / 1000);
        vec![
            gauge(
                "ligdicash_reconciler_build_info",
                "Build information.",
                vec![(version, "1".into())],
            ),
            gauge(
                "ligdicash_reconciler_pending_payments",
                "Payments not resolved yet. Recounted only now and then (on a big database up to minutes apart), so it may lag what changed since.",
                one(db.pending),
            ),
            gauge(
                "ligdicash_reconciler_oldest_pending_age_seconds",
                "Age of the oldest pending invoice (0 when none). Payouts may stay pending for days: see overdue_payouts.",
                one(age),
            ),
            gauge(
                "ligdicash_reconciler_pending_payouts",
                "Withdrawals and straight payouts not settled by LigdiCash yet.",
                one(db.pending_payouts),
            ),
            gauge(
                "ligdicash_reconciler_overdue_payouts",
                "Pending payouts past [payouts] overdue_after: they need a human.",
                one(db.overdue_payouts),
            ),
            gauge(
                "ligdicash_reconciler_open_cases",
                "Cases waiting for a person's decision, by kind (docs/cases.md).",
                db.cases
                    .open_by_kind
                    .iter()
                    .map(|(kind, n)| (labels(&[("kind", &kind.as_str())]), n.to_string()))
                    .collect(),
            ),
            gauge(
                "ligdicash_reconciler_oldest_open_case_age_seconds",
                "How long the oldest open case has waited for a person (0 when none).",
                one(case_age),
            ),
        ]
    }

    /// What the confirms of this process found, and how long they took.
    fn confirm_families(&self) -> Vec<Family> {
        vec![
            counter(
                "ligdicash_reconciler_resolutions_total",
                "Payments resolved by this process, by kind and final status.",
                by_pair(&self.resolutions, ["kind", "status"]),
            ),
            counter(
                "ligdicash_reconciler_confirm_calls_total",
                "Confirm calls by kind of payment and outcome class.",
                by_pair(&self.by_outcome, ["kind", "outcome"]),
            ),
            self.latency(),
        ]
    }

    /// The confirm latency histogram: cumulative buckets, then the sum and count.
    fn latency(&self) -> Family {
        let mut samples: Vec<(String, String)> = self
            .latency_buckets
            .iter()
            .zip(LATENCY_BUCKETS)
            .map(|(bucket, bound)| {
                let n = bucket.load(Ordering::Relaxed);
                (
                    format!("_bucket{}", labels(&[("le", &bound)])),
                    n.to_string(),
                )
            })
            .collect();
        let count = self.confirms.load(Ordering::Relaxed);
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        samples.push((
            format!("_bucket{}", labels(&[("le", &"+Inf")])),
            count.to_string(),
        ));
        samples.push(("_sum".into(), sum.to_string()));
        samples.push(("_count".into(), count.to_string()));
        Family {
            name: "ligdicash_reconciler_confirm_latency_seconds",
            kind: "histogram",
            help: "Confirm call latency.",
            samples,
        }
    }

    /// Whether the work goes on: the outbox, the last answer and report, refused
    /// credentials, and on a cluster this node's share.
    fn liveness(&self, db: &DbGauges) -> Vec<Family> {
        let events = db.events_by_state.iter();
        let last = self.last_answer_ms.load(Ordering::Relaxed) / 1000;
        let mut families = vec![
            gauge(
                "ligdicash_reconciler_events",
                "Outbox events by delivery state. Recounted only now and then, like pending_payments, so it may lag.",
                events
                    .map(|(s, n)| (labels(&[("state", s)]), n.to_string()))
                    .collect(),
            ),
            gauge(
                "ligdicash_reconciler_last_successful_confirm_timestamp_seconds",
                "When LigdiCash last answered a confirm (0: never).",
                one(last),
            ),
            gauge(
                "ligdicash_reconciler_last_report_timestamp_seconds",
                "When the last nightly report was written (0: never).",
                one(db.last_report_at.unwrap_or(0) / 1000),
            ),
            gauge(
                "ligdicash_reconciler_auth_failing",
                "1 while LigdiCash refuses the credentials.",
                one(u8::from(self.auth_failing())),
            ),
        ];
        // Shown on a PostgreSQL cluster only: alone, the node has the whole rate.
        if let Some((rate, nodes)) = *lock(&self.cluster) {
            families.extend([
                gauge(
                    "ligdicash_reconciler_cluster_rate_share",
                    "Confirms a second this node may send now: its share of max_requests_per_second (PostgreSQL; 0 while joining or cut off).",
                    one(rate),
                ),
                gauge(
                    "ligdicash_reconciler_cluster_nodes",
                    "Live nodes sharing the database, at this node's last heartbeat.",
                    one(nodes),
                ),
            ]);
        }
        families
    }

    /// LigdiCash's callbacks and what became of them, and the shop API's requests.
    fn callback_and_api_families(&self) -> Vec<Family> {
        vec![
            counter(
                "ligdicash_reconciler_callbacks_total",
                "LigdiCash callbacks received: matched a payment, unmatched, rejected (malformed), or refused_busy (the route's share of connections was taken).",
                by_one(&self.callbacks, "result"),
            ),
            counter(
                "ligdicash_reconciler_callback_contradictions_total",
                "Callbacks contradicting a final status: said completed of an unpaid one (rechecked: confirmed once more) or notcompleted of a paid one (upheld: never turned back).",
                by_pair(&self.contradictions, ["status", "result"]),
            ),
            counter(
                "ligdicash_reconciler_contradiction_rechecks_total",
                "Final payments confirmed once more because a callback contradicted them, by status and what LigdiCash said: changed (a late completion), unchanged (the status stands), unanswered (tried again later).",
                by_pair(&self.rechecks, ["status", "result"]),
            ),
            counter(
                "ligdicash_reconciler_api_requests_total",
                "Shop API requests by route and HTTP status.",
                by_pair(&self.api_requests, ["route", "status"]),
            ),
        ]
    }

    /// The side effects that must never stop the work, and whether they are failing.
    fn faults(&self) -> Vec<Family> {
        vec![
            gauge(
                "ligdicash_reconciler_store_writable",
                "0 while the database refuses writes (no new payments are claimed meanwhile).",
                one(u64::from(!self.writes.failing())),
            ),
            counter(
                "ligdicash_reconciler_store_write_failures_total",
                "Database writes that failed and were retried.",
                one(self.writes.failures()),
            ),
            counter(
                "ligdicash_reconciler_log_lines_dropped_total",
                "Log lines lost because stderr was closed, failing or too slow.",
                one(crate::telemetry::dropped_lines()),
            ),
        ]
    }

    /// The shop API's connection slots, when it serves (none otherwise).
    fn api_listener(&self) -> Vec<Family> {
        let slots = self.api_listener.slots();
        if slots == 0 {
            return Vec::new();
        }
        let saturated = self
            .api_listener
            .saturated_for()
            .map_or(0.0, |d| d.as_secs_f64());
        vec![
            gauge(
                "ligdicash_reconciler_api_connection_slots",
                "Connections the shop API serves at once; more wait unaccepted.",
                one(slots),
            ),
            gauge(
                "ligdicash_reconciler_api_saturated_seconds",
                "How long every connection slot of the shop API has been taken (0: one is free).",
                one(format!("{saturated:.3}")),
            ),
        ]
    }
}
