//! Report e-mails by what became of each attempt, and for how long they have been
//! failing, for `/metrics` and the alerts on a mail failing for a day or given up
//! (deploy/prometheus-alerts.yml).
//!
//! Shown only where `[report.email]` is set, and then with every result from 0, so that
//! a query on one result never meets a series that does not exist yet.

use crate::time::now_ms;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// What became of one attempt to mail a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailResult {
    /// The SMTP server took it.
    Sent,
    /// It failed and will be tried again on the outbox's schedule.
    Failed,
    /// It failed and the outbox gave up: the delivery is dead.
    Dead,
}

/// The counters of the e-mail sink.
#[derive(Debug, Default)]
pub struct ReportEmails {
    enabled: AtomicBool,
    sent: AtomicU64,
    failed: AtomicU64,
    dead: AtomicU64,
    /// When the first attempt failed since the last one that got through (0: none).
    failing_since_ms: AtomicI64,
}

impl ReportEmails {
    /// The daemon mails reports: show the counters.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Counts one attempt, at `now_ms` (for how long mails have been failing).
    pub fn count(&self, result: MailResult, now_ms: i64) {
        let counter = match result {
            MailResult::Sent => &self.sent,
            MailResult::Failed => &self.failed,
            MailResult::Dead => &self.dead,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match result {
            MailResult::Sent => self.failing_since_ms.store(0, Ordering::Relaxed),
            // Only the first failure of a run of them starts the clock.
            MailResult::Failed | MailResult::Dead => {
                let _ = self.failing_since_ms.compare_exchange(
                    0,
                    now_ms.max(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Seconds since the first failed attempt with none through after it, at `now_ms`.
    fn failing_secs(&self, now_ms: i64) -> i64 {
        match self.failing_since_ms.load(Ordering::Relaxed) {
            0 => 0,
            since => (now_ms - since).max(0) / 1000,
        }
    }

    /// The Prometheus families, when enabled.
    pub fn render(&self, out: &mut String) {
        self.render_at(out, now_ms());
    }

    fn render_at(&self, out: &mut String, now_ms: i64) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let name = "ligdicash_reconciler_report_emails_total";
        let _ = writeln!(
            out,
            "# HELP {name} Attempts to mail a nightly report since start: sent, failed (retried on the outbox's schedule), dead (given up; see `events list --state dead`).\n# TYPE {name} counter"
        );
        for (result, n) in [
            ("sent", &self.sent),
            ("failed", &self.failed),
            ("dead", &self.dead),
        ] {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{result=\"{result}\"}} {n}");
        }
        let name = "ligdicash_reconciler_report_email_failing_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long report e-mails have been failing: since the first failed attempt with none sent after it, as this process saw them (0: the last one was sent).\n# TYPE {name} gauge\n{name} {}",
            self.failing_secs(now_ms)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_until_enabled_then_every_result_from_zero() {
        let counts = ReportEmails::default();
        let mut out = String::new();
        counts.render(&mut out);
        assert!(out.is_empty(), "{out}");
        counts.enable();
        counts.count(MailResult::Failed, 1_000);
        counts.count(MailResult::Failed, 2_000);
        counts.count(MailResult::Sent, 3_000);
        counts.render_at(&mut out, 4_000);
        for line in [
            "ligdicash_reconciler_report_emails_total{result=\"sent\"} 1",
            "ligdicash_reconciler_report_emails_total{result=\"failed\"} 2",
            "ligdicash_reconciler_report_emails_total{result=\"dead\"} 0",
            "# TYPE ligdicash_reconciler_report_emails_total counter",
            "ligdicash_reconciler_report_email_failing_seconds 0",
        ] {
            assert!(out.lines().any(|l| l == line), "{line}\n{out}");
        }
    }

    /// The clock starts at the first failure after a mail got through, runs on through
    /// retries and a death, and stops at the next mail sent.
    #[test]
    fn failing_time_runs_from_the_first_failure_until_a_mail_gets_through() {
        let counts = ReportEmails::default();
        let day = 86_400_000;
        counts.count(MailResult::Failed, 10_000);
        counts.count(MailResult::Failed, 10_000 + day);
        counts.count(MailResult::Dead, 10_000 + 2 * day);
        assert_eq!(counts.failing_secs(10_000 + 3 * day), 3 * 86_400);
        counts.count(MailResult::Sent, 10_000 + 3 * day);
        assert_eq!(counts.failing_secs(10_000 + 4 * day), 0);
    }
}
