//! `report --recheck`: re-confirming timeouts, on a late completion, a failure and a
//! refusal.

use crate::helpers::*;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{Faults, InvoiceSpec, Outcome};

#[tokio::test]
async fn the_re_check_turns_a_late_completion_into_completed_with_its_event_and_report_entry() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    let token = env
        .invoice_with(InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 2500,
            paid_amount: None,
            transaction_id: Some("ORD-LATE".into()),
            confirmed_transaction_id: None,
            settle_after_ms: 1500,
        })
        .await;
    env.run_until_idle().await;
    assert_eq!(env.show(&token).await["status"], "timeout");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;

    let out = env.run(&["report", "--recheck"]).await;
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 late completions"));
    let p = env.show(&token).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(p["amount"], 2500);
    let events = env.count(
        "SELECT count(*) FROM events WHERE type = ?1",
        "payment.late_completed",
    );
    assert_eq!(events, 1);

    let today = chrono::Utc::now().date_naive().to_string();
    let out_dir = env.dir.path().join("out");
    assert_ok(
        &env.run(&[
            "report",
            "--date",
            &today,
            "--format",
            "json",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .await,
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap(),
    )
    .unwrap();
    let late = report["discrepancies"]["late_completions"]
        .as_array()
        .unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["token"], token.as_str());
    assert_eq!(late[0]["transaction_id"], "ORD-LATE");
}

/// A re-check that gets no answer changes nothing but leaves its attempt, with the error,
/// in the log as a poll would.
#[tokio::test]
async fn a_failed_re_check_keeps_the_timeout_and_logs_the_attempt_with_its_error() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.write_config();
    let token = env.invoice_with(settled(Outcome::Never, 2500)).await;
    env.run_until_idle().await;
    assert_eq!(env.show(&token).await["status"], "timeout");
    env.sandbox.sandbox.set_faults(Faults {
        server_error: 1.0,
        ..Faults::default()
    });

    assert_ok(&env.run(&["report", "--recheck"]).await);
    assert_eq!(env.show(&token).await["status"], "timeout");
    let (outcome, status, error): (String, i64, Option<String>) = env
        .shop_connection()
        .query_row(
            "SELECT outcome, http_status, error FROM confirm_attempts ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(outcome, "http_5xx");
    assert!((500..=504).contains(&status), "{status}");
    assert!(
        error.as_deref().is_some_and(|e| e.starts_with("HTTP 50")),
        "{error:?}"
    );
}

/// Refused credentials end a re-check pass at the first refusal: every further call would
/// be refused too.
#[tokio::test]
async fn a_re_check_stops_at_the_first_refusal() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.write_config();
    for _ in 0..3 {
        env.invoice_with(settled(Outcome::Never, 2500)).await;
    }
    env.run_until_idle().await;
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "timeout"),
        3
    );
    env.sandbox.sandbox.set_faults(Faults {
        auth_failure: true,
        ..Faults::default()
    });
    assert_ok(&env.run(&["report", "--recheck"]).await);
    assert_eq!(
        env.calls("auth_failed"),
        1,
        "one refused call, then the pass stopped"
    );
}
