//! A payment's `status_reason` in the report's language.
//!
//! Reasons are stored in English (the database and events are read by code and support
//! staff alike) from a small set of templates (`confirm::decide`, `confirm::verify`,
//! `ligdicash::amount`, `requeue`). French is made here from those templates, part by
//! part (`; ` separates them). A part that matches no template is kept as it is, so an
//! unknown reason still reads, in English, and nothing of it is lost.

use super::{Language, NBSP, number, status};

/// `text` in `language`.
pub fn reason(text: &str, language: Language) -> String {
    match language {
        Language::English => text.to_owned(),
        Language::French => text
            .split("; ")
            .map(|part| french(part).unwrap_or_else(|| part.to_owned()))
            .collect::<Vec<_>>()
            .join(&format!("{NBSP}; ")),
    }
}

/// One part of a reason in French, or `None` when it matches no template.
fn french(part: &str) -> Option<String> {
    TEMPLATES.iter().find_map(|template| template(part))
}

/// Each template's translation; each answers `None` for a part that is not its own.
const TEMPLATES: [fn(&str) -> Option<String>; 15] = [
    |part| {
        let rest = part.strip_prefix("late: ")?;
        let rest = french(rest).unwrap_or_else(|| rest.to_owned());
        Some(format!("tardif{NBSP}: {rest}"))
    },
    |part| {
        let age = part.strip_prefix("still pending at LigdiCash after ")?;
        Some(format!(
            "toujours en attente chez LigdiCash après {}",
            age_fr(age)?
        ))
    },
    |part| {
        let s = between(part, "unknown status ", " treated as pending")?;
        Some(format!("statut inconnu {s} traité comme en attente"))
    },
    |part| {
        let n = between(
            part,
            "LigdiCash answered invoice not found (Code02) ",
            " times in a row",
        )?;
        Some(format!(
            "LigdiCash a répondu «{NBSP}facture introuvable{NBSP}» (Code02) {n} fois de suite"
        ))
    },
    |part| (part == "confirmed amount missing").then(|| "montant confirmé absent".to_owned()),
    |part| {
        Some(format!(
            "attendu {}",
            amount(between(part, "expected ", " XOF")?)?
        ))
    },
    |part| {
        let rest = between(part, "confirmed amount ", " XOF")?;
        let (got, expected) = rest.split_once(" XOF differs from expected ")?;
        Some(format!(
            "montant confirmé {} différent du montant attendu {}",
            amount(got)?,
            amount(expected)?
        ))
    },
    |part| {
        let rest = part.strip_prefix("confirmed transaction_id ")?;
        let (theirs, ours) = rest.split_once(" differs from enqueued ")?;
        Some(format!(
            "transaction_id confirmé {theirs} différent de celui enregistré {ours}"
        ))
    },
    |part| {
        let rest = part.strip_prefix("confirmed external_id ")?;
        let (theirs, ours) = rest.split_once(" does not name enqueued transaction_id ")?;
        Some(format!(
            "external_id confirmé {theirs} ne contient pas le transaction_id enregistré {ours}"
        ))
    },
    |part| {
        let rest = between(part, "LigdiCash's amount ", " disagree")?;
        let (a, m) = rest.split_once(" and montant ")?;
        Some(format!(
            "amount {a} et montant {m} de LigdiCash ne concordent pas"
        ))
    },
    |part| {
        let rest = between(part, "confirmed ", " is not a whole number of XOF")?;
        let (field, shown) = rest.split_once(' ')?;
        Some(format!(
            "{field} confirmé {shown} n’est pas un nombre entier de XOF"
        ))
    },
    |part| {
        let rest = part.strip_prefix("confirmed ")?;
        let (field, shown) = rest.split_once(" is not a number: ")?;
        Some(format!(
            "{field} confirmé n’est pas un nombre{NBSP}: {shown}"
        ))
    },
    |part| {
        let was = part.strip_prefix("completed after ")?;
        Some(format!(
            "payé après «{NBSP}{}{NBSP}»",
            status(was, Language::French)
        ))
    },
    |part| {
        let (said, says) = contradiction(part)?;
        Some(format!(
            "un rappel a annoncé «{NBSP}{}{NBSP}», LigdiCash confirme «{NBSP}{}{NBSP}»",
            status(said, Language::French),
            status(says, Language::French)
        ))
    },
    |part| {
        if part == "re-check: LigdiCash says notcompleted" {
            return Some(format!("revérification{NBSP}: LigdiCash répond non abouti"));
        }
        let from = part.strip_prefix(crate::payment::REQUEUED_FROM)?;
        Some(format!(
            "remis en attente depuis «{NBSP}{}{NBSP}»",
            status(from, Language::French)
        ))
    },
];

/// The reason a contradicted payment is listed with (`store::reports`), as (what the
/// callback said, what LigdiCash says).
fn contradiction(part: &str) -> Option<(&str, &str)> {
    part.strip_prefix("a callback said ")?
        .split_once(", LigdiCash says ")
}

/// The text strictly between `prefix` and `suffix`.
fn between<'a>(text: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.strip_suffix(suffix)
}

/// A whole number of XOF as French writes it, or `None` if it is not one.
fn amount(text: &str) -> Option<String> {
    let n: i64 = text.parse().ok()?;
    Some(format!("{}{NBSP}XOF", number(n, Language::French)))
}

/// An age as `format_duration` writes it (`3d`, `2h`, `90m`, `45s`, `1500ms`), in French.
fn age_fr(age: &str) -> Option<String> {
    let split = age.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = age.split_at(split);
    let unit = match unit {
        "d" => "j",
        "h" => "h",
        "m" => "min",
        "s" => "s",
        "ms" => "ms",
        _ => return None,
    };
    let n: i64 = n.parse().ok()?;
    Some(format!("{}{NBSP}{unit}", number(n, Language::French)))
}
