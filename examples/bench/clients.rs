//! Workload `clients`: HTTP clients side by side against the sandbox (a separate process),
//! confirming the same tokens at the same concurrency, each for a few seconds, twice in
//! turn. It compares the drain's reference (a plain reqwest client) with the reconciler's own
//! `LigdicashClient` (the same reqwest, plus its limits, headers and bounded body read):
//! requests per second and the client's CPU per request (this process's CPU; it only runs
//! the clients meanwhile).

use crate::common::{self, Sandbox};
use ligdicash_reconciler::config::{ConfirmStyle, Credentials};
use ligdicash_reconciler::ligdicash::{ClientSettings, Exchange, LigdicashClient};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CONFIRM: &str = "/pay/v01/redirect/checkout-invoice/confirm/?invoiceToken=";
const WINDOW: Duration = Duration::from_secs(6);

#[derive(Clone, Copy)]
enum Kind {
    Reqwest,
    Reconciler,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Reqwest => "plain reqwest (the drain's reference)",
            Self::Reconciler => "the reconciler's LigdicashClient",
        }
    }
}

/// The clients, each built once and shared by the workers, as in real use.
struct Clients {
    reqwest: reqwest::Client,
    reconciler: LigdicashClient,
}

pub fn run(concurrency: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::start(dir.path(), 20_000, None)?;
    let rt = tokio::runtime::Runtime::new()?;
    let clients = Arc::new(rt.block_on(async { build(&sandbox.base_url) })?);
    println!("\n| client | round | requests/s | client CPU µs per request |");
    println!("|---|---:|---:|---:|");
    for round in 1..=2 {
        for kind in [Kind::Reqwest, Kind::Reconciler] {
            let cpu = common::cpu_time(std::process::id())?;
            let done = rt.block_on(drive(kind, &clients, &sandbox, concurrency))?;
            let cpu = common::cpu_time(std::process::id())? - cpu;
            println!(
                "| {} | {round} | {:.0} | {:.1} |",
                kind.name(),
                done as f64 / WINDOW.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / done.max(1) as f64
            );
        }
    }
    Ok(())
}

fn build(base_url: &str) -> anyhow::Result<Clients> {
    let settings = ClientSettings {
        base_url: reqwest::Url::parse(base_url)?,
        style: ConfirmStyle::InvoiceToken,
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        pool_size: 16,
    };
    let creds = Credentials::fixed(common::ENV[0].1, common::ENV[1].1);
    Ok(Clients {
        reqwest: reqwest::Client::new(),
        reconciler: LigdicashClient::new(&settings, &creds)?,
    })
}

/// `concurrency` workers confirming in turn for [`WINDOW`]; returns the answers received.
async fn drive(
    kind: Kind,
    clients: &Arc<Clients>,
    sandbox: &Sandbox,
    concurrency: usize,
) -> anyhow::Result<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let tokens = Arc::new(sandbox.tokens.clone());
    let deadline = Instant::now() + WINDOW;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (clients, done, tokens) = (clients.clone(), done.clone(), tokens.clone());
        let base = sandbox.base_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < deadline {
                let token = &tokens[i % tokens.len()];
                if confirm(kind, &clients, &base, token).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                i += concurrency;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(done.load(Ordering::Relaxed))
}

/// One confirm with the sandbox's credentials; whether an answer came back whole.
async fn confirm(kind: Kind, clients: &Clients, base: &str, token: &str) -> bool {
    let url = format!("{base}{CONFIRM}{token}");
    let (key, bearer) = (common::ENV[0].1, format!("Bearer {}", common::ENV[1].1));
    match kind {
        Kind::Reqwest => match clients
            .reqwest
            .get(url)
            .header("Apikey", key)
            .header("Authorization", bearer)
            .send()
            .await
        {
            Ok(r) => r.bytes().await.is_ok(),
            Err(_) => false,
        },
        Kind::Reconciler => matches!(
            clients
                .reconciler
                .confirm(ligdicash_reconciler::payment::Kind::Invoice, token)
                .await
                .exchange,
            Exchange::Reply { status: 200, .. }
        ),
    }
}
