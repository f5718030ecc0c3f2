//! The listeners under floods: half-open connections to the health and metrics listener
//! never take the descriptors the confirm calls need, and slow callback bodies on the API
//! listener never take the slots the shop's own requests and LigdiCash's callbacks need.

use crate::api::{TOKEN, api_daemon_logging, post_json, stop};
use crate::callbacks::checkout;
use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::listener::Limits;
use ligdicash_reconciler::sandbox::Outcome;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

async fn wait_until_listening(port: u16) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..200 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered");
}

/// Opens `n` connections that each send the first line of a request and nothing more, and
/// hold them. `established` counts those connected and written; each one the server closes
/// (EOF or reset) is reported with the time it was seen.
fn half_open_flood(port: u16, n: usize) -> (Arc<AtomicUsize>, mpsc::UnboundedReceiver<Instant>) {
    let established = Arc::new(AtomicUsize::new(0));
    let (closed, closures) = mpsc::unbounded_channel();
    for _ in 0..n {
        let (established, closed) = (established.clone(), closed.clone());
        tokio::spawn(async move {
            let Ok(mut socket) = TcpStream::connect(("127.0.0.1", port)).await else {
                return;
            };
            if socket
                .write_all(b"GET /metrics HTTP/1.1\r\n")
                .await
                .is_err()
            {
                return;
            }
            established.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 1024];
            // Whatever the server says before closing (a 408, say) is read and ignored.
            while let Ok(1..) = socket.read(&mut buf).await {}
            let _ = closed.send(Instant::now());
        });
    }
    (established, closures)
}

/// Issue 13, fault 3: under a 256 open-files limit, 300 half-open connections to the
/// listener used to take every descriptor, and confirms failed with "Too many open files".
#[tokio::test]
async fn half_open_connections_to_the_listener_never_starve_the_confirms() {
    let mut env = TestEnv::start().await;
    let port = free_port();
    env.config.http.listen = format!("127.0.0.1:{port}");
    env.write_config();
    let child = env
        .cmd_via(&["/usr/bin/prlimit", "--nofile=256:256", "--"], &["run"])
        .spawn()
        .unwrap();
    wait_until_listening(port).await;

    let header_read_timeout = Limits::default().header_read_timeout;
    let flood_started = Instant::now();
    let (established, mut closures) = half_open_flood(port, 300);
    // Past the connection cap, clients wait in the listen backlog (128, as tokio binds) or for
    // their SYN to be answered; most are connected and written within a moment.
    eventually(Duration::from_secs(5), || {
        established.load(Ordering::SeqCst) >= 150
    })
    .await;

    // Connections past the cap cost the daemon no descriptor: it keeps well under its limit.
    let pid = child.id().unwrap();
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!(descriptors < 128, "{descriptors} descriptors open of 256");

    let mut tokens = Vec::new();
    for i in 0..3 {
        tokens.push(
            env.invoice(Outcome::Completed, 100, &format!("ORD-{i}"))
                .await,
        );
    }
    eventually(Duration::from_secs(10), || {
        env.count(
            "SELECT count(*) FROM payments WHERE status = ?1",
            "completed",
        ) == 3
    })
    .await;

    // The server closes the connections it accepted once their head is overdue: not
    // before the header read timeout, and soon after it.
    let first = tokio::time::timeout(
        header_read_timeout + Duration::from_secs(3),
        closures.recv(),
    )
    .await
    .expect("no half-open connection was closed by the server")
    .unwrap();
    let after = first - flood_started;
    assert!(
        after >= header_read_timeout - Duration::from_millis(500),
        "closed after {after:?}, before the header read timeout"
    );

    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    assert_ok(&out);
    let log = stderr(&out);
    assert!(!log.contains("Too many open files"), "{log}");
    for token in &tokens {
        assert_eq!(env.show(token).await["status"], "completed");
    }
}

/// An attacker's socket, again and again from 127.0.0.2: the head of `POST
/// /callbacks/ligdicash` announcing `length` bytes, then one byte every 2 s (so the idle
/// timeout never fires), until the server closes it; then it reconnects. The pause before
/// reconnecting only keeps this test's CPU use small on a shared machine: the server
/// answers a refusal in microseconds either way.
async fn slow_callback_sender(api: SocketAddr, length: usize, stop: CancellationToken) {
    let head = format!(
        "POST /callbacks/ligdicash HTTP/1.1\r\nhost: shop.example\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n{{"
    );
    while !stop.is_cancelled() {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
        if let Ok(mut stream) = socket.connect(api).await
            && stream.write_all(head.as_bytes()).await.is_ok()
        {
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    // An answer (413, 503, 408) is read and ignored; the close ends the loop.
                    read = stream.read(&mut buf) => if !matches!(read, Ok(1..)) { break },
                    () = tokio::time::sleep(Duration::from_secs(2)) => {
                        if stream.write_all(b" ").await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The answer to `request`, which must come within a second.
async fn within_a_second(
    what: &str,
    started: Instant,
    request: impl Future<Output = reqwest::Result<reqwest::Response>>,
) -> reqwest::Response {
    match tokio::time::timeout(Duration::from_secs(1), request).await {
        Ok(answer) => answer.unwrap(),
        Err(_) => panic!(
            "{what}: no answer within 1 s, {:?} into the flood",
            started.elapsed()
        ),
    }
}

/// The value of the metric line that starts with `series` (0 when absent).
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// Issue 23, item 2: 70 sockets of one host that start a callback announcing 60,000 bytes
/// and send its body a byte every 2 s used to hold all 64 connection slots of the API:
/// every request of the shop timed out while `/readyz` said ready. Here 70 more from the
/// same host announce 16,000 bytes, under the route's cap (the attacker's next try): they
/// alone would hold every slot if the route had no share of its own. For 25 s, the shop's
/// `GET /v1/payments`, on a new connection each time, answers within 1 s every time,
/// `/readyz` stays ready, and a settlement's two callbacks, posted by the sandbox from
/// another address, land and get the payment confirmed at once.
#[tokio::test]
async fn slow_callback_bodies_from_one_host_never_block_the_shop_api_nor_real_callbacks() {
    // The invoice waits for the button (a settled one is closed, as at LigdiCash).
    let mut env = TestEnv::with_sandbox(waiting_for_pay()).await;
    let metrics_port = free_port();
    env.config.http.listen = format!("127.0.0.1:{metrics_port}");
    let (child, base) = api_daemon_logging(&mut env, "info").await;
    let api: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let (token, page) = checkout(&env, "ORD-SLOW", &format!("{base}/callbacks/ligdicash")).await;
    let body = json!({"token": token, "transaction_id": "ORD-SLOW", "expected_amount": 3000});
    assert_eq!(post_json(&format!("{base}/v1/payments"), body).await.0, 201);

    let flood = CancellationToken::new();
    for length in [60_000, 16_000] {
        for _ in 0..70 {
            tokio::spawn(slow_callback_sender(api, length, flood.clone()));
        }
    }
    // Like a PHP shop: a new connection for every request, none kept alive to hide behind.
    let shop = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (mut paid_at, mut completed_at) = (None, None);
    for ask in 0.. {
        if started.elapsed() > Duration::from_secs(25) {
            break;
        }
        let sent = Instant::now();
        let request = shop
            .get(format!("{base}/v1/payments"))
            .bearer_auth(TOKEN)
            .send();
        let answer = within_a_second("the shop's API", started, request).await;
        assert_eq!(answer.status(), 200);
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "{:?}",
            sent.elapsed()
        );
        if ask % 4 == 0 {
            let readyz = shop
                .get(format!("http://127.0.0.1:{metrics_port}/readyz"))
                .send();
            let readyz = within_a_second("/readyz", started, readyz).await;
            let status = readyz.status();
            assert_eq!(status, 200, "{}", readyz.text().await.unwrap());
        }
        if paid_at.is_none() && started.elapsed() > Duration::from_secs(5) {
            // The customer pays with the flood well under way: LigdiCash posts both callbacks.
            let paid = shop.post(format!("{page}/pay")).send().await.unwrap();
            assert_eq!(paid.status(), 200);
            paid_at = Some(Instant::now());
        }
        let completed = "SELECT count(*) FROM payments WHERE status = ?1";
        if completed_at.is_none() && env.count(completed, "completed") == 1 {
            completed_at = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    flood.cancel();
    let (paid_at, completed_at) = (paid_at.unwrap(), completed_at.expect("never confirmed"));
    // Polling is an hour away (`first_delay`): only the callbacks can have made it due.
    assert!(
        completed_at - paid_at < Duration::from_secs(3),
        "{:?}",
        completed_at - paid_at
    );
    let kept = "SELECT count(*) FROM callbacks WHERE matched_by = ?1";
    assert_eq!(env.count(kept, "transaction_id"), 2, "both copies landed");
    let (_, metrics) = crate::service::get(metrics_port, "/metrics").await;
    let callbacks =
        "ligdicash_reconciler_api_requests_total{route=\"/callbacks/ligdicash\",status=";
    for status in ["408", "413", "503"] {
        let refused = metric(&metrics, &format!("{callbacks}\"{status}\"}}"));
        assert!(refused > 0, "no {status} to the flood:\n{metrics}");
    }
    let busy = "ligdicash_reconciler_callbacks_total{result=\"refused_busy\"}";
    assert!(metric(&metrics, busy) > 0, "{metrics}");
    assert_eq!(
        metric(
            &metrics,
            "ligdicash_reconciler_callbacks_total{result=\"matched\"}"
        ),
        2
    );
    stop(child).await;
}
