//! Nightly reports through the real binary: figures on a fixture database (computed
//! independently here: `figures`), money and languages (`money`), the scheduled runs and
//! their events (`nightly`), the re-check of timeouts (`recheck`), the report mailed
//! to a real SMTP server (`email`), and the CSVs opened in LibreOffice (`spreadsheet`).

mod calc;
mod email;
mod figures;
mod money;
mod nightly;
mod recheck;
mod spreadsheet;

use crate::helpers::*;
use chrono::{DateTime, Days, NaiveDate};

pub fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// A daemon set up for nightly UTC reports at midnight, migrated, whose last recorded
/// report day was `days_ago` days before today. Returns it and today's date.
pub async fn nightly_env(days_ago: u64) -> (TestEnv, NaiveDate) {
    let mut env = TestEnv::start().await;
    env.config.report.enabled = true;
    env.config.report.time_zone = "UTC".into();
    env.config.report.schedule = "0 0 * * *".into();
    env.write_config();
    assert_ok(&env.run(&["migrate"]).await);
    let today = chrono::Utc::now().date_naive();
    env.shop_connection()
        .execute(
            "INSERT INTO report_runs (day, generated_at, files) VALUES (?1, 0, '[]')",
            [today
                .checked_sub_days(Days::new(days_ago))
                .unwrap()
                .to_string()],
        )
        .unwrap();
    (env, today)
}

/// Reads a report file written into `dir`.
pub fn read_json(dir: &std::path::Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[tokio::test]
async fn bad_report_arguments_are_refused() {
    let env = TestEnv::start().await;
    for (args, needle) in [
        (vec!["report", "--date", "2026-13-01"], "--date"),
        (
            vec!["report", "--from", "2026-11-10", "--to", "2026-11-01"],
            "--from",
        ),
        (vec!["report", "--format", "pdf"], "pdf"),
        (vec!["report", "--from", "2026-11-10"], "--to"),
        (vec!["report", "--language", "de"], "fr or en"),
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // Arguments are checked before the database is opened: a bad date creates nothing.
    assert!(
        !env.db.exists(),
        "a refused report must not create the database"
    );
}
