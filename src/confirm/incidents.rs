//! Logs an error class once when it starts and once when it ends, not once per call: during
//! an outage thousands of payments fail the same way, and one line says it all.

use crate::time::Millis;
use std::collections::HashMap;
use std::sync::Mutex;

/// Open incidents by error class.
#[derive(Debug, Default)]
pub struct Incidents {
    open: Mutex<HashMap<&'static str, Incident>>,
    unknown_statuses: Mutex<Vec<String>>,
}

#[derive(Debug)]
struct Incident {
    /// When the first failure was seen.
    opened_at: Millis,
    failed_calls: u64,
}

impl Incidents {
    /// A call failed with `class` at `now`; warns only if this opens the incident.
    pub fn failed(&self, class: &'static str, detail: &str, now: Millis) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let incident = open.entry(class).or_insert(Incident {
            opened_at: now,
            failed_calls: 0,
        });
        incident.failed_calls += 1;
        if incident.failed_calls == 1 {
            tracing::warn!(
                class,
                detail,
                "confirm calls are failing; retrying with backoff"
            );
        } else {
            tracing::debug!(class, detail, "confirm call failed");
        }
    }

    /// LigdiCash answered a call sent at `sent_at`: the incidents that were already open
    /// when it was sent are over. An answer to a call sent earlier, still in flight when
    /// the failures began, proves nothing: it would close the incident only for the next
    /// failure to open (and log) it again.
    pub fn answered(&self, sent_at: Millis) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|class, incident| {
            let over = incident.opened_at <= sent_at;
            if over {
                tracing::info!(
                    class,
                    failed_calls = incident.failed_calls,
                    "confirm calls recovered"
                );
            }
            !over
        });
    }

    #[cfg(test)]
    fn is_open(&self, class: &str) -> bool {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.contains_key(class)
    }

    /// Warns about a status string we do not know, once per distinct string.
    pub fn unknown_status(&self, status: &str, token: &str) {
        let mut seen = self
            .unknown_statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.iter().any(|s| s == status) {
            tracing::debug!(status, token, "unknown confirm status treated as pending");
        } else {
            seen.push(status.to_owned());
            tracing::warn!(status, token, "unknown confirm status, treated as pending");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_answer_to_an_earlier_call_does_not_end_the_incident() {
        let incidents = Incidents::default();
        incidents.failed("server_error", "HTTP 502", 1_000);
        incidents.failed("server_error", "HTTP 502", 1_010);
        // A call sent at 990 (before the first failure) answers now.
        incidents.answered(990);
        assert!(incidents.is_open("server_error"));
        // A call sent after the failures began answers: recovered.
        incidents.answered(1_020);
        assert!(!incidents.is_open("server_error"));
    }
}
