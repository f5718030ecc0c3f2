//! LigdiCash callbacks: each one kept raw as evidence, matched to a payment, and never
//! trusted. A matched pending payment is only made due at once, so the poller confirms it
//! within seconds; its status comes from that confirm, as always.

use super::{Store, StoreError};
use crate::time::Millis;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// What a callback says that could name a payment, in the order they are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackKeys {
    /// The shop's order reference (`custom_data` `transaction_id`, or a top-level one).
    pub transaction_id: Option<String>,
    /// LigdiCash's `external_id`: the `custom_data` values whose key contains `id`, joined
    /// by `;`; each part is tried as an order reference.
    pub external_id: Option<String>,
    pub request_id: Option<String>,
    /// The callback's token: documented as empty or as a value other than the creation
    /// token, so it matches only when it happens to equal a stored one.
    pub token: Option<String>,
    /// What it claims (kept as evidence, never acted on).
    pub status: Option<String>,
}

/// What became of one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub payment_id: Option<i64>,
    pub matched_by: Option<&'static str>,
    /// The payment was pending and is now due at once.
    pub made_due: bool,
}

impl Store {
    /// Records a callback and, if it names a pending payment that no callback named in
    /// the last `dedupe_ms` (LigdiCash posts each callback twice, as JSON and as a form),
    /// makes that payment due now. One transaction.
    pub fn record_callback(
        &mut self,
        content_type: &str,
        body: &str,
        keys: &CallbackKeys,
        now: Millis,
        dedupe_ms: Millis,
    ) -> Result<Received, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = find_payment(&tx, keys)?;
        let mut made_due = false;
        if let Some((id, _)) = found {
            let recent: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM callbacks WHERE payment_id = ?1 AND received_at > ?2)",
                params![id, now.saturating_sub(dedupe_ms)],
                |r| r.get(0),
            )?;
            if !recent {
                // Not a parked row: it is due again once the shop corrects it, not on a
                // callback (the next scan would park it again and log it again).
                made_due = tx.execute(
                    "UPDATE payments SET next_poll_at = ?2 WHERE id = ?1 AND status = 'pending' \
                     AND (next_poll_at IS NULL OR (next_poll_at > ?2 AND next_poll_at < ?3))",
                    params![id, now, super::parked::PARKED],
                )? == 1;
            }
        }
        tx.execute(
            "INSERT INTO callbacks (received_at, content_type, body, payment_id, matched_by, \
             said_status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                now,
                content_type,
                body,
                found.map(|(id, _)| id),
                found.map(|(_, by)| by),
                keys.status
            ],
        )?;
        tx.commit()?;
        Ok(Received {
            payment_id: found.map(|(id, _)| id),
            matched_by: found.map(|(_, by)| by),
            made_due,
        })
    }

    /// Callbacks that matched no payment, received in `[start, end)`.
    pub fn unmatched_callbacks(&self, start: Millis, end: Millis) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM callbacks WHERE payment_id IS NULL \
             AND received_at >= ?1 AND received_at < ?2",
            params![start, end],
            |r| r.get(0),
        )?)
    }
}

/// The payment a callback names, and by what: the order reference first (an invoice
/// before a payout of the same order, such as its refund; a pending payment before a
/// settled one; the newest first: a shop may retry an order with a new invoice), then `external_id`'s parts, `request_id`, and last the token.
fn find_payment(
    tx: &rusqlite::Transaction<'_>,
    keys: &CallbackKeys,
) -> Result<Option<(i64, &'static str)>, StoreError> {
    let by_order = |order: &str| -> Result<Option<i64>, StoreError> {
        Ok(tx
            .prepare_cached(
                "SELECT id FROM payments WHERE transaction_id = ?1 \
                 ORDER BY kind = 'invoice' DESC, status = 'pending' DESC, id DESC LIMIT 1",
            )?
            .query_row([order], |r| r.get(0))
            .optional()?)
    };
    if let Some(order) = keys.transaction_id.as_deref()
        && let Some(id) = by_order(order)?
    {
        return Ok(Some((id, "transaction_id")));
    }
    for part in keys.external_id.iter().flat_map(|e| e.split(';')) {
        if let Some(id) = by_order(part.trim())? {
            return Ok(Some((id, "external_id")));
        }
    }
    for (column, value) in [("request_id", &keys.request_id), ("token", &keys.token)] {
        let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let id: Option<i64> = tx
            .prepare_cached(&format!(
                "SELECT id FROM payments WHERE {column} = ?1 LIMIT 1"
            ))?
            .query_row([value], |r| r.get(0))
            .optional()?;
        if let Some(id) = id {
            let by = if column == "token" {
                "token"
            } else {
                "request_id"
            };
            return Ok(Some((id, by)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{Kind, NewPayment};
    use std::time::Duration;

    fn keys(order: &str) -> CallbackKeys {
        CallbackKeys {
            transaction_id: Some(order.into()),
            external_id: None,
            request_id: None,
            token: None,
            status: Some("completed".into()),
        }
    }

    /// A callback for an order matches its invoice, not the newer refund payout of the
    /// same order; and it never makes a parked row due (only a correction does).
    #[test]
    fn a_callback_matches_the_invoice_and_leaves_a_parked_row_parked() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("c.db"), Duration::from_secs(1)).unwrap();
        let invoice = NewPayment::parse("inv", Some("ORD-1"), None).unwrap();
        store.enqueue(&invoice, 0, 1_000).unwrap();
        let refund = NewPayment::parse("refund", Some("ORD-1"), None)
            .unwrap()
            .of_kind(Kind::Payout);
        store.enqueue(&refund, 0, 1_000).unwrap();
        let got = store
            .record_callback("application/json", "{}", &keys("ORD-1"), 10, 60_000)
            .unwrap();
        let inv_id = store.get("inv").unwrap().unwrap().id;
        assert_eq!(got.payment_id, Some(inv_id));
        assert!(got.made_due);

        store
            .connection()
            .execute(
                "INSERT INTO payments (token, transaction_id, expected_amount, next_poll_at) \
                 VALUES ('bad', 'ORD-2', '5 000', ?1)",
                [super::super::parked::PARKED],
            )
            .unwrap();
        let got = store
            .record_callback("application/json", "{}", &keys("ORD-2"), 20, 60_000)
            .unwrap();
        assert!(got.payment_id.is_some() && !got.made_due, "{got:?}");
        let next: i64 = store
            .connection()
            .query_row(
                "SELECT next_poll_at FROM payments WHERE token = 'bad'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(next, super::super::parked::PARKED);
    }
}
