//! The sandbox's payment page, as LigdiCash's hosted checkout: the page the create
//! endpoint links to, with "Pay" and "Fail" buttons. Settling posts the callback twice to
//! the invoice's `callback_url`, once as JSON and once as a form (with `custom_data` as a
//! JSON string), as LigdiCash does, unless the control API drops callbacks
//! (`PUT /_sandbox/callbacks {"drop": true}`) to simulate a lost one. A settled invoice is
//! closed ("Facture déjà clôturée", 409), unless the control API allows a contradiction
//! (`PUT /_sandbox/contradictions {"allow": true}`).

use super::{Invoice, Outcome, Sandbox, responses};
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
         <form method=\"post\" action=\"/pay/invoice/{token}/pay\"><button id=\"pay\">Pay</button></form>\
         <form method=\"post\" action=\"/pay/invoice/{token}/fail\"><button id=\"fail\">Fail</button></form>\
         </body></html>",
        amount = invoice.amount,
        order = escape(order),
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
