//! One function builds the log subscriber: human lines on a terminal, JSON for machines.
//! Logs go to stderr (journald captures it); the level comes from `RUST_LOG`, default info.
//! No code path logs a credential: they live in `SecretString`s and sensitive headers.
//!
//! Logging is a side channel and must never stop the main work. Lines are handed to one
//! writer thread through a bounded queue and never written from the daemon's own threads:
//! a stderr that is closed (the reader of `run 2>&1 | head` went away, journald restarted)
//! or full (a pipe nobody reads) costs dropped lines, counted in [`dropped_lines`], never a
//! panic, an error or a blocked task. (tracing-subscriber's own fallback, `eprintln!` on a
//! failed write, panics on a closed stderr: it is switched off.)

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Log line format, chosen with `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Lines waiting for the writer thread at most; past that, new lines are dropped. Enough
/// for a burst of a few seconds at full confirm rate while stderr is slow.
const QUEUE_LINES: usize = 4096;

/// Log lines lost since start: stderr closed, failing, or too slow to keep up.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// The queue to the writer thread, once [`init`] has run.
static QUEUE: OnceLock<SyncSender<Message>> = OnceLock::new();

enum Message {
    Line(Vec<u8>),
    /// Answered once every line queued before it has been written (or dropped).
    Flush(std::sync::mpsc::Sender<()>),
}

/// What the PostgreSQL driver and its pool log by default: their own warnings repeat, once
/// per pooled connection, what the daemon logs once per incident (a server restarting cuts
/// every connection), so only their errors are shown unless `RUST_LOG` asks for more.
const QUIET_DRIVERS: &str = "tokio_postgres=warn,deadpool=error";

/// Installs the global subscriber; `default_level` applies when `RUST_LOG` is unset.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},{QUIET_DRIVERS}")));
    let Some(queue) = start_writer() else {
        return;
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Lines(queue))
        .log_internal_errors(false);
    let result = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests) keeps the first subscriber; nothing to report.
    drop(result);
}

/// Waits (at most `limit`) until the lines logged so far have reached stderr, so the last
/// words of a process that is about to exit are not lost. A stuck stderr cannot hold the
/// exit up for longer than `limit`.
pub fn flush(limit: Duration) {
    let Some(queue) = QUEUE.get() else { return };
    let (done, written) = std::sync::mpsc::channel();
    if queue.try_send(Message::Flush(done)).is_ok() {
        let _ = written.recv_timeout(limit);
    }
}

/// Starts the writer thread once; `None` if the thread cannot be started (then there is
/// no logging, which must not stop the daemon either).
fn start_writer() -> Option<SyncSender<Message>> {
    if let Some(queue) = QUEUE.get() {
        return Some(queue.clone());
    }
    let (tx, rx) = sync_channel(QUEUE_LINES);
    std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || write_lines(rx, std::io::stderr()))
        .ok()?;
    Some(QUEUE.get_or_init(|| tx).clone())
}

/// The writer thread: every failed write is one dropped line, never an error.
fn write_lines(rx: Receiver<Message>, mut out: impl Write) {
    for message in rx {
        match message {
            Message::Line(line) => {
                if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Hands formatted lines to the writer thread without waiting.
#[derive(Clone)]
struct Lines(SyncSender<Message>);

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for Lines {
    /// The formatter writes each event with one `write_all`: one call is one line.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.try_send(Message::Line(buf.to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Reported as written either way: a lost log line is not the caller's failure.
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose every write fails, as a closed stderr does (EPIPE).
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_to_a_closed_stderr_are_counted_as_dropped_not_fatal() {
        let (tx, rx) = sync_channel(4);
        let before = dropped_lines();
        tx.send(Message::Line(b"one\n".to_vec())).unwrap();
        tx.send(Message::Line(b"two\n".to_vec())).unwrap();
        drop(tx);
        write_lines(rx, Closed);
        assert!(dropped_lines() >= before + 2);
    }

    #[test]
    fn a_full_queue_drops_the_line_instead_of_waiting() {
        let (tx, _rx) = sync_channel(1);
        let mut lines = Lines(tx);
        let before = dropped_lines();
        assert_eq!(lines.write(b"fits\n").unwrap(), 5);
        // Nobody reads: a blocking writer would hang here.
        assert_eq!(lines.write(b"does not fit\n").unwrap(), 13);
        assert!(dropped_lines() > before);
    }
}
