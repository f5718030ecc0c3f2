//! The CSV: one row per payment of the day, money in then money out, each resolved during
//! the day then pending at its end, with a direction column.
//!
//! It is written for the spreadsheet of the report's language, as a person opens it by
//! double-clicking (docs/reports.md lists the columns):
//! - French: `;` between fields (French Excel and LibreOffice split on it, the comma being
//!   the decimal mark), a UTF-8 byte order mark (without it Excel reads UTF-8 as
//!   Windows-1252 and garbles accents), statuses, kinds and reasons in French, dates as
//!   `07/12/2026 17:04:01` in the report's time zone;
//! - English: `,`, no mark, statuses, kinds and reasons as stored (the keys an import
//!   script matches), dates as `2026-12-07 17:04:01` in the report's time zone.
//!
//! Amounts are plain integers of XOF in both, so they are numbers in any spreadsheet.

use crate::report::figures::paid_xof;
use crate::report::i18n::{self, Language, words};
use crate::report::money_out::sent_xof;
use crate::store::{DayFacts, PayoutFacts};
use crate::time::Millis;
use chrono::DateTime;
use chrono_tz::Tz;

/// The byte order mark a French CSV starts with.
const BOM: char = '\u{feff}';

/// How one language writes the file.
struct Dialect {
    separator: char,
    language: Language,
}

impl Dialect {
    fn of(language: Language) -> Self {
        let separator = match language {
            Language::French => ';',
            Language::English => ',',
        };
        Self {
            separator,
            language,
        }
    }

    /// A local time as the language's spreadsheets read a date and time.
    fn time(&self, at: Millis, tz: Tz) -> String {
        let format = match self.language {
            Language::French => "%d/%m/%Y %H:%M:%S",
            Language::English => "%Y-%m-%d %H:%M:%S",
        };
        DateTime::from_timestamp_millis(at)
            .map(|d| d.with_timezone(&tz).format(format).to_string())
            .unwrap_or_default()
    }

    /// RFC 4180 quoting (on this dialect's separator), plus a leading `'` for text a
    /// spreadsheet would run as a formula (OWASP's list: `=`, `+`, `-`, `@`, tab, CR).
    fn field(&self, text: &str) -> String {
        let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{text}")
        } else {
            text.to_owned()
        };
        if text.contains([self.separator, '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text
        }
    }

    /// A status, kind or reason: translated in French, the stored key in English.
    fn status(&self, key: &str) -> String {
        match self.language {
            Language::French => i18n::status(key, self.language).to_owned(),
            Language::English => key.to_owned(),
        }
    }

    fn kind(&self, key: &str) -> String {
        match self.language {
            Language::French => i18n::kind(key, self.language).to_owned(),
            Language::English => key.to_owned(),
        }
    }

    /// The stored reason, after what the shop wrote badly, if it did.
    fn reason(&self, reason: Option<&str>, as_written: Option<&str>) -> String {
        let written = as_written.map(|w| i18n::written_amount(w, self.language));
        let reason = reason.map(|r| match self.language {
            Language::French => i18n::reason(r, self.language),
            Language::English => r.to_owned(),
        });
        let separator = match self.language {
            Language::French => "\u{a0}; ",
            Language::English => "; ",
        };
        written
            .into_iter()
            .chain(reason)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

/// One payment's cells, in and out alike.
struct Cells<'a> {
    out: bool,
    kind: &'a str,
    token: &'a str,
    transaction_id: Option<&'a str>,
    request_id: Option<&'a str>,
    status: &'a str,
    operator: Option<&'a str>,
    expected: Option<i64>,
    expected_as_written: Option<&'a str>,
    moved: Option<i64>,
    created_at: Millis,
    resolved_at: Option<Millis>,
    reason: Option<&'a str>,
}

impl Cells<'_> {
    fn line(&self, d: &Dialect, tz: Tz) -> String {
        let w = words(d.language);
        let direction = if self.out { w.money_out } else { w.money_in };
        let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        let text = |t: Option<&str>| d.field(t.unwrap_or(""));
        let cells = [
            d.field(direction),
            d.field(&d.kind(self.kind)),
            d.field(self.token),
            text(self.transaction_id),
            text(self.request_id),
            d.field(&d.status(self.status)),
            text(self.operator),
            number(self.expected),
            number(self.moved),
            d.time(self.created_at, tz),
            self.resolved_at.map(|r| d.time(r, tz)).unwrap_or_default(),
            d.field(&d.reason(self.reason, self.expected_as_written)),
        ];
        let mut line = cells.join(&d.separator.to_string());
        line.push_str("\r\n");
        line
    }
}

/// The day's CSV: its invoices (`day`) then its payouts, in `language`'s dialect.
/// `paid_xof` is what moved at LigdiCash (paid in, or sent out), empty where nothing did.
pub fn csv(day: &DayFacts, payouts: &PayoutFacts, tz: Tz, language: Language) -> String {
    let d = Dialect::of(language);
    let mut out = String::new();
    if language == Language::French {
        out.push(BOM);
    }
    out.push_str(
        &words(language)
            .csv_header
            .replace(',', &d.separator.to_string()),
    );
    out.push_str("\r\n");
    for p in day.resolved.iter().chain(&day.pending_at_end) {
        let cells = Cells {
            out: false,
            kind: "invoice",
            token: &p.token,
            transaction_id: p.transaction_id.as_deref(),
            request_id: p.request_id.as_deref(),
            status: &p.status,
            operator: p.operator_name.as_deref(),
            expected: p.expected_amount,
            expected_as_written: p.expected_as_written.as_deref(),
            moved: paid_xof(p),
            created_at: p.created_at,
            resolved_at: p.resolved_at,
            reason: p.status_reason.as_deref(),
        };
        out.push_str(&cells.line(&d, tz));
    }
    for p in payouts.resolved.iter().chain(&payouts.pending_at_end) {
        let cells = Cells {
            out: true,
            kind: &p.kind,
            token: &p.token,
            transaction_id: p.transaction_id.as_deref(),
            request_id: None,
            status: &p.status,
            operator: p.operator_name.as_deref(),
            expected: p.expected_amount,
            expected_as_written: p.expected_as_written.as_deref(),
            moved: sent_xof(p),
            created_at: p.created_at,
            resolved_at: p.resolved_at,
            reason: p.status_reason.as_deref(),
        };
        out.push_str(&cells.line(&d, tz));
    }
    out
}

#[cfg(test)]
mod tests;
