//! `events ...` subcommands.

use super::{EventsCommand, Exit, Failure, output, pretty, process_env, with_db};
use crate::config::Config;
use crate::events::signature;
use crate::store::EventRow;
use crate::store::StoreError;
use crate::time::{now_ms, rfc3339};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Runs an `events` subcommand; `config` loads the configuration, for the ones that read
/// the database (`verify-signature` does not).
pub fn execute(
    command: EventsCommand,
    config: impl FnOnce() -> Result<Config, Failure>,
) -> Result<(), Failure> {
    match command {
        EventsCommand::List { state, json, limit } => {
            list(&config()?, state.as_deref(), json, limit)
        }
        EventsCommand::Show { id } => show(&config()?, &id),
        EventsCommand::Redeliver { id, dead: _ } => redeliver(&config()?, id.as_deref()),
        EventsCommand::VerifySignature(args) => verify_signature(args),
    }
}

/// The arguments of `events verify-signature`: the three headers and the body as received.
#[derive(Debug, clap::Args)]
pub struct VerifySignature {
    /// The whsec_... secret; read from this environment variable.
    #[arg(long, value_name = "VAR", default_value = "SHOP_WEBHOOK_SECRET")]
    secret_env: String,
    /// The webhook-id header.
    #[arg(long)]
    id: String,
    /// The webhook-timestamp header (Unix seconds).
    #[arg(long)]
    timestamp: String,
    /// The webhook-signature header (space-separated v1,... entries).
    #[arg(long)]
    signature: String,
    /// File holding the exact request body.
    #[arg(long, value_name = "PATH")]
    body: PathBuf,
    /// Skip the 5-minute timestamp tolerance (for replaying old captures).
    #[arg(long)]
    ignore_time: bool,
}

fn event_json(e: &EventRow) -> Value {
    json!({
        "id": e.id,
        "type": e.kind,
        "payment_token": e.payment_token,
        "state": e.state,
        "attempts": e.attempts,
        "created_at": rfc3339(e.created_at),
        "next_attempt_at": e.next_attempt_at.map(rfc3339),
        "delivered_at": e.delivered_at.map(rfc3339),
        "last_error": e.last_error,
        "payload": serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::Null),
    })
}

fn list(config: &Config, state: Option<&str>, as_json: bool, limit: usize) -> Result<(), Failure> {
    if let Some(s) = state
        && !["pending", "delivered", "dead"].contains(&s)
    {
        return Err(Failure::usage(format!(
            "--state: unknown state {s:?} (one of pending, delivered, dead)"
        )));
    }
    let state = state.map(str::to_owned);
    let events = with_db(config, async |db| Ok(db.list_events(state, limit).await?))?;
    if as_json {
        output::line(pretty(&Value::Array(
            events.iter().map(event_json).collect(),
        )))?;
        return Ok(());
    }
    output::line(format_args!(
        "{:<34} {:<24} {:<10} {:>8}  CREATED",
        "ID", "TYPE", "STATE", "ATTEMPTS"
    ))?;
    for e in events {
        output::line(format_args!(
            "{:<34} {:<24} {:<10} {:>8}  {}",
            e.id,
            e.kind,
            e.state,
            e.attempts,
            rfc3339(e.created_at)
        ))?;
    }
    Ok(())
}

fn show(config: &Config, id: &str) -> Result<(), Failure> {
    let (event, deliveries) = with_db(config, async |db| Ok(db.get_event(id.to_owned()).await?))?
        .ok_or_else(|| Failure::from(StoreError::NotFound(id.to_owned())))?;
    let mut out = event_json(&event);
    out["deliveries"] = deliveries
        .into_iter()
        .map(|(sink, state, attempts, last_error)| {
            json!({"sink": sink, "state": state, "attempts": attempts, "last_error": last_error})
        })
        .collect();
    output::line(pretty(&out))?;
    Ok(())
}

fn redeliver(config: &Config, id: Option<&str>) -> Result<(), Failure> {
    let id = id.map(str::to_owned);
    let reopened = with_db(config, async |db| Ok(db.redeliver(id, now_ms()).await?))?;
    output::line(format_args!(
        "{reopened} deliveries reopened; a running daemon delivers them now"
    ))?;
    Ok(())
}

/// `events verify-signature`: needs no database or configuration.
fn verify_signature(args: VerifySignature) -> Result<(), Failure> {
    let VerifySignature {
        secret_env,
        id,
        timestamp,
        signature: header,
        body,
        ignore_time,
    } = args;
    let secret = process_env(&secret_env).ok_or_else(|| {
        Failure::new(
            Exit::Config,
            format!("environment variable {secret_env} is not set"),
        )
    })?;
    let body = std::fs::read(&body).map_err(|e| {
        Failure::new(
            Exit::Failure,
            format!("cannot read {}: {e}", body.display()),
        )
    })?;
    let now = if ignore_time {
        timestamp.trim().parse().unwrap_or(0)
    } else {
        now_ms() / 1000
    };
    match signature::verify(&[secret.trim()], &id, &timestamp, &header, &body, now) {
        Ok(()) => {
            output::line("signature valid")?;
            Ok(())
        }
        Err(e) => Err(Failure::new(
            Exit::Failure,
            format!("signature invalid: {e}"),
        )),
    }
}
