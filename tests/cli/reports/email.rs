//! The nightly report mailed to a real SMTP server (aiosmtpd with STARTTLS and AUTH
//! required, `crate::smtp`) through the real binary: a day is mailed once, as MIME with the
//! page and the CSV, in French; a server that is down, then refuses, gets the same day
//! later exactly once; `report --send` mails one more; the password is never logged.

use super::nightly_env;
use crate::helpers::*;
use crate::service::{free_port, get};
use crate::smtp::{self, SmtpServer};
use base64::Engine;
use chrono::{Days, NaiveDate};
use ligdicash_reconciler::config::HumanDuration;
use ligdicash_reconciler::config::email::{EmailConfig, SMTP_PASSWORD_ENV};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use std::process::Output;
use std::time::Duration;

/// A daemon whose yesterday is due and mailed through `smtp://127.0.0.1:PORT` (STARTTLS
/// with the test CA), retrying after 200 ms twice before giving up; yesterday holds a
/// completed payment and one held for review. Returns it and yesterday.
async fn mailing_env(port: u16) -> (TestEnv, NaiveDate) {
    let (mut env, today) = nightly_env(2).await;
    let yesterday = today.checked_sub_days(Days::new(1)).unwrap();
    env.config.report.email = Some(email_config(port));
    env.config.events.retry_schedule = vec![HumanDuration::millis(200); 2];
    env.write_config();
    let noon = yesterday
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let shop = env.shop_connection();
    for (token, status, amount) in [("t-paid", "completed", 5000), ("t-held", "mismatch", 4000)] {
        shop.execute(
            "INSERT INTO payments (token, status, expected_amount, amount, created_at, \
             updated_at, resolved_at) VALUES (?1, ?2, 5000, ?3, ?4, ?4, ?4)",
            rusqlite::params![token, status, amount, noon],
        )
        .unwrap();
    }
    (env, yesterday)
}

/// `[report.email]` for the test server on `port`, trusting the test CA.
fn email_config(port: u16) -> EmailConfig {
    EmailConfig {
        url: format!("smtp://127.0.0.1:{port}"),
        user: Some(smtp::USER.into()),
        password_file: None,
        from: "Boutique Wend-Kuuni <rapports@boutique.bf>".into(),
        to: vec!["compta@cabinet.bf".into()],
        cc: vec!["gerant@boutique.bf".into()],
        attach_json: false,
        ca_file: Some(smtp::ca_file()),
    }
}

/// The binary with the SMTP password in its environment.
async fn run_mailing(env: &TestEnv, args: &[&str], log: &str) -> Output {
    let mut cmd = env.cmd(args);
    cmd.env(SMTP_PASSWORD_ENV, smtp::PASSWORD)
        .env("RUST_LOG", log);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("command timed out")
        .unwrap()
}

/// The e-mail delivery of the day's event: state, attempts, last error.
fn email_delivery(env: &TestEnv) -> (String, i64, Option<String>) {
    env.shop_connection()
        .query_row(
            "SELECT state, attempts, last_error FROM event_deliveries WHERE sink = 'email'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

/// The MIME tree: `multipart/mixed[multipart/alternative[text/plain,text/html],text/csv]`.
fn shape(m: &mail_parser::Message<'_>, id: usize) -> String {
    let part = &m.parts[id];
    let kind = part.content_type().map_or("?/?".to_owned(), |c| {
        format!("{}/{}", c.ctype(), c.subtype().unwrap_or("?"))
    });
    match &part.body {
        PartType::Multipart(ids) => {
            let inner: Vec<String> = ids.iter().map(|i| shape(m, *i as usize)).collect();
            format!("{kind}[{}]", inner.join(","))
        }
        _ => kind,
    }
}

fn unix_lines(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n")
}

#[tokio::test]
async fn a_day_is_mailed_once_as_mime_in_french_and_report_send_mails_it_again() {
    if !SmtpServer::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = SmtpServer::start(dir.path(), 0, false).await else {
        return;
    };
    let (env, yesterday) = mailing_env(server.port).await;
    // A payment event of today: it must get no e-mail delivery.
    env.invoice(
        ligdicash_reconciler::sandbox::Outcome::Completed,
        1000,
        "ORD-1",
    )
    .await;
    let out = run_mailing(&env, &["run", "--until-idle"], "trace").await;
    assert_ok(&out);

    let messages = server.messages();
    assert_eq!(messages.len(), 1, "mailed once");
    let m = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(
        shape(&m, 0),
        "multipart/mixed[multipart/alternative[text/plain,text/html],text/csv]"
    );
    let subject = m.subject().unwrap();
    assert!(
        subject.starts_with("Rapprochement LigdiCash du "),
        "{subject}"
    );
    assert!(
        subject.ends_with(
            "\u{a0}: reçu 9\u{202f}000\u{a0}XOF, net 9\u{202f}000\u{a0}XOF, à traiter\u{a0}: 1"
        ),
        "{subject}"
    );
    let reports = env.dir.path().join("reports");
    let page = std::fs::read(reports.join(format!("{yesterday}.html"))).unwrap();
    assert_eq!(
        unix_lines(m.body_html(0).unwrap().as_bytes()),
        unix_lines(&page)
    );
    let text = m.body_text(0).unwrap();
    assert!(
        text.contains("Reçu chez LigdiCash\u{a0}: 9\u{202f}000\u{a0}XOF (2 paiements)"),
        "{text}"
    );
    let csv = m.attachment(0).unwrap();
    assert_eq!(
        csv.attachment_name(),
        Some(format!("{yesterday}.csv").as_str())
    );
    let written = std::fs::read(reports.join(format!("{yesterday}.csv"))).unwrap();
    assert_eq!(unix_lines(csv.contents()), unix_lines(&written));
    let id = m.message_id().unwrap().to_owned();
    assert!(
        id.starts_with(&format!("report-{yesterday}.")) && id.ends_with("@boutique.bf"),
        "{id}"
    );

    // Only the day's report.generated is addressed to the e-mail sink.
    let email_rows = env.count(
        "SELECT count(*) FROM event_deliveries WHERE sink = ?1",
        "email",
    );
    assert_eq!(email_rows, 1);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM events WHERE type = ?1",
            "payment.completed"
        ),
        1
    );
    assert_eq!(email_delivery(&env).0, "delivered");
    // Never logged, not even at trace level: neither the password nor AUTH's encoding of it.
    let log = stderr(&out);
    let plain = base64::engine::general_purpose::STANDARD.encode(format!(
        "\0{}\0{}",
        smtp::USER,
        smtp::PASSWORD
    ));
    assert!(log.contains("nightly report e-mailed"), "{log}");
    assert!(!log.contains(smtp::PASSWORD) && !log.contains(&plain));

    // A second pass mails nothing; `report --send` mails one more, threaded under the day's.
    assert_ok(&run_mailing(&env, &["run", "--until-idle"], "info").await);
    assert_eq!(server.messages().len(), 1, "never twice for one day");
    let date = yesterday.to_string();
    let sent = run_mailing(&env, &["report", "--send", &date], "info").await;
    assert_ok(&sent);
    let line = String::from_utf8_lossy(&sent.stdout);
    assert!(
        line.starts_with(&format!("{date}: e-mailed to compta@cabinet.bf")),
        "{line}"
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    let again = MessageParser::default().parse(&messages[1]).unwrap();
    assert_ne!(again.message_id(), Some(id.as_str()));
    assert_eq!(again.in_reply_to().as_text(), Some(id.as_str()));
    assert_eq!(again.subject(), Some(subject));
}

/// The server is down for the first attempt and refuses the second (451): the day arrives
/// at the third, once, from a daemon started after both, with the day's Message-ID.
#[tokio::test]
async fn a_server_down_then_refusing_gets_the_day_later_exactly_once() {
    if !SmtpServer::available() {
        return;
    }
    let port = free_port();
    let (mut env, yesterday) = mailing_env(port).await;
    assert_ok(&run_mailing(&env, &["run", "--until-idle"], "info").await);
    let (state, attempts, error) = email_delivery(&env);
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    let error = error.unwrap();
    assert!(
        error.contains("report e-mail failed") && error.contains("Connection refused"),
        "{error}"
    );

    let Some(mut server) = SmtpServer::start(env.dir.path(), port, true).await else {
        return;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ok(&run_mailing(&env, &["run", "--once"], "info").await);
    let (state, attempts, error) = email_delivery(&env);
    assert_eq!((state.as_str(), attempts), ("pending", 2));
    assert!(
        error.as_deref().is_some_and(|e| e.contains("(451)")),
        "{error:?}"
    );
    assert!(server.messages().is_empty());

    server.refuse(false);
    let http = free_port();
    env.config.http.listen = format!("127.0.0.1:{http}");
    env.write_config();
    let mut daemon = env.cmd(&["run"]);
    let daemon = daemon
        .env(SMTP_PASSWORD_ENV, smtp::PASSWORD)
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(15), || server.messages().len() == 1).await;
    let (_, metrics) = get(http, "/metrics").await;
    for line in [
        "ligdicash_reconciler_report_emails_total{result=\"sent\"} 1",
        "ligdicash_reconciler_report_email_failing_seconds 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    terminate(&daemon);
    finished(daemon).await;
    assert_ok(&run_mailing(&env, &["run", "--once"], "info").await);
    assert_eq!(server.messages().len(), 1, "exactly once");
    assert_eq!(email_delivery(&env), ("delivered".into(), 3, None));
    let messages = server.messages();
    let m = MessageParser::default().parse(&messages[0]).unwrap();
    let id = m.message_id().unwrap();
    assert!(id.starts_with(&format!("report-{yesterday}.")), "{id}");
    server.stop().await;
}

/// `report --send` without `[report.email]` is a configuration error; with a server that
/// is down it fails with exit 7 and one line, the files written all the same.
#[tokio::test]
async fn report_send_says_why_it_cannot_send() {
    let (mut env, _) = nightly_env(2).await;
    let out = env.run(&["report", "--send", "2026-12-01"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("[report.email]"), "{}", stderr(&out));

    env.config.report.email = Some(email_config(free_port()));
    env.write_config();
    let out = env.run(&["report", "--send", "2026-12-01"]).await;
    assert_eq!(out.status.code(), Some(3), "no password: {}", stderr(&out));
    assert!(stderr(&out).contains(SMTP_PASSWORD_ENV), "{}", stderr(&out));
    let out = run_mailing(&env, &["report", "--send", "2026-12-01"], "info").await;
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: the report of 2026-12-01 was written in "),
        "{last}"
    );
    assert!(
        last.contains("but not e-mailed") && last.contains("Connection refused"),
        "{last}"
    );
    assert!(env.dir.path().join("reports/2026-12-01.html").exists());
}
