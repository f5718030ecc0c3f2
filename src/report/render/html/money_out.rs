//! The money-out section: what left through payouts and withdrawals (as asked, and sent
//! but to be checked), what failed, what is still open, the net per operator, and the
//! payouts that need a person, in the page's language.
//!
//! Its words are its own: "versement" and "retrait" for money out, never "paiement",
//! which the page keeps for customers paying the shop.

use super::Page;
use super::sections::{amount_cell, expected_cell, optional_xof, token_cell, xof};
use crate::report::i18n::{self, Language};
use crate::report::money_out::{Asked, PayoutIssue, PayoutRow};
use maud::{Markup, html};

/// The section's labels; one struct per language, so none is forgotten in the other.
struct Labels {
    title: &'static str,
    rule: &'static str,
    sent_as_asked: &'static str,
    sent_to_check: &'static str,
    sent_total: &'static str,
    failed: &'static str,
    pending: &'static str,
    pending_so_far: &'static str,
    net: &'static str,
    net_rule: &'static str,
    count: &'static str,
    asked: &'static str,
    sent: &'static str,
    issues: [&'static str; 4],
    actions: [&'static str; 4],
}

const FRENCH: Labels = Labels {
    title: "Versements et retraits",
    rule: "Envoyé = envoyé comme demandé + envoyé, à vérifier (LigdiCash l’indique envoyé, \
           mais pas comme demandé\u{a0}: compté au montant qu’il indique), comme sur le relevé.",
    sent_as_asked: "Envoyé comme demandé",
    sent_to_check: "Envoyé, à vérifier",
    sent_total: "Envoyé",
    failed: "Échoué",
    pending: "En attente en fin de journée",
    pending_so_far: "En attente à ce stade",
    net: "Net (reçu − envoyé)",
    net_rule: "Reçu chez LigdiCash moins envoyé, par sous-compte opérateur, comme sur le relevé.",
    count: "Nombre",
    asked: "Demandé",
    sent: "Envoyé",
    issues: [
        "Versements en attente au-delà du délai",
        "Versements envoyés, à vérifier",
        "Jetons de versement inconnus de LigdiCash",
        "Versements au montant mal écrit",
    ],
    actions: [
        "toujours en attente chez LigdiCash au-delà de overdue_after\u{a0}: contacter le \
         support LigdiCash\u{a0}; ne pas le renvoyer",
        "LigdiCash l’indique envoyé, mais pas comme demandé\u{a0}: vérifier avec le support \
         LigdiCash ce qui est parti avant tout nouvel envoi",
        "LigdiCash ne connaît pas ce jeton\u{a0}: vérifier l’intégration (le type donné à \
         l’enregistrement)",
        "la boutique a écrit expected_amount autrement qu’en nombre entier de XOF\u{a0}: \
         corriger la ligne",
    ],
};

const ENGLISH: Labels = Labels {
    title: "Money out (payouts and withdrawals)",
    rule: "Sent = sent as asked + sent, to be checked (LigdiCash says sent, but not as \
           asked: counted at the amount it reports), as on the statement.",
    sent_as_asked: "Sent as asked",
    sent_to_check: "Sent, to be checked",
    sent_total: "Sent",
    failed: "Failed",
    pending: "Pending at end of day",
    pending_so_far: "Pending so far",
    net: "Net (received − sent)",
    net_rule: "Received at LigdiCash minus sent, per operator sub-account, as on the statement.",
    count: "Count",
    asked: "Asked",
    sent: "Sent",
    issues: [
        "Overdue payouts",
        "Payouts sent, to be checked",
        "Payout tokens LigdiCash does not know",
        "Payouts whose amount the shop wrote badly",
    ],
    actions: [
        "still pending at LigdiCash past overdue_after: ask LigdiCash support; do not send \
         it again",
        "LigdiCash says sent, but not as asked: check with LigdiCash support what left \
         before sending again",
        "LigdiCash does not know this payout token: check the integration (the kind given \
         at enqueue)",
        "the shop wrote expected_amount as something other than a whole number of XOF: \
         correct the row",
    ],
};

fn labels(language: Language) -> &'static Labels {
    match language {
        Language::French => &FRENCH,
        Language::English => &ENGLISH,
    }
}

fn index(issue: PayoutIssue) -> usize {
    match issue {
        PayoutIssue::Overdue => 0,
        PayoutIssue::Mismatch => 1,
        PayoutIssue::InvalidToken => 2,
        PayoutIssue::UnreadableAmount => 3,
    }
}

/// The title of a payout issue's table, in `language`.
pub fn issue_title(issue: PayoutIssue, language: Language) -> &'static str {
    labels(language).issues[index(issue)]
}

/// What to do about a payout issue, in `language`.
pub fn issue_action(issue: PayoutIssue, language: Language) -> &'static str {
    labels(language).actions[index(issue)]
}

pub fn money_out(p: &Page<'_>) -> Markup {
    let (m, l, lang) = (&p.summary.money_out, labels(p.language), p.language);
    let pending = if p.summary.partial {
        l.pending_so_far
    } else {
        l.pending
    };
    let n = |v: i64| i18n::number(v, lang);
    let asked = |label: &str, a: Asked| {
        html! { tr { td { (label) } td.n { (n(a.count)) } td.n { (p.words.expected) " " (xof(p, a.expected_xof)) } } }
    };
    html! {
        h2 { (l.title) }
        p.muted { (l.rule) }
        table {
            thead { tr { th {} th.n { (l.count) } th.n { "XOF" } } }
            tbody {
                tr { td { (l.sent_as_asked) } td.n { (n(m.completed.count)) } td.n { (xof(p, m.completed.xof)) } }
                tr { td { (l.sent_to_check) } td.n { (n(m.sent_to_check.count)) } td.n { (xof(p, m.sent_to_check.xof)) } }
                (asked(l.failed, m.failed))
                (asked(pending, m.pending))
            }
            tfoot { tr { td { (l.sent_total) } td.n { (n(m.sent.count)) } td.n { (xof(p, m.sent.xof)) } } }
        }
        (net(p, l))
        @for issue in PayoutIssue::ALL {
            @let rows = m.of(issue);
            h2 { (issue_title(issue, lang)) " (" (rows.len()) ")" }
            @if rows.is_empty() {
                p.muted { (p.words.none) }
            } @else {
                p.muted { (p.words.what_to_do) (i18n::colon(lang)) (issue_action(issue, lang)) }
                (table(p, l, rows))
            }
        }
    }
}

/// Received minus sent, per operator sub-account and in total.
fn net(p: &Page<'_>, l: &Labels) -> Markup {
    let (net, w) = (&p.summary.net, p.words);
    html! {
        h2 { (l.net) }
        p.muted { (l.net_rule) }
        table {
            thead { tr {
                th { (w.operator) } th.n { (w.received) } th.n { (l.sent) } th.n { "Net" }
            } }
            tbody {
                @for o in &net.by_operator {
                    tr {
                        td { (o.operator.as_deref().unwrap_or(w.operator_unnamed)) }
                        td.n { (amount_cell(p, o.figures.received)) }
                        td.n { (amount_cell(p, o.figures.sent)) }
                        td.n { (xof(p, o.figures.net_xof)) }
                    }
                }
            }
            tfoot { tr {
                td { (w.total) }
                td.n { (amount_cell(p, net.total.received)) }
                td.n { (amount_cell(p, net.total.sent)) }
                td.n { (xof(p, net.total.net_xof)) }
            } }
        }
    }
}

fn table(p: &Page<'_>, l: &Labels, rows: &[PayoutRow]) -> Markup {
    let w = p.words;
    html! {
        table {
            tr {
                th { (w.token) } th { (w.kind) } th { (w.order) } th { (w.operator) }
                th.n { (l.asked) } th.n { (l.sent) } th { (w.reason) }
            }
            @for r in rows {
                tr {
                    (token_cell(&r.token))
                    td { (i18n::kind(&r.kind, p.language)) }
                    td.id { (r.transaction_id.as_deref().unwrap_or("")) }
                    td { (r.operator.as_deref().unwrap_or("")) }
                    td.n { (expected_cell(p, r.expected_xof, r.expected_as_written.as_deref())) }
                    td.n { (optional_xof(p, r.paid_xof)) }
                    td { (r.reason.as_deref().map(|t| i18n::reason(t, p.language)).unwrap_or_default()) }
                }
            }
        }
    }
}
