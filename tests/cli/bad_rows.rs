//! A row the shop wrote with a value of the wrong type (`expected_amount = '5 000'`, which
//! SQLite's CHECK lets through): shown and flagged, parked without holding anything up,
//! and due again as soon as the shop corrects it.

use crate::api::{TOKEN, api_daemon, call};
use crate::helpers::*;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};

/// A completed sandbox invoice the shop inserts itself, with `expected_amount` as given.
fn shop_inserts(env: &TestEnv, amount: &dyn rusqlite::ToSql, order: &str) -> String {
    let token = env.sandbox.sandbox.add_invoice(&InvoiceSpec {
        transaction_id: Some(order.into()),
        ..settled(Outcome::Completed, 5000)
    });
    env.shop_connection()
        .execute(
            "INSERT INTO payments (token, transaction_id, expected_amount) VALUES (?1, ?2, ?3)",
            rusqlite::params![token, order, amount],
        )
        .unwrap();
    token
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_mistyped_row_is_shown_flagged_parked_and_due_once_corrected() {
    let env = TestEnv::start().await;
    assert_ok(&env.run(&["migrate"]).await);
    let good = shop_inserts(&env, &5000, "ORD-GOOD");
    let spaced = shop_inserts(&env, &"5 000", "ORD-SPACED");

    // `list` and `show` used to fail on it (exit 1, and 4: "database unusable").
    let out = env.run(&["list"]).await;
    assert_ok(&out);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = table.lines().find(|l| l.contains("ORD-SPACED")).unwrap();
    assert!(
        line.contains(r#"expected_amount holds text "5 000", not an integer"#),
        "{table}"
    );
    assert!(
        table.lines().next().unwrap().ends_with("PROBLEM"),
        "{table}"
    );
    let shown = json_of(&env.run(&["show", &spaced]).await);
    assert_eq!(shown["expected_amount"], serde_json::Value::Null);
    let flagged = shown["bad_columns"]["expected_amount"].as_str().unwrap();
    assert!(flagged.contains("5 000"), "{shown}");
    let shown = json_of(&env.run(&["show", "--order", "ORD-GOOD"]).await);
    assert!(
        shown.get("bad_columns").is_none(),
        "sound rows keep their form"
    );

    // A pass confirms the good row and parks the bad one, which it cannot verify.
    assert_ok(&env.run(&["run", "--once"]).await);
    assert_eq!(env.show(&good).await["status"], "completed");
    let parked = env.show(&spaced).await;
    assert_eq!(parked["status"], "pending");
    assert_eq!(parked["attempts"], 0, "never confirmed unverified");
    assert_eq!(parked["next_poll_at"], "9999-12-31T23:59:59.999Z");
    assert!(
        parked["last_error"].as_str().unwrap().starts_with("parked"),
        "{parked}"
    );
    let out = env.run(&["requeue", &spaced]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("still cannot be read"),
        "{}",
        stderr(&out)
    );

    // The shop corrects the row; nothing else. The next pass confirms it.
    env.shop_connection()
        .execute(
            "UPDATE payments SET expected_amount = 5000 WHERE token = ?1",
            [&spaced],
        )
        .unwrap();
    assert_ok(&env.run(&["run", "--once"]).await);
    let corrected = env.show(&spaced).await;
    assert_eq!(corrected["status"], "completed", "{corrected}");
    assert_eq!(corrected["last_error"], serde_json::Value::Null);
}

/// `requeue` of a parked row the shop has corrected makes it due now, without waiting for
/// the daemon's next scan.
#[tokio::test]
async fn requeue_makes_a_corrected_parked_row_due_now() {
    let env = TestEnv::start().await;
    assert_ok(&env.run(&["migrate"]).await);
    let token = shop_inserts(&env, &2500.5, "ORD-FRACTION");
    assert_ok(&env.run(&["run", "--once"]).await);
    assert_eq!(
        env.show(&token).await["next_poll_at"],
        "9999-12-31T23:59:59.999Z"
    );
    env.shop_connection()
        .execute(
            "UPDATE payments SET expected_amount = 5000 WHERE token = ?1",
            [&token],
        )
        .unwrap();
    let requeued = json_of(&env.run(&["requeue", &token, "--json"]).await);
    assert_eq!(requeued["requeued_from"], "parked");
    assert_eq!(requeued["payment"]["last_error"], serde_json::Value::Null);
    assert_ne!(
        requeued["payment"]["next_poll_at"],
        "9999-12-31T23:59:59.999Z"
    );
}

/// The API's listing answers with the row flagged too, never a 500.
#[tokio::test]
async fn the_api_lists_a_mistyped_row_flagged() {
    let mut env = TestEnv::start().await;
    assert_ok(&env.run(&["migrate"]).await);
    let token = shop_inserts(&env, &"5 000", "ORD-SPACED");
    let (child, base) = api_daemon(&mut env).await;
    let (status, body) = call("GET", &format!("{base}/v1/payments"), Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    let listed = &body["payments"][0];
    assert_eq!(listed["token"], token.as_str());
    assert!(
        listed["bad_columns"]["expected_amount"].is_string(),
        "{body}"
    );
    let url = format!("{base}/v1/payments/{token}");
    let (status, body) = call("GET", &url, Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["bad_columns"]["expected_amount"].is_string(), "{body}");
    // Confirm-now cannot verify it either: the row is answered as it is.
    let (status, body) = call("POST", &format!("{url}/confirm"), Some(TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["status"], &body["attempts"]),
        (&"pending".into(), &0.into())
    );
    assert!(body["bad_columns"]["expected_amount"].is_string(), "{body}");
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());
}
