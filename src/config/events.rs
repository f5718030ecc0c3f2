//! `[events]`: where final statuses are delivered (webhooks, a JSON-lines file, a command).

use super::{ConfigError, HumanDuration};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The names sinks are stored under in `event_deliveries.sink` and shown in logs. They are
/// a contract with the database (a renamed sink strands its pending deliveries), so each
/// is spelled here once; `events::sinks` and [`EventsConfig::sink_names`] both use them.
pub mod sink_name {
    /// The JSON-lines file (or stdout).
    pub const JSONL: &str = "jsonl";
    /// The shop's command.
    pub const EXEC: &str = "exec";
    /// The nightly report by e-mail (`[report.email]`): `report.generated` only.
    pub const EMAIL: &str = "email";

    /// A webhook: `webhook:` and its label, its `name` or else its shown URL (see
    /// [`super::WebhookConfig::sink_name`]).
    pub fn webhook(label: &str) -> String {
        format!("webhook:{label}")
    }
}

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

/// `[[events.webhooks]]`: one receiving URL and where its signing secret lives (read and
/// checked by `events::secrets` when the sinks are built, never kept here).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
    /// The sink's name in the database and logs (`webhook:NAME`); by default the URL
    /// without its credentials, query and fragment (see [`WebhookConfig::shown_url`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
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
        let mut names = std::collections::HashSet::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            // An unparsable URL cannot be shown without what it may hide: name its position.
            let url = Url::parse(&hook.url).map_err(|e| {
                ConfigError::Invalid(format!("events.webhooks[{i}]: url is not a valid URL: {e}"))
            })?;
            let shown = hook.shown_url();
            if let Err(why) = super::urls::check_transport(&url) {
                return invalid(format!("events.webhooks url {shown} {why}"));
            }
            if hook.secret_env.is_some() == hook.secret_file.is_some() {
                return invalid(format!(
                    "events.webhooks url {shown}: give exactly one of secret_env or secret_file"
                ));
            }
            if hook.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return invalid(format!("events.webhooks url {shown}: name is empty"));
            }
            if !names.insert(hook.sink_name()) {
                return invalid(format!(
                    "events.webhooks: two webhooks are both named {}; give each a distinct `name`",
                    hook.sink_name()
                ));
            }
        }
        Ok(())
    }

    /// Every configured sink's stable name, as stored in `event_deliveries.sink`.
    pub fn sink_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.webhooks.iter().map(WebhookConfig::sink_name).collect();
        if self.jsonl_path.is_some() {
            names.push(sink_name::JSONL.into());
        }
        if self.exec.is_some() {
            names.push(sink_name::EXEC.into());
        }
        names
    }
}

impl WebhookConfig {
    /// The URL as logs, errors and the database may show it: see [`super::urls::shown_url`].
    /// (Its output names the sink in `event_deliveries`: it must not change.)
    pub fn shown_url(&self) -> String {
        super::urls::shown_url(&self.url)
    }

    /// The stable name stored in `event_deliveries.sink`: `webhook:` and `name`, or the
    /// shown URL.
    pub fn sink_name(&self) -> String {
        match &self.name {
            Some(name) => sink_name::webhook(name),
            None => sink_name::webhook(&self.shown_url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str, name: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret_env: Some("S".into()),
            secret_file: None,
            name: name.map(Into::into),
        }
    }

    #[test]
    fn a_webhook_is_shown_and_named_without_what_its_url_may_hide() {
        let h = hook(
            "https://shop:pw-7@crm.example:8443/hooks/ligdi?key=k-9#f",
            None,
        );
        assert_eq!(h.shown_url(), "https://crm.example:8443/hooks/ligdi?…");
        assert_eq!(
            h.sink_name(),
            "webhook:https://crm.example:8443/hooks/ligdi?…"
        );
        let plain = hook("https://crm.example/hooks", None);
        assert_eq!(plain.sink_name(), "webhook:https://crm.example/hooks");
        assert_eq!(
            hook("https://x/?a=1", Some("crm")).sink_name(),
            "webhook:crm"
        );
        assert_eq!(hook("not a url key=k-9", None).shown_url(), "<invalid URL>");
    }

    #[test]
    fn webhooks_that_would_share_a_sink_name_are_refused_and_errors_hide_the_url() {
        let mut cfg = EventsConfig {
            webhooks: vec![
                hook("https://crm.example/h?key=one-k", None),
                hook("https://crm.example/h?key=two-k", None),
            ],
            ..EventsConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("distinct `name`"), "{err}");
        assert!(!err.contains("-k"), "{err}");
        cfg.webhooks[1].name = Some("second".into());
        cfg.validate().unwrap();

        cfg.webhooks = vec![hook("http://crm.example/h?key=one-k", None)];
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("must use https") && !err.contains("one-k"),
            "{err}"
        );
        cfg.webhooks = vec![hook("https://crm.example:99999/?key=one-k", None)];
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("webhooks[0]") && !err.contains("one-k"),
            "{err}"
        );
    }
}
