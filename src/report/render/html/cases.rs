//! The report's cases section: every case still open, oldest first with its age, then the
//! cases closed during the day with the decision, who and the note (docs/cases.md).

use super::Page;
use crate::report::cases::CaseLine;
use crate::report::i18n::{self, Language};
use maud::{Markup, html};

/// The section's words (kept here: the section is the only one to use them).
struct Words {
    title: &'static str,
    none_open: &'static str,
    closed_today: &'static str,
    kind: &'static str,
    order: &'static str,
    status: &'static str,
    opened: &'static str,
    waiting: &'static str,
    decision: &'static str,
    by: &'static str,
    note: &'static str,
    by_itself: &'static str,
}

const FR: Words = Words {
    title: "Dossiers à traiter",
    none_open: "Aucun dossier n'attend de décision.",
    closed_today: "Dossiers clos ce jour",
    kind: "Type",
    order: "Commande",
    status: "Statut LigdiCash",
    opened: "Ouvert le",
    waiting: "Attente",
    decision: "Décision",
    by: "Par",
    note: "Note",
    by_itself: "clos de lui-même",
};

const EN: Words = Words {
    title: "Cases to handle",
    none_open: "No case waits for a decision.",
    closed_today: "Cases closed this day",
    kind: "Kind",
    order: "Order",
    status: "LigdiCash status",
    opened: "Opened",
    waiting: "Waiting",
    decision: "Decision",
    by: "By",
    note: "Note",
    by_itself: "closed by itself",
};

/// An age in days, hours and minutes: `2 j 3 h`, `2 d 3 h`, `45 min`.
fn age(seconds: i64, language: Language) -> String {
    let day = if language == Language::French {
        "j"
    } else {
        "d"
    };
    let (d, h, m) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, h) => format!("{h} h {m:02}"),
        (d, h) => format!("{d} {day} {h} h"),
    }
}

fn order(c: &CaseLine) -> &str {
    c.transaction_id.as_deref().unwrap_or(&c.token)
}

/// The section.
pub fn cases(p: &Page<'_>) -> Markup {
    let w = if p.language == Language::French {
        &FR
    } else {
        &EN
    };
    let cases = &p.summary.cases;
    let when = |t: crate::report::figures::LocalTime| i18n::date_time(&t.local(), p.language);
    html! {
        section #cases {
            h2 { (w.title) " (" (i18n::number(cases.open.len() as i64, p.language)) ")" }
            @if cases.open.is_empty() { p.muted { (w.none_open) } }
            @else {
                table {
                    thead { tr { th { "#" } th { (w.kind) } th { (w.order) } th { (w.status) } th { (w.opened) } th.n { (w.waiting) } } }
                    tbody {
                        @for c in &cases.open {
                            tr { td.n { (c.id) } td { (c.kind) } td.id { (order(c)) } td { (c.status) } td { (when(c.opened_at)) } td.n { (age(c.age_seconds, p.language)) } }
                        }
                    }
                }
            }
            @if !cases.closed.is_empty() {
                h2 { (w.closed_today) }
                table {
                    thead { tr { th { "#" } th { (w.kind) } th { (w.order) } th { (w.decision) } th { (w.by) } th { (w.note) } } }
                    tbody {
                        @for c in &cases.closed {
                            tr {
                                td.n { (c.id) } td { (c.kind) } td.id { (order(c)) }
                                td { (c.decision.unwrap_or(w.by_itself)) }
                                td { (c.decided_by.as_deref().unwrap_or("")) }
                                td { (c.note.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
