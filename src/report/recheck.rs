//! The re-check of timeouts: LigdiCash sets no expiry, so a payment given up as `timeout`
//! may still complete. After each night's reports, the timeouts of the last `recheck_days`
//! days are confirmed again through the one confirm path, and what LigdiCash now says is
//! recorded by the store's one writer, a compare-and-set on `timeout`.

use super::Reporter;
use crate::confirm::{Confirmer, HEARTBEAT, Turn};
use crate::health::Writer;
use crate::payment::{ConfirmOutcome, Status};
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

impl RecheckSummary {
    /// Counts a timeout the re-check finalised as `status`.
    fn count(&mut self, status: Status) {
        match status {
            Status::Completed => self.late_completed += 1,
            Status::Mismatch => self.late_mismatch += 1,
            Status::NotCompleted => self.notcompleted += 1,
            _ => {}
        }
    }
}

/// What became of the confirm of one listed timeout.
enum Confirmed {
    /// LigdiCash was asked (or the call failed): the outcome to record.
    Sent(Box<ConfirmOutcome>),
    /// Being confirmed elsewhere, or no longer a timeout: nothing for the re-check to do.
    Skipped,
    /// The pass ends here; the rest of the timeouts wait for the next one.
    Stop,
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
            if !confirmer.throttle().has_share() {
                // A cluster node without a share could wait for one for ever, holding the
                // report lock: the rest wait for the next pass.
                tracing::warn!("re-check stopped: this node has no share of the request rate");
                return Ok(summary);
            }
            let outcome = match self
                .confirm_timeout(confirmer, timeout.token, &stop)
                .await?
            {
                Confirmed::Sent(outcome) => *outcome,
                Confirmed::Skipped => continue,
                Confirmed::Stop => return Ok(summary),
            };
            let refused = outcome.outcome == crate::ligdicash::classify::AUTH_FAILED;
            let finalized = self.record(confirmer, outcome, &stop).await?;
            summary.checked += 1;
            if refused {
                // Every further call would be refused too: the rest wait for the next pass.
                tracing::warn!(
                    "re-check stopped: LigdiCash refuses our credentials (see the poller's error)"
                );
                break;
            }
            if let Some(status) = finalized {
                summary.count(status);
            }
        }
        Ok(summary)
    }

    /// Claims the timeout `token` and confirms it, waiting out held confirms (or ending the
    /// pass at the first one, for a finite run). Claimed again before each try: on a
    /// cluster, the shop's confirm-now on another node may be asking about this very
    /// payment. A claim not sent is released at once.
    async fn confirm_timeout(
        &self,
        confirmer: &Confirmer,
        token: String,
        stop: &CancellationToken,
    ) -> Result<Confirmed, StoreError> {
        loop {
            let ToConfirm::Claimed(p) = self.db.claim_to_confirm(token.clone(), now_ms()).await?
            else {
                return Ok(Confirmed::Skipped);
            };
            if p.status != Status::Timeout {
                // Requeued since it was listed: the poller has it now.
                self.db.release_claim(p.id).await?;
                return Ok(Confirmed::Skipped);
            }
            let id = p.id;
            let turn = confirmer.confirm(p, stop).await;
            if !matches!(turn, Turn::Sent(_)) {
                self.db.release_claim(id).await?;
            }
            match turn {
                Turn::Sent(outcome) => return Ok(Confirmed::Sent(outcome)),
                Turn::Held if self.stop_when_held => {
                    tracing::warn!(
                        "re-check stopped: confirms are held (refused credentials, a rate \
                         limit or a database refusing writes); the rest wait for the next pass"
                    );
                    return Ok(Confirmed::Stop);
                }
                Turn::Held => {
                    let wait = confirmer.paused_for().unwrap_or(HEARTBEAT);
                    tokio::time::sleep(wait.min(HEARTBEAT)).await;
                }
                Turn::Stopped => return Ok(Confirmed::Stop),
            }
        }
    }

    /// Records `outcome` through the store's one writer, retrying while the database is
    /// away: an answer in hand is kept through an outage. Returns the status the timeout
    /// was finalised in, if the answer changed it.
    async fn record(
        &self,
        confirmer: &Confirmer,
        outcome: ConfirmOutcome,
        stop: &CancellationToken,
    ) -> Result<Option<Status>, StoreError> {
        let token = outcome.token.clone();
        let outcome = Arc::new(vec![outcome]);
        let write = || {
            self.db
                .apply_outcomes(outcome.clone(), now_ms(), self.sinks.clone())
        };
        let written = confirmer.writes().retry(Writer::Recheck, stop, write);
        let applied = written.await?.unwrap_or_default();
        let finalized = applied.first().and_then(|a| a.finalized);
        if let Some(status) = finalized {
            tracing::info!(%token, status = status.as_str(), "re-check of a timeout changed its status");
        }
        Ok(finalized)
    }
}
