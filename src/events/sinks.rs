//! Where events go: signed webhooks, a JSON-lines file (or stdout), a shop command, or
//! (the day's `report.generated` only) the accountant's mailbox.
//! Each sink performs one delivery attempt; [`super::delivery::next_step`] decides what happens next.

use super::signature;
use crate::config::credentials::{API_KEY_ENV, API_TOKEN_ENV};
use crate::config::events::sink_name;
use crate::config::{ConfigError, EventsConfig};
use crate::ligdicash::transport::transport_error;
use crate::store::DueDelivery;
use crate::time::now_ms;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretSlice};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Failed; may be retried (after `retry_after` at the earliest).
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The receiver said it is gone for good (HTTP 410): stop trying.
    Gone,
}

/// One configured destination.
pub enum Sink {
    Webhook {
        name: String,
        url: reqwest::Url,
        /// One key, or several while a secret is being rotated (each signs every message).
        keys: Vec<SecretSlice<u8>>,
        http: reqwest::Client,
    },
    Jsonl {
        /// `None` is stdout.
        path: Option<PathBuf>,
        lock: tokio::sync::Mutex<()>,
    },
    Exec {
        argv: Vec<String>,
        timeout: Duration,
        /// Variables holding our secrets, removed from the command's environment: the shop's
        /// script has no use for them, and its stderr ends up in logs and `last_error`.
        scrub: Vec<String>,
    },
    /// The nightly report by e-mail (`[report.email]`; see [`super::email`]). Boxed: the
    /// SMTP transport and the addresses outweigh every other sink.
    Email(Box<super::email::EmailSink>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Sink {
    /// The stable name stored in `event_deliveries.sink`.
    pub fn name(&self) -> &str {
        match self {
            Self::Webhook { name, .. } => name,
            Self::Jsonl { .. } => sink_name::JSONL,
            Self::Exec { .. } => sink_name::EXEC,
            Self::Email(_) => sink_name::EMAIL,
        }
    }

    /// Builds every sink the configuration names, reading webhook secrets.
    pub fn from_config(
        cfg: &EventsConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Sink>, ConfigError> {
        let mut sinks = Vec::new();
        let http = reqwest::Client::builder()
            .timeout(cfg.webhook_timeout.0)
            .connect_timeout(cfg.webhook_timeout.0.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ligdicash-reconciler/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Invalid(format!("cannot build the webhook client: {e}")))?;
        for hook in &cfg.webhooks {
            let keys = super::secrets::webhook_keys(hook, env)?;
            let url = reqwest::Url::parse(&hook.url)
                .map_err(|e| ConfigError::Invalid(format!("webhook {}: {e}", hook.shown_url())))?;
            sinks.push(Sink::Webhook {
                name: hook.sink_name(),
                url,
                keys,
                http: http.clone(),
            });
        }
        if let Some(path) = &cfg.jsonl_path {
            let path = (path.as_os_str() != "-").then(|| path.clone());
            sinks.push(Sink::Jsonl {
                path,
                lock: tokio::sync::Mutex::new(()),
            });
        }
        if let Some(argv) = &cfg.exec {
            // CREDENTIALS_DIRECTORY too: it points at systemd's copies of the key and token.
            let mut scrub = vec![
                API_KEY_ENV.to_owned(),
                API_TOKEN_ENV.to_owned(),
                "CREDENTIALS_DIRECTORY".to_owned(),
                crate::config::email::SMTP_PASSWORD_ENV.to_owned(),
            ];
            scrub.extend(cfg.webhooks.iter().filter_map(|h| h.secret_env.clone()));
            sinks.push(Sink::Exec {
                argv: argv.clone(),
                timeout: cfg.exec_timeout.0,
                scrub,
            });
        }
        Ok(sinks)
    }

    /// Makes one delivery attempt.
    pub async fn deliver(&self, d: &DueDelivery, kind: &str) -> Attempt {
        match self {
            Self::Webhook {
                url, keys, http, ..
            } => post_webhook(http, url, keys, d).await,
            Self::Jsonl { path, lock } => {
                let _serial = lock.lock().await;
                append_line(path.as_ref(), &d.payload).await
            }
            Self::Exec {
                argv,
                timeout,
                scrub,
            } => run_command(argv, *timeout, scrub, d, kind).await,
            Self::Email(email) => email.deliver(d, kind).await,
        }
    }

    /// Told what became of an attempt (delivered, retried or dead): the e-mail sink counts
    /// it for `/metrics`.
    pub fn observe(&self, result: &crate::store::DeliveryResult) {
        if let Self::Email(email) = self {
            email.observe(result);
        }
    }
}

fn failed(error: impl Into<String>) -> Attempt {
    Attempt::Failed {
        error: error.into(),
        retry_after: None,
    }
}

async fn post_webhook(
    http: &reqwest::Client,
    url: &reqwest::Url,
    keys: &[SecretSlice<u8>],
    d: &DueDelivery,
) -> Attempt {
    let timestamp = now_ms() / 1000;
    let signature = keys
        .iter()
        .map(|k| {
            signature::sign(
                k.expose_secret(),
                &d.event_id,
                timestamp,
                d.payload.as_bytes(),
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let sent = http
        .post(url.clone())
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header(CONTENT_TYPE, "application/json")
        .body(d.payload.clone())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        // Why it failed (refused, a certificate, a timeout), as confirm calls say it; never
        // the URL, which may hold the receiver's access key.
        Err(e) => return failed(format!("webhook failed: {}", transport_error(e))),
    };
    let status = response.status().as_u16();
    match status {
        200..=299 => Attempt::Delivered,
        410 => Attempt::Gone,
        _ => Attempt::Failed {
            error: format!("webhook answered HTTP {status}"),
            retry_after: response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::ligdicash::transport::parse_retry_after),
        },
    }
}

async fn append_line(path: Option<&PathBuf>, payload: &str) -> Attempt {
    let mut line = payload.to_owned();
    line.push('\n');
    let Some(path) = path else {
        let mut out = tokio::io::stdout();
        return match out.write_all(line.as_bytes()).await {
            Ok(()) => match out.flush().await {
                Ok(()) => Attempt::Delivered,
                Err(e) => failed(format!("cannot write to stdout: {e}")),
            },
            Err(e) => failed(format!("cannot write to stdout: {e}")),
        };
    };
    let result = async {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .await?;
        // A write cut short (a full disk) leaves part of a line: start on a fresh line, so
        // the fragment stays alone and this event's line is whole.
        if !ends_with_newline(&mut file).await? {
            line.insert(0, '\n');
        }
        file.write_all(line.as_bytes()).await?;
        file.sync_data().await
    }
    .await;
    match result {
        Ok(()) => Attempt::Delivered,
        Err(e) => failed(format!("cannot append to {}: {e}", path.display())),
    }
}

/// Whether the file is empty or its last byte is a newline.
async fn ends_with_newline(file: &mut tokio::fs::File) -> std::io::Result<bool> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    if file.metadata().await?.len() == 0 {
        return Ok(true);
    }
    file.seek(std::io::SeekFrom::End(-1)).await?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last).await?;
    Ok(last[0] == b'\n')
}

async fn run_command(
    argv: &[String],
    timeout: Duration,
    scrub: &[String],
    d: &DueDelivery,
    kind: &str,
) -> Attempt {
    let Some((program, args)) = argv.split_first() else {
        return failed("events.exec is empty");
    };
    let mut command = tokio::process::Command::new(program);
    for name in scrub {
        command.env_remove(name);
    }
    let spawned = command
        .args(args)
        .env("LIGDICASH_EVENT_ID", &d.event_id)
        .env("LIGDICASH_EVENT_TYPE", kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start {program}: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read stdin is fine; its exit code decides.
        let _ = stdin.write_all(d.payload.as_bytes()).await;
    }
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => failed(format!("{program} did not finish within {timeout:?}")),
        Ok(Err(e)) => failed(format!("{program} failed: {e}")),
        Ok(Ok(out)) if out.status.success() => Attempt::Delivered,
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: String = stderr
                .trim()
                .chars()
                .rev()
                .take(200)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            failed(format!("{program} exited with {}: {tail}", out.status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A webhook to `url` (timing out after 300 ms) and one event to deliver.
    fn webhook(url: &str) -> (Sink, DueDelivery) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let sink = Sink::Webhook {
            name: "webhook:test".into(),
            url: reqwest::Url::parse(url).unwrap(),
            keys: vec![SecretSlice::from(b"test-key".to_vec())],
            http,
        };
        let due = DueDelivery {
            event_seq: 1,
            event_id: "evt_1".into(),
            sink: "webhook:test".into(),
            attempts: 0,
            payload: "{}".into(),
            created_at: 0,
        };
        (sink, due)
    }

    /// A shop that is down, or never answers, is named as such (reqwest alone says "error
    /// sending request"), without the URL and its access key.
    #[tokio::test]
    async fn a_failed_webhook_says_why_without_the_url() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook?key=k-SECRET", closed.local_addr().unwrap());
        drop(closed);
        let (sink, due) = webhook(&url);
        let Attempt::Failed { error, .. } = sink.deliver(&due, "payment.completed").await else {
            panic!("delivered to a closed port");
        };
        assert!(
            error.starts_with("webhook failed: connection failed: Connection refused"),
            "{error}"
        );
        assert!(!error.contains("SECRET"), "{error}");

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (sink, due) = webhook(&format!("http://{}/hook", silent.local_addr().unwrap()));
        let Attempt::Failed { error, .. } = sink.deliver(&due, "payment.completed").await else {
            panic!("delivered to a server that never answers");
        };
        assert_eq!(error, "webhook failed: request timed out");
    }

    /// A line cut short by an earlier failed write does not swallow the next event.
    #[tokio::test]
    async fn an_event_after_a_cut_line_starts_on_a_line_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"type\":\"payment.comp").unwrap();
        let event = r#"{"type":"payment.completed","id":"evt_1"}"#;
        assert_eq!(append_line(Some(&path), event).await, Attempt::Delivered);
        assert_eq!(append_line(Some(&path), event).await, Attempt::Delivered);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1..], [event, event], "{text:?}");
    }
}
