//! Lookups returning full rows (`show`, `list`, the API), as `store::rows` does for SQLite:
//! the same [`PaymentRow`] and its one JSON form.

use super::PgStore;
use super::read::payment_row;
use crate::payment::{Kind, Status};
use crate::store::StoreError;
use crate::store::read::ROW_COLUMNS;
use crate::store::{PaymentFilter, PaymentRow};

impl PgStore {
    /// One payment by token.
    pub async fn get(&self, token: &str) -> Result<Option<PaymentRow>, StoreError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM payments WHERE token = $1");
        let row = self.conn().await?.query_opt(&sql, &[&token]).await?;
        row.as_ref().map(payment_row).transpose()
    }

    /// Payments matching `filter`, newest first (keyset paging: a page never shifts as
    /// rows arrive).
    pub async fn search(
        &self,
        filter: &PaymentFilter,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        // Typed parameters: a NULL compared with `IS NULL` has no type to infer.
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM payments WHERE ($1::text IS NULL OR transaction_id = $1) \
             AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3) \
             AND ($5::text IS NULL OR kind = $5) ORDER BY id DESC LIMIT $4"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()
            .await?
            .query(
                &sql,
                &[
                    &filter.transaction_id,
                    &filter.status.map(Status::as_str),
                    &filter.before_id,
                    &limit,
                    &filter.kind.map(Kind::as_str),
                ],
            )
            .await?;
        rows.iter().map(payment_row).collect()
    }
}
