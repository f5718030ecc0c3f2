//! `[events]`: where final statuses are delivered (webhooks, a JSON-lines file, a command).

use super::{ConfigError, HumanDuration, is_loopback};
use reqwest::Url;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The delivery sinks and their retry policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Append each event as one JSON line; `"-"` means stdout.
    pub jsonl_path: Option<PathBuf>,
    /// Run this command with the event JSON on stdin; exit 0 means delivered.
    pub exec: Option<Vec<String>>,
    pub exec_timeout: HumanDuration,
    pub webhook_timeout: HumanDuration,
    /// Waits between delivery attempts; after the last one a delivery is `dead`.
    pub retry_schedule: Vec<HumanDuration>,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    pub webhooks: Vec<WebhookConfig>,
}

/// `[[events.webhooks]]`: one receiving URL and where its signing secret lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        let schedule = ["5s", "5m", "30m", "2h", "5h", "10h", "14h", "20h", "24h"];
        Self {
            jsonl_path: None,
            exec: None,
            exec_timeout: HumanDuration::secs(30),
            webhook_timeout: HumanDuration::secs(15),
            retry_schedule: schedule
                .iter()
                .filter_map(|s| super::duration::parse_duration(s).ok())
                .map(HumanDuration)
                .collect(),
            concurrency: 4,
            webhooks: Vec::new(),
        }
    }
}

impl EventsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self
            .exec
            .as_ref()
            .is_some_and(|argv| argv.is_empty() || argv[0].is_empty())
        {
            return invalid("events.exec must name a program".into());
        }
        if self.retry_schedule.is_empty() {
            return invalid("events.retry_schedule must have at least one delay".into());
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            return invalid("events.concurrency must be between 1 and 64".into());
        }
        for hook in &self.webhooks {
            let url = Url::parse(&hook.url).map_err(|e| {
                ConfigError::Invalid(format!("events.webhooks url {:?}: {e}", hook.url))
            })?;
            if url.scheme() != "https" && !is_loopback(&url) {
                return invalid(format!(
                    "events.webhooks url {} must use https (plain http only to a loopback host)",
                    hook.url
                ));
            }
            if hook.secret_env.is_some() == hook.secret_file.is_some() {
                return invalid(format!(
                    "events.webhooks url {}: give exactly one of secret_env or secret_file",
                    hook.url
                ));
            }
        }
        Ok(())
    }

    /// Every configured sink's stable name, as stored in `event_deliveries.sink`.
    pub fn sink_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .webhooks
            .iter()
            .map(|h| format!("webhook:{}", h.url))
            .collect();
        if self.jsonl_path.is_some() {
            names.push("jsonl".into());
        }
        if self.exec.is_some() {
            names.push("exec".into());
        }
        names
    }
}

impl WebhookConfig {
    /// Reads this webhook's secret and checks it decodes, without ever printing it.
    pub fn load_secret(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SecretString, ConfigError> {
        let missing =
            |why: String| ConfigError::MissingCredentials(format!("webhook {}: {why}", self.url));
        let text = match (&self.secret_env, &self.secret_file) {
            (Some(var), _) => {
                env(var).ok_or_else(|| missing(format!("environment variable {var} is not set")))?
            }
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| missing(format!("cannot read secret_file {}: {e}", path.display())))?,
            (None, None) => return Err(missing("no secret_env or secret_file".into())),
        };
        // Several whitespace-separated secrets sign every message during a rotation.
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(missing("the secret is empty".into()));
        }
        for secret in text.split_whitespace() {
            crate::events::signature::secret_key(secret).map_err(|e| missing(e.to_string()))?;
        }
        Ok(SecretString::from(text))
    }
}
