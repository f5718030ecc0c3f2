//! The accountant's day through the real binary: money in and out as on LigdiCash's
//! statement (a payout mismatch counts as sent, at LigdiCash's amount), the net, and one
//! "À traiter" list of every row needing a person, in and out, a badly written amount
//! among them as written; in the JSON, the French page and, with `--language en`, the
//! English one.

use super::{env, payout, spec};
use crate::helpers::*;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::payment::Kind;
use ligdicash_reconciler::sandbox::Outcome;
use ligdicash_reconciler::sandbox::payouts::PayoutSpec;
use serde_json::{Value, json};

#[tokio::test]
async fn money_out_the_net_and_what_to_handle_are_as_on_the_statement() {
    let env = env().await;
    let invoice = env.invoice(Outcome::Completed, 74_500, "ORD-1").await;
    env.invoice(Outcome::NotCompleted, 9_000, "ORD-2").await;
    // The shop writes an amount badly, as a person would type it.
    env.shop_connection()
        .execute(
            "INSERT INTO payments (token, transaction_id, expected_amount) \
             VALUES ('tok-typed', 'ORD-TYPED', '5 000')",
            [],
        )
        .unwrap();
    payout(
        &env,
        spec(Kind::Payout, Outcome::Completed, 2_500, "SELLER-1"),
    )
    .await;
    // LigdiCash says it sent 2 700 of the 3 000 asked.
    let short = payout(
        &env,
        PayoutSpec {
            paid_amount: Some(2_700),
            ..spec(Kind::Withdrawal, Outcome::Completed, 3_000, "REFUND-1")
        },
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
    env.config.report.time_zone = "UTC".into();
    env.write_config();
    env.run_until_idle().await;
    assert_eq!(env.show(&invoice).await["status"], "completed");
    assert_eq!(env.show(&short).await["status"], "mismatch");

    let today = chrono::Utc::now().date_naive().to_string();
    let out_dir = env.dir.path().join("out");
    let report = |language: &'static str| {
        let out = out_dir.to_str().unwrap().to_owned();
        let today = today.clone();
        let env = &env;
        async move {
            let args = [
                "report",
                "--date",
                &today,
                "--format",
                "json,html",
                "--out",
                &out,
            ];
            let args: Vec<&str> = match language {
                "" => args.to_vec(),
                _ => [&args[..], &["--language", language]].concat(),
            };
            assert_ok(&env.run(&args).await);
        }
    };
    report("").await;
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(json["schema_version"], 3);
    assert_eq!(json["reconciliation"]["total"]["received"]["xof"], 74_500);
    let m = &json["money_out"];
    assert_eq!(m["completed"], json!({"count": 1, "xof": 2500}), "{m}");
    assert_eq!(m["sent_to_check"], json!({"count": 1, "xof": 2700}), "{m}");
    assert_eq!(m["sent"], json!({"count": 2, "xof": 5200}), "{m}");
    assert_eq!(
        m["sent_by_kind"]["withdrawal"],
        json!({"count": 1, "xof": 2700})
    );
    assert_eq!(m["failed"], json!({"count": 1, "expected_xof": 700}));
    assert_eq!(m["pending"], json!({"count": 1, "expected_xof": 400}));
    assert_eq!(m["mismatches"][0]["expected_xof"], 3000);
    assert_eq!(m["mismatches"][0]["paid_xof"], 2700);
    assert_eq!(m["overdue"][0]["token"], stuck.as_str());
    assert_eq!(
        json["net"]["total"],
        json!({"received": {"count": 1, "xof": 74500}, "sent": {"count": 2, "xof": 5200},
               "net_xof": 69300})
    );
    let t = &json["to_handle"];
    assert_eq!(
        (&t["count"], &t["money_in"], &t["money_out"]),
        (&json!(3), &json!(1), &json!(2)),
        "{t}"
    );
    let rows: Vec<(&str, &str, &str)> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("");
            (s("direction"), s("issue"), s("transaction_id"))
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("in", "unreadable_amount", "ORD-TYPED"),
            ("out", "overdue", "SELLER-3"),
            ("out", "mismatch", "REFUND-1"),
        ]
    );
    assert_eq!(t["rows"][0]["expected_as_written"], "5 000");
    assert_eq!(t["rows"][0]["expected_xof"], Value::Null);

    let html = std::fs::read_to_string(out_dir.join(format!("{today}.html"))).unwrap();
    // French, the default language.
    for needle in [
        "<span>À traiter</span><b>3</b>",
        "<h2 id=\"to-handle\">À traiter (3)</h2>",
        "«\u{a0}5 000\u{a0}» <span class=\"muted\">(illisible)</span>",
        "<h2>Versements et retraits</h2>",
        "<td>Envoyé, à vérifier</td><td class=\"n\">1</td><td class=\"n\">2\u{202f}700\u{a0}XOF</td>",
        "<td>Envoyé</td><td class=\"n\">2</td><td class=\"n\">5\u{202f}200\u{a0}XOF</td>",
        "69\u{202f}300\u{a0}XOF",
        "Versements en attente au-delà du délai (1)",
        "<td>retrait</td>",
    ] {
        assert!(html.contains(needle), "{needle} not in {html}");
    }
    assert!(
        !html.contains("<td>withdrawal</td>"),
        "every kind in French"
    );

    report("en").await;
    let html = std::fs::read_to_string(out_dir.join(format!("{today}.html"))).unwrap();
    assert!(html.contains("<html lang=\"en\">"), "--language en: {html}");
    assert!(html.contains("<h2 id=\"to-handle\">Need a human (3)</h2>"));
    assert!(html.contains("69,300\u{a0}XOF") && html.contains("Overdue payouts (1)"));
}
