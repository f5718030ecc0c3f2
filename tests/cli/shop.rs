//! The shop next door: another process (Python's sqlite3, as a shop's code would use it)
//! inserts pending rows and reads statuses continuously while the daemon drains.

use crate::helpers::*;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use std::time::Duration;

const SHOP: &str = r#"
import sqlite3, sys, time
db, tokens = sys.argv[1], open(sys.argv[2]).read().split()
conn = sqlite3.connect(db, timeout=5, isolation_level=None)
conn.execute("PRAGMA busy_timeout = 5000")
failed = reads = 0
for i, token in enumerate(tokens):
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO payments (token, transaction_id, expected_amount) VALUES (?, ?, 500)",
                     (token, "SHOP-%d" % i))
        conn.execute("COMMIT")
    except sqlite3.Error as e:
        failed += 1
        print("write failed:", e, file=sys.stderr)
        conn.execute("ROLLBACK")
    conn.execute("SELECT status, count(*) FROM payments GROUP BY status").fetchall()
    reads += 1
    time.sleep(0.002)
print(failed, reads)
"#;

#[tokio::test]
async fn a_shop_writing_and_reading_meanwhile_loses_no_row_and_never_fails_on_busy() {
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        panic!("python3 is needed for this test (the machine image ships it)");
    }
    let mut env = TestEnv::start().await;
    env.config.poll.concurrency = 8;
    env.config.poll.max_requests_per_second = 2000.0;
    env.config.poll.give_up_after = HumanDuration::secs(30);
    env.write_config();
    // The daemon drains a first batch at full speed while the shop adds a second one.
    for i in 0..300 {
        env.sandbox.sandbox.add_invoice(&InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 500,
            paid_amount: None,
            transaction_id: None,
            confirmed_transaction_id: None,
            settle_after_ms: i % 50,
        });
    }
    let batch: Vec<String> = env
        .sandbox
        .sandbox
        .invoices()
        .into_iter()
        .map(|i| i.token)
        .collect();
    assert_ok(&env.run(&["migrate"]).await);
    let conn = env.shop_connection();
    for token in &batch {
        conn.execute("INSERT INTO payments (token) VALUES (?1)", [token])
            .unwrap();
    }
    let mut shop_tokens = Vec::new();
    for i in 0..400 {
        shop_tokens.push(env.sandbox.sandbox.add_invoice(&InvoiceSpec {
            outcome: Outcome::Completed,
            amount: 500,
            paid_amount: None,
            transaction_id: Some(format!("SHOP-{i}")),
            confirmed_transaction_id: None,
            settle_after_ms: 0,
        }));
    }
    let list = env.dir.path().join("tokens.txt");
    std::fs::write(&list, shop_tokens.join("\n")).unwrap();

    // warn: a piped stderr nobody reads until the end would fill up with per-payment lines.
    let daemon = env.cmd(&["run"]).env("RUST_LOG", "warn").spawn().unwrap();
    let shop = tokio::process::Command::new("python3")
        .args(["-c", SHOP, env.db.to_str().unwrap(), list.to_str().unwrap()])
        .output();
    let shop = tokio::time::timeout(Duration::from_secs(60), shop)
        .await
        .unwrap()
        .unwrap();
    assert!(
        shop.status.success(),
        "{}",
        String::from_utf8_lossy(&shop.stderr)
    );
    let report = String::from_utf8_lossy(&shop.stdout);
    assert_eq!(
        report.trim(),
        "0 400",
        "no write failed, every read answered"
    );

    let done = || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        )
    };
    for _ in 0..300 {
        if done() == 700 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_status: Vec<(String, i64, i64)> = env
        .shop_connection()
        .prepare("SELECT status, count(*), max(attempts) FROM payments GROUP BY status")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let final_count = done();
    terminate(&daemon);
    let out = daemon.wait_with_output().await.unwrap();
    assert_eq!(final_count, 700, "{by_status:?}\n{}", stderr(&out));
    assert_ok(&out);
    assert_eq!(
        env.count("SELECT count(*) FROM payments WHERE token != ?1", ""),
        700,
        "no row lost"
    );
}
