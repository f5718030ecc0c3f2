//! The dispatcher's hand-backs and worker replacement.

use super::*;
use crate::config::{ConfirmStyle, Credentials, PollConfig};
use crate::confirm::Confirmer;
use crate::ligdicash::{ClientSettings, LigdicashClient};
use crate::metrics::Metrics;
use crate::poller::queue::tests::job;
use crate::store::Store;
use std::path::Path;

/// A poller whose client points at a closed loopback port: these tests never call it.
fn poller(dir: &Path, max_requests_per_second: f64) -> Poller {
    let cfg = PollConfig {
        max_requests_per_second,
        ..PollConfig::default()
    };
    let settings = ClientSettings {
        base_url: reqwest::Url::parse("http://127.0.0.1:9").unwrap(),
        style: ConfirmStyle::Token,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        pool_size: 1,
    };
    let client = LigdicashClient::new(&settings, &Credentials::fixed("k", "t")).unwrap();
    let db = dir.join("poller.db");
    let metrics = Arc::new(Metrics::default());
    let open = || Db::from(Store::open(&db, Duration::from_secs(1)).unwrap());
    let events = open();
    let sinks = Arc::new(Vec::new());
    let confirmer = Confirmer::new(
        &cfg,
        &Default::default(),
        client,
        metrics.clone(),
        events,
        sinks.clone(),
    );
    let confirmer = Arc::new(confirmer);
    Poller::new(&cfg, (open(), open()), confirmer, sinks, metrics)
}

fn dispatcher(poller: &Poller) -> (Dispatcher, mpsc::Receiver<ConfirmOutcome>) {
    let (out_tx, out_rx) = mpsc::channel(8);
    let done = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    (Dispatcher::new(poller, done, out_tx, stop), out_rx)
}

/// While paused, queued jobs go back to the dispatcher at once: they do not wait for
/// rate-limit slots (here one per 1,000 s, the first already taken) and are not sent.
#[tokio::test]
async fn jobs_taken_while_paused_go_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let poller = poller(dir.path(), 0.001);
    let (mut d, mut out) = dispatcher(&poller);
    d.ctx.confirmer.throttle().limiter.acquire().await;
    d.ctx
        .confirmer
        .throttle()
        .pause
        .hold_for(Duration::from_secs(3600));
    d.queue.push_all((1..=5).map(job).collect());
    d.spawn_worker();
    let mut back = Vec::new();
    for _ in 0..5 {
        let id = tokio::time::timeout(Duration::from_secs(5), d.done_rx.recv()).await;
        back.push(id.expect("handed back without waiting").unwrap());
    }
    assert_eq!(back, [1, 2, 3, 4, 5]);
    assert!(out.try_recv().is_err(), "nothing was confirmed");
    d.stop.cancel();
}

/// A worker that dies (only a panic ends one early) is replaced, so concurrency holds.
#[tokio::test]
async fn a_worker_that_panics_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let poller = poller(dir.path(), 5.0);
    let (mut d, _out) = dispatcher(&poller);
    d.spawn_worker();
    d.workers.spawn(async { panic!("a confirm worker fails") });
    tokio::time::sleep(Duration::from_millis(50)).await;
    d.reap();
    assert_eq!(
        d.workers.len(),
        2,
        "one worker kept, one started for the dead one"
    );
    assert!(
        d.workers.try_join_next().is_none(),
        "both are alive, waiting for jobs"
    );
    d.stop.cancel();
}
