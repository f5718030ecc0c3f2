//! Cases through the real binary, on both backends: each kind opens by itself, closes by
//! itself where the payment no longer needs a person, and is closed by a person's decision
//! through the command line (recorded with the Unix user) and the API (with the `resolve`
//! scope, recorded with the token's name; 403 without it); the events reach a webhook.

mod api;
mod evidence;

use crate::both;
use crate::helpers::*;
use crate::payouts::{payout, spec};
use crate::receiver::{self, SECRET};
use ligdicash_reconciler::config::{HumanDuration, WebhookConfig};
use ligdicash_reconciler::payment::Kind;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use serde_json::Value;

/// `cases --status STATUS --json`.
pub(crate) async fn cases(env: &TestEnv, status: &str) -> Vec<Value> {
    let out = env.run(&["cases", "--status", status, "--json"]).await;
    assert_ok(&out);
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array().unwrap().clone()
}

/// The case of `token` among `cases`.
pub(crate) fn case_of<'a>(cases: &'a [Value], token: &str) -> &'a Value {
    cases
        .iter()
        .find(|c| c["payment"]["token"] == token)
        .unwrap_or_else(|| panic!("no case of {token} in {cases:#?}"))
}

/// `run --until-idle` with the receiver's webhook secret.
async fn drain(env: &TestEnv) {
    let out = env
        .cmd(&["run", "--until-idle"])
        .env("CASES_WEBHOOK_SECRET", SECRET)
        .output()
        .await
        .unwrap();
    assert_ok(&out);
}

both!(
    each_case_kind_opens_closes_by_itself_and_is_closed_by_a_decision,
    super::each_kind
);

/// A mismatch, a timeout, an invalid token and an overdue payout each open their case,
/// announced to the shop's webhook; a timeout completed after a requeue and a payout that
/// settles close theirs by themselves; a person closes the mismatch with a decision that
/// fits it (one that does not is refused, naming those that do), recorded with the Unix
/// user. LigdiCash's verdict is never changed.
async fn each_kind(mut env: TestEnv) {
    let (listener, url) = receiver::bind().await;
    let hook = receiver::serve(listener, vec![]);
    env.config.events.webhooks.push(WebhookConfig {
        url,
        secret_env: Some("CASES_WEBHOOK_SECRET".into()),
        secret_file: None,
        name: None,
    });
    env.config.events.retry_schedule = vec![HumanDuration::millis(150); 3];
    let o = &mut env.config.payouts;
    o.first_delay = HumanDuration::millis(0);
    o.initial_interval = HumanDuration::millis(100);
    o.max_interval = HumanDuration::millis(300);
    o.overdue_after = HumanDuration::millis(800);
    env.write_config();
    let mismatch = env
        .invoice_with(InvoiceSpec {
            paid_amount: Some(4000),
            transaction_id: Some("ORD-SHORT".into()),
            ..settled(Outcome::Completed, 5000)
        })
        .await;
    let timeout = env.invoice(Outcome::Never, 3000, "ORD-LATE").await;
    let unknown = "tok-never-issued-by-ligdicash";
    env.enqueue(unknown, Some("ORD-GHOST"), Some(1000)).await;
    let stuck = payout(&env, spec(Kind::Payout, Outcome::Never, 700, "SELLER-3")).await;
    drain(&env).await;

    let open = cases(&env, "open").await;
    assert_eq!(open.len(), 4, "{open:#?}");
    for (token, kind, order) in [
        (mismatch.as_str(), "mismatch", "ORD-SHORT"),
        (timeout.as_str(), "timeout", "ORD-LATE"),
        (unknown, "invalid_token", "ORD-GHOST"),
        (stuck.as_str(), "overdue_payout", "SELLER-3"),
    ] {
        let case = case_of(&open, token);
        assert_eq!(case["kind"], kind, "{case}");
        assert_eq!(case["state"], "open");
        assert_eq!(case["payment"]["transaction_id"], order);
        assert!(case["age_seconds"].as_i64().unwrap() >= 0);
        assert!(!case["fitting_decisions"].as_array().unwrap().is_empty());
    }
    let table = env.run(&["cases"]).await;
    assert_ok(&table);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.starts_with("  CASE KIND") && table.contains("ORD-SHORT"),
        "{table}"
    );

    // Requeued and paid at last; the payout settles: both close by themselves.
    assert_ok(&env.run(&["requeue", &timeout]).await);
    assert!(env.sandbox.sandbox.settle_now(&timeout, Outcome::Completed));
    assert!(
        env.sandbox
            .sandbox
            .settle_payout(&stuck, Outcome::Completed)
    );
    drain(&env).await;
    let closed = cases(&env, "closed").await;
    for token in [&timeout, &stuck] {
        let case = case_of(&closed, token);
        assert_eq!(case["decided_by"], "reconciler", "{case}");
        assert_eq!(case["decision"], Value::Null);
        assert!(!case["note"].as_str().unwrap().is_empty());
    }

    let refused = env
        .run(&[
            "resolve",
            &mismatch,
            "--decision",
            "not_paid",
            "--note",
            "x",
        ])
        .await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let said = stderr(&refused);
    assert!(
        said.contains("does not fit a mismatch case") && said.contains("refunded"),
        "{said}"
    );
    let note = "customer paid 4000 of 5000; refunded by Orange Money";
    let args = [
        "resolve",
        &mismatch,
        "--decision",
        "refunded",
        "--note",
        note,
        "--json",
    ];
    let out = env.run(&args).await;
    assert_ok(&out);
    let case: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&case["state"], &case["decision"]),
        (&"closed".into(), &"refunded".into())
    );
    let by = case["decided_by"].as_str().unwrap();
    assert!(by.starts_with("cli:") && by.len() > 4, "{by}");
    let again = env
        .run(&[
            "resolve",
            &mismatch,
            "--decision",
            "refunded",
            "--note",
            note,
        ])
        .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("no open case"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        env.show(&mismatch).await["status"],
        "mismatch",
        "LigdiCash's verdict stays"
    );
    let open = cases(&env, "open").await;
    assert_eq!(open.len(), 1, "the invalid token's case is left: {open:#?}");

    drain(&env).await;
    let got = hook.received();
    assert!(got.iter().all(|r| r.signature_ok));
    let of = |kind: &str| got.iter().filter(|r| r.body["type"] == kind).count();
    assert_eq!((of("case.opened"), of("case.resolved")), (4, 3), "{got:#?}");
    let resolved = got
        .iter()
        .find(|r| r.body["type"] == "case.resolved" && r.body["case"]["decision"] == "refunded")
        .expect("the person's decision announced");
    assert_eq!(resolved.body["case"]["note"], note);
    assert_eq!(resolved.body["case"]["payment"]["token"], mismatch.as_str());
}
