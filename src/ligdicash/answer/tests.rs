use super::*;

const DOCS_EXAMPLE: &str = r#"{"response_code":"00","token":"","response_text":"","description":"",
  "custom_data":[{"keyof_customdata":"transaction_id","valueof_customdata":"BPBF-1776251968907","datecreation_customdata":"2026-04-15 11:19:28.977757"},
  {"keyof_customdata":"logfile","valueof_customdata":"2026041511192869df7440ed917","datecreation_customdata":"2026-04-15 11:19:28.977757"}],
  "status":"completed","operator_id":"14","operator_name":"MOOV CI","customer":"2250171584035",
  "wiki":"https://client.ligdicash.com/wiki/confirmInvoice","montant":100,"amount":100,
  "date":"2026-04-15 11:19:28+00","external_id":"BPBF-1776251968907","oreference":"",
  "customer_details":{"firstname":"C","lastname":"O","email":"c@example.com","phone":"2250171584035","details":""},
  "request_id":"P2771491712026"}"#;

#[test]
fn parses_the_documented_confirm_response() {
    let a = ConfirmAnswer::parse(DOCS_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(a.response_code.as_deref(), Some("00"));
    assert_eq!(a.status.as_deref(), Some("completed"));
    assert_eq!(a.amount, Some(100));
    assert_eq!(a.amount_problem, None);
    assert_eq!(a.operator_id.as_deref(), Some("14"));
    assert_eq!(a.operator_name.as_deref(), Some("MOOV CI"));
    assert_eq!(a.customer.as_deref(), Some("2250171584035"));
    assert_eq!(a.request_id.as_deref(), Some("P2771491712026"));
    assert_eq!(
        a.custom_transaction_id.as_deref(),
        Some("BPBF-1776251968907")
    );
    assert_eq!(a.oreference, None, "empty strings are absent");
    assert_eq!(a.date.as_deref(), Some("2026-04-15 11:19:28+00"));
}

#[test]
fn parses_the_payout_shapes_strings_for_amounts_integer_operator() {
    let body = r#"{"response_code":"00","token":"eyJ...","response_text":"","status":"completed",
        "custom_data":[],"operator_id":12,"operator_name":"MOOV AFRICA BURKINA",
        "transaction_id":"502d36","external_id":"502d36","montant":"100","amount":"100"}"#;
    let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
    assert_eq!(a.amount, Some(100));
    assert_eq!(a.operator_id.as_deref(), Some("12"));
    assert_eq!(a.custom_transaction_id, None);
}

#[test]
fn tolerates_every_custom_data_shape() {
    let cases = [
        (r#""custom_data":[]"#, None),
        (r#""custom_data":"""#, None),
        (r#""custom_data":null"#, None),
        (r#""custom_data":{"transaction_id":"T1"}"#, Some("T1")),
        (r#""custom_data":"{\"transaction_id\":\"T2\"}""#, Some("T2")),
        (
            r#""custom_data":"[{\"keyof_customdata\":\"transaction_id\",\"valueof_customdata\":\"T3\"}]""#,
            Some("T3"),
        ),
        (
            r#""custom_data":[{"keyof_customdata":"logfile"},42,"x"]"#,
            None,
        ),
        (r#""custom_data":"\"nested string\"""#, None),
    ];
    for (fragment, expected) in cases {
        let body = format!(r#"{{"response_code":"00","status":"pending",{fragment}}}"#);
        let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
        assert_eq!(a.custom_transaction_id.as_deref(), expected, "{fragment}");
    }
}

#[test]
fn amounts_in_every_form_and_conflicts() {
    let cases = [
        (r#""amount":100"#, Some(100)),
        (r#""amount":"100""#, Some(100)),
        (r#""amount":100.0"#, Some(100)),
        (r#""amount":" 250 ""#, Some(250)),
        (r#""amount":100.5"#, None),
        (r#""amount":"abc""#, None),
        (r#""amount":null,"montant":"42""#, Some(42)),
        (r#""amount":[1]"#, None),
    ];
    for (fragment, expected) in cases {
        let body = format!(r#"{{{fragment}}}"#);
        let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
        assert_eq!(a.amount, expected, "{fragment}");
    }
    let a = ConfirmAnswer::parse(br#"{"amount":100,"montant":"90"}"#).unwrap();
    assert_eq!(a.amount, None, "two amounts that disagree give none");
    assert_eq!(
        a.amount_problem,
        Some(AmountProblem::Disagree {
            amount: 100,
            montant: 90
        })
    );
}

#[test]
fn customer_null_and_status_case_are_normalised() {
    let a = ConfirmAnswer::parse(br#"{"status":" Pending ","customer":null}"#).unwrap();
    assert_eq!(a.status.as_deref(), Some("pending"));
    assert_eq!(a.customer, None);
}

#[test]
fn the_last_of_duplicate_keys_wins() {
    let a =
        ConfirmAnswer::parse(br#"{"status":"pending","amount":5,"status":"completed"}"#).unwrap();
    assert_eq!(a.status.as_deref(), Some("completed"));
    assert_eq!(a.amount, Some(5));
}

#[test]
fn non_objects_are_errors_not_panics() {
    assert_eq!(ConfirmAnswer::parse(b""), Err(AnswerError::Empty));
    assert_eq!(ConfirmAnswer::parse(b"  \n"), Err(AnswerError::Empty));
    assert!(matches!(
        ConfirmAnswer::parse(b"<html>502 Bad Gateway</html>"),
        Err(AnswerError::NotJson(_))
    ));
    assert_eq!(ConfirmAnswer::parse(b"[1,2]"), Err(AnswerError::NotObject));
    assert_eq!(ConfirmAnswer::parse(b"\"x\""), Err(AnswerError::NotObject));
}

/// serde_json stops at 128 levels: 120,000 levels, at the top, in a field or inside
/// `custom_data`'s JSON string, are an error, not a stack overflow.
#[test]
fn deeply_nested_bodies_are_errors_not_stack_overflows() {
    let deep = format!("{}{}", "[".repeat(120_000), "]".repeat(120_000));
    for body in [
        deep.clone(),
        format!(r#"{{"status":"completed","customer_details":{deep}}}"#),
        format!(r#"{{"status":"completed","custom_data":[{deep}]}}"#),
    ] {
        match ConfirmAnswer::parse(body.as_bytes()) {
            Err(AnswerError::NotJson(e)) => assert!(e.contains("recursion limit"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
    let inner = Value::String(deep).to_string();
    let body = format!(r#"{{"status":"completed","custom_data":{inner}}}"#);
    let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
    assert_eq!(a.status.as_deref(), Some("completed"));
    assert_eq!(a.custom_transaction_id, None);
}

#[test]
fn bodies_over_the_limit_are_refused_before_parsing() {
    let padding = "x".repeat(MAX_BODY_BYTES - 100);
    let body = format!(r#"{{"status":"completed","wiki":"{padding}"}}"#);
    assert!(body.len() <= MAX_BODY_BYTES);
    let a = ConfirmAnswer::parse(body.as_bytes()).unwrap();
    assert_eq!(a.status.as_deref(), Some("completed"));

    let huge = vec![b' '; 50 * 1024 * 1024];
    assert_eq!(
        ConfirmAnswer::parse(&huge),
        Err(AnswerError::TooLarge(50 * 1024 * 1024))
    );
}
