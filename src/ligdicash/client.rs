//! The HTTP side of LigdiCash: one pooled rustls client, the four documented headers, and
//! bounded reads. It reports exchanges; [`super::classify`] decides what they mean.

use super::classify::{Exchange, TransportError};
use crate::config::{ConfirmStyle, Credentials};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Client, Url};
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};

/// Bodies larger than this are cut off: a confirm answer is about 1 KiB.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Path of the confirm endpoint below `base_url`.
pub const CONFIRM_PATH: &str = "/pay/v01/redirect/checkout-invoice/confirm";
/// Path of the create endpoint below `base_url`.
pub const CREATE_PATH: &str = "/pay/v01/redirect/checkout-invoice/create";

/// Failure to build the client from configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid LigdiCash base_url: {0}")]
    BaseUrl(String),
    #[error("credentials contain characters not allowed in an HTTP header")]
    HeaderValue,
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// A timed confirm exchange.
#[derive(Debug, Clone)]
pub struct Timed {
    pub exchange: Exchange,
    pub latency: Duration,
}

/// Client for the confirm (and, for the demo, create) endpoints.
#[derive(Clone)]
pub struct LigdicashClient {
    http: Client,
    confirm_url: Url,
    create_url: Url,
    style: ConfirmStyle,
}

impl std::fmt::Debug for LigdicashClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LigdicashClient")
            .field("confirm_url", &self.confirm_url.as_str())
            .field("style", &self.style)
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
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_str(creds.api_key.expose_secret())
            .map_err(|_| ClientError::HeaderValue)?;
        key.set_sensitive(true);
        let bearer = format!("Bearer {}", creds.api_token.expose_secret());
        let mut auth = HeaderValue::from_str(&bearer).map_err(|_| ClientError::HeaderValue)?;
        auth.set_sensitive(true);
        headers.insert("Apikey", key);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Redirects are not followed: reqwest drops `Authorization` on a cross-host
        // redirect but would send `Apikey` on to wherever a redirect points. In-call
        // retries are off too, so one attempt row is exactly one request; the poller's
        // schedule does the retrying.
        let http = Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .pool_max_idle_per_host(settings.pool_size)
            .user_agent(concat!("ligdicash-reconciler/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        let join = |path: &str| {
            let base = settings.base_url.as_str().trim_end_matches('/');
            Url::parse(&format!("{base}{path}")).map_err(|e| ClientError::BaseUrl(e.to_string()))
        };
        let confirm_path = match settings.style {
            ConfirmStyle::InvoiceToken => format!("{CONFIRM_PATH}/"),
            ConfirmStyle::Token => CONFIRM_PATH.to_owned(),
        };
        Ok(Self {
            http,
            confirm_url: join(&confirm_path)?,
            create_url: join(CREATE_PATH)?,
            style: settings.style,
        })
    }

    /// One confirm call. Never fails: transport problems are part of the [`Exchange`].
    pub async fn confirm(&self, token: &str) -> Timed {
        let param = match self.style {
            ConfirmStyle::InvoiceToken => "invoiceToken",
            ConfirmStyle::Token => "token",
        };
        let started = Instant::now();
        let mut url = self.confirm_url.clone();
        url.query_pairs_mut().append_pair(param, token);
        let exchange = match self.http.get(url).send().await {
            Ok(response) => read_reply(response).await,
            Err(e) => Exchange::Failed(transport_error(&e)),
        };
        Timed {
            exchange,
            latency: started.elapsed(),
        }
    }

    /// Creates a hosted-payin invoice, as a shop does; returns the body as JSON text.
    /// The reconciler itself never creates invoices: the demo and benchmarks do.
    pub async fn create_invoice(&self, body: &serde_json::Value) -> Result<Vec<u8>, String> {
        let response = self
            .http
            .post(self.create_url.clone())
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        match read_reply(response).await {
            Exchange::Reply { status, body, .. } if (200..300).contains(&status) => Ok(body),
            Exchange::Reply { status, .. } => Err(format!("HTTP {status}")),
            Exchange::Failed(e) => Err(format!("{e:?}")),
        }
    }
}

async fn read_reply(mut response: reqwest::Response) -> Exchange {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Exchange::Failed(TransportError::Other(format!(
                        "response body over {MAX_BODY_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Exchange::Failed(transport_error(&e)),
        }
    }
    Exchange::Reply {
        status,
        retry_after,
        body,
    }
}

fn transport_error(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(root_cause(e))
    } else {
        TransportError::Other(root_cause(e))
    }
}

/// The innermost error message (e.g. "Connection refused"), without the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// `Retry-After` in delta-seconds; HTTP-dates are rare from APIs and ignored. Capped at an
/// hour so a hostile or broken header cannot park the daemon for days.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_are_parsed_and_capped() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("999999"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

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
        let timed = client.confirm("tok").await;
        assert!(
            matches!(timed.exchange, Exchange::Reply { status: 302, .. }),
            "{:?}",
            timed.exchange
        );
        assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
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
