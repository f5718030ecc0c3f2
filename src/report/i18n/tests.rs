use super::*;
use crate::confirm::verify::verify;
use crate::ligdicash::ConfirmAnswer;
use crate::payment::DuePayment;

const FR: Language = Language::French;
const EN: Language = Language::English;

#[test]
fn numbers_are_grouped_by_thousands_in_each_language() {
    assert_eq!(number(21_000, FR), "21\u{202f}000");
    assert_eq!(number(1_250_000, FR), "1\u{202f}250\u{202f}000");
    assert_eq!(number(1_250_000, EN), "1,250,000");
    assert_eq!(number(999, FR), "999");
    assert_eq!(number(0, EN), "0");
    assert_eq!(number(-4_500, EN), "-4,500");
    assert_eq!(xof(21_000, FR), "21\u{202f}000\u{a0}XOF");
    assert_eq!(xof(500, EN), "500\u{a0}XOF");
    assert_eq!(decimal(2.54, FR), "2,5");
    assert_eq!(decimal(2.54, EN), "2.5");
    assert_eq!(decimal(3600.0, FR), "3\u{202f}600,0");
    assert_eq!(decimal(-0.25, EN), "-0.3");
}

#[test]
fn dates_are_written_in_words() {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    assert_eq!(date(d(2026, 12, 2), FR), "2 décembre 2026");
    assert_eq!(date(d(2026, 12, 1), FR), "1er décembre 2026");
    assert_eq!(date(d(2026, 8, 15), FR), "15 août 2026");
    assert_eq!(date(d(2026, 12, 2), EN), "2 December 2026");
    assert_eq!(date(d(2026, 1, 1), EN), "1 January 2026");
    let ouaga: Tz = "Africa/Ouagadougou".parse().unwrap();
    let t = DateTime::parse_from_rfc3339("2026-12-02T14:05:09Z")
        .unwrap()
        .with_timezone(&ouaga);
    assert_eq!(date_time(&t, FR), "2 décembre 2026 à 14:05");
    assert_eq!(date_time(&t, EN), "2 December 2026 at 14:05");
}

#[test]
fn statuses_are_named_in_each_language_and_unknown_ones_kept() {
    assert_eq!(status("notcompleted", FR), "non abouti");
    assert_eq!(status("notcompleted", EN), "not completed");
    assert_eq!(status("timeout", FR), "délai dépassé");
    assert_eq!(status("refunded", FR), "refunded");
}

/// The reasons `confirm::verify` gives today, each rendered in French with no English
/// sentence left: a reworded producer fails here rather than in an accountant's report.
#[test]
fn every_reason_verify_gives_reads_in_french() {
    let due = DuePayment {
        token: "tok".into(),
        transaction_id: Some("ORD-1".into()),
        expected_amount: Some(5000),
        ..DuePayment::default()
    };
    let bodies = [
        r#""amount":4000,"montant":4000"#,
        r#""transaction_id":"ORD-1""#,
        r#""amount":5000,"montant":4000"#,
        r#""amount":"5000.4","montant":"5000.4""#,
        r#""amount":"abc""#,
        r#""amount":5000,"custom_data":{"transaction_id":"ORD-2"}"#,
        r#""amount":5000,"external_id":"ORD-9;X""#,
    ];
    for fields in bodies {
        let body = format!(r#"{{"response_code":"00","status":"completed",{fields}}}"#);
        let answer = ConfirmAnswer::parse(body.as_bytes()).unwrap();
        let english = verify(&due, &answer).unwrap_err();
        for text in [english.clone(), format!("late: {english}")] {
            let french = reason(&text, FR);
            for word in [
                "confirmed",
                "expected",
                "differs",
                "missing",
                "disagree",
                "late:",
            ] {
                assert!(!french.contains(word), "{text:?} -> {french:?}");
            }
            assert_eq!(reason(&text, EN), text);
        }
    }
}

#[test]
fn the_reconciler_s_other_reasons_read_in_french() {
    for (english, french) in [
        (
            "still pending at LigdiCash after 3d",
            "toujours en attente chez LigdiCash après 3\u{a0}j",
        ),
        (
            "still pending at LigdiCash after 90m; unknown status \"held\" treated as pending",
            "toujours en attente chez LigdiCash après 90\u{a0}min\u{a0}; statut inconnu \"held\" \
             traité comme en attente",
        ),
        (
            "LigdiCash answered invoice not found (Code02) 3 times in a row",
            "LigdiCash a répondu «\u{a0}facture introuvable\u{a0}» (Code02) 3 fois de suite",
        ),
        (
            "confirmed amount 4000 XOF differs from expected 12000 XOF",
            "montant confirmé 4\u{202f}000\u{a0}XOF différent du montant attendu \
             12\u{202f}000\u{a0}XOF",
        ),
        (
            "re-check: LigdiCash says notcompleted",
            "revérification\u{a0}: LigdiCash répond non abouti",
        ),
        (
            "requeued from timeout",
            "remis en attente depuis «\u{a0}délai dépassé\u{a0}»",
        ),
        (
            "completed after notcompleted",
            "payé après «\u{a0}non abouti\u{a0}»",
        ),
        (
            "late: confirmed amount missing; completed after invalid_token",
            "tardif\u{a0}: montant confirmé absent\u{a0}; payé après «\u{a0}jeton invalide\u{a0}»",
        ),
        (
            "a callback said completed, LigdiCash says notcompleted",
            "un rappel a annoncé «\u{a0}réussi\u{a0}», LigdiCash confirme «\u{a0}non abouti\u{a0}»",
        ),
    ] {
        assert_eq!(reason(english, FR), french);
    }
}

/// A reason no template knows is kept whole, in English, even when a quoted value holds
/// the `; ` that separates parts.
#[test]
fn an_unknown_reason_is_kept_as_it_is() {
    for text in [
        "set aside by hand",
        "confirmed transaction_id \"A; B\" differs from enqueued \"C\"",
        "",
    ] {
        assert_eq!(reason(text, FR).replace("\u{a0}; ", "; "), text, "{text:?}");
    }
}
