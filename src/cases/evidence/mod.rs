//! The evidence file of a payment: everything the reconciler knows about it, in one
//! self-contained file a shop's support person can send (to the customer, the accountant,
//! LigdiCash support) when a payment is disputed.
//!
//! One document, two forms: JSON (the record, with the exact text of every answer,
//! callback and event as received or sent) and HTML (the same for a person, in French or
//! English, one file with its style inline). The SHA-256 of the JSON is printed and shown
//! in the HTML, so the JSON someone was sent can be checked later with `sha256sum`.
//!
//! Built purely from the store's [`EvidenceFacts`] (read in one snapshot): the payment's
//! row, every confirm call with the answer it got as received (the response body, its
//! first 8 KiB when longer), every callback kept, every event with each delivery try, its
//! cases. The payment's last answer is also kept whole (`last_answer_as_received`): the
//! only one there is for calls logged before schema version 9. Nothing secret is in them: the store never keeps a credential, a webhook secret
//! or a bearer token, and delivery errors never hold a URL's key.

mod html;
mod timeline;
mod words;

use crate::config::ReportLanguage as Language;
use crate::config::{Config, ConfigError};
use crate::ligdicash::client::{CONFIRM_PATH, PAYOUT_CONFIRM_PATH, WITHDRAWAL_CONFIRM_PATH};
use crate::store::EvidenceFacts;
use crate::time::{Millis, rfc3339};
use chrono_tz::Tz;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
pub use timeline::{Entry, Step, timeline};

/// The version of the JSON's layout, in the file: a reader can tell a later one.
pub const FORMAT: u32 = 1;

/// What a file is built with besides the facts.
#[derive(Debug, Clone)]
pub struct Context {
    pub generated_at: Millis,
    /// LigdiCash's base URL as configured now (the calls went to its confirm endpoints).
    pub base_url: String,
    pub language: Language,
    /// The time zone the HTML shows times in (`[report] time_zone`).
    pub zone: Tz,
}

/// What a file is built with from the configuration: all of its [`Context`] but the time.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: String,
    /// `[report] language`, unless a request asks for the other.
    pub language: Language,
    pub zone: Tz,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: config.shown_base_url(),
            language: config.report.language,
            zone: config.report.zone()?,
        })
    }

    /// The context of a file made at `now`, in `language` (else the configured one).
    pub fn at(&self, now: Millis, language: Option<Language>) -> Context {
        Context {
            generated_at: now,
            base_url: self.base_url.clone(),
            language: language.unwrap_or(self.language),
            zone: self.zone,
        }
    }
}

/// The two forms of one evidence file.
#[derive(Debug, Clone)]
pub struct EvidenceFile {
    pub json: String,
    /// The SHA-256 of `json`'s bytes, in lower-case hexadecimal.
    pub sha256: String,
    pub html: String,
}

/// Builds the file: the JSON, its SHA-256, and the HTML that shows it.
pub fn build(facts: &EvidenceFacts, ctx: &Context) -> EvidenceFile {
    // Serialising plain values cannot fail; the compact form is the fallback all the same.
    let document = document(facts, ctx);
    let mut json = serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string());
    json.push('\n');
    let sha256 = hex(&Sha256::digest(json.as_bytes()));
    let html = html::page(facts, ctx, &sha256);
    EvidenceFile { json, sha256, html }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The confirm endpoint (below `base_url`) a payment of `kind` is asked at.
pub fn endpoint(kind: &str) -> &'static str {
    match kind {
        "withdrawal" => WITHDRAWAL_CONFIRM_PATH,
        "payout" => PAYOUT_CONFIRM_PATH,
        _ => CONFIRM_PATH,
    }
}

/// The name the files are written under: `evidence-<order>-<token end>` with only letters,
/// digits, `-` and `_`, so any file system takes it.
pub fn file_stem(facts: &EvidenceFacts) -> String {
    let p = &facts.payment;
    let tail: String = p
        .token
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let order = p.transaction_id.as_deref().unwrap_or("payment");
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect()
    };
    format!("evidence-{}-{}", safe(order), safe(&tail))
}

/// The JSON document.
pub fn document(f: &EvidenceFacts, ctx: &Context) -> Value {
    let p = &f.payment;
    let calls: Vec<Value> = f
        .attempts
        .iter()
        .map(|a| {
            json!({
                "sent_at": rfc3339(a.at),
                "endpoint": endpoint(&p.kind),
                "http_status": a.http_status,
                "duration_ms": a.latency_ms,
                "response_code": a.response_code,
                "status": a.provider_status,
                "outcome": a.outcome,
                "error": a.error,
                "answer_as_received": a.answer,
            })
        })
        .collect();
    let callbacks: Vec<Value> = f
        .callbacks
        .iter()
        .map(|c| {
            json!({
                "received_at": rfc3339(c.received_at),
                "content_type": c.content_type,
                "source": c.source,
                "matched_by": c.matched_by,
                "said_status": c.said_status,
                "body": c.body,
            })
        })
        .collect();
    let events: Vec<Value> = f.events.iter().map(event).collect();
    let cases: Vec<Value> = f
        .cases
        .iter()
        .map(|c| c.to_json(ctx.generated_at))
        .collect();
    let steps: Vec<Value> = timeline(f)
        .iter()
        .map(|e| {
            json!({
                "at": rfc3339(e.at),
                "step": e.step.code(),
                "summary": e.step.summary(p, Language::English),
            })
        })
        .collect();
    json!({
        "evidence": {
            "format": FORMAT,
            "generated_at": rfc3339(ctx.generated_at),
            "generator": concat!("ligdicash-reconciler ", env!("CARGO_PKG_VERSION")),
            "ligdicash_base_url": ctx.base_url,
        },
        "payment": p.to_json(),
        "last_answer_as_received": p.raw_response,
        "confirm_calls": calls,
        "callbacks": callbacks,
        "events": events,
        "cases": cases,
        "timeline": steps,
    })
}

/// An event with its deliveries and every try; the payload exactly as every sink got it.
fn event(e: &crate::store::model::evidence::EventEvidence) -> Value {
    let deliveries: Vec<Value> = e
        .deliveries
        .iter()
        .map(|d| {
            json!({
                "sink": d.sink,
                "state": d.state,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "delivered_at": d.delivered_at.map(rfc3339),
            })
        })
        .collect();
    let tries: Vec<Value> = e
        .tries
        .iter()
        .map(|t| json!({"at": rfc3339(t.at), "sink": t.sink, "result": t.result, "error": t.error}))
        .collect();
    json!({
        "id": e.event.id,
        "type": e.event.kind,
        "created_at": rfc3339(e.event.created_at),
        "state": e.event.state,
        "payload": e.event.payload,
        "deliveries": deliveries,
        "tries": tries,
    })
}

#[cfg(test)]
mod tests;
