//! How requests reach LigdiCash: hyper's pooled client straight to `base_url`, or reqwest
//! when the environment names a proxy for it. Both report an [`Exchange`]; neither follows
//! redirects or retries a request that reached the server.

use super::classify::{Exchange, TransportError};
use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

/// Bodies larger than this are cut off: a confirm answer is about 1 KiB.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The limits both routes apply, from `[ligdicash]` and `[poll] concurrency`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub connect_timeout: Duration,
    /// For the whole exchange: connecting, sending, and reading the body to its end.
    pub request_timeout: Duration,
    pub pool_size: usize,
}

/// Idle pooled connections are closed after this (reqwest's default).
const POOL_IDLE: Duration = Duration::from_secs(90);
/// TCP keepalive probes, so a connection the network silently dropped is noticed.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Failure to set up a route.
#[derive(Debug, thiserror::Error)]
pub enum TransportSetupError {
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("cannot build the proxied HTTP client: {0}")]
    Proxy(String),
}

/// The route every request of one client takes, chosen once at start.
#[expect(
    clippy::large_enum_variant,
    reason = "one per process, behind an Arc; boxing would add a hop per request"
)]
pub(super) enum Transport {
    /// hyper's pooled client, the one reqwest wraps, without reqwest's per-request layers
    /// (the URL parsed again for the response, redirect and retry policies, boxed futures):
    /// about 15 µs less CPU per confirm, a third of its HTTP cost (docs/benchmarks.md).
    Direct {
        http: PooledClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
        headers: HeaderMap,
        timeout: Duration,
    },
    /// reqwest, which speaks to HTTP proxies (CONNECT, proxy credentials in the URL).
    Proxied(reqwest::Client),
}

impl Transport {
    /// The direct route, unless `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (less `NO_PROXY`)
    /// name a proxy for `base`, as reqwest decides it.
    pub(super) fn new(
        base: &Uri,
        headers: HeaderMap,
        limits: Limits,
    ) -> Result<Self, TransportSetupError> {
        if Matcher::from_system().intercept(base).is_some() {
            return proxied(headers, limits);
        }
        direct(headers, limits)
    }

    /// Which route this is, for logs and `Debug`.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::Direct { .. } => "direct",
            Self::Proxied(_) => "proxy",
        }
    }

    /// One request; transport problems are part of the [`Exchange`].
    pub(super) async fn send(&self, method: Method, uri: Uri, body: Bytes) -> Exchange {
        match self {
            Self::Direct {
                http,
                headers,
                timeout,
            } => {
                let mut request = Request::new(Full::new(body));
                *request.method_mut() = method;
                *request.uri_mut() = uri;
                *request.headers_mut() = headers.clone();
                let exchange = async {
                    match http.request(request).await {
                        Ok(response) => read_reply(response, direct_error).await,
                        Err(e) => Exchange::Failed(direct_error(&e)),
                    }
                };
                tokio::time::timeout(*timeout, exchange)
                    .await
                    .unwrap_or(Exchange::Failed(TransportError::Timeout))
            }
            Self::Proxied(http) => {
                let url = match reqwest::Url::parse(&uri.to_string()) {
                    Ok(url) => url,
                    Err(e) => return Exchange::Failed(TransportError::Other(e.to_string())),
                };
                match http.request(method, url).body(body).send().await {
                    Ok(response) => read_reply(response.into(), reqwest_error).await,
                    Err(e) => Exchange::Failed(reqwest_error(&e)),
                }
            }
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn direct(headers: HeaderMap, limits: Limits) -> Result<Transport, TransportSetupError> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(limits.connect_timeout));
    tcp.set_keepalive(Some(KEEPALIVE));
    tcp.set_keepalive_interval(Some(KEEPALIVE));
    tcp.set_keepalive_retries(Some(3));
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config()?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let http = PooledClient::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(limits.pool_size)
        .build(tls);
    Ok(Transport::Direct {
        http,
        headers,
        timeout: limits.request_timeout,
    })
}

/// rustls with the system's trust store (what reqwest's `rustls` feature uses): TLS 1.2
/// and 1.3, certificates and host names always verified.
fn tls_config() -> Result<rustls::ClientConfig, TransportSetupError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    // ALPN (http/1.1) is set by the connector builder below.
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| TransportSetupError::Tls(e.to_string()))?
        .with_no_client_auth())
}

fn proxied(headers: HeaderMap, limits: Limits) -> Result<Transport, TransportSetupError> {
    // Redirects are not followed: reqwest drops `Authorization` on a cross-host redirect
    // but would send `Apikey` on to wherever a redirect points. In-call retries are off
    // too, so one attempt row is exactly one request; the poller's schedule retries.
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.request_timeout)
        .pool_max_idle_per_host(limits.pool_size)
        .build()
        .map(Transport::Proxied)
        .map_err(|e| TransportSetupError::Proxy(root_cause(&e)))
}

/// Reads status, `Retry-After` and the body (bounded) of a response.
async fn read_reply<B>(response: Response<B>, error: fn(&B::Error) -> TransportError) -> Exchange
where
    B: Body<Data = Bytes> + Unpin,
{
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut stream = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = stream.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return Exchange::Failed(error(&e)),
        };
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Exchange::Failed(TransportError::Other(format!(
                "response body over {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Exchange::Reply {
        status,
        retry_after,
        body,
    }
}

/// Errors of the direct route: a connect timeout counts as a timeout, like reqwest's.
fn direct_error<E: StdError + 'static>(e: &E) -> TransportError {
    let connect = (e as &dyn StdError)
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(|e| e.is_connect());
    if chain(e).any(|s| {
        s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    }) {
        TransportError::Timeout
    } else if connect {
        TransportError::Connect(root_cause(e))
    } else {
        TransportError::Other(root_cause(e))
    }
}

fn reqwest_error(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(root_cause(e))
    } else {
        TransportError::Other(root_cause(e))
    }
}

/// `e` and its sources, outermost first.
fn chain<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&e| e.source())
}

/// The innermost error message (e.g. "Connection refused"): never a URL, so never a token
/// or a credential.
fn root_cause<E: StdError + 'static>(e: &E) -> String {
    chain(e)
        .last()
        .map_or_else(String::new, ToString::to_string)
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

    #[test]
    fn timeouts_anywhere_in_the_chain_are_timeouts() {
        #[derive(Debug, thiserror::Error)]
        #[error("tcp connect error")]
        struct Outer(#[source] std::io::Error);
        let timed_out = Outer(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "deadline has elapsed",
        ));
        assert_eq!(direct_error(&timed_out), TransportError::Timeout);
        let reset = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        ));
        assert_eq!(
            direct_error(&reset),
            TransportError::Other("connection reset by peer".into())
        );
    }
}
