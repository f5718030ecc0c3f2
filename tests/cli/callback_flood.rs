//! Issue 23: unauthenticated callbacks are bounded. 100,000 forged callbacks from one host,
//! half naming pending payments and half naming nothing, leave a small database and a short
//! log, are all counted, and never slow the genuine callbacks of real settlements.

use crate::api::{TOKEN, post_json, stop};
use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const FORGED: usize = 100_000;
/// Requests in flight at once from the forging host (its share is 8).
const SENDERS: usize = 6;
const TARGETS: usize = 20;
const GENUINE: usize = 5;
/// What the flood may leave: the database with its WAL, and log lines.
const DATABASE_AT_MOST: u64 = 1024 * 1024;
const LOG_LINES_AT_MOST: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_callbacks_is_counted_kept_in_bounds_and_slows_no_genuine_one() {
    let mut env = TestEnv::with_sandbox(waiting_for_pay()).await;
    let (api, http) = (free_port(), free_port());
    env.config.api.listen = format!("127.0.0.1:{api}");
    env.config.http.listen = format!("127.0.0.1:{http}");
    let p = &mut env.config.poll;
    p.first_delay = HumanDuration::secs(3600);
    p.initial_interval = HumanDuration::secs(3600);
    p.max_interval = HumanDuration::secs(3600);
    p.give_up_after = HumanDuration::secs(7200);
    p.min_interval = HumanDuration::secs(3);
    env.write_config();
    let log_path = env.dir.path().join("daemon.log");
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{api}");
    let callback_url = format!("{base}/callbacks/ligdicash");
    for _ in 0..400 {
        if reqwest::get(format!("{base}/v1/payments")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let add = |order: String| {
        let token = env.sandbox.sandbox.add_invoice(&InvoiceSpec {
            transaction_id: Some(order.clone()),
            settle_after_ms: 3_600_000,
            ..settled(Outcome::Completed, 2500)
        });
        env.sandbox.sandbox.set_callback_url(&token, &callback_url);
        (token, order)
    };
    let targets: Vec<_> = (0..TARGETS).map(|i| add(format!("ORD-T{i}"))).collect();
    let genuine: Vec<_> = (0..GENUINE).map(|i| add(format!("ORD-G{i}"))).collect();
    for (token, order) in targets.iter().chain(&genuine) {
        let body = json!({"token": token, "transaction_id": order, "expected_amount": 2500});
        assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);
    }

    // The forging host: another address than LigdiCash's (the sandbox posts from 127.0.0.1).
    let forger = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();
    let (sent, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let (forger, url, sent, refused) = (
            forger.clone(),
            callback_url.clone(),
            sent.clone(),
            refused.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if n >= FORGED {
                    return;
                }
                // Half name a pending payment, half name nothing.
                let order = match n % 2 {
                    0 => format!("ORD-T{}", (n / 2 + s) % TARGETS),
                    _ => format!("NOBODY-{n}"),
                };
                let body = json!({"token": "", "status": "completed", "amount": 2500,
                    "custom_data": [{"keyof_customdata": "transaction_id",
                                     "valueof_customdata": order}]});
                let answer = forger
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                match answer.map(|a| a.status().as_u16()) {
                    Ok(200) => {}
                    Ok(503) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("forged callback {n}: {other:?}"),
                }
            }
        }));
    }

    // Meanwhile, customers pay: LigdiCash's callbacks get each payment confirmed at once.
    let mut verdicts = Vec::new();
    for (token, _) in &genuine {
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            sent.load(Ordering::Relaxed) < FORGED,
            "the flood ended too soon"
        );
        let page = format!("{}/pay/invoice/{token}/pay", env.sandbox.base_url());
        let paid_at = Instant::now();
        let paid = reqwest::Client::new().post(page).send().await.unwrap();
        assert_eq!(paid.status(), 200);
        let sql = "SELECT count(*) FROM payments WHERE token = ?1 AND status = 'completed'";
        while env.count(sql, token) == 0 {
            assert!(
                paid_at.elapsed() < Duration::from_secs(2),
                "{token}: no verdict 2 s after its callback"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        verdicts.push(paid_at.elapsed());
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let flood = started.elapsed();
    let (_, metrics) = crate::service::get(http, "/metrics").await;
    stop(child).await;

    // Six at once from one host stay within its share: every one was taken in.
    assert_eq!(refused.load(Ordering::Relaxed), 0, "refused_busy");
    let counted = |result: &str| -> usize {
        let name = format!("ligdicash_reconciler_callbacks_total{{result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&name)?.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(counted("unmatched"), FORGED / 2, "{metrics}");
    assert_eq!(counted("matched"), FORGED / 2 + 2 * GENUINE, "{metrics}");
    let database: u64 = ["reconciler.db", "reconciler.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(env.dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    let kept = env.count(
        "SELECT count(*) FROM callbacks WHERE coalesce(matched_by, ?1) IS NOT NULL",
        "x",
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().count();
    eprintln!(
        "callback flood: {FORGED} forged in {flood:?}, {kept} kept raw, \
         database {database} bytes, {lines} log lines, verdicts after LigdiCash's callbacks: {verdicts:?}"
    );
    assert!(database <= DATABASE_AT_MOST, "{database} bytes");
    assert!(lines <= LOG_LINES_AT_MOST, "{lines} log lines:\n{log}");
    assert!(
        kept <= (TARGETS as i64 + GENUINE as i64) * 10 + 40,
        "{kept} callbacks kept raw"
    );
    // Every unmatched one is counted in the day's report, kept or not.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let out_dir = env.dir.path().join("out");
    let out = env
        .run(&[
            "report",
            "--date",
            &today,
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .await;
    assert_ok(&out);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(format!("{today}.json"))).unwrap(),
    )
    .unwrap();
    let unmatched = report["health"]["unmatched_callbacks"].as_u64().unwrap() as usize;
    assert_eq!(unmatched, FORGED / 2);
}
