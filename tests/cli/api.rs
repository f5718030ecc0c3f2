//! The shop API through the real binary: bearer checks, JSON errors, idempotent enqueue,
//! lookups by order reference, and confirm-now through the one confirm path.

use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::Outcome;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::process::Child;

pub const TOKEN: &str = "test-bearer-7f3a";

/// A daemon with the API on a free port; polling put off so the API's calls are the only
/// ones (`first_delay` 1 h).
pub async fn api_daemon(env: &mut TestEnv) -> (Child, String) {
    api_daemon_logging(env, "trace").await
}

/// [`api_daemon`] logging at `level` (`RUST_LOG`): a flood test logs at `info`, so that the
/// daemon does not spend its time writing trace lines nobody reads.
pub async fn api_daemon_logging(env: &mut TestEnv, level: &str) -> (Child, String) {
    let port = free_port();
    env.config.api.listen = format!("127.0.0.1:{port}");
    env.config.poll.first_delay = HumanDuration::secs(3600);
    env.write_config();
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .env("RUST_LOG", level)
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
pub async fn call(
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

pub async fn post_json(url: &str, body: Value) -> (u16, Value) {
    call(
        "POST",
        url,
        Some(TOKEN),
        Some(("application/json", body.to_string())),
    )
    .await
}

pub fn code(body: &Value) -> &str {
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
    // PHP sends numbers as strings: the same payment again.
    let as_php = json!({"token": "tok-A", "transaction_id": "ORD-1", "expected_amount": "5000"});
    assert_eq!(post_json(&url, as_php).await.0, 200, "\"5000\" is 5000");
    // Refusals name the field in plain words, never in the parser's.
    let amount = "expected_amount: must be a positive whole number of XOF, like 5000";
    for (body, message) in [
        (
            json!({"token": "t", "expected_amount": "5 000"}),
            format!(r#"{amount} (got "5 000")"#),
        ),
        (
            json!({"token": "t", "expected_amount": "5000.5"}),
            format!(r#"{amount} (got "5000.5")"#),
        ),
        (
            json!({"token": "t", "expected_amount": "abc"}),
            format!(r#"{amount} (got "abc")"#),
        ),
        (
            json!({"token": 5}),
            "token: must be a string (got 5)".to_owned(),
        ),
    ] {
        let (status, answer) = post_json(&url, body).await;
        assert_eq!(
            (status, answer["error"]["message"].as_str()),
            (422, Some(message.as_str()))
        );
    }
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

crate::both!(
    payments_are_found_by_order_reference_status_and_kind_page_by_page,
    super::search_pages
);

async fn search_pages(mut env: TestEnv) {
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
    // A refund of the order, money out: found by its kind.
    let refund = json!({"token": "t5", "transaction_id": "ORD-7", "kind": "withdrawal"});
    assert_eq!(post_json(&url, refund).await.0, 201);
    let (_, out) = page("transaction_id=ORD-7&kind=withdrawal".into()).await;
    assert_eq!(tokens(&out), ["t5"]);
    let (_, paid_in) = page("transaction_id=ORD-7&kind=invoice".into()).await;
    assert_eq!(tokens(&paid_in), ["t3", "t2", "t1"]);
    for bad in [
        "kind=refund",
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

crate::both!(
    confirm_now_records_the_verdict_and_keeps_the_floor_between_confirms,
    super::confirm_now
);

/// Confirm-now asks LigdiCash at once and records the verdict as the poller would (attempt,
/// status, event); a final payment is answered without asking again; two confirm-nows of
/// one pending token never reach LigdiCash within `min_interval`.
async fn confirm_now(mut env: TestEnv) {
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
    // On PostgreSQL a node sends nothing while it joins its cluster (three heartbeats, more
    // on a loaded machine): 503 `joining` until then.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let (status, body) = loop {
        let (status, body) = call("POST", &confirm, Some(TOKEN), None).await;
        if status != 503 || code(&body) != "joining" || tokio::time::Instant::now() > deadline {
            break (status, body);
        }
        assert!(env.pg.is_some(), "joining on SQLite: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
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
    assert_eq!(
        (a.1["status"].as_str(), b.1["status"].as_str()),
        (Some("pending"), Some("pending"))
    );
    let times = env.sandbox.sandbox.invoice(&open).unwrap().confirms;
    // One process (SQLite): the second waits the floor and asks again. On PostgreSQL the
    // second finds the row claimed by the first: it answers with that confirm if it was
    // sent after the second asked, else claims the row and asks again after the floor.
    let expected = if env.pg.is_some() { 1..=2 } else { 2..=2 };
    assert!(expected.contains(&times.len()), "{times:?}");
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= 1_000,
            "confirms {} ms apart",
            pair[1] - pair[0]
        );
    }
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

pub async fn stop(child: Child) -> std::process::Output {
    terminate(&child);
    finished(child).await
}
