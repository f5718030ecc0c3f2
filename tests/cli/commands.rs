//! The command line as a user meets it: output into a closed pipe, help texts, `--json`.

use crate::helpers::*;
use ligdicash_reconciler::sandbox::Outcome;
use std::process::Stdio;

/// Runs the binary with stdout a pipe whose reading end is already closed, as `| head`
/// leaves it once it has read enough: every write fails with EPIPE.
async fn into_closed_pipe(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = env.cmd(args);
    cmd.stdout(Stdio::from(writer));
    let child = cmd.spawn().unwrap();
    // `cmd` holds the writing end too: dropped, so nothing but the child keeps it open.
    drop(cmd);
    tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("command timed out")
        .unwrap()
}

/// `events show ID | head` used to panic ("failed printing to stdout: Broken pipe", exit
/// 101). Every command that prints stops quietly, with exit 0, when nobody reads any more.
#[tokio::test]
async fn every_command_exits_quietly_into_a_closed_pipe() {
    let env = TestEnv::start().await;
    let token = env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    env.run_until_idle().await;
    let event: String = env
        .shop_connection()
        .query_row("SELECT id FROM events LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let commands: &[&[&str]] = &[
        &["events", "show", &event],
        &["events", "list"],
        &["events", "list", "--json"],
        &["show", &token],
        &["list"],
        &["list", "--json"],
        &["enqueue", "tok-pipe"],
        &["migrate"],
        &["check-config"],
        &["--help"],
        &["demo", "--payments", "1"],
    ];
    for args in commands {
        let out = into_closed_pipe(&env, args).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
    }
    // The work before the write is done: the enqueue that could not say so is stored.
    assert_eq!(env.show("tok-pipe").await["status"], "pending");
}

/// `sandbox` reads neither a configuration nor a database: its help offers neither, and
/// every option it does offer says what it is for.
#[tokio::test]
async fn sandbox_help_lists_only_what_applies_to_it() {
    let env = TestEnv::start().await;
    let out = env.run(&["sandbox", "--help"]).await;
    assert_ok(&out);
    let help = String::from_utf8_lossy(&out.stdout);
    for absent in ["--config", "--database"] {
        assert!(!help.contains(absent), "{absent} in:\n{help}");
    }
    for line in help.lines().filter(|l| l.trim_start().starts_with("--")) {
        let described = line.trim().split("  ").filter(|s| !s.is_empty()).count() > 1;
        assert!(described, "no help text: {line}\n{help}");
    }
    assert!(help.contains("--listen <ADDR>"), "{help}");
    // Where they apply, they are still offered, before or after the command.
    let out = env.run(&["list", "--help"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("--database"));
}

/// `enqueue --json` and `requeue --json` print the payment as `show` does, with what the
/// command did.
#[tokio::test]
async fn enqueue_and_requeue_answer_in_json() {
    let env = TestEnv::start().await;
    let args = [
        "enqueue",
        "tok-j",
        "--transaction-id",
        "ORD-J",
        "--amount",
        "700",
        "--json",
    ];
    let first: serde_json::Value = serde_json::from_slice(&env.run(&args).await.stdout).unwrap();
    assert_eq!(first["enqueued"], true);
    assert_eq!(first["payment"]["token"], "tok-j");
    assert_eq!(first["payment"]["expected_amount"], 700);
    assert_eq!(first["payment"]["status"], "pending");
    let again: serde_json::Value = serde_json::from_slice(&env.run(&args).await.stdout).unwrap();
    assert_eq!(again["enqueued"], false);

    env.shop_connection()
        .execute(
            "UPDATE payments SET status = 'timeout' WHERE token = 'tok-j'",
            [],
        )
        .unwrap();
    let out = env.run(&["requeue", "tok-j", "--json"]).await;
    assert_ok(&out);
    let requeued: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(requeued["requeued_from"], "timeout");
    assert_eq!(requeued["payment"]["status"], "pending");
    assert_eq!(
        requeued["payment"]["status_reason"],
        "requeued from timeout"
    );
}

/// The shop thinks in orders: `show --order` and `list --order` find payments by the
/// `transaction_id` it enqueued them with. `list` tells rows apart by their tokens' ends
/// (every LigdiCash token begins with the same JWT header) and shows each row's order.
#[tokio::test]
async fn payments_are_found_by_order_and_listed_with_distinct_short_tokens() {
    let env = TestEnv::start().await;
    let first = env.invoice(Outcome::Completed, 1000, "ORD-1").await;
    let other = env.invoice(Outcome::Completed, 2000, "ORD-2").await;
    let retry = env.invoice(Outcome::Completed, 1000, "ORD-1").await;

    let out = env.run(&["show", "--order", "ORD-1"]).await;
    assert_ok(&out);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["token"], retry.as_str(), "the newest of the order");
    assert!(
        stderr(&out).contains("several payments"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["show", "--order", "ORD-2"]).await;
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["token"], other.as_str());
    let out = env.run(&["show", "--order", "ORD-404"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ORD-404"), "{}", stderr(&out));
    let out = env.run(&["show"]).await;
    assert_eq!(out.status.code(), Some(2), "a token or --order is needed");

    let out = env.run(&["list", "--order", "ORD-1", "--json"]).await;
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let tokens: Vec<&str> = listed
        .iter()
        .map(|p| p["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, [retry.as_str(), first.as_str()]);

    let out = env.run(&["list"]).await;
    assert_ok(&out);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("TOKEN") && lines[0].contains("KIND") && lines[0].contains("ORDER"),
        "{table}"
    );
    let cells: Vec<(&str, &str)> = lines[1..]
        .iter()
        .map(|l| {
            let mut cells = l.split_whitespace();
            let token = cells.next().unwrap();
            assert_eq!(cells.next(), Some("invoice"), "{l}");
            (token, cells.next().unwrap())
        })
        .collect();
    let expected = [(&retry, "ORD-1"), (&other, "ORD-2"), (&first, "ORD-1")];
    assert_eq!(cells.len(), expected.len(), "{table}");
    for ((short, order), (token, want_order)) in cells.iter().zip(expected) {
        let end = short.strip_prefix('…').expect("a JWT is cut");
        assert!(
            end.len() >= 12 && token.ends_with(end),
            "{short} for {token}"
        );
        assert_eq!(*order, want_order);
    }
    let distinct: std::collections::HashSet<_> = cells.iter().map(|c| c.0).collect();
    assert_eq!(distinct.len(), 3, "{table}");
}
