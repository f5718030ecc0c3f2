//! The re-check of a finite run (`run --once`, `--until-idle`) ends when confirms are held:
//! with the poller stopped, nothing would clear the hold, and a cron pass would wait for
//! ever while holding the database lock.

use super::*;
use crate::config::{Config, Credentials};
use crate::health::Writer;
use crate::ligdicash::{ClientSettings, LigdicashClient};
use crate::metrics::Metrics;
use crate::payment::NewPayment;
use crate::store::Store;
use std::time::Duration;

#[tokio::test]
async fn a_held_recheck_of_a_finite_run_ends_and_leaves_the_timeouts() {
    let mut config = Config::default();
    // Never reached: the confirm is held before any request.
    config.ligdicash.base_url = "http://127.0.0.1:9".into();
    let settings = ClientSettings::from_config(&config).unwrap();
    let client = LigdicashClient::new(&settings, &Credentials::fixed("k", "t")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let mut store = Store::open(&db, Duration::from_secs(1)).unwrap();
    let p = NewPayment::parse("tok-timeout", None, None).unwrap();
    let now = now_ms();
    store.enqueue(&p, now, now).unwrap();
    store
        .connection()
        .execute(
            "UPDATE payments SET status = 'timeout', resolved_at = ?1",
            [now],
        )
        .unwrap();
    let metrics = Arc::new(Metrics::default());
    // A write failure the stopped poller will never see cleared.
    metrics
        .writes
        .failed(Writer::Scan, &StoreError::Task("disk full".into()));
    let confirmer = Arc::new(Confirmer::new(
        &config.poll,
        &config.payouts,
        client,
        metrics,
        Db::from(Store::open(&db, Duration::from_secs(1)).unwrap()),
        Arc::new(Vec::new()),
    ));
    let reporter = Reporter::new(
        &config.report,
        dir.path().join("reports"),
        Db::from(store),
        Some(confirmer),
        Arc::new(Vec::new()),
    )
    .unwrap()
    .stop_when_held();
    let summary = tokio::time::timeout(Duration::from_secs(10), reporter.recheck())
        .await
        .expect("the re-check of a finite run must end while confirms are held")
        .unwrap();
    assert_eq!(summary, RecheckSummary::default(), "nothing checked");
}

/// On PostgreSQL the catch-up runs on one node at a time: while another session holds the
/// report lock it writes nothing; two nodes catching up at once write each day once, with
/// one `report.generated` event each.
#[tokio::test]
async fn on_a_cluster_each_day_is_written_once_whichever_node_catches_up() {
    use crate::store::postgres::testing::TestServer;
    let Some(pg) = TestServer::start() else {
        return;
    };
    let a = pg.store("reports", "node-a").await;
    let b = crate::store::postgres::PgStore::open(
        &pg.settings("reports"),
        2,
        crate::store::postgres::ClaimPolicy::new("node-b", 30_000, 3_000),
    )
    .await
    .unwrap();
    let p = NewPayment::parse("tok-old", None, None).unwrap();
    let three_days_ago = now_ms() - 3 * 86_400_000;
    a.enqueue(&p, three_days_ago, three_days_ago).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.report.formats = vec![crate::config::ReportFormat::Json];
    let reporter = |store: &crate::store::postgres::PgStore| {
        Reporter::new(
            &config.report,
            dir.path().join("reports"),
            Db::from(store.clone()),
            None,
            Arc::new(vec!["jsonl".into()]),
        )
        .unwrap()
    };
    let (ra, rb) = (reporter(&a), reporter(&b));

    let held = b.try_report_lock().await.unwrap().expect("free at first");
    assert_eq!(ra.catch_up().await.unwrap(), Vec::<NaiveDate>::new());
    assert_eq!(a.last_report_day().await.unwrap(), None, "nothing written");
    held.release().await.unwrap();

    let (da, db) = tokio::join!(ra.catch_up(), rb.catch_up());
    let (da, db) = (da.unwrap(), db.unwrap());
    assert!(!da.is_empty() || !db.is_empty(), "the days were written");
    let conn = a.conn_for_tests().await;
    let count = |sql: &'static str| {
        let conn = &conn;
        async move { conn.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let days = count("SELECT count(*) FROM report_runs").await;
    assert_eq!(days as usize, da.len() + db.len(), "each day by one node");
    assert_eq!(
        count("SELECT count(*) FROM events WHERE type = 'report.generated'").await,
        days
    );
}
