//! Lookups returning full rows (`show`, `list`, the API), as `store::rows` does for SQLite:
//! the same [`PaymentRow`] and its one JSON form.

use super::PgStore;
use super::cached::Cached;
use super::read::payment_row;
use crate::payment::{Kind, Status};
use crate::store::StoreError;
use crate::store::read::ROW_COLUMNS;
use crate::store::{PaymentFilter, PaymentRow};
use std::sync::LazyLock;

static BY_TOKEN: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {ROW_COLUMNS} FROM payments WHERE token = $1"));

/// Typed parameters: a NULL compared with `IS NULL` has no type to infer.
static SEARCH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ROW_COLUMNS} FROM payments WHERE ($1::text IS NULL OR transaction_id = $1) \
         AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3) \
         AND ($5::text IS NULL OR kind = $5) ORDER BY id DESC LIMIT $4"
    )
});

impl PgStore {
    /// One payment by token.
    pub async fn get(&self, token: &str) -> Result<Option<PaymentRow>, StoreError> {
        let row = self
            .conn()
            .await?
            .query_opt_cached(&BY_TOKEN, &[&token])
            .await?;
        row.as_ref().map(payment_row).transpose()
    }

    /// Payments matching `filter`, newest first (keyset paging: a page never shifts as
    /// rows arrive).
    pub async fn search(
        &self,
        filter: &PaymentFilter,
        limit: usize,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .conn()
            .await?
            .query_cached(
                &SEARCH,
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
