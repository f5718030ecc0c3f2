//! Nightly reports: figures on a fixture database (computed independently here), time-zone
//! edges, catch-up after downtime, and a late completion found by the re-check.

use crate::helpers::*;
use chrono::{DateTime, Days, NaiveDate};
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{Faults, InvoiceSpec, Outcome};
use std::time::Duration;

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// (token, status, expected, amount, created_at, resolved_at)
type Row = (
    &'static str,
    &'static str,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
);

#[tokio::test]
async fn a_day_s_figures_follow_the_shop_s_time_zone() {
    let mut env = TestEnv::start().await;
    env.config.report.time_zone = "Africa/Lagos".into(); // UTC+1: local midnight is 23:00Z
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    let (start, end) = (ms("2026-11-19T23:00:00Z"), ms("2026-11-20T23:00:00Z"));
    let rows: Vec<Row> = vec![
        (
            "edge-0001-local",
            "completed",
            Some(5000),
            Some(5000),
            ms("2026-11-19T22:00:00Z"),
            Some(ms("2026-11-19T23:01:00Z")),
        ),
        (
            "edge-2359-before",
            "completed",
            Some(3000),
            Some(3000),
            ms("2026-11-19T22:00:00Z"),
            Some(ms("2026-11-19T22:59:00Z")),
        ),
        (
            "edge-2359-local",
            "completed",
            Some(2000),
            Some(2000),
            ms("2026-11-20T10:00:00Z"),
            Some(ms("2026-11-20T22:59:00Z")),
        ),
        (
            "edge-0001-after",
            "completed",
            Some(1000),
            Some(1000),
            ms("2026-11-20T22:30:00Z"),
            Some(ms("2026-11-20T23:01:00Z")),
        ),
        (
            "wrong-amount",
            "mismatch",
            Some(5000),
            Some(4000),
            ms("2026-11-20T09:00:00Z"),
            Some(ms("2026-11-20T09:05:00Z")),
        ),
        (
            "gave-up",
            "timeout",
            Some(700),
            None,
            ms("2026-11-17T09:00:00Z"),
            Some(ms("2026-11-20T09:00:00Z")),
        ),
        (
            "never-issued",
            "invalid_token",
            None,
            None,
            ms("2026-11-20T08:00:00Z"),
            Some(ms("2026-11-20T08:01:00Z")),
        ),
        (
            "old-pending",
            "pending",
            Some(900),
            None,
            ms("2026-11-18T12:00:00Z"),
            None,
        ),
        (
            "new-pending",
            "pending",
            Some(800),
            None,
            ms("2026-11-20T20:00:00Z"),
            None,
        ),
    ];
    let conn = env.shop_connection();
    for (token, status, expected, amount, created, resolved) in &rows {
        conn.execute(
            "INSERT INTO payments (token, status, expected_amount, amount, created_at, updated_at, \
             resolved_at, operator_name) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 'ORANGE BURKINA')",
            rusqlite::params![token, status, expected, amount, created, resolved],
        )
        .unwrap();
    }
    for (outcome, latency, at) in [
        ("completed", 40, start + 1),
        ("http_5xx", 90, start + 2),
        ("pending", 20, end - 1),
        ("timeout", 999, end + 1),
    ] {
        conn.execute(
            "INSERT INTO confirm_attempts (payment_id, at, latency_ms, outcome) VALUES (1, ?1, ?2, ?3)",
            rusqlite::params![at, latency, outcome],
        )
        .unwrap();
    }

    let out_dir = env.dir.path().join("out");
    let out = env
        .run(&[
            "report",
            "--date",
            "2026-11-20",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .await;
    assert_ok(&out);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("2026-11-20.json")).unwrap())
            .unwrap();

    // The expected figures, computed here from the fixture alone.
    let in_day = |r: &&Row| r.5.is_some_and(|t| t >= start && t < end);
    let resolved: Vec<&Row> = rows.iter().filter(in_day).collect();
    let xof = |r: &&Row| r.3.or(r.2).unwrap_or(0);
    for status in ["completed", "mismatch", "timeout", "invalid_token"] {
        let of: Vec<&&Row> = resolved.iter().filter(|r| r.1 == status).collect();
        let total = report["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == status)
            .unwrap();
        assert_eq!(total["count"], of.len() as i64, "{status}");
        assert_eq!(
            total["xof"],
            of.iter().map(|r| xof(r)).sum::<i64>(),
            "{status}"
        );
    }
    let received: i64 = resolved
        .iter()
        .filter(|r| r.1 == "completed")
        .map(xof)
        .sum();
    assert_eq!(report["received_xof"], received);
    assert_eq!(
        received, 7000,
        "00:01 and 23:59 local count; 23:59 the day before and 00:01 after do not"
    );
    let pending_at_end = rows
        .iter()
        .filter(|r| r.4 < end && r.5.is_none_or(|t| t >= end))
        .count();
    assert_eq!(report["pending_at_end"]["count"], pending_at_end as i64);
    let d = &report["discrepancies"];
    assert_eq!(d["mismatches"][0]["token"], "wrong-amount");
    assert_eq!(d["timeouts"][0]["token"], "gave-up");
    assert_eq!(d["invalid_tokens"][0]["token"], "never-issued");
    assert_eq!(d["pending_over_24h"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["health"]["confirm_calls"], 3,
        "attempts outside the day are not counted"
    );
    assert_eq!(report["version"], 1);

    let csv = std::fs::read_to_string(out_dir.join("2026-11-20.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + resolved.len() + pending_at_end);
    assert!(
        csv.contains("2026-11-20T00:01:00+01:00"),
        "local times in the CSV"
    );
    let html = std::fs::read_to_string(out_dir.join("2026-11-20.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("wrong-amount"));
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
        "self-contained"
    );
}

/// A daemon set up for nightly UTC reports at midnight, migrated, whose last recorded
/// report day was `days_ago` days before today. Returns it and today's date.
async fn nightly_env(days_ago: u64) -> (TestEnv, NaiveDate) {
    let mut env = TestEnv::start().await;
    env.config.report.enabled = true;
    env.config.report.time_zone = "UTC".into();
    env.config.report.schedule = "0 0 * * *".into();
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    let today = chrono::Utc::now().date_naive();
    env.shop_connection()
        .execute(
            "INSERT INTO report_runs (day, generated_at, files) VALUES (?1, 0, '[]')",
            [today
                .checked_sub_days(Days::new(days_ago))
                .unwrap()
                .to_string()],
        )
        .unwrap();
    (env, today)
}

#[tokio::test]
async fn missed_nights_are_caught_up_once_each_after_downtime() {
    // The daemon last reported three days ago, then was stopped across two nightly runs.
    let (env, today) = nightly_env(3).await;
    let day = |n: u64| today.checked_sub_days(Days::new(n)).unwrap();
    env.run_until_idle().await;
    let reports = env.dir.path().join("reports");
    for n in [2, 1] {
        for ext in ["json", "csv", "html"] {
            assert!(
                reports.join(format!("{}.{ext}", day(n))).exists(),
                "{} {ext}",
                day(n)
            );
        }
    }
    assert!(
        !reports.join(format!("{}.json", day(3))).exists(),
        "already done"
    );
    let generated = || {
        env.count(
            "SELECT count(*) FROM events WHERE type = ?1",
            "report.generated",
        )
    };
    assert_eq!(generated(), 2);
    env.run_until_idle().await;
    assert_eq!(generated(), 2, "each day exactly once");
    let last: String = env
        .shop_connection()
        .query_row("SELECT max(day) FROM report_runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last.parse::<NaiveDate>().unwrap(), day(1));
}

#[tokio::test]
async fn the_re_check_turns_a_late_completion_into_completed_with_its_event_and_report_entry() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    let token = env
        .invoice_with(InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 2500,
            paid_amount: None,
            transaction_id: Some("ORD-LATE".into()),
            confirmed_transaction_id: None,
            settle_after_ms: 1500,
        })
        .await;
    env.run_until_idle().await;
    assert_eq!(env.show(&token).await["status"], "timeout");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;

    let out = env.run(&["report", "--recheck"]).await;
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 late completions"));
    let p = env.show(&token).await;
    assert_eq!(p["status"], "completed");
    assert_eq!(p["amount"], 2500);
    let events = env.count(
        "SELECT count(*) FROM events WHERE type = ?1",
        "payment.late_completed",
    );
    assert_eq!(events, 1);

    let today = chrono::Utc::now().date_naive().to_string();
    let out_dir = env.dir.path().join("out");
    assert_ok(
        &env.run(&[
            "report",
            "--date",
            &today,
            "--format",
            "json",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .await,
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap(),
    )
    .unwrap();
    let late = report["discrepancies"]["late_completions"]
        .as_array()
        .unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["token"], token.as_str());
    assert_eq!(late[0]["transaction_id"], "ORD-LATE");
}

#[tokio::test]
async fn bad_report_arguments_are_refused() {
    let env = TestEnv::start().await;
    for (args, needle) in [
        (vec!["report", "--date", "2026-13-01"], "--date"),
        (
            vec!["report", "--from", "2026-11-10", "--to", "2026-11-01"],
            "--from",
        ),
        (vec!["report", "--format", "pdf"], "pdf"),
        (vec!["report", "--from", "2026-11-10"], "--to"),
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // Arguments are checked before the database is opened: a bad date creates nothing.
    assert!(
        !env.db.exists(),
        "a refused report must not create the database"
    );
}

/// A re-check that gets no answer changes nothing but leaves its attempt, with the error,
/// in the log as a poll would.
#[tokio::test]
async fn a_failed_re_check_keeps_the_timeout_and_logs_the_attempt_with_its_error() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.write_config();
    let token = env.invoice_with(settled(Outcome::Never, 2500)).await;
    env.run_until_idle().await;
    assert_eq!(env.show(&token).await["status"], "timeout");
    env.sandbox.sandbox.set_faults(Faults {
        server_error: 1.0,
        ..Faults::default()
    });

    assert_ok(&env.run(&["report", "--recheck"]).await);
    assert_eq!(env.show(&token).await["status"], "timeout");
    let (outcome, status, error): (String, i64, Option<String>) = env
        .shop_connection()
        .query_row(
            "SELECT outcome, http_status, error FROM confirm_attempts ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(outcome, "http_5xx");
    assert!((500..=504).contains(&status), "{status}");
    assert!(
        error.as_deref().is_some_and(|e| e.starts_with("HTTP 50")),
        "{error:?}"
    );
}

/// The nightly run writes the day's report before it re-checks the timeouts: a timeout of
/// yesterday that LigdiCash has since completed is yesterday's timeout (not a payment still
/// pending at the end of yesterday) and today's late completion.
#[tokio::test]
async fn the_nightly_re_check_does_not_rewrite_the_day_being_reported() {
    let (env, today) = nightly_env(2).await;
    let yesterday = today.checked_sub_days(Days::new(1)).unwrap();
    let noon = |h: u32| {
        yesterday
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    let token = env
        .sandbox
        .sandbox
        .add_invoice(&settled(Outcome::Completed, 2500));
    let shop = env.shop_connection();
    shop.execute(
        "INSERT INTO payments (token, expected_amount, status, status_reason, created_at, \
         updated_at, resolved_at, next_poll_at) \
         VALUES (?1, 2500, 'timeout', 'still pending at LigdiCash after 2h', ?2, ?3, ?3, ?3)",
        rusqlite::params![token, noon(10), noon(12)],
    )
    .unwrap();

    env.run_until_idle().await;
    assert_eq!(env.show(&token).await["status"], "completed", "re-checked");
    let path = env
        .dir
        .path()
        .join("reports")
        .join(format!("{yesterday}.json"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(report["pending_at_end"]["count"], 0, "{report}");
    let timeouts = report["discrepancies"]["timeouts"].as_array().unwrap();
    assert_eq!(timeouts.len(), 1, "{report}");
    assert_eq!(timeouts[0]["token"], token.as_str());
}

/// A day whose run could not be recorded is produced again, but announced only once: the
/// `report.generated` event commits with the day's `report_runs` row.
#[tokio::test]
async fn a_report_day_is_announced_once_even_when_recording_it_failed() {
    let (env, _) = nightly_env(2).await;
    let shop = env.shop_connection();
    // Recording the run fails once (as a full disk would), after the files are written.
    shop.execute_batch(
        "CREATE TRIGGER fail_runs BEFORE INSERT ON report_runs \
         BEGIN SELECT RAISE(FAIL, 'disk full'); END;",
    )
    .unwrap();
    let first = env.run(&["run", "--until-idle"]).await;
    assert!(stderr(&first).contains("disk full"), "{}", stderr(&first));
    shop.execute_batch("DROP TRIGGER fail_runs").unwrap();
    env.run_until_idle().await;
    let announced = env.count(
        "SELECT count(*) FROM events WHERE type = ?1",
        "report.generated",
    );
    assert_eq!(announced, 1);
}

/// Refused credentials end a re-check pass at the first refusal: every further call would
/// be refused too.
#[tokio::test]
async fn a_re_check_stops_at_the_first_refusal() {
    let mut env = TestEnv::start().await;
    env.config.poll.give_up_after = HumanDuration::millis(300);
    env.write_config();
    for _ in 0..3 {
        env.invoice_with(settled(Outcome::Never, 2500)).await;
    }
    env.run_until_idle().await;
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "timeout"),
        3
    );
    env.sandbox.sandbox.set_faults(Faults {
        auth_failure: true,
        ..Faults::default()
    });
    assert_ok(&env.run(&["report", "--recheck"]).await);
    assert_eq!(
        env.calls("auth_failed"),
        1,
        "one refused call, then the pass stopped"
    );
}

/// A shutdown does not wait for a nightly re-check in progress (here five slow calls, about
/// ten seconds): the pass is abandoned, the timeouts stay for the next one.
#[tokio::test]
async fn a_shutdown_does_not_wait_for_the_re_check() {
    let (env, _) = nightly_env(2).await;
    let shop = env.shop_connection();
    let an_hour_ago = chrono::Utc::now().timestamp_millis() - 3_600_000;
    for _ in 0..5 {
        let token = env
            .sandbox
            .sandbox
            .add_invoice(&settled(Outcome::Never, 100));
        shop.execute(
            "INSERT INTO payments (token, status, created_at, updated_at, resolved_at) \
             VALUES (?1, 'timeout', ?2, ?2, ?2)",
            rusqlite::params![token, an_hour_ago],
        )
        .unwrap();
    }
    env.sandbox.sandbox.set_faults(Faults {
        latency_ms: 1_900,
        ..Faults::default()
    });
    let child = env.spawn(&["run"]);
    let report = env.dir.path().join("reports");
    eventually(Duration::from_secs(10), || {
        std::fs::read_dir(&report).is_ok_and(|mut d| d.next().is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the re-check is under way
    let stopping = std::time::Instant::now();
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "stopped in {:?}",
        stopping.elapsed()
    );
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "timeout"),
        5
    );
}
