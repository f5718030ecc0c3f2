//! The shop API's named tokens and their scopes, through the real binary.

use crate::api::{TOKEN, call, code, stop};
use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

/// Named tokens do what their scopes allow and nothing else (403 naming the scope
/// needed); the `default` token of `[api]` keeps every scope; no token is ever logged.
#[tokio::test]
async fn each_named_token_does_what_its_scopes_allow() {
    let mut env = TestEnv::start().await;
    let toml = r#"
        [tokens.shop]
        scopes = ["enqueue", "read", "confirm"]
        [tokens.accounting]
        scopes = ["read", "resolve"]
    "#;
    env.config.api.tokens = toml::from_str::<ligdicash_reconciler::config::ApiConfig>(toml)
        .unwrap()
        .tokens;
    let port = crate::service::free_port();
    env.config.api.listen = format!("127.0.0.1:{port}");
    env.write_config();
    let (shop, accounting) = ("shop-7c1d", "accounting-44e9");
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .env("LIGDICASH_RECONCILER_API_TOKEN_SHOP", shop)
        .env("LIGDICASH_RECONCILER_API_TOKEN_ACCOUNTING", accounting)
        .env("RUST_LOG", "trace")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let ready = async {
        while reqwest::get(format!("{base}/v1/payments")).await.is_err() {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .unwrap();
    let enqueue = async |token: &str, order: &str| {
        let body = json!({"token": format!("tok-{order}"), "transaction_id": order});
        let url = format!("{base}/v1/payments");
        call(
            "POST",
            &url,
            Some(token),
            Some(("application/json", body.to_string())),
        )
        .await
    };
    assert_eq!(enqueue(shop, "ORD-1").await.0, 201);
    let (status, body) = enqueue(accounting, "ORD-2").await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"accounting\"") && message.contains("\"enqueue\""),
        "{message}"
    );
    assert_eq!(
        enqueue(TOKEN, "ORD-3").await.0,
        201,
        "the default token may do all"
    );
    let url = format!("{base}/v1/payments/tok-ORD-1");
    for token in [shop, accounting, TOKEN] {
        assert_eq!(call("GET", &url, Some(token), None).await.0, 200, "{token}");
    }
    let confirm = format!("{url}/confirm");
    let (status, body) = call("POST", &confirm, Some(accounting), None).await;
    assert_eq!((status, code(&body)), (403, "forbidden"));
    let out = stop(child).await;
    for secret in [shop, accounting, TOKEN] {
        assert!(!stderr(&out).contains(secret), "a token in the log");
    }
    assert!(
        stderr(&out).contains("token=accounting"),
        "the names are logged"
    );
}
