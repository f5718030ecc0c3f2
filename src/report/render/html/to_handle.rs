//! "À traiter" / "Need a human": the day's one list of what a person must look at, money in
//! and out, each payment once, with what to do (`report::to_handle`). The tables below it
//! give each kind's detail.

use super::Page;
use super::money_out::{issue_action, issue_title};
use super::sections::{expected_cell, optional_xof, token_cell};
use crate::report::i18n;
use crate::report::to_handle::{Direction, Issue};
use maud::{Markup, html};

pub fn to_handle(p: &Page<'_>) -> Markup {
    let (t, w, lang) = (&p.summary.to_handle, p.words, p.language);
    html! {
        h2 #to-handle { (w.need_a_human) " (" (i18n::number(t.count as i64, lang)) ")" }
        @if t.rows.is_empty() {
            p.muted { (w.none) }
        } @else {
            table {
                tr {
                    th { (w.direction) } th { (w.issue) } th { (w.kind) } th { (w.order) }
                    th { (w.token) } th.n { (w.expected_column) } th.n { "LigdiCash" }
                    th { (w.what_to_do) }
                }
                @for r in &t.rows {
                    @let (title, action) = match r.issue {
                        Issue::In(kind) => (i18n::discrepancy_title(kind, lang), i18n::action(kind, lang)),
                        Issue::Out(issue) => (issue_title(issue, lang), issue_action(issue, lang)),
                    };
                    tr {
                        td { (match r.direction { Direction::In => w.money_in, Direction::Out => w.money_out }) }
                        td { (title) }
                        td { (i18n::kind(&r.kind, lang)) }
                        td.id { (r.transaction_id.as_deref().unwrap_or("")) }
                        (token_cell(&r.token))
                        td.n { (expected_cell(p, r.expected_xof, r.expected_as_written.as_deref())) }
                        td.n { (optional_xof(p, r.paid_xof)) }
                        td { (action) }
                    }
                }
            }
        }
    }
}
