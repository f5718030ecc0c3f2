//! The sandbox's payment page clicked in a real headless Chromium, driven over WebDriver
//! (Debian's `chromium-driver`) with plain HTTP: a customer presses "Pay", the sandbox posts
//! LigdiCash's two callbacks, and the reconciler records the verdict at once although the
//! payment's first poll is an hour away.
//!
//! CI installs `chromium` and `chromium-driver`, and there the test fails if they are missing;
//! on a developer's machine without them it says it was skipped.

use crate::api::{api_daemon, post_json, stop};
use crate::callbacks::checkout;
use crate::helpers::*;
use crate::service::free_port;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::process::{Child, Command};

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    _driver: Child,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session; `None`
    /// when chromedriver is not installed outside CI.
    async fn start() -> Option<Self> {
        let Some(driver_path) = find("chromedriver") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install chromium-driver"
            );
            eprintln!("skipped: chromedriver not found (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        // A process group of its own, so a failed test kills Chromium with its driver.
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver never answered on {base}");
        let mut options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking"]});
        if let Some(binary) = find("chromium") {
            options["binary"] = json!(binary);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}});
        let answer = send(&http, "POST", &format!("{base}/session"), Some(caps)).await;
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"));
        Some(Self {
            session: format!("{base}/session/{session}"),
            _driver: driver,
            http,
        })
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        send(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    async fn open(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element with this CSS selector, waiting for it to appear (after a form post).
    async fn element(&self, css: &str) -> String {
        let mut last = Value::Null;
        for _ in 0..100 {
            let found = self
                .command(
                    "POST",
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = found[ELEMENT].as_str() {
                return id.to_owned();
            }
            last = found;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let page = self.command("GET", "/source", None).await;
        panic!("no element {css} ({last}) on the page: {page}");
    }

    async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        let text = self
            .command("GET", &format!("/element/{id}/text"), None)
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.command("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    async fn close(&self) {
        self.command("DELETE", "", None).await;
    }
}

impl Drop for Browser {
    /// Chromium outlives a killed chromedriver: kill the whole group, even when an
    /// assertion failed before `close`.
    fn drop(&mut self) {
        if let Some(pid) = self._driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// One WebDriver command; its `value`.
async fn send(http: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let mut request = http.request(method.parse().unwrap(), url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let text = request.send().await.unwrap().text().await.unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap();
    answer["value"].clone()
}

pub(crate) fn find(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

#[tokio::test]
async fn a_customer_pays_on_the_sandbox_page_in_chromium_and_the_callback_confirms_it() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // The invoice waits for the button: a settled one is closed, as at LigdiCash.
    let mut env = TestEnv::with_sandbox(waiting_for_pay()).await;
    let (child, base) = api_daemon(&mut env).await;
    let callback_url = format!("{base}/callbacks/ligdicash");
    let (token, page_url) = checkout(&env, "ORD-CLICK", &callback_url).await;
    let body = json!({"token": token, "transaction_id": "ORD-CLICK", "expected_amount": 3000});
    assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);

    browser.open(&page_url).await;
    assert_eq!(browser.text("#order").await, "ORD-CLICK");
    assert_eq!(browser.text("#amount").await, "3000 XOF");
    browser.click("#pay").await;
    assert_eq!(browser.text("#result").await, "Paiement effectué");
    browser.close().await;

    // Only the callback can have brought this confirm forward: the first poll is 1 h away.
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) == 1
    })
    .await;
    let matched = "SELECT count(*) FROM callbacks WHERE matched_by = ?1";
    eventually(Duration::from_secs(5), || {
        env.count(matched, "transaction_id") == 2
    })
    .await;
    assert_eq!(
        env.sandbox.sandbox.invoice(&token).unwrap().confirms.len(),
        1
    );
    stop(child).await;
}
