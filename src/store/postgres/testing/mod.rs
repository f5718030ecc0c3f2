//! Test helpers over a throwaway PostgreSQL server ([`TestServer`], in `server.rs`, which
//! the integration tests share): the settings of a database and a migrated store.

mod server;

pub use server::TestServer;

use super::{ClaimPolicy, PgStore};
use crate::config::{PgSettings, PgUrl};

impl TestServer {
    /// Creates the database `name` and returns how to reach it.
    pub async fn database(&self, name: &str) -> PgSettings {
        self.create_database(name).await;
        self.settings(name)
    }

    /// How to reach the database `name`, with `sslmode=disable`.
    pub fn settings(&self, name: &str) -> PgSettings {
        PgSettings {
            url: PgUrl::parse(&self.url(name)).expect("test URL"),
            password: None,
            source: "test server".to_owned(),
        }
    }

    /// A fresh database `name`, opened and migrated, claiming as `node` with a lease of
    /// 30 s and the 3 s floor.
    pub async fn store(&self, name: &str, node: &str) -> PgStore {
        let settings = self.database(name).await;
        let store = PgStore::open(&settings, 4, ClaimPolicy::new(node, 30_000, 3_000))
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        store
    }
}
