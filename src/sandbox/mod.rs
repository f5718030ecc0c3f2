//! A simulated LigdiCash API on loopback: `create` and `confirm` with the documented shapes
//! (invoices here, withdrawals and straight payouts in [`payouts`]), header checks
//! (`Code00`), a seeded scenario of outcomes and settle times, and fault injection. The demo, the integration tests and the benchmarks all use it.
//!
//! Control endpoints under `/_sandbox/` let tests create invoices with a chosen fate, switch
//! faults at run time, and read the truth back.

mod checkout;
mod control;
mod faults;
pub mod payouts;
pub mod responses;
pub mod scenario;

use crate::ligdicash::client::{CONFIRM_PATH, CREATE_PATH};
use crate::time::{Millis, now_ms};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use scenario::{Fate, Faults, Outcome, Scenario};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The credentials the sandbox accepts unless told otherwise.
pub const SANDBOX_API_KEY: &str = "sandbox-api-key";
pub const SANDBOX_API_TOKEN: &str = "sandbox-api-token";

/// Sandbox settings.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub api_key: String,
    pub api_token: String,
    pub scenario: Scenario,
    pub faults: Faults,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            api_key: SANDBOX_API_KEY.into(),
            api_token: SANDBOX_API_TOKEN.into(),
            scenario: Scenario::default(),
            faults: Faults::default(),
        }
    }
}

/// One invoice the sandbox knows.
#[derive(Debug, Clone, Serialize)]
pub struct Invoice {
    pub seq: u64,
    pub token: String,
    pub amount: i64,
    pub transaction_id: Option<String>,
    /// Reference the confirm answer reports, when a test wants it to differ.
    pub confirmed_transaction_id: Option<String>,
    pub created_at: Millis,
    pub fate: Fate,
    /// Wall-clock times of every confirm of this token, to check polling discipline.
    pub confirms: Vec<Millis>,
    /// The status the last answered confirm reported (a fault may have said `processing`
    /// after settlement), so a checker can tell a justified give-up from a wrong one.
    pub last_answer: Option<&'static str>,
    /// Where LigdiCash would post its callbacks (`actions.callback_url` at create).
    pub callback_url: Option<String>,
}

impl Invoice {
    /// The status LigdiCash would report at `now`.
    pub fn status_at(&self, now: Millis) -> &'static str {
        self.fate.status_at(self.created_at, now)
    }
}

/// A test's request for an invoice with a chosen fate.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceSpec {
    pub outcome: Outcome,
    pub amount: i64,
    #[serde(default)]
    pub paid_amount: Option<i64>,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub confirmed_transaction_id: Option<String>,
    #[serde(default)]
    pub settle_after_ms: i64,
}

#[derive(Debug)]
struct State_ {
    invoices: HashMap<String, Invoice>,
    /// Withdrawals and straight payouts, apart: an invoice's token is unknown at the
    /// payout endpoints, as at LigdiCash.
    payouts: HashMap<String, payouts::Payout>,
    rng: fastrand::Rng,
    next_seq: u64,
    faults: Faults,
    confirms: u64,
    /// Callbacks are not sent (a lost callback), as the control API asks.
    drop_callbacks: bool,
    /// The payment page may settle an invoice already settled (Pay after Fail), which
    /// LigdiCash documents as impossible: for tests of a callback contradicting a final
    /// status.
    allow_contradictions: bool,
}

/// The simulated API's state.
#[derive(Debug)]
pub struct Sandbox {
    cfg: SandboxConfig,
    state: Mutex<State_>,
}

impl Sandbox {
    pub fn new(cfg: SandboxConfig) -> Arc<Self> {
        let state = State_ {
            invoices: HashMap::new(),
            payouts: HashMap::new(),
            rng: fastrand::Rng::with_seed(cfg.scenario.seed),
            next_seq: 1,
            faults: cfg.faults.clone(),
            confirms: 0,
            drop_callbacks: false,
            allow_contradictions: false,
        };
        Arc::new(Self {
            cfg,
            state: Mutex::new(state),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State_> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an invoice with an explicit fate; returns its token.
    pub fn add_invoice(&self, spec: &InvoiceSpec) -> String {
        let fate = Fate {
            outcome: spec.outcome,
            settle_after_ms: spec.settle_after_ms,
            paid_amount: spec.paid_amount.unwrap_or(spec.amount),
        };
        self.insert(
            spec.amount,
            spec.transaction_id.clone(),
            spec.confirmed_transaction_id.clone(),
            Some(fate),
        )
    }

    fn insert(
        &self,
        amount: i64,
        transaction_id: Option<String>,
        confirmed_transaction_id: Option<String>,
        fate: Option<Fate>,
    ) -> String {
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        let fate =
            fate.unwrap_or_else(|| scenario::created_fate(&self.cfg.scenario, amount, &mut s.rng));
        let token = make_token(self.cfg.scenario.seed, seq, &mut s.rng);
        let invoice = Invoice {
            seq,
            token: token.clone(),
            amount,
            transaction_id,
            confirmed_transaction_id,
            created_at: now_ms(),
            fate,
            confirms: Vec::new(),
            last_answer: None,
            callback_url: None,
        };
        s.invoices.insert(token.clone(), invoice);
        token
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// One invoice's current record.
    pub fn invoice(&self, token: &str) -> Option<Invoice> {
        self.lock().invoices.get(token).cloned()
    }

    /// Every invoice, for checking the reconciler's results against the truth.
    pub fn invoices(&self) -> Vec<Invoice> {
        self.lock().invoices.values().cloned().collect()
    }

    /// Confirm calls served so far.
    pub fn confirm_count(&self) -> u64 {
        self.lock().confirms
    }

    /// Remembers where callbacks for `token` go.
    pub fn set_callback_url(&self, token: &str, url: &str) {
        if let Some(invoice) = self.lock().invoices.get_mut(token) {
            invoice.callback_url = Some(url.to_owned()).filter(|u| !u.is_empty());
        }
    }

    /// Loses every callback from now on (`true`), or sends them again.
    pub fn drop_callbacks(&self, drop: bool) {
        self.lock().drop_callbacks = drop;
    }

    /// Lets the payment page settle an invoice again after it settled (`true`), or closes
    /// settled invoices as LigdiCash does (the default).
    pub fn allow_contradictions(&self, allow: bool) {
        self.lock().allow_contradictions = allow;
    }

    /// Whether the payment page refuses to settle `token` again: it has settled already
    /// (LigdiCash documents `completed` and `notcompleted` as final), and contradictions
    /// are not allowed.
    pub fn closed(&self, token: &str) -> bool {
        let s = self.lock();
        let settled = s
            .invoices
            .get(token)
            .is_some_and(|i| i.status_at(now_ms()) != "pending");
        settled && !s.allow_contradictions
    }

    /// Settles an invoice now with `outcome`, whatever its fate said; false if unknown.
    pub fn settle_now(&self, token: &str, outcome: Outcome) -> bool {
        let mut s = self.lock();
        let Some(invoice) = s.invoices.get_mut(token) else {
            return false;
        };
        invoice.fate.outcome = outcome;
        invoice.fate.settle_after_ms = (now_ms() - invoice.created_at).max(0);
        true
    }
}

/// A JWT-looking token, unique and reproducible for a seed.
fn make_token(seed: u64, seq: u64, rng: &mut fastrand::Rng) -> String {
    format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{:016x}{:08x}.{:016x}",
        seed,
        seq,
        rng.u64(..)
    )
}

/// A sandbox serving on a loopback port until its token is cancelled.
#[derive(Debug)]
pub struct RunningSandbox {
    pub addr: SocketAddr,
    pub sandbox: Arc<Sandbox>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`, the `base_url` to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds `addr` (port 0 for any free port) and serves in a background task.
pub async fn spawn(addr: SocketAddr, cfg: SandboxConfig) -> std::io::Result<RunningSandbox> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sandbox = Sandbox::new(cfg);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, sandbox.clone(), shutdown.clone()));
    Ok(RunningSandbox {
        addr,
        sandbox,
        shutdown,
        task,
    })
}

/// Serves the sandbox API on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(sandbox);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route(CREATE_PATH, post(create))
        .route(CONFIRM_PATH, get(confirm))
        .route(&format!("{CONFIRM_PATH}/"), get(confirm))
        .merge(control::routes())
        .merge(payouts::routes())
        .merge(checkout::routes())
        .with_state(sandbox)
}

fn authorized(sandbox: &Sandbox, headers: &HeaderMap) -> bool {
    let key = headers.get("apikey").and_then(|v| v.to_str().ok());
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let bearer = format!("Bearer {}", sandbox.cfg.api_token);
    key == Some(sandbox.cfg.api_key.as_str()) && auth == Some(bearer.as_str())
}

async fn create(State(sb): State<Arc<Sandbox>>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&sb, &headers) {
        return Json(responses::api_error("00", true)).into_response();
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return Json(responses::api_error("04", true)).into_response();
    };
    let commande = &body["commande"];
    let amount = commande["invoice"]["total_amount"]
        .as_i64()
        .filter(|a| *a > 0);
    let Some(amount) = amount else {
        return Json(responses::api_error("04", true)).into_response();
    };
    let transaction_id = commande["custom_data"]["transaction_id"]
        .as_str()
        .or_else(|| commande["invoice"]["external_id"].as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let token = sb.insert(amount, transaction_id, None, None);
    if let Some(url) = commande["actions"]["callback_url"].as_str() {
        sb.set_callback_url(&token, url);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let url = format!("http://{host}/pay/invoice/{token}");
    Json(responses::created(&token, &url)).into_response()
}

async fn confirm(
    State(sb): State<Arc<Sandbox>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let unknown_status = match faults::before_confirm(&sb, &headers).await {
        Ok(unknown_status) => unknown_status,
        Err(fault) => return fault,
    };
    let token = query.get("invoiceToken").or_else(|| query.get("token"));
    let now = now_ms();
    let mut s = sb.lock();
    s.confirms += 1;
    let Some(invoice) = token.and_then(|t| s.invoices.get_mut(t)) else {
        return Json(responses::api_error("02", false)).into_response();
    };
    invoice.confirms.push(now);
    let status = if unknown_status {
        "processing"
    } else {
        invoice.status_at(now)
    };
    invoice.last_answer = Some(status);
    let variant = sb.cfg.scenario.type_variants && invoice.seq % 3 == 0;
    Json(responses::confirm(invoice, status, variant)).into_response()
}

fn html(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html")], body)
}
