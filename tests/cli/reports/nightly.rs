//! The scheduled runs: catch-up after downtime, each day announced once with its
//! `report.generated` event (and ad-hoc reports not at all), the re-check after the
//! report, shutdown during a re-check; a day not over reported as partial.

use super::{nightly_env, read_json};
use crate::helpers::*;
use chrono::{Days, NaiveDate};
use ligdicash_reconciler::sandbox::{Faults, Outcome};
use std::time::Duration;

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
    // The announcement carries the day, its headline figures and its files (docs/events.md).
    let payload: String = env
        .shop_connection()
        .query_row(
            "SELECT payload FROM events WHERE type = 'report.generated' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let data = &serde_json::from_str::<serde_json::Value>(&payload).unwrap()["data"];
    assert_eq!(data["date"], day(2).to_string(), "{data}");
    assert_eq!(data["version"], 3, "the JSON report's schema_version");
    assert_eq!(data["received"], serde_json::json!({"count": 0, "xof": 0}));
    assert_eq!(data["pending_at_end"], 0);
    let files = data["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert!(
        files
            .iter()
            .all(|f| std::path::Path::new(f.as_str().unwrap()).exists())
    );
    env.run_until_idle().await;
    assert_eq!(generated(), 2, "each day exactly once");
    let last: String = env
        .shop_connection()
        .query_row("SELECT max(day) FROM report_runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last.parse::<NaiveDate>().unwrap(), day(1));
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

/// Today's report, asked for on demand: partial, its pending figure "so far", and no
/// `report.generated` event (only the scheduled days are announced).
#[tokio::test]
async fn a_report_for_a_day_not_over_says_so_and_an_ad_hoc_report_announces_nothing() {
    let mut env = TestEnv::start().await;
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    let today = chrono::Utc::now().date_naive().to_string();
    let out_dir = env.dir.path().join("out");
    let args = [
        "report",
        "--date",
        &today,
        "--out",
        out_dir.to_str().unwrap(),
    ];
    assert_ok(&env.run(&args).await);
    let json = read_json(&out_dir, &format!("{today}.json"));
    assert_eq!(json["partial"], true, "{json}");
    let html = std::fs::read_to_string(out_dir.join(format!("{today}.html"))).unwrap();
    assert!(html.contains("Rapport partiel"), "{html}");
    assert!(html.contains("En attente à ce stade") && !html.contains("en fin de journée"));
    assert_ok(
        &env.run(&[
            "report",
            "--date",
            "2025-12-02",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .await,
    );
    assert_eq!(read_json(&out_dir, "2025-12-02.json")["partial"], false);
    let announced = env.count(
        "SELECT count(*) FROM events WHERE type = ?1",
        "report.generated",
    );
    assert_eq!(announced, 0, "ad-hoc reports are not announced");
}
