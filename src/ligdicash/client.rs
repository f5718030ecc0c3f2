//! The LigdiCash side of HTTP: the confirm and create URLs of each kind of payment
//! (invoices, withdrawals, straight payouts), the four documented headers (secrets marked
//! sensitive), and timing. [`super::transport`] carries the requests;
//! [`mod@super::classify`] decides what the exchanges mean.

use super::classify::Exchange;
use super::transport::{Limits, Transport, TransportSetupError};
use crate::config::{ConfirmStyle, Credentials};
use crate::payment::Kind;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};

/// Path of the confirm endpoint below `base_url`.
pub const CONFIRM_PATH: &str = "/pay/v01/redirect/checkout-invoice/confirm";
/// Path of the create endpoint below `base_url`.
pub const CREATE_PATH: &str = "/pay/v01/redirect/checkout-invoice/create";
/// Confirm of a withdrawal to a customer's LigdiCash wallet (`?withdrawalToken=`).
pub const WITHDRAWAL_CONFIRM_PATH: &str = "/pay/v01/withdrawal/confirm/";
/// Create of a withdrawal (the shop's side; the demo and the sandbox use it).
pub const WITHDRAWAL_CREATE_PATH: &str = "/pay/v01/withdrawal/create";
/// Confirm of a straight payout to a mobile-money number (`?payoutToken=`).
pub const PAYOUT_CONFIRM_PATH: &str = "/pay/v01/straight/payout/confirm/";
/// Create of a straight payout (the shop's side; the demo and the sandbox use it).
pub const PAYOUT_CREATE_PATH: &str = "/pay/v01/straight/payout";

/// Failure to build the client from configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid LigdiCash base_url: {0}")]
    BaseUrl(String),
    #[error("credentials contain characters not allowed in an HTTP header")]
    HeaderValue,
    #[error(transparent)]
    Transport(#[from] TransportSetupError),
}

/// A timed confirm exchange.
#[derive(Debug, Clone)]
pub struct Timed {
    pub exchange: Exchange,
    pub latency: Duration,
}

/// Client for the confirm (and, for the demo, create) endpoints. Cheap to clone: the
/// connection pool is shared.
#[derive(Clone)]
pub struct LigdicashClient {
    transport: std::sync::Arc<Transport>,
    /// The confirm URL without its query: `.../confirm/` or `.../confirm`.
    confirm_url: Url,
    /// The query key that carries the token: `invoiceToken` or `token`.
    token_key: &'static str,
    create_url: Url,
    /// Withdrawals and straight payouts: one documented form each, whatever the style.
    withdrawal_confirm_url: Url,
    payout_confirm_url: Url,
    withdrawal_create_url: Url,
    payout_create_url: Url,
}

impl std::fmt::Debug for LigdicashClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LigdicashClient")
            .field("confirm", &self.confirm_url.as_str())
            .field("route", &self.transport.route())
            .finish_non_exhaustive()
    }
}

/// Settings the client needs, split from [`crate::config::Config`] so tests build it easily.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub base_url: Url,
    pub style: ConfirmStyle,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub pool_size: usize,
}

impl ClientSettings {
    /// The client settings a configuration implies.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            base_url: config.base_url()?,
            style: config.ligdicash.confirm_style,
            connect_timeout: config.ligdicash.connect_timeout.0,
            request_timeout: config.ligdicash.request_timeout.0,
            pool_size: config.poll.concurrency,
        })
    }
}

impl LigdicashClient {
    /// Builds the one client the process uses; the secrets go into headers marked sensitive
    /// so they never show in `Debug` output.
    pub fn new(settings: &ClientSettings, creds: &Credentials) -> Result<Self, ClientError> {
        let base = settings.base_url.as_str().trim_end_matches('/');
        let url = |path: &str| {
            Url::parse(&format!("{base}{path}")).map_err(|e| ClientError::BaseUrl(e.to_string()))
        };
        let (confirm_url, token_key) = match settings.style {
            ConfirmStyle::InvoiceToken => (url(&format!("{CONFIRM_PATH}/"))?, "invoiceToken"),
            ConfirmStyle::Token => (url(CONFIRM_PATH)?, "token"),
        };
        let create_url = url(CREATE_PATH)?;
        let withdrawal_confirm_url = url(WITHDRAWAL_CONFIRM_PATH)?;
        let payout_confirm_url = url(PAYOUT_CONFIRM_PATH)?;
        let withdrawal_create_url = url(WITHDRAWAL_CREATE_PATH)?;
        let payout_create_url = url(PAYOUT_CREATE_PATH)?;
        let limits = Limits {
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
            pool_size: settings.pool_size,
        };
        let transport = Transport::new(&create_url, headers(creds)?, limits)?;
        Ok(Self {
            transport: std::sync::Arc::new(transport),
            confirm_url,
            token_key,
            create_url,
            withdrawal_confirm_url,
            payout_confirm_url,
            withdrawal_create_url,
            payout_create_url,
        })
    }

    /// `"direct"`, or `"proxy"` when the environment names a proxy for `base_url`.
    pub fn route(&self) -> &'static str {
        self.transport.route()
    }

    /// One confirm call of a payment of `kind`, at that kind's endpoint. Never fails:
    /// transport problems are part of the [`Exchange`].
    pub async fn confirm(&self, kind: Kind, token: &str) -> Timed {
        let started = Instant::now();
        let (mut url, key) = match kind {
            Kind::Invoice => (self.confirm_url.clone(), self.token_key),
            Kind::Withdrawal => (self.withdrawal_confirm_url.clone(), "withdrawalToken"),
            Kind::Payout => (self.payout_confirm_url.clone(), "payoutToken"),
        };
        // Form-encoded as a query value, as the SDKs send it: `+` for a space, `%2B` for `+`.
        url.query_pairs_mut().append_pair(key, token);
        let exchange = self.transport.send(Method::GET, url, Vec::new()).await;
        Timed {
            exchange,
            latency: started.elapsed(),
        }
    }

    /// Creates a hosted-payin invoice, as a shop does; returns the body as JSON text.
    /// The reconciler itself never creates invoices: the demo and benchmarks do.
    pub async fn create_invoice(&self, body: &serde_json::Value) -> Result<Vec<u8>, String> {
        self.create(self.create_url.clone(), body).await
    }

    /// Creates a withdrawal or a straight payout, as a shop does; returns the body as JSON
    /// text. The reconciler itself never sends money: the demo does, on the sandbox.
    pub async fn create_payout(
        &self,
        kind: Kind,
        body: &serde_json::Value,
    ) -> Result<Vec<u8>, String> {
        let url = match kind {
            Kind::Withdrawal => self.withdrawal_create_url.clone(),
            Kind::Payout | Kind::Invoice => self.payout_create_url.clone(),
        };
        self.create(url, body).await
    }

    async fn create(&self, url: Url, body: &serde_json::Value) -> Result<Vec<u8>, String> {
        let body = body.to_string().into_bytes();
        match self.transport.send(Method::POST, url, body).await {
            Exchange::Reply { status, body, .. } if (200..300).contains(&status) => Ok(body),
            Exchange::Reply { status, .. } => Err(format!("HTTP {status}")),
            Exchange::Failed(e) => Err(format!("{e:?}")),
        }
    }
}

/// The headers every request carries; the two secrets are marked sensitive.
fn headers(creds: &Credentials) -> Result<HeaderMap, ClientError> {
    let mut key = HeaderValue::from_str(creds.api_key.expose_secret())
        .map_err(|_| ClientError::HeaderValue)?;
    key.set_sensitive(true);
    let bearer = format!("Bearer {}", creds.api_token.expose_secret());
    let mut auth = HeaderValue::from_str(&bearer).map_err(|_| ClientError::HeaderValue)?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert("Apikey", key);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("ligdicash-reconciler/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A confirm answered with a redirect to another host: the redirect is reported as
    /// the answer and the other host never sees a request (nor the API key).
    #[tokio::test]
    async fn redirects_are_reported_not_followed() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let elsewhere_hits = Arc::new(AtomicUsize::new(0));
        let hits = elsewhere_hits.clone();
        let elsewhere = axum::Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        });
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = format!("http://{}/steal", other.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(other, elsewhere).await });
        let redirecting = axum::Router::new().fallback(move || {
            let target = target.clone();
            async move { (axum::http::StatusCode::FOUND, [("location", target)], "") }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, redirecting).await });
        let settings = ClientSettings {
            base_url: Url::parse(&base).unwrap(),
            style: ConfirmStyle::InvoiceToken,
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            pool_size: 1,
        };
        let client = LigdicashClient::new(&settings, &Credentials::fixed("KEY", "TOKEN")).unwrap();
        let timed = client.confirm(Kind::Invoice, "tok").await;
        assert!(
            matches!(timed.exchange, Exchange::Reply { status: 302, .. }),
            "{:?}",
            timed.exchange
        );
        assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    }

    /// What LigdiCash receives, for both confirm styles: the path, the token
    /// percent-encoded as a query value, and the documented headers.
    #[tokio::test]
    async fn confirm_sends_the_documented_request() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::<(String, axum::http::HeaderMap)>::new()));
        let log = seen.clone();
        let server = axum::Router::new().fallback(move |req: axum::extract::Request| {
            log.lock()
                .unwrap()
                .push((req.uri().to_string(), req.headers().clone()));
            async { "{}" }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, server).await });
        for style in [ConfirmStyle::InvoiceToken, ConfirmStyle::Token] {
            let settings = ClientSettings {
                base_url: Url::parse(&format!("{base}/")).unwrap(),
                style,
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(2),
                pool_size: 1,
            };
            let client =
                LigdicashClient::new(&settings, &Credentials::fixed("KEY", "TOKEN")).unwrap();
            let timed = client.confirm(Kind::Invoice, "eyJ.a b+c/=&d").await;
            assert!(
                matches!(timed.exchange, Exchange::Reply { status: 200, .. }),
                "{:?}",
                timed.exchange
            );
            // Payouts have one documented form each, whatever the invoices' style.
            for kind in [Kind::Withdrawal, Kind::Payout] {
                client.confirm(kind, "eyJ.a b").await;
            }
        }
        let seen = seen.lock().unwrap();
        let uris: Vec<&str> = seen.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(
            uris,
            [
                "/pay/v01/redirect/checkout-invoice/confirm/?invoiceToken=eyJ.a+b%2Bc%2F%3D%26d",
                "/pay/v01/withdrawal/confirm/?withdrawalToken=eyJ.a+b",
                "/pay/v01/straight/payout/confirm/?payoutToken=eyJ.a+b",
                "/pay/v01/redirect/checkout-invoice/confirm?token=eyJ.a+b%2Bc%2F%3D%26d",
                "/pay/v01/withdrawal/confirm/?withdrawalToken=eyJ.a+b",
                "/pay/v01/straight/payout/confirm/?payoutToken=eyJ.a+b",
            ]
        );
        let headers = &seen[0].1;
        assert_eq!(headers["apikey"], "KEY");
        assert_eq!(headers["authorization"], "Bearer TOKEN");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["content-type"], "application/json");
        assert!(
            headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("ligdicash-reconciler/")
        );
        assert!(headers["host"].to_str().unwrap().starts_with("127.0.0.1:"));
    }

    #[test]
    fn debug_output_hides_credentials() {
        let settings = ClientSettings {
            base_url: Url::parse("http://127.0.0.1:9").unwrap(),
            style: ConfirmStyle::Token,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            pool_size: 4,
        };
        let client =
            LigdicashClient::new(&settings, &Credentials::fixed("KEY-XYZ", "TOKEN-XYZ")).unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("XYZ"), "{debug}");
        assert!(debug.contains("/confirm"), "{debug}");
    }
}
