//! The report in the shop's language: every word, number and date a person reads.
//!
//! Pure functions of a [`Language`]. French follows its usage in Burkina Faso and CLDR's
//! `fr` locale: thousands grouped by a narrow no-break space (U+202F, `21 000 XOF`), a
//! decimal comma, dates as `2 décembre 2026` (`1er` for the first). Amounts are kept whole
//! with their currency by a no-break space (U+00A0) before `XOF`.

mod reason;
mod words;

pub use crate::config::ReportLanguage as Language;
pub use reason::reason;
pub use words::Words;

use super::figures::DiscrepancyKind;
use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

/// French thousands separator: the narrow no-break space of CLDR's `fr` locale.
pub const NARROW_NBSP: char = '\u{202f}';
/// Between an amount and `XOF`, and before French `:` and `;`.
pub const NBSP: char = '\u{a0}';

/// A colon before what follows: French puts a no-break space before it.
pub fn colon(language: Language) -> &'static str {
    match language {
        Language::French => "\u{a0}: ",
        Language::English => ": ",
    }
}

/// The labels of `language`.
pub fn words(language: Language) -> &'static Words {
    match language {
        Language::French => &words::FR,
        Language::English => &words::EN,
    }
}

/// A whole number with thousands grouped: `21 000` (French), `21,000` (English).
pub fn number(n: i64, language: Language) -> String {
    let separator = match language {
        Language::French => NARROW_NBSP,
        Language::English => ',',
    };
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 3 + 1);
    if n < 0 {
        grouped.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(c);
    }
    grouped
}

/// An amount in XOF: `21 000 XOF`.
pub fn xof(n: i64, language: Language) -> String {
    format!("{}{NBSP}XOF", number(n, language))
}

/// A decimal with one digit, grouped like [`number`]: `3 600,5` (French), `3,600.5`
/// (English).
pub fn decimal(x: f64, language: Language) -> String {
    let tenths = (x * 10.0).round() as i64;
    let point = match language {
        Language::French => ',',
        Language::English => '.',
    };
    let sign = if tenths < 0 { "-" } else { "" };
    let whole = number((tenths / 10).abs(), language);
    format!("{sign}{whole}{point}{}", (tenths % 10).abs())
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A calendar date in words: `2 décembre 2026`, `1er décembre 2026`, `2 December 2026`.
pub fn date(d: NaiveDate, language: Language) -> String {
    let month = d.month0() as usize;
    match language {
        Language::French => {
            let day = match d.day() {
                1 => "1er".to_owned(),
                n => n.to_string(),
            };
            format!("{day} {} {}", MONTHS_FR[month], d.year())
        }
        Language::English => format!("{} {} {}", d.day(), MONTHS_EN[month], d.year()),
    }
}

/// A time of day on the 24-hour clock, as both languages write it in reports: `14:05`.
pub fn clock(t: &DateTime<Tz>) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A date and time: `2 décembre 2026 à 14:05`, `2 December 2026 at 14:05`.
pub fn date_time(t: &DateTime<Tz>, language: Language) -> String {
    let at = match language {
        Language::French => "à",
        Language::English => "at",
    };
    format!("{} {at} {}", date(t.date_naive(), language), clock(t))
}

/// A payment status as a person names it; an unknown key is shown as it is.
pub fn status(key: &str, language: Language) -> &str {
    let w = words(language);
    match key {
        "completed" => w.status_completed,
        "notcompleted" => w.status_notcompleted,
        "timeout" => w.status_timeout,
        "mismatch" => w.status_mismatch,
        "invalid_token" => w.status_invalid_token,
        "pending" => w.status_pending,
        other => other,
    }
}

/// A payment's kind (`invoice`, `payout`, `withdrawal`) as a person names it; an unknown
/// key is shown as it is.
pub fn kind(key: &str, language: Language) -> &str {
    let w = words(language);
    match key {
        "invoice" => w.kind_invoice,
        "payout" => w.kind_payout,
        "withdrawal" => w.kind_withdrawal,
        other => other,
    }
}

/// The shop's `expected_amount` where it is not a whole number, quoted as it was written:
/// `montant attendu écrit « 5 000 », pas un nombre entier de XOF`.
pub fn written_amount(as_written: &str, language: Language) -> String {
    let w = words(language);
    let quoted = match language {
        Language::French => format!("«{NBSP}{as_written}{NBSP}»"),
        Language::English => format!("{as_written:?}"),
    };
    format!("{} {quoted}, {}", w.written_as, w.not_a_whole_number)
}

/// What to do about a discrepancy.
pub fn action(kind: DiscrepancyKind, language: Language) -> &'static str {
    match language {
        Language::English => kind.action(),
        Language::French => match kind {
            DiscrepancyKind::Mismatch => {
                "vérifier le montant ou la commande avec le support LigdiCash avant de livrer"
            }
            DiscrepancyKind::LateCompletion => {
                "argent reçu après l’abandon de la commande\u{a0}: livrer ou rembourser"
            }
            DiscrepancyKind::Timeout => {
                "revérifié après chaque rapport de nuit\u{a0}; annuler la commande ou \
                 demander au client"
            }
            DiscrepancyKind::InvalidToken => {
                "la boutique a enregistré un jeton que LigdiCash ne connaît pas\u{a0}: \
                 vérifier l’intégration"
            }
            DiscrepancyKind::PendingOver24h => {
                "toujours en attente chez LigdiCash après un jour\u{a0}: demander au client \
                 ou à LigdiCash"
            }
            DiscrepancyKind::Contradicted => {
                "la confirmation de LigdiCash fait foi\u{a0}; demander au support LigdiCash \
                 avant de rembourser ou de livrer"
            }
            DiscrepancyKind::UnreadableAmount => {
                "la boutique a écrit expected_amount autrement qu’en nombre entier de XOF\u{a0}: \
                 corriger la ligne (un paiement en attente est confirmé dès qu’elle l’est)"
            }
        },
    }
}

/// The title of a discrepancy table.
pub fn discrepancy_title(kind: DiscrepancyKind, language: Language) -> &'static str {
    let w = words(language);
    match kind {
        DiscrepancyKind::Mismatch => w.mismatches,
        DiscrepancyKind::LateCompletion => w.late_completions,
        DiscrepancyKind::Timeout => w.timeouts,
        DiscrepancyKind::InvalidToken => w.invalid_tokens,
        DiscrepancyKind::PendingOver24h => w.pending_over_24h,
        DiscrepancyKind::Contradicted => w.contradicted,
        DiscrepancyKind::UnreadableAmount => w.unreadable_amounts,
    }
}

#[cfg(test)]
mod tests;
