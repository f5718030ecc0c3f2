//! `[report]`: when and where the nightly reconciliation reports are written.

use super::{ConfigError, HumanDuration};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::str::FromStr;

/// The nightly report's schedule, zone, output and the timeout re-check window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Cron expression (5 fields) in `time_zone`; the report for a day is due at the first
    /// firing after that day ends.
    pub schedule: String,
    /// IANA zone the shop's days are counted in.
    pub time_zone: String,
    /// Relative paths are taken from the database's directory.
    pub output_dir: PathBuf,
    /// Timeouts resolved within this many days are re-confirmed after each nightly report.
    pub recheck_days: u32,
    /// Confirm attempts older than this are deleted after each report.
    pub attempt_retention: HumanDuration,
    /// Any of `json`, `csv`, `html`.
    pub formats: Vec<String>,
    /// Turn the scheduled report off (the `report` command still works).
    pub enabled: bool,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            schedule: "10 0 * * *".into(),
            time_zone: "Africa/Ouagadougou".into(),
            output_dir: PathBuf::from("reports"),
            recheck_days: 7,
            attempt_retention: HumanDuration::secs(90 * 86_400),
            formats: vec!["json".into(), "csv".into(), "html".into()],
            enabled: true,
        }
    }
}

/// Report file formats.
pub const FORMATS: [&str; 3] = ["json", "csv", "html"];

impl ReportConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cron()?;
        self.zone()?;
        if let Some(bad) = self.formats.iter().find(|f| !FORMATS.contains(&f.as_str())) {
            return Err(ConfigError::Invalid(format!(
                "report.formats: unknown format {bad:?} (json, csv, html)"
            )));
        }
        if self.recheck_days > 366 {
            return Err(ConfigError::Invalid(
                "report.recheck_days must be at most 366".into(),
            ));
        }
        Ok(())
    }

    /// The parsed cron expression.
    pub fn cron(&self) -> Result<croner::Cron, ConfigError> {
        croner::Cron::from_str(&self.schedule)
            .map_err(|e| ConfigError::Invalid(format!("report.schedule {:?}: {e}", self.schedule)))
    }

    /// The parsed time zone.
    pub fn zone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.time_zone.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "report.time_zone {:?} is not an IANA time zone (e.g. Africa/Ouagadougou)",
                self.time_zone
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ReportConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (
                ReportConfig {
                    schedule: "every night".into(),
                    ..Default::default()
                },
                "schedule",
            ),
            (
                ReportConfig {
                    time_zone: "Mars/Olympus".into(),
                    ..Default::default()
                },
                "time_zone",
            ),
            (
                ReportConfig {
                    formats: vec!["pdf".into()],
                    ..Default::default()
                },
                "formats",
            ),
        ];
        for (cfg, key) in cases {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
