//! One connection, from accept to close, holding its slot the whole time: hyper serves the
//! requests, this task closes the connection when no byte has moved for `idle_timeout`, and
//! every request goes to the router with its source address and its body under the request
//! deadline ([`Timed`]).

use super::Limits;
use super::body::Timed;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a connection task is given besides its socket.
pub(super) struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Given back when the connection task ends, whatever ends it.
    pub slot: OwnedSemaphorePermit,
}

/// Serves one connection until it closes, goes idle, or is dropped at shutdown.
pub(super) async fn connection(
    accepted: Accepted,
    http: http1::Builder,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let Accepted {
        stream,
        peer,
        slot: _slot,
    } = accepted;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let router = TowerToHyperService::new(router);
    let requests = activity.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        // Counted like hyper's header timer: from accept, or from the previous answer.
        let deadline = requests.ready_since() + limits.request_timeout;
        let mut request = request.map(|body| Body::new(Timed::new(body, deadline)));
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = router.call(request);
        let requests = requests.clone();
        async move {
            let answer = answer.await;
            requests.answered();
            answer
        }
    });
    let mut conn = pin!(http.serve_connection(io, service));
    let mut closing = false;
    loop {
        let idle_until = activity.last() + limits.idle_timeout;
        tokio::select! {
            ended = conn.as_mut() => {
                // A header read timeout, a client that went away: the client's doing.
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "http connection closed");
                }
                return;
            }
            () = tokio::time::sleep_until(idle_until) => {
                // Bytes may have moved while we slept: the deadline is then later.
                if activity.last() + limits.idle_timeout <= Instant::now() {
                    tracing::debug!("http connection idle: closed");
                    return;
                }
            }
            // An idle connection closes at once; one being answered after its answer.
            () = shutdown.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// When a byte last moved on a connection, and since when it has been ready for its next
/// request, in milliseconds after `start`.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    ready_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            ready_ms: AtomicU64::new(0),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// The router has answered a request: the next one's time starts now (hyper's header
    /// timer starts a little later, once the answer is written: ours is the stricter).
    fn answered(&self) {
        self.ready_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    fn ready_since(&self) -> Instant {
        self.start + Duration::from_millis(self.ready_ms.load(Ordering::Relaxed))
    }
}

/// A socket that notes in its [`Activity`] every read or write that moved bytes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(1..))) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(1..))) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
