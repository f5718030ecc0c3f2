//! The payment commands: `enqueue`, `show`, `list` and `requeue`. Payments print in the one
//! JSON form of [`PaymentRow::to_json`]; `list` prints a table (`table`).

use super::{Exit, Failure, output, pretty, table, with_db};
use crate::config::Config;
use crate::payment::{Kind, NewPayment, Status, parse_token};
use crate::store::{Db, PaymentFilter, PaymentRow, StoreError};
use crate::store::{Enqueued, Requeued};
use crate::time::{ms, now_ms};
use serde_json::{Value, json};

/// `enqueue`: adds a pending payment of `kind`, due after its kind's `first_delay`;
/// idempotent on the token.
pub(super) fn enqueue(
    config: &Config,
    token: &str,
    transaction_id: Option<&str>,
    amount: Option<&str>,
    kind: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let kind = Kind::parse_given(kind).map_err(|e| Failure::usage(format!("--{e}")))?;
    let payment = NewPayment::parse(token, transaction_id, amount)
        .map_err(|refused| Failure::usage(refused.to_string()))?
        .of_kind(kind);
    let first_delay = match kind {
        Kind::Invoice => config.poll.first_delay.0,
        Kind::Withdrawal | Kind::Payout => config.payouts.first_delay.0,
    };
    with_db(config, async |db| {
        let now = now_ms();
        let first = now.saturating_add(ms(first_delay));
        let token = payment.token.clone();
        let result = db.enqueue(payment, now, first).await?;
        if as_json {
            let row = by_token(db, &token).await?;
            let enqueued = result == Enqueued::Inserted;
            return output::line(pretty(
                &json!({"enqueued": enqueued, "payment": row.to_json()}),
            ));
        }
        let word = match result {
            Enqueued::Inserted => "enqueued",
            Enqueued::AlreadyPresent => "already enqueued",
        };
        output::line(format_args!("{word} {token}"))
    })
}

/// `show`: one payment as JSON, by token or as the newest of an order.
pub(super) fn show(
    config: &Config,
    token: Option<&str>,
    order: Option<&str>,
) -> Result<(), Failure> {
    let row = match (token, order) {
        (Some(token), _) => {
            let token = parse_token(token).map_err(Failure::usage)?;
            with_db(config, async |db| by_token(db, token).await)?
        }
        (None, Some(order)) => {
            let order = parse_order(order)?;
            let mut rows = with_db(config, async |db| {
                let filter = PaymentFilter {
                    transaction_id: Some(order.to_owned()),
                    ..PaymentFilter::default()
                };
                Ok(db.search(filter, 2).await?)
            })?;
            if rows.len() > 1 {
                output::note(format_args!(
                    "order {order} has several payments; this is the newest (list --order {order} shows them all)"
                ));
            }
            rows.drain(..).next().ok_or_else(|| {
                Failure::new(Exit::Failure, format!("no payment for order {order}"))
            })?
        }
        (None, None) => return Err(Failure::usage("show: give a token or --order")),
    };
    output::line(pretty(&row.to_json()))
}

/// `list`: payments newest first, as a table or as JSON.
pub(super) fn list(
    config: &Config,
    status: Option<&str>,
    order: Option<&str>,
    as_json: bool,
    limit: usize,
) -> Result<(), Failure> {
    let status = status.map(parse_status).transpose()?;
    let order = order.map(parse_order).transpose()?;
    let filter = PaymentFilter {
        transaction_id: order.map(str::to_owned),
        status,
        ..PaymentFilter::default()
    };
    let rows = with_db(config, async |db| Ok(db.search(filter, limit).await?))?;
    if as_json {
        let items: Vec<Value> = rows.iter().map(PaymentRow::to_json).collect();
        return output::line(pretty(&Value::Array(items)));
    }
    for line in table::payments(&rows) {
        output::line(line)?;
    }
    Ok(())
}

/// `requeue`: a `timeout` or `invalid_token` payment back to pending, or a corrected parked
/// row due now.
pub(super) fn requeue(config: &Config, token: &str, as_json: bool) -> Result<(), Failure> {
    let token = parse_token(token).map_err(Failure::usage)?;
    with_db(config, async |db| {
        let was = match db.requeue(token.to_owned(), now_ms()).await? {
            Requeued::Reopened(previous) => previous.as_str(),
            Requeued::Unparked => "parked",
        };
        if as_json {
            let row = by_token(db, token).await?;
            return output::line(pretty(
                &json!({"requeued_from": was, "payment": row.to_json()}),
            ));
        }
        output::line(format_args!("requeued {token} (was {was})"))
    })
}

async fn by_token(db: &Db, token: &str) -> Result<PaymentRow, Failure> {
    db.get(token.to_owned())
        .await?
        .ok_or_else(|| Failure::from(StoreError::NotFound(token.to_owned())))
}

/// An order reference as given with `--order`, by the rule `enqueue` stores it with.
fn parse_order(text: &str) -> Result<&str, Failure> {
    match text.trim() {
        "" => Err(Failure::usage("--order: must not be empty")),
        order => Ok(order),
    }
}

fn parse_status(text: &str) -> Result<Status, Failure> {
    Status::parse(text).ok_or_else(|| {
        let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        Failure::usage(format!(
            "--status: unknown status {text:?} (one of {})",
            all.join(", ")
        ))
    })
}
