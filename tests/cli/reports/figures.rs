//! A day's figures on a fixture database, computed independently here, across the edges
//! of the shop's time zone.

use super::{ms, read_json};
use crate::helpers::*;

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
    let report = read_json(&out_dir, "2026-11-20.json");
    assert_eq!(report["schema_version"], 3);

    // The expected figures, computed here from the fixture alone.
    let in_day = |r: &&Row| r.5.is_some_and(|t| t >= start && t < end);
    let resolved: Vec<&Row> = rows.iter().filter(in_day).collect();
    let money_moved = |status: &str| status == "completed" || status == "mismatch";
    for status in ["completed", "mismatch", "timeout", "invalid_token"] {
        let of: Vec<&&Row> = resolved.iter().filter(|r| r.1 == status).collect();
        let total = report["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == status)
            .unwrap();
        assert_eq!(total["count"], of.len() as i64, "{status}");
        let expected: i64 = of.iter().map(|r| r.2.unwrap_or(0)).sum();
        assert_eq!(total["expected_xof"], expected, "{status}");
        let paid: i64 = of.iter().map(|r| r.3.unwrap_or(0)).sum();
        let paid = money_moved(status).then_some(paid);
        assert_eq!(total["paid_xof"], serde_json::json!(paid), "{status}");
    }
    let received = |status: &str| -> i64 {
        resolved
            .iter()
            .filter(|r| r.1 == status)
            .map(|r| r.3.unwrap_or(0))
            .sum()
    };
    let total = &report["reconciliation"]["total"];
    assert_eq!(total["completed"]["xof"], received("completed"));
    assert_eq!(
        received("completed"),
        7000,
        "00:01 and 23:59 local count; 23:59 the day before and 00:01 after do not"
    );
    assert_eq!(total["held_for_review"]["xof"], received("mismatch"));
    assert_eq!(total["received"]["xof"], 11_000, "completed + mismatch");
    let pending_at_end = rows
        .iter()
        .filter(|r| r.4 < end && r.5.is_none_or(|t| t >= end))
        .count();
    assert_eq!(report["pending_at_end"]["count"], pending_at_end as i64);
    assert_eq!(report["partial"], false);
    let d = &report["discrepancies"];
    assert_eq!(d["mismatches"][0]["token"], "wrong-amount");
    assert_eq!(d["mismatches"][0]["paid_xof"], 4000);
    assert_eq!(d["timeouts"][0]["token"], "gave-up");
    assert_eq!(d["invalid_tokens"][0]["token"], "never-issued");
    assert_eq!(d["pending_over_24h"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["health"]["confirm_calls"], 3,
        "attempts outside the day are not counted"
    );

    let csv = std::fs::read_to_string(out_dir.join("2026-11-20.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + resolved.len() + pending_at_end);
    assert!(
        csv.starts_with("\u{feff}Sens;Type;Jeton;Commande;"),
        "French by default: {csv}"
    );
    assert!(
        csv.contains(";20/11/2026 00:01:00;"),
        "local times in the CSV, as French writes them: {csv}"
    );
    let html = std::fs::read_to_string(out_dir.join("2026-11-20.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("wrong-amount"));
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("<script"),
        "self-contained"
    );
}
