//! The API's router served by the real listener on loopback, with short limits: the bearer
//! scheme, the callback route's share of the connections, body caps and the request
//! deadline.

use super::*;
use crate::config::{ConfirmStyle, Credentials, PollConfig};
use crate::ligdicash::{ClientSettings, LigdicashClient};
use crate::store::Store;
use auth::{bearer_token, same_secret};
use std::net::{Ipv4Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

const TOKEN: &str = "s3cret-token";

struct Api {
    addr: SocketAddr,
    callbacks: Arc<Share>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The API on a free loopback port within `limits`; its LigdiCash client points at a
/// closed port (these tests never confirm).
async fn start(limits: Limits) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let settings = ClientSettings {
        base_url: reqwest::Url::parse("http://127.0.0.1:9").unwrap(),
        style: ConfirmStyle::Token,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        pool_size: 1,
    };
    let client = LigdicashClient::new(&settings, &Credentials::fixed("k", "t")).unwrap();
    let path = dir.path().join("api.db");
    let open = || Db::from(Store::open(&path, Duration::from_secs(1)).unwrap());
    let metrics = Arc::new(Metrics::default());
    let confirmer = Confirmer::new(
        &PollConfig::default(),
        &Default::default(),
        client,
        metrics.clone(),
        open(),
        Arc::new(Vec::new()),
    );
    let state = ApiState {
        db: open(),
        confirmer: Arc::new(confirmer),
        tokens: Arc::new(vec![crate::config::ApiToken {
            name: "default".to_owned(),
            scopes: crate::config::Scope::ALL.to_vec(),
            secret: secrecy::SecretString::from(TOKEN.to_owned()),
            source: "test".to_owned(),
        }]),
        metrics: metrics.clone(),
        confirm_timeout: Duration::from_secs(1),
        sinks: Arc::new(Vec::new()),
        shutdown: CancellationToken::new(),
        callbacks: Arc::default(),
        evidence: crate::cases::evidence::Settings::from_config(&Default::default()).unwrap(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let callbacks = callbacks::share_of(limits.max_connections);
    let shutdown = CancellationToken::new();
    let router = router(state, callbacks.clone());
    let health = metrics.api_listener.clone();
    tokio::spawn(listener::serve(
        listener,
        router,
        limits,
        health,
        shutdown.clone(),
    ));
    Api {
        addr,
        callbacks,
        metrics,
        shutdown,
        _dir: dir,
    }
}

fn limits(request_timeout: Duration) -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(5),
        request_timeout,
        idle_timeout: Duration::from_secs(10),
        max_connections: 64,
        shutdown_grace: Duration::from_millis(300),
    }
}

/// A connection from `from` (any address of 127/8) that has sent `request`.
async fn send(api: &Api, from: [u8; 4], request: &[u8]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((Ipv4Addr::from(from), 0).into()).unwrap();
    let mut stream = socket.connect(api.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream
}

fn callback_head(length: usize) -> String {
    format!(
        "POST /callbacks/ligdicash HTTP/1.1\r\nhost: shop.example\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

/// Everything the server sends until it closes the connection (at most 5 s).
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = stream.read_to_end(&mut got);
    let _ = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the server kept the connection open");
    String::from_utf8_lossy(&got).to_lowercase()
}

/// Waits (at most 2 s) until `n` callbacks hold a place in the route's share.
async fn held(api: &Api, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while api.callbacks.held() != n {
        assert!(Instant::now() < deadline, "{} held", api.callbacks.held());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case_and_spacing_and_only_the_token_counts() {
    let api = start(limits(Duration::from_secs(10))).await;
    let url = format!("http://{}/v1/payments", api.addr);
    let client = reqwest::Client::new();
    for (authorization, status) in [
        (format!("Bearer {TOKEN}"), 200),
        (format!("bearer {TOKEN}"), 200),
        (format!("BEARER   {TOKEN}  "), 200),
        ("Bearer s3cret-tokeN".to_owned(), 401),
        (format!("Basic {TOKEN}"), 401),
    ] {
        let answer = client
            .get(&url)
            .header("authorization", &authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{authorization}");
    }
}

/// The attack, one socket: a callback's body a byte at a time. At the request
/// deadline it gets 408 and its connection is closed.
#[tokio::test]
async fn a_body_slower_than_the_request_deadline_gets_408_and_its_connection_closes() {
    let api = start(limits(Duration::from_millis(800))).await;
    let started = Instant::now();
    let mut stream = send(&api, [127, 0, 0, 1], callback_head(1_000).as_bytes()).await;
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    let read_until_closed = async {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(n @ 1..) => got.extend_from_slice(&buf[..n]),
                    _ => return,
                },
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    let _ = stream.write_all(b" ").await;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read_until_closed)
        .await
        .expect("the server kept the connection open");
    let after = started.elapsed();
    let answer = String::from_utf8_lossy(&got).to_lowercase();
    assert!(answer.starts_with("http/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert!(after >= Duration::from_millis(700), "{after:?}");
    assert!(after < Duration::from_secs(3), "{after:?}");
    assert_eq!(
        api.callbacks.held(),
        0,
        "its place in the share is given back"
    );
}

/// The callback route's cap is 16 KiB: a 17 KiB callback gets 413 (announced, at once,
/// before a byte of it is read; or chunked, once over), a 15 KiB one is read.
#[tokio::test]
async fn a_callback_over_16_kib_gets_413_and_one_under_is_read() {
    let api = start(limits(Duration::from_secs(10))).await;
    let announced = Instant::now();
    let mut stream = send(&api, [127, 0, 0, 1], callback_head(17 * 1024).as_bytes()).await;
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("http/1.1 413"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "{answer}");
    assert!(announced.elapsed() < Duration::from_secs(1));

    let chunked = "POST /callbacks/ligdicash HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
                   content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let chunk = format!("{:x}\r\n{}\r\n", 17 * 1024, "y".repeat(17 * 1024));
    let mut stream = send(&api, [127, 0, 0, 1], format!("{chunked}{chunk}").as_bytes()).await;
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("http/1.1 413"), "{answer}");

    let body = format!(
        "{{\"status\": \"completed\", \"x\": \"{}\"}}",
        "y".repeat(15 * 1024)
    );
    let request = format!("{}{body}", callback_head(body.len()));
    let mut stream = send(&api, [127, 0, 0, 1], request.as_bytes()).await;
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
}

/// Eight callbacks from one address hold their places (bodies not sent); the ninth from
/// that address gets 503 at once, with `Retry-After` and `Connection: close`. Another
/// address gets its own eight, and then the route's quarter of the 64 slots is taken: a
/// third address is refused too, while the shop's own requests are answered.
#[tokio::test]
async fn the_ninth_callback_at_once_from_one_address_gets_503_at_once() {
    let api = start(limits(Duration::from_secs(10))).await;
    let head = callback_head(100);
    let mut holding = Vec::new();
    for _ in 0..callbacks::PER_SOURCE {
        holding.push(send(&api, [127, 0, 0, 1], head.as_bytes()).await);
    }
    held(&api, 8).await;
    let refused = |from: [u8; 4]| {
        let head = head.clone();
        let api = &api;
        async move {
            let started = Instant::now();
            let mut stream = send(api, from, head.as_bytes()).await;
            let answer = until_closed(&mut stream).await;
            (answer, started.elapsed())
        }
    };
    let (answer, after) = refused([127, 0, 0, 1]).await;
    assert!(answer.starts_with("http/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("\"callbacks_busy\""), "{answer}");
    assert!(after < Duration::from_millis(500), "{after:?}");

    for _ in 0..callbacks::PER_SOURCE {
        holding.push(send(&api, [127, 0, 0, 2], head.as_bytes()).await);
    }
    held(&api, 16).await;
    let (answer, after) = refused([127, 0, 0, 3]).await;
    assert!(answer.starts_with("http/1.1 503"), "{answer}");
    assert!(after < Duration::from_millis(500), "{after:?}");
    let shop = reqwest::Client::new()
        .get(format!("http://{}/v1/payments", api.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(shop.status(), 200);
    let metrics = api.metrics.render(&Default::default());
    let line = "ligdicash_reconciler_callbacks_total{result=\"refused_busy\"} 2";
    assert!(metrics.lines().any(|l| l == line), "{metrics}");
    drop(holding);
    held(&api, 0).await;
}

#[test]
fn the_bearer_scheme_is_read_in_any_case_and_spacing() {
    for value in [
        "Bearer s3cret",
        "bearer s3cret",
        "BEARER s3cret",
        "BeArEr s3cret",
        "Bearer  s3cret",
        "Bearer\ts3cret",
        "  Bearer s3cret  ",
        "Bearer s3cret\t",
    ] {
        assert_eq!(bearer_token(value), Some("s3cret"), "{value:?}");
    }
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Basic s3cret",
        "Bearers3cret",
        "Token s3cret",
    ] {
        assert!(
            bearer_token(value).is_none_or(str::is_empty),
            "{value:?}: {:?}",
            bearer_token(value)
        );
    }
    assert_eq!(
        bearer_token("Bearer s3 cret"),
        Some("s3 cret"),
        "not the token"
    );
}

#[test]
fn only_the_exact_token_is_the_same_secret() {
    assert!(same_secret(b"s3cret-token", b"s3cret-token"));
    assert!(!same_secret(b"s3cret-tokeN", b"s3cret-token"));
    assert!(!same_secret(b"s3cret", b"s3cret-token"));
    assert!(!same_secret(b"s3cret-token-and-more", b"s3cret-token"));
    assert!(!same_secret(b"", b"s3cret-token"));
    assert!(!same_secret(b"", b""), "an empty token never authorises");
}
