//! What only tests may do through [`Db`]: run the shop's SQL, read a value back, expire the
//! gauges' cache, ask which database it is.

use crate::store::StoreError;
use crate::store::db::{Backend, Db, lock};

impl Db {
    /// Runs `sql` (statements separated by `;`, no parameters) as the shop would, on
    /// either database: for tests that set up rows the operations cannot make.
    pub async fn execute_for_tests(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_owned();
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| Ok(s.connection().execute_batch(&sql)?))
                    .await
            }
            Backend::Postgres(p) => Ok(p.conn_for_tests().await.batch_execute(&sql).await?),
        }
    }

    /// The first column of the first row of `sql` as an integer (NULL as `None`), on
    /// either database: for tests that check what an operation wrote.
    pub async fn int_for_tests(&self, sql: &str) -> Result<Option<i64>, StoreError> {
        let sql = sql.to_owned();
        match &self.backend {
            Backend::Sqlite(s) => {
                s.run(move |s| Ok(s.connection().query_row(&sql, [], |r| r.get(0))?))
                    .await
            }
            Backend::Postgres(p) => {
                let row = p.conn_for_tests().await.query_one(&sql, &[]).await?;
                Ok(row.try_get(0)?)
            }
        }
    }

    /// Forgets the gauges' counts: the next [`Db::gauges`] counts again.
    pub fn expire_counts_for_tests(&self) {
        *lock(&self.counts) = None;
    }

    /// Whether this handle is on PostgreSQL (tests of what differs by design).
    pub fn is_postgres_for_tests(&self) -> bool {
        self.postgres().is_some()
    }
}
