//! Each final status, reached through the real daemon and read back with `show`.

use crate::helpers::*;
use ligdicash_reconciler::config::{ConfirmStyle, HumanDuration};
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};

crate::both!(
    every_final_status_is_reached_and_recorded,
    super::every_final_status
);

async fn every_final_status(mut env: TestEnv) {
    // On PostgreSQL the first confirm waits for the node to join its cluster (3 s, more on
    // a loaded machine): the schedule's windows move by a generous 6 s.
    let joining = if env.pg.is_some() { 6_000 } else { 0 };
    // The late one settles 2 s after it is created: later than the daemon's first confirm
    // even on a loaded machine, sooner than the give-up after 5 s.
    env.config.poll.give_up_after = HumanDuration::millis(5_000 + joining);
    env.write_config();
    let completed = env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    let notcompleted = env.invoice(Outcome::NotCompleted, 2500, "ORD-2").await;
    let never = env.invoice(Outcome::Never, 1000, "ORD-3").await;
    let late = env
        .invoice_with(InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 700,
            paid_amount: None,
            transaction_id: Some("ORD-4".into()),
            confirmed_transaction_id: None,
            settle_after_ms: 2_000 + joining as i64,
        })
        .await;
    let wrong_amount = env
        .invoice_with(InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 5000,
            paid_amount: Some(4000),
            transaction_id: Some("ORD-5".into()),
            confirmed_transaction_id: None,
            settle_after_ms: 0,
        })
        .await;
    let wrong_order = env
        .invoice_with(InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 300,
            paid_amount: None,
            transaction_id: Some("ORD-6".into()),
            confirmed_transaction_id: Some("ORD-999".into()),
            settle_after_ms: 0,
        })
        .await;
    env.enqueue("token-ligdicash-never-issued", None, None)
        .await;

    env.run_until_idle().await;

    let p = env.show(&completed).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(p["amount"], 5000);
    assert_eq!(p["expected_amount"], 5000);
    assert_eq!(p["operator_name"], "ORANGE BURKINA");
    assert_eq!(p["customer"], "22676275726");
    assert!(p["request_id"].as_str().unwrap().starts_with('P'));
    assert_eq!(p["external_id"], "ORD-1");
    assert!(p["resolved_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(p["raw_response"]["response_code"], "00");

    assert_eq!(env.show(&notcompleted).await["status"], "notcompleted");

    let p = env.show(&never).await;
    assert_eq!(p["status"], "timeout");
    assert!(p["attempts"].as_i64().unwrap() >= 2, "{p}");

    let p = env.show(&late).await;
    assert_eq!(p["status"], "completed");
    assert!(
        p["attempts"].as_i64().unwrap() >= 2,
        "pending first, then completed: {p}"
    );

    let p = env.show(&wrong_amount).await;
    assert_eq!(p["status"], "mismatch");
    let reason = p["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("4000") && reason.contains("5000"),
        "{reason}"
    );

    let p = env.show(&wrong_order).await;
    assert_eq!(p["status"], "mismatch");
    assert!(p["status_reason"].as_str().unwrap().contains("ORD-999"));

    let p = env.show("token-ligdicash-never-issued").await;
    assert_eq!(p["status"], "invalid_token");
    assert_eq!(p["attempts"], 3);

    let logged = env.count(
        "SELECT count(*) FROM confirm_attempts WHERE outcome != ?1",
        "",
    );
    assert_eq!(logged as u64, env.sandbox.sandbox.confirm_count());
}

#[tokio::test]
async fn confirms_of_one_token_respect_min_interval() {
    let mut env = TestEnv::start().await;
    env.config.poll.min_interval = HumanDuration::millis(250);
    // About eight confirms in the window; at least three even on a machine loaded enough
    // to stall the daemon for a second (1.5 s once gave fewer, with a build running beside).
    env.config.poll.give_up_after = HumanDuration::millis(2500);
    env.write_config();
    let token = env.invoice(Outcome::Never, 100, "ORD-1").await;
    env.run_until_idle().await;
    let confirms = env.sandbox.sandbox.invoice(&token).unwrap().confirms;
    assert!(confirms.len() >= 3, "{confirms:?}");
    for pair in confirms.windows(2) {
        assert!(pair[1] - pair[0] >= 240, "confirms too close: {confirms:?}");
    }
}

#[tokio::test]
async fn both_confirm_request_styles_reach_the_answer() {
    for style in [ConfirmStyle::InvoiceToken, ConfirmStyle::Token] {
        let mut env = TestEnv::start().await;
        env.config.ligdicash.confirm_style = style;
        env.write_config();
        let token = env.invoice(Outcome::Completed, 900, "ORD-1").await;
        env.run_until_idle().await;
        assert_eq!(env.show(&token).await["status"], "completed", "{style:?}");
    }
}

#[tokio::test]
async fn rows_the_shop_inserts_with_plain_sql_are_polled_after_first_delay() {
    let mut env = TestEnv::start().await;
    env.config.poll.first_delay = HumanDuration::millis(700);
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    let token = env.sandbox.sandbox.add_invoice(&InvoiceSpec {
        outcome: Outcome::Completed,
        amount: 1500,
        paid_amount: None,
        transaction_id: Some("SHOP-1".into()),
        confirmed_transaction_id: None,
        settle_after_ms: 0,
    });
    let conn = env.shop_connection();
    conn.execute(
        "INSERT INTO payments (token, transaction_id, expected_amount) VALUES (?1, 'SHOP-1', 1500)",
        [&token],
    )
    .unwrap();
    conn.execute("INSERT INTO payments (token) VALUES ('only-a-token')", [])
        .unwrap();
    let created_at: i64 = conn
        .query_row(
            "SELECT created_at FROM payments WHERE token = ?1",
            [&token],
            |r| r.get(0),
        )
        .unwrap();

    env.run_until_idle().await;

    assert_eq!(env.show(&token).await["status"], "completed");
    assert_eq!(env.show("only-a-token").await["status"], "invalid_token");
    let first_confirm = env.sandbox.sandbox.invoice(&token).unwrap().confirms[0];
    assert!(
        first_confirm >= created_at + 700,
        "first confirm {}ms after insert",
        first_confirm - created_at
    );
}

#[tokio::test]
async fn a_requeued_timeout_that_completes_is_a_late_completion() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.config.events.jsonl_path = Some(env.dir.path().join("events.jsonl"));
    env.write_config();
    let slow = env
        .invoice_with(InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 100,
            paid_amount: None,
            transaction_id: Some("ORD-1".into()),
            confirmed_transaction_id: None,
            settle_after_ms: 1500,
        })
        .await;
    let done = env.invoice(Outcome::Completed, 100, "ORD-2").await;
    env.run_until_idle().await;
    assert_eq!(env.show(&slow).await["status"], "timeout");

    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_ok(&env.run(&["requeue", &slow]).await);
    let p = env.show(&slow).await;
    assert_eq!(p["status"], "pending");
    assert_eq!(p["attempts"], 0);
    assert_eq!(p["status_reason"], "requeued from timeout");
    env.run_until_idle().await;
    assert_eq!(env.show(&slow).await["status"], "completed");

    let events: Vec<String> = env
        .shop_connection()
        .prepare("SELECT type FROM events WHERE payment_token = ?1 ORDER BY seq")
        .unwrap()
        .query_map([&slow], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events,
        [
            "payment.timeout",
            "case.opened",
            "payment.late_completed",
            "case.resolved"
        ],
        "the timeout's case closes by itself on the late completion"
    );

    let out = env.run(&["requeue", &done]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("completed"), "{}", stderr(&out));
}
