//! `report`: reconciliation reports on demand, and the timeout re-check.

use super::{Exit, Failure, output, process_env, runtime};
use crate::app::build_client;
use crate::config::{Config, Credentials, ReportFormat};
use crate::confirm::Confirmer;
use crate::confirm::cluster::Membership;
use crate::metrics::Metrics;
use crate::report::{Reporter, day};
use crate::store::Db;
use crate::time::now_ms;
use chrono::{Days, NaiveDate};
use std::path::PathBuf;
use std::sync::Arc;

/// What the user asked for.
pub struct Request {
    pub date: Option<String>,
    pub range: Option<(String, String)>,
    pub formats: Option<Vec<String>>,
    pub out: Option<PathBuf>,
    pub recheck_only: bool,
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
    if let Some((from, to)) = &req.range {
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

pub fn execute(config: &Config, req: Request) -> Result<(), Failure> {
    let formats: Vec<ReportFormat> = match &req.formats {
        Some(given) => given
            .iter()
            .map(|f| {
                f.parse()
                    .map_err(|e| Failure::usage(format!("--format: {e}")))
            })
            .collect::<Result<_, _>>()?,
        None => config.report.formats.clone(),
    };
    // Arguments first: a bad date must not open (or create) the database.
    let today = day::date_of(now_ms(), config.report.zone()?);
    let days = days(&req, today)?;
    let sinks = std::sync::Arc::new(config.events.sink_names());
    // Credentials first: missing ones must not open (or create) the database either.
    let client = match req.recheck_only {
        true => {
            let creds = Credentials::load(&config.ligdicash, &process_env)?;
            Some(build_client(config, &creds)?)
        }
        false => None,
    };
    let out = req.out.clone().unwrap_or_else(|| config.report_dir());
    let target = crate::store::Target::from_config(config, &process_env)?;
    runtime()?.block_on(async {
        let db = Db::open(&target).await?;
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
        let confirmer_handle = confirmer.clone();
        let reporter = Reporter::new(&config.report, config.report_dir(), db, confirmer, sinks)?;
        if req.recheck_only {
            // On PostgreSQL the calls count within the cluster's rate: this command joins
            // it for as long as it confirms.
            let member = match (reporter.db().is_shared(), &confirmer_handle) {
                (true, Some(c)) => {
                    Some(Membership::join(reporter.db().clone(), c.shared_throttle()).await?)
                }
                _ => None,
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
            return Ok(());
        }
        for (i, date) in days.iter().enumerate() {
            let files = reporter
                .generate(*date, &out, &formats)
                .await
                .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
            let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            if days.len() > 1 {
                output::note(format_args!("[{}/{}] {date}", i + 1, days.len()));
            }
            output::line(format_args!("{date}: {}", names.join(", ")))?;
        }
        Ok(())
    })
}
