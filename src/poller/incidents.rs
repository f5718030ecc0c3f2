//! Logs an error class once when it starts and once when it ends, not once per call: during
//! an outage thousands of payments fail the same way, and one line says it all.

use std::collections::HashMap;
use std::sync::Mutex;

/// Open incidents by error class, with how many calls each has failed.
#[derive(Debug, Default)]
pub struct Incidents {
    open: Mutex<HashMap<&'static str, u64>>,
    unknown_statuses: Mutex<Vec<String>>,
}

impl Incidents {
    /// A call failed with `class`; warns only if this opens the incident.
    pub fn failed(&self, class: &'static str, detail: &str) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(class).or_insert(0);
        *count += 1;
        if *count == 1 {
            tracing::warn!(
                class,
                detail,
                "confirm calls are failing; retrying with backoff"
            );
        } else {
            tracing::debug!(class, detail, "confirm call failed");
        }
    }

    /// LigdiCash answered normally: every open incident is over.
    pub fn answered(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for (class, failed_calls) in open.drain() {
            tracing::info!(class, failed_calls, "confirm calls recovered");
        }
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
