//! Issue 17's proof: three daemons on one PostgreSQL drain 2,000 payments while they are
//! SIGKILLed and restarted at random and the server itself restarts once in the middle.
//! Measured from LigdiCash's side (the sandbox's log of every confirm): every payment
//! ends in the sandbox's truth with exactly one payment event, no token is confirmed twice
//! within `min_interval`, and no second sees more confirms than the cluster's limit
//! allows (10% over at most).

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

const PAYMENTS: usize = 2_000;
const NODES: usize = 3;
/// The whole cluster's `max_requests_per_second`.
const LIMIT: f64 = 150.0;
const MIN_INTERVAL_MS: i64 = 1_000;

#[tokio::test]
async fn three_nodes_sigkilled_and_a_database_restart_lose_nothing_and_keep_the_rate() {
    let Some(pg) = TestServer::start() else {
        return;
    };
    pg.create_database("cluster").await;
    let url = pg.url("cluster");
    let mut env = TestEnv::start().await;
    let (listener, hook_url) = receiver::bind().await;
    let hook = receiver::serve(listener, vec![]);
    env.config.events.webhooks.push(WebhookConfig {
        url: hook_url,
        secret_env: Some("TEST_WEBHOOK_SECRET".into()),
        secret_file: None,
        name: None,
    });
    env.config.events.retry_schedule = vec![HumanDuration::millis(200); 50];
    let poll = &mut env.config.poll;
    poll.max_requests_per_second = LIMIT;
    poll.concurrency = 4;
    poll.min_interval = HumanDuration::millis(MIN_INTERVAL_MS as u64);
    poll.initial_interval = HumanDuration::millis(MIN_INTERVAL_MS as u64);
    poll.max_interval = HumanDuration::secs(2);
    // Payments settle over 25 s, so most are confirmed several times, by several nodes,
    // and the cluster works at its rate limit throughout.
    poll.give_up_after = HumanDuration::secs(30);
    env.write_config();
    let migrate = env.cmd(&["migrate"]).env(DATABASE_URL_ENV, &url).output();
    assert!(migrate.await.unwrap().status.success());

    // The shop inserts its payments with plain SQL; the sandbox knows their truth.
    let mut rng = fastrand::Rng::with_seed(17);
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
            settle_after_ms: rng.i64(0..25_000),
        });
        values.push(format!("('{token}', 'ORD-{i}', 1000)"));
        truth.insert(token, expected);
    }
    shop.execute(&format!(
        "INSERT INTO payments (token, transaction_id, expected_amount) VALUES {}",
        values.join(", ")
    ))
    .await;

    let spawn = |n: usize| -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(env.dir.path().join(format!("node-{n}.log")))
            .unwrap();
        env.cmd(&["run"])
            .env(DATABASE_URL_ENV, &url)
            .env("TEST_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap()
    };
    let mut nodes: Vec<Child> = (0..NODES).map(spawn).collect();
    let (mut kills, mut restarted_db) = (0, false);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    loop {
        tokio::time::sleep(Duration::from_millis(rng.u64(1_000..2_500))).await;
        let pending = shop
            .count("SELECT count(*) FROM payments WHERE status = 'pending'")
            .await;
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} payments still pending"
        );
        // A node that stopped by itself (it could not reach the database at start) is
        // started again, as systemd would.
        for (n, node) in nodes.iter_mut().enumerate() {
            if node.try_wait().unwrap().is_some() {
                *node = spawn(n);
            }
        }
        if kills < 8 {
            let n = rng.usize(0..NODES);
            nodes[n].kill().await.unwrap(); // SIGKILL, a confirm likely in flight
            kills += 1;
            tokio::time::sleep(Duration::from_millis(rng.u64(100..600))).await;
            nodes[n] = spawn(n);
        }
        if kills == 4 && !restarted_db {
            restarted_db = true;
            pg.restart(Duration::from_secs(2));
        }
    }
    assert!(
        restarted_db && kills >= 4,
        "the drain ended before the faults"
    );
    let drained = started.elapsed();

    // Deliveries retried after a kill may still be due: the nodes finish them.
    let undelivered = "SELECT count(*) FROM events WHERE state != 'delivered'";
    while shop.count(undelivered).await > 0 {
        assert!(Instant::now() < deadline, "events never delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for node in &nodes {
        terminate(node);
    }
    for node in &mut nodes {
        let stopped = tokio::time::timeout(Duration::from_secs(20), node.wait()).await;
        assert!(stopped.expect("a node stops on SIGTERM").unwrap().success());
    }

    // Every payment in LigdiCash's truth, with exactly one payment event.
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
    // Every payment event reached the shop, and every other one marked delivered: the
    // case sweep may open a case (a mismatch, a timeout) after the drain, whose event the
    // next start delivers.
    let ids: HashSet<String> = shop
        .pairs("SELECT id, '' FROM events WHERE type LIKE 'payment.%' OR state = 'delivered'")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let received: HashSet<String> = hook.ids().into_iter().collect();
    assert!(ids.is_subset(&received), "every event reached the shop");

    // From LigdiCash's side: the floor per token, and the cluster's rate.
    let invoices = env.sandbox.sandbox.invoices();
    let mut all = Vec::new();
    for invoice in &invoices {
        for pair in invoice.confirms.windows(2) {
            assert!(
                // Exactly: every node waits from the previous call's answer, which
                // LigdiCash sent after it received that call.
                pair[1] - pair[0] >= MIN_INTERVAL_MS,
                "{} confirmed {} ms apart: {:?}",
                invoice.token,
                pair[1] - pair[0],
                invoice.confirms
            );
        }
        all.extend(&invoice.confirms);
    }
    all.sort_unstable();
    let again = invoices.iter().filter(|i| i.confirms.len() > 1).count();
    // Enough re-confirms to test the floor (a loaded machine drains slower, and more
    // payments have settled by their first confirm).
    assert!(
        again > PAYMENTS / 10,
        "only {again} tokens were confirmed twice"
    );
    let busiest = busiest_second(&all);
    eprintln!(
        "cluster drain: {PAYMENTS} payments ({again} confirmed more than once), {} confirms in {drained:?}, {kills} kills and a database restart; busiest second {busiest} (limit {LIMIT})",
        all.len()
    );
    assert!(
        busiest as f64 <= LIMIT * 1.1,
        "{busiest} confirms in one second"
    );
}

/// The most confirms in any window of one second.
fn busiest_second(sorted_ms: &[i64]) -> usize {
    let mut first = 0;
    let mut most = 0;
    for (last, at) in sorted_ms.iter().enumerate() {
        while sorted_ms[first] <= at - 1_000 {
            first += 1;
        }
        most = most.max(last + 1 - first);
    }
    most
}

/// The shop's own connection, reconnecting across the server's restart.
pub(super) struct Shop {
    url: String,
}

impl Shop {
    pub(super) async fn connect(url: &str) -> Self {
        Self {
            url: url.to_owned(),
        }
    }

    async fn client(&self) -> Option<tokio_postgres::Client> {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(connection);
        Some(client)
    }

    pub(super) async fn execute(&self, sql: &str) {
        self.client()
            .await
            .unwrap()
            .batch_execute(sql)
            .await
            .unwrap();
    }

    /// A count, or `i64::MAX` while the server is away.
    pub(super) async fn count(&self, sql: &str) -> i64 {
        let Some(client) = self.client().await else {
            return i64::MAX;
        };
        match client.query_one(sql, &[]).await {
            Ok(row) => row.get(0),
            Err(_) => i64::MAX,
        }
    }

    pub(super) async fn pairs(&self, sql: &str) -> Vec<(String, String)> {
        let client = self.client().await.unwrap();
        let rows = client.query(sql, &[]).await.unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }
}
