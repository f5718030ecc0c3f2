use super::*;
use crate::store::postgres::testing::TestServer;
use crate::store::postgres::{ClaimPolicy, PgStore};

async fn open(pg: &TestServer, db: &str) -> PgStore {
    let settings = pg.database(db).await;
    PgStore::open(&settings, 4, ClaimPolicy::new("n1", 30_000, 3_000))
        .await
        .unwrap()
}

/// Tables, columns with their types, defaults and nullability, constraints and indexes, as
/// the catalog records them: what two ways of building the schema must agree on.
async fn shape(store: &PgStore) -> Vec<String> {
    let conn = store.conn().await.unwrap();
    let mut shape = Vec::new();
    for sql in [
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
         || ' ' || coalesce(column_default, '') FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY 1",
        "SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE connamespace = 'public'::regnamespace ORDER BY 1",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "SELECT viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
    ] {
        for row in conn.query(sql, &[]).await.unwrap() {
            shape.push(row.get::<_, String>(0));
        }
    }
    shape
}

#[tokio::test]
async fn migrating_an_empty_database_gives_schema_postgres_sql_and_twice_is_a_no_op() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let migrated = open(&pg, "migrated").await;
    assert_eq!(migrated.migrate().await.unwrap(), 0);
    assert_eq!(migrated.migrate().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(migrated.schema_version().await.unwrap(), SCHEMA_VERSION);
    let by_hand = open(&pg, "by_hand").await;
    by_hand
        .conn()
        .await
        .unwrap()
        .batch_execute(SCHEMA_SQL)
        .await
        .unwrap();
    // A DBA's schema.postgres.sql records its version: migrate finds nothing to do.
    assert_eq!(by_hand.migrate().await.unwrap(), SCHEMA_VERSION);
    let (a, b) = (shape(&migrated).await, shape(&by_hand).await);
    assert!(
        a.iter()
            .any(|c| c.starts_with("payments.claim_expires_at bigint")),
        "{a:?}"
    );
    assert!(
        a.iter().any(|c| c.starts_with("nodes.heartbeat_at")),
        "{a:?}"
    );
    assert_eq!(a, b);
}

/// The shop's one-line INSERT works, with the defaults SQLite gives; CHECKs refuse what
/// SQLite's refuse, and a value of the wrong type is refused at INSERT (nothing to park).
#[tokio::test]
async fn the_shops_insert_gets_the_defaults_and_checks_refuse_bad_values() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = open(&pg, "shop").await;
    store.migrate().await.unwrap();
    let conn = store.conn().await.unwrap();
    conn.execute(
        "INSERT INTO payments (token, transaction_id, expected_amount) VALUES ($1, $2, $3)",
        &[&"tok-1", &"order-1", &5000_i64],
    )
    .await
    .unwrap();
    let row = conn
        .query_one(
            "SELECT status, kind, attempts, next_poll_at IS NULL, \
             created_at > 1700000000000, created_at = updated_at FROM payments",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "pending");
    assert_eq!(row.get::<_, String>(1), "invoice");
    assert_eq!(row.get::<_, i64>(2), 0);
    assert!(row.get::<_, bool>(3) && row.get::<_, bool>(4) && row.get::<_, bool>(5));
    for bad in [
        "INSERT INTO payments (token, status) VALUES ('t2', 'paid')",
        "INSERT INTO payments (token, kind) VALUES ('t3', 'refund')",
        "INSERT INTO payments (token, expected_amount) VALUES ('t4', 0)",
        "INSERT INTO payments (token, expected_amount) VALUES ('t5', '5 000')",
        "INSERT INTO payments (token) VALUES ('')",
        "INSERT INTO events (id, type, payload, created_at, state) VALUES ('e', 'x', '{}', 0, 'lost')",
    ] {
        assert!(conn.batch_execute(bad).await.is_err(), "{bad}");
    }
    conn.execute("UPDATE payments SET created_at = 1700000000123", &[])
        .await
        .unwrap();
    let shown: String = conn
        .query_one("SELECT created_at FROM payments_view", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shown, crate::time::rfc3339(1_700_000_000_123));
}

#[tokio::test]
async fn a_newer_database_is_refused_as_sqlites_is() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let store = open(&pg, "newer").await;
    store.migrate().await.unwrap();
    store
        .conn()
        .await
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("upgrade ligdicash-reconciler"), "{msg}");
    assert!(
        msg.contains(&format!("127.0.0.1:{}/newer", pg.port)),
        "{msg}"
    );
    let failure = crate::failure::Failure::from(err);
    assert_eq!(failure.exit, crate::failure::Exit::Database);
}

/// Two nodes starting at once: the advisory lock makes one wait, and it then finds the
/// schema made (without the lock both would run CREATE TABLE and one would fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_migrating_at_once_do_not_race() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    let settings = pg.database("race").await;
    let mut nodes = Vec::new();
    for i in 0..4 {
        let claims = ClaimPolicy::new(format!("n{i}"), 30_000, 3_000);
        nodes.push(PgStore::open(&settings, 2, claims).await.unwrap());
    }
    let mut runs = tokio::task::JoinSet::new();
    for node in nodes {
        runs.spawn(async move { node.migrate().await });
    }
    let mut found: Vec<i64> = runs
        .join_all()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    found.sort();
    assert_eq!(found, [0, SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION]);
}
