use super::*;

fn reply(status: u16, body: &str) -> Exchange {
    Exchange::Reply {
        status,
        retry_after: None,
        body: body.as_bytes().to_vec(),
    }
}

fn label(exchange: &Exchange) -> &'static str {
    classify(exchange).label()
}

#[test]
fn every_kind_of_answer_has_one_meaning() {
    let cases: &[(Exchange, &str)] = &[
        (
            reply(
                200,
                r#"{"response_code":"00","status":"completed","amount":5}"#,
            ),
            "completed",
        ),
        (
            reply(200, r#"{"response_code":"00","status":"notcompleted"}"#),
            "notcompleted",
        ),
        (
            reply(200, r#"{"response_code":"00","status":"pending"}"#),
            "pending",
        ),
        (
            reply(200, r#"{"response_code":"00","status":"refunded"}"#),
            "unknown_status",
        ),
        (
            reply(200, r#"{"response_code":"00","status":"nocompleted"}"#),
            "unknown_status",
        ),
        (
            reply(
                200,
                r#"{"response_code":"01","response_text":"Echec (Code00)"}"#,
            ),
            "auth_failed",
        ),
        (
            reply(
                200,
                r#"{"response_code":"01","response_text":"Echec (Code01)"}"#,
            ),
            "auth_failed",
        ),
        (
            reply(
                401,
                r#"{"response_code":"01","response_text":"Unauthorized"}"#,
            ),
            "auth_failed",
        ),
        (
            reply(
                200,
                r#"{"response_code":"01","response_text":"Echec (Code02)"}"#,
            ),
            "not_found",
        ),
        (
            reply(
                200,
                r#"{"response_code":"01","response_text":"Echec (Code03)"}"#,
            ),
            "api_error",
        ),
        (
            reply(200, r#"{"response_code":"01","response_text":""}"#),
            "api_error",
        ),
        (
            reply(200, r#"{"response_code":"02","status":"completed"}"#),
            "api_error",
        ),
        (reply(200, r#"{"response_code":"00"}"#), "malformed"),
        (reply(200, "<html>Bad gateway</html>"), "malformed"),
        (reply(200, ""), "malformed"),
        (reply(401, "unauthorized"), "auth_failed"),
        (reply(403, ""), "auth_failed"),
        (reply(404, "<html>not found</html>"), "http_4xx"),
        (reply(301, ""), "http_4xx"),
        (
            reply(
                400,
                r#"{"response_code":"01","response_text":"Echec (Code02)"}"#,
            ),
            "not_found",
        ),
        (reply(429, ""), "rate_limited"),
        (
            reply(500, r#"{"response_code":"00","status":"completed"}"#),
            "http_5xx",
        ),
        (reply(502, "<html>"), "http_5xx"),
        (reply(503, ""), "http_5xx"),
        (reply(504, "<html>Gateway Time-out</html>"), "http_5xx"),
        (Exchange::Failed(TransportError::Timeout), "timeout"),
        (
            Exchange::Failed(TransportError::Connect("refused".into())),
            "connect",
        ),
        (
            Exchange::Failed(TransportError::Other("reset".into())),
            "transport",
        ),
    ];
    for (exchange, expected) in cases {
        assert_eq!(label(exchange), *expected, "{exchange:?}");
    }
}

#[test]
fn retry_after_is_carried_for_429() {
    let exchange = Exchange::Reply {
        status: 429,
        retry_after: Some(Duration::from_secs(7)),
        body: vec![],
    };
    match classify(&exchange) {
        Classified::Transient { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sub_codes_follow_the_sdk_pattern() {
    assert_eq!(sub_code("Echec (Code00)").as_deref(), Some("00"));
    assert_eq!(sub_code("Echec (Code03a)").as_deref(), Some("03a"));
    assert_eq!(sub_code("echec (code123)").as_deref(), Some("123"));
    assert_eq!(sub_code("Echec (Code0)"), None);
    assert_eq!(sub_code("Echec"), None);
    assert_eq!(sub_code(""), None);
}

#[test]
fn unknown_status_keeps_the_answer_and_the_string() {
    let c = classify(&reply(200, r#"{"response_code":"00","status":"Refunded"}"#));
    match c {
        Classified::Pending { unknown_status, .. } => {
            assert_eq!(unknown_status.as_deref(), Some("refunded"))
        }
        other => panic!("{other:?}"),
    }
}

/// A call that got no usable answer keeps its error in the attempt log; an answer
/// keeps none, and is the only kind that carries the parsed body.
#[test]
fn failures_carry_their_error_and_answers_their_body() {
    let answer = ConfirmAnswer {
        status: Some("pending".into()),
        ..ConfirmAnswer::default()
    };
    let cases: [(Classified, Option<&str>, bool); 8] = [
        (Classified::Completed(answer.clone()), None, true),
        (Classified::NotCompleted(answer.clone()), None, true),
        (
            Classified::Pending {
                answer: answer.clone(),
                unknown_status: None,
            },
            None,
            true,
        ),
        (
            Classified::Pending {
                answer: answer.clone(),
                unknown_status: Some("refunded".into()),
            },
            None,
            true,
        ),
        (
            Classified::AuthFailed {
                detail: "HTTP 401".into(),
            },
            Some("HTTP 401"),
            false,
        ),
        (
            Classified::NotFound,
            Some("invoice not found (Code02)"),
            false,
        ),
        (
            Classified::Transient {
                class: ErrorClass::Http5xx,
                detail: "HTTP 503".into(),
                retry_after: None,
            },
            Some("HTTP 503"),
            false,
        ),
        (
            classify(&Exchange::Failed(TransportError::Timeout)),
            Some("request timed out"),
            false,
        ),
    ];
    for (c, failure, has_answer) in cases {
        assert_eq!(c.failure().as_deref(), failure, "{c:?}");
        let expected = has_answer.then_some(&answer);
        assert_eq!(c.answer(), expected, "{c:?}");
        assert_eq!(c.clone().into_answer().as_ref(), expected, "{c:?}");
    }
}

/// At a payout endpoint, `Code01` concerns that payout, never every payment; `Code00` and
/// `Code02` mean what they mean for invoices.
#[test]
fn code01_at_a_payout_endpoint_is_that_payout_s_error() {
    let reply = |text: &str| Exchange::Reply {
        status: 200,
        retry_after: None,
        body: format!(r#"{{"response_code":"01","response_text":"Echec ({text})"}}"#).into_bytes(),
    };
    for kind in [Kind::Withdrawal, Kind::Payout] {
        match classify_for(kind, &reply("Code01")) {
            Classified::Transient { class, detail, .. } => {
                assert_eq!(class, ErrorClass::ApiError);
                assert!(
                    detail.contains(kind.as_str()) && detail.contains("Code01"),
                    "{detail}"
                );
            }
            other => panic!("{kind}: {other:?}"),
        }
        assert!(matches!(
            classify_for(kind, &reply("Code00")),
            Classified::AuthFailed { .. }
        ));
        assert_eq!(classify_for(kind, &reply("Code02")), Classified::NotFound);
    }
    assert!(matches!(
        classify_for(Kind::Invoice, &reply("Code01")),
        Classified::AuthFailed { .. }
    ));
}
