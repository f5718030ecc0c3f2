//! The outbox through the real daemon: signed webhooks, JSON lines, exec, retries, dead
//! deliveries, redelivery, and a SIGKILL between the status write and the delivery.

use crate::helpers::*;
use crate::receiver::{self, Reply, SECRET};
use ligdicash_reconciler::config::{HumanDuration, WebhookConfig};
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use std::time::Duration;

fn add_webhook(env: &mut TestEnv, url: &str) {
    env.config.events.webhooks.push(WebhookConfig {
        url: url.into(),
        secret_env: Some("TEST_WEBHOOK_SECRET".into()),
        secret_file: None,
        name: None,
    });
    env.config.events.retry_schedule = vec![HumanDuration::millis(150); 3];
    env.config.events.webhook_timeout = HumanDuration::millis(500);
    env.write_config();
}

/// `run --until-idle` with the receiver's webhook secret.
async fn drain_signed(env: &TestEnv) {
    let out = env
        .cmd(&["run", "--until-idle"])
        .env("TEST_WEBHOOK_SECRET", SECRET)
        .output()
        .await
        .unwrap();
    assert_ok(&out);
}

/// Brings the receiver up at `addr`, runs the daemon until it has received a delivery,
/// and stops it.
async fn deliver_once_the_receiver_is_up(
    env: &TestEnv,
    addr: std::net::SocketAddr,
) -> std::sync::Arc<receiver::Receiver> {
    let hook = receiver::serve(tokio::net::TcpListener::bind(addr).await.unwrap(), vec![]);
    let child = env
        .cmd(&["run"])
        .env("TEST_WEBHOOK_SECRET", SECRET)
        .spawn()
        .unwrap();
    let h = hook.clone();
    eventually(Duration::from_secs(10), || !h.received().is_empty()).await;
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());
    hook
}

fn events_in_db(env: &TestEnv) -> Vec<(String, String, String)> {
    env.text_pairs("SELECT id, type || ' ' || state FROM events ORDER BY seq")
        .into_iter()
        .map(|(id, rest)| {
            let (kind, state) = rest.split_once(' ').unwrap();
            (id, kind.to_owned(), state.to_owned())
        })
        .collect()
}

crate::both!(
    every_final_status_is_delivered_once_to_each_sink_signed,
    super::every_final_status_delivered
);

async fn every_final_status_delivered(mut env: TestEnv) {
    let (listener, url) = receiver::bind().await;
    let hook = receiver::serve(listener, vec![]);
    add_webhook(&mut env, &url);
    let jsonl = env.dir.path().join("events.jsonl");
    let exec_log = env.dir.path().join("exec.log");
    env.config.events.jsonl_path = Some(jsonl.clone());
    // Deliveries run concurrently: each command appends its event in one write, so two
    // commands cannot interleave within a line (`cat` then `echo` could).
    env.config.events.exec = Some(vec![
        "sh".into(),
        "-c".into(),
        format!("printf '%s\\n' \"$(cat)\" >> {}", exec_log.display()),
    ]);
    env.write_config();
    let completed = env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    env.invoice(Outcome::NotCompleted, 100, "ORD-2").await;
    env.invoice_with(InvoiceSpec {
        outcome: Outcome::Completed,
        amount: 5000,
        paid_amount: Some(4000),
        transaction_id: Some("ORD-3".into()),
        confirmed_transaction_id: None,
        settle_after_ms: 0,
    })
    .await;

    // Mid-rotation: an old secret and the receiver's; each message carries both signatures.
    let out = env
        .cmd(&["run", "--until-idle"])
        .env(
            "TEST_WEBHOOK_SECRET",
            format!("whsec_b2xkLXNlY3JldA== {SECRET}"),
        )
        .output()
        .await
        .unwrap();
    assert_ok(&out);

    let events = events_in_db(&env);
    let mut types: Vec<&str> = events.iter().map(|(_, t, _)| t.as_str()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "case.opened",
            "payment.completed",
            "payment.mismatch",
            "payment.notcompleted"
        ],
        "the mismatch opens a case, announced to every sink too"
    );
    assert!(
        events.iter().all(|(_, _, state)| state == "delivered"),
        "{events:?}"
    );
    let ids: Vec<String> = events.iter().map(|(id, _, _)| id.clone()).collect();

    let received = hook.received();
    assert_eq!(received.len(), 4);
    assert!(received.iter().all(|r| r.signature_ok), "signatures verify");
    let mut got = hook.ids();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "webhook-id is the event id");
    let first = received
        .iter()
        .find(|r| r.body["payment"]["token"] == completed.as_str())
        .unwrap();
    assert_eq!(first.body["type"], "payment.completed");
    assert_eq!(first.body["payment"]["amount"], 5000);
    assert_eq!(first.body["payment"]["transaction_id"], "ORD-1");

    for file in [&jsonl, &exec_log] {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{}", file.display());
        for line in lines {
            assert!(ids.contains(&line["id"].as_str().unwrap().to_owned()));
        }
    }
}

#[tokio::test]
async fn failing_receivers_are_retried_gone_ones_go_dead_and_can_be_redelivered() {
    let mut env = TestEnv::start().await;
    let (listener, flaky_url) = receiver::bind().await;
    let flaky = receiver::serve(
        listener,
        vec![
            Reply::Status(500),
            Reply::Slow(Duration::from_secs(2)),
            Reply::RetryAfter(429, 1),
        ],
    );
    let (listener, gone_url) = receiver::bind().await;
    let gone = receiver::serve(listener, vec![Reply::Status(410)]);
    add_webhook(&mut env, &flaky_url);
    add_webhook(&mut env, &gone_url);
    env.invoice(Outcome::Completed, 100, "ORD-1").await;
    let child = env
        .cmd(&["run"])
        .env("TEST_WEBHOOK_SECRET", SECRET)
        .spawn()
        .unwrap();
    let f = flaky.clone();
    eventually(Duration::from_secs(15), || f.received().len() >= 4).await;
    let (id, _, _) = events_in_db(&env).remove(0);
    let f = flaky.clone();
    eventually(Duration::from_secs(5), || {
        let env_state = events_in_db(&env);
        f.received().len() >= 4 && env_state[0].2 == "dead"
    })
    .await;
    // 500, timeout, 429 (Retry-After 1 s), then success: one id throughout.
    assert!(flaky.ids().iter().all(|i| *i == id));
    let got = flaky.received();
    let after_429 = got[3].at - got[2].at;
    assert!(
        after_429 >= Duration::from_millis(950),
        "Retry-After honoured: {after_429:?}"
    );
    assert_eq!(gone.received().len(), 1, "410 is not retried");
    let shown = env.run(&["events", "show", &id]).await;
    assert_ok(&shown);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["state"], "dead");
    let gone_delivery = shown["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["sink"].as_str().unwrap().contains(&gone_url))
        .unwrap()
        .clone();
    assert!(
        gone_delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("410")
    );

    let out = env.run(&["events", "redeliver", "--dead"]).await;
    assert_ok(&out);
    let g = gone.clone();
    eventually(Duration::from_secs(10), || g.received().len() == 2).await;
    eventually(Duration::from_secs(5), || {
        events_in_db(&env)[0].2 == "delivered"
    })
    .await;
    assert_eq!(
        flaky.received().len(),
        4,
        "the flaky sink was already delivered"
    );
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());
}

#[tokio::test]
async fn sigkill_between_status_write_and_delivery_loses_no_event() {
    let mut env = TestEnv::start().await;
    // Reserve a port, then close it: the receiver is "down" for the first daemon.
    let (listener, url) = receiver::bind().await;
    let addr = listener.local_addr().unwrap();
    drop(listener);
    add_webhook(&mut env, &url);
    env.config.events.retry_schedule = vec![HumanDuration::millis(200); 20];
    env.write_config();
    let token = env.invoice(Outcome::Completed, 100, "ORD-1").await;
    let mut child = env
        .cmd(&["run"])
        .env("TEST_WEBHOOK_SECRET", SECRET)
        .spawn()
        .unwrap();
    let conn = env.shop_connection();
    let attempts = || -> i64 {
        conn.query_row("SELECT coalesce(max(attempts), 0) FROM events", [], |r| {
            r.get(0)
        })
        .unwrap_or(0)
    };
    eventually(Duration::from_secs(10), || attempts() >= 1).await;
    child.kill().await.unwrap(); // SIGKILL
    assert_eq!(env.show(&token).await["status"], "completed");
    let (id, _, state) = events_in_db(&env).remove(0);
    assert_eq!(state, "pending");

    let hook = deliver_once_the_receiver_is_up(&env, addr).await;
    assert_eq!(hook.ids(), [id], "the same event, once");
    assert!(hook.received()[0].signature_ok);
    assert_eq!(events_in_db(&env)[0].2, "delivered");
}

#[tokio::test]
async fn verify_signature_helper_checks_a_captured_webhook() {
    let env = TestEnv::start().await;
    let body = env.dir.path().join("body.json");
    std::fs::write(
        &body,
        r#"{"email":"test@example.com","username":"test_user"}"#,
    )
    .unwrap();
    let run = |signature: &'static str| {
        let mut cmd = env.cmd(&[
            "events",
            "verify-signature",
            "--id",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "--timestamp",
            "1649367553",
            "--signature",
            signature,
            "--body",
            body.to_str().unwrap(),
            "--ignore-time",
        ]);
        cmd.env(
            "SHOP_WEBHOOK_SECRET",
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        );
        cmd
    };
    let ok = run("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        .output()
        .await
        .unwrap();
    assert_ok(&ok);
    let bad = run("v1,AAAA").output().await.unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("invalid"));
}

/// The exec command does not inherit our secrets: whatever it prints on failure is kept in
/// `last_error` and logged.
#[tokio::test]
async fn the_exec_command_gets_the_event_but_not_our_secrets() {
    let mut env = TestEnv::start().await;
    let (listener, url) = receiver::bind().await;
    let _hook = receiver::serve(listener, vec![]);
    add_webhook(&mut env, &url);
    let seen = env.dir.path().join("env.txt");
    env.config.events.exec = Some(vec![
        "sh".into(),
        "-c".into(),
        format!(
            "cat > /dev/null; printf '%s|%s|%s|%s\\n' \"${{LIGDICASH_API_KEY-unset}}\" \
             \"${{LIGDICASH_API_TOKEN-unset}}\" \"${{TEST_WEBHOOK_SECRET-unset}}\" \
             \"$LIGDICASH_EVENT_TYPE\" >> {}",
            seen.display()
        ),
    ]);
    env.write_config();
    env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    drain_signed(&env).await;
    let text = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(text.trim(), "unset|unset|unset|payment.completed");
}

/// Deliveries an earlier build stored under a webhook's whole URL (an access key in it)
/// move to the webhook's current sink name at start: delivered, and the key gone.
#[tokio::test]
async fn deliveries_stored_under_a_webhook_s_whole_url_move_to_its_sink_name() {
    let mut env = TestEnv::start().await;
    let (listener, url) = receiver::bind().await;
    let addr = listener.local_addr().unwrap();
    drop(listener); // the receiver is down for the first daemon
    let keyed = format!("{url}?key=k-legacy-1");
    add_webhook(&mut env, &keyed);
    env.config.events.retry_schedule = vec![HumanDuration::millis(200); 20];
    // Named as the earlier build named it: `webhook:` and the whole URL.
    env.config.events.webhooks[0].name = Some(keyed.clone());
    env.write_config();
    env.invoice(Outcome::Completed, 100, "ORD-1").await;
    drain_signed(&env).await;
    let sinks = |env: &TestEnv| -> Vec<String> {
        env.shop_connection()
            .prepare("SELECT sink FROM event_deliveries")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(sinks(&env), [format!("webhook:{keyed}")]);

    env.config.events.webhooks[0].name = None;
    env.write_config();
    deliver_once_the_receiver_is_up(&env, addr).await;
    assert_eq!(sinks(&env), [format!("webhook:{url}?…")]);
    assert_eq!(events_in_db(&env)[0].2, "delivered");
}
