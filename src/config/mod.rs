//! Typed configuration: a TOML file (every key optional), validated once at start.
//!
//! Unknown keys are errors so a typo never silently falls back to a default. Credentials are
//! not part of this struct's plain fields: see [`credentials`].

pub mod api;
pub mod cases;
pub mod credentials;
pub mod database;
pub mod duration;
pub mod email;
pub mod events;
pub mod http;
pub mod payouts;
pub mod pg_url;
pub mod report;
pub mod urls;
mod validate;

pub use api::{ApiConfig, ApiToken, Scope};
pub use cases::CasesConfig;
pub use credentials::Credentials;
pub use database::{DatabaseBackend, DatabaseConfig, DatabaseUrl, PgSettings};
pub use duration::HumanDuration;
pub use email::EmailConfig;
pub use events::{EventsConfig, WebhookConfig};
pub use http::HttpConfig;
pub use payouts::PayoutsConfig;
pub use pg_url::{PgUrl, SslMode};
pub use report::{ReportConfig, ReportFormat, ReportLanguage};
pub use urls::is_loopback;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "LIGDICASH_RECONCILER_CONFIG";

/// LigdiCash asks integrators not to confirm one token more often than every 3 s.
pub const LIGDICASH_MIN_INTERVAL: Duration = Duration::from_secs(3);

/// Why a configuration was refused. The message names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
    #[error("missing credentials: {0}")]
    MissingCredentials(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub ligdicash: LigdicashConfig,
    pub database: DatabaseConfig,
    pub poll: PollConfig,
    pub payouts: PayoutsConfig,
    pub events: EventsConfig,
    pub report: ReportConfig,
    pub http: HttpConfig,
    pub api: ApiConfig,
    pub cases: CasesConfig,
}

/// How the confirm request carries the token. LigdiCash's docs and its SDKs disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmStyle {
    /// `.../confirm/?invoiceToken=TOKEN`, as every official SDK sends it. The default: it is
    /// the form LigdiCash's production traffic has carried for years, so it is the least
    /// likely to be broken by a server-side change.
    #[default]
    InvoiceToken,
    /// `.../confirm?token=TOKEN`, as the current API documentation shows it.
    Token,
}

/// `[ligdicash]`: where and how to reach the API.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LigdicashConfig {
    pub base_url: String,
    pub request_timeout: HumanDuration,
    pub connect_timeout: HumanDuration,
    pub confirm_style: ConfirmStyle,
    /// File holding the API key (e.g. a systemd credential); overrides nothing set in the
    /// environment.
    pub api_key_file: Option<PathBuf>,
    pub api_token_file: Option<PathBuf>,
    /// Plain-text credentials are accepted only from a file that is not world-readable.
    #[serde(skip_serializing)]
    pub api_key: Option<secrecy::SecretString>,
    #[serde(skip_serializing)]
    pub api_token: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for LigdicashConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<unset>" };
        f.debug_struct("LigdicashConfig")
            .field("base_url", &urls::shown_as_written(&self.base_url))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("confirm_style", &self.confirm_style)
            .field("api_key_file", &self.api_key_file)
            .field("api_token_file", &self.api_token_file)
            .field("api_key", &redacted(self.api_key.is_some()))
            .field("api_token", &redacted(self.api_token.is_some()))
            .finish()
    }
}

impl Default for LigdicashConfig {
    fn default() -> Self {
        Self {
            base_url: "https://app.ligdicash.com".into(),
            request_timeout: HumanDuration::secs(15),
            connect_timeout: HumanDuration::secs(5),
            confirm_style: ConfirmStyle::default(),
            api_key_file: None,
            api_token_file: None,
            api_key: None,
            api_token: None,
        }
    }
}

/// `[poll]`: the confirm schedule and how hard we may press LigdiCash.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollConfig {
    /// Wait after enqueue before the first confirm: the callback usually arrives first.
    pub first_delay: HumanDuration,
    pub initial_interval: HumanDuration,
    pub max_interval: HumanDuration,
    pub multiplier: f64,
    /// Fraction of each interval randomised (0.2 = ±20 %), so retries do not move in herds.
    pub jitter: f64,
    /// Floor between two confirms of one token.
    pub min_interval: HumanDuration,
    /// Age after which a payment still `pending` at LigdiCash becomes `timeout`.
    pub give_up_after: HumanDuration,
    pub concurrency: usize,
    pub max_requests_per_second: f64,
    /// Rows claimed per scan of the due index.
    pub batch_size: usize,
    /// How often an idle daemon looks for rows the shop inserted with SQL.
    pub scan_interval: HumanDuration,
    /// First pause of all polling after LigdiCash rejects our credentials; doubles per
    /// failure up to `auth_retry_max`.
    pub auth_retry_initial: HumanDuration,
    pub auth_retry_max: HumanDuration,
    /// How long shutdown waits for in-flight confirms before abandoning them (they stay due).
    pub shutdown_grace: HumanDuration,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            first_delay: HumanDuration::secs(10),
            initial_interval: HumanDuration::secs(10),
            max_interval: HumanDuration::secs(15 * 60),
            multiplier: 1.5,
            jitter: 0.2,
            min_interval: HumanDuration::secs(3),
            give_up_after: HumanDuration::secs(72 * 3600),
            concurrency: 4,
            max_requests_per_second: 5.0,
            batch_size: 256,
            scan_interval: HumanDuration::secs(1),
            auth_retry_initial: HumanDuration::secs(30),
            auth_retry_max: HumanDuration::secs(600),
            shutdown_grace: HumanDuration::secs(10),
        }
    }
}

impl Config {
    /// Reads and validates the file at `path`, or returns the validated defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            let config = Self::default();
            config.validate()?;
            return Ok(config);
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        let database_password = config
            .database
            .url
            .as_ref()
            .is_some_and(|u| u.has_password());
        if config.ligdicash.api_key.is_some()
            || config.ligdicash.api_token.is_some()
            || database_password
        {
            credentials::refuse_world_readable(
                path,
                "a secret (api_key, api_token or a password in database.url)",
                Some(
                    "move the secret to LIGDICASH_API_KEY/LIGDICASH_API_TOKEN, credential files or database.password_file",
                ),
            )?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; the error is one line naming the line, its key and the problem,
    /// never a value: a mistyped `api_tokn = "..."` must not print the token.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            let Some(span) = e.span() else {
                return message;
            };
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or_default().trim();
            match line.split_once('=') {
                Some((key, _)) => {
                    let key = key.trim();
                    let lower = key.to_ascii_lowercase();
                    let secret = ["key", "token", "secret", "password"]
                        .iter()
                        .any(|word| lower.contains(word));
                    let message = if secret {
                        without_values(&message)
                    } else {
                        message
                    };
                    format!("line {line_no} `{key} = …`: {message}")
                }
                None if line.starts_with('[') => format!("line {line_no} `{line}`: {message}"),
                None => format!("line {line_no}: {}", without_values(&message)),
            }
        })
    }

    /// The database the state lives in: PostgreSQL when `LIGDICASH_RECONCILER_DATABASE_URL`
    /// or `[database] url` names one, else the SQLite file (see [`database`]). `env` is
    /// injectable for tests.
    pub fn database_backend(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DatabaseBackend, ConfigError> {
        self.database.backend(env)
    }

    /// Where reports go: `report.output_dir`, relative paths taken from the database's
    /// directory (under systemd that is the state directory, not `/`).
    pub fn report_dir(&self) -> PathBuf {
        let dir = &self.report.output_dir;
        if dir.is_absolute() {
            return dir.clone();
        }
        match self.database.path.parent() {
            Some(parent) => parent.join(dir),
            None => dir.clone(),
        }
    }

    /// The parsed `base_url`, with a message naming the key when it is not a URL (and not
    /// quoting it: an unparsable URL cannot be shown without what it may hide).
    pub fn base_url(&self) -> Result<Url, ConfigError> {
        Url::parse(&self.ligdicash.base_url).map_err(|e| {
            ConfigError::Invalid(format!("ligdicash.base_url is not a valid URL: {e}"))
        })
    }

    /// `base_url` as logs and `check-config` show it, the same way as a webhook's URL.
    pub fn shown_base_url(&self) -> String {
        urls::shown_as_written(&self.ligdicash.base_url)
    }

    /// The effective configuration as TOML, secrets left out, for `check-config`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.ligdicash.base_url = self.shown_base_url();
        for hook in &mut shown.events.webhooks {
            hook.url = hook.shown_url();
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// A parse error's message without the values it quotes (serde says ``invalid type:
/// string "t-123", expected ...``), keeping what names keys (``unknown field `x` ``).
fn without_values(message: &str) -> String {
    if message.starts_with("unknown field") || message.starts_with("missing field") {
        return message.to_owned();
    }
    match message.split_once(", expected") {
        Some((_, expected)) => format!("invalid value (not shown), expected{expected}"),
        None => "invalid value (not shown)".to_owned(),
    }
}

#[cfg(test)]
mod tests;
