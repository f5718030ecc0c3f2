//! The demo's second part: the three ways a LigdiCash callback can go, side by side, with
//! the time from settlement to the recorded verdict for each.
//!
//! - **delivered**: the sandbox posts its two callbacks (JSON, then form) to the
//!   reconciler's `/callbacks/ligdicash`; the payment is confirmed at once.
//! - **lost**: no callback arrives; the verdict comes from the next scheduled poll.
//! - **forged**: someone posts "completed" for an order nobody paid; the reconciler confirms
//!   with LigdiCash, is told `pending`, and records nothing.
//!
//! A fresh database and a daemon with the shop API on, on a schedule slow enough that
//! polling and callbacks can be told apart (and with LigdiCash's real 3 s floor between two
//! confirms of one token), yet short enough for a demo.

use crate::app::App;
use crate::config::{Config, HumanDuration};
use crate::payment::{NewPayment, Status};
use crate::poller::RunMode;
use crate::sandbox::{
    Faults, InvoiceSpec, Outcome, RunningSandbox, SANDBOX_API_KEY, SANDBOX_API_TOKEN,
};
use crate::store::Db;
use crate::time::now_ms;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const AMOUNT: i64 = 7_500;
/// The next poll after the first confirm: what a lost callback waits for (8 s here; an hour
/// or more with a production schedule late in a payment's life).
const POLL_EVERY: Duration = Duration::from_secs(8);
/// LigdiCash's rule: at least 3 s between two confirms of one token.
const FLOOR: Duration = Duration::from_secs(3);
const LIMIT: Duration = Duration::from_secs(40);

struct Path_ {
    name: &'static str,
    order: &'static str,
    token: String,
    settled: Option<Instant>,
    verdict: Option<(Status, Instant)>,
}

pub(super) async fn three_paths(sandbox: &RunningSandbox, dir: &Path) -> Result<()> {
    say!("");
    say!(
        "callbacks, three paths (a poll every {} s here after the first; a 3 s floor between \
         two confirms of one token, as LigdiCash requires)",
        POLL_EVERY.as_secs()
    );
    sandbox.sandbox.set_faults(Faults::default());
    let db = dir.join("callbacks.db");
    let config = config(sandbox.base_url(), &db);
    config.validate()?;
    let api_token = format!("demo-{:016x}", fastrand::u64(..));
    let env = |name: &str| match name {
        "LIGDICASH_API_KEY" => Some(SANDBOX_API_KEY.to_owned()),
        "LIGDICASH_API_TOKEN" => Some(SANDBOX_API_TOKEN.to_owned()),
        "LIGDICASH_RECONCILER_API_TOKEN" => Some(api_token.clone()),
        _ => None,
    };
    let app = App::build(config.clone(), &env)
        .await
        .map_err(|f| anyhow::anyhow!(f.message))?;
    let api = app.api_addr().context("the shop API did not listen")?;
    let callback_url = format!("http://{api}/callbacks/ligdicash");

    let store = Db::open(&crate::store::Target::sqlite(&config.database)).await?;
    let mut paths = [
        (
            "callback delivered",
            "ORD-CB-DELIVERED",
            Some(&callback_url),
        ),
        // Nowhere to post to: from the reconciler's side, exactly a lost callback.
        ("callback lost", "ORD-CB-LOST", None),
        ("callback forged", "ORD-CB-FORGED", Some(&callback_url)),
    ]
    .map(|(name, order, url)| {
        let token = sandbox.sandbox.add_invoice(&InvoiceSpec {
            outcome: Outcome::Never,
            amount: AMOUNT,
            paid_amount: None,
            transaction_id: Some(order.into()),
            confirmed_transaction_id: None,
            settle_after_ms: 0,
        });
        if let Some(url) = url {
            sandbox.sandbox.set_callback_url(&token, url);
        }
        Path_ {
            name,
            order,
            token,
            settled: None,
            verdict: None,
        }
    });
    for p in &paths {
        let new = NewPayment::parse(&p.token, Some(p.order), Some(&AMOUNT.to_string()))
            .map_err(|e| anyhow::anyhow!(e))?;
        let now = now_ms();
        store.enqueue(new, now, now).await?;
    }

    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(app.run(RunMode::Forever, shutdown.clone()));
    let result = act(sandbox, &store, &mut paths, &callback_url).await;
    shutdown.cancel();
    let stopped = daemon.await.context("the reconciler task failed")?;
    result?;
    stopped.map_err(|f| anyhow::anyhow!(f.message))?;
    print(&paths)
}

/// Waits for every first confirm and the floor after it, settles two invoices as a
/// customer paying would, forges a callback for the third, and times the verdicts.
async fn act(
    sandbox: &RunningSandbox,
    store: &Db,
    paths: &mut [Path_; 3],
    callback_url: &str,
) -> Result<()> {
    let started = Instant::now();
    // Until each first answer is recorded, not only sent: a callback that arrives while a
    // confirm is in flight is answered `min_interval` after that confirm's answer (see
    // docs/api.md, "Callbacks"); the demo shows the plain case, confirmed at once.
    loop {
        let mut recorded = 0;
        for p in paths.iter() {
            if store
                .get(p.token.clone())
                .await?
                .is_some_and(|r| r.attempts > 0)
            {
                recorded += 1;
            }
        }
        if recorded == paths.len() {
            break;
        }
        if started.elapsed() > LIMIT {
            bail!("the first confirms never came");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(FLOOR).await;
    let http = reqwest::Client::new();
    for p in paths.iter_mut().take(2) {
        // The customer presses "Pay" on the hosted payment page.
        let page = format!("{}/pay/invoice/{}/pay", sandbox.base_url(), p.token);
        let answer = http.post(&page).send().await.context("the payment page")?;
        if !answer.status().is_success() {
            bail!("the payment page answered {}", answer.status());
        }
        p.settled = Some(Instant::now());
    }
    forge(&http, callback_url, paths[2].order).await?;
    let forged_token = paths[2].token.clone();
    let forged_confirms = || {
        sandbox
            .sandbox
            .invoice(&forged_token)
            .map_or(0, |i| i.confirms.len())
    };
    let forged_checked = loop {
        let checked = forged_confirms() >= 2;
        for p in paths.iter_mut().take(2) {
            if p.verdict.is_none()
                && let Some(row) = store.get(p.token.clone()).await?
                && row.status != Status::Pending.as_str()
            {
                let status = Status::parse(&row.status).unwrap_or(Status::Pending);
                p.verdict = Some((status, Instant::now()));
            }
        }
        if checked && paths.iter().take(2).all(|p| p.verdict.is_some()) {
            break true;
        }
        if started.elapsed() > LIMIT {
            break checked;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if !forged_checked {
        bail!("the forged callback was never checked with LigdiCash");
    }
    if let Some(row) = store.get(paths[2].token.clone()).await? {
        paths[2].verdict = Status::parse(&row.status).map(|s| (s, Instant::now()));
    }
    Ok(())
}

/// What an attacker would post: "completed" for an order nobody paid, in both encodings.
async fn forge(http: &reqwest::Client, url: &str, order: &str) -> Result<()> {
    let custom = json!([{"keyof_customdata": "transaction_id", "valueof_customdata": order}]);
    let body = json!({"token": "", "status": "completed", "amount": AMOUNT, "montant": AMOUNT,
                      "external_id": order, "custom_data": custom});
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("token", String::new()),
            ("status", "completed".to_owned()),
            ("amount", AMOUNT.to_string()),
            ("external_id", order.to_owned()),
            ("custom_data", custom.to_string()),
        ])
        .finish();
    let copies = [
        ("application/json", body.to_string()),
        ("application/x-www-form-urlencoded", form),
    ];
    for (content_type, body) in copies {
        let answer = http
            .post(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .context("posting the forged callback")?;
        if !answer.status().is_success() {
            bail!("the forged callback got {}", answer.status());
        }
    }
    Ok(())
}

/// Prints the three paths; fails unless each ended as it must.
fn print(paths: &[Path_; 3]) -> Result<()> {
    say!(
        "{:<20} {:<18} {:<10} SETTLEMENT TO VERDICT",
        "PATH",
        "ORDER",
        "VERDICT"
    );
    for p in paths {
        let status = p.verdict.map_or(Status::Pending, |(s, _)| s);
        let timing = match (p.settled, p.verdict) {
            (Some(settled), Some((_, at))) => {
                format!("{:.1} s", at.duration_since(settled).as_secs_f64())
            }
            _ => "never paid: LigdiCash said pending, nothing recorded".to_owned(),
        };
        say!(
            "{:<20} {:<18} {:<10} {timing}",
            p.name,
            p.order,
            status.as_str()
        );
    }
    let [delivered, lost, forged] = paths;
    let took = |p: &Path_| match (p.settled, p.verdict) {
        (Some(s), Some((_, at))) => Some(at.duration_since(s)),
        _ => None,
    };
    match (took(delivered), took(lost)) {
        (Some(fast), Some(slow)) if fast < FLOOR && fast < slow => {}
        other => bail!("the callback did not bring the verdict forward: {other:?}"),
    }
    if forged.verdict.is_some_and(|(s, _)| s != Status::Pending) {
        bail!("the forged callback changed the payment");
    }
    Ok(())
}

fn config(base_url: String, db: &Path) -> Config {
    let mut c = Config::default();
    c.ligdicash.base_url = base_url;
    c.ligdicash.request_timeout = HumanDuration::secs(5);
    c.database.path = db.to_owned();
    let p = &mut c.poll;
    p.first_delay = HumanDuration::millis(0);
    p.initial_interval = HumanDuration(POLL_EVERY);
    p.max_interval = HumanDuration(POLL_EVERY);
    p.min_interval = HumanDuration(FLOOR);
    p.give_up_after = HumanDuration::secs(600);
    p.scan_interval = HumanDuration::millis(200);
    c.api.listen = "127.0.0.1:0".into();
    c.http.listen = "off".into();
    c.report.enabled = false;
    c
}
