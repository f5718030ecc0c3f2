//! `/metrics` and `/readyz` through the real binary: the exposition parses (promtool when
//! installed), the figures match the database, and health follows the credentials' state.

use crate::helpers::*;
use crate::service::{free_port, get};
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::sandbox::{Faults, Outcome};
use std::collections::BTreeMap;
use std::time::Duration;

/// Prometheus's own linter, where installed (CI installs it).
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: only the built-in format check ran");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A strict reader of the Prometheus text format: every sample line is
/// `name{label="v",...} value`, every family has HELP and TYPE before its samples.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        let family = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_sum"))
            .or_else(|| name.strip_suffix("_count"))
            .filter(|f| typed.contains(*f))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its TYPE: {line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split(',') {
                let (k, v) = pair.split_once('=').unwrap();
                let quoted = v.starts_with('"') && v.ends_with('"');
                assert!(!k.is_empty() && quoted, "{line}");
            }
        }
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test]
async fn metrics_parse_and_match_the_database_and_health_reflects_auth() {
    let mut env = TestEnv::start().await;
    let port = free_port();
    env.config.http.listen = format!("127.0.0.1:{port}");
    env.config.poll.give_up_after = HumanDuration::millis(400);
    env.write_config();
    env.invoice(Outcome::Completed, 100, "ORD-1").await;
    env.invoice(Outcome::NotCompleted, 100, "ORD-2").await;
    env.invoice(Outcome::Never, 100, "ORD-3").await;
    env.enqueue("unknown-token", None, None).await;
    let child = env.spawn(&["run"]);
    assert_eq!(get(port, "/healthz").await, (200, "ok\n".into()));
    eventually(Duration::from_secs(10), || {
        env.count("SELECT count(*) FROM payments WHERE status = ?1", "pending") == 0
    })
    .await;
    let (status, _) = get(port, "/readyz").await;
    assert_eq!(status, 200);

    // The counts behind the gauges are reused for a second at least (docs/operations.md):
    // the scrape that reads them after the last payment resolved comes once they are new.
    let counted_at_most_a_second_ago = tokio::time::Instant::now();
    let (text, m) = loop {
        let (_, text) = get(port, "/metrics").await;
        let m = parse_metrics(&text);
        if m["ligdicash_reconciler_pending_payments"] == 0.0 {
            break (text, m);
        }
        let waited = counted_at_most_a_second_ago.elapsed();
        assert!(
            waited < Duration::from_secs(3),
            "the gauge lags {waited:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    promtool_accepts(&text);
    let conn = env.shop_connection();
    let mut by_outcome = conn
        .prepare("SELECT outcome, count(*) FROM confirm_attempts GROUP BY outcome")
        .unwrap();
    let rows: Vec<(String, i64)> = by_outcome
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!rows.is_empty());
    for (outcome, n) in &rows {
        let key = format!(
            "ligdicash_reconciler_confirm_calls_total{{kind=\"invoice\",outcome=\"{outcome}\"}}"
        );
        assert_eq!(m.get(&key).copied(), Some(*n as f64), "{key}\n{text}");
    }
    let total: i64 = rows.iter().map(|r| r.1).sum();
    assert_eq!(
        m["ligdicash_reconciler_confirm_latency_seconds_count"],
        total as f64
    );
    assert_eq!(
        m["ligdicash_reconciler_confirm_latency_seconds_bucket{le=\"+Inf\"}"],
        total as f64
    );
    for status in ["completed", "notcompleted", "timeout", "invalid_token"] {
        let key = format!(
            "ligdicash_reconciler_resolutions_total{{kind=\"invoice\",status=\"{status}\"}}"
        );
        assert_eq!(m[&key], 1.0, "{key}");
    }
    assert_eq!(m["ligdicash_reconciler_pending_payments"], 0.0);
    assert_eq!(m["ligdicash_reconciler_events{state=\"delivered\"}"], 4.0);
    assert!(m["ligdicash_reconciler_last_successful_confirm_timestamp_seconds"] > 1.7e9);

    // Credentials refused: not ready, and the gauge says why.
    env.sandbox.sandbox.set_faults(Faults {
        auth_failure: true,
        ..Faults::default()
    });
    env.invoice(Outcome::Completed, 100, "ORD-4").await;
    eventually(Duration::from_secs(10), || env.calls("auth_failed") >= 1).await;
    let (status, body) = get(port, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("credentials"), "{body}");
    let (_, text) = get(port, "/metrics").await;
    assert_eq!(
        parse_metrics(&text)["ligdicash_reconciler_auth_failing"],
        1.0
    );
    terminate(&child);
    assert_ok(&child.wait_with_output().await.unwrap());
}
