use super::*;
use crate::config::{Config, Credentials, HumanDuration};
use crate::ligdicash::ClientSettings;
use crate::payment::{NewPayment, Status};
use crate::sandbox::{self, Faults, SandboxConfig};
use crate::store::Store;

/// Any caller of the one path (here not the poller: the re-check calls it the same
/// way) that meets refused credentials pauses every confirm of the process and sets
/// the auth metric; the call is logged, the payment untouched.
#[tokio::test]
async fn refused_credentials_pause_every_caller_whoever_met_them() {
    let faults = Faults {
        auth_failure: true,
        ..Faults::default()
    };
    let cfg = SandboxConfig {
        faults,
        ..SandboxConfig::default()
    };
    let running = sandbox::spawn(([127, 0, 0, 1], 0).into(), cfg)
        .await
        .unwrap();
    let mut config = Config::default();
    config.ligdicash.base_url = running.base_url();
    let settings = ClientSettings::from_config(&config).unwrap();
    let client = LigdicashClient::new(&settings, &Credentials::fixed("k", "t")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
    let p = NewPayment::parse("tok", None, None).unwrap();
    let mut store = store;
    store.enqueue(&p, 0, 0).unwrap();
    let timeout = DuePayment {
        status: Status::Timeout,
        ..store.due(1, 1, &Default::default()).unwrap().remove(0)
    };
    let metrics = Arc::new(Metrics::default());
    let events = Db::from(store);
    let confirmer = Confirmer::new(
        &config.poll,
        &config.payouts,
        client,
        metrics.clone(),
        events,
        Arc::new(Vec::new()),
    );
    let Turn::Sent(outcome) = confirmer.confirm(timeout, &CancellationToken::new()).await else {
        panic!("the call is sent");
    };
    assert_eq!(outcome.outcome, crate::ligdicash::classify::AUTH_FAILED);
    assert!(
        matches!(outcome.change, Change::Recheck { again_at: Some(_) }),
        "a refused re-check is tried again: {:?}",
        outcome.change
    );
    assert!(confirmer.paused_for().is_some(), "every confirm is paused");
    assert!(metrics.auth_failing());
    assert!(matches!(
        confirmer
            .confirm(DuePayment::default(), &CancellationToken::new())
            .await,
        Turn::Held
    ));
    running.shutdown.cancel();
}

/// Two callers of one token get send times `min_interval` apart, whichever recorded
/// or reserved time is later; other tokens are not held up; stale entries are swept.
#[test]
fn confirms_of_one_token_are_spaced_by_min_interval_whoever_sends_them() {
    let mut floors = Floors::default();
    assert_eq!(floors.reserve(1, None, 10_000, 3_000), 10_000);
    assert_eq!(floors.reserve(1, None, 10_500, 3_000), 13_000);
    assert_eq!(floors.reserve(1, Some(9_000), 11_000, 3_000), 16_000);
    assert_eq!(floors.reserve(2, Some(9_000), 11_000, 3_000), 12_000);
    assert_eq!(floors.reserve(3, Some(1_000), 11_000, 3_000), 11_000);
    for id in 100..3_000 {
        floors.reserve(id, None, 100_000, 3_000);
    }
    assert!(
        floors.reserved.len() < 3_000,
        "old entries swept: {}",
        floors.reserved.len()
    );
    assert_eq!(floors.reserve(1, None, 100_000, 3_000), 100_000);
    // A call answered at 100_400 (400 ms in transit): the next waits from the answer.
    floors.answered(1, 100_400);
    assert_eq!(floors.reserve(1, Some(100_000), 101_000, 3_000), 103_400);
}

/// Two callers reserve 10_000 and 13_000 before the first call is sent; it is answered at
/// 10_006 (6 ms in transit): the second, at 13_000, waits until 13_006, then may send; a
/// third, reserved at 16_000 but pushed behind, waits for the second's send.
#[test]
fn a_send_waits_min_interval_after_the_last_answer_or_send_whatever_was_reserved() {
    let mut floors = Floors::default();
    assert_eq!(floors.reserve(1, None, 10_000, 3_000), 10_000);
    assert_eq!(floors.reserve(1, None, 10_000, 3_000), 13_000);
    assert_eq!(floors.send(1, 10_000, 3_000), None);
    floors.answered(1, 10_006);
    assert_eq!(floors.send(1, 13_000, 3_000), Some(13_006));
    assert_eq!(floors.send(1, 13_006, 3_000), None);
    assert_eq!(floors.send(1, 16_000, 3_000), Some(16_006));
    assert_eq!(
        floors.send(2, 16_000, 3_000),
        None,
        "another token is not held up"
    );
}

#[test]
fn an_auth_pause_is_never_shorter_than_min_interval() {
    let mut cfg = PollConfig {
        min_interval: HumanDuration::secs(3),
        auth_retry_initial: HumanDuration::secs(1),
        auth_retry_max: HumanDuration::secs(2),
        ..Default::default()
    };
    let live = Live::from_config(&cfg, &crate::config::PayoutsConfig::default());
    assert_eq!(live.auth_initial, Duration::from_secs(3));
    assert_eq!(live.auth_max, Duration::from_secs(3));
    cfg.auth_retry_initial = HumanDuration::secs(30);
    cfg.auth_retry_max = HumanDuration::secs(600);
    let live = Live::from_config(&cfg, &crate::config::PayoutsConfig::default());
    assert_eq!(live.auth_initial, Duration::from_secs(30));
    assert_eq!(live.auth_max, Duration::from_secs(600));
}

/// A claimed row is never sent past its send window (its lease could run out mid-call and
/// another node take it over): handed back unsent whether the window had passed before the
/// call or passed while it waited for a rate-limit slot.
#[tokio::test]
async fn a_claim_past_its_send_window_is_handed_back_unsent() {
    let running = sandbox::spawn(([127, 0, 0, 1], 0).into(), SandboxConfig::default())
        .await
        .unwrap();
    let mut config = Config::default();
    config.ligdicash.base_url = running.base_url();
    config.poll.max_requests_per_second = 1.0;
    let settings = ClientSettings::from_config(&config).unwrap();
    let client = LigdicashClient::new(&settings, &Credentials::fixed("k", "t")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("w.db"), Duration::from_secs(1)).unwrap();
    let confirmer = Confirmer::new(
        &config.poll,
        &config.payouts,
        client,
        Arc::new(Metrics::default()),
        Db::from(store),
        Arc::new(Vec::new()),
    );
    let stop = CancellationToken::new();
    let claimed = |send_by| DuePayment {
        id: 1,
        token: "tok".into(),
        send_by: Some(send_by),
        ..DuePayment::default()
    };
    let turn = confirmer.confirm(claimed(now_ms() - 1), &stop).await;
    assert!(matches!(turn, Turn::Held), "{turn:?}");
    // The next slot is a second away: the window (0.2 s) passes while waiting for it.
    confirmer.throttle().limiter.acquire().await;
    let turn = confirmer.confirm(claimed(now_ms() + 200), &stop).await;
    assert!(matches!(turn, Turn::Held), "{turn:?}");
    assert_eq!(running.sandbox.confirm_count(), 0, "nothing was sent");
    running.shutdown.cancel();
}
