//! The evidence file through the real binary, on both backends: a payment whose LigdiCash
//! callback was lost, which a forger's callback named first, and which LigdiCash settled
//! for less than asked (a mismatch); its webhook failed once. The file (the command line's
//! and the API's) shows each step in order, its SHA-256 is the one printed, and its HTML
//! renders in headless Chromium in French and in English.

use crate::api::{TOKEN, call, stop};
use crate::both;
use crate::browser::find;
use crate::helpers::*;
use crate::receiver::{self, Reply, SECRET};
use crate::service::free_port;
use ligdicash_reconciler::config::{HumanDuration, WebhookConfig};
use ligdicash_reconciler::sandbox::{InvoiceSpec, Outcome};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

both!(
    an_evidence_file_shows_each_step_of_a_disputed_payment_in_order,
    super::disputed
);

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn disputed(mut env: TestEnv) {
    let (listener, url) = receiver::bind().await;
    let hook = receiver::serve(listener, vec![Reply::Status(503)]);
    env.config.events.webhooks.push(WebhookConfig {
        url,
        secret_env: Some("EVIDENCE_WEBHOOK_SECRET".into()),
        secret_file: None,
        name: Some("shop".into()),
    });
    env.config.events.retry_schedule = vec![HumanDuration::millis(150); 3];
    let api = free_port();
    env.config.api.listen = format!("127.0.0.1:{api}");
    env.config.cases.sweep_interval = HumanDuration::millis(100);
    env.config.poll.first_delay = HumanDuration::millis(300);
    env.write_config();
    let base = format!("http://127.0.0.1:{api}");
    let token = env.sandbox.sandbox.add_invoice(&InvoiceSpec {
        paid_amount: Some(4000),
        transaction_id: Some("ORD-DISPUTE".into()),
        settle_after_ms: 2_000,
        ..settled(Outcome::Completed, 5000)
    });
    // LigdiCash's own callback is lost on the way.
    let sandbox = &env.sandbox.sandbox;
    sandbox.set_callback_url(&token, &format!("{base}/callbacks/ligdicash"));
    sandbox.drop_callbacks(true);
    env.enqueue(&token, Some("ORD-DISPUTE"), Some(5000)).await;
    let child = env
        .cmd(&["run"])
        .env("LIGDICASH_RECONCILER_API_TOKEN", TOKEN)
        .env("EVIDENCE_WEBHOOK_SECRET", SECRET)
        .spawn()
        .unwrap();
    let ready = async {
        while reqwest::get(format!("{base}/v1/cases")).await.is_err() {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .unwrap();
    let forged = json!({"token": "", "status": "completed", "amount": 5000,
        "custom_data": [{"keyof_customdata": "transaction_id", "valueof_customdata": "ORD-DISPUTE"}]});
    let url = format!("{base}/callbacks/ligdicash");
    let body = Some(("application/json", forged.to_string()));
    assert_eq!(call("POST", &url, None, body).await.0, 200);
    eventually(Duration::from_secs(15), || {
        env.count(
            "SELECT count(*) FROM cases WHERE closed_at IS NULL AND kind = ?1",
            "mismatch",
        ) == 1
            && hook.received().len() >= 2
    })
    .await;
    let resolution = format!("{base}/v1/payments/{token}/resolution");
    let note = json!({"decision": "refunded", "note": "1000 XOF short; refunded in full"});
    let body = Some(("application/json", note.to_string()));
    assert_eq!(call("POST", &resolution, Some(TOKEN), body).await.0, 200);

    let out_dir = env.dir.path().join("evidence");
    std::fs::create_dir(&out_dir).unwrap();
    let out = env
        .run(&[
            "evidence",
            "--order",
            "ORD-DISPUTE",
            "--out",
            out_dir.to_str().unwrap(),
            "--language",
            "fr",
        ])
        .await;
    assert_ok(&out);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = printed.lines();
    let (hash, json_path) = lines.next().unwrap().split_once("  ").unwrap();
    let html_path = lines.next().unwrap();
    let json_text = std::fs::read(json_path).unwrap();
    assert_eq!(
        sha256(&json_text),
        hash,
        "the printed SHA-256 is the file's"
    );
    let doc: Value = serde_json::from_slice(&json_text).unwrap();
    let steps: Vec<(&str, &str)> = doc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["summary"].as_str().unwrap()))
        .collect();
    let first = |code: &str, text: &str| {
        steps
            .iter()
            .position(|(c, s)| *c == code && s.contains(text))
            .unwrap_or_else(|| panic!("no {code} step with {text:?} in {steps:#?}"))
    };
    let order = [
        first("created", "ORD-DISPUTE"),
        first("callback", "127.0.0.1"),
        first("final_status", "mismatch"),
        first("event", "payment.mismatch"),
        first("delivery", "retry"),
        first("delivery", "delivered"),
    ];
    assert!(order.is_sorted(), "{order:?} in {steps:#?}");
    let (opened, closed) = (
        first("case_opened", "mismatch"),
        first("case_closed", "refunded"),
    );
    assert!(order[3] < opened && opened < closed, "{steps:#?}");
    let last_confirm = steps.iter().rposition(|(c, _)| *c == "confirm").unwrap();
    assert!(
        last_confirm < order[2],
        "the mismatch came from the last confirm"
    );
    assert!(
        steps[last_confirm].1.contains("00 / completed"),
        "{steps:#?}"
    );
    // Every call keeps the answer it got, as received: the pending ones before settlement,
    // the settled one last, which is also the payment's last answer.
    let calls = doc["confirm_calls"].as_array().unwrap();
    let answers: Vec<&str> = calls
        .iter()
        .map(|c| {
            c["answer_as_received"]
                .as_str()
                .unwrap_or_else(|| panic!("{c}"))
        })
        .collect();
    // How many confirms went out before settlement depends on the machine's speed; each
    // of them got `pending`.
    let (last, earlier) = answers.split_last().unwrap();
    assert!(last.contains(r#""status":"completed""#), "{last}");
    assert!(last.contains(r#""amount":4000"#), "{last}");
    assert_eq!(doc["last_answer_as_received"], *last);
    for answer in earlier {
        assert!(answer.contains(r#""status":"pending""#), "{answer}");
    }
    let callbacks = doc["callbacks"].as_array().unwrap();
    assert_eq!(
        callbacks.len(),
        1,
        "LigdiCash's own was lost: only the forger's"
    );
    assert_eq!(callbacks[0]["body"], forged.to_string(), "as received");
    assert_eq!(
        doc["payment"]["status"], "mismatch",
        "LigdiCash's verdict stays"
    );
    assert!(
        doc["confirm_calls"][0]["endpoint"]
            .as_str()
            .unwrap()
            .contains("/confirm")
    );
    for secret in [
        TOKEN,
        SECRET,
        ligdicash_reconciler::sandbox::SANDBOX_API_KEY,
    ] {
        assert!(!printed.contains(secret) && !String::from_utf8_lossy(&json_text).contains(secret));
    }

    let url = format!("{base}/v1/payments/{token}/evidence?format=html&language=en");
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let api_hash = response.headers()["x-evidence-sha256"]
        .to_str()
        .unwrap()
        .to_owned();
    let english = response.text().await.unwrap();
    assert!(english.contains(&api_hash) && english.contains("Timeline"));
    let en_path = out_dir.join("en.html");
    std::fs::write(&en_path, &english).unwrap();
    stop(child).await;
    let calls = answers.len();
    rendered(html_path.as_ref(), "fr", "Chronologie", hash, calls).await;
    rendered(&en_path, "en", "Timeline", &api_hash, calls).await;
}

/// The page as headless Chromium renders it: its language, its timeline, the hash, and
/// the answer each of the `calls` confirm calls got.
async fn rendered(page: &std::path::Path, lang: &str, timeline: &str, hash: &str, calls: usize) {
    let Some(browser) = find("chromium").or_else(|| find("chromium-browser")) else {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium");
        eprintln!("skipped: chromium not found (apt-get install chromium)");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .unwrap()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains(&format!("<html lang=\"{lang}\">")), "{dom}");
    assert!(dom.contains(timeline) && dom.contains(hash), "{dom}");
    let rows = dom.matches("<tr data-step=").count();
    assert!(rows >= 9, "{rows} timeline rows in {dom}");
    assert!(dom.contains("data-step=\"case_closed\""));
    // Chromium writes the quotes of text back as they are, not as `&quot;`.
    let answers = dom.matches(r#"<pre class="answer">{"#).count();
    assert_eq!(answers, calls, "each call's answer in {dom}");
}
