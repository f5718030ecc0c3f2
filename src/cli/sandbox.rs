//! `sandbox`: serves the simulated LigdiCash API until SIGTERM or SIGINT, optionally with
//! preloaded invoices for benchmarks. Needs neither the configuration nor the database.

use super::signals::stop_on_signal;
use super::{Exit, Failure, output, runtime};
use crate::sandbox::{self, Faults, SandboxConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to serve on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seed of the scenario's random choices, for repeatable runs.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// Fault injection, as JSON (see docs/sandbox.md), e.g. '{"server_error":0.1}'.
    #[arg(long, value_name = "JSON")]
    faults: Option<String>,
    /// Invoices made through create wait for their page's Pay or Fail button.
    #[arg(long)]
    wait_for_pay: bool,
    /// Create this many invoices, completed at once, before serving (for benchmarks).
    #[arg(long, value_name = "N", default_value_t = 0)]
    preload: usize,
    /// Write the preloaded invoices' tokens here, one per line.
    #[arg(long, value_name = "PATH", requires = "preload")]
    tokens_out: Option<PathBuf>,
}

/// `sandbox`: serves until a signal; `preload` completed invoices are created first and
/// their tokens written to `tokens_out`. With `wait_for_pay`, invoices made through the
/// create endpoint wait for a button of their payment page instead of settling by
/// themselves (a person testing a shop by hand).
pub(super) fn serve(args: Args) -> Result<(), Failure> {
    let Args {
        listen,
        seed,
        faults,
        wait_for_pay,
        preload,
        tokens_out,
    } = args;
    let faults: Faults = match faults.as_deref() {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Failure::usage(format!("--faults: invalid JSON: {e}")))?,
        None => Faults::default(),
    };
    let mut cfg = SandboxConfig {
        faults,
        ..SandboxConfig::default()
    };
    cfg.scenario.seed = seed;
    cfg.scenario.wait_for_pay = wait_for_pay;
    runtime()?.block_on(async {
        let running = sandbox::spawn(listen, cfg)
            .await
            .map_err(|e| Failure::new(Exit::Failure, format!("cannot listen on {listen}: {e}")))?;
        let spec = sandbox::InvoiceSpec {
            outcome: sandbox::Outcome::Completed,
            amount: 1000,
            paid_amount: None,
            transaction_id: None,
            confirmed_transaction_id: None,
            settle_after_ms: 0,
        };
        let tokens: Vec<String> = (0..preload)
            .map(|_| running.sandbox.add_invoice(&spec))
            .collect();
        if let Some(path) = tokens_out {
            std::fs::write(&path, tokens.join("\n")).map_err(|e| {
                Failure::new(
                    Exit::Failure,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
        }
        // A server keeps serving when nobody reads its banner any more.
        let _ = output::line(format_args!(
            "sandbox listening on {} (Apikey {}, Bearer {})",
            running.base_url(),
            sandbox::SANDBOX_API_KEY,
            sandbox::SANDBOX_API_TOKEN
        ));
        stop_on_signal(running.shutdown.clone()).await;
        match running.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::new(Exit::Failure, format!("sandbox failed: {e}"))),
            Err(e) => Err(Failure::new(
                Exit::Failure,
                format!("sandbox task failed: {e}"),
            )),
        }
    })
}
