//! One payment claimed by token, for the confirms that do not come from the poller's scan:
//! the shop's confirm-now and the nightly re-check. On a cluster another node may be
//! confirming that very token, so these claim the row as the scan does, and keep
//! LigdiCash's 3 s floor from the last send whatever node made it.

use super::cached::Cached;
use super::payments::DUE_COLUMNS;
use super::{PgStore, read};
use crate::payment::DuePayment;
use crate::store::StoreError;
use crate::store::ToConfirm;
use crate::time::Millis;
use std::sync::LazyLock;

/// Claims the pending or `timeout` row `$1` for node `$2` at `$3` with a lease of `$4` ms
/// unless another claim holds it, and returns it with its last send (the confirm path
/// waits the floor from it). `last_sent_at` is not moved: the lease covers a crash (the
/// call goes within half of it), and the outcome records when the call was answered. A claim handed
/// back unsent so leaves no trace.
const CLAIM_ONE_SQL: &str = "WITH old AS (SELECT id AS old_id FROM payments \
    WHERE token = $1 AND status IN ('pending', 'timeout') \
    AND (claim_expires_at IS NULL OR claim_expires_at <= $3) FOR UPDATE) \
    UPDATE payments SET claimed_by = $2, claim_expires_at = $3 + $4 \
    FROM old WHERE id = old.old_id RETURNING ";

static CLAIM_ONE: LazyLock<String> =
    LazyLock::new(|| format!("{CLAIM_ONE_SQL}{DUE_COLUMNS}, last_sent_at"));

impl PgStore {
    /// The payment `token` claimed for one confirm now, or why not: final or unknown
    /// ([`ToConfirm::Not`]), or held by a claim ([`ToConfirm::Busy`]: a confirm of it is
    /// under way, here or on another node).
    pub async fn claim_to_confirm(
        &self,
        token: &str,
        now: Millis,
    ) -> Result<ToConfirm, StoreError> {
        let c = &self.claims;
        let conn = self.conn().await?;
        let claimed = conn
            .query_opt_cached(&CLAIM_ONE, &[&token, &c.node, &now, &c.lease])
            .await?;
        if let Some(row) = claimed {
            let mut payment: DuePayment = read::due_payment(&row)?;
            let sent: Option<Millis> = row.try_get(14)?;
            payment.last_confirm_at = payment.last_confirm_at.max(sent);
            payment.send_by = Some(now.saturating_add(c.send_window));
            return Ok(ToConfirm::Claimed(payment));
        }
        let confirmable = conn
            .query_opt_cached(
                "SELECT 1 FROM payments WHERE token = $1 AND status IN ('pending', 'timeout')",
                &[&token],
            )
            .await?;
        Ok(match confirmable {
            Some(_) => ToConfirm::Busy,
            None => ToConfirm::Not,
        })
    }

    /// Lets go of this node's claim on `id`, taken for a confirm that was not sent.
    pub async fn release_claim(&self, id: i64) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute_cached(
                "UPDATE payments SET claimed_by = NULL, claim_expires_at = NULL \
                 WHERE id = $1 AND claimed_by = $2",
                &[&id, &self.claims.node],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ClaimPolicy;
    use super::super::testing::TestServer;
    use super::*;
    use crate::payment::NewPayment;
    use std::collections::HashSet;

    const T: Millis = 1_700_000_000_000;

    /// Two nodes: a row one has claimed is busy for the other; claimed once more after
    /// its release, its floor counts from the last send; final or unknown rows are not
    /// confirmable.
    #[tokio::test]
    async fn a_claimed_token_is_busy_elsewhere_and_keeps_the_floor_from_the_last_send() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let a = pg.store("one", "node-a").await;
        let b = PgStore::open(
            &pg.settings("one"),
            2,
            ClaimPolicy::new("node-b", 30_000, 3_000),
        )
        .await
        .unwrap();
        let p = NewPayment::parse("tok", None, None).unwrap();
        a.enqueue(&p, T, T).await.unwrap();
        let scanned = a.due(T, 10, &HashSet::new()).await.unwrap();
        assert_eq!(scanned.len(), 1);
        assert_eq!(
            b.claim_to_confirm("tok", T + 1_000).await.unwrap(),
            ToConfirm::Busy
        );
        assert_eq!(
            a.claim_to_confirm("tok", T + 1_000).await.unwrap(),
            ToConfirm::Busy
        );
        a.release_claim(scanned[0].id).await.unwrap();
        // The scan's send at T: b's confirm goes no sooner than T + 3 s.
        let ToConfirm::Claimed(p) = b.claim_to_confirm("tok", T + 1_000).await.unwrap() else {
            panic!("claimable once released");
        };
        assert_eq!(p.last_confirm_at, Some(T));
        assert_eq!(p.send_by, Some(T + 1_000 + 15_000));
        let sent: Millis = b
            .conn_for_tests()
            .await
            .query_one("SELECT last_sent_at FROM payments", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            sent, T,
            "a claim for one confirm leaves the last send as it was"
        );
        assert_eq!(
            a.due(T + 40_000, 10, &HashSet::new()).await.unwrap().len(),
            1
        );
        assert_eq!(b.claim_to_confirm("nope", T).await.unwrap(), ToConfirm::Not);
    }

    /// The re-check has a call in flight for a timeout when the shop requeues it: the
    /// requeue keeps that claim, so no poller sends beside the call until its lease ends.
    #[tokio::test]
    async fn a_requeue_keeps_a_live_claim_of_a_call_in_flight() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let a = pg.store("requeue", "node-a").await;
        let b = PgStore::open(
            &pg.settings("requeue"),
            2,
            ClaimPolicy::new("node-b", 30_000, 3_000),
        )
        .await
        .unwrap();
        let p = NewPayment::parse("tok", None, None).unwrap();
        a.enqueue(&p, T, T).await.unwrap();
        a.conn_for_tests()
            .await
            .batch_execute("UPDATE payments SET status = 'timeout', next_poll_at = NULL")
            .await
            .unwrap();
        let ToConfirm::Claimed(_) = a.claim_to_confirm("tok", T).await.unwrap() else {
            panic!("a timeout is claimable for the re-check");
        };
        b.requeue("tok", T + 1_000).await.unwrap();
        let none: HashSet<i64> = HashSet::new();
        assert!(
            b.due(T + 1_000, 10, &none).await.unwrap().is_empty(),
            "the call is in flight"
        );
        assert_eq!(
            b.due(T + 30_000, 10, &none).await.unwrap().len(),
            1,
            "after the lease"
        );
    }
}
