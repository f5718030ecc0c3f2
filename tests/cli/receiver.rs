//! A webhook receiver on loopback that checks signatures with its own HMAC code (not the
//! crate's), answers from a script, and records what it got.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One scripted answer; when the script is empty the receiver answers 204.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub at: std::time::Instant,
    pub id: String,
    pub body: serde_json::Value,
    pub signature_ok: bool,
}

#[derive(Default)]
pub struct Receiver {
    pub script: Mutex<VecDeque<Reply>>,
    pub received: Mutex<Vec<Received>>,
}

impl Receiver {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn ids(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.id).collect()
    }
}

/// Starts a receiver on `listener`, answering from `script`.
pub fn serve(listener: tokio::net::TcpListener, script: Vec<Reply>) -> Arc<Receiver> {
    let receiver = Arc::new(Receiver {
        script: Mutex::new(script.into()),
        received: Mutex::default(),
    });
    let app = Router::new()
        .route("/hook", post(handle))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    receiver
}

pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    (listener, url)
}

fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", get("webhook-id"), get("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    get("webhook-signature").split(' ').any(|s| s == expected)
}

async fn handle(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> Response {
    let reply = r.script.lock().unwrap().pop_front();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    r.received.lock().unwrap().push(Received {
        at: std::time::Instant::now(),
        id,
        signature_ok: verify(&headers, body.as_bytes()),
        body: serde_json::from_str(&body).unwrap_or_default(),
    });
    // Recorded before sleeping: a client that times out drops this handler mid-sleep.
    if let Some(Reply::Slow(d)) = &reply {
        tokio::time::sleep(*d).await;
    }
    let status = |code: u16| StatusCode::from_u16(code).unwrap();
    match reply {
        Some(Reply::Status(code)) => status(code).into_response(),
        Some(Reply::RetryAfter(code, secs)) => {
            (status(code), [(header::RETRY_AFTER, secs.to_string())]).into_response()
        }
        Some(Reply::Slow(_)) | None => StatusCode::NO_CONTENT.into_response(),
    }
}
