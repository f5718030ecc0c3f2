//! The nightly report by e-mail (`[report.email]`): a short summary in the report's
//! language with the day's HTML page as the body and the CSV (and JSON) attached, sent to
//! the shop's accountant.
//!
//! Two callers, one [`Mailer`]: the outbox's `email` sink (`events::email`), which sends
//! each scheduled day's mail from its `report.generated` event, durably (retried across
//! restarts, dead after the schedule, redelivered by hand); and `report --send DATE`,
//! which renders the day and sends it at once. The message is built purely ([`message`],
//! [`words`]) from the event's `data` and the files it lists, as written that night: a
//! file deleted since is an error naming the fix, never a report rendered anew behind the
//! accountant's back.

pub mod message;
pub mod transport;
mod words;

use crate::config::email::Recipients;
use crate::config::{ConfigError, ReportConfig, ReportLanguage};
use message::{File, Files, Headline, Sending};
use std::path::Path;
use transport::Smtp;

/// Why a report mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the report.generated data is not usable: {0}")]
    Data(String),
    #[error("report file {path} is gone: run `report --send {date}`")]
    Gone { path: String, date: String },
    #[error("cannot read report file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the report of {date} has no {format} file: run `report --send {date}`")]
    Missing { format: &'static str, date: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("{0}")]
    Smtp(String),
}

/// What `[report.email]` sends, and to whom, through one SMTP transport.
pub struct Mailer {
    smtp: Smtp,
    recipients: Recipients,
    attach_json: bool,
    language: ReportLanguage,
    /// The URL and the recipients, for logs and `check-config`.
    shown: String,
    /// Where the SMTP password came from (`None`: no AUTH).
    pub password_source: Option<String>,
}

impl Mailer {
    /// The mailer `[report.email]` describes, or `None` without that section. Reads the
    /// password and `ca_file`: a missing password or an unreadable bundle stops `run`
    /// with exit 3, at start rather than at the first night.
    pub fn from_config(
        report: &ReportConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(cfg) = &report.email else {
            return Ok(None);
        };
        cfg.validate()?;
        let password = cfg.load_password(env)?;
        let (password, password_source) = match password {
            Some((secret, source)) => (Some(secret), Some(source)),
            None => (None, None),
        };
        let recipients = cfg.recipients()?;
        let to: Vec<String> = recipients.to.iter().map(|m| m.email.to_string()).collect();
        Ok(Some(Self {
            smtp: Smtp::new(cfg, password)?,
            shown: format!("{} via {}", to.join(", "), cfg.shown_url()),
            recipients,
            attach_json: cfg.attach_json,
            language: report.language,
            password_source,
        }))
    }

    /// The server and the recipients, as logs show them.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Sends the day `data` describes (a `report.generated` event's `data`), reading the
    /// files it lists. Returns the `Message-ID` sent.
    pub async fn send(
        &self,
        data: &serde_json::Value,
        sending: Sending,
    ) -> Result<String, MailError> {
        let headline = Headline::from_data(data).map_err(MailError::Data)?;
        let files = self.read_files(&headline).await?;
        let message = message::build(&headline, files, &self.recipients, self.language, sending)
            .map_err(|e| MailError::Build(transport::causes(&e)))?;
        let id = message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_owned();
        self.smtp.send(message).await.map_err(MailError::Smtp)?;
        Ok(id)
    }

    /// The files the mail carries, among those the event lists.
    async fn read_files(&self, h: &Headline) -> Result<Files, MailError> {
        let date = h.date.to_string();
        let find = |ext: &str| {
            h.files
                .iter()
                .find(|p| p.extension().is_some_and(|e| e == ext))
        };
        let missing = |format| MailError::Missing {
            format,
            date: date.clone(),
        };
        let html = find("html").ok_or_else(|| missing("HTML"))?;
        let csv = find("csv").ok_or_else(|| missing("CSV"))?;
        let html = read(html, &date).await?;
        let json = match (self.attach_json, find("json")) {
            (false, _) => None,
            (true, Some(path)) => Some(read(path, &date).await?),
            (true, None) => return Err(missing("JSON")),
        };
        Ok(Files {
            html: String::from_utf8_lossy(&html.bytes).into_owned(),
            csv: read(csv, &date).await?,
            json,
        })
    }
}

/// One report file, named as written.
async fn read(path: &Path, date: &str) -> Result<File, MailError> {
    let shown = path.display().to_string();
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => MailError::Gone {
                path: shown.clone(),
                date: date.to_owned(),
            },
            _ => MailError::Read {
                path: shown.clone(),
                source,
            },
        })?;
    let name = path.file_name().map_or_else(
        || format!("{date}.txt"),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(File { name, bytes })
}
