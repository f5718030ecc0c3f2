//! The sandbox's payment page, as LigdiCash's hosted checkout: the page the create
//! endpoint links to, with "Pay" and "Fail" buttons. Settling posts the callback twice to
//! the invoice's `callback_url`, once as JSON and once as a form (with `custom_data` as a
//! JSON string), as LigdiCash does, unless the control API drops callbacks
//! (`PUT /_sandbox/callbacks {"drop": true}`) to simulate a lost one. A settled invoice is
//! closed ("Facture déjà clôturée", 409), as LigdiCash documents `completed` and
//! `notcompleted` as final, unless the control API allows a contradiction
//! (`PUT /_sandbox/contradictions {"allow": true}`).
//!
//! Unlike LigdiCash's, the page says how the invoice ends if nobody presses anything: an
//! invoice whose drawn fate is `completed` or `notcompleted` settles by itself after its
//! settle delay, without any callback, often before a person has read the page; one made
//! under `sandbox --wait-for-pay` waits for a button.

use super::{Invoice, Outcome, Sandbox, responses};
use crate::time::now_ms;
use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/pay/invoice/{token}", get(page))
        .route("/pay/invoice/{token}/{action}", post(settle))
        .route("/_sandbox/callbacks", put(control))
        .route("/_sandbox/contradictions", put(contradictions))
}

async fn page(State(sb): State<Arc<Sandbox>>, UrlPath(token): UrlPath<String>) -> Response {
    let Some(invoice) = sb.invoice(&token) else {
        return (StatusCode::NOT_FOUND, Html("<h1>Unknown invoice</h1>")).into_response();
    };
    let order = invoice.transaction_id.as_deref().unwrap_or("-");
    Html(format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>LigdiCash sandbox</title></head>\
         <body><h1>LigdiCash sandbox: paiement</h1>\
         <p>Montant : <b id=\"amount\">{amount} XOF</b> — commande <b id=\"order\">{order}</b></p>\
         <p id=\"fate\">{fate}</p>\
         <form method=\"post\" action=\"/pay/invoice/{token}/pay\"><button id=\"pay\">Pay</button></form>\
         <form method=\"post\" action=\"/pay/invoice/{token}/fail\"><button id=\"fail\">Fail</button></form>\
         </body></html>",
        amount = invoice.amount,
        order = escape(order),
        fate = fate_note(&invoice, now_ms()),
        token = escape(&token),
    ))
    .into_response()
}

async fn settle(
    State(sb): State<Arc<Sandbox>>,
    UrlPath((token, action)): UrlPath<(String, String)>,
) -> Response {
    let outcome = match action.as_str() {
        "pay" => Outcome::Completed,
        "fail" => Outcome::NotCompleted,
        _ => return (StatusCode::NOT_FOUND, Html("<h1>Unknown action</h1>")).into_response(),
    };
    if sb.closed(&token) {
        // As LigdiCash: a settled invoice's page no longer pays nor fails.
        return (
            StatusCode::CONFLICT,
            Html(
                "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Facture clôturée</title></head>\
                 <body><h1 id=\"result\">Facture déjà clôturée</h1></body></html>",
            ),
        )
            .into_response();
    }
    if !sb.settle_now(&token, outcome) {
        return (StatusCode::NOT_FOUND, Html("<h1>Unknown invoice</h1>")).into_response();
    }
    if let Some(invoice) = sb.invoice(&token)
        && let Some(url) = invoice.callback_url.clone()
        && !sb.lock().drop_callbacks
    {
        tokio::spawn(post_callbacks(url, invoice));
    }
    let word = if outcome == Outcome::Completed {
        "Paiement effectué"
    } else {
        "Paiement échoué"
    };
    Html(format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{word}</title></head>\
         <body><h1 id=\"result\">{word}</h1></body></html>"
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackControl {
    drop: bool,
}

async fn control(State(sb): State<Arc<Sandbox>>, Json(c): Json<CallbackControl>) -> StatusCode {
    sb.drop_callbacks(c.drop);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContradictionControl {
    allow: bool,
}

/// `PUT /_sandbox/contradictions {"allow": true}`: Pay after Fail (or Fail after Pay) on
/// the payment page settles the invoice again and posts its callbacks, so a test can show
/// a callback contradicting a final status. Off by default, as LigdiCash.
async fn contradictions(
    State(sb): State<Arc<Sandbox>>,
    Json(c): Json<ContradictionControl>,
) -> StatusCode {
    sb.allow_contradictions(c.allow);
    StatusCode::NO_CONTENT
}

/// LigdiCash's double POST: the JSON copy, then the form copy. The callback's `token` is
/// empty, as LigdiCash documents it. Failures are the receiver's problem: LigdiCash does
/// not retry either.
async fn post_callbacks(url: String, invoice: Invoice) {
    let status = if invoice.fate.outcome == Outcome::Completed {
        "completed"
    } else {
        "notcompleted"
    };
    let mut body = responses::confirm(&invoice, status, false);
    body["token"] = Value::String(String::new());
    let form: Vec<(String, String)> = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let json = client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.to_string());
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let form = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encoded);
    for request in [json, form] {
        if let Err(e) = request.send().await {
            tracing::warn!(error = %e, "sandbox: callback not delivered");
        }
    }
}

/// What becomes of the invoice if nobody presses a button, as the sandbox's scenario drew
/// it: a person testing a shop by hand must not take a failure the sandbox settled by
/// itself, silently, for a bug of the shop. Plain text (no markup to escape).
fn fate_note(invoice: &Invoice, now: crate::time::Millis) -> String {
    let after = invoice.fate.settle_after_ms as f64 / 1000.0;
    let (will, did) = match invoice.fate.outcome {
        Outcome::Never => {
            return "Sandbox: this invoice waits for a button. Pay settles it completed, Fail \
                    notcompleted, and either sends the callback."
                .to_owned();
        }
        Outcome::Completed => (
            "settles by itself as completed",
            "settled by itself as completed",
        ),
        Outcome::NotCompleted => (
            "fails by itself (notcompleted)",
            "failed by itself (notcompleted)",
        ),
    };
    let settled = now >= invoice.created_at + invoice.fate.settle_after_ms;
    let (lead, verb, again) = if settled {
        ("this invoice already", did, " again")
    } else {
        ("unless you press a button first, this invoice", will, "")
    };
    format!(
        "Sandbox: {lead} {verb} {after:.1} s after its creation, without any callback: the \
         fate the sandbox drew for it. A button settles it{again} as you choose and sends the \
         callback; to have every invoice wait for a button, start the sandbox with \
         --wait-for-pay."
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::{InvoiceSpec, SANDBOX_API_KEY, SANDBOX_API_TOKEN, SandboxConfig, spawn};
    use super::*;

    async fn text(url: String) -> String {
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }

    /// The status the sandbox would report now for `token`.
    async fn status(base: &str, token: &str) -> String {
        let shown = text(format!("{base}/_sandbox/invoices/{token}")).await;
        let shown: Value = serde_json::from_str(&shown).unwrap();
        shown["status"].as_str().unwrap().to_owned()
    }

    fn spec(outcome: Outcome, settle_after_ms: i64) -> InvoiceSpec {
        InvoiceSpec {
            outcome,
            amount: 5000,
            paid_amount: None,
            transaction_id: Some("ORD-1".into()),
            confirmed_transaction_id: None,
            settle_after_ms,
        }
    }

    /// A person on the page learns what happens if nobody presses anything, before it
    /// happens and after.
    #[tokio::test]
    async fn the_page_says_how_an_invoice_ends_if_nobody_presses_a_button() {
        let running = spawn(([127, 0, 0, 1], 0).into(), SandboxConfig::default())
            .await
            .unwrap();
        let page = |token: String| text(format!("{}/pay/invoice/{token}", running.base_url()));
        let failing = running
            .sandbox
            .add_invoice(&spec(Outcome::NotCompleted, 60_000));
        let said = page(failing).await;
        assert!(
            said.contains("unless you press a button first, this invoice fails by itself (notcompleted) 60.0 s after its creation, without any callback")
                && said.contains("--wait-for-pay"),
            "{said}"
        );
        let paid = running.sandbox.add_invoice(&spec(Outcome::Completed, 0));
        let said = page(paid).await;
        assert!(
            said.contains("this invoice already settled by itself as completed 0.0 s after"),
            "{said}"
        );
        let waiting = running.sandbox.add_invoice(&spec(Outcome::Never, 0));
        assert!(
            page(waiting)
                .await
                .contains("this invoice waits for a button")
        );
    }

    /// Under `--wait-for-pay`, invoices made through the create endpoint stay pending
    /// past the settle delay drawn for them, until Pay; without it, they settle by
    /// themselves.
    #[tokio::test]
    async fn with_wait_for_pay_a_created_invoice_waits_for_the_button() {
        let created = |wait_for_pay: bool| async move {
            let mut cfg = SandboxConfig::default();
            (cfg.scenario.settle_min_ms, cfg.scenario.settle_max_ms) = (1, 1);
            cfg.scenario.wait_for_pay = wait_for_pay;
            let running = spawn(([127, 0, 0, 1], 0).into(), cfg).await.unwrap();
            let client = reqwest::Client::new();
            let body = serde_json::json!({"commande": {"invoice": {"total_amount": 5000}}});
            let mut tokens = Vec::new();
            for _ in 0..20 {
                let answer = client
                    .post(format!(
                        "{}{}",
                        running.base_url(),
                        crate::ligdicash::client::CREATE_PATH
                    ))
                    .header("Apikey", SANDBOX_API_KEY)
                    .header("Authorization", format!("Bearer {SANDBOX_API_TOKEN}"))
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let answer: Value = serde_json::from_str(&answer).unwrap();
                tokens.push(answer["token"].as_str().unwrap().to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            (running, tokens)
        };
        let (running, tokens) = created(false).await;
        let mut settled = 0;
        for token in &tokens {
            settled += usize::from(status(&running.base_url(), token).await != "pending");
        }
        assert!(
            settled > 10,
            "without the wait most settle by themselves: {settled}"
        );

        let (running, tokens) = created(true).await;
        for token in &tokens {
            assert_eq!(status(&running.base_url(), token).await, "pending");
        }
        let page = text(format!("{}/pay/invoice/{}", running.base_url(), tokens[0])).await;
        assert!(page.contains("this invoice waits for a button"), "{page}");
        let pay = format!("{}/pay/invoice/{}/pay", running.base_url(), tokens[0]);
        reqwest::Client::new().post(pay).send().await.unwrap();
        assert_eq!(status(&running.base_url(), &tokens[0]).await, "completed");
    }
}
