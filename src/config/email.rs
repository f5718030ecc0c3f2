//! `[report.email]`: the nightly report mailed to the shop's accountant, who does not open
//! the server's report folder.
//!
//! Checked when the file is read: the SMTP URL's transport (implicit TLS, STARTTLS
//! required, or a relay on this machine), and every address, each error naming its key.
//! The password never lives in the file: it comes from `LIGDICASH_RECONCILER_SMTP_PASSWORD`,
//! then `password_file`, then the systemd credential `reconciler-smtp-password`, read as
//! every other secret of the daemon is ([`super::credentials::read_secret_file`]: a
//! world-readable file is refused) and held as a [`SecretString`].

use super::ConfigError;
use super::credentials::read_secret_file;
use lettre::message::Mailbox;
use reqwest::Url;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The environment variable holding the SMTP password.
pub const SMTP_PASSWORD_ENV: &str = "LIGDICASH_RECONCILER_SMTP_PASSWORD";
/// The systemd credential (`LoadCredential=`) holding it.
pub const SMTP_PASSWORD_CREDENTIAL: &str = "reconciler-smtp-password";

/// `[report.email]`: the SMTP server, the account and who gets the report.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtps://host[:465]` (implicit TLS), `smtp://host[:587]` (STARTTLS required), or
    /// `smtp://` to a loopback host (a local relay: STARTTLS when it offers it).
    pub url: String,
    /// The SMTP account; without it no AUTH is attempted (a relay that trusts the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A file holding the password (after `LIGDICASH_RECONCILER_SMTP_PASSWORD`, before the
    /// systemd credential `reconciler-smtp-password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    pub from: String,
    /// One address or more.
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Attach the JSON report too (for an accountant's tool); the CSV always is.
    #[serde(default)]
    pub attach_json: bool,
    /// A PEM bundle trusted besides the system's roots: a shop's private relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://` to another machine: STARTTLS, or no mail at all.
    StartTls,
    /// `smtp://` to a loopback host: STARTTLS when the relay offers it, plain otherwise
    /// (nothing leaves the machine before the relay takes over).
    LoopbackStartTlsIfOffered,
}

/// Where the SMTP server is, parsed from `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
}

/// The addresses of `[report.email]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
}

impl EmailConfig {
    /// Checks the URL and the addresses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server()?;
        self.recipients()?;
        if self.user.as_deref().is_some_and(|u| u.trim().is_empty()) {
            return Err(invalid("report.email.user is empty".into()));
        }
        Ok(())
    }

    /// The server and its transport rule. Credentials, a query or a path in the URL are
    /// refused: the password has its own places, and a URL is shown in logs.
    pub fn server(&self) -> Result<SmtpServer, ConfigError> {
        let url = Url::parse(&self.url).map_err(|e| {
            invalid(format!(
                "report.email.url is not a URL (smtps://host or smtp://host): {e}"
            ))
        })?;
        let shown = self.shown_url();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(format!(
                "report.email.url {shown} must not hold a user or password: set report.email.user and {SMTP_PASSWORD_ENV} (or password_file, or the systemd credential {SMTP_PASSWORD_CREDENTIAL})"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
            return Err(invalid(format!(
                "report.email.url {shown} must be only a scheme, a host and a port"
            )));
        }
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => return Err(invalid(format!("report.email.url {shown} names no host"))),
        };
        let (security, default_port) = match url.scheme() {
            "smtps" => (SmtpSecurity::Tls, 465),
            "smtp" if is_loopback(host) => (SmtpSecurity::LoopbackStartTlsIfOffered, 25),
            "smtp" => (SmtpSecurity::StartTls, 587),
            other => {
                return Err(invalid(format!(
                    "report.email.url has scheme {other:?}: use smtps://host (TLS, port 465) or smtp://host (STARTTLS, port 587)"
                )));
            }
        };
        Ok(SmtpServer {
            host: host.to_owned(),
            port: url.port().unwrap_or(default_port),
            security,
        })
    }

    /// `url` as logs and errors show it (without anything that may hide a secret).
    pub fn shown_url(&self) -> String {
        super::urls::shown_as_written(&self.url)
    }

    /// `from`, `to` and `cc` parsed as RFC 5322 mailboxes (`Compta <compta@shop.bf>` or a
    /// bare address); the error names the key and the value (an address is no secret).
    pub fn recipients(&self) -> Result<Recipients, ConfigError> {
        let parse = |key: String, text: &str| {
            text.trim()
                .parse::<Mailbox>()
                .map_err(|e| invalid(format!("{key} {text:?} is not an e-mail address: {e}")))
        };
        let list = |key: &str, texts: &[String]| -> Result<Vec<Mailbox>, ConfigError> {
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| parse(format!("report.email.{key}[{i}]"), t))
                .collect()
        };
        let to = list("to", &self.to)?;
        if to.is_empty() {
            return Err(invalid(
                "report.email.to must name at least one address".into(),
            ));
        }
        Ok(Recipients {
            from: parse("report.email.from".into(), &self.from)?,
            to,
            cc: list("cc", &self.cc)?,
        })
    }

    /// The SMTP password with where it came from, when `user` is set: the environment,
    /// then `password_file`, then the systemd credential. A user without a password is a
    /// configuration error (exit 3); without a user no password is looked for.
    pub fn load_password(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<(SecretString, String)>, ConfigError> {
        const WHAT: &str = "SMTP password";
        if self.user.is_none() {
            return Ok(None);
        }
        if let Some(value) = env(SMTP_PASSWORD_ENV).filter(|v| !v.trim().is_empty()) {
            let source = format!("environment {SMTP_PASSWORD_ENV}");
            return Ok(Some((SecretString::from(value.trim().to_owned()), source)));
        }
        if let Some(path) = &self.password_file {
            let secret = read_secret_file(WHAT, path)?;
            return Ok(Some((secret, format!("file {}", path.display()))));
        }
        if let Some(dir) = env("CREDENTIALS_DIRECTORY") {
            let path = PathBuf::from(dir).join(SMTP_PASSWORD_CREDENTIAL);
            if path.exists() {
                let source = format!("systemd credential {SMTP_PASSWORD_CREDENTIAL}");
                return read_secret_file(WHAT, &path).map(|s| Some((s, source)));
            }
        }
        Err(ConfigError::MissingCredentials(format!(
            "report.email.user is set but there is no {WHAT}: set {SMTP_PASSWORD_ENV}, [report.email] password_file, or a systemd credential named {SMTP_PASSWORD_CREDENTIAL}"
        )))
    }
}

/// Whether the host is this machine. By its text: `smtp:` is not a scheme the URL
/// standard knows, so its host is never parsed as an IP address there.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid(message)
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
