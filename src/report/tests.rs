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
