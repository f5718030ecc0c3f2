//! The `list` table: one line per payment, with a short token that tells the rows apart.
//!
//! LigdiCash tokens are JWTs, so every one begins with the same header (`eyJ0eXAiOiJKV1Qi…`)
//! and a table cut after N characters shows N identical characters per row. Their end (the
//! signature) differs, so the table shows the end: the last [`TOKEN_TAIL`] characters, more
//! when two rows would still look alike. `show --order` and `list --json` give the whole token.

use crate::store::PaymentRow;
use crate::time::rfc3339;
use std::collections::HashSet;

/// Characters of a token's end shown at least.
pub(super) const TOKEN_TAIL: usize = 12;

/// Widest order reference shown whole; longer ones are cut.
const ORDER_WIDTH: usize = 20;

/// The header and one line per row.
pub(super) fn payments(rows: &[PaymentRow]) -> Vec<String> {
    let tokens: Vec<&str> = rows.iter().map(|p| p.token.as_str()).collect();
    let short = short_tokens(&tokens);
    let orders: Vec<String> = rows
        .iter()
        .map(|p| shorten(p.transaction_id.as_deref().unwrap_or("-"), ORDER_WIDTH))
        .collect();
    let token_width = width(&short, "TOKEN");
    let order_width = width(&orders, "ORDER");
    // A last column only when a row was written with a value of the wrong type.
    let problems = rows.iter().any(|p| !p.bad_columns.is_empty());
    let header = format!(
        "{:<token_width$} {:<10} {:<order_width$} {:<13} {:>10} {:>8}  {:<24}  {}",
        "TOKEN",
        "KIND",
        "ORDER",
        "STATUS",
        "AMOUNT",
        "ATTEMPTS",
        "UPDATED",
        if problems { "PROBLEM" } else { "" }
    );
    let mut lines = vec![header.trim_end().to_owned()];
    for ((p, token), order) in rows.iter().zip(&short).zip(&orders) {
        let amount = p.amount.or(p.expected_amount).map(|a| a.to_string());
        let line = format!(
            "{token:<token_width$} {:<10} {order:<order_width$} {:<13} {:>10} {:>8}  {:<24}  {}",
            p.kind,
            p.status,
            amount.unwrap_or_default(),
            p.attempts,
            rfc3339(p.updated_at),
            p.problem().unwrap_or_default(),
        );
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// The tokens' ends, long enough that no two different tokens look the same.
pub(super) fn short_tokens(tokens: &[&str]) -> Vec<String> {
    let longest = tokens.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    let distinct: HashSet<&str> = tokens.iter().copied().collect();
    let mut keep = TOKEN_TAIL;
    loop {
        let shown: Vec<String> = tokens.iter().map(|t| tail(t, keep)).collect();
        let seen: HashSet<(&str, &String)> = tokens.iter().copied().zip(&shown).collect();
        let looks: HashSet<&String> = seen.iter().map(|(_, s)| *s).collect();
        if looks.len() == distinct.len() || keep >= longest {
            return shown;
        }
        keep += 4;
    }
}

/// The last `keep` characters of `token` after an ellipsis, or all of it when that is
/// hardly longer.
fn tail(token: &str, keep: usize) -> String {
    let count = token.chars().count();
    if count <= keep + 1 {
        return token.to_owned();
    }
    let end: String = token.chars().skip(count - keep).collect();
    format!("…{end}")
}

/// `text` cut to `width` characters, an ellipsis marking the cut.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let head: String = text.chars().take(width - 1).collect();
    format!("{head}…")
}

/// The width of a column: its widest cell or its header.
fn width(cells: &[String], header: &str) -> usize {
    cells
        .iter()
        .map(|c| c.chars().count())
        .chain([header.len()])
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpbnZvaWNlIjoi";

    #[test]
    fn jwt_tokens_show_their_distinct_ends() {
        let a = format!("{HEADER}.aaaaSIGNATURE-0001");
        let b = format!("{HEADER}.bbbbSIGNATURE-0002");
        let short = short_tokens(&[&a, &b]);
        assert_eq!(short, ["…GNATURE-0001", "…GNATURE-0002"]);
    }

    #[test]
    fn ends_grow_until_no_two_tokens_look_alike() {
        let a = format!("{HEADER}.a-same-twelve-chars");
        let b = format!("{HEADER}.b-same-twelve-chars");
        let short = short_tokens(&[&a, &b]);
        assert_ne!(short[0], short[1]);
        assert!(short[0].starts_with('…') && a.ends_with(&short[0]["…".len()..]));
        // Tokens that differ only at the start are shown whole rather than alike.
        let (c, d) = ("x-same-end-here-0000000", "y-same-end-here-0000000");
        assert_eq!(short_tokens(&[c, d]), [c, d]);
    }

    #[test]
    fn short_tokens_and_orders_are_shown_whole() {
        assert_eq!(short_tokens(&["tok-1", "tok-2"]), ["tok-1", "tok-2"]);
        assert_eq!(
            tail("abcdefghijklm", 12),
            "abcdefghijklm",
            "one more char: whole"
        );
        assert_eq!(shorten("ORD-2026-00042", ORDER_WIDTH), "ORD-2026-00042");
        assert_eq!(shorten(&"x".repeat(30), 5), "xxxx…");
    }
}
