//! Withdrawals (to a customer's LigdiCash wallet) and straight payouts (to a mobile-money
//! number) at the sandbox: their create and confirm endpoints with LigdiCash's payout
//! answer shapes (string amounts, an integer `operator_id`, `custom_data` `[]`), fates drawn
//! from the scenario (some stay pending for days, some settle late), and a control API that
//! creates one with a chosen fate or settles one now.
//!
//! Payouts are kept apart from invoices: an invoice's token confirmed at a payout endpoint
//! is unknown there (`Echec (Code02)`), as at LigdiCash.

use super::{Fate, Outcome, Sandbox, authorized, faults, make_token, responses, scenario};
use crate::ligdicash::client::{
    PAYOUT_CONFIRM_PATH, PAYOUT_CREATE_PATH, WITHDRAWAL_CONFIRM_PATH, WITHDRAWAL_CREATE_PATH,
};
use crate::payment::Kind;
use crate::time::{Millis, now_ms};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// One withdrawal or straight payout the sandbox knows.
#[derive(Debug, Clone, Serialize)]
pub struct Payout {
    pub seq: u64,
    pub token: String,
    pub kind: Kind,
    pub amount: i64,
    pub transaction_id: Option<String>,
    /// The receiving number, as the shop gave it.
    pub customer: String,
    pub created_at: Millis,
    pub fate: Fate,
    /// Wall-clock times of every confirm of this token.
    pub confirms: Vec<Millis>,
    pub last_answer: Option<&'static str>,
}

impl Payout {
    /// The status LigdiCash would report at `now`.
    pub fn status_at(&self, now: Millis) -> &'static str {
        self.fate.status_at(self.created_at, now)
    }
}

/// A request for a payout with a chosen fate (the control API, tests, the demo).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutSpec {
    /// `withdrawal` or `payout`.
    pub kind: Kind,
    pub outcome: Outcome,
    pub amount: i64,
    /// What LigdiCash reports as sent, when a test wants it to differ.
    #[serde(default)]
    pub paid_amount: Option<i64>,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub settle_after_ms: i64,
}

impl Sandbox {
    /// Registers a payout with an explicit fate; returns its token. An `invoice` kind is
    /// taken as a straight payout.
    pub fn add_payout(&self, spec: &PayoutSpec) -> String {
        let fate = Fate {
            outcome: spec.outcome,
            settle_after_ms: spec.settle_after_ms,
            paid_amount: spec.paid_amount.unwrap_or(spec.amount),
        };
        let kind = money_out(spec.kind);
        self.insert_payout(kind, spec.amount, spec.transaction_id.clone(), Some(fate))
    }

    fn insert_payout(
        &self,
        kind: Kind,
        amount: i64,
        transaction_id: Option<String>,
        fate: Option<Fate>,
    ) -> String {
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        let fate = fate
            .unwrap_or_else(|| scenario::draw_payout_fate(&self.cfg.scenario, amount, &mut s.rng));
        let token = make_token(self.cfg.scenario.seed, seq, &mut s.rng);
        let payout = Payout {
            seq,
            token: token.clone(),
            kind,
            amount,
            transaction_id,
            customer: format!("2267{:07}", seq % 10_000_000),
            created_at: now_ms(),
            fate,
            confirms: Vec::new(),
            last_answer: None,
        };
        s.payouts.insert(token.clone(), payout);
        token
    }

    /// One payout's current record.
    pub fn payout(&self, token: &str) -> Option<Payout> {
        self.lock().payouts.get(token).cloned()
    }

    /// Every payout, for checking the reconciler's results against the truth.
    pub fn payouts(&self) -> Vec<Payout> {
        self.lock().payouts.values().cloned().collect()
    }

    /// Settles a payout now with `outcome`, whatever its fate said; false if unknown.
    pub fn settle_payout(&self, token: &str, outcome: Outcome) -> bool {
        let mut s = self.lock();
        let Some(payout) = s.payouts.get_mut(token) else {
            return false;
        };
        payout.fate.outcome = outcome;
        payout.fate.settle_after_ms = (now_ms() - payout.created_at).max(0);
        true
    }
}

/// Money out only: a payout asked for as an invoice is a straight payout.
fn money_out(kind: Kind) -> Kind {
    match kind {
        Kind::Invoice => Kind::Payout,
        other => other,
    }
}

pub fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route(WITHDRAWAL_CREATE_PATH, post(create_withdrawal))
        .route(PAYOUT_CREATE_PATH, post(create_payout))
        .route(WITHDRAWAL_CONFIRM_PATH, get(confirm_withdrawal))
        .route(
            WITHDRAWAL_CONFIRM_PATH.trim_end_matches('/'),
            get(confirm_withdrawal),
        )
        .route(PAYOUT_CONFIRM_PATH, get(confirm_payout))
        .route(
            PAYOUT_CONFIRM_PATH.trim_end_matches('/'),
            get(confirm_payout),
        )
        .route("/_sandbox/payouts", post(control_add))
        .route("/_sandbox/payouts/{token}", get(control_get))
        .route("/_sandbox/payouts/{token}/settle", post(control_settle))
}

async fn create_withdrawal(sb: State<Arc<Sandbox>>, headers: HeaderMap, body: String) -> Response {
    create(sb, headers, body, Kind::Withdrawal)
}

async fn create_payout(sb: State<Arc<Sandbox>>, headers: HeaderMap, body: String) -> Response {
    create(sb, headers, body, Kind::Payout)
}

/// `{"commande": {"amount": 100, "customer": "226...", "custom_data": {"transaction_id":
/// ...}, "description": ..., "callback_url": ...}}`, the amount a number or a string.
fn create(
    State(sb): State<Arc<Sandbox>>,
    headers: HeaderMap,
    body: String,
    kind: Kind,
) -> Response {
    if !authorized(&sb, &headers) {
        return Json(responses::api_error("00", true)).into_response();
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return Json(responses::api_error("04", true)).into_response();
    };
    let commande = &body["commande"];
    let amount = match &commande["amount"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(amount) = amount.filter(|a| *a > 0) else {
        return Json(responses::api_error("04", true)).into_response();
    };
    let transaction_id = commande["custom_data"]["transaction_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let token = sb.insert_payout(kind, amount, transaction_id, None);
    Json(responses::payout_created(&token)).into_response()
}

async fn confirm_withdrawal(
    sb: State<Arc<Sandbox>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    confirm(sb, headers, query.get("withdrawalToken"), Kind::Withdrawal).await
}

async fn confirm_payout(
    sb: State<Arc<Sandbox>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    confirm(sb, headers, query.get("payoutToken"), Kind::Payout).await
}

/// A token of another kind (an invoice's, a withdrawal's at the payout endpoint) is unknown
/// here: `Echec (Code02)`.
async fn confirm(
    State(sb): State<Arc<Sandbox>>,
    headers: HeaderMap,
    token: Option<&String>,
    kind: Kind,
) -> Response {
    let unknown_status = match faults::before_confirm(&sb, &headers).await {
        Ok(unknown_status) => unknown_status,
        Err(fault) => return fault,
    };
    let now = now_ms();
    let mut s = sb.lock();
    s.confirms += 1;
    let found = token.and_then(|t| s.payouts.get_mut(t.as_str()));
    let Some(payout) = found.filter(|p| p.kind == kind) else {
        return Json(responses::api_error("02", false)).into_response();
    };
    payout.confirms.push(now);
    let status = if unknown_status {
        "processing"
    } else {
        payout.status_at(now)
    };
    payout.last_answer = Some(status);
    Json(responses::payout_confirm(payout, status)).into_response()
}

async fn control_add(State(sb): State<Arc<Sandbox>>, Json(spec): Json<PayoutSpec>) -> Response {
    let token = sb.add_payout(&spec);
    Json(serde_json::json!({ "token": token })).into_response()
}

async fn control_get(State(sb): State<Arc<Sandbox>>, UrlPath(token): UrlPath<String>) -> Response {
    match sb.payout(&token) {
        Some(payout) => {
            let status = payout.status_at(now_ms());
            Json(serde_json::json!({ "status": status, "payout": payout })).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The body of `POST /_sandbox/payouts/{token}/settle`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settle {
    outcome: Outcome,
}

async fn control_settle(
    State(sb): State<Arc<Sandbox>>,
    UrlPath(token): UrlPath<String>,
    Json(settle): Json<Settle>,
) -> StatusCode {
    if sb.settle_payout(&token, settle.outcome) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
