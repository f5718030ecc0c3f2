use super::*;
use crate::config::email::EmailConfig;
use mail_parser::{MessageParser, MimeHeaders, PartType};

fn recipients(cc: &[&str]) -> Recipients {
    EmailConfig {
        url: "smtps://mail.shop.bf".into(),
        user: None,
        password_file: None,
        from: "Boutique Wend-Kuuni <rapports@shop.bf>".into(),
        to: vec!["compta@cabinet.bf".into(), "Awa <awa@cabinet.bf>".into()],
        cc: cc.iter().map(|c| c.to_string()).collect(),
        attach_json: false,
        ca_file: None,
    }
    .recipients()
    .unwrap()
}

/// The `data` of docs/events.md's example.
fn headline() -> Headline {
    Headline::from_data(&serde_json::json!({
        "date": "2026-12-02", "version": 2,
        "received": {"count": 164, "xof": 899000},
        "completed": {"count": 154, "xof": 860500},
        "held_for_review": {"count": 10, "xof": 38500},
        "paid_out_xof": 15000, "net_xof": 884000, "payouts_needing_a_human": 1,
        "by_status": [], "discrepancies": 23, "pending_at_end": 2,
        "files": ["/r/2026-12-02.json", "/r/2026-12-02.csv", "/r/2026-12-02.html"]
    }))
    .unwrap()
}

fn files(json: bool) -> Files {
    let file = |name: &str, text: &str| File {
        name: name.into(),
        bytes: text.as_bytes().to_vec(),
    };
    Files {
        html: "<!doctype html><html lang=\"fr\"><p>Reçu chez LigdiCash</p></html>".into(),
        csv: file("2026-12-02.csv", "jeton,commande\nt-1,ORD-1\n"),
        json: json.then(|| file("2026-12-02.json", "{\"version\":2}")),
    }
}

/// The MIME tree: `multipart/mixed[multipart/alternative[text/plain,text/html],text/csv]`.
fn shape(m: &mail_parser::Message<'_>, id: usize) -> String {
    let part = &m.parts[id];
    let kind = part.content_type().map_or("?/?".to_owned(), |c| {
        format!("{}/{}", c.ctype(), c.subtype().unwrap_or("?"))
    });
    match &part.body {
        PartType::Multipart(ids) => {
            let inner: Vec<String> = ids.iter().map(|i| shape(m, *i as usize)).collect();
            format!("{kind}[{}]", inner.join(","))
        }
        _ => kind,
    }
}

fn built(language: Language, json: bool, sending: Sending) -> Vec<u8> {
    build(
        &headline(),
        files(json),
        &recipients(&["gerant@shop.bf"]),
        language,
        sending,
    )
    .unwrap()
    .formatted()
}

#[test]
fn the_message_is_the_summary_and_the_page_with_the_csv_attached() {
    let raw = built(Language::French, false, Sending::Scheduled);
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        shape(&m, 0),
        "multipart/mixed[multipart/alternative[text/plain,text/html],text/csv]"
    );
    let html = m.body_html(0).unwrap();
    assert!(html.contains("Reçu chez LigdiCash"), "{html}");
    let text = m.body_text(0).unwrap();
    assert!(
        text.contains("Reçu chez LigdiCash\u{a0}: 899\u{202f}000\u{a0}XOF (164 paiements)"),
        "{text}"
    );
    assert!(
        text.contains("À traiter\u{a0}: 24 (23 paiements, 1 versement ou retrait)"),
        "{text}"
    );
    assert!(text.contains("le fichier CSV est joint."), "{text}");
    let csv = m.attachment(0).unwrap();
    assert_eq!(csv.attachment_name(), Some("2026-12-02.csv"));
    assert_eq!(csv.contents(), b"jeton,commande\nt-1,ORD-1\n");
    assert_eq!(m.attachment_count(), 1);
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.unwrap()
            .iter()
            .filter_map(|a| a.address().map(str::to_owned))
            .collect()
    };
    assert_eq!(addresses(m.from()), ["rapports@shop.bf"]);
    assert_eq!(addresses(m.to()), ["compta@cabinet.bf", "awa@cabinet.bf"]);
    assert_eq!(addresses(m.cc()), ["gerant@shop.bf"]);
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
}

#[test]
fn the_json_is_attached_when_asked() {
    let raw = built(Language::English, true, Sending::Scheduled);
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        shape(&m, 0),
        "multipart/mixed[multipart/alternative[text/plain,text/html],text/csv,application/json]"
    );
    assert_eq!(
        m.attachment(1).unwrap().attachment_name(),
        Some("2026-12-02.json")
    );
    let text = m.body_text(0).unwrap();
    assert!(
        text.contains("the CSV and JSON files are attached."),
        "{text}"
    );
}

/// The subject carries the day and its figures in the report's language.
#[test]
fn the_subject_names_the_day_and_its_figures_in_each_language() {
    let subject = |language| {
        let raw = built(language, false, Sending::Scheduled);
        MessageParser::default()
            .parse(&raw)
            .unwrap()
            .subject()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        subject(Language::French),
        "Rapprochement LigdiCash du 2 décembre 2026\u{a0}: reçu 899\u{202f}000\u{a0}XOF, \
         net 884\u{202f}000\u{a0}XOF, à traiter\u{a0}: 24"
    );
    assert_eq!(
        subject(Language::English),
        "LigdiCash reconciliation, 2 December 2026: received 899,000\u{a0}XOF, \
         net 884,000\u{a0}XOF, need a human: 24"
    );
    let h = Headline {
        date: "2026-12-01".parse().unwrap(),
        ..headline()
    };
    assert!(words::subject(&h, Language::French).contains(" du 1er décembre 2026"));
    let text = words::body(&h, Language::English, false, false);
    for line in [
        "LigdiCash reconciliation, 1 December 2026",
        "Received at LigdiCash: 899,000\u{a0}XOF (164 payments)",
        "of which held for review: 38,500\u{a0}XOF (10 payments)",
        "Sent (payouts and withdrawals): 15,000\u{a0}XOF",
        "Net (received − sent): 884,000\u{a0}XOF",
        "Need a human: 24 (23 payments, 1 payout)",
        "Pending at end of day: 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?}\n{text}");
    }
}

/// French counts 0 and 1 in the singular, English only 1.
#[test]
fn counted_words_agree_with_their_number_in_each_language() {
    let h = Headline {
        held_for_review: CountXof {
            count: 1,
            xof: 4000,
        },
        payouts_needing_a_human: 0,
        ..headline()
    };
    let fr = words::body(&h, Language::French, false, false);
    assert!(
        fr.contains("\u{a0}: 4\u{202f}000\u{a0}XOF (1 paiement)"),
        "{fr}"
    );
    assert!(
        fr.contains("(23 paiements, 0 versement ou retrait)"),
        "{fr}"
    );
    let en = words::body(&h, Language::English, false, false);
    assert!(en.contains(": 4,000\u{a0}XOF (1 payment)"), "{en}");
    assert!(en.contains("(23 payments, 0 payouts)"), "{en}");
}

/// Every attempt for a day carries the day's id; a resend by hand has its own and refers
/// to the day's.
#[test]
fn the_message_id_is_the_days_and_a_resend_refers_to_it() {
    let id = day_message_id(headline().date, &recipients(&[]));
    assert!(
        id.starts_with("<report-2026-12-02.") && id.ends_with("@shop.bf>"),
        "{id}"
    );
    assert_eq!(
        id.len(),
        "<report-2026-12-02.12345678@shop.bf>".len(),
        "{id}"
    );
    let bare = id.trim_matches(['<', '>']);
    let scheduled = |raw: &[u8]| {
        let m = MessageParser::default().parse(raw).unwrap();
        m.message_id().map(str::to_owned)
    };
    let first = built(Language::French, false, Sending::Scheduled);
    let again = built(Language::French, false, Sending::Scheduled);
    assert_eq!(scheduled(&first).as_deref(), Some(bare));
    assert_eq!(scheduled(&again).as_deref(), Some(bare));
    // Another shop (another sender) mailing the same accountant: another thread.
    let mut other = recipients(&[]);
    other.from = "rapports@autre.bf".parse().unwrap();
    assert_ne!(
        day_message_id(headline().date, &other).split('@').next(),
        id.split('@').next()
    );

    let raw = built(
        Language::French,
        false,
        Sending::OnRequest {
            at_ms: 1_765_000_000_000,
        },
    );
    let m = MessageParser::default().parse(&raw).unwrap();
    let resent = m.message_id().unwrap();
    assert_ne!(resent, bare);
    assert!(
        resent.contains(".on-request-1765000000000@shop.bf"),
        "{resent}"
    );
    assert_eq!(m.in_reply_to().as_text(), Some(bare));
    assert_eq!(m.references().as_text(), Some(bare));
    assert!(
        m.body_text(0)
            .unwrap()
            .starts_with("Envoyé à la demande (report --send).")
    );
}

#[test]
fn unusable_event_data_is_named() {
    let err = Headline::from_data(&serde_json::json!({"date": "2026-12-02"})).unwrap_err();
    assert!(err.contains("missing field"), "{err}");
    let mut data = serde_json::json!({
        "date": "02/12/2026", "received": {"count": 0, "xof": 0},
        "held_for_review": {"count": 0, "xof": 0}, "paid_out_xof": 0, "net_xof": 0,
        "discrepancies": 0, "payouts_needing_a_human": 0, "pending_at_end": 0, "files": []
    });
    let err = Headline::from_data(&data).unwrap_err();
    assert!(err.contains("\"02/12/2026\" is not YYYY-MM-DD"), "{err}");
    data["date"] = "2026-12-02".into();
    assert_eq!(Headline::from_data(&data).unwrap().files.len(), 0);
}
