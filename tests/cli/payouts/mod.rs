//! Payouts (withdrawals and straight payouts) through the real binary against the
//! sandbox: each kind at its own endpoint, LigdiCash's string amounts, a mismatch, a payout
//! that stays pending (never given up, announced overdue once), an invoice token enqueued as
//! a payout, the migration of an existing database, and the report's money-out section.

mod report;
mod shop;

use crate::helpers::*;
use crate::service::{free_port, get};
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::payment::Kind;
use ligdicash_reconciler::sandbox::Outcome;
use ligdicash_reconciler::sandbox::payouts::PayoutSpec;
use serde_json::Value;
use std::time::Duration;

/// A test environment whose payouts follow a fast schedule too.
pub(crate) async fn env() -> TestEnv {
    let mut env = TestEnv::start().await;
    let o = &mut env.config.payouts;
    o.first_delay = HumanDuration::millis(0);
    o.initial_interval = HumanDuration::millis(100);
    o.max_interval = HumanDuration::millis(300);
    env.write_config();
    env
}

pub(crate) fn spec(kind: Kind, outcome: Outcome, amount: i64, tx: &str) -> PayoutSpec {
    PayoutSpec {
        kind,
        outcome,
        amount,
        paid_amount: None,
        transaction_id: Some(tx.into()),
        settle_after_ms: 0,
    }
}

/// Creates a payout at the sandbox and enqueues it with `enqueue --kind` as a shop would.
pub(crate) async fn payout(env: &TestEnv, spec: PayoutSpec) -> String {
    let token = env.sandbox.sandbox.add_payout(&spec);
    let amount = spec.amount.to_string();
    let tx = spec.transaction_id.clone().unwrap_or_default();
    let args = [
        "enqueue",
        &token,
        "--kind",
        spec.kind.as_str(),
        "--transaction-id",
        &tx,
        "--amount",
        &amount,
    ];
    assert_ok(&env.run(&args).await);
    token
}

/// The event types of one token, oldest first.
fn events(env: &TestEnv, token: &str) -> Vec<String> {
    let conn = env.shop_connection();
    let mut stmt = conn
        .prepare("SELECT type FROM events WHERE payment_token = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([token], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn payload(env: &TestEnv, token: &str, kind: &str) -> Value {
    let text: String = env
        .shop_connection()
        .query_row(
            "SELECT payload FROM events WHERE payment_token = ?1 AND type = ?2",
            [token, kind],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn each_kind_is_confirmed_at_its_endpoint_and_verified() {
    let env = env().await;
    let withdrawal = payout(
        &env,
        spec(Kind::Withdrawal, Outcome::Completed, 100, "REFUND-1"),
    )
    .await;
    let straight = payout(
        &env,
        spec(Kind::Payout, Outcome::Completed, 2500, "SELLER-1"),
    )
    .await;
    let failed = payout(
        &env,
        spec(Kind::Payout, Outcome::NotCompleted, 700, "SELLER-2"),
    )
    .await;
    let short = payout(
        &env,
        PayoutSpec {
            paid_amount: Some(90),
            ..spec(Kind::Payout, Outcome::Completed, 100, "CASHBACK-1")
        },
    )
    .await;
    let invoice = env.invoice(Outcome::Completed, 5000, "ORD-1").await;

    env.run_until_idle().await;

    for (token, kind, amount) in [
        (&withdrawal, "withdrawal", 100),
        (&straight, "payout", 2500),
    ] {
        let p = env.show(token).await;
        assert_eq!(p["status"], "completed", "{p}");
        assert_eq!(p["kind"], kind);
        // LigdiCash's payout answers carry the amount as a string: "100".
        assert_eq!(p["raw_response"]["amount"], amount.to_string());
        assert_eq!(p["amount"], amount, "the string amount is parsed");
        assert_eq!(
            p["operator_id"], "12",
            "an integer operator_id is kept as text"
        );
        assert_eq!(events(&env, token), ["payout.completed"]);
        let sandbox = env.sandbox.sandbox.payout(token).unwrap();
        assert!(
            !sandbox.confirms.is_empty(),
            "confirmed at its own endpoint"
        );
    }
    let event = payload(&env, &withdrawal, "payout.completed");
    assert_eq!(event["payment"]["kind"], "withdrawal");
    assert_eq!(event["payment"]["transaction_id"], "REFUND-1");

    assert_eq!(env.show(&failed).await["status"], "notcompleted");
    assert_eq!(events(&env, &failed), ["payout.notcompleted"]);

    let p = env.show(&short).await;
    assert_eq!(p["status"], "mismatch");
    assert_eq!(
        p["status_reason"],
        "confirmed amount 90 XOF differs from expected 100 XOF"
    );
    assert_eq!(
        events(&env, &short),
        ["payout.mismatch", "case.opened"],
        "a mismatch needs a person"
    );

    let p = env.show(&invoice).await;
    assert_eq!(
        (p["status"].as_str(), p["kind"].as_str()),
        (Some("completed"), Some("invoice"))
    );
    assert_eq!(events(&env, &invoice), ["payment.completed"]);
    assert_eq!(
        payload(&env, &invoice, "payment.completed")["payment"]["kind"],
        "invoice"
    );
}

#[tokio::test]
async fn an_invoice_token_enqueued_as_a_payout_ends_invalid_token() {
    let env = env().await;
    let token = env
        .sandbox
        .sandbox
        .add_invoice(&settled(Outcome::Completed, 5000));
    assert_ok(&env.run(&["enqueue", &token, "--kind", "payout"]).await);
    env.run_until_idle().await;
    let p = env.show(&token).await;
    assert_eq!(p["status"], "invalid_token", "{p}");
    assert_eq!(p["attempts"], 3);
    assert_eq!(
        events(&env, &token),
        ["payout.invalid_token", "case.opened"]
    );
    assert!(
        env.sandbox
            .sandbox
            .invoice(&token)
            .unwrap()
            .confirms
            .is_empty(),
        "never asked at the invoice endpoint"
    );
}

/// A payout LigdiCash keeps pending is never given up: past `give_up_after` it is still
/// pending and still polled; past `overdue_after` it is announced once, counted in
/// `/metrics`, and `run --until-idle` no longer waits for it.
#[tokio::test]
async fn an_overdue_payout_stays_pending_is_still_polled_and_announced_once() {
    let mut env = env().await;
    env.config.payouts.overdue_after = HumanDuration::millis(800);
    // The daemons here sweep for cases only as they start (tests/cli/cases has the cases).
    env.config.cases.sweep_interval = HumanDuration::secs(3600);
    let port = free_port();
    env.config.http.listen = format!("127.0.0.1:{port}");
    env.write_config();
    let stuck = payout(&env, spec(Kind::Payout, Outcome::Never, 100, "SELLER-9")).await;
    // Settles after give_up_after (3 s): an invoice would be a timeout by then.
    let late = payout(
        &env,
        PayoutSpec {
            settle_after_ms: 3_500,
            ..spec(Kind::Withdrawal, Outcome::Completed, 300, "REFUND-9")
        },
    )
    .await;
    let daemon = env.spawn(&["run"]);
    let sandbox = env.sandbox.sandbox.clone();
    let overdue = |env: &TestEnv| {
        env.count(
            "SELECT count(*) FROM events WHERE type = ?1",
            "payout.overdue",
        )
    };
    eventually(Duration::from_secs(10), || overdue(&env) >= 1).await;
    let seen = sandbox.payout(&stuck).unwrap().confirms.len();
    // Polled on, past give_up_after, until the late one has settled.
    eventually(Duration::from_secs(15), || {
        env.count(
            "SELECT count(*) FROM payments WHERE token = ?1 AND status = 'completed'",
            &late,
        ) == 1
            && sandbox.payout(&stuck).unwrap().confirms.len() >= seen + 3
    })
    .await;
    let (status, metrics) = get(port, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "ligdicash_reconciler_overdue_payouts 1",
        "ligdicash_reconciler_pending_payouts 1",
        "ligdicash_reconciler_resolutions_total{kind=\"withdrawal\",status=\"completed\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    terminate(&daemon);
    finished(daemon).await;

    let p = env.show(&stuck).await;
    assert_eq!(p["status"], "pending", "{p}");
    assert!(p["overdue_at"].is_string(), "{p}");
    assert_eq!(events(&env, &stuck), ["payout.overdue"]);
    let event = payload(&env, &stuck, "payout.overdue");
    assert_eq!(event["payment"]["status"], "pending");
    assert_eq!(event["payment"]["kind"], "payout");
    let p = env.show(&late).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(
        events(&env, &late),
        ["payout.overdue", "payout.completed"],
        "overdue, then settled: never a timeout"
    );

    // An overdue payout no longer holds `run --until-idle`, nor gets a second event; its
    // case opens at the end of the finite run (the daemon's sweep is every 30 s).
    env.run_until_idle().await;
    assert_eq!(events(&env, &stuck), ["payout.overdue", "case.opened"]);
    // Settled at last, it completes like any other.
    assert!(sandbox.settle_payout(&stuck, Outcome::Completed));
    let daemon = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE token = ?1 AND status = 'completed'",
            &stuck,
        ) == 1
    })
    .await;
    terminate(&daemon);
    finished(daemon).await;
    assert_eq!(
        events(&env, &stuck),
        ["payout.overdue", "case.opened", "payout.completed"],
        "its case closes at the daemon's next sweep, an hour away"
    );
}
