//! Entry point: everything lives in the library so tests and benchmarks reach it.

// As in the library: errors are handled or said, never unwrapped.
#![deny(clippy::unwrap_used, clippy::expect_used)]

fn main() -> std::process::ExitCode {
    ligdicash_reconciler::cli::main()
}
