//! LigdiCash callbacks for PostgreSQL, with `store::callbacks`'s rules: kept raw, matched
//! to a payment (the order reference first, an invoice before a payout of the same order),
//! never trusted, and a matched pending payment only made due at once, unless a callback
//! named it within `dedupe_ms` (LigdiCash posts each one twice, as JSON and as a form).
//!
//! Two nodes may receive the two copies at once: the matched payment's row is locked
//! before the dedupe check, so the second copy sees the first one's row.

use super::PgStore;
use crate::store::StoreError;
use crate::store::callbacks::{CallbackKeys, Received};
use crate::store::parked::PARKED;
use crate::time::Millis;
use tokio_postgres::Transaction;

impl PgStore {
    /// Records a callback and, if it names a pending payment that no callback named in
    /// the last `dedupe_ms`, makes that payment due now. One transaction.
    pub async fn record_callback(
        &self,
        content_type: &str,
        body: &str,
        keys: &CallbackKeys,
        now: Millis,
        dedupe_ms: Millis,
    ) -> Result<Received, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let found = find_payment(&tx, keys).await?;
        let mut made_due = false;
        if let Some((id, _)) = found {
            tx.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", &[&id])
                .await?;
            let recent: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM callbacks WHERE payment_id = $1 \
                     AND received_at > $2)",
                    &[&id, &now.saturating_sub(dedupe_ms)],
                )
                .await?
                .try_get(0)?;
            if !recent {
                // PostgreSQL parks no row, but a row at the parked marker stays there: only
                // a correction makes it due, never a callback (as on SQLite).
                made_due = tx
                    .execute(
                        "UPDATE payments SET next_poll_at = $2 WHERE id = $1 \
                         AND status = 'pending' AND (next_poll_at IS NULL \
                         OR (next_poll_at > $2 AND next_poll_at < $3))",
                        &[&id, &now, &PARKED],
                    )
                    .await?
                    == 1;
            }
        }
        let (payment_id, matched_by) = (found.map(|(id, _)| id), found.map(|(_, by)| by));
        tx.execute(
            "INSERT INTO callbacks (received_at, content_type, body, payment_id, matched_by, \
             said_status) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &now,
                &content_type,
                &body,
                &payment_id,
                &matched_by,
                &keys.status,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Received {
            payment_id,
            matched_by,
            made_due,
        })
    }
}

/// The payment a callback names, and by what, in `store::callbacks::find_payment`'s order:
/// the order reference (an invoice before a payout, a pending payment before a settled one,
/// the newest first), then `external_id`'s parts, `request_id`, and last the token.
async fn find_payment(
    tx: &Transaction<'_>,
    keys: &CallbackKeys,
) -> Result<Option<(i64, &'static str)>, StoreError> {
    let by_order = tx
        .prepare(
            "SELECT id FROM payments WHERE transaction_id = $1 \
             ORDER BY kind = 'invoice' DESC, status = 'pending' DESC, id DESC LIMIT 1",
        )
        .await?;
    let orders = keys
        .transaction_id
        .iter()
        .map(|o| (o.as_str(), "transaction_id"))
        .chain(
            keys.external_id
                .iter()
                .flat_map(|e| e.split(';'))
                .map(|part| (part.trim(), "external_id")),
        );
    for (order, by) in orders {
        if let Some(row) = tx.query_opt(&by_order, &[&order]).await? {
            return Ok(Some((row.try_get(0)?, by)));
        }
    }
    let others = [
        ("request_id", &keys.request_id, "request_id"),
        ("token", &keys.token, "token"),
    ];
    for (column, value, by) in others {
        let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let sql = format!("SELECT id FROM payments WHERE {column} = $1 LIMIT 1");
        if let Some(row) = tx.query_opt(&sql, &[&value]).await? {
            return Ok(Some((row.try_get(0)?, by)));
        }
    }
    Ok(None)
}
