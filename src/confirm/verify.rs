//! Pure: does a `completed` answer match what the shop enqueued? One function, used by the
//! poller and the nightly re-check alike, so a rule about money has one path.

use crate::ligdicash::ConfirmAnswer;
use crate::payment::{DuePayment, Kind};

/// Checks a `completed` answer against what the shop enqueued. `Err` carries the reason
/// stored with the `mismatch` status.
///
/// An amount LigdiCash's answer does not state unambiguously (`amount` and `montant`
/// disagree, or one is not a whole number: see [`crate::ligdicash::amount`]) is a mismatch
/// even when the shop gave no expected amount: we cannot say what was paid.
pub fn verify(p: &DuePayment, a: &ConfirmAnswer) -> Result<(), String> {
    if let Some(problem) = &a.amount_problem {
        return Err(match p.expected_amount {
            Some(expected) => format!("{problem}; expected {expected} XOF"),
            None => problem.to_string(),
        });
    }
    if let Some(expected) = p.expected_amount {
        match a.amount {
            None => return Err(format!("confirmed amount missing; expected {expected} XOF")),
            Some(got) if got != expected => {
                return Err(format!(
                    "confirmed amount {got} XOF differs from expected {expected} XOF"
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(ours) = p.transaction_id.as_deref() {
        // Every reference LigdiCash reports must name our order; external_id joins the
        // values of all custom_data keys containing "id" with ';'.
        if let Some(theirs) = a.custom_transaction_id.as_deref()
            && theirs != ours
        {
            return Err(format!(
                "confirmed transaction_id {theirs:?} differs from enqueued {ours:?}"
            ));
        }
        // Only for invoices: their external_id is built from our custom_data. A payout's
        // answer carries `external_id` and a top-level `transaction_id` with `custom_data`
        // empty (`"502d36"` in LigdiCash's example), whose origin is not documented; failing
        // every completed payout on them would announce money sent as a mismatch.
        if p.kind == Kind::Invoice
            && let Some(theirs) = a.external_id.as_deref()
            && !theirs.split(';').any(|part| part.trim() == ours)
        {
            return Err(format!(
                "confirmed external_id {theirs:?} does not name enqueued transaction_id {ours:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payout's answer as LigdiCash documents it: its `external_id` is not the shop's
    /// reference, and does not make the payout a mismatch; an invoice's still does.
    #[test]
    fn a_payouts_external_id_is_not_held_against_it() {
        let answer = ConfirmAnswer::parse(
            br#"{"response_code":"00","status":"completed","custom_data":[],
                 "transaction_id":"502d36","external_id":"502d36","montant":"100","amount":"100"}"#,
        )
        .unwrap();
        let payout = DuePayment {
            kind: Kind::Payout,
            transaction_id: Some("SELLER-1".into()),
            expected_amount: Some(100),
            ..DuePayment::default()
        };
        assert_eq!(verify(&payout, &answer), Ok(()));
        let invoice = DuePayment {
            kind: Kind::Invoice,
            ..payout
        };
        assert!(verify(&invoice, &answer).is_err());
    }

    fn due(expected_amount: Option<i64>) -> DuePayment {
        DuePayment {
            id: 1,
            token: "tok".into(),
            expected_amount,
            ..DuePayment::default()
        }
    }

    /// The answer to a body with these amount fields, as the poller parses it.
    fn body(fields: &str) -> ConfirmAnswer {
        let body = format!(r#"{{"response_code":"00","status":"completed"{fields}}}"#);
        ConfirmAnswer::parse(body.as_bytes()).unwrap()
    }

    /// Each way LigdiCash's two amount fields can go wrong is a mismatch whose reason
    /// names it, whether or not the shop gave an expected amount.
    #[test]
    fn an_amount_that_cannot_be_read_is_a_mismatch_naming_why() {
        let cases = [
            (
                r#","amount":"5000.4","montant":"5000.4""#,
                "confirmed amount 5000.4 is not a whole number of XOF",
            ),
            (
                r#","amount":"abc","montant":5000"#,
                "confirmed amount is not a number: \"abc\"",
            ),
            (
                r#","amount":5000,"montant":[5000]"#,
                "confirmed montant is not a number: an array",
            ),
            (
                r#","amount":5000,"montant":"4000""#,
                "LigdiCash's amount 5000 and montant 4000 disagree",
            ),
        ];
        for (fields, reason) in cases {
            let a = body(fields);
            assert_eq!(
                verify(&due(Some(5000)), &a),
                Err(format!("{reason}; expected 5000 XOF")),
                "{fields}"
            );
            assert_eq!(verify(&due(None), &a), Err(reason.to_owned()), "{fields}");
        }
    }

    #[test]
    fn agreeing_or_single_amounts_are_verified_against_the_expected_one() {
        for fields in [
            r#","amount":5000,"montant":5000"#,
            r#","amount":"5000","montant":5000.0"#,
            r#","montant":" 5000 ""#,
            r#","amount":5000,"montant":"""#,
        ] {
            assert_eq!(verify(&due(Some(5000)), &body(fields)), Ok(()), "{fields}");
        }
        assert_eq!(
            verify(&due(Some(5000)), &body(r#","amount":4000,"montant":4000"#)),
            Err("confirmed amount 4000 XOF differs from expected 5000 XOF".into())
        );
        assert_eq!(
            verify(&due(Some(5000)), &body("")),
            Err("confirmed amount missing; expected 5000 XOF".into())
        );
        assert_eq!(verify(&due(None), &body("")), Ok(()));
    }
}
