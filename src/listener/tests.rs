//! The listener's limits on real loopback sockets, with short timeouts.

use super::*;
use axum::body::Bytes;
use axum::routing::{get, post};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const LONG: Duration = Duration::from_secs(10);

fn limits(header_read_timeout: Duration, idle_timeout: Duration, max: usize) -> Limits {
    Limits {
        header_read_timeout,
        request_timeout: LONG,
        idle_timeout,
        max_connections: max,
        shutdown_grace: Duration::from_millis(300),
    }
}

struct Server {
    addr: SocketAddr,
    health: Arc<ListenerHealth>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// `GET /hello`, and `POST /echo` that reads its body with axum's own extractor, not
/// through [`read_body`]: the deadline holds whoever reads.
async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/hello", get(|| async { "hello\n" }))
        .route("/echo", post(|body: Bytes| async move { body }));
    let shutdown = CancellationToken::new();
    let health = Arc::new(ListenerHealth::default());
    let task = tokio::spawn(serve(
        listener,
        router,
        limits,
        health.clone(),
        shutdown.clone(),
    ));
    Server {
        addr,
        health,
        shutdown,
        task,
    }
}

async fn send_request(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
}

/// Reads one answer to `GET /hello`, whole.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"hello\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

async fn hello(stream: &mut TcpStream) -> String {
    send_request(stream).await;
    tokio::time::timeout(Duration::from_secs(5), read_answer(stream))
        .await
        .expect("no answer")
}

/// How long until the server closes `stream` (EOF or reset), at most 5 s.
async fn closed_after(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let read_to_close = async { while let Ok(1..) = stream.read(&mut buf).await {} };
    tokio::time::timeout(Duration::from_secs(5), read_to_close)
        .await
        .expect("the server kept the connection open");
    start.elapsed()
}

#[tokio::test]
async fn requests_are_answered_and_keep_alive_connections_reused() {
    let server = start(limits(LONG, LONG, 4)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        let answer = hello(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }
    server.shutdown.cancel();
    server.task.await.unwrap();
}

#[tokio::test]
async fn connections_above_the_cap_wait_and_are_served_once_one_closes() {
    let server = start(limits(LONG, LONG, 2)).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    hello(&mut first).await;
    hello(&mut second).await;
    // The kernel completes the handshake (backlog); the server does not accept it yet.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    send_request(&mut third).await;
    let early = tokio::time::timeout(Duration::from_millis(300), read_answer(&mut third)).await;
    assert!(early.is_err(), "served above the cap");
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(2), read_answer(&mut third))
        .await
        .expect("not served after a slot was freed");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    hello(&mut second).await;
    server.shutdown.cancel();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(limits(LONG, Duration::from_millis(300), 4)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    hello(&mut stream).await;
    let after = closed_after(&mut stream).await;
    assert!(after >= Duration::from_millis(200), "{after:?}");
    assert!(after < Duration::from_secs(2), "{after:?}");
    server.shutdown.cancel();
}

/// hyper's header timer also runs while a keep-alive connection waits for its next request
/// (hyper 1.x restarts it when the connection goes idle); `Limits` documents that.
#[tokio::test]
async fn a_keep_alive_connection_waits_for_its_next_request_no_longer_than_the_header_timeout() {
    let server = start(limits(Duration::from_millis(300), LONG, 4)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    hello(&mut stream).await;
    let after = closed_after(&mut stream).await;
    assert!(after >= Duration::from_millis(200), "{after:?}");
    assert!(after < Duration::from_secs(2), "{after:?}");
    server.shutdown.cancel();
}

/// A head sent a byte at a time keeps the connection from being idle, but not past the
/// header read timeout.
#[tokio::test]
async fn a_head_trickled_a_byte_at_a_time_is_cut_at_the_header_read_timeout() {
    let server = start(limits(Duration::from_millis(400), LONG, 4)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    stream.write_all(b"GET /hello HTTP/1.1\r\n").await.unwrap();
    let mut cut = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if stream.write_all(b"x").await.is_err() {
            cut = true;
            break;
        }
    }
    // Writes may still succeed for a moment after the server's close: read to be sure.
    if !cut {
        closed_after(&mut stream).await;
    }
    let after = start.elapsed();
    assert!(after >= Duration::from_millis(300), "{after:?}");
    assert!(after < Duration::from_secs(3), "{after:?}");
    server.shutdown.cancel();
}

#[tokio::test]
async fn shutdown_stops_accepting_and_drops_held_connections_after_the_grace() {
    let server = start(limits(LONG, LONG, 4)).await;
    let mut held = TcpStream::connect(server.addr).await.unwrap();
    held.write_all(b"GET /hello HTTP/1.1\r\n").await.unwrap();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    hello(&mut idle).await;
    let start = Instant::now();
    server.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), server.task)
        .await
        .expect("serve did not return")
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(closed_after(&mut idle).await < Duration::from_millis(100));
    closed_after(&mut held).await;
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still listening"
    );
}

/// Every slot taken is recorded at once and for as long as it lasts (the `/readyz` line
/// comes after a second), and cleared as soon as a slot is free again.
#[tokio::test]
async fn a_listener_whose_slots_are_all_taken_says_so_until_one_is_free() {
    let server = start(limits(LONG, LONG, 2)).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    hello(&mut first).await;
    hello(&mut second).await;
    assert_eq!(server.health.slots(), 2);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let busy = server.health.saturated_for().expect("saturated");
    assert!(busy >= Duration::from_millis(1_000), "{busy:?}");
    assert_eq!(
        server.health.problem("api").as_deref(),
        Some("api: all 2 connection slots busy for 1 s")
    );
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.health.saturated_for().is_some() {
        assert!(
            Instant::now() < deadline,
            "still saturated with a slot free"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.health.problem("api"), None);
    hello(&mut second).await;
    server.shutdown.cancel();
}

/// A body sent a byte at a time, so that the idle timeout never fires, is cut at the
/// request deadline (counted from accept), even by a handler that reads it its own way,
/// and the connection is closed with it: its slot is free at once.
#[tokio::test]
async fn a_body_still_arriving_at_the_request_deadline_is_cut_and_its_connection_closed() {
    let server = start(Limits {
        request_timeout: Duration::from_millis(700),
        ..limits(LONG, LONG, 4)
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let start = Instant::now();
    let head = b"POST /echo HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\n";
    stream.write_all(head).await.unwrap();
    let mut buf = [0u8; 1024];
    let trickle_until_closed = async {
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => if !matches!(read, Ok(1..)) { return },
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    let _ = stream.write_all(b"x").await;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), trickle_until_closed)
        .await
        .expect("the server kept the connection open");
    let after = start.elapsed();
    assert!(after >= Duration::from_millis(600), "{after:?}");
    assert!(after < Duration::from_millis(1_500), "{after:?}");
    server.shutdown.cancel();
}

#[test]
fn the_open_files_limit_is_read_from_proc_self_limits() {
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                  Max processes             63482                63482                processes \n\
                  Max open files            256                  4096                 files     \n";
    assert_eq!(parse_open_files_limit(limits), Some(256));
    let unlimited = "Max open files            unlimited            unlimited            files\n";
    assert_eq!(parse_open_files_limit(unlimited), None);
    assert_eq!(parse_open_files_limit(""), None);
    if cfg!(target_os = "linux") {
        assert!(open_files_limit().is_some());
    }
}

#[test]
fn the_cap_is_a_quarter_of_the_open_files_limit_at_most_64() {
    assert_eq!(max_connections_for(Some(256)), 64);
    assert_eq!(max_connections_for(Some(1024)), 64);
    assert_eq!(max_connections_for(Some(100)), 25);
    assert_eq!(max_connections_for(Some(2)), 1);
    assert_eq!(max_connections_for(None), 64);
}

#[test]
fn accept_failures_back_off_up_to_a_second_and_reset_on_success() {
    let mut failures = AcceptFailures::default();
    let emfile = io::Error::from_raw_os_error(24);
    let pauses: Vec<u128> = (0..10)
        .map(|_| failures.failed(&emfile).as_millis())
        .collect();
    assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
    failures.recovered();
    assert_eq!(failures.failed(&emfile), AcceptFailures::FIRST_PAUSE);
}
