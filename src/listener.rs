//! Serves an axum [`Router`] on a [`TcpListener`] within [`Limits`], until a
//! [`CancellationToken`] is cancelled. Every HTTP listener of the process goes through
//! [`serve`], so that no client, slow or hostile, can hold the file descriptors the confirm
//! calls and the database need, nor a connection slot for long.
//!
//! `axum::serve` accepts every connection it can and keeps it as long as the client likes:
//! 300 sockets that send half a request and wait once took all 256 descriptors of a
//! process, and every confirm failed with "Too many open files". Then 70 sockets that sent a
//! callback's body a byte every 2 s held every slot of the shop API for hours. Here:
//!
//! - a connection slot is taken *before* `accept()`: at the cap nothing is accepted, so
//!   waiting clients stay in the kernel's backlog and cost the process no descriptor; since
//!   when every slot has been taken is recorded in a [`ListenerHealth`] (`/readyz`);
//! - hyper closes a connection whose request head is not complete within
//!   `header_read_timeout` (its timer starts at accept and again when a keep-alive
//!   connection goes idle after an answer, so it also bounds the wait for the next request);
//! - a request body must have arrived whole by `request_timeout`, counted the same way:
//!   reading it fails after that (`body`), routes read it through [`read_body`] with a cap
//!   that fits them, and the connection closes after the refusal;
//! - a route anyone may call can be given its own [`Share`] of the slots;
//! - a connection on which no byte moves, either way, for `idle_timeout` is closed;
//! - on shutdown accepting stops at once, requests being answered get `shutdown_grace`, and
//!   what is left is dropped.
//!
//! Each connection runs in a task of its own (`connection`), holding its slot until the
//! socket is closed.

mod body;
mod connection;
mod health;
mod share;

pub use body::{BodyRefusal, read_body};
pub use health::ListenerHealth;
pub use share::{Refusal, Share, Ticket};

use axum::Router;
use connection::{Accepted, connection};
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The default [`Limits::request_timeout`], named for the answers that quote it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What one listener allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a complete request head, from accept or from the end of
    /// the previous answer on a keep-alive connection. Default 5 s: a scraper or a shop on
    /// the same host or network sends its head in one packet, within milliseconds; a socket
    /// that sends half a head and waits costs us at most this long.
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request, head and body, counted as the header
    /// read timeout is. Reading a body still arriving after it fails, the route answers
    /// 408 and the connection is closed. The idle timeout alone restarted at every byte:
    /// a 60 KB body sent a byte every 2 s held its slot for 33 hours. Default 10 s: a shop
    /// or LigdiCash sends a request of a few KiB in milliseconds, and after a head that
    /// took the whole `header_read_timeout` the body still has 5 s.
    pub request_timeout: Duration,
    /// A connection on which no byte has moved, either way, for this long is closed, in
    /// whatever state: a client that stopped reading its answer, a handler stuck longer
    /// than any client waits, a body nobody reads. Default 10 s, Prometheus's default
    /// `scrape_timeout`: by then the scraper has given up. (A keep-alive connection
    /// waiting for its next request is closed sooner, by `header_read_timeout`.)
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog, unaccepted. Default:
    /// a quarter of the process's open-files limit, at most 64 ([`max_connections_for`]).
    pub max_connections: usize,
    /// On shutdown, how long requests being answered may take before their connections
    /// are dropped. Default 1 s: our handlers answer in milliseconds.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(5),
            request_timeout: REQUEST_TIMEOUT,
            idle_timeout: Duration::from_secs(10),
            max_connections: max_connections_for(open_files_limit()),
            shutdown_grace: Duration::from_secs(1),
        }
    }
}

/// The connection cap for a process allowed `open_files` descriptors (`None`: unknown).
///
/// A quarter of the limit leaves the rest for what must never lack one: the SQLite files
/// (database, WAL and shared memory for each of the few connections), the confirm and
/// webhook connections, report files and exec sinks' pipes. 64 is plenty for a metrics
/// listener, which a Prometheus scraper and an occasional `curl` use one or two at a
/// time, and is what a 256-descriptor process gets; the common 1024 gets 64 too.
pub fn max_connections_for(open_files: Option<u64>) -> usize {
    const MOST: u64 = 64;
    let share = open_files.map_or(MOST, |n| (n / 4).clamp(1, MOST));
    usize::try_from(share).unwrap_or(1)
}

/// The soft open-files limit (`RLIMIT_NOFILE`), read from `/proc/self/limits` (Linux): one
/// small file read when a listener starts, and no `unsafe` `getrlimit` call.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&limits)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files            1024                 524288               files"
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `router` on `listener` within `limits` until `shutdown` is cancelled, then
/// returns once every connection is closed (at most `shutdown_grace` later). `health` says,
/// to whoever asks, since when every connection slot has been taken.
///
/// Accept errors never end it: they are logged once per burst and retried after a short,
/// growing pause (out of descriptors, accepting at once would only fail again).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    health: Arc<ListenerHealth>,
    shutdown: CancellationToken,
) {
    let cap = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(cap));
    health.serving(cap);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut connections = JoinSet::new();
    let mut failures = AcceptFailures::default();
    loop {
        reap(&mut connections);
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => Ok(slot),
            Err(_) => {
                // Every slot is taken: from now until one is free, the listener can accept
                // nobody, and `/readyz` says so once that lasts.
                health.full();
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    slot = slots.clone().acquire_owned() => slot,
                }
            }
        };
        let Ok(slot) = slot else {
            // Only a closed semaphore fails, and nothing closes this one.
            tracing::error!("http listener: connection slots closed; no longer accepting");
            break;
        };
        health.slot_taken();
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                failures.recovered();
                let accepted = Accepted { stream, peer, slot };
                let (http, router, shutdown) = (http.clone(), router.clone(), shutdown.clone());
                connections.spawn(connection(accepted, http, router, limits, shutdown));
            }
            // The client gave up while it waited in the backlog: nothing wrong here.
            Err(e) if is_client_gone(&e) => tracing::debug!(error = %e, "http accept"),
            Err(e) => {
                let pause = failures.failed(&e);
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    // Clients arriving now are refused rather than left waiting in a backlog nobody reads.
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drained)
        .await
        .is_err()
    {
        tracing::debug!(
            left = connections.len(),
            "http connections dropped after the shutdown grace"
        );
    }
}

/// Collects finished connection tasks (a `JoinSet` keeps them until then); a panic in one
/// is logged, not propagated: the listener and the other connections go on.
fn reap(connections: &mut JoinSet<()>) {
    while let Some(done) = connections.try_join_next() {
        if let Err(e) = done {
            tracing::error!(error = %e, "http connection task failed");
        }
    }
}

/// Errors about the one connection being accepted, not about the listener.
fn is_client_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// A burst of accept failures (out of descriptors, kernel memory): logged when it starts
/// and when it ends, never once per retry; the pause between retries doubles up to 1 s.
#[derive(Debug, Default)]
struct AcceptFailures {
    count: u64,
    pause: Duration,
}

impl AcceptFailures {
    const FIRST_PAUSE: Duration = Duration::from_millis(10);
    const LONGEST_PAUSE: Duration = Duration::from_secs(1);

    /// Notes a failure; returns how long to wait before accepting again.
    fn failed(&mut self, e: &io::Error) -> Duration {
        if self.count == 0 {
            tracing::error!(error = %e, "http listener cannot accept connections; retrying");
        }
        self.count += 1;
        self.pause = (self.pause * 2).clamp(Self::FIRST_PAUSE, Self::LONGEST_PAUSE);
        self.pause
    }

    fn recovered(&mut self) {
        if self.count > 0 {
            tracing::info!(failures = self.count, "http listener accepting again");
            *self = Self::default();
        }
    }
}

#[cfg(test)]
mod tests;
