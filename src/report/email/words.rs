//! The mail's subject and summary in the report's language, from the day's headline
//! figures. The labels the HTML page shows are reused (`i18n::words`), so the mail and the
//! page it carries name each figure alike; the few the page has no use for are here, one
//! struct per language so that none is forgotten in the other.

use super::message::Headline;
use crate::report::i18n::{self, Language};

/// The mail's own labels.
struct MailWords {
    /// Between the title and the date: "Rapprochement LigdiCash du 2 décembre 2026".
    title_date: &'static str,
    /// "Received" in the subject, where the page's "received at LigdiCash" is too long.
    received: &'static str,
    money_out: &'static str,
    net: &'static str,
    /// Singular and plural: "1 paiement", "2 paiements". Money out has its own words, as
    /// on the page: "versement" and "retrait", never "paiement".
    payment: (&'static str, &'static str),
    payout: (&'static str, &'static str),
    full_report: &'static str,
    attached_csv: &'static str,
    attached_csv_json: &'static str,
    on_request: &'static str,
}

const FRENCH: MailWords = MailWords {
    title_date: " du ",
    received: "reçu",
    money_out: "Envoyé (versements et retraits)",
    net: "Net (reçu − envoyé)",
    payment: ("paiement", "paiements"),
    payout: ("versement ou retrait", "versements et retraits"),
    full_report: "Le rapport complet est la page HTML de ce message",
    attached_csv: "le fichier CSV est joint.",
    attached_csv_json: "les fichiers CSV et JSON sont joints.",
    on_request: "Envoyé à la demande (report --send).",
};

const ENGLISH: MailWords = MailWords {
    title_date: ", ",
    received: "received",
    money_out: "Sent (payouts and withdrawals)",
    net: "Net (received − sent)",
    payment: ("payment", "payments"),
    payout: ("payout", "payouts"),
    full_report: "The full report is the HTML page of this message",
    attached_csv: "the CSV file is attached.",
    attached_csv_json: "the CSV and JSON files are attached.",
    on_request: "Sent on request (report --send).",
};

fn mail_words(language: Language) -> &'static MailWords {
    match language {
        Language::French => &FRENCH,
        Language::English => &ENGLISH,
    }
}

/// "164 paiements", "1 paiement", "0 paiement" (French counts 0 and 1 as one), "0 payments".
fn count_of(n: i64, (one, many): (&str, &str), language: Language) -> String {
    let singular = match language {
        Language::French => n.abs() <= 1,
        Language::English => n.abs() == 1,
    };
    let noun = if singular { one } else { many };
    format!("{} {noun}", i18n::number(n, language))
}

/// How many things need a person: the payments of the discrepancy tables and the payouts
/// of the money-out section.
fn need_a_human(h: &Headline) -> i64 {
    h.discrepancies + h.payouts_needing_a_human
}

/// "Rapprochement LigdiCash du 2 décembre 2026 : reçu 899 000 XOF, net 884 000 XOF,
/// à traiter : 24".
pub fn subject(h: &Headline, language: Language) -> String {
    let (w, m) = (i18n::words(language), mail_words(language));
    let colon = i18n::colon(language);
    format!(
        "{}{}{}{colon}{} {}, net {}, {}{colon}{}",
        w.title,
        m.title_date,
        i18n::date(h.date, language),
        m.received,
        i18n::xof(h.received.xof, language),
        i18n::xof(h.net_xof, language),
        w.need_a_human.to_lowercase(),
        i18n::number(need_a_human(h), language),
    )
}

/// The text/plain alternative: the headline figures, one a line, and where the rest is.
pub fn body(h: &Headline, language: Language, json_attached: bool, on_request: bool) -> String {
    let (w, m) = (i18n::words(language), mail_words(language));
    let colon = i18n::colon(language);
    let n = |v: i64| i18n::number(v, language);
    let x = |v: i64| i18n::xof(v, language);
    let payments = |v: i64| count_of(v, m.payment, language);
    let mut lines = Vec::new();
    if on_request {
        lines.push(m.on_request.to_owned());
        lines.push(String::new());
    }
    lines.push(format!(
        "{}{}{}",
        w.title,
        m.title_date,
        i18n::date(h.date, language)
    ));
    lines.push(String::new());
    let (received, held) = (&h.received, &h.held_for_review);
    lines.extend([
        format!(
            "{}{colon}{} ({})",
            w.received,
            x(received.xof),
            payments(received.count)
        ),
        format!(
            "{}{colon}{} ({})",
            w.of_which_held,
            x(held.xof),
            payments(held.count)
        ),
        format!("{}{colon}{}", m.money_out, x(h.paid_out_xof)),
        format!("{}{colon}{}", m.net, x(h.net_xof)),
        format!(
            "{}{colon}{} ({}, {})",
            w.need_a_human,
            n(need_a_human(h)),
            payments(h.discrepancies),
            count_of(h.payouts_needing_a_human, m.payout, language),
        ),
        format!("{}{colon}{}", w.pending_at_end, n(h.pending_at_end)),
        String::new(),
    ]);
    let attached = match json_attached {
        true => m.attached_csv_json,
        false => m.attached_csv,
    };
    let separator = match language {
        Language::French => "\u{a0}; ",
        Language::English => "; ",
    };
    lines.push(format!("{}{separator}{attached}", m.full_report));
    lines.join("\n") + "\n"
}
