//! `[report]`: when and where the nightly reconciliation reports are written.

use super::email::EmailConfig;
use super::{ConfigError, HumanDuration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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
    /// Any of `json`, `csv`, `html`; an unknown one is refused when the file is read.
    #[serde(deserialize_with = "formats_of_report")]
    pub formats: Vec<ReportFormat>,
    /// Turn the scheduled report off (the `report` command still works).
    pub enabled: bool,
    /// The language of the HTML page and the CSV header: French by default, the language
    /// Burkina Faso's accountants (and the default `time_zone`'s) work in.
    pub language: ReportLanguage,
    /// `[report.email]`: each scheduled report mailed to the accountant (off when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailConfig>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            schedule: "10 0 * * *".into(),
            time_zone: "Africa/Ouagadougou".into(),
            output_dir: PathBuf::from("reports"),
            recheck_days: 7,
            attempt_retention: HumanDuration::secs(90 * 86_400),
            formats: ReportFormat::ALL.to_vec(),
            enabled: true,
            language: ReportLanguage::French,
            email: None,
        }
    }
}

/// The language a report is written for people in (`[report] language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ReportLanguage {
    #[serde(rename = "fr")]
    French,
    #[serde(rename = "en")]
    English,
}

impl ReportLanguage {
    /// The BCP 47 tag, for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::French => "fr",
            Self::English => "en",
        }
    }
}

/// A report file format. Parsed once, from the file or `report --format`; past that edge
/// no code matches on its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Versioned, for machines.
    Json,
    /// One row per payment, for a spreadsheet.
    Csv,
    /// One page, for a human.
    Html,
}

/// A format name that is none of [`ReportFormat::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?} (json, csv, html)")]
pub struct UnknownFormat(pub String);

impl ReportFormat {
    /// Every format, in the order the default configuration writes them.
    pub const ALL: [ReportFormat; 3] = [Self::Json, Self::Csv, Self::Html];

    /// The spelling in `[report] formats` and `--format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Html => "html",
        }
    }

    /// The report file's extension (today the same word as its spelling).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }
}

impl FromStr for ReportFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// The spelling, which is also the file extension (`2026-11-01.{format}`).
impl std::fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReportFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReportFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `[report] formats`, with the key named in the error as validation used to name it.
fn formats_of_report<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ReportFormat>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|f| {
            f.parse()
                .map_err(|e| serde::de::Error::custom(format!("report.formats: {e}")))
        })
        .collect()
}

impl ReportConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cron()?;
        self.zone()?;
        if self.recheck_days > 366 {
            return Err(ConfigError::Invalid(
                "report.recheck_days must be at most 366".into(),
            ));
        }
        if let Some(email) = &self.email {
            email.validate()?;
            self.check_mailed_formats(email)?;
        }
        Ok(())
    }

    /// The mail carries the HTML page and the CSV (and the JSON when asked): each must be
    /// among the formats written, or every night's mail would fail for a missing file.
    fn check_mailed_formats(&self, email: &EmailConfig) -> Result<(), ConfigError> {
        let mut needed = vec![ReportFormat::Html, ReportFormat::Csv];
        if email.attach_json {
            needed.push(ReportFormat::Json);
        }
        match needed.into_iter().find(|f| !self.formats.contains(f)) {
            Some(missing) => Err(ConfigError::Invalid(format!(
                "report.email sends the {} report, but report.formats does not write it: add \"{missing}\"",
                missing.as_str().to_uppercase()
            ))),
            None => Ok(()),
        }
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
        ];
        for (cfg, key) in cases {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    /// Formats are parsed when the file is read: an unknown one is refused there, with the
    /// message validation gave before they were a type.
    #[test]
    fn formats_keep_their_toml_spelling_and_an_unknown_one_is_named() {
        let cfg: ReportConfig = toml::from_str("formats = [\"html\", \"json\"]").unwrap();
        assert_eq!(cfg.formats, [ReportFormat::Html, ReportFormat::Json]);
        let rendered = toml::to_string(&ReportConfig::default()).unwrap();
        assert!(
            rendered.contains(r#"formats = ["json", "csv", "html"]"#),
            "{rendered}"
        );
        let err =
            crate::config::Config::parse("[report]\nformats = [\"json\", \"pdf\"]\n").unwrap_err();
        assert!(
            err.contains(r#"report.formats: unknown format "pdf" (json, csv, html)"#),
            "{err}"
        );
        assert_eq!(
            "csv".parse::<ReportFormat>().map(ReportFormat::extension),
            Ok("csv")
        );
    }

    /// French unless told otherwise; a language we do not write is refused when the file
    /// is read, naming the ones we do.
    #[test]
    fn the_language_is_french_unless_english_is_asked_for() {
        assert_eq!(ReportConfig::default().language, ReportLanguage::French);
        let cfg: ReportConfig = toml::from_str("language = \"en\"").unwrap();
        assert_eq!(cfg.language, ReportLanguage::English);
        assert_eq!(cfg.language.tag(), "en");
        let err = crate::config::Config::parse("[report]\nlanguage = \"wo\"\n").unwrap_err();
        assert!(err.contains("`fr`") && err.contains("`en`"), "{err}");
    }
}
