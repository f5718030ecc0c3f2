//! Cases through the shop API of a running daemon: an invoice pending too long and a
//! contradicted status open their cases while it runs; `GET /v1/cases` lists them with
//! their age, kind and order; the accountant's token (scope `resolve`) closes one, the
//! shop's token (without it) gets 403; a decision that does not fit, a payment without an
//! open case and an unknown payment get clear 4xx; `/metrics` counts the open cases.

use super::case_of;
use crate::api::{TOKEN, call, code, stop};
use crate::both;
use crate::helpers::*;
use crate::service::{free_port, get};
use ligdicash_reconciler::config::{ApiConfig, HumanDuration};
use ligdicash_reconciler::sandbox::Outcome;
use serde_json::{Value, json};
use std::time::Duration;

const SHOP: &str = "shop-2b7e";
const ACCOUNTING: &str = "accounting-91c4";

both!(
    a_person_closes_a_case_through_the_api_with_the_resolve_scope,
    super::through_the_api
);

/// The open cases, as the accountant's token reads them.
async fn open_cases(base: &str) -> Vec<Value> {
    let (status, body) = call(
        "GET",
        &format!("{base}/v1/cases?status=open"),
        Some(ACCOUNTING),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["cases"].as_array().unwrap().clone()
}

async fn through_the_api(mut env: TestEnv) {
    let toml = r#"
        [tokens.shop]
        scopes = ["enqueue", "read", "confirm"]
        [tokens.accounting]
        scopes = ["read", "resolve"]
    "#;
    env.config.api.tokens = toml::from_str::<ApiConfig>(toml).unwrap().tokens;
    let (api, http) = (free_port(), free_port());
    env.config.api.listen = format!("127.0.0.1:{api}");
    env.config.http.listen = format!("127.0.0.1:{http}");
    env.config.poll.give_up_after = HumanDuration::secs(7200);
    env.config.cases.pending_after = HumanDuration::millis(1500);
    env.config.cases.sweep_interval = HumanDuration::millis(100);
    env.write_config();
    let waiting = env.invoice(Outcome::Never, 2500, "ORD-WAIT").await;
    let failed = env.invoice(Outcome::NotCompleted, 1500, "ORD-FAIL").await;
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .env("LIGDICASH_RECONCILER_API_TOKEN_SHOP", SHOP)
        .env("LIGDICASH_RECONCILER_API_TOKEN_ACCOUNTING", ACCOUNTING)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{api}");
    let ready = async {
        while reqwest::get(format!("{base}/v1/cases")).await.is_err() {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE token = ?1 AND status = 'notcompleted'",
            &failed,
        ) == 1
    })
    .await;
    // A forged "completed" for the failed invoice: confirmed once more, LigdiCash upholds.
    let forged = json!({"token": "", "status": "completed", "amount": 1500,
        "custom_data": [{"keyof_customdata": "transaction_id", "valueof_customdata": "ORD-FAIL"}]});
    let url = format!("{base}/callbacks/ligdicash");
    let (status, _) = call(
        "POST",
        &url,
        None,
        Some(("application/json", forged.to_string())),
    )
    .await;
    assert_eq!(status, 200);
    // Each of the two payments has its open case (not any two open cases: under load the
    // sweep may not have reached one of them yet).
    let open_case_of = "SELECT count(*) FROM cases JOIN payments ON payments.id = cases.payment_id \
        WHERE cases.closed_at IS NULL AND payments.token = ?1";
    eventually(Duration::from_secs(15), || {
        env.count(open_case_of, &waiting) == 1 && env.count(open_case_of, &failed) == 1
    })
    .await;
    // As the API lists them (a case closed by itself in between would never come back).
    let mut open = open_cases(&base).await;
    let listed = |open: &[Value]| {
        [&waiting, &failed]
            .iter()
            .all(|t| open.iter().any(|c| c["payment"]["token"] == t.as_str()))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !listed(&open) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = open_cases(&base).await;
    }
    let pending = case_of(&open, &waiting);
    assert_eq!(
        (&pending["kind"], &pending["payment"]["transaction_id"]),
        (&"pending_too_long".into(), &"ORD-WAIT".into())
    );
    let contradicted = case_of(&open, &failed);
    assert_eq!(contradicted["kind"], "contradicted", "{contradicted}");
    assert_eq!(contradicted["payment"]["status"], "notcompleted");
    assert!(open.iter().all(|c| c["age_seconds"].is_i64()), "{open:#?}");
    let (_, metrics) = get(http, "/metrics").await;
    for line in [
        "ligdicash_reconciler_open_cases{kind=\"pending_too_long\"} 1",
        "ligdicash_reconciler_open_cases{kind=\"contradicted\"} 1",
        "ligdicash_reconciler_open_cases{kind=\"mismatch\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }

    let resolution = |token: &str| format!("{base}/v1/payments/{token}/resolution");
    let decide = |decision: &str| {
        let body = json!({"decision": decision, "note": "the customer confirmed she never paid"});
        Some(("application/json", body.to_string()))
    };
    let (status, body) = call("POST", &resolution(&failed), Some(SHOP), decide("not_paid")).await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    let (status, body) = call(
        "POST",
        &resolution(&failed),
        Some(ACCOUNTING),
        decide("sent_again"),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (422, "decision_does_not_fit"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not_paid"),
        "{body}"
    );
    let (status, body) = call(
        "POST",
        &resolution(&failed),
        Some(ACCOUNTING),
        decide("not_paid"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["state"], &body["decided_by"]),
        (&"closed".into(), &"api:accounting".into())
    );
    let (status, body) = call(
        "POST",
        &resolution(&failed),
        Some(ACCOUNTING),
        decide("not_paid"),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "no_open_case"), "{body}");
    let (status, body) = call(
        "POST",
        &resolution("tok-nobody"),
        Some(ACCOUNTING),
        decide("not_paid"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let no_note = Some((
        "application/json",
        json!({"decision": "not_paid", "note": " "}).to_string(),
    ));
    let (status, body) = call("POST", &resolution(&waiting), Some(ACCOUNTING), no_note).await;
    assert_eq!((status, code(&body)), (422, "invalid_field"), "{body}");

    // Paid at last: the pending case closes by itself.
    assert!(env.sandbox.sandbox.settle_now(&waiting, Outcome::Completed));
    eventually(Duration::from_secs(15), || {
        env.count(
            "SELECT count(*) FROM cases WHERE closed_at IS NULL AND kind <> ?1",
            "x",
        ) == 0
    })
    .await;
    let url = format!("{base}/v1/cases?status=closed");
    let (status, body) = call("GET", &url, Some(SHOP), None).await;
    assert_eq!(status, 200, "the shop may read cases");
    let closed = body["cases"].as_array().unwrap();
    assert_eq!(case_of(closed, &waiting)["decided_by"], "reconciler");
    assert_eq!(case_of(closed, &failed)["decision"], "not_paid");
    let out = stop(child).await;
    for secret in [SHOP, ACCOUNTING, TOKEN] {
        assert!(!stderr(&out).contains(secret), "a token in the log");
    }
}
