//! The three report formats: JSON (versioned, for machines), CSV (one row per payment, for
//! spreadsheets), and one self-contained HTML page (no external assets) for people.

use super::figures::{Discrepancy, Summary, Total};
use crate::store::reports::PaymentFact;
use crate::time::Millis;
use chrono::{DateTime, SecondsFormat};
use chrono_tz::Tz;
use std::fmt::Write;

/// Pretty JSON of the summary.
pub fn json(summary: &Summary) -> String {
    serde_json::to_string_pretty(summary).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

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
pub fn csv(resolved: &[PaymentFact], pending: &[PaymentFact], tz: Tz) -> String {
    let mut out = String::from(
        "token,transaction_id,request_id,status,expected_amount_xof,amount_xof,operator,created_at,resolved_at,reason\r\n",
    );
    for p in resolved.iter().chain(pending) {
        let cells = [
            field(&p.token),
            field(p.transaction_id.as_deref().unwrap_or("")),
            field(p.request_id.as_deref().unwrap_or("")),
            field(&p.status),
            p.expected_amount.map(|a| a.to_string()).unwrap_or_default(),
            p.amount.map(|a| a.to_string()).unwrap_or_default(),
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

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xof(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    format!("{}{grouped} XOF", if n < 0 { "-" } else { "" })
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933;max-width:1100px}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d9e2ec;border-radius:8px;padding:1rem 1.25rem;min-width:180px}\
.card b{display:block;font-size:1.6rem}.warn b{color:#b44d12}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.id{white-space:nowrap}.muted{color:#7b8794}";

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

/// A horizontal bar chart of counts and amounts per status, as inline SVG.
fn chart(totals: &[Total]) -> String {
    let max = totals.iter().map(|t| t.count).max().unwrap_or(1).max(1) as f64;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"payments by status\" width=\"640\" height=\"{}\" font-size=\"13\">",
        totals.len() * 30 + 10
    );
    for (i, t) in totals.iter().enumerate() {
        let y = i * 30 + 5;
        let w = (t.count as f64 / max * 330.0).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"110\" y=\"{y}\" width=\"{w:.0}\" height=\"20\" rx=\"3\" fill=\"{}\"/>\
             <text x=\"{:.0}\" y=\"{}\">{} · {}</text>",
            y + 15,
            esc(&t.key),
            colour(&t.key),
            116.0 + w,
            y + 15,
            t.count,
            xof(t.xof)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table(title: &str, rows: &[Discrepancy]) -> String {
    let mut html = format!("<h2>{} ({})</h2>", esc(title), rows.len());
    if rows.is_empty() {
        html.push_str("<p class=\"muted\">None.</p>");
        return html;
    }
    html.push_str("<table><tr><th>Token</th><th>Order</th><th>Request</th><th>Expected</th><th>Confirmed</th><th>Reason</th><th>What to do</th></tr>");
    for r in rows {
        let amount = |a: Option<i64>| a.map(xof).unwrap_or_default();
        let short: String = r.token.chars().take(18).collect();
        let _ = write!(
            html,
            "<tr><td class=\"id\" title=\"{}\">{}…</td><td class=\"id\">{}</td><td class=\"id\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.token),
            esc(&short),
            esc(r.transaction_id.as_deref().unwrap_or("")),
            esc(r.request_id.as_deref().unwrap_or("")),
            amount(r.expected_amount),
            amount(r.amount),
            esc(r.reason.as_deref().unwrap_or("")),
            esc(r.action)
        );
    }
    html.push_str("</table>");
    html
}

/// The self-contained page.
pub fn html(s: &Summary) -> String {
    let completed = s
        .by_status
        .iter()
        .find(|t| t.key == "completed")
        .map_or(0, |t| t.count);
    let d = &s.discrepancies;
    let card = |label: &str, value: String, warn: bool| {
        format!(
            "<div class=\"card{}\"><span>{}</span><b>{}</b></div>",
            if warn { " warn" } else { "" },
            esc(label),
            esc(&value)
        )
    };
    let mut page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>LigdiCash reconciliation {date}</title>\
         <style>{STYLE}</style></head><body><h1>LigdiCash reconciliation — {date}</h1>\
         <p class=\"muted\">{zone}, {start} to {end}</p><div class=\"cards\">{}{}{}{}</div>",
        card("Received", xof(s.received_xof), false),
        card("Completed payments", completed.to_string(), false),
        card("Need a human", d.count().to_string(), d.count() > 0),
        card(
            "Pending at end of day",
            s.pending_at_end.count.to_string(),
            false
        ),
        date = esc(&s.date),
        zone = esc(&s.time_zone),
        start = esc(&s.window_start),
        end = esc(&s.window_end),
    );
    page.push_str("<h2>Payments by status</h2>");
    page.push_str(&chart(&s.by_status));
    page.push_str(&table("Mismatches", &d.mismatches));
    page.push_str(&table("Late completions", &d.late_completions));
    page.push_str(&table("Timeouts", &d.timeouts));
    page.push_str(&table("Invalid tokens", &d.invalid_tokens));
    page.push_str(&table("Pending over 24 h", &d.pending_over_24h));
    page.push_str(&super::money_out::html(&s.money_out, esc, xof));
    let h = &s.health;
    let r = &s.resolution;
    let secs = |v: Option<f64>| v.map_or("–".to_owned(), |x| format!("{x:.1} s"));
    let _ = write!(
        page,
        "<h2>Health</h2><table><tr><td>Confirm calls</td><td class=\"n\">{}</td></tr>\
         <tr><td>Error rate</td><td class=\"n\">{:.1} %</td></tr>\
         <tr><td>Authentication failures</td><td class=\"n\">{}</td></tr>\
         <tr><td>p95 confirm latency</td><td class=\"n\">{}</td></tr>\
         <tr><td>Time to resolve (p50 / p95 / max)</td><td class=\"n\">{} / {} / {}</td></tr>\
         <tr><td>Events pending / dead</td><td class=\"n\">{} / {}</td></tr>\
         <tr><td>LigdiCash callbacks matching no payment</td><td class=\"n\">{}</td></tr></table>",
        h.confirm_calls,
        h.error_rate * 100.0,
        h.auth_failures,
        h.p95_latency_ms
            .map_or("–".to_owned(), |l| format!("{l} ms")),
        secs(r.p50_secs),
        secs(r.p95_secs),
        secs(r.max_secs),
        h.events_pending,
        h.events_dead,
        h.unmatched_callbacks
    );
    page.push_str("</body></html>\n");
    page
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

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(xof(1_250_000), "1\u{202f}250\u{202f}000 XOF");
        assert_eq!(xof(500), "500 XOF");
    }

    #[test]
    fn html_escapes_everything_it_prints() {
        assert_eq!(esc("<script>&\""), "&lt;script&gt;&amp;&quot;");
    }
}
