//! Crash safety: the daemon is SIGKILLed at random moments while it drains a mixed batch,
//! and restarted each time. Nothing may be lost or finalised twice. On both backends.
//!
//! The fast variant runs in CI; the full one (5,000 payments, 10 kills) with
//! `cargo test --test cli crash -- --ignored`.

use crate::helpers::*;
use crate::receiver::{self, SECRET};
use ligdicash_reconciler::config::{HumanDuration, WebhookConfig};
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

async fn fast(env: TestEnv) {
    crash_loop(env, 400, 5).await;
}

crate::both!(random_sigkills_lose_nothing_fast, super::fast);

#[tokio::test]
#[ignore = "about a minute: 5,000 payments and 10 kills"]
async fn random_sigkills_lose_nothing_full() {
    crash_loop(TestEnv::start().await, 5000, 10).await;
}

async fn crash_loop(mut env: TestEnv, payments: usize, kills: usize) {
    let (listener, url) = receiver::bind().await;
    let hook = receiver::serve(listener, vec![]);
    env.config.events.webhooks.push(WebhookConfig {
        url,
        secret_env: Some("TEST_WEBHOOK_SECRET".into()),
        secret_file: None,
        name: None,
    });
    env.config.events.retry_schedule = vec![HumanDuration::millis(100); 50];
    env.config.poll.give_up_after = HumanDuration::millis(1500);
    env.config.poll.concurrency = 8;
    env.config.poll.max_requests_per_second = 2000.0;
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);

    // A mixed batch with known truth, enqueued by the shop with plain SQL.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut truth: HashMap<String, &str> = HashMap::new();
    let mut rows = Vec::new();
    for i in 0..payments {
        let (outcome, paid, expected) = match rng.u8(0..10) {
            0..=5 => (Outcome::Completed, 1000, "completed"),
            6 => (Outcome::Completed, 900, "mismatch"),
            7..=8 => (Outcome::NotCompleted, 1000, "notcompleted"),
            _ => (Outcome::Never, 1000, "timeout"),
        };
        let token = env.sandbox.sandbox.add_invoice(&InvoiceSpec {
            outcome,
            amount: 1000,
            paid_amount: Some(paid),
            transaction_id: Some(format!("ORD-{i}")),
            confirmed_transaction_id: None,
            settle_after_ms: rng.i64(0..1000),
        });
        rows.push(format!("('{token}', 'ORD-{i}', 1000)"));
        truth.insert(token, expected);
    }
    env.shop_execute(&format!(
        "INSERT INTO payments (token, transaction_id, expected_amount) VALUES {}",
        rows.join(", ")
    ));

    let spawn = |args: &[&str]| {
        let mut cmd = env.cmd(args);
        cmd.env("TEST_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn");
        cmd.spawn().unwrap()
    };
    // On PostgreSQL a node sends nothing for its first three seconds (it joins the
    // cluster): the kills come after, with claims and confirms in flight, and what a
    // killed node held is taken over when its lease runs out.
    let joining = if env.pg.is_some() { 3_000 } else { 0 };
    for _ in 0..kills {
        let mut child = spawn(&["run"]);
        tokio::time::sleep(Duration::from_millis(joining + rng.u64(150..700))).await;
        child.kill().await.unwrap(); // SIGKILL
    }
    let out = spawn(&["run", "--until-idle"])
        .wait_with_output()
        .await
        .unwrap();
    assert_ok(&out);
    // Deliveries retried after a kill may still be due: let a daemon finish them.
    let undelivered = || env.count("SELECT count(*) FROM events WHERE state != ?1", "delivered");
    if undelivered() > 0 {
        let child = spawn(&["run"]);
        eventually(Duration::from_secs(60), || undelivered() == 0).await;
        tokio::time::sleep(Duration::from_millis(200)).await; // signal handlers are up
        terminate(&child);
        finished(child).await;
    }

    // Every payment has exactly the sandbox's truth.
    let statuses = env.text_pairs("SELECT token, status FROM payments");
    assert_eq!(statuses.len(), payments);
    for (token, status) in &statuses {
        assert_eq!(status, truth[token], "{token}");
    }
    // Exactly one event per final transition, each delivered with its id.
    let counts = env.text_pairs(
        "SELECT payment_token, CAST(count(*) AS TEXT) FROM events WHERE type LIKE 'payment.%' GROUP BY payment_token",
    );
    assert_eq!(counts.len(), payments, "one event per payment");
    assert!(counts.iter().all(|(_, n)| n == "1"), "exactly one each");
    let ids: HashSet<String> = env
        .text_pairs("SELECT id, id FROM events")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let received: HashSet<String> = hook.ids().into_iter().collect();
    assert!(
        ids.is_subset(&received),
        "{} events never reached the receiver",
        ids.difference(&received).count()
    );
    assert!(hook.received().iter().all(|r| r.signature_ok));
    // The attempt log never claims more calls than the sandbox answered, and every final
    // payment has the call that decided it.
    let logged = env.count(
        "SELECT count(*) FROM confirm_attempts WHERE outcome != ?1",
        "",
    );
    assert!(logged as u64 <= env.sandbox.sandbox.confirm_count());
    let undecided = env.count(
        "SELECT count(*) FROM payments p WHERE status != ?1 AND NOT EXISTS \
         (SELECT 1 FROM confirm_attempts a WHERE a.payment_id = p.id)",
        "pending",
    );
    assert_eq!(undecided, 0);
    if env.pg.is_none() {
        let check: String = env
            .shop_connection()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
