//! `report`: reconciliation reports on demand, the timeout re-check, and a day's report
//! e-mailed at once (`--send`).

use super::{Exit, Failure, output, process_env, runtime};
use crate::app::build_client;
use crate::config::{Config, Credentials, ReportFormat, ReportLanguage};
use crate::confirm::Confirmer;
use crate::confirm::cluster::Membership;
use crate::ligdicash::LigdicashClient;
use crate::metrics::Metrics;
use crate::report::email::Mailer;
use crate::report::email::message::Sending;
use crate::report::{Reporter, day};
use crate::store::Db;
use crate::time::now_ms;
use chrono::{Days, NaiveDate};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the user asked for: the arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct Request {
    /// The local day to report on (default: yesterday).
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with_all = ["from", "to"])]
    date: Option<String>,
    /// The first day of a range (with --to), one report per day.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
    from: Option<String>,
    /// The last day of a range (with --from), included.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
    to: Option<String>,
    /// Comma-separated: json,csv,html (default: the configured formats).
    #[arg(long, value_delimiter = ',', value_name = "FORMATS")]
    format: Option<Vec<String>>,
    /// Output directory (default: report.output_dir).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Only re-confirm the recent timeouts, write no report.
    #[arg(long, conflicts_with_all = ["date", "from", "to", "format", "out"])]
    recheck: bool,
    /// Write the report of this local day and e-mail it now ([report.email]).
    #[arg(
        long,
        value_name = "YYYY-MM-DD",
        conflicts_with_all = ["date", "from", "to", "format", "out", "recheck"]
    )]
    send: Option<String>,
    /// The language of this run's page, CSV and mail: fr or en (default: [report] language).
    #[arg(long, value_name = "fr|en", value_parser = parse_language, conflicts_with = "recheck")]
    language: Option<ReportLanguage>,
}

fn parse_language(text: &str) -> Result<ReportLanguage, String> {
    match text.trim() {
        "fr" => Ok(ReportLanguage::French),
        "en" => Ok(ReportLanguage::English),
        other => Err(format!("{other:?} is not a report language (fr or en)")),
    }
}

fn parse_date(arg: &str, text: &str) -> Result<NaiveDate, Failure> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Failure::usage(format!("{arg}: {text:?} is not a date (YYYY-MM-DD)")))
}

/// The days to report, oldest first; yesterday by default.
fn days(req: &Request, today: NaiveDate) -> Result<Vec<NaiveDate>, Failure> {
    if let Some(d) = &req.date {
        return Ok(vec![parse_date("--date", d)?]);
    }
    if let (Some(from), Some(to)) = (&req.from, &req.to) {
        let (from, to) = (parse_date("--from", from)?, parse_date("--to", to)?);
        if from > to {
            return Err(Failure::usage("--from must not be after --to"));
        }
        if (to - from).num_days() > 366 {
            return Err(Failure::usage("--from/--to: at most 367 days at once"));
        }
        return Ok(from.iter_days().take_while(|d| *d <= to).collect());
    }
    Ok(vec![today.checked_sub_days(Days::new(1)).unwrap_or(today)])
}

/// `report`: writes the reports of the days asked for, or with `--recheck` only re-confirms
/// the recent timeouts, or with `--send` writes one day and mails it.
pub fn execute(config: &Config, req: Request) -> Result<(), Failure> {
    let mut config = config.clone();
    if let Some(language) = req.language {
        config.report.language = language;
    }
    let config = &config;
    if let Some(date) = &req.send {
        return send(config, date);
    }
    // Arguments first: a bad date must not open (or create) the database.
    let formats = formats(&req, config)?;
    let today = day::date_of(now_ms(), config.report.zone()?);
    let days = days(&req, today)?;
    // Credentials first: missing ones must not open (or create) the database either.
    let client = match req.recheck {
        true => {
            let creds = Credentials::load(&config.ligdicash, &process_env)?;
            Some(build_client(config, &creds)?)
        }
        false => None,
    };
    let out = req.out.clone().unwrap_or_else(|| config.report_dir());
    let target = crate::store::Target::from_config(config, &process_env)?;
    runtime()?.block_on(async {
        let (reporter, confirmer) = reporter(config, &target, client).await?;
        match confirmer {
            Some(confirmer) => recheck(&reporter, &confirmer).await,
            None => write_days(&reporter, &days, &out, &formats).await,
        }
    })
}

/// The formats asked for, or the configured ones.
fn formats(req: &Request, config: &Config) -> Result<Vec<ReportFormat>, Failure> {
    match &req.format {
        Some(given) => given
            .iter()
            .map(|f| {
                f.parse()
                    .map_err(|e| Failure::usage(format!("--format: {e}")))
            })
            .collect(),
        None => Ok(config.report.formats.clone()),
    }
}

/// The reporter on the configured database; with a LigdiCash `client` (for `--recheck`),
/// also the confirm path it re-confirms through, returned for joining a cluster.
async fn reporter(
    config: &Config,
    target: &crate::store::Target,
    client: Option<LigdicashClient>,
) -> Result<(Reporter, Option<Arc<Confirmer>>), Failure> {
    let sinks = Arc::new(config.events.sink_names());
    let db = Db::open(target).await?;
    let confirmer = client.map(|client| {
        Arc::new(Confirmer::new(
            &config.poll,
            &config.payouts,
            client,
            Arc::new(Metrics::default()),
            db.clone(),
            sinks.clone(),
        ))
    });
    let reporter = Reporter::new(
        &config.report,
        config.report_dir(),
        db,
        confirmer.clone(),
        sinks,
    )?;
    Ok((reporter, confirmer))
}

/// `report --recheck`: re-confirms the recent timeouts. On PostgreSQL the calls count
/// within the cluster's rate: this command joins it for as long as it confirms.
async fn recheck(reporter: &Reporter, confirmer: &Confirmer) -> Result<(), Failure> {
    let member = match reporter.db().is_shared() {
        true => Some(Membership::join(reporter.db().clone(), confirmer.shared_throttle()).await?),
        false => None,
    };
    let rechecked = reporter.recheck().await;
    if let Some(member) = member {
        member.leave().await;
    }
    let s = rechecked.map_err(|e| Failure::new(Exit::Database, e.to_string()))?;
    output::line(format_args!(
        "re-checked {} timeouts: {} late completions, {} late mismatches, {} notcompleted",
        s.checked, s.late_completed, s.late_mismatch, s.notcompleted
    ))?;
    Ok(())
}

/// Writes the reports of `days` into `out`, saying each day's files.
async fn write_days(
    reporter: &Reporter,
    days: &[NaiveDate],
    out: &Path,
    formats: &[ReportFormat],
) -> Result<(), Failure> {
    for (i, date) in days.iter().enumerate() {
        let files = reporter
            .generate(*date, out, formats)
            .await
            .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        if days.len() > 1 {
            output::note(format_args!("[{}/{}] {date}", i + 1, days.len()));
        }
        output::line(format_args!("{date}: {}", names.join(", ")))?;
    }
    Ok(())
}

/// `report --send DATE`: writes the day's report into the report directory, as `report
/// --date` does, and mails it now through the same message and transport as the nightly
/// mail, but not through the outbox: the person asking sees the outcome at once. Exit 7
/// when the mail fails (the files stay written), 3 without `[report.email]`.
fn send(config: &Config, date: &str) -> Result<(), Failure> {
    let date = parse_date("--send", date)?;
    // Before the database: a missing section, password or CA bundle creates nothing.
    let mailer = Mailer::from_config(&config.report, &process_env)?.ok_or_else(|| {
        Failure::new(
            Exit::Config,
            "report --send needs a [report.email] section in the configuration (docs/reports.md)",
        )
    })?;
    let target = crate::store::Target::from_config(config, &process_env)?;
    let out = config.report_dir();
    runtime()?.block_on(async {
        let db = Db::open(&target).await?;
        // Records nothing and inserts no event: no sink is addressed.
        let reporter = Reporter::new(&config.report, out.clone(), db, None, Arc::default())?;
        let (files, data) = reporter
            .generate_with_data(date, &out, &config.report.formats)
            .await
            .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
        let sending = Sending::OnRequest { at_ms: now_ms() };
        let message_id = mailer.send(&data, sending).await.map_err(|e| {
            let written = files.first().and_then(|f| f.parent()).unwrap_or(&out);
            Failure::new(
                Exit::Mail,
                format!(
                    "the report of {date} was written in {} but not e-mailed: {e}",
                    written.display()
                ),
            )
        })?;
        output::line(format_args!(
            "{date}: e-mailed to {}, {message_id}",
            mailer.shown()
        ))?;
        Ok(())
    })
}
