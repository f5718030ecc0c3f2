//! Issue 23's proof that a PostgreSQL outage is ridden out: three daemons under load while
//! the server is restarted five times as by a crash (`pg_ctl -m immediate`) and stopped for
//! 30 s once (`-m fast`). Nothing restarts the nodes (no systemd here): every node must
//! still be running at the end, every payment must end in the sandbox's truth with exactly
//! one payment event delivered, and every answer LigdiCash gave must be in the attempt log
//! (no answer received and then dropped).

use super::cluster::Shop;
use crate::helpers::{TestEnv, terminate};
use crate::pg_server::TestServer;
use crate::receiver::{self, SECRET};
use ligdicash_reconciler::config::database::DATABASE_URL_ENV;
use ligdicash_reconciler::config::{HumanDuration, WebhookConfig};
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Child;

const PAYMENTS: usize = 300;
const NODES: usize = 3;

// Two threads: the server is stopped and started from a blocking call, while the
// sandbox and the webhook receiver in this process go on answering the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_ride_out_database_crashes_and_a_30_s_stop() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    pg.create_database("outage").await;
    let url = pg.url("outage");
    let mut env = TestEnv::start().await;
    let (listener, hook_url) = receiver::bind().await;
    let hook = receiver::serve(listener, vec![]);
    env.config.events.webhooks.push(WebhookConfig {
        url: hook_url,
        secret_env: Some("TEST_WEBHOOK_SECRET".into()),
        secret_file: None,
        name: None,
    });
    env.config.events.retry_schedule = vec![HumanDuration::millis(500); 400];
    let poll = &mut env.config.poll;
    poll.max_requests_per_second = 60.0;
    poll.concurrency = 4;
    poll.min_interval = HumanDuration::secs(1);
    poll.initial_interval = HumanDuration::secs(1);
    poll.max_interval = HumanDuration::secs(4);
    // Payments settle over 40 s: the faults fall on a cluster confirming at full pace.
    poll.give_up_after = HumanDuration::secs(45);
    env.write_config();
    let migrate = env.cmd(&["migrate"]).env(DATABASE_URL_ENV, &url).output();
    assert!(migrate.await.unwrap().status.success());

    let mut rng = fastrand::Rng::with_seed(23);
    let mut truth: HashMap<String, &str> = HashMap::new();
    let shop = Shop::connect(&url).await;
    let mut values = Vec::new();
    for i in 0..PAYMENTS {
        let (outcome, expected) = match rng.u8(0..10) {
            0..=6 => (Outcome::Completed, "completed"),
            7..=8 => (Outcome::NotCompleted, "notcompleted"),
            _ => (Outcome::Never, "timeout"),
        };
        let token = env.sandbox.sandbox.add_invoice(&InvoiceSpec {
            outcome,
            amount: 1000,
            paid_amount: None,
            transaction_id: Some(format!("ORD-{i}")),
            confirmed_transaction_id: None,
            settle_after_ms: rng.i64(0..40_000),
        });
        values.push(format!("('{token}', 'ORD-{i}', 1000)"));
        truth.insert(token, expected);
    }
    shop.execute(&format!(
        "INSERT INTO payments (token, transaction_id, expected_amount) VALUES {}",
        values.join(", ")
    ))
    .await;

    let log_of = |n: usize| env.dir.path().join(format!("node-{n}.log"));
    let mut nodes: Vec<Child> = (0..NODES)
        .map(|n| {
            let log = std::fs::File::create(log_of(n)).unwrap();
            env.cmd(&["run"])
                .env(DATABASE_URL_ENV, &url)
                .env("TEST_WEBHOOK_SECRET", SECRET)
                // The default filter, as a service runs.
                .env_remove("RUST_LOG")
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap()
        })
        .collect();
    let alive = |nodes: &mut Vec<Child>, when: &str| {
        for (n, node) in nodes.iter_mut().enumerate() {
            if let Some(status) = node.try_wait().unwrap() {
                let log = std::fs::read_to_string(log_of(n)).unwrap_or_default();
                panic!("node {n} stopped {when} ({status}):\n{log}");
            }
        }
    };

    // Under load: the nodes have joined and are confirming.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for crash in 0..5 {
        let down = Duration::from_millis(rng.u64(300..1_500));
        tokio::task::block_in_place(|| pg.restart_with("immediate", down));
        tokio::time::sleep(Duration::from_millis(rng.u64(2_000..3_500))).await;
        alive(&mut nodes, &format!("after crash {}", crash + 1));
    }
    tokio::task::block_in_place(|| pg.restart_with("fast", Duration::from_secs(30)));
    alive(&mut nodes, "during the 30 s stop");

    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let open = "SELECT count(*) FROM payments WHERE status = 'pending'";
    while shop.count(open).await > 0 {
        assert!(Instant::now() < deadline, "payments still pending");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let undelivered = "SELECT count(*) FROM events WHERE state != 'delivered'";
    while shop.count(undelivered).await > 0 {
        assert!(Instant::now() < deadline, "events never delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    alive(&mut nodes, "before the end");
    for node in &nodes {
        terminate(node);
    }
    for node in &mut nodes {
        let stopped = tokio::time::timeout(Duration::from_secs(20), node.wait()).await;
        assert!(stopped.expect("a node stops on SIGTERM").unwrap().success());
    }
    let mut lines = Vec::new();
    for n in 0..NODES {
        let log = std::fs::read_to_string(log_of(n)).unwrap();
        for sign in ["a daemon task failed", "shutdown grace elapsed", "panicked"] {
            assert!(!log.contains(sign), "node {n} logged {sign:?}:\n{log}");
        }
        // Logged once per incident, not once per task, connection or retry.
        let incidents = log.matches("cannot write the database").count();
        assert!(
            (1..=18).contains(&incidents),
            "node {n} logged {incidents} incidents for 6 outages:\n{log}"
        );
        lines.push((incidents, log.lines().count()));
    }

    // Every payment in LigdiCash's truth, with exactly one payment event, delivered.
    let statuses = shop.pairs("SELECT token, status FROM payments").await;
    assert_eq!(statuses.len(), PAYMENTS);
    for (token, status) in &statuses {
        assert_eq!(status, truth[token.as_str()], "{token}");
    }
    let events = shop
        .pairs("SELECT payment_token, count(*)::text FROM events WHERE type LIKE 'payment.%' GROUP BY 1")
        .await;
    assert_eq!(events.len(), PAYMENTS, "one event per payment");
    assert!(events.iter().all(|(_, n)| n == "1"), "exactly one each");
    let ids: HashSet<String> = shop
        .pairs("SELECT id, '' FROM events")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let received: HashSet<String> = hook.ids().into_iter().collect();
    assert!(ids.is_subset(&received), "every event reached the shop");

    // No answer dropped: every confirm LigdiCash answered is in the attempt log. (A write
    // whose commit was lost with its connection is written again, so a token may have an
    // attempt more than LigdiCash saw, never one less.)
    let logged: HashMap<String, String> = shop
        .pairs(
            "SELECT p.token, count(a.id)::text FROM payments p \
             LEFT JOIN confirm_attempts a ON a.payment_id = p.id GROUP BY p.token",
        )
        .await
        .into_iter()
        .collect();
    let mut confirms = 0;
    for invoice in env.sandbox.sandbox.invoices() {
        let recorded: usize = logged[&invoice.token].parse().unwrap();
        confirms += invoice.confirms.len();
        assert!(
            recorded >= invoice.confirms.len(),
            "{}: LigdiCash answered {} confirms, {recorded} recorded",
            invoice.token,
            invoice.confirms.len()
        );
    }
    eprintln!(
        "outage: {PAYMENTS} payments, {confirms} confirms, 5 crashes and a 30 s stop, drained {:?} after the server came back; (incidents, log lines) per node: {lines:?}",
        started.elapsed()
    );
}
