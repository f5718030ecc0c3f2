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
