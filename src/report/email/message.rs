//! The report e-mail, built from the day's headline figures and its files, without I/O:
//! `multipart/mixed` holding `multipart/alternative` (a text summary, and the day's HTML
//! page as it was written) and the CSV (and JSON) files as attachments.
//!
//! The `Message-ID` is the day's, the same at every attempt of the outbox: a mail sent
//! twice for one day (a crash between the server's acceptance and its record) is one the
//! accountant's mail client can recognise as the same message. A resend asked for by hand
//! (`report --send`) is a new message that refers to the day's (`In-Reply-To`,
//! `References`): a mailbox that drops a second copy of a message it holds would otherwise
//! swallow the very mail someone asked for again.

use super::words;
use crate::config::email::Recipients;
use crate::report::i18n::Language;
use chrono::NaiveDate;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, MultiPart, SinglePart};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Checked when compiled: a header name lettre would refuse is a build error.
const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

/// The figures of `report.generated`'s `data` the mail shows (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headline {
    pub date: NaiveDate,
    pub received: CountXof,
    pub held_for_review: CountXof,
    pub paid_out_xof: i64,
    pub net_xof: i64,
    pub discrepancies: i64,
    pub payouts_needing_a_human: i64,
    pub pending_at_end: i64,
    /// The files written for the day, as listed in the event.
    pub files: Vec<PathBuf>,
}

/// `{count, xof}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct CountXof {
    pub count: i64,
    pub xof: i64,
}

/// The event's `data` as it is stored; `date` checked after.
#[derive(Deserialize)]
struct Data {
    date: String,
    received: CountXof,
    held_for_review: CountXof,
    paid_out_xof: i64,
    net_xof: i64,
    discrepancies: i64,
    payouts_needing_a_human: i64,
    pending_at_end: i64,
    files: Vec<PathBuf>,
}

impl Headline {
    /// Reads `report.generated`'s `data`; the error says which field is wrong.
    pub fn from_data(data: &serde_json::Value) -> Result<Self, String> {
        let d = Data::deserialize(data).map_err(|e| e.to_string())?;
        let date = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d")
            .map_err(|_| format!("date {:?} is not YYYY-MM-DD", d.date))?;
        Ok(Self {
            date,
            received: d.received,
            held_for_review: d.held_for_review,
            paid_out_xof: d.paid_out_xof,
            net_xof: d.net_xof,
            discrepancies: d.discrepancies,
            payouts_needing_a_human: d.payouts_needing_a_human,
            pending_at_end: d.pending_at_end,
            files: d.files,
        })
    }
}

/// A file carried by the mail: its name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The day's files as the mail carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// The HTML page, shown as the mail's body.
    pub html: String,
    pub csv: File,
    pub json: Option<File>,
}

/// Which mail this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// The day's mail, from the outbox: the day's `Message-ID` at every attempt.
    Scheduled,
    /// `report --send` at `at_ms`: its own `Message-ID`, referring to the day's.
    OnRequest { at_ms: i64 },
}

/// `<report-2026-12-07.1a2b3c4d@shop.bf>`: the day, and a short hash of the sender and the
/// recipients (two shops mailing one accountant get two threads), at the sender's domain
/// (a `Message-ID` without a domain of its own scores as spam).
pub fn day_message_id(date: NaiveDate, to: &Recipients) -> String {
    let mut hash = Sha256::new();
    hash.update(to.from.email.to_string());
    for mailbox in &to.to {
        hash.update("\n");
        hash.update(mailbox.email.to_string());
    }
    let short: String = hash.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<report-{date}.{short}@{}>", to.from.email.domain())
}

/// The whole message. Fails only on what lettre refuses (no recipient), which validated
/// addresses rule out.
pub fn build(
    h: &Headline,
    files: Files,
    to: &Recipients,
    language: Language,
    sending: Sending,
) -> Result<Message, lettre::error::Error> {
    let day_id = day_message_id(h.date, to);
    let mut builder = Message::builder()
        .from(to.from.clone())
        .subject(words::subject(h, language))
        .date_now()
        .user_agent(concat!("ligdicash-reconciler/", env!("CARGO_PKG_VERSION")).to_owned())
        // RFC 3834: no vacation notice or auto-reply should answer a report.
        .raw_header(HeaderValue::new(
            AUTO_SUBMITTED,
            "auto-generated".to_owned(),
        ));
    builder = match sending {
        Sending::Scheduled => builder.message_id(Some(day_id)),
        Sending::OnRequest { at_ms } => {
            let id = day_id.replacen('@', &format!(".on-request-{at_ms}@"), 1);
            builder
                .message_id(Some(id))
                .in_reply_to(day_id.clone())
                .references(day_id)
        }
    };
    for mailbox in &to.to {
        builder = builder.to(mailbox.clone());
    }
    for mailbox in &to.cc {
        builder = builder.cc(mailbox.clone());
    }
    let on_request = matches!(sending, Sending::OnRequest { .. });
    let text = words::body(h, language, files.json.is_some(), on_request);
    let mut mixed =
        MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, files.html));
    mixed = mixed.singlepart(attachment(files.csv, "text/csv; charset=utf-8"));
    if let Some(json) = files.json {
        mixed = mixed.singlepart(attachment(json, "application/json"));
    }
    builder.multipart(mixed)
}

fn attachment(file: File, content_type: &'static str) -> SinglePart {
    // Both types are constants that parse.
    let kind = ContentType::parse(content_type).unwrap_or(ContentType::TEXT_PLAIN);
    Attachment::new(file.name).body(file.bytes, kind)
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
