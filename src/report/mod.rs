//! Nightly reconciliation reports: what was paid on a day, what is wrong, what needs a human.
//!
//! The schedule is a `croner` expression in the shop's time zone, run by a tokio loop that
//! stores each finished day in `report_runs`: after downtime the missed days are produced on
//! start, each exactly once. Files are written off the async runtime, to a temporary name and
//! renamed, the directory synced after (`files`), so a run interrupted half-way leaves
//! nothing half-written and is simply redone. After the reports,
//! timeouts of the last `recheck_days` days are re-confirmed: LigdiCash sets no expiry, and a
//! late completion is money the shop must know about.

pub mod cases;
pub mod day;
pub mod email;
pub mod figures;
mod files;
pub mod i18n;
pub mod money_out;
pub mod net;
pub mod recheck;
pub mod render;
pub mod to_handle;

pub use recheck::RecheckSummary;

use crate::config::{ConfigError, ReportConfig, ReportFormat};
use crate::confirm::Confirmer;
use crate::payment::callback::UNMATCHED_RETENTION_MS;
use crate::store::{CaseFilter, Db, ReportTurn, StoreError};
use crate::time::{ms, now_ms};
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest the scheduled loop sleeps between looks at the days due: a day whose node
/// died mid-report (another node's, on PostgreSQL) is produced within this.
const CATCH_UP_EVERY_MS: i64 = 5 * 60 * 1000;

/// The first wait after a failed run; it doubles at each failure up to
/// [`CATCH_UP_EVERY_MS`], so a database back after a restart is caught up within seconds.
const RETRY_FIRST_MS: i64 = 5_000;

/// Produces reports for one database.
pub struct Reporter {
    cfg: ReportConfig,
    output_dir: PathBuf,
    tz: Tz,
    cron: croner::Cron,
    db: Db,
    confirmer: Option<Arc<Confirmer>>,
    sinks: Arc<Vec<String>>,
    /// Whether a re-check ends when confirms are held (`run --once`, `--until-idle`): a pass
    /// must end, and with the poller stopped nothing would clear a write failure's hold.
    stop_when_held: bool,
}

impl Reporter {
    /// `confirmer` is needed only for re-checks; without it they are skipped. It is the
    /// process's one confirm path, shared with the poller (one rate limit, one pause).
    /// `output_dir` is where scheduled reports go (see `Config::report_dir`).
    pub fn new(
        cfg: &ReportConfig,
        output_dir: PathBuf,
        db: Db,
        confirmer: Option<Arc<Confirmer>>,
        sinks: Arc<Vec<String>>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            tz: cfg.zone()?,
            cron: cfg.cron()?,
            cfg: cfg.clone(),
            output_dir,
            db,
            confirmer,
            sinks,
            stop_when_held: false,
        })
    }

    /// A re-check that ends at the first held confirm instead of waiting it out; the rest
    /// of the timeouts wait for the next pass. For finite runs.
    pub fn stop_when_held(self) -> Self {
        Self {
            stop_when_held: true,
            ..self
        }
    }

    /// The database it reports on.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The shop's time zone.
    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// Writes the report files for `date` into `out`, on demand: no event and no record
    /// (only the scheduled days are announced, see `catch_up`). Returns the paths written.
    pub async fn generate(
        &self,
        date: NaiveDate,
        out: &Path,
        formats: &[ReportFormat],
    ) -> Result<Vec<PathBuf>, ReportError> {
        Ok(self.write_files(date, out, formats).await?.0)
    }

    /// As [`Self::generate`], with the day's `report.generated` data (`report --send`).
    pub async fn generate_with_data(
        &self,
        date: NaiveDate,
        out: &Path,
        formats: &[ReportFormat],
    ) -> Result<(Vec<PathBuf>, serde_json::Value), ReportError> {
        self.write_files(date, out, formats).await
    }

    /// Writes the report files for `date` into `out`, as the day stands now (a day not
    /// over is reported as partial). Returns the paths written and the `report.generated`
    /// event's data.
    async fn write_files(
        &self,
        date: NaiveDate,
        out: &Path,
        formats: &[ReportFormat],
    ) -> Result<(Vec<PathBuf>, serde_json::Value), ReportError> {
        let w = day::window(date, self.tz);
        let generated_at = now_ms();
        let facts = self.db.day_facts(w.start, w.end, generated_at).await?;
        let payouts = self.db.payout_facts(w.start, w.end).await?;
        // Payouts still open are counted as of now on a day not over, as invoices are.
        let until = w.end.min(generated_at);
        let mut summary = figures::summarise(&facts, date, self.tz)
            .with_money_out(money_out::summarise(&payouts, until, self.tz));
        let closed = CaseFilter {
            closed: true,
            closed_from: Some(w.start),
            closed_until: Some(w.end),
        };
        let open = self
            .db
            .list_cases(CaseFilter::default(), cases::SHOWN)
            .await?;
        let closed = self.db.list_cases(closed, cases::SHOWN).await?;
        summary.cases = cases::summarise(&open, &closed, generated_at, self.tz);
        let language = self.cfg.language;
        let bodies = formats
            .iter()
            .map(|format| {
                let body = match format {
                    ReportFormat::Json => render::json(&summary),
                    ReportFormat::Csv => render::csv(&facts, &payouts, self.tz, language),
                    ReportFormat::Html => render::html(&summary, language),
                };
                (format!("{date}.{format}"), body)
            })
            .collect();
        let written = files::write_all(out.to_owned(), bodies).await?;
        let data = render::event_data(&summary, &written);
        Ok((written, data))
    }

    /// Produces every due report, records each day, then re-checks the timeouts and prunes
    /// the attempt log. Returns the days produced.
    ///
    /// The re-check comes after the reports: a late completion it finds is resolved now, so
    /// run first it would make a day it timed out on show the payment as pending at the end
    /// of that day instead of as a timeout. Found tonight, it is tomorrow's late completion.
    ///
    /// Where several daemons share the database, one of them does this at a time
    /// ([`Db::try_report_turn`]); the others return at once, having done nothing.
    pub async fn catch_up(&self) -> Result<Vec<NaiveDate>, ReportError> {
        if self.due_days().await?.is_empty() {
            return Ok(Vec::new());
        }
        let Some(turn) = self.db.try_report_turn().await? else {
            tracing::debug!("another node is writing the reports");
            return Ok(Vec::new());
        };
        let done = self.catch_up_in_turn(&turn).await;
        turn.release().await;
        done
    }

    async fn due_days(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let last = self.db.last_report_day().await?;
        Ok(day::due_days(last, now_ms(), self.tz, &self.cron))
    }

    async fn catch_up_in_turn(&self, turn: &ReportTurn) -> Result<Vec<NaiveDate>, ReportError> {
        // Read again in this turn: the node before may have just done these days.
        let due = self.due_days().await?;
        for date in &due {
            if !turn.is_held() {
                return Err(ReportError::TurnLost);
            }
            let (files, data) = self
                .write_files(*date, &self.output_dir, &self.cfg.formats)
                .await?;
            let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            // The day's run and its announcement commit together: a crash between them would
            // produce the day again and announce it twice, under two event ids.
            self.db
                .record_report(*date, names, data, self.sinks.clone(), now_ms())
                .await?;
            tracing::info!(%date, files = ?files, "nightly report written");
        }
        if due.is_empty() {
            return Ok(due);
        }
        if !turn.is_held() {
            return Err(ReportError::TurnLost);
        }
        let rechecked = self.recheck().await?;
        tracing::info!(?rechecked, "timeouts re-checked after the nightly report");
        let before = now_ms().saturating_sub(ms(self.cfg.attempt_retention.0));
        let unmatched_before = before.max(now_ms().saturating_sub(UNMATCHED_RETENTION_MS));
        let pruned = self.db.prune_attempts(before, unmatched_before).await?;
        if pruned > 0 {
            tracing::info!(pruned, "old confirm attempts deleted");
        }
        Ok(due)
    }

    /// The scheduled loop: catch up now, then at every cron firing, until `shutdown`.
    /// A failed run is retried: after [`RETRY_FIRST_MS`], doubling up to
    /// [`CATCH_UP_EVERY_MS`], and logged once per incident (a database away for a minute
    /// is one error line and one recovery line, not one per try). Shutdown abandons a run
    /// in progress: files are replaced atomically and a day counts as done only once
    /// recorded, so an interrupted day is simply produced at the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failing_since: Option<i64> = None;
        let mut retry_ms = RETRY_FIRST_MS;
        loop {
            let mut wait = tokio::select! {
                result = self.catch_up() => match result {
                    Ok(_) => {
                        if let Some(since) = failing_since.take() {
                            let after_s = (now_ms() - since) / 1000;
                            tracing::info!(after_s, "nightly report caught up again");
                        }
                        retry_ms = RETRY_FIRST_MS;
                        self.until_next_firing()
                    }
                    Err(e) => {
                        if failing_since.is_none() {
                            failing_since = Some(now_ms());
                            tracing::error!(error = %e, "nightly report failed; will retry");
                        } else {
                            tracing::debug!(error = %e, "nightly report failed again");
                        }
                        let wait = retry_ms;
                        retry_ms = (retry_ms * 2).min(CATCH_UP_EVERY_MS);
                        wait
                    }
                },
                _ = shutdown.cancelled() => return,
            };
            wait = wait.clamp(1, CATCH_UP_EVERY_MS);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Milliseconds until the next cron firing (at least a second), at most
    /// [`CATCH_UP_EVERY_MS`].
    fn until_next_firing(&self) -> i64 {
        let now = chrono::Utc::now().with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&now, false)
            .ok()
            .map(|next| (next.timestamp_millis() - now_ms()).max(1000))
            .unwrap_or(60_000)
            .min(CATCH_UP_EVERY_MS)
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the report lock went with its database connection: another node may be writing the reports; retrying"
    )]
    TurnLost,
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ReportError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
