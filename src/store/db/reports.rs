//! The turn at the nightly reports: one node at a time, which differs by database (a
//! PostgreSQL advisory lock; SQLite's one daemon per file), so written by hand beside the
//! shared operations (`db/ops.rs`).

use super::{Backend, Db};
use crate::store::StoreError;
use crate::store::postgres::lock::SessionLock;

/// The right to write the nightly reports and run the re-check: one node at a time.
#[derive(Debug)]
pub enum ReportTurn {
    /// SQLite: one daemon per file (the instance lock), so always its turn.
    Alone,
    /// PostgreSQL: the advisory lock, held on a connection of its own.
    Locked(SessionLock),
}

impl ReportTurn {
    /// False once a PostgreSQL holder lost its connection: the server has released the
    /// lock and another node may have taken it; the holder stops at its next step.
    pub fn is_held(&self) -> bool {
        match self {
            ReportTurn::Alone => true,
            ReportTurn::Locked(lock) => lock.is_held(),
        }
    }

    /// Lets the next node take its turn. A lock whose release fails goes with its
    /// connection, which is closed here.
    pub async fn release(self) {
        if let ReportTurn::Locked(lock) = self
            && let Err(e) = lock.release().await
        {
            tracing::debug!(error = %e, "report lock released with its connection");
        }
    }
}

impl Db {
    /// This node's turn at the reports, or `None` while another node has it.
    pub async fn try_report_turn(&self) -> Result<Option<ReportTurn>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(ReportTurn::Alone)),
            Backend::Postgres(p) => Ok(p.try_report_lock().await?.map(ReportTurn::Locked)),
        }
    }
}
