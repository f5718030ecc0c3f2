//! The payment commands: `enqueue`, `show`, `list` and `requeue`, and the documented JSON
//! form of a payment they print.

use super::{Failure, open_store, output, pretty};
use crate::config::Config;
use crate::payment::{NewPayment, Status, parse_token};
use crate::store::payments::Enqueued;
use crate::store::{PaymentRow, StoreError};
use crate::time::{ms, now_ms, rfc3339};
use serde_json::Value;

/// `enqueue`: adds a pending payment, due after `first_delay`; idempotent on the token.
pub(super) fn enqueue(
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
        Enqueued::Inserted => "enqueued",
        Enqueued::AlreadyPresent => "already enqueued",
    };
    output::line(format_args!("{word} {}", payment.token))?;
    Ok(())
}

/// `show`: one payment as JSON.
pub(super) fn show(config: &Config, token: &str) -> Result<(), Failure> {
    let token = parse_token(token).map_err(Failure::usage)?;
    let store = open_store(config)?;
    let row = store
        .get(token)?
        .ok_or_else(|| Failure::from(StoreError::NotFound(token.to_owned())))?;
    output::line(format_args!("{}", pretty(&row.to_json())))?;
    Ok(())
}

/// `list`: payments newest first, as a table or as JSON.
pub(super) fn list(
    config: &Config,
    status: Option<&str>,
    as_json: bool,
    limit: usize,
) -> Result<(), Failure> {
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
        let items: Vec<Value> = rows.iter().map(PaymentRow::to_json).collect();
        output::line(format_args!("{}", pretty(&Value::Array(items))))?;
        return Ok(());
    }
    output::line(format_args!(
        "{:<44} {:<13} {:>10} {:>8}  UPDATED",
        "TOKEN", "STATUS", "AMOUNT", "ATTEMPTS"
    ))?;
    for p in rows {
        let amount = p.amount.or(p.expected_amount).map(|a| a.to_string());
        output::line(format_args!(
            "{:<44} {:<13} {:>10} {:>8}  {}",
            shorten(&p.token, 44),
            p.status,
            amount.unwrap_or_default(),
            p.attempts,
            rfc3339(p.updated_at)
        ))?;
    }
    Ok(())
}

/// `text` cut to `width` characters, an ellipsis marking the cut.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let head: String = text.chars().take(width - 1).collect();
    format!("{head}…")
}

/// `requeue`: a `timeout` or `invalid_token` payment back to pending.
pub(super) fn requeue(config: &Config, token: &str) -> Result<(), Failure> {
    let token = parse_token(token).map_err(Failure::usage)?;
    let mut store = open_store(config)?;
    let previous = store.requeue(token, now_ms())?;
    output::line(format_args!("requeued {token} (was {previous})"))?;
    Ok(())
}
