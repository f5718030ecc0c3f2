//! Every query through a statement prepared once per connection (deadpool's statement
//! cache): a query given as text is otherwise parsed and planned at every call, one more
//! round trip each time, for the periodic scans as for the writes. The store's PostgreSQL
//! files call these instead of `query`/`execute` with text.

use crate::store::StoreError;
use deadpool_postgres::{ClientWrapper, Transaction};
use std::future::Future;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(super) trait Cached {
    fn query_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    fn query_one_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Row, StoreError>> + Send;

    fn query_opt_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send;

    fn execute_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// One implementation for a pooled connection and a transaction on one.
macro_rules! cached_for {
    ($client:ty) => {
        impl Cached for $client {
            async fn query_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Vec<Row>, StoreError> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.query(&statement, params).await?)
            }

            async fn query_one_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Row, StoreError> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.query_one(&statement, params).await?)
            }

            async fn query_opt_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Option<Row>, StoreError> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.query_opt(&statement, params).await?)
            }

            async fn execute_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<u64, StoreError> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.execute(&statement, params).await?)
            }
        }
    };
}

cached_for!(ClientWrapper);
cached_for!(Transaction<'_>);
