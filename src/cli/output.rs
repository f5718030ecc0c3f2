//! What commands print on stdout, and what happens when nobody reads it any more.
//!
//! `println!` panics when stdout is closed ("failed printing to stdout: Broken pipe", exit
//! 101): `events show ID | head` would end in a panic message. A closed pipe means the reader
//! has what it wanted, so the command stops there, quietly and with exit 0, as Unix tools do
//! (they die of SIGPIPE, which Rust programs ignore). Any other write error (a full disk under
//! `> file`) is a failure with its message.

use super::{Exit, Failure};
use std::io::{ErrorKind, Write};

/// Writes `text` and a newline to stdout; a closed stdout is [`Exit::OutputClosed`].
pub(super) fn line(text: impl std::fmt::Display) -> Result<(), Failure> {
    write(&format!("{text}\n"))
}

/// Writes `text` as it is (it ends with its own newline) to stdout.
pub(super) fn write(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(written)
}

/// The failure a stdout write error stands for.
fn written(e: std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::BrokenPipe => Failure::new(Exit::OutputClosed, "stdout was closed"),
        _ => Failure::new(Exit::Failure, format!("cannot write to stdout: {e}")),
    }
}

/// A line on stderr that never panics (a closed stderr loses the line, not the command).
pub(super) fn note(text: impl std::fmt::Display) {
    let _ = std::io::stderr().write_all(format!("{text}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_stops_quietly_and_other_errors_are_failures() {
        let closed = written(std::io::Error::from(ErrorKind::BrokenPipe));
        assert_eq!(closed.exit, Exit::OutputClosed);
        assert_eq!(closed.code(), 0);
        let full = written(std::io::Error::from(ErrorKind::StorageFull));
        assert_eq!(full.exit, Exit::Failure);
        assert!(full.message.contains("cannot write to stdout"), "{full}");
    }
}
