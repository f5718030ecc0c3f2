//! The money-out section: what left through payouts and withdrawals, what failed, what is
//! still open, the net line, and the payouts that need a human, in the page's language.

use super::Page;
use super::sections::{optional_xof, token_cell, xof};
use crate::report::i18n::{self, Language};
use crate::report::money_out::{Amount, PayoutRow};
use maud::{Markup, html};

/// The section's labels; one struct per language, so none is forgotten in the other.
struct Labels {
    title: &'static str,
    paid_out: &'static str,
    failed: &'static str,
    pending: &'static str,
    pending_so_far: &'static str,
    net: &'static str,
    count: &'static str,
    overdue: &'static str,
    mismatches: &'static str,
    invalid_tokens: &'static str,
    kind: &'static str,
    asked: &'static str,
    sent: &'static str,
    overdue_action: &'static str,
    mismatch_action: &'static str,
    invalid_action: &'static str,
}

const FRENCH: Labels = Labels {
    title: "Argent sorti (paiements et retraits)",
    paid_out: "Payé",
    failed: "Échoué",
    pending: "En attente en fin de journée",
    pending_so_far: "En attente à cette heure",
    net: "Net (reçu − payé)",
    count: "Nombre",
    overdue: "Paiements en retard",
    mismatches: "Paiements non conformes",
    invalid_tokens: "Jetons de paiement inconnus",
    kind: "Type",
    asked: "Demandé",
    sent: "Envoyé",
    overdue_action: "toujours en attente chez LigdiCash au-delà de overdue_after : contacter \
                     le support LigdiCash ; ne pas le renvoyer",
    mismatch_action: "LigdiCash le dit envoyé, mais pas comme demandé : vérifier avec le \
                      support LigdiCash ce qui est parti avant tout nouvel envoi",
    invalid_action: "LigdiCash ne connaît pas ce jeton : vérifier l'intégration (le type \
                     donné à l'enqueue)",
};

const ENGLISH: Labels = Labels {
    title: "Money out (payouts and withdrawals)",
    paid_out: "Paid out",
    failed: "Failed",
    pending: "Pending at end of day",
    pending_so_far: "Pending so far",
    net: "Net (received − paid out)",
    count: "Count",
    overdue: "Overdue payouts",
    mismatches: "Payout mismatches",
    invalid_tokens: "Payout invalid tokens",
    kind: "Kind",
    asked: "Asked",
    sent: "Sent",
    overdue_action: "still pending at LigdiCash past overdue_after: ask LigdiCash support; do \
                     not send it again",
    mismatch_action: "LigdiCash says sent, but not as asked: check with LigdiCash support \
                      what left before sending again",
    invalid_action: "LigdiCash does not know this payout token: check the integration (the \
                     kind given at enqueue)",
};

fn labels(language: Language) -> &'static Labels {
    match language {
        Language::French => &FRENCH,
        Language::English => &ENGLISH,
    }
}

pub fn money_out(p: &Page<'_>) -> Markup {
    let (m, l, lang) = (&p.summary.money_out, labels(p.language), p.language);
    let pending = if p.summary.partial {
        l.pending_so_far
    } else {
        l.pending
    };
    let line = |label: &str, a: Amount| {
        html! { tr { td { (label) } td.n { (i18n::number(a.count, lang)) } td.n { (xof(p, a.xof)) } } }
    };
    let lists = [
        (l.overdue, &m.overdue, l.overdue_action),
        (l.mismatches, &m.mismatches, l.mismatch_action),
        (l.invalid_tokens, &m.invalid_tokens, l.invalid_action),
    ];
    html! {
        h2 { (l.title) }
        table {
            thead { tr { th {} th.n { (l.count) } th.n { "XOF" } } }
            tbody {
                (line(l.paid_out, m.completed))
                (line(l.failed, m.failed))
                (line(pending, m.pending))
            }
            tfoot { tr { td { (l.net) } td {} td.n { (xof(p, m.net_xof)) } } }
        }
        @for (title, rows, action) in lists {
            h2 { (title) " (" (rows.len()) ")" }
            @if rows.is_empty() {
                p.muted { (p.words.none) }
            } @else {
                p.muted { (p.words.what_to_do) (i18n::colon(lang)) (action) }
                (table(p, l, rows))
            }
        }
    }
}

fn table(p: &Page<'_>, l: &Labels, rows: &[PayoutRow]) -> Markup {
    let w = p.words;
    html! {
        table {
            tr {
                th { (w.token) } th { (l.kind) } th { (w.order) }
                th.n { (l.asked) } th.n { (l.sent) } th { (w.reason) }
            }
            @for r in rows {
                tr {
                    (token_cell(&r.token))
                    td { (r.kind) }
                    td.id { (r.transaction_id.as_deref().unwrap_or("")) }
                    td.n { (optional_xof(p, r.expected_amount)) }
                    td.n { (optional_xof(p, r.amount)) }
                    td { (r.reason.as_deref().map(|t| i18n::reason(t, p.language)).unwrap_or_default()) }
                }
            }
        }
    }
}
