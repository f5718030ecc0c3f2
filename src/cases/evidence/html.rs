//! The evidence file for a person: one self-contained HTML page (style inline, no script,
//! no external asset) in French or English, built with `maud` as the report is, so every
//! value (a callback's body, a note, an order reference) is escaped and shown as text.

use super::timeline::timeline;
use super::words::{Words, words};
use super::{Context, endpoint};
use crate::store::model::evidence::EventEvidence;
use crate::store::{CaseRow, EvidenceFacts, PaymentRow};
use crate::time::Millis;
use chrono::TimeZone;
use maud::{DOCTYPE, Markup, html};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933;max-width:1200px}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}\
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border-bottom:1px solid #e4e7eb;padding:.3rem .45rem;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.t{white-space:nowrap}\
pre{white-space:pre-wrap;word-break:break-all;background:#f5f7fa;padding:.4rem;margin:0;font-size:.8rem}\
.sha{font-family:monospace;word-break:break-all;background:#fff4e6;border:1px solid #f08c00;border-radius:6px;padding:.5rem}\
.muted{color:#7b8794}.open{color:#b44d12;font-weight:600}";

/// A time in the file's zone, to the millisecond: the order of steps a second apart matters.
fn when(at: Millis, ctx: &Context) -> String {
    match chrono::Utc.timestamp_millis_opt(at).single() {
        Some(t) => t
            .with_timezone(&ctx.zone)
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string(),
        None => at.to_string(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The page for `facts`, showing `sha256`, the SHA-256 of the JSON built with it.
pub fn page(f: &EvidenceFacts, ctx: &Context, sha256: &str) -> String {
    let w = words(ctx.language);
    let p = &f.payment;
    let order = p.transaction_id.as_deref().unwrap_or(&p.token);
    html! {
        (DOCTYPE)
        html lang=(ctx.language.tag()) {
            head {
                meta charset="utf-8";
                title { (w.title) " " (order) }
                style { (STYLE) }
            }
            body {
                h1 { (w.title) " " (order) }
                p { (w.generated) " " (when(ctx.generated_at, ctx)) " — " span.muted { (w.times_in) " " (ctx.zone.name()) } }
                p.sha { (w.sha_note) ": " code #sha256 { (sha256) } }
                (payment(p, ctx, w))
                (cases(&f.cases, ctx, w))
                h2 { (w.timeline) }
                table #timeline {
                    thead { tr { th { (w.time) } th { (w.step) } th { (w.what) } } }
                    tbody {
                        @for e in timeline(f) {
                            tr data-step=(e.step.code()) {
                                td.t { (when(e.at, ctx)) }
                                td { (e.step.code()) }
                                td { (e.step.summary(p, ctx.language)) }
                            }
                        }
                    }
                }
                (calls(f, ctx, w))
                (callbacks(f, ctx, w))
                h2 { (w.events) }
                @for e in &f.events { (event(e, ctx, w)) }
            }
        }
    }
    .into_string()
}

fn payment(p: &PaymentRow, ctx: &Context, w: &Words) -> Markup {
    let rows: [(&str, String); 10] = [
        (w.token, p.token.clone()),
        (w.kind, p.kind.clone()),
        (w.order_label, opt(p.transaction_id.as_deref())),
        (
            w.expected_label,
            opt(p.expected_amount.map(|a| format!("{a} XOF"))),
        ),
        (w.amount, opt(p.amount.map(|a| format!("{a} XOF")))),
        (w.status, p.status.clone()),
        (w.reason, opt(p.status_reason.as_deref())),
        (w.operator, opt(p.operator_name.as_deref())),
        (w.created, when(p.created_at, ctx)),
        (w.resolved, opt(p.resolved_at.map(|t| when(t, ctx)))),
    ];
    html! {
        h2 { (w.payment) }
        p.muted { (w.verdict_note) }
        table #payment {
            @for (label, value) in &rows { tr { th { (label) } td { (value) } } }
            tr { th { (w.customer) } td { (opt(p.customer.as_deref())) } }
        }
    }
}

fn cases(cases: &[CaseRow], ctx: &Context, w: &Words) -> Markup {
    html! {
        h2 { (w.cases) }
        @if cases.is_empty() { p { (w.no_case) } }
        @else {
            table #cases {
                thead { tr { th { "#" } th { (w.kind) } th { (w.opened) } th { (w.closed) } th { (w.decision) } th { (w.by) } th { (w.note) } } }
                tbody {
                    @for c in cases {
                        @let record = c.closing.as_ref();
                        tr {
                            td.n { (c.id) }
                            td { (c.kind.as_str()) }
                            td.t { (when(c.opened_at, ctx)) }
                            @match c.closed_at {
                                Some(at) => td.t { (when(at, ctx)) },
                                None => td.open { (w.still_open) },
                            }
                            td { (record.map_or("", |r| r.decision.map_or(w.by_itself, |d| d.as_str()))) }
                            td { (record.map_or("", |r| r.by.as_str())) }
                            td { (record.map_or("", |r| r.note.as_str())) }
                        }
                    }
                }
            }
        }
    }
}

fn calls(f: &EvidenceFacts, ctx: &Context, w: &Words) -> Markup {
    let p = &f.payment;
    html! {
        h2 { (w.confirm_calls) }
        table #calls {
            thead { tr { th { (w.time) } th { (w.endpoint) } th { "HTTP" } th { (w.duration) } th { (w.answer) } th { (w.outcome) } th { (w.as_received) } } }
            tbody {
                @for a in &f.attempts {
                    tr {
                        td.t { (when(a.at, ctx)) }
                        td { code { (endpoint(&p.kind)) } }
                        td.n { (opt(a.http_status)) }
                        td.n { (a.latency_ms) " ms" }
                        td { (opt(a.response_code.as_deref())) " / " (opt(a.provider_status.as_deref())) }
                        td { (a.outcome) @if let Some(e) = &a.error { " — " (e) } }
                        td { pre.answer { (opt(a.answer.as_deref())) } }
                    }
                }
            }
        }
        h3 { (w.last_answer) }
        pre #last-answer { (opt(p.raw_response.as_deref())) }
    }
}

fn callbacks(f: &EvidenceFacts, ctx: &Context, w: &Words) -> Markup {
    html! {
        h2 { (w.callbacks) }
        @if f.callbacks.is_empty() { p { (w.no_callback) } }
        @else {
            table #callbacks {
                thead { tr { th { (w.time) } th { (w.from) } th { "Content-Type" } th { (w.body) } } }
                tbody {
                    @for c in &f.callbacks {
                        tr {
                            td.t { (when(c.received_at, ctx)) }
                            td { (opt(c.source.as_deref())) }
                            td { (c.content_type) }
                            td { pre { (c.body) } }
                        }
                    }
                }
            }
        }
    }
}

fn event(e: &EventEvidence, ctx: &Context, w: &Words) -> Markup {
    html! {
        h3 { (e.event.kind) " " span.muted { (e.event.id) " — " (when(e.event.created_at, ctx)) } }
        table.tries {
            thead { tr { th { (w.time) } th { (w.sink) } th { (w.result) } } }
            tbody {
                @for t in &e.tries {
                    tr {
                        td.t { (when(t.at, ctx)) }
                        td { (t.sink) }
                        td { (t.result) @if let Some(err) = &t.error { " — " (err) } }
                    }
                }
                @for d in e.deliveries.iter().filter(|d| d.attempts == 0) {
                    tr { td.t { "-" } td { (d.sink) } td { (d.state) } }
                }
            }
        }
        details { summary { "payload" } pre { (e.event.payload) } }
    }
}
