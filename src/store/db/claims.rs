//! Taking one payment for a confirm now (the shop API's "confirm before you cancel", a
//! callback's prompt confirm): what differs by database, written by hand beside the
//! shared operations (`db/ops.rs`). PostgreSQL claims the row as the poller's scan does,
//! so no other node confirms it at the same moment; SQLite has one daemon per file and
//! claims nothing.

use super::{Backend, Db};
use crate::store::{StoreError, ToConfirm};
use crate::time::Millis;

impl Db {
    /// The payment `token` (pending, or a `timeout`) taken for one confirm now; see
    /// [`ToConfirm`]. On PostgreSQL it is claimed like a scanned row: release it with
    /// [`Db::release_claim`] if the confirm is not sent.
    pub async fn claim_to_confirm(
        &self,
        token: String,
        now: Millis,
    ) -> Result<ToConfirm, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                let found = s.run(move |s| s.confirmable(&token)).await?;
                Ok(found.map_or(ToConfirm::Not, ToConfirm::Claimed))
            }
            Backend::Postgres(p) => p.claim_to_confirm(&token, now).await,
        }
    }

    /// Lets go of a claim taken by [`Db::claim_to_confirm`] for a confirm not sent.
    pub async fn release_claim(&self, id: i64) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => p.release_claim(id).await,
        }
    }
}
