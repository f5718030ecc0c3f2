//! How requests reach LigdiCash: one reqwest client, built once, straight to `base_url` or
//! through the proxy the environment names for it. It follows no redirects, never retries
//! on its own, reads at most [`MAX_BODY_BYTES`] of an answer, and bounds the whole exchange
//! (connecting, sending, reading the body to its end) by one timeout. Whatever goes wrong
//! is reported in the [`Exchange`], classified once, here.

use super::classify::{Exchange, TransportError};
use hyper_util::client::proxy::matcher::Matcher;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use std::error::Error as StdError;
use std::time::Duration;

/// Bodies larger than this are cut off: a confirm answer is about 1 KiB.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// TCP keepalive probes, so a connection the network silently dropped is noticed.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The limits the client applies, from `[ligdicash]` and `[poll] concurrency`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub connect_timeout: Duration,
    /// For the whole exchange: connecting, sending, and reading the body to its end.
    pub request_timeout: Duration,
    pub pool_size: usize,
}

/// Failure to build the HTTP client (no TLS set-up, an unusable proxy URL).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct TransportSetupError(String);

/// The client every request of one [`super::LigdicashClient`] goes through.
pub(super) struct Transport {
    http: reqwest::Client,
    /// `"direct"` or `"proxy"`, for the start-up log line.
    route: &'static str,
}

impl Transport {
    /// Certificates are checked by reqwest's `rustls` feature: rustls-platform-verifier,
    /// the system's trust store (with `SSL_CERT_FILE`/`SSL_CERT_DIR`), TLS 1.2 and 1.3.
    pub(super) fn new(
        base: &Url,
        headers: HeaderMap,
        limits: Limits,
    ) -> Result<Self, TransportSetupError> {
        // Redirects are not followed: reqwest drops `Authorization` on a cross-host redirect
        // but would send `Apikey` on to wherever a redirect points. In-call retries are off
        // too, so one attempt row is exactly one request; the poller's schedule retries.
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .pool_max_idle_per_host(limits.pool_size)
            .tcp_keepalive(KEEPALIVE)
            .build()
            .map_err(|e| TransportSetupError(root_cause(&e.without_url())))?;
        Ok(Self {
            http,
            route: route(base),
        })
    }

    /// `"direct"`, or `"proxy"` when the environment names a proxy for `base_url`.
    pub(super) fn route(&self) -> &'static str {
        self.route
    }

    /// One request; transport problems are part of the [`Exchange`].
    pub(super) async fn send(&self, method: Method, url: Url, body: Vec<u8>) -> Exchange {
        let mut response = match self.http.request(method, url).body(body).send().await {
            Ok(response) => response,
            Err(e) => return Exchange::Failed(transport_error(e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(None) => break,
                Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY_BYTES => {
                    return Exchange::Failed(TransportError::Other(format!(
                        "response body over {MAX_BODY_BYTES} bytes"
                    )));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Err(e) => return Exchange::Failed(transport_error(e)),
            }
        }
        Exchange::Reply {
            status,
            retry_after,
            body,
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.route)
    }
}

/// Whether `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (less `NO_PROXY`) name a proxy for
/// `base`, asked of the matcher reqwest itself consults, so the log cannot disagree with it.
fn route(base: &Url) -> &'static str {
    let proxied = base
        .as_str()
        .parse::<hyper::Uri>()
        .is_ok_and(|uri| Matcher::from_system().intercept(&uri).is_some());
    if proxied { "proxy" } else { "direct" }
}

/// The one error mapping of a request that got no answer, for confirm calls and webhooks
/// alike: a connect timeout counts as a timeout, as a slow answer does; otherwise the
/// innermost cause (connection refused, a certificate refused, a name not found), which
/// reqwest's own text ("error sending request") hides.
pub fn transport_error(e: reqwest::Error) -> TransportError {
    // Without the URL, which holds the token, in case the error is its own root cause.
    let e = e.without_url();
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(root_cause(&e))
    } else {
        TransportError::Other(root_cause(&e))
    }
}

/// The innermost error message (e.g. "Connection refused"): never a URL, so never a token
/// or a credential.
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    std::iter::successors(Some(e), |&e| e.source())
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

    /// A loopback server that answers one connection with `head` and `body`, then holds
    /// the connection open; the URL to reach it.
    async fn answering(head: String, body: Vec<u8>) -> Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let _ = tcp.read(&mut [0; 4096]).await;
            let _ = tcp.write_all(head.as_bytes()).await;
            let _ = tcp.write_all(&body).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        url
    }

    fn transport(request_timeout: Duration) -> Transport {
        let limits = Limits {
            connect_timeout: Duration::from_secs(2),
            request_timeout,
            pool_size: 1,
        };
        let base = Url::parse("http://127.0.0.1/").unwrap();
        Transport::new(&base, HeaderMap::new(), limits).unwrap()
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let body = vec![b'x'; MAX_BODY_BYTES + 1];
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        let url = answering(head, body).await;
        let exchange = transport(Duration::from_secs(5))
            .send(Method::GET, url, Vec::new())
            .await;
        let expected = format!("response body over {MAX_BODY_BYTES} bytes");
        assert!(
            matches!(&exchange, Exchange::Failed(TransportError::Other(e)) if *e == expected),
            "{exchange:?}"
        );
    }

    /// The timeout covers the body: headers in time, then a body that never ends.
    #[tokio::test]
    async fn a_body_that_stalls_times_out() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_owned();
        let url = answering(head, b"{".to_vec()).await;
        let started = std::time::Instant::now();
        let exchange = transport(Duration::from_millis(300))
            .send(Method::GET, url, Vec::new())
            .await;
        assert!(
            matches!(exchange, Exchange::Failed(TransportError::Timeout)),
            "{exchange:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let exchange = transport(Duration::from_secs(5))
            .send(Method::GET, url, Vec::new())
            .await;
        assert!(
            matches!(exchange, Exchange::Failed(TransportError::Connect(_))),
            "{exchange:?}"
        );
    }
}
