//! The nightly report's money-out section, in the JSON report, through the real binary.

use super::{env, payout, spec};
use crate::helpers::*;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::payment::Kind;
use ligdicash_reconciler::sandbox::Outcome;
use serde_json::{Value, json};

#[tokio::test]
async fn the_report_has_a_money_out_section_and_a_net_line() {
    let env = env().await;
    let invoice = env.invoice(Outcome::Completed, 5000, "ORD-1").await;
    payout(
        &env,
        spec(Kind::Payout, Outcome::Completed, 1200, "SELLER-1"),
    )
    .await;
    payout(
        &env,
        spec(Kind::Withdrawal, Outcome::Completed, 300, "REFUND-1"),
    )
    .await;
    payout(
        &env,
        spec(Kind::Payout, Outcome::NotCompleted, 700, "SELLER-2"),
    )
    .await;
    // Announced overdue straight away, then left pending.
    let stuck = payout(&env, spec(Kind::Payout, Outcome::Never, 400, "SELLER-3")).await;
    let mut env = env;
    env.config.payouts.overdue_after = HumanDuration::millis(1);
    env.write_config();
    env.run_until_idle().await;
    assert_eq!(env.show(&invoice).await["status"], "completed");

    let today = chrono::Utc::now().date_naive().to_string();
    let out_dir = env.dir.path().join("out");
    let args = [
        "report",
        "--date",
        &today,
        "--format",
        "json,html",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let mut env = env;
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    assert_ok(&env.run(&args).await);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        report["reconciliation"]["total"]["received"]["xof"], 5000,
        "payouts are not money in"
    );
    let m = &report["money_out"];
    assert_eq!(m["completed"], json!({"count": 2, "xof": 1500}), "{m}");
    assert_eq!(
        m["completed_by_kind"]["withdrawal"],
        json!({"count": 1, "xof": 300})
    );
    assert_eq!(m["failed"], json!({"count": 1, "xof": 700}));
    assert_eq!(m["pending"], json!({"count": 1, "xof": 400}));
    assert_eq!(m["overdue"][0]["token"], stuck.as_str());
    assert_eq!(m["overdue"][0]["transaction_id"], "SELLER-3");
    assert_eq!(m["paid_out_xof"], 1500);
    assert_eq!(m["net_xof"], 5000 - 1500);
    let by_status = report["by_status"].as_array().unwrap();
    assert_eq!(by_status.len(), 1, "only the invoice: {by_status:?}");
    let html = std::fs::read_to_string(out_dir.join(format!("{today}.html"))).unwrap();
    // French, the default language.
    assert!(
        html.contains("Argent sorti") && html.contains("Paiements en retard (1)"),
        "{html}"
    );
}
