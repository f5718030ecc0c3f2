//! The shop API through the real binary: bearer checks, JSON errors, idempotent enqueue,
//! lookups by order reference, and confirm-now through the one confirm path.

use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::Outcome;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::process::Child;

const TOKEN: &str = "test-bearer-7f3a";

/// A daemon with the API on a free port; polling put off so the API's calls are the only
/// ones (`first_delay` 1 h).
async fn api_daemon(env: &mut TestEnv) -> (Child, String) {
    let port = free_port();
    env.config.api.listen = format!("127.0.0.1:{port}");
    env.config.poll.first_delay = HumanDuration::secs(3600);
    env.write_config();
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/v1/payments")).await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the API never listened");
}

/// One request; the status and the JSON body.
async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some((content_type, body)) = body {
        req = req.header("content-type", content_type).body(body);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post_json(url: &str, body: Value) -> (u16, Value) {
    call(
        "POST",
        url,
        Some(TOKEN),
        Some(("application/json", body.to_string())),
    )
    .await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_request_needs_the_bearer_token_and_errors_are_json() {
    let mut env = TestEnv::start().await;
    let (child, base) = api_daemon(&mut env).await;
    let url = format!("{base}/v1/payments/tok-1");
    for token in [None, Some("wrong"), Some("test-bearer-7f3")] {
        let (status, body) = call("GET", &url, token, None).await;
        assert_eq!((status, code(&body)), (401, "unauthorized"), "{token:?}");
    }
    let (status, body) = call("GET", &url, Some(TOKEN), None).await;
    assert_eq!((status, code(&body)), (404, "not_found"));
    assert!(body["error"]["message"].as_str().unwrap().contains("tok-1"));
    let out = stop(child).await;
    assert!(!stderr(&out).contains(TOKEN), "the token is never logged");
}

#[tokio::test]
async fn enqueue_is_idempotent_conflicts_are_409_and_bad_bodies_are_named() {
    let mut env = TestEnv::start().await;
    let (child, base) = api_daemon(&mut env).await;
    let url = format!("{base}/v1/payments");
    let payment = json!({"token": "tok-A", "transaction_id": "ORD-1", "expected_amount": 5000});
    let (status, body) = post_json(&url, payment.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["expected_amount"], 5000);
    assert_eq!(
        post_json(&url, payment).await.0,
        200,
        "same data: already there"
    );
    let other = json!({"token": "tok-A", "transaction_id": "ORD-1", "expected_amount": 6000});
    let (status, body) = post_json(&url, other).await;
    assert_eq!((status, code(&body)), (409, "conflict"));
    let cases = [
        (
            "application/json",
            "{not json".to_owned(),
            400,
            "malformed_json",
        ),
        (
            "text/plain",
            json!({"token": "t"}).to_string(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            json!({"token": "t", "expected_amount": "5 000"}).to_string(),
            422,
            "invalid_field",
        ),
        (
            "application/json",
            json!({"token": "t", "colour": "red"}).to_string(),
            422,
            "invalid_field",
        ),
        (
            "application/json",
            json!({"token": "  "}).to_string(),
            422,
            "invalid_field",
        ),
        (
            "application/json",
            json!({"token": "t", "expected_amount": -5}).to_string(),
            422,
            "invalid_field",
        ),
        (
            "application/json",
            format!("{{\"token\": \"{}\"}}", "x".repeat(70_000)),
            413,
            "body_too_large",
        ),
    ];
    for (content_type, body, want_status, want_code) in cases {
        let (status, answer) = call("POST", &url, Some(TOKEN), Some((content_type, body))).await;
        assert_eq!(
            (status, code(&answer)),
            (want_status, want_code),
            "{answer}"
        );
    }
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE token != ?1", "tok-A"),
        0
    );
    stop(child).await;
}

#[tokio::test]
async fn payments_are_found_by_order_reference_and_status_page_by_page() {
    let mut env = TestEnv::start().await;
    let (child, base) = api_daemon(&mut env).await;
    let url = format!("{base}/v1/payments");
    for (token, order) in [
        ("t1", "ORD-7"),
        ("t2", "ORD-7"),
        ("t3", "ORD-7"),
        ("t4", "ORD-8"),
    ] {
        let body = json!({"token": token, "transaction_id": order});
        assert_eq!(post_json(&url, body).await.0, 201);
    }
    let page = |q: String| {
        let url = format!("{url}?{q}");
        async move { call("GET", &url, Some(TOKEN), None).await }
    };
    let (status, first) = page("transaction_id=ORD-7&limit=2".into()).await;
    assert_eq!(status, 200, "{first}");
    let tokens = |v: &Value| -> Vec<String> {
        v["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["token"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(tokens(&first), ["t3", "t2"], "newest first");
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = page(format!("transaction_id=ORD-7&limit=2&cursor={next}")).await;
    assert_eq!(tokens(&second), ["t1"]);
    assert!(second["next"].is_null());
    let (_, pending) = page("status=pending".into()).await;
    assert_eq!(tokens(&pending).len(), 4);
    let (_, completed) = page("status=completed".into()).await;
    assert!(tokens(&completed).is_empty());
    for bad in [
        "status=paid",
        "limit=0",
        "limit=501",
        "cursor=zzz",
        "colour=red",
    ] {
        let (status, body) = page(bad.into()).await;
        assert_eq!(
            (status, code(&body)),
            (422, "invalid_field"),
            "{bad}: {body}"
        );
    }
    stop(child).await;
}

/// Confirm-now asks LigdiCash at once and records the verdict as the poller would (attempt,
/// status, event); a final payment is answered without asking again; two confirm-nows of
/// one pending token are `min_interval` apart at LigdiCash.
#[tokio::test]
async fn confirm_now_records_the_verdict_and_keeps_the_floor_between_confirms() {
    let mut env = TestEnv::start().await;
    env.config.poll.min_interval = HumanDuration::secs(1);
    let (child, base) = api_daemon(&mut env).await;
    let paid = env
        .sandbox
        .sandbox
        .add_invoice(&settled(Outcome::Completed, 2500));
    let url = format!("{base}/v1/payments");
    let body = json!({"token": paid, "expected_amount": 2500});
    assert_eq!(post_json(&url, body).await.0, 201);
    let confirm = format!("{url}/{paid}/confirm");
    let (status, body) = call("POST", &confirm, Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(env.calls("completed"), 1);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM events WHERE type = ?1",
            "payment.completed"
        ),
        1
    );
    let (status, again) = call("POST", &confirm, Some(TOKEN), None).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("completed")));
    assert_eq!(
        env.sandbox.sandbox.invoice(&paid).unwrap().confirms.len(),
        1,
        "final: not asked again"
    );

    let open = env
        .sandbox
        .sandbox
        .add_invoice(&ligdicash_reconciler::sandbox::InvoiceSpec {
            settle_after_ms: 3_600_000,
            ..settled(Outcome::Completed, 100)
        });
    assert_eq!(post_json(&url, json!({"token": open})).await.0, 201);
    let confirm = format!("{url}/{open}/confirm");
    let (a, b) = tokio::join!(
        call("POST", &confirm, Some(TOKEN), None),
        call("POST", &confirm, Some(TOKEN), None)
    );
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(a.1["status"], "pending");
    let times = env.sandbox.sandbox.invoice(&open).unwrap().confirms;
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= 1_000,
        "confirms {} ms apart",
        times[1] - times[0]
    );
    let (status, body) = call("POST", &format!("{url}/nope/confirm"), Some(TOKEN), None).await;
    assert_eq!((status, code(&body)), (404, "not_found"));
    stop(child).await;
}

#[tokio::test]
async fn api_listen_without_a_token_is_a_configuration_error() {
    let mut env = TestEnv::start().await;
    env.config.api.listen = format!("127.0.0.1:{}", free_port());
    env.write_config();
    let out = env.run(&["run"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("LIGDICASH_RECONCILER_API_TOKEN"),
        "{}",
        stderr(&out)
    );
}

async fn stop(child: Child) -> std::process::Output {
    terminate(&child);
    finished(child).await
}

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
/// the time of its next confirm, and its second copy (the form one, a second later) no
/// confirm at all; an unmatched callback is kept and counted; garbage is refused by kind.
#[tokio::test]
async fn forged_unmatched_and_garbage_callbacks_are_never_trusted() {
    let mut env = TestEnv::start().await;
    // After its first confirm, the payment's next poll is an hour away.
    env.config.poll.initial_interval = HumanDuration::secs(3600);
    env.config.poll.max_interval = HumanDuration::secs(3600);
    env.config.poll.give_up_after = HumanDuration::secs(7200);
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
    let json_type = "application/json";
    assert_eq!(
        call("POST", &url, None, Some((json_type, forged))).await.0,
        200
    );

    env.wait_confirmed(&open).await;
    eventually(Duration::from_secs(5), || env.calls("pending") >= 1).await;
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "pending"),
        1
    );
    let form = "application/x-www-form-urlencoded";
    assert_eq!(
        call("POST", &url, None, Some((form, forged_form))).await.0,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let confirms = env.sandbox.sandbox.invoice(&open).unwrap().confirms.len();
    assert_eq!(confirms, 1, "the second copy caused no confirm");
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
async fn checkout(env: &TestEnv, order: &str, callback_url: &str) -> (String, String) {
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
    let mut env = TestEnv::start().await;
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
