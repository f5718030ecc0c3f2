//! The health and metrics listener under a flood of half-open connections: it never takes
//! the descriptors the confirm calls need, and it closes the connections it holds.

use crate::helpers::*;
use crate::service::free_port;
use ligdicash_reconciler::listener::Limits;
use ligdicash_reconciler::sandbox::Outcome;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

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
