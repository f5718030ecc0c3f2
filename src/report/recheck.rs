//! The re-check of timeouts: LigdiCash sets no expiry, so a payment given up as `timeout`
//! may still complete. After each night's reports, the timeouts of the last `recheck_days`
//! days are confirmed again through the one confirm path, and what LigdiCash now says is
//! recorded by the store's one writer, a compare-and-set on `timeout`.

use super::Reporter;
use crate::confirm::{HEARTBEAT, Turn};
use crate::health::Writer;
use crate::payment::Status;
use crate::store::StoreError;
use crate::store::ToConfirm;
use crate::time::now_ms;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a re-check pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecheckSummary {
    pub checked: usize,
    pub late_completed: usize,
    pub late_mismatch: usize,
    pub notcompleted: usize,
}

impl Reporter {
    /// Re-confirms the timeouts of the last `recheck_days` days through the one confirm
    /// path; what LigdiCash now says is recorded by the store's one writer, a
    /// compare-and-set on `timeout`. Waits out pauses; stops at refused credentials.
    pub async fn recheck(&self) -> Result<RecheckSummary, StoreError> {
        let mut summary = RecheckSummary::default();
        let Some(confirmer) = &self.confirmer else {
            return Ok(summary);
        };
        // Never cancelled: a shutdown drops this future (see `run`).
        let stop = CancellationToken::new();
        let since = now_ms().saturating_sub(i64::from(self.cfg.recheck_days) * 86_400_000);
        for timeout in self.db.timeouts_since(since).await? {
            if confirmer.throttle().rate() <= 0.0 {
                // A cluster node without a share could wait for one for ever, holding the
                // report lock: the rest wait for the next pass.
                tracing::warn!("re-check stopped: this node has no share of the request rate");
                return Ok(summary);
            }
            let outcome = loop {
                // Claimed before each try: on a cluster, the shop's confirm-now on another
                // node may be asking about this very payment.
                let claimed = self
                    .db
                    .claim_to_confirm(timeout.token.clone(), now_ms())
                    .await?;
                let ToConfirm::Claimed(p) = claimed else {
                    break None;
                };
                if p.status != Status::Timeout {
                    // Requeued since it was listed: the poller has it now.
                    self.db.release_claim(p.id).await?;
                    break None;
                }
                let id = p.id;
                let turn = confirmer.confirm(p, &stop).await;
                if !matches!(turn, Turn::Sent(_)) {
                    self.db.release_claim(id).await?;
                }
                match turn {
                    Turn::Sent(outcome) => break Some(*outcome),
                    Turn::Held if self.stop_when_held => {
                        tracing::warn!(
                            "re-check stopped: confirms are held (refused credentials, a rate \
                             limit or a database refusing writes); the rest wait for the next pass"
                        );
                        return Ok(summary);
                    }
                    Turn::Held => {
                        let wait = confirmer.paused_for().unwrap_or(HEARTBEAT);
                        tokio::time::sleep(wait.min(HEARTBEAT)).await;
                    }
                    Turn::Stopped => return Ok(summary),
                }
            };
            // Being confirmed elsewhere, or no longer a timeout.
            let Some(outcome) = outcome else { continue };
            let (token, refused) = (
                outcome.token.clone(),
                outcome.outcome == crate::ligdicash::classify::AUTH_FAILED,
            );
            // An answer in hand is kept through a database that is away for a while.
            let outcome = Arc::new(vec![outcome]);
            let write = || {
                self.db
                    .apply_outcomes(outcome.clone(), now_ms(), self.sinks.clone())
            };
            let written = confirmer.writes().retry(Writer::Recheck, &stop, write);
            let applied = written.await?.unwrap_or_default();
            summary.checked += 1;
            if refused {
                // Every further call would be refused too: the rest wait for the next pass.
                tracing::warn!(
                    "re-check stopped: LigdiCash refuses our credentials (see the poller's error)"
                );
                break;
            }
            if let Some(status) = applied.first().and_then(|a| a.finalized) {
                tracing::info!(%token, status = status.as_str(), "re-check of a timeout changed its status");
                match status {
                    Status::Completed => summary.late_completed += 1,
                    Status::Mismatch => summary.late_mismatch += 1,
                    Status::NotCompleted => summary.notcompleted += 1,
                    _ => {}
                }
            }
        }
        Ok(summary)
    }
}
