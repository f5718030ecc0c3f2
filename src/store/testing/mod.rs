//! The store's conformance suite, with the other test-only code of the store: every
//! operation of [`Db`] tested once, through `Db`, on both databases. A test is an
//! `async fn(Backend)` named in [`conformance!`], which runs it on a fresh SQLite file and
//! on a fresh database of a throwaway PostgreSQL server
//! (`sqlite` and `postgresql` test cases; the PostgreSQL one says "skipped" where
//! PostgreSQL is not installed, except in CI). One file per area (`payments`, `outcomes`,
//! `callbacks`, `outbox`, `reports`, `gauges`, `cases`, `evidence`), sharing [`helpers`].
//! What differs by design has suites of its own, which may reach into their backend:
//! `postgres_only` (claims, leases, nodes, the report lock) and `sqlite_only` (pragmas,
//! query plans, rows parked for values of the wrong type).
//!
//! Adding a store operation means adding its test here: the suite is what keeps the two
//! backends from drifting (orderings, counts, the rules of the model).

mod callbacks;
mod cases;
mod db_access;
mod evidence;
mod gauges;
pub(crate) mod helpers;
mod outbox;
mod outcomes;
mod payments;
mod postgres_only;
mod postgres_plans;
mod reports;
mod sqlite_only;

use super::Db;
use super::postgres::testing::TestServer;
use crate::config::{DatabaseConfig, HumanDuration};
use crate::store::Target;

/// A database for one test case, with what keeps it alive.
pub struct Backend {
    pub db: Db,
    /// The SQLite file's directory, or the PostgreSQL server.
    _keep: Box<dyn std::any::Any + Send>,
}

impl Backend {
    /// A fresh SQLite file, opened as the daemon opens it.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = DatabaseConfig {
            path: dir.path().join("conformance.db"),
            busy_timeout: HumanDuration::secs(5),
            ..DatabaseConfig::default()
        };
        let db = Db::open(&Target::sqlite(&config))
            .await
            .expect("open SQLite");
        Self {
            db,
            _keep: Box::new(dir),
        }
    }

    /// A fresh database on a throwaway PostgreSQL server, or `None` where there is none
    /// (outside CI).
    pub async fn postgresql() -> Option<Self> {
        let pg = TestServer::start()?;
        let settings = pg.database("conformance").await;
        let target = Target {
            backend: crate::config::DatabaseBackend::Postgres(settings),
            claims: crate::store::postgres::ClaimPolicy::new("node-1", 30_000, 3_000),
            max_connections: 4,
        };
        let db = Db::open(&target).await.expect("open PostgreSQL");
        Some(Self {
            db,
            _keep: Box::new(pg),
        })
    }
}

/// Runs each named `async fn(Backend)` on both databases: `conformance!(a, b)` makes the
/// modules `a` and `b`, each with a `sqlite` and a `postgresql` test.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::store::testing::Backend::sqlite().await).await;
                }

                #[tokio::test]
                async fn postgresql() {
                    if let Some(b) = $crate::store::testing::Backend::postgresql().await {
                        super::$name(b).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use conformance;
