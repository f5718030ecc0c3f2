//! One function per subcommand.

use super::{Cli, Command, EventsCommand, Exit, Failure};
use crate::config::{Config, Credentials};
use crate::payment::{NewPayment, Status, parse_token};
use crate::sandbox::{self, Faults, SandboxConfig};
use crate::store::{PaymentRow, Store, StoreError};
use crate::time::{ms, now_ms, rfc3339};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Runs the parsed command.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    // Commands that need neither the configuration nor the database.
    let command = match cli.command {
        Command::Sandbox {
            listen,
            seed,
            faults,
            preload,
            tokens_out,
        } => return serve_sandbox(listen, seed, faults.as_deref(), preload, tokens_out),
        Command::Demo { payments, keep_db } => {
            return crate::demo::run(payments, keep_db.as_deref())
                .map_err(|e| Failure::new(Exit::Failure, format!("demo failed: {e:#}")));
        }
        Command::Events {
            command: command @ EventsCommand::VerifySignature { .. },
        } => return super::events::verify_signature(command),
        other => other,
    };
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(path) = &cli.database {
        config.database.path = path.clone();
    }
    match command {
        Command::Run { until_idle } => super::run::run(
            &config,
            cli.config.clone(),
            cli.database.clone(),
            until_idle,
        ),
        Command::Enqueue {
            token,
            transaction_id,
            amount,
        } => enqueue(
            &config,
            &token,
            transaction_id.as_deref(),
            amount.as_deref(),
        ),
        Command::Show { token } => show(&config, &token),
        Command::List {
            status,
            json,
            limit,
        } => list(&config, status.as_deref(), json, limit),
        Command::Requeue { token } => requeue(&config, &token),
        Command::Migrate => migrate(&config),
        Command::CheckConfig => check_config(&config),
        Command::Events { command } => super::events::execute(&config, command),
        Command::Report {
            date,
            from,
            to,
            format,
            out,
            recheck,
        } => super::report::execute(
            &config,
            super::report::Request {
                date,
                range: from.zip(to),
                formats: format,
                out,
                recheck_only: recheck,
            },
        ),
        Command::Sandbox { .. } | Command::Demo { .. } => Ok(()),
    }
}

pub(super) fn open_store(config: &Config) -> Result<Store, Failure> {
    Ok(Store::open(
        &config.database.path,
        config.database.busy_timeout.0,
    )?)
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
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

pub(super) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Cancels `token` on SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
pub async fn stop_on_signal(token: CancellationToken) {
    if let Err(e) = stop_on_signal_or_reload(token.clone(), || {}).await {
        tracing::error!(error = %e, "stopping");
        token.cancel();
    }
}

/// [`stop_on_signal`], calling `on_hangup` for each SIGHUP (which would otherwise kill
/// the process). The token is cancelled before anything is logged about the signal: a stop
/// never waits on the log. An error means no handler could be installed.
pub async fn stop_on_signal_or_reload(
    token: CancellationToken,
    on_hangup: impl Fn(),
) -> Result<(), std::io::Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let name = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => on_hangup(),
            // Stopped for another reason: the handlers are no longer needed.
            _ = token.cancelled() => return Ok(()),
        }
    };
    token.cancel();
    tracing::info!(signal = name, "signal received, shutting down");
    Ok(())
}

fn enqueue(
    config: &Config,
    token: &str,
    transaction_id: Option<&str>,
    amount: Option<&str>,
) -> Result<(), Failure> {
    let payment = NewPayment::parse(token, transaction_id, amount).map_err(Failure::usage)?;
    let mut store = open_store(config)?;
    let now = now_ms();
    let first = now.saturating_add(ms(config.poll.first_delay.0));
    let result = store.enqueue(&payment, now, first)?;
    let word = match result {
        crate::store::payments::Enqueued::Inserted => "enqueued",
        crate::store::payments::Enqueued::AlreadyPresent => "already enqueued",
    };
    println!("{word} {}", payment.token);
    Ok(())
}

fn show(config: &Config, token: &str) -> Result<(), Failure> {
    let token = parse_token(token).map_err(Failure::usage)?;
    let store = open_store(config)?;
    let row = store
        .get(token)?
        .ok_or_else(|| Failure::from(StoreError::NotFound(token.to_owned())))?;
    println!("{}", pretty(&payment_json(&row)));
    Ok(())
}

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// The documented JSON form of a payment (`show`, `list --json`).
pub fn payment_json(p: &PaymentRow) -> Value {
    let time = |t: Option<i64>| t.map(rfc3339);
    json!({
        "token": p.token,
        "transaction_id": p.transaction_id,
        "expected_amount": p.expected_amount,
        "status": p.status,
        "status_reason": p.status_reason,
        "attempts": p.attempts,
        "amount": p.amount,
        "operator_id": p.operator_id,
        "operator_name": p.operator_name,
        "customer": p.customer,
        "request_id": p.request_id,
        "external_id": p.external_id,
        "confirmed_transaction_id": p.confirmed_transaction_id,
        "oreference": p.oreference,
        "provider_status": p.provider_status,
        "provider_date": p.provider_date,
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "resolved_at": time(p.resolved_at),
        "next_poll_at": time(p.next_poll_at),
        "last_confirm_at": time(p.last_confirm_at),
        "last_error": p.last_error,
        "raw_response": p.raw_response.as_deref().map(|raw| {
            serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
        }),
    })
}

fn list(config: &Config, status: Option<&str>, as_json: bool, limit: usize) -> Result<(), Failure> {
    let status = status
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                Failure::usage(format!(
                    "--status: unknown status {s:?} (one of {})",
                    all.join(", ")
                ))
            })
        })
        .transpose()?;
    let store = open_store(config)?;
    let rows = store.list(status, limit)?;
    if as_json {
        let items: Vec<Value> = rows.iter().map(payment_json).collect();
        println!("{}", pretty(&Value::Array(items)));
        return Ok(());
    }
    println!(
        "{:<44} {:<13} {:>10} {:>8}  UPDATED",
        "TOKEN", "STATUS", "AMOUNT", "ATTEMPTS"
    );
    for p in rows {
        let amount = p.amount.or(p.expected_amount).map(|a| a.to_string());
        println!(
            "{:<44} {:<13} {:>10} {:>8}  {}",
            shorten(&p.token, 44),
            p.status,
            amount.unwrap_or_default(),
            p.attempts,
            rfc3339(p.updated_at)
        );
    }
    Ok(())
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let head: String = text.chars().take(width - 1).collect();
    format!("{head}…")
}

fn requeue(config: &Config, token: &str) -> Result<(), Failure> {
    let token = parse_token(token).map_err(Failure::usage)?;
    let mut store = open_store(config)?;
    let previous = store.requeue(token, now_ms())?;
    println!("requeued {token} (was {previous})");
    Ok(())
}

fn migrate(config: &Config) -> Result<(), Failure> {
    let store = open_store(config)?;
    println!(
        "database {} is at schema version {}",
        config.database.path.display(),
        store.schema_version()?
    );
    Ok(())
}

fn check_config(config: &Config) -> Result<(), Failure> {
    let creds = Credentials::load(&config.ligdicash, &process_env)?;
    // Built as `run` builds them: a missing or malformed webhook secret fails here too.
    let sinks = crate::events::sinks::Sink::from_config(&config.events, &process_env)?;
    println!("# configuration is valid");
    println!("# api key: from {}", creds.api_key_source);
    println!("# api token: from {}", creds.api_token_source);
    for sink in &sinks {
        println!("# event sink: {}", sink.name());
    }
    print!("{}", config.to_redacted_toml());
    Ok(())
}

fn serve_sandbox(
    listen: std::net::SocketAddr,
    seed: u64,
    faults: Option<&str>,
    preload: usize,
    tokens_out: Option<std::path::PathBuf>,
) -> Result<(), Failure> {
    let faults: Faults = match faults {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Failure::usage(format!("--faults: invalid JSON: {e}")))?,
        None => Faults::default(),
    };
    let mut cfg = SandboxConfig {
        faults,
        ..SandboxConfig::default()
    };
    cfg.scenario.seed = seed;
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
        println!(
            "sandbox listening on {} (Apikey {}, Bearer {})",
            running.base_url(),
            sandbox::SANDBOX_API_KEY,
            sandbox::SANDBOX_API_TOKEN
        );
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
