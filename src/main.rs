//! Entry point: everything lives in the library so tests and benchmarks reach it.

fn main() -> std::process::ExitCode {
    ligdicash_reconciler::cli::main()
}
