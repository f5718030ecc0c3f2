//! The command line. Parses arguments, maps every failure to a one-line message and a
//! documented exit code, and calls into the library.
//!
//! Exit codes: 0 success; 1 runtime failure (unknown token, conflicting enqueue, ...);
//! 2 bad arguments; 3 bad configuration or missing credentials; 4 database unusable;
//! 5 another instance already runs on the database; 6 a `run --once` pass whose every
//! confirm LigdiCash refused for the credentials or never answered; 7 a `report --send`
//! whose mail the SMTP server refused or never took.
//!
//! This file holds the command tree ([`Cli`], [`Command`]), [`main`] and the dispatcher
//! [`execute`]; each command group has a file of its own, with its longer argument lists
//! (`report`, `sandbox`, `events verify-signature`, `cases`): `run` (the daemon),
//! `payments` (enqueue, show, list, requeue), `cases` (cases, resolve, evidence), `setup`
//! (migrate, check-config), `report`, `events`, `sandbox`, and `signals` (how SIGTERM,
//! SIGINT and SIGHUP reach `run` and `sandbox`).
//! Commands print through `output`, never `println!`, which panics on a closed pipe;
//! `table` lays out `list`, and `help` builds the command tree with the global options
//! hidden where they do not apply.

mod cases;
mod events;
mod help;
mod output;
mod payments;
mod report;
mod run;
mod sandbox;
mod setup;
mod signals;
mod table;

use crate::config::{CONFIG_ENV, Config};
pub use crate::failure::{Exit, Failure};
use crate::poller::RunMode;
use crate::store::Db;
use crate::telemetry::{self, LogFormat};
use clap::{FromArgMatches, Parser, Subcommand};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Keeps LigdiCash payments and the shop's database in agreement.
#[derive(Debug, Parser)]
#[command(name = "ligdicash-reconciler", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Every key has a default.
    #[arg(long, global = true, env = CONFIG_ENV, value_name = "PATH", display_order = 900)]
    pub config: Option<PathBuf>,
    /// Database file, overriding `[database] path`.
    #[arg(long, global = true, value_name = "PATH", display_order = 901)]
    pub database: Option<PathBuf>,
    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        default_value_t = LogFormat::Human,
        display_order = 902
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reconciler daemon.
    Run {
        /// Exit 0 once no payment is pending and every event has had its first delivery
        /// attempt.
        #[arg(long, conflicts_with = "once")]
        until_idle: bool,
        /// One pass over what is due now (confirms, then the due event deliveries), then
        /// exit 0, or 6 when LigdiCash refused the credentials or could not be reached
        /// for every confirm of the pass: for cron where systemd is not available.
        #[arg(long)]
        once: bool,
    },
    /// Add a pending payment (idempotent on the token).
    Enqueue {
        /// The creation token LigdiCash returned.
        token: String,
        /// The shop's reference for the order.
        #[arg(long, value_name = "ID")]
        transaction_id: Option<String>,
        /// The expected amount, in whole XOF.
        #[arg(long, value_name = "XOF", allow_hyphen_values = true)]
        amount: Option<String>,
        /// What the token is: `invoice` (money in, the default), `withdrawal` (to a
        /// customer's LigdiCash wallet) or `payout` (a straight payout to mobile money).
        #[arg(long, value_name = "KIND", default_value = "invoice")]
        kind: String,
        /// Print the payment as JSON (as `show` does), with whether it was inserted.
        #[arg(long)]
        json: bool,
    },
    /// Print one payment as JSON.
    Show {
        /// The creation token LigdiCash returned.
        #[arg(required_unless_present = "order", conflicts_with = "order")]
        token: Option<String>,
        /// The shop's order reference (`transaction_id`) instead of a token; the newest
        /// payment of that order.
        #[arg(long, value_name = "ID")]
        order: Option<String>,
    },
    /// List payments, newest first.
    List {
        /// Only payments in this status (pending, completed, notcompleted, mismatch,
        /// timeout, invalid_token).
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// Only the payments of this order reference (`transaction_id`).
        #[arg(long, value_name = "ID")]
        order: Option<String>,
        /// Print a JSON array of payments (as `show` prints them) instead of a table.
        #[arg(long)]
        json: bool,
        /// At most this many payments.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
    },
    /// Put a timeout or invalid_token payment back to pending, or make a corrected parked
    /// row due now.
    Requeue {
        /// The creation token of the payment.
        token: String,
        /// Print the payment as JSON (as `show` does), with its status before.
        #[arg(long)]
        json: bool,
    },
    /// List cases: what needs a person (open, oldest first) or what was decided.
    Cases(cases::CasesArgs),
    /// Close a payment's open case with a decision and a note (recorded with your user).
    Resolve(cases::ResolveArgs),
    /// Write a payment's evidence file (JSON and HTML) for a dispute, with its SHA-256.
    Evidence(cases::EvidenceArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Validate the configuration and credentials; print the effective configuration.
    CheckConfig,
    /// Write reconciliation reports (default: yesterday, in the configured time zone).
    Report(report::Request),
    /// Inspect and redeliver outbox events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Serve the simulated LigdiCash API.
    Sandbox(sandbox::Args),
    /// Demonstrate the whole flow on the embedded sandbox, in under a minute.
    Demo {
        /// How many invoices the simulated shop creates.
        #[arg(long, value_name = "N", default_value_t = 300)]
        payments: usize,
        /// Keep the demo database at this path instead of a temporary one.
        #[arg(long, value_name = "PATH")]
        keep_db: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List events, newest first.
    List {
        /// Only events in this state: pending, delivered or dead.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// Print a JSON array of events (with their payloads) instead of a table.
        #[arg(long)]
        json: bool,
        /// At most this many events.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
    },
    /// Print one event with its payload and per-sink deliveries.
    Show {
        /// The event id (`evt_...`, the webhook-id receivers see).
        id: String,
    },
    /// Deliver an event again to every sink, or every dead delivery with --dead.
    Redeliver {
        /// The event id (`evt_...`).
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<String>,
        /// Every dead delivery instead of one event.
        #[arg(long)]
        dead: bool,
    },
    /// Check a received webhook's signature (for debugging a receiver).
    VerifySignature(events::VerifySignature),
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = match help::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The demo prints its own progress, and a summary of the faults it survived; warnings
    // interleaved with the progress lines would drown it (RUST_LOG=warn shows them).
    let default_level = match cli.command {
        Command::Demo { .. } => "error",
        _ => "info",
    };
    telemetry::init(cli.log_format, default_level);
    let result = execute(cli);
    // The last log lines reach stderr before the error line and the exit.
    telemetry::flush(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.exit == Exit::OutputClosed => ExitCode::SUCCESS,
        Err(f) => {
            // Not `eprintln!`, which panics when stderr is closed: the exit code still tells.
            let line = format!("error: {}\n", f.message.replace('\n', " "));
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            ExitCode::from(f.code())
        }
    }
}

/// Runs the parsed command, each with what it needs: most load the configuration (with
/// `--database` applied) and hand it to their file; `sandbox`, `demo` and
/// `events verify-signature` read neither the configuration nor the database, so a missing
/// or broken configuration file does not stop them.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    let sources = Sources {
        config: cli.config,
        database: cli.database,
    };
    match cli.command {
        Command::Run { until_idle, once } => {
            let mode = match (until_idle, once) {
                (true, _) => RunMode::UntilIdle,
                (_, true) => RunMode::Once,
                _ => RunMode::Forever,
            };
            let config = sources.load()?;
            run::run(&config, sources.config, sources.database, mode)
        }
        Command::Enqueue {
            token,
            transaction_id,
            amount,
            kind,
            json,
        } => payments::enqueue(
            &sources.load()?,
            &token,
            transaction_id.as_deref(),
            amount.as_deref(),
            &kind,
            json,
        ),
        Command::Show { token, order } => {
            payments::show(&sources.load()?, token.as_deref(), order.as_deref())
        }
        Command::List {
            status,
            order,
            json,
            limit,
        } => payments::list(
            &sources.load()?,
            status.as_deref(),
            order.as_deref(),
            json,
            limit,
        ),
        Command::Requeue { token, json } => payments::requeue(&sources.load()?, &token, json),
        Command::Cases(args) => cases::list(&sources.load()?, args),
        Command::Resolve(args) => cases::resolve_case(&sources.load()?, args),
        Command::Evidence(args) => cases::evidence(&sources.load()?, args),
        Command::Migrate => setup::migrate(&sources.load()?),
        Command::CheckConfig => setup::check_config(&sources.load()?),
        Command::Report(request) => report::execute(&sources.load()?, request),
        Command::Events { command } => events::execute(command, || sources.load()),
        Command::Sandbox(args) => sandbox::serve(args),
        Command::Demo { payments, keep_db } => demo(payments, keep_db),
    }
}

/// Where the configuration comes from: `--config` (or its environment variable) and
/// `--database`, kept apart from the commands so that only those that need the
/// configuration load it.
struct Sources {
    config: Option<PathBuf>,
    database: Option<PathBuf>,
}

impl Sources {
    /// The configuration file (defaults where there is none), `--database` applied.
    fn load(&self) -> Result<Config, Failure> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(path) = &self.database {
            config.database.path = path.clone();
        }
        Ok(config)
    }
}

/// `demo`: a closed stdout ends it quietly (exit 0), like every command's output.
fn demo(payments: usize, keep_db: Option<PathBuf>) -> Result<(), Failure> {
    crate::demo::run(payments, keep_db.as_deref()).map_err(|e| {
        match e.downcast_ref::<crate::demo::OutputClosed>() {
            Some(closed) => Failure::new(Exit::OutputClosed, closed.to_string()),
            None => Failure::new(Exit::Failure, format!("demo failed: {e:#}")),
        }
    })
}

// What several command files need.

/// Runs `command` on a handle on the configured database (created or upgraded first), on
/// a runtime of its own: the commands are synchronous, the store interface is async.
fn with_db<T>(
    config: &Config,
    command: impl AsyncFnOnce(&Db) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let target = crate::store::Target::from_config(config, &process_env)?;
    runtime()?.block_on(async {
        let db = Db::open(&target).await?;
        command(&db).await
    })
}

/// The async runtime of a command that needs one.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot start the async runtime: {e}"),
            )
        })
}

/// The process environment, as the library's loaders take it (tests pass their own).
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// JSON for a human reader; falls back to the compact form rather than failing.
fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}
