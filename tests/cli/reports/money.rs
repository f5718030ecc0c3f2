//! Money only where it moved, the reconciliation per operator, and the report's language.

use super::{ms, read_json};
use crate::helpers::*;

/// One payment of 2025-12-02 (UTC) for the money tests, by its operator and what
/// LigdiCash last said.
fn insert_paid(
    env: &TestEnv,
    (token, status, expected, amount, operator, reason): (&str, &str, i64, i64, &str, &str),
) {
    let at = ms("2025-12-02T10:00:00Z");
    env.shop_connection()
        .execute(
            "INSERT INTO payments (token, transaction_id, status, status_reason, expected_amount, \
             amount, operator_name, created_at, updated_at, resolved_at) \
             VALUES (?1, 'ORD-' || ?1, ?2, nullif(?6, ''), ?3, ?4, ?5, ?7, ?7, ?7 + 60000)",
            rusqlite::params![token, status, expected, amount, operator, reason, at],
        )
        .unwrap();
}

/// Runs `report --date DATE --out DIR`; returns its JSON, HTML and CSV.
async fn report_of(
    env: &TestEnv,
    out_dir: &std::path::Path,
    date: &str,
) -> (serde_json::Value, String, String) {
    let args = ["report", "--date", date, "--out", out_dir.to_str().unwrap()];
    assert_ok(&env.run(&args).await);
    let file = |ext: &str| std::fs::read_to_string(out_dir.join(format!("{date}.{ext}"))).unwrap();
    (
        read_json(out_dir, &format!("{date}.json")),
        file("html"),
        file("csv"),
    )
}

/// A `timeout` and a `notcompleted` whose LigdiCash answers carried the invoice's amount
/// count no money; a mismatch's money counts as received, held for review; the
/// reconciliation adds up per operator. The HTML and CSV header follow `[report] language`:
/// French by default, English when asked.
#[tokio::test]
async fn money_shows_where_it_moved_reconciled_per_operator_in_the_shop_s_language() {
    let mut env = TestEnv::start().await;
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    for row in [
        ("orange-paid", "completed", 5000, 5000, "ORANGE BURKINA", ""),
        (
            "moov-paid",
            "completed",
            16000,
            16000,
            "MOOV AFRICA BURKINA",
            "",
        ),
        (
            "orange-short",
            "mismatch",
            5000,
            4000,
            "ORANGE BURKINA",
            "confirmed amount 4000 XOF differs from expected 5000 XOF",
        ),
        (
            "still-pending",
            "timeout",
            9000,
            9000,
            "",
            "still pending at LigdiCash after 3d",
        ),
        ("refused", "notcompleted", 3000, 3000, "", ""),
    ] {
        insert_paid(&env, row);
    }
    let out_dir = env.dir.path().join("out");
    let (json, html, csv) = report_of(&env, &out_dir, "2025-12-02").await;
    let ops = &json["reconciliation"]["by_operator"];
    assert_eq!(
        ops.as_array().unwrap().len(),
        2,
        "no line for money that never moved: {ops}"
    );
    assert_eq!(ops[0]["operator"], "MOOV AFRICA BURKINA");
    assert_eq!(
        ops[0]["received"],
        serde_json::json!({"count": 1, "xof": 16000})
    );
    assert_eq!(ops[1]["operator"], "ORANGE BURKINA");
    assert_eq!(
        ops[1]["completed"],
        serde_json::json!({"count": 1, "xof": 5000})
    );
    assert_eq!(
        ops[1]["held_for_review"],
        serde_json::json!({"count": 1, "xof": 4000})
    );
    assert_eq!(
        ops[1]["received"],
        serde_json::json!({"count": 2, "xof": 9000})
    );
    assert_eq!(json["reconciliation"]["total"]["received"]["xof"], 25000);
    let timeout = &json["discrepancies"]["timeouts"][0];
    assert_eq!(
        (
            timeout["expected_xof"].as_i64(),
            timeout["paid_xof"].as_i64()
        ),
        (Some(9000), None)
    );
    let by_status = json["by_status"].as_array().unwrap();
    for t in by_status
        .iter()
        .filter(|t| t["key"] == "timeout" || t["key"] == "notcompleted")
    {
        assert!(t["paid_xof"].is_null(), "{t}");
    }
    assert_eq!(json["completed"].as_array().unwrap().len(), 2);

    assert!(html.contains("<html lang=\"fr\">"));
    assert!(html.contains("<time datetime=\"2025-12-02\">2 décembre 2025</time>"));
    assert!(html.contains("25\u{202f}000\u{a0}XOF"), "French grouping");
    assert!(html.contains("montant confirmé 4\u{202f}000\u{a0}XOF différent du montant attendu"));
    assert!(html.contains("toujours en attente chez LigdiCash après 3\u{a0}j"));
    assert!(html.contains("délai dépassé") && html.contains("non abouti"));
    assert!(!html.contains("payé 9\u{202f}000") && !html.contains("payé 3\u{202f}000"));
    assert!(html.contains("<details><summary>Paiements réussis (2)</summary>"));
    assert!(html.contains("ORD-moov-paid") && html.contains("ORD-orange-paid"));
    assert!(csv.starts_with("\u{feff}Sens;Type;Jeton;Commande;Référence LigdiCash;Statut;"));
    let timeout_row = csv
        .lines()
        .find(|l| l.starts_with("entrée;facture;still-pending;"))
        .unwrap();
    assert_eq!(
        timeout_row.split(';').nth(8),
        Some(""),
        "no paid amount: {timeout_row}"
    );
    assert!(timeout_row.contains(";délai dépassé;"), "{timeout_row}");

    env.config.report.language = ligdicash_reconciler::config::ReportLanguage::English;
    env.write_config();
    let (_, html, csv) = report_of(&env, &out_dir, "2025-12-02").await;
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<time datetime=\"2025-12-02\">2 December 2025</time>"));
    assert!(html.contains("25,000\u{a0}XOF") && html.contains("Need a human"));
    assert!(
        html.contains("confirmed amount 4000 XOF differs"),
        "English reasons as stored"
    );
    assert!(csv.starts_with("direction,kind,token,transaction_id,request_id,status,operator,"));
}
