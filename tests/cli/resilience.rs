//! Faults: refused credentials, flaky answers, a second instance, and stopping.

use crate::helpers::*;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{Faults, InvoiceSpec, Outcome};
use std::time::Duration;

#[tokio::test]
async fn refused_credentials_pause_all_polling_then_recover() {
    let env = TestEnv::with_faults(Faults {
        auth_failure: true,
        ..Faults::default()
    })
    .await;
    let a = env.invoice(Outcome::Completed, 100, "ORD-1").await;
    let b = env.invoice(Outcome::Completed, 200, "ORD-2").await;
    let child = env.spawn(&["run", "--until-idle"]);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    for token in [&a, &b] {
        let p = env.show(token).await;
        assert_eq!(p["status"], "pending");
        assert_eq!(
            p["attempts"], 0,
            "auth failures are not the payment's attempts"
        );
    }
    // While paused, only the first due payment probes the credentials.
    let probe = env.show(&a).await;
    assert!(
        probe["last_error"].as_str().unwrap().contains("Code00"),
        "{probe}"
    );
    let attempts = env.calls("auth_failed");
    // Paused 200 ms then 400 ms: a handful of probes in 1.5 s, not a stream.
    assert!((1..=12).contains(&attempts), "{attempts} auth_failed calls");

    env.sandbox.sandbox.set_faults(Faults::default());
    let out = finished(child).await;
    let log = stderr(&out);
    assert_eq!(log.matches("refused our credentials").count(), 1, "{log}");
    assert_eq!(
        log.matches("accepts our credentials again").count(),
        1,
        "{log}"
    );
    for token in [&a, &b] {
        assert_eq!(env.show(token).await["status"], "completed");
    }
    let incidents = env.count(
        "SELECT count(*) FROM events WHERE type = ?1",
        "reconciler.auth_failed",
    );
    assert_eq!(incidents, 1, "one event per incident, not per refused call");
}

#[tokio::test]
async fn flaky_answers_never_finalise_a_payment_wrongly() {
    let env = TestEnv::with_faults(Faults {
        server_error: 0.2,
        rate_limit: 0.05,
        retry_after_secs: 0,
        html: 0.1,
        empty_body: 0.05,
        api_error: 0.05,
        unknown_status: 0.05,
        ..Faults::default()
    })
    .await;
    let mut expected = Vec::new();
    for i in 0..24 {
        let outcome = [
            Outcome::Completed,
            Outcome::NotCompleted,
            Outcome::Completed,
        ][i % 3];
        let token = env
            .invoice_with(InvoiceSpec {
                outcome,
                amount: 1000 + i as i64,
                paid_amount: None,
                transaction_id: Some(format!("ORD-{i}")),
                confirmed_transaction_id: None,
                settle_after_ms: (i as i64 % 4) * 150,
            })
            .await;
        let status = match outcome {
            Outcome::NotCompleted => "notcompleted",
            _ => "completed",
        };
        expected.push((token, status));
    }
    env.run_until_idle().await;
    for (token, status) in &expected {
        assert_eq!(env.show(token).await["status"], *status, "{token}");
    }
    let conn = env.shop_connection();
    let classes: Vec<String> = conn
        .prepare("SELECT DISTINCT outcome FROM confirm_attempts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for class in ["http_5xx", "malformed"] {
        assert!(classes.iter().any(|c| c == class), "{class} in {classes:?}");
    }
}

#[tokio::test]
async fn an_outage_is_logged_once_and_polling_recovers_by_itself() {
    let env = TestEnv::with_faults(Faults {
        server_error: 1.0,
        ..Faults::default()
    })
    .await;
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(
            env.invoice(Outcome::Completed, 100, &format!("ORD-{i}"))
                .await,
        );
    }
    let child = env.spawn(&["run", "--until-idle"]);
    eventually(Duration::from_secs(10), || env.calls("http_5xx") >= 8).await;
    env.sandbox.sandbox.set_faults(Faults::default());
    let out = finished(child).await;
    let log = stderr(&out);
    assert_eq!(log.matches("confirm calls are failing").count(), 1, "{log}");
    assert_eq!(log.matches("confirm calls recovered").count(), 1, "{log}");
    for token in &tokens {
        assert_eq!(env.show(token).await["status"], "completed");
    }
}

#[tokio::test]
async fn a_second_run_on_the_same_database_refuses_to_start_and_sigterm_stops_cleanly() {
    let env = TestEnv::start().await;
    let token = env.invoice(Outcome::Never, 100, "ORD-1").await;
    let first = env.spawn(&["run"]);
    env.wait_confirmed(&token).await;

    let second = env.run(&["run"]).await;
    assert_eq!(second.status.code(), Some(5), "{}", stderr(&second));
    assert!(stderr(&second).contains("already running"));

    terminate(&first);
    let out = tokio::time::timeout(Duration::from_secs(10), first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_ok(&out);
    assert!(stderr(&out).contains("SIGTERM"));
    assert_eq!(env.show(&token).await["status"], "pending");

    // The lock died with the process: a new run starts.
    env.sandbox.sandbox.set_faults(Faults::default());
    let out = env.run(&["run", "--until-idle"]).await;
    assert_ok(&out);
}

#[tokio::test]
async fn network_failures_leave_payments_pending_and_are_classified() {
    // Hanging answers: the request timeout fires.
    let mut env = TestEnv::with_faults(Faults {
        hang: 1.0,
        ..Faults::default()
    })
    .await;
    env.config.ligdicash.request_timeout = HumanDuration::millis(300);
    env.config.poll.give_up_after = HumanDuration::millis(200);
    env.write_config();
    let token = env.invoice(Outcome::Never, 100, "ORD-1").await;
    let child = env.spawn(&["--log-format", "json", "run"]);
    eventually(Duration::from_secs(10), || env.calls("timeout") >= 2).await;

    // Nothing listening: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    assert_ok(&out);
    for line in stderr(&out).lines() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok(),
            "--log-format json prints JSON lines: {line}"
        );
    }
    env.config.ligdicash.base_url = dead_url;
    env.write_config();
    let child = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || env.calls("connect") >= 2).await;
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());

    let p = env.show(&token).await;
    assert_eq!(
        p["status"], "pending",
        "past give_up_after, but LigdiCash never answered"
    );
    assert!(p["attempts"].as_i64().unwrap() >= 4, "{p}");
}

/// One daemon through every fault the sandbox can inject, one after the other: each fault
/// keeps the payment pending, is counted under its class (in the database and in /metrics),
/// is logged once, and polling recovers by itself when it ends.
#[tokio::test]
async fn fault_matrix() {
    let mut env = TestEnv::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.config.http.listen = format!("127.0.0.1:{port}");
    // Long enough that only the hang fault times out: at 400 ms a loaded machine once made
    // the debug-build sandbox miss it during the HTML phase, a second `timeout` incident.
    env.config.ligdicash.request_timeout = HumanDuration::millis(1500);
    env.write_config();
    let all = |f: fn(&mut Faults)| {
        let mut faults = Faults::default();
        f(&mut faults);
        faults
    };
    let matrix: Vec<(&str, Faults)> = vec![
        ("http_5xx", all(|f| f.server_error = 1.0)),
        ("rate_limited", all(|f| f.rate_limit = 1.0)),
        ("timeout", all(|f| f.hang = 1.0)),
        ("malformed", all(|f| f.html = 1.0)),
        ("transport", all(|f| f.reset_mid_body = 1.0)),
        ("api_error", all(|f| f.api_error = 1.0)),
        ("unknown_status", all(|f| f.unknown_status = 1.0)),
        ("auth_failed", all(|f| f.auth_failure = true)),
    ];
    assert_ok(&env.run(&["migrate"]).await);
    let child = env.cmd(&["run"]).env("RUST_LOG", "warn").spawn().unwrap();
    let shop = env.shop_connection();
    for (i, (class, faults)) in matrix.iter().enumerate() {
        let before = env.calls(class);
        env.sandbox.sandbox.set_faults(faults.clone());
        let token = env
            .sandbox
            .sandbox
            .add_invoice(&settled(Outcome::Completed, 100));
        shop.execute("INSERT INTO payments (token) VALUES (?1)", [&token])
            .unwrap();
        eventually(Duration::from_secs(15), || env.calls(class) >= before + 2).await;
        let status = || {
            env.count(
                "SELECT count(*) FROM payments WHERE status = ?1 AND token != ''",
                "completed",
            )
        };
        assert_eq!(
            status(),
            i as i64,
            "{class}: nothing finalised during the fault"
        );
        env.sandbox.sandbox.set_faults(Faults::default());
        eventually(Duration::from_secs(15), || status() == i as i64 + 1).await;
    }
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (class, _) in &matrix {
        let line = format!(
            "ligdicash_reconciler_confirm_calls_total{{kind=\"invoice\",outcome=\"{class}\"}} {}",
            env.calls(class)
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }
    terminate(&child);
    let log = stderr(&finished(child).await);
    for (class, _) in matrix
        .iter()
        .filter(|(c, _)| !["unknown_status", "auth_failed"].contains(c))
    {
        let opened = log
            .lines()
            .filter(|l| {
                l.contains("confirm calls are failing") && l.contains(&format!("class=\"{class}\""))
            })
            .count();
        assert_eq!(opened, 1, "{class} logged once per incident:\n{log}");
    }
    assert_eq!(log.matches("refused our credentials").count(), 1, "{log}");
    assert_eq!(log.matches("unknown confirm status").count(), 1, "{log}");
}

#[tokio::test]
async fn a_connect_timeout_leaves_the_payment_pending() {
    // A listener that never accepts: once its queue is full, the kernel drops new SYNs and
    // connecting hangs until the client's connect_timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        queued.push(s);
        assert!(queued.len() < 5000, "the accept queue never filled");
    }
    let mut env = TestEnv::start().await;
    env.config.ligdicash.base_url = format!("http://{addr}");
    env.config.ligdicash.connect_timeout = HumanDuration::millis(300);
    env.write_config();
    env.enqueue("tok-connect-timeout", None, None).await;
    let child = env.spawn(&["run"]);
    eventually(Duration::from_secs(10), || env.calls("timeout") >= 2).await;
    terminate(&child);
    finished(child).await;
    let p = env.show("tok-connect-timeout").await;
    assert_eq!(p["status"], "pending");
    assert!(
        p["last_error"].as_str().unwrap().contains("timed out"),
        "{p}"
    );
    drop(listener);
}
