//! `run --once`: one pass from cron, for shops without systemd. The same daemon and lock;
//! it confirms what is due when it starts, delivers what is then due, and exits 0.

use crate::helpers::*;
use ligdicash_reconciler::sandbox::Outcome;

crate::both!(
    one_pass_confirms_what_is_due_delivers_and_exits,
    super::one_pass
);

async fn one_pass(mut env: TestEnv) {
    let jsonl = env.dir.path().join("events.jsonl");
    env.config.events.jsonl_path = Some(jsonl.clone());
    // Not the give-up rule's test: on a loaded machine the pass may start after the test
    // environment's 3 s window, and the open payment would time out.
    env.config.poll.give_up_after = ligdicash_reconciler::config::HumanDuration::secs(3600);
    env.write_config();
    let paid = env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    let open = env.invoice(Outcome::Never, 1000, "ORD-2").await;
    let later = env.invoice(Outcome::Completed, 700, "ORD-3").await;
    env.shop_execute(&format!(
        "UPDATE payments SET next_poll_at = next_poll_at + 3600000 WHERE token = '{later}'"
    ));

    assert_ok(&env.run(&["run", "--once"]).await);

    assert_eq!(env.show(&paid).await["status"], "completed");
    // Still pending at LigdiCash: confirmed once in the pass, though `min_interval` (100 ms
    // here) would allow more; the next pass asks again.
    let pending = env.show(&open).await;
    assert_eq!(
        (&pending["status"], &pending["attempts"]),
        (&"pending".into(), &1.into())
    );
    assert_eq!(env.show(&later).await["attempts"], 0, "not due yet");
    // The event of the completion was delivered before the pass ended.
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(
        lines.contains("payment.completed") && lines.contains(&paid),
        "{lines}"
    );

    // A second pass picks up where the first left off.
    assert_ok(&env.run(&["run", "--once"]).await);
    assert_eq!(env.show(&open).await["attempts"], 2);
}

/// A pass takes the daemon's lock: never two confirmers on one database.
#[tokio::test]
async fn a_pass_is_refused_while_the_daemon_runs() {
    let env = TestEnv::start().await;
    let token = env.invoice(Outcome::Never, 100, "ORD-1").await;
    let daemon = env.spawn(&["run"]);
    env.wait_confirmed(&token).await;
    let out = env.run(&["run", "--once"]).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    terminate(&daemon);
    assert_ok(&daemon.wait_with_output().await.unwrap());
    assert_eq!(
        env.run(&["run", "--once", "--until-idle"])
            .await
            .status
            .code(),
        Some(2),
        "one mode at a time"
    );
}

/// A pass whose every confirm LigdiCash refuses for our credentials, or that cannot reach
/// LigdiCash at all, exits 6 so that cron mails it and monitoring sees it; the payments
/// stay due. A pass with nothing due says nothing about LigdiCash and exits 0.
#[tokio::test]
async fn a_pass_that_gets_nothing_through_to_ligdicash_exits_6() {
    use ligdicash_reconciler::config::HumanDuration;
    use ligdicash_reconciler::sandbox::Faults;
    let mut env = TestEnv::with_faults(Faults {
        auth_failure: true,
        ..Faults::default()
    })
    .await;
    env.config.poll.give_up_after = HumanDuration::secs(3600);
    env.write_config();
    assert_ok(&env.run(&["run", "--once"]).await);

    let token = env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    let out = env.run(&["run", "--once"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("LigdiCash refused our credentials for every confirm call of this pass")
            && err.contains("stay due for the next pass"),
        "{err}"
    );
    assert_eq!(env.show(&token).await["status"], "pending");
    // The credentials accepted again: the next pass goes through.
    env.sandbox.sandbox.set_faults(Faults::default());
    assert_ok(&env.run(&["run", "--once"]).await);
    assert_eq!(env.show(&token).await["status"], "completed");

    // Nothing listens at base_url: no confirm gets an answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    env.config.ligdicash.base_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.write_config();
    let open = env.invoice(Outcome::Completed, 700, "ORD-2").await;
    let out = env.run(&["run", "--once"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("LigdiCash could not be reached during this pass"),
        "{err}"
    );
    assert_eq!(env.show(&open).await["status"], "pending");
}
