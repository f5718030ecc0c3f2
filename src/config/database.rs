//! `[database]`: which database the reconciler keeps its state in. SQLite (`path`, the
//! embedded default, shared with the shop) or PostgreSQL (`url`, or the environment's
//! `LIGDICASH_RECONCILER_DATABASE_URL`), for shops that run several daemons on one
//! database (docs/postgres-design.md).
//!
//! The PostgreSQL password comes, in this order, from the URL, from `password_file` (a
//! systemd credential, say), or from `PGPASSWORD` as libpq reads it. Wherever it comes
//! from it is held as a [`SecretString`]: `Debug`, errors, logs and `check-config` show
//! the URL without it ([`PgUrl::shown`]).

use super::pg_url::{PgUrl, SslMode};
use super::{ConfigError, HumanDuration};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable that selects PostgreSQL, overriding the file's `url` and
/// `path`: a systemd drop-in can switch a packaged configuration (whose `path` is set).
pub const DATABASE_URL_ENV: &str = "LIGDICASH_RECONCILER_DATABASE_URL";

/// libpq's password variable, read last, as libpq does.
pub const PGPASSWORD_ENV: &str = "PGPASSWORD";

/// `[database] max_connections` by default: the poller's scan and writer, event delivery,
/// the reports, the shop API and the gauges each get one when they need it at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// The SQLite file of a configuration that names none.
pub const DEFAULT_PATH: &str = "reconciler.db";

/// `[database]`: the SQLite file shared with the shop, or a PostgreSQL URL.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    /// How long a write waits for the shop's own transaction before giving up.
    pub busy_timeout: HumanDuration,
    /// A PostgreSQL URL; selects PostgreSQL instead of `path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<DatabaseUrl>,
    /// A file holding the PostgreSQL password (when the URL has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Connections the process holds at most (PostgreSQL: its one pool; SQLite: its
    /// connections to the file), opened as the work needs them.
    pub max_connections: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_PATH),
            busy_timeout: HumanDuration::secs(5),
            url: None,
            password_file: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// `url` as written in the file. Its `Debug` and its serialised form (the TOML that
/// `check-config` prints) are the URL without its password, so no rendering of the
/// configuration can show it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(text: &str) -> Self {
        Self(SecretString::from(text.to_owned()))
    }

    /// The parsed URL; the error names the key, never the value.
    pub fn parse(&self, key: &str) -> Result<PgUrl, ConfigError> {
        PgUrl::parse(self.0.expose_secret())
            .map_err(|why| ConfigError::Invalid(format!("{key} {why}")))
    }

    /// Whether the URL carries a password (then the file must not be world-readable).
    pub fn has_password(&self) -> bool {
        self.parse("").is_ok_and(|u| u.password.is_some())
    }

    fn shown(&self) -> String {
        self.parse("")
            .map_or_else(|_| "<invalid URL>".to_owned(), |u| u.shown())
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.shown())
    }
}

/// Where the state lives, as selected by `[database]` and the environment.
#[derive(Debug, Clone)]
pub enum DatabaseBackend {
    Sqlite {
        path: PathBuf,
        busy_timeout: Duration,
    },
    Postgres(PgSettings),
}

/// What connecting to PostgreSQL takes. `Debug` shows no password.
#[derive(Clone)]
pub struct PgSettings {
    pub url: PgUrl,
    /// The password, from the URL, `password_file` or `PGPASSWORD`; none for trust or
    /// peer authentication.
    pub password: Option<SecretString>,
    /// Where the URL and the password came from, for `check-config` and logs.
    pub source: String,
}

impl PgSettings {
    pub fn sslmode(&self) -> SslMode {
        self.url.sslmode
    }
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.url.shown())
            .field(
                "password",
                &if self.password.is_some() {
                    "<redacted>"
                } else {
                    "<unset>"
                },
            )
            .field("source", &self.source)
            .finish()
    }
}

impl DatabaseConfig {
    /// What `validate` checks of `[database]`: a file naming both a URL and a SQLite path
    /// other than the default is ambiguous (which holds the payments?) and refused; a URL
    /// must parse.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.url else {
            return Ok(());
        };
        if self.path != Path::new(DEFAULT_PATH) {
            return Err(ConfigError::Invalid(
                "[database] sets both url (PostgreSQL) and path (SQLite): keep the one that holds the payments".to_owned(),
            ));
        }
        url.parse("database.url").map(|_| ())
    }

    /// The backend: PostgreSQL when the environment or the file names a URL, else SQLite at
    /// `path`. `env` is injectable for tests; the password file is read here.
    pub fn backend(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DatabaseBackend, ConfigError> {
        let from_env = env(DATABASE_URL_ENV).filter(|v| !v.trim().is_empty());
        let (url, source) = match (&from_env, &self.url) {
            (Some(text), _) => (
                DatabaseUrl::new(text).parse(DATABASE_URL_ENV)?,
                format!("environment {DATABASE_URL_ENV}"),
            ),
            (None, Some(url)) => (url.parse("database.url")?, "config file".to_owned()),
            (None, None) => {
                return Ok(DatabaseBackend::Sqlite {
                    path: self.path.clone(),
                    busy_timeout: self.busy_timeout.0,
                });
            }
        };
        let (password, password_source) = self.password(&url, env)?;
        Ok(DatabaseBackend::Postgres(PgSettings {
            source: format!("url from {source}, password {password_source}"),
            url,
            password,
        }))
    }

    /// The password and where it came from: the URL, `password_file`, `PGPASSWORD`.
    fn password(
        &self,
        url: &PgUrl,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Option<SecretString>, String), ConfigError> {
        if let Some(password) = &url.password {
            return Ok((Some(password.clone()), "from the URL".to_owned()));
        }
        if let Some(path) = &self.password_file {
            let password = super::credentials::read_secret_file("PostgreSQL password", path)?;
            return Ok((Some(password), format!("from file {}", path.display())));
        }
        match env(PGPASSWORD_ENV).filter(|v| !v.is_empty()) {
            Some(p) => Ok((
                Some(SecretString::from(p)),
                format!("from environment {PGPASSWORD_ENV}"),
            )),
            None => Ok((None, "none".to_owned())),
        }
    }
}

#[cfg(test)]
#[path = "database_tests.rs"]
mod tests;
