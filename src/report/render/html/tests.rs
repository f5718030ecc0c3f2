use super::*;
use crate::report::figures::summarise;
use crate::store::{DayFacts, PaymentFact};
use chrono::NaiveDate;

const DAY: i64 = 86_400_000;

fn payment(token: &str, status: &str, amount: Option<i64>) -> PaymentFact {
    PaymentFact {
        token: token.into(),
        transaction_id: Some(format!("ORD-{token}")),
        request_id: None,
        status: status.into(),
        status_reason: None,
        expected_amount: Some(9000),
        amount,
        operator_name: Some("ORANGE BURKINA".into()),
        created_at: DAY,
        resolved_at: Some(DAY + 3_600_000),
        requeued: false,
        expected_as_written: None,
    }
}

fn page_of(resolved: Vec<PaymentFact>, generated_at: i64, language: Language) -> String {
    let facts = DayFacts {
        start: DAY,
        end: 2 * DAY,
        generated_at,
        resolved,
        ..DayFacts::default()
    };
    let date = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
    html(&summarise(&facts, date, chrono_tz::UTC), language)
}

/// Values from the shop and from LigdiCash that hold markup come out as text: no tag, no
/// attribute break-out, in any cell or attribute they land in.
#[test]
fn hostile_values_come_out_inert() {
    let mut p = payment("<script>alert(1)</script>", "mismatch", Some(1));
    p.transaction_id = Some("\"><img src=x onerror=alert(2)>".into());
    p.request_id = Some("'><svg onload=alert(3)>".into());
    p.operator_name = Some("<b>MOOV</b> & \"co\"".into());
    p.status_reason = Some("<iframe src=javascript:alert(4)>".into());
    let mut late = payment("ok", "completed", Some(1));
    late.operator_name = p.operator_name.clone();
    for language in [Language::French, Language::English] {
        let page = page_of(vec![p.clone(), late.clone()], 3 * DAY, language);
        for tag in ["<script", "<img", "<iframe", "<b>MOOV", "<svg onload"] {
            assert!(!page.contains(tag), "{tag} in {page}");
        }
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
        assert!(page.contains("&lt;b&gt;MOOV&lt;/b&gt; &amp; &quot;co&quot;"));
        assert!(page.contains("&lt;iframe src=javascript:alert(4)&gt;"));
    }
}

/// The page speaks its language: `<html lang>`, labels, status names, numbers and dates.
#[test]
fn each_language_has_its_words_numbers_and_dates() {
    let paid = vec![payment("a", "completed", Some(21_000))];
    let fr = page_of(paid.clone(), 3 * DAY, Language::French);
    assert!(fr.contains("<html lang=\"fr\">"));
    assert!(
        fr.contains(
            "Rapprochement LigdiCash — <time datetime=\"1970-01-02\">2 janvier 1970</time>"
        )
    );
    assert!(fr.contains("21\u{202f}000\u{a0}XOF"));
    assert!(fr.contains("réussi") && fr.contains("À traiter"));
    assert!(!fr.contains("Need a human") && !fr.contains("21,000"));
    let en = page_of(paid, 3 * DAY, Language::English);
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains(
        "LigdiCash reconciliation — <time datetime=\"1970-01-02\">2 January 1970</time>"
    ));
    assert!(en.contains("21,000\u{a0}XOF") && en.contains("Need a human"));
}

/// A timeout LigdiCash still calls pending shows what was expected and nothing paid: its
/// table has no "paid" column and its bar is captioned "expected".
#[test]
fn a_timeout_shows_no_money_paid() {
    let page = page_of(
        vec![payment("t", "timeout", Some(9000))],
        3 * DAY,
        Language::English,
    );
    assert!(page.contains("1 · expected 9,000\u{a0}XOF"), "{page}");
    assert!(!page.contains("paid 9,000"), "{page}");
    let timeouts = &page[page.find("Timeouts (1)").unwrap()..page.find("Invalid tokens").unwrap()];
    assert!(
        timeouts.contains("<th class=\"n\">Expected</th>"),
        "{timeouts}"
    );
    assert!(
        !timeouts.contains("<th class=\"n\">Paid</th>"),
        "{timeouts}"
    );
    let mismatches = &page[page.find("Mismatches (0)").unwrap()..];
    assert!(
        mismatches.contains("<th class=\"n\">Paid</th>"),
        "the completed list has one"
    );
    assert!(timeouts.contains("9,000"), "the expected amount is shown");
}

/// A page made before the day ends says it is partial and when it was made, and its
/// pending figure is "so far"; a finished day's page says neither.
#[test]
fn a_day_not_over_says_so() {
    let partial = page_of(vec![], DAY + 14 * 3_600_000 + 300_000, Language::English);
    assert!(
        partial.contains("Partial report: the day is not over. Generated 2 January 1970 at 14:05")
    );
    assert!(partial.contains("Pending so far") && !partial.contains("Pending at end of day"));
    let fr = page_of(vec![], DAY + 14 * 3_600_000 + 300_000, Language::French);
    assert!(fr.contains("Rapport partiel") && fr.contains("à 14:05") && fr.contains("à ce stade"));
    let whole = page_of(vec![], 3 * DAY, Language::English);
    assert!(!whole.contains("Partial") && whole.contains("Pending at end of day"));
}

/// Completed payments are listed, collapsed, each with its order and amount.
#[test]
fn completed_payments_are_listed_collapsed() {
    let page = page_of(
        vec![
            payment("a", "completed", Some(1500)),
            payment("b", "completed", Some(2500)),
        ],
        3 * DAY,
        Language::English,
    );
    let list = &page[page.find("<details>").unwrap()..page.find("</details>").unwrap()];
    assert!(
        list.contains("<summary>Completed payments (2)</summary>"),
        "{list}"
    );
    assert!(list.contains("ORD-a") && list.contains("ORD-b") && list.contains("2,500"));
    // Printed, it is open (scripts/check-report-html.sh prints the page in Chromium).
    let print = &page[page.find("@media print{").unwrap()..];
    assert!(
        print.contains("details::details-content{content-visibility:visible"),
        "{print}"
    );
}

/// The money-out section lists the payouts that need a human, escaped, with the net line,
/// in the page's language.
#[test]
fn the_money_out_section_escapes_and_lists_what_needs_a_human() {
    use crate::report::money_out;
    use crate::store::{PayoutFact, PayoutFacts};
    let payouts = PayoutFacts {
        resolved: vec![PayoutFact {
            token: "po-1".into(),
            kind: "payout".into(),
            status: "mismatch".into(),
            transaction_id: Some("<b>REF</b>".into()),
            expected_amount: Some(1000),
            amount: Some(900),
            created_at: DAY,
            resolved_at: Some(DAY + 60_000),
            ..PayoutFact::default()
        }],
        ..PayoutFacts::default()
    };
    let facts = DayFacts {
        start: DAY,
        end: 2 * DAY,
        generated_at: 3 * DAY,
        ..DayFacts::default()
    };
    let date = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
    let summary = summarise(&facts, date, chrono_tz::UTC).with_money_out(money_out::summarise(
        &payouts,
        2 * DAY,
        chrono_tz::UTC,
    ));
    let english = html(&summary, Language::English);
    assert!(
        english.contains("Payouts sent, to be checked (1)"),
        "{english}"
    );
    assert!(english.contains("Need a human (1)"), "{english}");
    assert!(english.contains("&lt;b&gt;REF&lt;/b&gt;"), "{english}");
    assert!(!english.contains("<b>REF"), "{english}");
    let french = html(&summary, Language::French);
    assert!(
        french.contains("<h2>Versements et retraits</h2>"),
        "{french}"
    );
    assert!(
        french.contains("Versements envoyés, à vérifier (1)"),
        "{french}"
    );
    assert!(french.contains("À traiter (1)"), "{french}");
    assert!(french.contains("Net (reçu − envoyé)"), "{french}");
    assert!(
        french.contains(
            "<td>Envoyé, à vérifier</td><td class=\"n\">1</td><td class=\"n\">900\u{a0}XOF</td>"
        ),
        "a payout mismatch counts as sent, at LigdiCash's amount: {french}"
    );
    let start = french.find("<h2>Versements et retraits").unwrap();
    let end = french.find("<h2>Fonctionnement").unwrap();
    assert!(
        !french[start..end].to_lowercase().contains("paiement"),
        "money out is never called 'paiement', the customers' word: {}",
        &french[start..end]
    );
}

/// The cases section lists every open case with how long it has waited, and the cases
/// closed during the day with the decision, who and the note, in the page's language.
#[test]
fn the_cases_section_shows_what_waits_and_what_was_decided() {
    use crate::payment::case::{CaseKind, Decision};
    use crate::payment::{Kind, Status};
    use crate::store::{CaseRecord, CaseRow};
    let case = |id, closing: Option<CaseRecord>| CaseRow {
        id,
        kind: CaseKind::Mismatch,
        since: DAY,
        opened_at: DAY,
        closed_at: closing.as_ref().map(|r| r.at),
        opened_on: Status::Mismatch,
        token: format!("tok-{id}"),
        payment_kind: Kind::Invoice,
        transaction_id: Some(format!("ORD-{id}")),
        status: Status::Mismatch,
        expected_amount: Some(5000),
        amount: Some(4000),
        closing,
    };
    let decided = CaseRecord {
        at: DAY + 7_200_000,
        decision: Some(Decision::Refunded),
        note: "refunded <b>all</b>".into(),
        by: "cli:awa".into(),
    };
    let facts = DayFacts {
        start: DAY,
        end: 2 * DAY,
        generated_at: 2 * DAY,
        ..DayFacts::default()
    };
    let date = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
    let mut summary = summarise(&facts, date, chrono_tz::UTC);
    let (open, closed) = ([case(1, None)], [case(2, Some(decided))]);
    summary.cases =
        crate::report::cases::summarise(&open, &closed, 3 * DAY + 3_600_000, chrono_tz::UTC);
    let fr = html(&summary, Language::French);
    assert!(
        fr.contains("Dossiers à traiter (1)") && fr.contains("2 j 1 h"),
        "{fr}"
    );
    assert!(
        fr.contains("Dossiers clos ce jour") && fr.contains("cli:awa") && fr.contains("refunded")
    );
    assert!(!fr.contains("<b>all</b>"));
    let en = html(&summary, Language::English);
    assert!(
        en.contains("Cases to handle (1)") && en.contains("2 d 1 h"),
        "{en}"
    );
    let json = crate::report::render::json(&summary);
    assert!(
        json.contains("\"cases\"") && json.contains("\"age_seconds\": 176400"),
        "{json}"
    );
}
