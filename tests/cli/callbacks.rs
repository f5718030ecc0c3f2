//! LigdiCash callbacks and the sandbox's payment page, through the real binary: never
//! trusted, one confirm for LigdiCash's double POST, kept as evidence.

use crate::api::{api_daemon, call, post_json, stop};
use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::Outcome;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::process::Child;

/// A daemon with the API and the metrics listener on free ports.
async fn api_and_metrics(env: &mut TestEnv) -> (Child, String, u16) {
    let port = free_port();
    env.config.http.listen = format!("127.0.0.1:{port}");
    let (child, base) = api_daemon(env).await;
    (child, base, port)
}

fn ligdicash_callback(order: &str, status: &str) -> (String, String) {
    let custom = json!([{"keyof_customdata": "transaction_id", "valueof_customdata": order}]);
    let json = json!({"token": "", "status": status, "amount": 2500, "montant": 2500,
                      "request_id": "P2777", "external_id": order, "custom_data": custom});
    let form = format!(
        "token=&status={status}&amount=2500&montant=2500&request_id=P2777&external_id={order}&custom_data={}",
        url_encode(&custom.to_string())
    );
    (json.to_string(), form)
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// LigdiCash's double POST (JSON then form) for a paid order: the payment is confirmed
/// within seconds instead of at its next poll (here an hour away), with one confirm for the
/// two copies; both copies are kept as evidence. No bearer token is needed.
#[tokio::test]
async fn a_callback_in_both_encodings_gets_the_payment_confirmed_at_once_and_once() {
    let mut env = TestEnv::start().await;
    let (child, base, port) = api_and_metrics(&mut env).await;
    let paid = env
        .sandbox
        .sandbox
        .add_invoice(&ligdicash_reconciler::sandbox::InvoiceSpec {
            transaction_id: Some("ORD-CB".into()),
            ..settled(Outcome::Completed, 2500)
        });
    let body = json!({"token": paid, "transaction_id": "ORD-CB", "expected_amount": 2500});
    assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);
    let url = format!("{base}/callbacks/ligdicash");
    let (json_copy, form_copy) = ligdicash_callback("ORD-CB", "completed");
    let (status, _) = call("POST", &url, None, Some(("application/json", json_copy))).await;
    assert_eq!(status, 200);
    let form = "application/x-www-form-urlencoded";
    assert_eq!(
        call("POST", &url, None, Some((form, form_copy))).await.0,
        200
    );
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let confirms = env.sandbox.sandbox.invoice(&paid).unwrap().confirms.len();
    assert_eq!(confirms, 1, "two copies, one confirm");
    let kept = "SELECT count(*) FROM callbacks WHERE payment_id IS NOT NULL AND matched_by = ?1";
    assert_eq!(env.count(kept, "transaction_id"), 2);
    let (_, metrics) = crate::service::get(port, "/metrics").await;
    assert!(
        metrics.contains("callbacks_total{result=\"matched\"} 2"),
        "{metrics}"
    );
    stop(child).await;
}

/// A forged "completed" for a payment LigdiCash still calls pending changes nothing but
/// the time of its next confirm, and its second copy, sent before that confirm, no confirm
/// of its own; one sent after it leads to one more confirm (never sooner than
/// `min_interval`), and changes nothing either; an unmatched callback is kept and counted;
/// garbage is refused by kind.
#[tokio::test]
async fn forged_unmatched_and_garbage_callbacks_are_never_trusted() {
    let mut env = TestEnv::start().await;
    // After its first confirm, the payment's next poll is an hour away.
    env.config.poll.initial_interval = HumanDuration::secs(3600);
    env.config.poll.max_interval = HumanDuration::secs(3600);
    env.config.poll.give_up_after = HumanDuration::secs(7200);
    // The scan sleeps while the two copies arrive, milliseconds apart, as LigdiCash's do.
    env.config.poll.scan_interval = HumanDuration::secs(2);
    let (child, base, port) = api_and_metrics(&mut env).await;
    let open = env
        .sandbox
        .sandbox
        .add_invoice(&ligdicash_reconciler::sandbox::InvoiceSpec {
            settle_after_ms: 3_600_000,
            transaction_id: Some("ORD-F".into()),
            ..settled(Outcome::Completed, 2500)
        });
    let body = json!({"token": open, "transaction_id": "ORD-F"});
    assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);
    let url = format!("{base}/callbacks/ligdicash");
    let (forged, forged_form) = ligdicash_callback("ORD-F", "completed");
    let (json_type, form) = ("application/json", "application/x-www-form-urlencoded");
    // Its first poll is an hour away: the two copies, sent together, cause one confirm.
    for (content_type, body) in [(json_type, &forged), (form, &forged_form)] {
        let posted = call("POST", &url, None, Some((content_type, body.clone()))).await;
        assert_eq!(posted.0, 200);
    }
    eventually(Duration::from_secs(5), || env.calls("pending") >= 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let confirms = env.sandbox.sandbox.invoice(&open).unwrap().confirms.len();
    assert_eq!(confirms, 1, "the copies sent together caused one confirm");
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "pending"),
        1
    );
    // Sent after that confirm: one more, and still no verdict from a callback.
    let posted = call("POST", &url, None, Some((json_type, forged))).await;
    assert_eq!(posted.0, 200);
    eventually(Duration::from_secs(5), || env.calls("pending") >= 2).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let confirms = env.sandbox.sandbox.invoice(&open).unwrap().confirms.len();
    assert_eq!(confirms, 2, "{confirms} confirms");
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "pending"),
        1
    );
    let (stranger, _) = ligdicash_callback("ORD-NOBODY", "completed");
    assert_eq!(
        call("POST", &url, None, Some(("application/json", stranger)))
            .await
            .0,
        200
    );
    let unmatched = "SELECT count(*) FROM callbacks WHERE payment_id IS NULL AND said_status = ?1";
    assert_eq!(env.count(unmatched, "completed"), 1);
    let cases = [
        ("application/json", "{nope".to_owned(), 400),
        ("application/json", "[1]".to_owned(), 400),
        ("application/x-www-form-urlencoded", String::new(), 400),
        ("text/plain", "status=completed".to_owned(), 415),
        (
            "application/json",
            format!("{{\"x\": \"{}\"}}", "y".repeat(70_000)),
            413,
        ),
    ];
    for (content_type, body, want) in cases {
        let (status, answer) = call("POST", &url, None, Some((content_type, body))).await;
        assert_eq!(status, want, "{content_type}: {answer}");
    }
    let (_, metrics) = crate::service::get(port, "/metrics").await;
    let by_route = "api_requests_total{route=\"/callbacks/ligdicash\",status=\"400\"} 3";
    assert!(metrics.contains(by_route), "{metrics}");
    assert!(
        metrics.contains("callbacks_total{result=\"unmatched\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("callbacks_total{result=\"rejected\"} 4"),
        "{metrics}"
    );
    stop(child).await;
    // The day's report counts the callback that matched nothing.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let out_dir = env.dir.path().join("out");
    let dir = out_dir.to_str().unwrap();
    let out = env.run(&["report", "--date", &today, "--out", dir]).await;
    assert_ok(&out);
    let report = std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap();
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["health"]["unmatched_callbacks"], 1);
}

/// Creates an invoice at the sandbox as a shop's checkout does, with its callback going to
/// the reconciler; returns its token and payment page.
pub async fn checkout(env: &TestEnv, order: &str, callback_url: &str) -> (String, String) {
    use ligdicash_reconciler::sandbox::{SANDBOX_API_KEY, SANDBOX_API_TOKEN};
    let body = json!({"commande": {
        "invoice": {"items": [], "total_amount": 3000, "devise": "XOF", "description": "Test",
                    "customer": "", "external_id": "", "otp": ""},
        "store": {"name": "Test shop", "website_url": "https://shop.example"},
        "actions": {"cancel_url": "https://shop.example/c", "return_url": "https://shop.example/r",
                    "callback_url": callback_url},
        "custom_data": {"transaction_id": order}
    }});
    let url = format!(
        "{}{}",
        env.sandbox.base_url().trim_end_matches('/'),
        ligdicash_reconciler::ligdicash::client::CREATE_PATH
    );
    let reply = reqwest::Client::new()
        .post(url)
        .header("Apikey", SANDBOX_API_KEY)
        .header("Authorization", format!("Bearer {SANDBOX_API_TOKEN}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    let token = reply["token"].as_str().unwrap().to_owned();
    (token, reply["response_text"].as_str().unwrap().to_owned())
}

/// The sandbox's payment page settles the invoice and posts LigdiCash's two callbacks to
/// the reconciler, which confirms at once (one confirm for both); with callbacks dropped
/// (a lost callback) nothing arrives and the payment waits for its poll.
#[tokio::test]
async fn the_sandbox_payment_page_settles_and_its_callbacks_get_the_payment_confirmed() {
    // The invoice waits for the button: a settled one is closed, as at LigdiCash.
    let mut env = TestEnv::with_sandbox(waiting_for_pay()).await;
    let (child, base) = api_daemon(&mut env).await;
    let callback_url = format!("{base}/callbacks/ligdicash");
    let (token, page_url) = checkout(&env, "ORD-PAGE", &callback_url).await;
    let body = json!({"token": token, "transaction_id": "ORD-PAGE", "expected_amount": 3000});
    assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);
    let page = reqwest::get(&page_url).await.unwrap().text().await.unwrap();
    assert!(
        page.contains("id=\"pay\"") && page.contains("ORD-PAGE"),
        "{page}"
    );
    let paid = reqwest::Client::new()
        .post(format!("{page_url}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) == 1
    })
    .await;
    eventually(Duration::from_secs(5), || {
        env.count(
            "SELECT count(*) FROM callbacks WHERE matched_by = ?1",
            "transaction_id",
        ) == 2
    })
    .await;
    assert_eq!(
        env.sandbox.sandbox.invoice(&token).unwrap().confirms.len(),
        1
    );

    env.sandbox.sandbox.drop_callbacks(true);
    let (lost, lost_page) = checkout(&env, "ORD-LOST", &callback_url).await;
    let body = json!({"token": lost, "transaction_id": "ORD-LOST"});
    assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);
    let failed = reqwest::Client::new()
        .post(format!("{lost_page}/fail"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        env.count(
            "SELECT count(*) FROM callbacks WHERE body LIKE ?1",
            "%ORD-LOST%"
        ),
        0
    );
    assert!(
        env.sandbox
            .sandbox
            .invoice(&lost)
            .unwrap()
            .confirms
            .is_empty()
    );
    stop(child).await;
}
