use super::*;
use crate::store::{PaymentFact, PayoutFact};

/// 2026-12-07T17:04:01Z: 17:04:01 in Ouagadougou (UTC all year).
const AT: Millis = 1_796_663_041_000;

fn day() -> DayFacts {
    DayFacts {
        resolved: vec![PaymentFact {
            token: "tok-short".into(),
            transaction_id: Some("ORD-1; urgent".into()),
            request_id: Some("P123".into()),
            status: "mismatch".into(),
            status_reason: Some("confirmed amount 4000 XOF differs from expected 5000 XOF".into()),
            expected_amount: Some(5000),
            amount: Some(4000),
            operator_name: Some("ORANGE BURKINA".into()),
            created_at: AT - 60_000,
            resolved_at: Some(AT),
            ..PaymentFact::default()
        }],
        pending_at_end: vec![PaymentFact {
            token: "tok-bad".into(),
            status: "pending".into(),
            expected_as_written: Some("5 000".into()),
            amount: Some(5000),
            created_at: AT,
            ..PaymentFact::default()
        }],
        ..DayFacts::default()
    }
}

fn payouts() -> PayoutFacts {
    PayoutFacts {
        resolved: vec![PayoutFact {
            token: "po-1".into(),
            kind: "withdrawal".into(),
            transaction_id: Some("=HYPERLINK(1)".into()),
            status: "mismatch".into(),
            expected_amount: Some(3000),
            amount: Some(2700),
            created_at: AT,
            resolved_at: Some(AT + 1000),
            ..PayoutFact::default()
        }],
        ..PayoutFacts::default()
    }
}

fn tz() -> Tz {
    "Africa/Ouagadougou".parse().unwrap()
}

#[test]
fn french_is_for_french_spreadsheets() {
    let csv = csv(&day(), &payouts(), tz(), Language::French);
    assert!(csv.starts_with('\u{feff}'), "a byte order mark");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(
        lines[0],
        "Sens;Type;Jeton;Commande;Référence LigdiCash;Statut;Opérateur;Attendu (XOF);\
         Payé ou envoyé (XOF);Créé le;Résolu le;Motif"
    );
    assert_eq!(
        lines[1],
        "entrée;facture;tok-short;\"ORD-1; urgent\";P123;écart;ORANGE BURKINA;5000;4000;\
         07/12/2026 17:03:01;07/12/2026 17:04:01;montant confirmé 4\u{202f}000\u{a0}XOF \
         différent du montant attendu 5\u{202f}000\u{a0}XOF"
    );
    assert_eq!(
        lines[2],
        "entrée;facture;tok-bad;;;en attente;;;;07/12/2026 17:04:01;;\
         montant attendu écrit «\u{a0}5 000\u{a0}», pas un nombre entier de XOF",
        "no amount paid on a pending payment, and the amount as the shop wrote it"
    );
    assert_eq!(
        lines[3],
        "sortie;retrait;po-1;'=HYPERLINK(1);;écart;;3000;2700;07/12/2026 17:04:01;\
         07/12/2026 17:04:02;"
    );
    assert_eq!(lines[4], "", "every line ends with CRLF");
    assert_eq!(lines.len(), 5);
}

#[test]
fn english_keeps_commas_and_the_stored_keys() {
    let csv = csv(&day(), &payouts(), tz(), Language::English);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "direction,kind,token,transaction_id,request_id,status,operator,expected_xof,\
         paid_xof,created_at,resolved_at,reason"
    );
    assert_eq!(
        lines[1],
        "in,invoice,tok-short,ORD-1; urgent,P123,mismatch,ORANGE BURKINA,5000,4000,\
         2026-12-07 17:03:01,2026-12-07 17:04:01,\
         confirmed amount 4000 XOF differs from expected 5000 XOF"
    );
    assert_eq!(
        lines[2],
        r#"in,invoice,tok-bad,,,pending,,,,2026-12-07 17:04:01,,"expected_amount written as ""5 000"", not a whole number of XOF""#,
    );
    assert!(lines[3].starts_with("out,withdrawal,po-1,'=HYPERLINK(1),,mismatch,,3000,2700,"));
}

#[test]
fn fields_are_quoted_on_the_dialect_s_separator_and_formulas_defused() {
    let (fr, en) = (
        Dialect::of(Language::French),
        Dialect::of(Language::English),
    );
    assert_eq!(en.field("plain"), "plain");
    assert_eq!(en.field("a,b"), "\"a,b\"");
    assert_eq!(fr.field("a,b"), "a,b");
    assert_eq!(fr.field("a;b"), "\"a;b\"");
    assert_eq!(en.field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(en.field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    assert_eq!(en.field("\t=1+1"), "'\t=1+1");
    assert_eq!(en.field("\r=1+1"), "\"'\r=1+1\"");
}
