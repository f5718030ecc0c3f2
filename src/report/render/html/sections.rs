//! The sections of the page, one function each (see [`super::SECTIONS`]).

use super::Page;
use crate::report::figures::{Amount, DiscrepancyKind, Line, StatusTotal};
use crate::report::i18n::{self, Language};
use maud::{Markup, html};

/// An amount in the page's language.
pub(super) fn xof(p: &Page<'_>, n: i64) -> String {
    i18n::xof(n, p.language)
}

/// `8 200 XOF (3)`: XOF with the count of payments beside it.
pub(super) fn amount_cell(p: &Page<'_>, a: Amount) -> Markup {
    html! { (xof(p, a.xof)) " " span.muted { "(" (i18n::number(a.count, p.language)) ")" } }
}

/// The four headline cards. On a day not over, the pending card says "so far".
pub fn headline(p: &Page<'_>) -> Markup {
    let (s, w) = (p.summary, p.words);
    let total = s.reconciliation.total;
    let completed = total.completed;
    let need = s.to_handle.count as i64;
    let pending = if s.partial {
        w.pending_so_far
    } else {
        w.pending_at_end
    };
    html! {
        div.cards {
            div.card {
                span { (w.received) }
                b { (xof(p, total.received.xof)) }
                @if total.held_for_review.count > 0 {
                    small { (w.of_which_held) " " (xof(p, total.held_for_review.xof)) }
                }
            }
            div.card {
                span { (w.completed_payments) }
                b { (i18n::number(completed.count, p.language)) }
                small { (xof(p, completed.xof)) }
            }
            div.card.warn[need > 0] {
                span { (w.need_a_human) }
                b { (i18n::number(need, p.language)) }
            }
            div.card {
                span { (pending) }
                b { (i18n::number(s.pending_at_end.count, p.language)) }
                small { (w.expected) " " (xof(p, s.pending_at_end.expected_xof)) }
            }
        }
    }
}

/// Completed + held for review = received at LigdiCash, per operator sub-account.
pub fn reconciliation(p: &Page<'_>) -> Markup {
    let (r, w) = (&p.summary.reconciliation, p.words);
    html! {
        h2 { (w.reconciliation) }
        p.muted { (w.reconciliation_rule) }
        table {
            thead { tr {
                th { (w.operator) }
                th.n { (w.completed_payments) }
                th.n { (w.held_for_review) }
                th.n { (w.received) }
            } }
            tbody {
                @for o in &r.by_operator {
                    tr {
                        td { (o.operator.as_deref().unwrap_or(w.operator_unnamed)) }
                        td.n { (amount_cell(p, o.receipts.completed)) }
                        td.n { (amount_cell(p, o.receipts.held_for_review)) }
                        td.n { (amount_cell(p, o.receipts.received)) }
                    }
                }
            }
            tfoot { tr {
                td { (w.total) }
                td.n { (amount_cell(p, r.total.completed)) }
                td.n { (amount_cell(p, r.total.held_for_review)) }
                td.n { (amount_cell(p, r.total.received)) }
            } }
        }
        @if r.amount_not_stated > 0 {
            p.partial { (w.amount_not_stated) " " (i18n::number(r.amount_not_stated, p.language)) }
        }
    }
}

/// Bar colours per status, fixed so readers learn them.
fn colour(status: &str) -> &'static str {
    match status {
        "completed" => "#2f9e44",
        "notcompleted" => "#868e96",
        "mismatch" => "#e8590c",
        "timeout" => "#f08c00",
        "invalid_token" => "#c92a2a",
        _ => "#1c7ed6",
    }
}

/// A bar's caption: what was paid where money moved, else only what was expected.
fn bar_caption(p: &Page<'_>, t: &StatusTotal) -> String {
    let count = i18n::number(t.count, p.language);
    match t.paid_xof {
        Some(paid) => format!("{count} · {} {}", p.words.paid, xof(p, paid)),
        None => format!("{count} · {} {}", p.words.expected, xof(p, t.expected_xof)),
    }
}

/// A horizontal bar chart of counts per status, as inline SVG.
pub fn by_status(p: &Page<'_>) -> Markup {
    let totals = &p.summary.by_status;
    let max = totals.iter().map(|t| t.count).max().unwrap_or(1).max(1) as f64;
    html! {
        h2 { (p.words.by_status) }
        svg role="img" aria-label=(p.words.by_status) width="700"
            height=(totals.len() * 30 + 10) font-size="13" {
            @for (i, t) in totals.iter().enumerate() {
                @let y = i * 30 + 5;
                @let width = (t.count as f64 / max * 330.0).max(2.0);
                // Closed elements, not `rect ...;`: an unclosed <rect> in HTML's SVG would
                // swallow the next bars as its children.
                text x="0" y=(y + 15) { (i18n::status(&t.key, p.language)) }
                rect x="130" y=(y) width=(format!("{width:.0}")) height="20" rx="3"
                    fill=(colour(&t.key)) {}
                text x=(format!("{:.0}", 136.0 + width)) y=(y + 15) { (bar_caption(p, t)) }
            }
        }
    }
}

/// The first characters of a token, the whole of it on hover.
/// The token's end: LigdiCash tokens all begin with the same JWT header, so only the end
/// tells two apart (the whole token is in the cell's title and in the CSV).
pub(super) fn token_cell(token: &str) -> Markup {
    let chars: Vec<char> = token.chars().collect();
    let end: String = chars[chars.len().saturating_sub(16)..].iter().collect();
    html! { td.id title=(token) { @if end.len() < token.len() { "…" } (end) } }
}

pub(super) fn optional_xof(p: &Page<'_>, n: Option<i64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| xof(p, n))
}

/// What the shop expected: the amount, or the value as the shop wrote it where it is not a
/// whole number (never an amount of 0).
pub(super) fn expected_cell(p: &Page<'_>, n: Option<i64>, as_written: Option<&str>) -> Markup {
    match as_written {
        Some(text) => html! {
            "«\u{a0}" (text) "\u{a0}» " span.muted { "(" (p.words.unreadable) ")" }
        },
        None => html! { (optional_xof(p, n)) },
    }
}

/// One table per kind of discrepancy, with what to do. Only kinds on which money moved
/// have a "paid" column: on the others nothing was paid.
pub fn discrepancies(p: &Page<'_>) -> Markup {
    let (w, lang) = (p.words, p.language);
    html! {
        @for kind in DiscrepancyKind::ALL {
            @let rows = p.summary.discrepancies.of(kind);
            @let money = matches!(kind, DiscrepancyKind::Mismatch | DiscrepancyKind::LateCompletion);
            h2 { (i18n::discrepancy_title(kind, lang)) " (" (rows.len()) ")" }
            @if rows.is_empty() {
                p.muted { (w.none) }
            } @else {
                p.muted { (w.what_to_do) (i18n::colon(lang)) (i18n::action(kind, lang)) }
                table {
                    tr {
                        th { (w.token) } th { (w.order) } th { (w.ligdicash_reference) }
                        th { (w.operator) } th.n { (w.expected_column) }
                        @if money { th.n { (w.paid_column) } }
                        th { (w.reason) }
                    }
                    @for r in rows {
                        @let l = &r.payment;
                        tr {
                            (token_cell(&l.token))
                            td.id { (l.transaction_id.as_deref().unwrap_or("")) }
                            td.id { (l.request_id.as_deref().unwrap_or("")) }
                            td { (l.operator.as_deref().unwrap_or("")) }
                            td.n { (expected_cell(p, l.expected_xof, l.expected_as_written.as_deref())) }
                            @if money { td.n { (optional_xof(p, l.paid_xof)) } }
                            td { (l.reason.as_deref().map(|t| i18n::reason(t, lang)).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

/// When a payment was confirmed, in the page's words.
fn confirmed_at(l: &Line, language: Language) -> String {
    l.resolved_at
        .map(|t| i18n::date_time(&t.local(), language))
        .unwrap_or_default()
}

/// Every completed payment of the day, collapsed: the accountant opens it to tick them off.
pub fn completed(p: &Page<'_>) -> Markup {
    let (w, lang) = (p.words, p.language);
    let lines = &p.summary.completed;
    html! {
        details {
            summary { (w.completed_payments) " (" (i18n::number(lines.len() as i64, lang)) ")" }
            table {
                tr {
                    th { (w.confirmed_at) } th { (w.order) } th { (w.token) }
                    th { (w.ligdicash_reference) } th { (w.operator) }
                    th.n { (w.expected_column) } th.n { (w.paid_column) }
                }
                @for l in lines {
                    tr {
                        td.id { (confirmed_at(l, lang)) }
                        td.id { (l.transaction_id.as_deref().unwrap_or("")) }
                        (token_cell(&l.token))
                        td.id { (l.request_id.as_deref().unwrap_or("")) }
                        td { (l.operator.as_deref().unwrap_or("")) }
                        td.n { (optional_xof(p, l.expected_xof)) }
                        td.n { (optional_xof(p, l.paid_xof)) }
                    }
                }
            }
        }
    }
}

/// How the reconciler itself fared during the day.
pub fn health(p: &Page<'_>) -> Markup {
    let (w, lang) = (p.words, p.language);
    let (h, r) = (&p.summary.health, &p.summary.resolution);
    let n = |v: i64| i18n::number(v, lang);
    let secs = |v: Option<f64>| {
        v.map_or("–".to_owned(), |x| {
            format!("{}\u{a0}s", i18n::decimal(x, lang))
        })
    };
    let rows = [
        (w.confirm_calls, n(h.confirm_calls)),
        (
            w.error_rate,
            format!("{}\u{a0}%", i18n::decimal(h.error_rate * 100.0, lang)),
        ),
        (w.auth_failures, n(h.auth_failures)),
        (
            w.p95_latency,
            h.p95_latency_ms
                .map_or("–".to_owned(), |l| format!("{}\u{a0}ms", n(l))),
        ),
        (
            w.time_to_resolve,
            format!(
                "{} / {} / {}",
                secs(r.p50_secs),
                secs(r.p95_secs),
                secs(r.max_secs)
            ),
        ),
        (
            w.events_pending_dead,
            format!("{} / {}", n(h.events_pending), n(h.events_dead)),
        ),
        (w.unmatched_callbacks, n(h.unmatched_callbacks)),
    ];
    html! {
        h2 { (w.health) }
        table {
            @for (label, value) in rows {
                tr { td { (label) } td.n { (value) } }
            }
        }
    }
}
