//! LigdiCash callbacks for PostgreSQL, carried out as the pure policy
//! ([`crate::payment::callback`]) plans it, with `store::callbacks`'s matching rules (the
//! order reference first, an invoice before a payout of the same order): a pending payment
//! made due at once, a final one a callback contradicts confirmed once more, the raw body
//! kept within bounds. Never trusted.
//!
//! The payment is read without a lock and written only when the plan says so, each change
//! a compare-and-set, so two nodes receiving LigdiCash's two copies at once change nothing
//! twice; the matched payment's row is locked before the kept callbacks are trimmed.

use super::PgStore;
use super::cached::Cached;
use crate::payment::Status;
use crate::payment::callback::{self, Named, Said};
use crate::store::PARKED;
use crate::store::Probe;
use crate::store::StoreError;
use crate::store::{CallbackKeys, RawCallback, Received};
use crate::time::Millis;

const NAMED_SQL: &str = "SELECT status, next_poll_at, next_poll_at >= $2, recheck_at, \
    GREATEST(last_confirm_at, last_sent_at), \
    (SELECT count(*) FROM callbacks WHERE payment_id = $1), \
    (SELECT max(received_at) FROM callbacks WHERE payment_id = $1) \
    FROM payments WHERE id = $1";

impl PgStore {
    /// Records a callback as [`callback::plan`] says (see `store::callbacks`). The floor
    /// counts from the last confirm's send or answer, whichever node made it.
    pub async fn record_callback(
        &self,
        content_type: &str,
        body: &str,
        source: Option<&str>,
        keys: &CallbackKeys,
        now: Millis,
        min_interval: Millis,
    ) -> Result<Received, StoreError> {
        let said = Said::parse(keys.status.as_deref());
        let raw = RawCallback {
            content_type,
            body,
            source,
        };
        let mut conn = self.conn().await?;
        let found = find_payment(&conn, keys).await?;
        let Some((id, by)) = found else {
            return self.record_unmatched(&mut conn, raw, keys, now).await;
        };
        let Some(row) = conn.query_opt_cached(NAMED_SQL, &[&id, &PARKED]).await? else {
            return Ok(Received::default());
        };
        let status: String = row.try_get(0)?;
        let named = Named {
            status: Status::parse(&status)
                .ok_or_else(|| StoreError::Task(format!("unknown status {status:?}")))?,
            next_poll_at: row.try_get(1)?,
            parked: row.try_get::<_, Option<bool>>(2)?.unwrap_or(false),
            recheck_at: row.try_get(3)?,
            last_confirm_at: row.try_get(4)?,
            kept: row.try_get(5)?,
            last_kept_at: row.try_get(6)?,
        };
        let plan = callback::plan(&named, said, now, min_interval);
        if plan.writes() {
            let tx = conn.transaction().await?;
            if plan.make_due {
                tx.execute_cached(
                    "UPDATE payments SET next_poll_at = $2 WHERE id = $1 \
                     AND status = 'pending' AND (next_poll_at IS NULL \
                     OR (next_poll_at > $2 AND next_poll_at < $3))",
                    &[&id, &plan.due_at, &PARKED],
                )
                .await?;
            }
            if plan.recheck {
                tx.execute_cached(
                    "UPDATE payments SET recheck_at = $2 WHERE id = $1 AND status = $3 \
                     AND (recheck_at IS NULL OR recheck_at > $2)",
                    &[&id, &plan.due_at, &status],
                )
                .await?;
            }
            if plan.keep {
                // The row lock orders two nodes trimming one payment's callbacks.
                tx.execute_cached("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", &[&id])
                    .await?;
                insert(&tx, raw, Some(id), Some(by), keys, now).await?;
                trim(&tx, id).await?;
            }
            tx.commit().await?;
        }
        Ok(Received {
            payment_id: Some(id),
            matched_by: Some(by),
            status: Some(named.status),
            plan,
            kept: plan.keep,
        })
    }

    /// A callback naming no payment: kept while this quarter hour's sample is not full,
    /// counted in the tally with it.
    async fn record_unmatched(
        &self,
        conn: &mut deadpool_postgres::Object,
        raw: RawCallback<'_>,
        keys: &CallbackKeys,
        now: Millis,
    ) -> Result<Received, StoreError> {
        let bucket = callback::bucket_of(now);
        let kept: i64 = conn
            .query_one_cached(
                "SELECT count(*) FROM callbacks WHERE received_at >= $1 AND payment_id IS NULL",
                &[&(bucket * callback::BUCKET_MS)],
            )
            .await?
            .try_get(0)?;
        let keep = kept < callback::UNMATCHED_SAMPLE;
        if keep {
            let tx = conn.transaction().await?;
            insert(&tx, raw, None, None, keys, now).await?;
            tx.execute_cached(
                "INSERT INTO callback_tally (bucket, unmatched) VALUES ($1, 1) \
                 ON CONFLICT (bucket) DO UPDATE SET unmatched = callback_tally.unmatched + 1",
                &[&bucket],
            )
            .await?;
            tx.commit().await?;
        }
        Ok(Received {
            kept: keep,
            ..Received::default()
        })
    }

    /// Adds callbacks counted but not kept to the quarter hour `bucket`'s tally.
    pub async fn add_callback_tally(
        &self,
        bucket: i64,
        unmatched: i64,
        not_kept: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute_cached(
                "INSERT INTO callback_tally (bucket, unmatched, not_kept) VALUES ($1, $2, $3) \
                 ON CONFLICT (bucket) DO UPDATE SET \
                 unmatched = callback_tally.unmatched + excluded.unmatched, \
                 not_kept = callback_tally.not_kept + excluded.not_kept",
                &[&bucket, &unmatched, &not_kept],
            )
            .await?;
        Ok(())
    }
}

async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    raw: RawCallback<'_>,
    payment_id: Option<i64>,
    matched_by: Option<&str>,
    keys: &CallbackKeys,
    now: Millis,
) -> Result<(), StoreError> {
    tx.execute_cached(
        "INSERT INTO callbacks (received_at, content_type, body, payment_id, matched_by, \
         said_status, source) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &now,
            &raw.content_type,
            &raw.body,
            &payment_id,
            &matched_by,
            &keys.status,
            &raw.source,
        ],
    )
    .await?;
    Ok(())
}

/// Deletes the oldest of the newest kept callbacks of a payment past the bound.
async fn trim(tx: &deadpool_postgres::Transaction<'_>, payment_id: i64) -> Result<(), StoreError> {
    let kept: i64 = tx
        .query_one_cached(
            "SELECT count(*) FROM callbacks WHERE payment_id = $1",
            &[&payment_id],
        )
        .await?
        .try_get(0)?;
    let excess = callback::excess_after_keeping(kept - 1);
    if excess > 0 {
        tx.execute_cached(
            "DELETE FROM callbacks WHERE id IN (SELECT id FROM callbacks WHERE payment_id = $1 \
             ORDER BY received_at, id LIMIT $2 OFFSET $3)",
            &[&payment_id, &excess, &callback::FIRST_KEPT],
        )
        .await?;
    }
    Ok(())
}

/// The payment a callback names, and by what, trying [`CallbackKeys::probes`] in order.
async fn find_payment(
    conn: &deadpool_postgres::Object,
    keys: &CallbackKeys,
) -> Result<Option<(i64, &'static str)>, StoreError> {
    for (probe, value, by) in keys.probes() {
        let sql = match probe {
            Probe::Order => {
                "SELECT id FROM payments WHERE transaction_id = $1 \
                 ORDER BY kind = 'invoice' DESC, status = 'pending' DESC, id DESC LIMIT 1"
            }
            Probe::RequestId => "SELECT id FROM payments WHERE request_id = $1 LIMIT 1",
            Probe::Token => "SELECT id FROM payments WHERE token = $1 LIMIT 1",
        };
        if let Some(row) = conn.query_opt_cached(sql, &[&value]).await? {
            return Ok(Some((row.try_get(0)?, by)));
        }
    }
    Ok(None)
}
