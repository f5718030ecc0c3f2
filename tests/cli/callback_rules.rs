//! Issue 23's callback rules through the real binary, on both backends: a forged callback
//! sent first never delays the genuine one, and a callback contradicting a final status is
//! checked with LigdiCash (a late completion when LigdiCash now agrees) but never trusted.

use crate::api::{TOKEN, call, post_json, stop};
use crate::both;
use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::payment::Kind;
use ligdicash_reconciler::sandbox::Outcome;
use ligdicash_reconciler::sandbox::payouts::PayoutSpec;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::process::Child;

/// A daemon with the API and `/metrics`; no payment is polled on its own for an hour, so
/// every confirm here is a callback's doing.
async fn daemon(env: &mut TestEnv) -> (Child, String, u16) {
    let (api, http) = (free_port(), free_port());
    env.config.api.listen = format!("127.0.0.1:{api}");
    env.config.http.listen = format!("127.0.0.1:{http}");
    let p = &mut env.config.poll;
    p.first_delay = HumanDuration::secs(3600);
    p.initial_interval = HumanDuration::secs(3600);
    p.max_interval = HumanDuration::secs(3600);
    p.give_up_after = HumanDuration::secs(7200);
    p.min_interval = HumanDuration::secs(1);
    env.config.payouts.first_delay = HumanDuration::secs(3600);
    env.config.payouts.initial_interval = HumanDuration::secs(3600);
    env.config.payouts.max_interval = HumanDuration::secs(3600);
    env.write_config();
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{api}");
    for _ in 0..400 {
        if reqwest::get(format!("{base}/v1/payments")).await.is_ok() {
            return (child, base, http);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the API never listened");
}

/// LigdiCash's payin callback for `order`, saying `status`.
fn callback(order: &str, status: &str) -> String {
    json!({"token": "", "status": status, "amount": 2500, "montant": 2500,
           "custom_data": [{"keyof_customdata": "transaction_id", "valueof_customdata": order}]})
    .to_string()
}

async fn post_callback(base: &str, body: String) {
    let url = format!("{base}/callbacks/ligdicash");
    let (status, answer) = call("POST", &url, None, Some(("application/json", body))).await;
    assert_eq!(status, 200, "{answer}");
}

async fn enqueue(base: &str, token: &str, order: &str, kind: Kind) {
    let body = json!({"token": token, "transaction_id": order, "expected_amount": 2500,
                      "kind": kind.as_str()});
    let (status, answer) = post_json(&format!("{base}/v1/payments"), body).await;
    assert_eq!(status, 201, "{answer}");
}

async fn status_of(env: &TestEnv, token: &str) -> (String, Option<String>) {
    let row = env.payment_row(token).await;
    let reason = row["status_reason"].as_str().map(str::to_owned);
    (
        row["status"].as_str().unwrap_or_default().to_owned(),
        reason,
    )
}

/// Waits (at most 10 s) until the payment has `status`.
async fn until_status(env: &TestEnv, token: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(env, token).await.0 != status {
        assert!(Instant::now() < deadline, "{token} never became {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn confirms(env: &TestEnv, token: &str) -> usize {
    let sandbox = &env.sandbox.sandbox;
    sandbox
        .invoice(token)
        .map(|i| i.confirms.len())
        .or_else(|| sandbox.payout(token).map(|p| p.confirms.len()))
        .unwrap_or(0)
}

/// Waits until LigdiCash has seen `n` confirms of `token` and the answer is recorded.
async fn until_confirms(env: &TestEnv, token: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let recorded = env.count(
            "SELECT count(*) FROM confirm_attempts a JOIN payments p \
             ON p.id = a.payment_id WHERE p.token = ?1",
            token,
        );
        if confirms(env, token) >= n && recorded >= n as i64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{token}: {n} confirms never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both!(
    a_forged_callback_sent_first_never_delays_the_genuine_one,
    super::forged_first
);

/// A forger posts "completed" right after the shop created the invoice; LigdiCash's own
/// callbacks come at settlement, 5 s later. The forgery's confirm finds it pending; the
/// genuine callback, arriving after that confirm was sent, gets the verdict within
/// `min_interval` and a round trip, not at the next poll an hour away.
async fn forged_first(mut env: TestEnv) {
    let (child, base, _) = daemon(&mut env).await;
    let token = env
        .sandbox
        .sandbox
        .add_invoice(&ligdicash_reconciler::sandbox::InvoiceSpec {
            settle_after_ms: 3_600_000,
            transaction_id: Some("ORD-GENUINE".into()),
            ..settled(Outcome::Completed, 2500)
        });
    env.sandbox
        .sandbox
        .set_callback_url(&token, &format!("{base}/callbacks/ligdicash"));
    enqueue(&base, &token, "ORD-GENUINE", Kind::Invoice).await;
    let forged_at = Instant::now();
    post_callback(&base, callback("ORD-GENUINE", "completed")).await;
    until_confirms(&env, &token, 1).await;
    assert_eq!(status_of(&env, &token).await.0, "pending");

    tokio::time::sleep(Duration::from_secs(5).saturating_sub(forged_at.elapsed())).await;
    let page = format!("{}/pay/invoice/{token}/pay", env.sandbox.base_url());
    let settled_at = Instant::now();
    let paid = reqwest::Client::new().post(page).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    until_status(&env, &token, "completed").await;
    let took = settled_at.elapsed();
    assert!(
        took < Duration::from_millis(2_500),
        "the verdict took {took:?} (min_interval 1 s)"
    );
    assert_eq!(
        confirms(&env, &token),
        2,
        "one confirm per callback, copies folded"
    );
    stop(child).await;
}

both!(
    a_completed_callback_on_a_notcompleted_payment_is_checked_and_may_complete_it_late,
    super::contradicted_then_completed
);

/// Fail, then Pay on the same invoice (which LigdiCash refuses: the sandbox's page answers
/// "closed" until a test allows the contradiction). The "completed" callbacks lead to one
/// confirm; LigdiCash now says completed, so the payment becomes a late completion, with
/// its event, its reason, its metrics and its place in the day's report.
async fn contradicted_then_completed(mut env: TestEnv) {
    let (child, base, http) = daemon(&mut env).await;
    let token = env
        .sandbox
        .sandbox
        .add_invoice(&ligdicash_reconciler::sandbox::InvoiceSpec {
            settle_after_ms: 3_600_000,
            transaction_id: Some("ORD-LATE".into()),
            ..settled(Outcome::Never, 2500)
        });
    env.sandbox
        .sandbox
        .set_callback_url(&token, &format!("{base}/callbacks/ligdicash"));
    enqueue(&base, &token, "ORD-LATE", Kind::Invoice).await;
    let page = |action: &str| format!("{}/pay/invoice/{token}/{action}", env.sandbox.base_url());
    let http_client = reqwest::Client::new();
    let failed = http_client.post(page("fail")).send().await.unwrap();
    assert_eq!(failed.status(), 200);
    until_status(&env, &token, "notcompleted").await;
    until_confirms(&env, &token, 1).await;
    let closed = http_client.post(page("pay")).send().await.unwrap();
    assert_eq!(
        closed.status(),
        409,
        "a settled invoice is closed, as at LigdiCash"
    );

    env.sandbox.sandbox.allow_contradictions(true);
    let paid = http_client.post(page("pay")).send().await.unwrap();
    assert_eq!(paid.status(), 200);
    until_status(&env, &token, "completed").await;
    let (_, reason) = status_of(&env, &token).await;
    assert_eq!(reason.as_deref(), Some("completed after notcompleted"));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(confirms(&env, &token), 2, "two copies, one more confirm");
    let events = env.event_types(&token).await;
    assert_eq!(events, ["payment.notcompleted", "payment.late_completed"]);
    let (_, metrics) = crate::service::get(http, "/metrics").await;
    for line in [
        "ligdicash_reconciler_callback_contradictions_total{status=\"notcompleted\",result=\"rechecked\"} 2",
        "ligdicash_reconciler_contradiction_rechecks_total{status=\"notcompleted\",result=\"changed\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    stop(child).await;
    let report = env.report_today().await;
    let late = &report["discrepancies"]["late_completions"];
    assert_eq!(late[0]["token"], token.as_str(), "{late}");
    assert_eq!(late[0]["reason"], "completed after notcompleted");
}

both!(
    a_contradiction_ligdicash_upholds_changes_nothing_but_is_counted_and_reported,
    super::contradicted_and_upheld
);

/// A forged "completed" for a payment LigdiCash says failed leads to one confirm and
/// changes nothing when LigdiCash still says notcompleted; a forged "notcompleted" for a
/// paid payment leads to no confirm at all (money LigdiCash confirmed is never turned back
/// by a callback). Both are counted and listed in the day's report. A payout LigdiCash
/// failed and then sent after all (its callback says completed) is a late completion.
async fn contradicted_and_upheld(mut env: TestEnv) {
    let (child, base, http) = daemon(&mut env).await;
    let add = |outcome, order: &str| {
        env.sandbox
            .sandbox
            .add_invoice(&ligdicash_reconciler::sandbox::InvoiceSpec {
                transaction_id: Some(order.into()),
                ..settled(outcome, 2500)
            })
    };
    let (failed, paid) = (
        add(Outcome::NotCompleted, "ORD-NO"),
        add(Outcome::Completed, "ORD-YES"),
    );
    let payout = env.sandbox.sandbox.add_payout(&PayoutSpec {
        kind: Kind::Payout,
        outcome: Outcome::NotCompleted,
        amount: 2500,
        paid_amount: None,
        transaction_id: Some("REFUND-1".into()),
        settle_after_ms: 0,
    });
    enqueue(&base, &failed, "ORD-NO", Kind::Invoice).await;
    enqueue(&base, &paid, "ORD-YES", Kind::Invoice).await;
    enqueue(&base, &payout, "REFUND-1", Kind::Payout).await;
    // Their first confirms, made due by LigdiCash's genuine callbacks.
    post_callback(&base, callback("ORD-NO", "notcompleted")).await;
    post_callback(&base, callback("ORD-YES", "completed")).await;
    let payout_says = |status: &str| {
        json!({"response_code": "00", "token": "", "status": status, "custom_data": [],
               "operator_id": 12, "transaction_id": "REFUND-1", "external_id": "REFUND-1",
               "montant": "2500", "amount": "2500"})
        .to_string()
    };
    post_callback(&base, payout_says("notcompleted")).await;
    until_status(&env, &failed, "notcompleted").await;
    until_status(&env, &paid, "completed").await;
    until_status(&env, &payout, "notcompleted").await;

    post_callback(&base, callback("ORD-NO", "completed")).await;
    post_callback(&base, callback("ORD-YES", "notcompleted")).await;
    until_confirms(&env, &failed, 2).await;
    // LigdiCash sent the refund after all, and says so.
    assert!(
        env.sandbox
            .sandbox
            .settle_payout(&payout, Outcome::Completed)
    );
    post_callback(&base, payout_says("completed")).await;
    until_status(&env, &payout, "completed").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        status_of(&env, &failed).await.0,
        "notcompleted",
        "LigdiCash upheld it"
    );
    assert_eq!(
        status_of(&env, &paid).await.0,
        "completed",
        "never turned back"
    );
    assert_eq!(
        confirms(&env, &paid),
        1,
        "a paid payment is not even asked again"
    );
    assert_eq!(env.event_types(&failed).await, ["payment.notcompleted"]);
    assert_eq!(
        env.event_types(&payout).await,
        ["payout.notcompleted", "payout.late_completed"]
    );
    let (_, metrics) = crate::service::get(http, "/metrics").await;
    for line in [
        "ligdicash_reconciler_callback_contradictions_total{status=\"notcompleted\",result=\"rechecked\"} 2",
        "ligdicash_reconciler_callback_contradictions_total{status=\"completed\",result=\"upheld\"} 1",
        "ligdicash_reconciler_contradiction_rechecks_total{status=\"notcompleted\",result=\"unchanged\"} 1",
        "ligdicash_reconciler_contradiction_rechecks_total{status=\"notcompleted\",result=\"changed\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    stop(child).await;
    let report = env.report_today().await;
    let listed: Vec<(String, String)> = report["discrepancies"]["contradictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let field = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (field("token"), field("reason"))
        })
        .collect();
    assert!(
        listed.contains(&(
            failed.clone(),
            "a callback said completed, LigdiCash says notcompleted".into()
        )) && listed.contains(&(
            paid.clone(),
            "a callback said notcompleted, LigdiCash says completed".into()
        )),
        "{listed:?}"
    );
    assert_eq!(
        listed.len(),
        2,
        "the payout's contradiction was resolved: {listed:?}"
    );
}

/// What the command line shows of a payment, its events and today's report.
trait Rows {
    async fn payment_row(&self, token: &str) -> Value;
    async fn event_types(&self, token: &str) -> Vec<String>;
    async fn report_today(&self) -> Value;
}

impl Rows for TestEnv {
    async fn payment_row(&self, token: &str) -> Value {
        let out = self.run(&["show", token]).await;
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    async fn event_types(&self, token: &str) -> Vec<String> {
        let out = self.run(&["events", "list", "--json"]).await;
        assert_ok(&out);
        let all: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut types: Vec<(String, String)> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["payment_token"] == token)
            .map(|e| {
                let at = e["created_at"].as_str().unwrap_or_default().to_owned();
                (at, e["type"].as_str().unwrap_or_default().to_owned())
            })
            .collect();
        types.sort();
        types.into_iter().map(|(_, t)| t).collect()
    }

    async fn report_today(&self) -> Value {
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let out_dir = self.dir.path().join("out");
        let dir = out_dir.to_str().unwrap();
        let out = self.run(&["report", "--date", &today, "--out", dir]).await;
        assert_ok(&out);
        let text = std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}
