//! The case commands: `cases` lists what needs a person (or what was decided), `resolve`
//! records a person's decision, recorded as made by the Unix user running it, and
//! `evidence` writes a payment's evidence file (JSON and HTML). Cases print in the one
//! JSON form of [`CaseRow::to_json`], or as a table.

use super::{Exit, Failure, output, pretty, table, with_db};
use crate::cases::resolve::{ResolveError, resolve};
use crate::cases::{evidence, who};
use crate::config::{Config, ReportLanguage};
use crate::payment::parse_token;
use crate::store::{CaseFilter, CaseRow, PaymentFilter};
use crate::time::{now_ms, rfc3339};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// The arguments of `resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The creation token of the payment whose open case is closed.
    pub token: String,
    /// What was decided: accepted, refunded, paid_elsewhere, not_paid, written_off or
    /// sent_again (`cases` shows the ones that fit each case).
    #[arg(long, value_name = "DECISION")]
    pub decision: String,
    /// Why: what was checked and done, for the accountant and the audit trail.
    #[arg(long, value_name = "TEXT")]
    pub note: String,
    /// Print the closed case as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `cases`.
#[derive(Debug, clap::Args)]
pub struct CasesArgs {
    /// `open` (what needs a person, oldest first) or `closed` (newest closed first).
    #[arg(long, value_name = "STATUS", default_value = "open")]
    pub status: String,
    /// Print a JSON array of cases instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many cases.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
}

/// `resolve`: closes the payment's open case with a decision and a note.
pub(super) fn resolve_case(config: &Config, args: ResolveArgs) -> Result<(), Failure> {
    let token = parse_token(&args.token).map_err(Failure::usage)?;
    let sinks = Arc::new(config.events.sink_names());
    let by = who::cli_user();
    let case = with_db(config, async |db| {
        let closed = resolve(db, token, &args.decision, &args.note, by, now_ms(), sinks).await;
        closed.map_err(refused)
    })?;
    if args.json {
        return output::line(pretty(&case.to_json(now_ms())));
    }
    let decision = case.closing.as_ref().and_then(|c| c.decision);
    output::line(format_args!(
        "closed the {} case of {token} ({}): {}",
        case.kind.as_str(),
        case.transaction_id.as_deref().unwrap_or("no order"),
        decision.map_or("", |d| d.as_str())
    ))
}

/// A refused decision: a usage error for what was typed wrong, else a failure (exit 1).
fn refused(e: ResolveError) -> Failure {
    match e {
        ResolveError::Store(e) => e.into(),
        e @ (ResolveError::UnknownDecision(_) | ResolveError::BadNote) => {
            Failure::usage(e.to_string())
        }
        e => Failure::new(Exit::Failure, e.to_string()),
    }
}

/// `cases`: open cases oldest first, or closed ones newest first.
pub(super) fn list(config: &Config, args: CasesArgs) -> Result<(), Failure> {
    let closed = match args.status.trim() {
        "open" => false,
        "closed" => true,
        other => {
            return Err(Failure::usage(format!(
                "--status: {other:?} is neither open nor closed"
            )));
        }
    };
    let filter = CaseFilter {
        closed,
        ..CaseFilter::default()
    };
    let rows = with_db(config, async |db| {
        Ok(db.list_cases(filter, args.limit).await?)
    })?;
    let now = now_ms();
    if args.json {
        let items: Vec<Value> = rows.iter().map(|c| c.to_json(now)).collect();
        return output::line(pretty(&Value::Array(items)));
    }
    for line in lines(&rows, now) {
        output::line(line)?;
    }
    Ok(())
}

/// The table: one line per case, its age in hours and minutes.
fn lines(rows: &[CaseRow], now: i64) -> Vec<String> {
    let tokens: Vec<&str> = rows.iter().map(|c| c.token.as_str()).collect();
    let short = table::short_tokens(&tokens);
    let w = short.iter().map(String::len).max().unwrap_or(0).max(5);
    let mut lines = vec![format!(
        "{:>6} {:<16} {:<w$} {:<20} {:<13} {:>9}  {:<24}  DECISION",
        "CASE", "KIND", "TOKEN", "ORDER", "STATUS", "AGE", "OPENED"
    )];
    for (c, token) in rows.iter().zip(&short) {
        let age = c.age_seconds(now);
        let decided = c.closing.as_ref().map(|r| {
            let what = r.decision.map_or("closed by itself", |d| d.as_str());
            format!("{what} by {}: {}", r.by, r.note)
        });
        let line = format!(
            "{:>6} {:<16} {token:<w$} {:<20} {:<13} {:>9}  {:<24}  {}",
            c.id,
            c.kind.as_str(),
            c.transaction_id.as_deref().unwrap_or("-"),
            c.status.as_str(),
            format!("{}h{:02}m", age / 3600, age / 60 % 60),
            rfc3339(c.opened_at),
            decided.unwrap_or_default()
        );
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// The arguments of `evidence`.
#[derive(Debug, clap::Args)]
pub struct EvidenceArgs {
    /// The creation token of the payment.
    #[arg(required_unless_present = "order", conflicts_with = "order")]
    pub token: Option<String>,
    /// The shop's order reference (`transaction_id`) instead of a token: the newest
    /// payment of that order.
    #[arg(long, value_name = "ID")]
    pub order: Option<String>,
    /// The directory the two files are written to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// The HTML's language, `fr` or `en` (default: `[report] language`).
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,
    /// Print the JSON on stdout instead of writing files (its SHA-256 on stderr).
    #[arg(long)]
    pub json: bool,
}

/// `evidence`: the payment's evidence file. Writes `<stem>.json` and `<stem>.html` and
/// prints the JSON's SHA-256 and path as `sha256sum` does, then the HTML's path.
pub(super) fn evidence(config: &Config, args: EvidenceArgs) -> Result<(), Failure> {
    let language = match args.language.as_deref() {
        None => None,
        Some("fr") => Some(ReportLanguage::French),
        Some("en") => Some(ReportLanguage::English),
        Some(other) => {
            return Err(Failure::usage(format!(
                "--language: {other:?} is neither fr nor en"
            )));
        }
    };
    let settings = evidence::Settings::from_config(config)?;
    let token = args
        .token
        .as_deref()
        .map(parse_token)
        .transpose()
        .map_err(Failure::usage)?;
    let order = args.order.as_deref().map(str::trim);
    let facts = with_db(config, async |db| {
        let token = match (token, order) {
            (Some(token), _) => token.to_owned(),
            (None, Some(order)) => {
                let filter = PaymentFilter {
                    transaction_id: Some(order.to_owned()),
                    ..PaymentFilter::default()
                };
                let rows = db.search(filter, 2).await?;
                if rows.len() > 1 {
                    output::note(format_args!(
                        "order {order} has several payments; this is the newest (list --order {order} shows them all)"
                    ));
                }
                let newest = rows.into_iter().next();
                newest.map(|r| r.token).ok_or_else(|| {
                    Failure::new(Exit::Failure, format!("no payment for order {order}"))
                })?
            }
            (None, None) => return Err(Failure::usage("evidence: give a token or --order")),
        };
        db.evidence(token.clone())
            .await?
            .ok_or_else(|| Failure::new(Exit::Failure, format!("no payment with token {token:?}")))
    })?;
    let file = evidence::build(&facts, &settings.at(now_ms(), language));
    if args.json {
        output::note(format_args!("SHA-256 {}", file.sha256));
        return output::write(&file.json);
    }
    let stem = evidence::file_stem(&facts);
    let (json, html) = (
        args.out.join(format!("{stem}.json")),
        args.out.join(format!("{stem}.html")),
    );
    for (path, text) in [(&json, &file.json), (&html, &file.html)] {
        std::fs::write(path, text).map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    }
    output::line(format_args!("{}  {}", file.sha256, json.display()))?;
    output::line(html.display())
}
