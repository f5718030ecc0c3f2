//! Secrets (LigdiCash credentials, webhook secrets) never reach a log line or the database,
//! even at trace level, through the real binary.

use crate::helpers::*;
use ligdicash_reconciler::sandbox::{Outcome, SandboxConfig};
use std::time::Duration;

#[tokio::test]
async fn secrets_never_reach_logs_or_the_database_even_at_trace_level() {
    let mut env = TestEnv::with_sandbox(SandboxConfig {
        api_key: "key-s3cr3t-4f1a".into(),
        api_token: "token-s3cr3t-9c2e".into(),
        ..SandboxConfig::default()
    })
    .await;
    // A webhook whose secret decodes to text containing SECRET, and a nightly report.
    let webhook_secret = "whsec_d2ViaG9vay1zM2NyM3QtN2Q=";
    let (listener, url) = crate::receiver::bind().await;
    let hook = crate::receiver::serve(listener, vec![]);
    env.config
        .events
        .webhooks
        .push(ligdicash_reconciler::config::WebhookConfig {
            // Receivers often take an access key in the URL: it is a secret too.
            url: format!("{url}?key=url-s3cr3t-5b7d"),
            secret_env: Some("TEST_WEBHOOK_SECRET".into()),
            secret_file: None,
            name: None,
        });
    env.config.report.enabled = true;
    env.write_config();
    let token = env.invoice(Outcome::Completed, 100, "ORD-1").await;
    let with_secrets = |args: &[&str], key: &str| {
        let mut cmd = env.cmd(args);
        cmd.env("LIGDICASH_API_KEY", key)
            .env("LIGDICASH_API_TOKEN", "token-s3cr3t-9c2e")
            .env("TEST_WEBHOOK_SECRET", webhook_secret)
            .env("RUST_LOG", "trace");
        cmd
    };
    // Wrong key first (authentication failure path), then the right one (success, webhook
    // delivery, report), then check-config and a transport error (nothing listening).
    let child = with_secrets(&["run"], "key-s3cr3t-wrong").spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    terminate(&child);
    let failing = child.wait_with_output().await.unwrap();
    let ok = with_secrets(&["run", "--until-idle"], "key-s3cr3t-4f1a")
        .output()
        .await
        .unwrap();
    let check = with_secrets(&["check-config"], "key-s3cr3t-4f1a")
        .output()
        .await
        .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut unreachable = env.config.clone();
    unreachable.ligdicash.base_url = dead_url;
    std::fs::write(&env.config_path, toml::to_string(&unreachable).unwrap()).unwrap();
    env.enqueue("tok-transport", None, None).await;
    let child = with_secrets(&["run"], "key-s3cr3t-4f1a").spawn().unwrap();
    eventually(Duration::from_secs(10), || env.calls("connect") >= 1).await;
    terminate(&child);
    let transport = child.wait_with_output().await.unwrap();
    assert_ok(&ok);
    assert_eq!(env.show(&token).await["status"], "completed");
    assert!(stderr(&failing).contains("refused our credentials"));
    // The receiver checks its own secret, not this one: that delivery happened is enough.
    assert!(!hook.received().is_empty(), "webhook path ran");
    let mut everything = Vec::new();
    for out in [&failing, &ok, &check, &transport] {
        everything.extend_from_slice(&out.stdout);
        everything.extend_from_slice(&out.stderr);
    }
    everything.extend(std::fs::read(&env.db).unwrap());
    let wal = env.db.with_extension("db-wal");
    everything.extend(std::fs::read(&wal).unwrap_or_default());
    let reports = env.dir.path().join("reports");
    for entry in std::fs::read_dir(&reports).unwrap() {
        everything.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for r in hook.received() {
        everything.extend(r.body.to_string().into_bytes());
    }
    let text = String::from_utf8_lossy(&everything);
    assert!(text.len() > 1000, "trace logging produced output");
    assert!(text.contains("report.generated"), "the report path ran");
    for secret in ["s3cr3t", "d2ViaG9vay1zM2NyM3QtN2Q"] {
        if let Some(at) = text.find(secret) {
            let start = text[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            let context: String = text[start..].chars().take(400).collect();
            panic!("a secret leaked: {secret} in …{context}…");
        }
    }
}

/// Every file a secret is read from is refused while any user of the machine can read it,
/// as a config file holding a secret is: exit 3, naming the file and `chmod 600`. Once
/// private, the same file is accepted.
#[tokio::test]
async fn a_world_readable_secret_file_is_refused_like_a_world_readable_config() {
    use ligdicash_reconciler::config::database::DATABASE_URL_ENV;
    use ligdicash_reconciler::config::{Config, WebhookConfig};
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::start().await;
    let file = env.dir.path().join("secret");
    // A valid webhook secret is also a valid key, token or password.
    std::fs::write(&file, "whsec_d2ViaG9vay1zM2NyM3QtN2Q=\n").unwrap();
    let mode = |m| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(m)).unwrap();
    type Setting = fn(&mut Config, std::path::PathBuf);
    let cases: [(&str, Setting, &str); 5] = [
        (
            "api_key_file",
            |c, f| c.ligdicash.api_key_file = Some(f),
            "check-config",
        ),
        (
            "api_token_file",
            |c, f| c.ligdicash.api_token_file = Some(f),
            "check-config",
        ),
        (
            "[api] token_file",
            |c, f| {
                c.api.listen = "127.0.0.1:0".into();
                c.api.token_file = Some(f);
            },
            "check-config",
        ),
        (
            "webhook secret_file",
            |c, f| {
                c.events.webhooks.push(WebhookConfig {
                    url: "http://127.0.0.1:9/hook".into(),
                    secret_env: None,
                    secret_file: Some(f),
                    name: None,
                })
            },
            "check-config",
        ),
        // Read before any connection is tried: the port is closed, so once the file is
        // accepted the command fails on the database (exit 4), not on the file.
        (
            "[database] password_file",
            |c, f| c.database.password_file = Some(f),
            "migrate",
        ),
    ];
    for (what, set, command) in cases {
        let mut config = env.config.clone();
        set(&mut config, file.clone());
        std::fs::write(&env.config_path, toml::to_string(&config).unwrap()).unwrap();
        let attempt = || {
            let mut cmd = env.cmd(&[command]);
            cmd.env(
                DATABASE_URL_ENV,
                "postgres://shop@127.0.0.1:9/shop?sslmode=disable",
            );
            // The environment would win over the file.
            match what {
                "api_key_file" => cmd.env_remove("LIGDICASH_API_KEY"),
                "api_token_file" => cmd.env_remove("LIGDICASH_API_TOKEN"),
                _ => &mut cmd,
            };
            cmd.output()
        };
        mode(0o644);
        let out = attempt().await.unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{what}: {err}");
        let named = format!("{} holds", file.display());
        let fix = format!("chmod 600 {}", file.display());
        assert!(
            err.contains(&named) && err.contains("world-readable") && err.contains(&fix),
            "{what}: {err}"
        );
        mode(0o600);
        let out = attempt().await.unwrap();
        let accepted = if command == "migrate" { 4 } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(accepted),
            "{what}: {}",
            stderr(&out)
        );
    }
}
