//! The `email` sink: each scheduled report mailed through the outbox, which already gives
//! what a mail must have: a delivery row committed with the day's `report.generated`
//! event (so a day is mailed once, whatever crashes), retries on `[events]
//! retry_schedule` across restarts, a dead letter after it, and `events redeliver`.
//!
//! It takes only `report.generated`: the reporter addresses that event to every sink, and
//! everything that inserts payment events (poller, confirm-now, the re-check, the API) to
//! every sink but this one, so no payment event ever gets an e-mail delivery row
//! (`app::App::build`). A permanent SMTP refusal (550, a mailbox unknown) is retried on
//! the same schedule as any failure: a mail admin can fix it within the hours it spans.

use super::sinks::Attempt;
use crate::metrics::report_email::{MailResult, ReportEmails};
use crate::report::email::Mailer;
use crate::report::email::message::Sending;
use crate::store::{DeliveryResult, DueDelivery};
use std::sync::Arc;

/// The only event type the sink takes.
pub const REPORT_GENERATED: &str = "report.generated";

/// The mailer and its counters.
pub struct EmailSink {
    mailer: Mailer,
    counts: Arc<ReportEmails>,
}

impl EmailSink {
    /// Shows the counters in `/metrics` from now on (the daemon mails reports).
    pub fn new(mailer: Mailer, counts: Arc<ReportEmails>) -> Self {
        counts.enable();
        Self { mailer, counts }
    }

    /// Mails the day the event announces.
    pub async fn deliver(&self, d: &DueDelivery, kind: &str) -> Attempt {
        let failed = |error: String| Attempt::Failed {
            error,
            retry_after: None,
        };
        if kind != REPORT_GENERATED {
            return failed(format!(
                "the email sink takes only {REPORT_GENERATED}, not {kind}"
            ));
        }
        let payload = match serde_json::from_str::<serde_json::Value>(&d.payload) {
            Ok(p) => p,
            Err(e) => return failed(format!("report e-mail: the event is not JSON: {e}")),
        };
        match self.mailer.send(&payload["data"], Sending::Scheduled).await {
            Ok(message_id) => {
                tracing::info!(event = %d.event_id, message_id, to = %self.mailer.shown(), "nightly report e-mailed");
                Attempt::Delivered
            }
            Err(e) => failed(format!("report e-mail failed: {e}")),
        }
    }

    /// Counts what became of an attempt, once the outbox has decided (retry or dead).
    pub fn observe(&self, result: &DeliveryResult) {
        let result = match result {
            DeliveryResult::Delivered => MailResult::Sent,
            DeliveryResult::Retry { .. } => MailResult::Failed,
            DeliveryResult::Dead { .. } => MailResult::Dead,
        };
        self.counts.count(result, crate::time::now_ms());
    }
}
