//! The CSV: one row per payment resolved during the day, then those pending at its end.
//! The header is in the report's language; the cells are data (status keys, whole XOF,
//! RFC 3339 local times), the same in every language, so a spreadsheet formula or an
//! import script keeps working when the language changes.

use crate::report::figures::paid_xof;
use crate::report::i18n::{Language, words};
use crate::store::PaymentFact;
use crate::time::Millis;
use chrono::{DateTime, SecondsFormat};
use chrono_tz::Tz;

fn local(at: Millis, tz: Tz) -> String {
    DateTime::from_timestamp_millis(at)
        .map(|d| {
            d.with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        })
        .unwrap_or_default()
}

/// RFC 4180 field quoting, plus a leading `'` for text a spreadsheet would run as a formula
/// (OWASP's list: `=`, `+`, `-`, `@`, tab and carriage return).
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One row per payment resolved during the day, then those still pending at its end.
/// `paid_xof` is empty where no money moved (see `figures::paid_xof`).
pub fn csv(
    resolved: &[PaymentFact],
    pending: &[PaymentFact],
    tz: Tz,
    language: Language,
) -> String {
    let mut out = format!("{}\r\n", words(language).csv_header);
    for p in resolved.iter().chain(pending) {
        let cells = [
            field(&p.token),
            field(p.transaction_id.as_deref().unwrap_or("")),
            field(p.request_id.as_deref().unwrap_or("")),
            field(&p.status),
            p.expected_amount.map(|a| a.to_string()).unwrap_or_default(),
            paid_xof(p).map(|a| a.to_string()).unwrap_or_default(),
            field(p.operator_name.as_deref().unwrap_or("")),
            local(p.created_at, tz),
            p.resolved_at.map(|r| local(r, tz)).unwrap_or_default(),
            field(p.status_reason.as_deref().unwrap_or("")),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("\t=1+1"), "'\t=1+1");
        assert_eq!(field("\r=1+1"), "\"'\r=1+1\"");
    }
}
