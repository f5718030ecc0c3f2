//! The shop's side of the database in tests, on either backend ([`TestEnv::pg`]): what
//! the shop's own code would read and write, never through the reconciler.

use crate::helpers::TestEnv;
use std::time::Duration;

impl TestEnv {
    /// A `SELECT count(*) ...` with one text parameter (`?1`), read from the shop's side,
    /// on either backend. 0 only while the daemon has not created the schema yet; any
    /// other failure (a mistyped query) fails the test, so an `assert_eq!(count, 0)`
    /// cannot pass by error.
    pub fn count(&self, sql: &str, param: &str) -> i64 {
        if let Some((_, url)) = &self.pg {
            let sql = sql.replace("?1", "$1");
            return pg_blocking(url, move |client| async move {
                let tables: i64 = client
                    .query_one(
                        "SELECT count(*) FROM pg_tables WHERE tablename = 'payments'",
                        &[],
                    )
                    .await?
                    .get(0);
                if tables == 0 {
                    return Ok(0);
                }
                let row = client.query_one(sql.as_str(), &[&param]).await?;
                Ok(row.get(0))
            });
        }
        let conn = self.shop_connection();
        match conn.query_row(sql, [param], |r| r.get(0)) {
            Ok(n) => n,
            Err(e) => {
                let tables: i64 = conn
                    .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(tables, 0, "query failed: {sql}: {e}");
                0
            }
        }
    }

    /// Runs `sql` (statements without parameters) as the shop's own code would.
    pub fn shop_execute(&self, sql: &str) {
        match &self.pg {
            Some((_, url)) => {
                let sql = sql.to_owned();
                pg_blocking(url, move |client| async move {
                    client.batch_execute(&sql).await
                });
            }
            None => self.shop_connection().execute_batch(sql).unwrap(),
        }
    }

    /// The rows of a query of two text columns, on either backend.
    pub fn text_pairs(&self, sql: &str) -> Vec<(String, String)> {
        match &self.pg {
            Some((_, url)) => {
                let sql = sql.to_owned();
                pg_blocking(url, move |client| async move {
                    let rows = client.query(sql.as_str(), &[]).await?;
                    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
                })
            }
            None => {
                let conn = self.shop_connection();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
        }
    }

    /// A direct connection, as the shop's own code would open one.
    pub fn shop_connection(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }
}

/// Runs `query` on a fresh connection to `url`, on a thread of its own with its own
/// runtime, so that it can be called from synchronous code (an `eventually` check) in
/// any test runtime. A failure fails the test.
fn pg_blocking<T, F, Fut>(url: &str, query: F) -> T
where
    T: Send,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send,
    Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                        .await
                        .unwrap();
                    let task = tokio::spawn(connection);
                    let result = query(client).await;
                    let _ = task.await;
                    result.unwrap()
                })
            })
            .join()
            .unwrap()
    })
}
