use super::*;
use crate::payment::case::{CaseKind, Decision};
use crate::payment::{Kind, Status};
use crate::store::model::evidence::{
    AttemptRow, CallbackRow, DeliveryState, DeliveryTry, EventEvidence,
};
use crate::store::{CaseRecord, CaseRow, EventRow, PaymentRow};

const T: Millis = 1_750_000_000_000;

fn facts() -> EvidenceFacts {
    let payment = PaymentRow {
        id: 1,
        token: "tok-<script>".into(),
        transaction_id: Some("ORD 7/B".into()),
        expected_amount: Some(5000),
        status: "mismatch".into(),
        status_reason: Some("confirmed amount 4000 XOF differs from expected 5000 XOF".into()),
        attempts: 2,
        next_poll_at: None,
        last_confirm_at: Some(T + 3_000),
        created_at: T,
        updated_at: T + 3_100,
        resolved_at: Some(T + 3_100),
        last_error: None,
        provider_status: Some("completed".into()),
        amount: Some(4000),
        operator_id: None,
        operator_name: Some("Orange Money".into()),
        customer: Some("22670000000".into()),
        request_id: None,
        external_id: None,
        confirmed_transaction_id: None,
        oreference: None,
        provider_date: None,
        raw_response: Some(r#"{"response_code":"00","status":"completed","amount":"4000"}"#.into()),
        kind: "invoice".into(),
        overdue_at: None,
        bad_columns: Vec::new(),
    };
    let attempt = |at, status: &str| AttemptRow {
        at,
        latency_ms: 40,
        http_status: Some(200),
        response_code: Some("00".into()),
        provider_status: Some(status.into()),
        outcome: status.into(),
        error: None,
        answer: Some(format!(
            r#"{{"response_code":"00","status":"{status}","x":"<i>"}}"#
        )),
    };
    let event = EventRow {
        seq: 1,
        id: "evt_1".into(),
        kind: "payment.mismatch".into(),
        payment_token: Some("tok-<script>".into()),
        payload: r#"{"type":"payment.mismatch"}"#.into(),
        created_at: T + 3_100,
        state: "delivered".into(),
        attempts: 2,
        next_attempt_at: None,
        last_error: None,
        delivered_at: Some(T + 9_000),
    };
    let case = CaseRow {
        id: 3,
        kind: CaseKind::Mismatch,
        since: T + 3_100,
        opened_at: T + 4_000,
        closed_at: Some(T + 60_000),
        opened_on: Status::Mismatch,
        token: "tok-<script>".into(),
        payment_kind: Kind::Invoice,
        transaction_id: Some("ORD 7/B".into()),
        status: Status::Mismatch,
        expected_amount: Some(5000),
        amount: Some(4000),
        closing: Some(CaseRecord {
            at: T + 60_000,
            decision: Some(Decision::Refunded),
            note: "refunded <b>4000</b>".into(),
            by: "api:accounting".into(),
        }),
    };
    EvidenceFacts {
        payment,
        attempts: vec![
            attempt(T + 1_000, "pending"),
            attempt(T + 3_000, "completed"),
        ],
        callbacks: vec![CallbackRow {
            received_at: T + 2_000,
            content_type: "application/json".into(),
            source: Some("203.0.113.66".into()),
            body: r#"{"status":"completed","note":"</pre><script>alert(1)</script>"}"#.into(),
            matched_by: Some("transaction_id".into()),
            said_status: Some("completed".into()),
        }],
        events: vec![EventEvidence {
            event,
            deliveries: vec![DeliveryState {
                sink: "webhook:shop".into(),
                state: "delivered".into(),
                attempts: 2,
                last_error: Some("webhook answered HTTP 503".into()),
                delivered_at: Some(T + 9_000),
            }],
            tries: vec![
                DeliveryTry {
                    sink: "webhook:shop".into(),
                    at: T + 3_200,
                    result: "retry".into(),
                    error: Some("webhook answered HTTP 503".into()),
                },
                DeliveryTry {
                    sink: "webhook:shop".into(),
                    at: T + 9_000,
                    result: "delivered".into(),
                    error: None,
                },
            ],
        }],
        cases: vec![case],
    }
}

fn context(language: Language) -> Context {
    Context {
        generated_at: T + 100_000,
        base_url: "https://app.ligdicash.com".into(),
        language,
        zone: chrono_tz::Africa::Ouagadougou,
    }
}

#[test]
fn the_json_is_hashed_as_written_and_holds_every_step_in_order() {
    let f = facts();
    let file = build(&f, &context(Language::French));
    assert_eq!(file.sha256, hex(&Sha256::digest(file.json.as_bytes())));
    assert_eq!(file.sha256.len(), 64);
    let doc: Value = serde_json::from_str(&file.json).unwrap();
    let steps: Vec<&str> = doc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "created",
            "confirm",
            "callback",
            "confirm",
            "final_status",
            "event",
            "delivery",
            "case_opened",
            "delivery",
            "case_closed"
        ]
    );
    assert_eq!(doc["confirm_calls"][0]["endpoint"], CONFIRM_PATH);
    let answers: Vec<&str> = doc["confirm_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["answer_as_received"].as_str().unwrap())
        .collect();
    let attempts: Vec<&str> = f
        .attempts
        .iter()
        .flat_map(|a| a.answer.as_deref())
        .collect();
    assert_eq!(answers, attempts, "each call's own answer, in order");
    assert_eq!(doc["callbacks"][0]["source"], "203.0.113.66");
    assert_eq!(
        doc["events"][0]["payload"], r#"{"type":"payment.mismatch"}"#,
        "as sent"
    );
    assert_eq!(doc["events"][0]["tries"][0]["result"], "retry");
    assert_eq!(doc["cases"][0]["decision"], "refunded");
    assert_eq!(
        doc["last_answer_as_received"],
        f.payment.raw_response.clone().unwrap()
    );
    assert_eq!(doc["evidence"]["format"], FORMAT);
    let again = build(&f, &context(Language::English));
    assert_eq!(
        again.json, file.json,
        "the language changes the page, not the record"
    );
}

#[test]
fn the_page_is_in_its_language_shows_the_hash_and_escapes_what_it_was_given() {
    let f = facts();
    for (language, title, by_itself) in [
        (
            Language::French,
            "Dossier de preuve du paiement ORD 7/B",
            "Chronologie",
        ),
        (
            Language::English,
            "Evidence file of the payment ORD 7/B",
            "Timeline",
        ),
    ] {
        let file = build(&f, &context(language));
        let html = &file.html;
        assert!(
            html.contains(&format!("<html lang=\"{}\">", language.tag())),
            "{html}"
        );
        assert!(html.contains(title) && html.contains(by_itself), "{html}");
        assert!(html.contains(&file.sha256));
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        assert!(!html.contains("<b>4000</b>"));
        // Each call's answer as received, escaped.
        for status in ["pending", "completed"] {
            let shown = format!(
                r#"<pre class="answer">{{&quot;response_code&quot;:&quot;00&quot;,&quot;status&quot;:&quot;{status}&quot;,&quot;x&quot;:&quot;&lt;i&gt;&quot;}}</pre>"#
            );
            assert!(html.contains(&shown), "{status} in {html}");
        }
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "self-contained"
        );
        // Ouagadougou is UTC: the first step at T, to the millisecond.
        assert!(html.contains("2025-06-15 15:06:40.000"), "{html}");
    }
}

#[test]
fn the_file_name_keeps_only_safe_characters() {
    assert_eq!(file_stem(&facts()), "evidence-ORD_7_B-_script_");
    assert_eq!(endpoint("payout"), PAYOUT_CONFIRM_PATH);
    assert_eq!(endpoint("withdrawal"), WITHDRAWAL_CONFIRM_PATH);
}
