//! The demo's check of itself: every final status the reconciler recorded must be the
//! sandbox's truth, so the demo fails loudly instead of printing a pleasant lie.

use crate::payment::Status;
use crate::sandbox::{Invoice, Outcome};
use crate::store::PaymentRow;
use crate::time::Millis;
use anyhow::{Result, bail};
use std::collections::HashMap;

/// The status the reconciler must reach for an invoice, given the demo's give-up window.
fn expected_status(invoice: &Invoice) -> Status {
    match invoice.fate.outcome {
        Outcome::Completed if invoice.fate.paid_amount != invoice.amount => Status::Mismatch,
        Outcome::Completed => Status::Completed,
        Outcome::NotCompleted => Status::NotCompleted,
        Outcome::Never => Status::Timeout,
    }
}

/// Every final status must be the sandbox's truth, and every `timeout` must come after the
/// whole give-up window.
pub(super) fn verify_against_truth(
    rows: &[PaymentRow],
    invoices: &[Invoice],
    give_up_after: Millis,
) -> Result<()> {
    let truth: HashMap<&str, &Invoice> = invoices.iter().map(|i| (i.token.as_str(), i)).collect();
    let mut wrong = Vec::new();
    let mut given_up_early = 0;
    let invoices = rows.iter().filter(|r| r.kind == "invoice");
    for row in invoices.clone() {
        let invoice = truth.get(row.token.as_str()).copied();
        let expected = invoice.map_or(Status::InvalidToken, expected_status);
        let waited = row.resolved_at.unwrap_or(row.created_at) - row.created_at;
        if row.status == Status::Timeout.as_str() && waited < give_up_after {
            wrong.push(format!("{}: timeout after only {waited} ms", row.token));
            continue;
        }
        if row.status == expected.as_str() {
            continue;
        }
        if row.status == Status::Timeout.as_str() && invoice.is_some_and(gave_up_on_open_answer) {
            given_up_early += 1;
            continue;
        }
        wrong.push(format!(
            "{}: {} (expected {expected})",
            row.token, row.status
        ));
    }
    if !wrong.is_empty() {
        bail!(
            "{} payments disagree with the sandbox: {}",
            wrong.len(),
            wrong.join("; ")
        );
    }
    say!(
        "all {} invoices agree with the sandbox's truth",
        invoices.count()
    );
    if given_up_early > 0 {
        say!(
            "({given_up_early} given up as timeout because LigdiCash's last answer before the \
             deadline was not final, though the invoice settled: the nightly re-check turns \
             such a payment into a late completion)"
        );
    }
    Ok(())
}

/// A `timeout` is the right verdict for an invoice that settled when the last confirm
/// answer the sandbox gave still said `pending`, or an unknown status (a fault may answer
/// `processing` after settlement): the reconciler gives up on what it is told.
fn gave_up_on_open_answer(invoice: &Invoice) -> bool {
    matches!(invoice.last_answer, Some("pending" | "processing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::NewPayment;
    use crate::sandbox::Fate;
    use crate::store::Store;
    use std::path::Path;
    use std::time::Duration;

    const WINDOW: Millis = 10_000;

    fn invoice(token: &str, outcome: Outcome, last_answer: Option<&'static str>) -> Invoice {
        Invoice {
            seq: 1,
            token: token.into(),
            amount: 1000,
            transaction_id: None,
            confirmed_transaction_id: None,
            created_at: 0,
            fate: Fate {
                outcome,
                settle_after_ms: 5_000,
                paid_amount: 1000,
            },
            confirms: vec![1],
            last_answer,
            callback_url: None,
        }
    }

    /// A store holding `token` with final `status`, resolved `waited` ms after creation.
    fn store_with(dir: &Path, token: &str, status: &str, waited: Millis) -> Store {
        let mut store = Store::open(&dir.join("t.db"), Duration::from_secs(1)).unwrap();
        let p = NewPayment::parse(token, None, Some("1000")).unwrap();
        store.enqueue(&p, 1_000, 1_000).unwrap();
        store
            .connection()
            .execute(
                "UPDATE payments SET status = ?1, resolved_at = created_at + ?2",
                rusqlite::params![status, waited],
            )
            .unwrap();
        store
    }

    fn check(status: &str, waited: Millis, inv: Invoice) -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), &inv.token, status, waited);
        verify_against_truth(&store.list(None, 10).unwrap(), &[inv], WINDOW)
    }

    #[test]
    fn a_settled_invoice_must_be_recorded_as_settled() {
        let inv = || invoice("tok-a", Outcome::Completed, Some("completed"));
        assert!(check("completed", 6_000, inv()).is_ok());
        let err = check("timeout", 11_000, inv()).unwrap_err().to_string();
        assert!(err.contains("tok-a: timeout (expected completed)"), "{err}");
    }

    /// A fault answering `processing` after settlement, or a last answer given before it,
    /// makes a timeout the right verdict: the nightly re-check finds the late completion.
    #[test]
    fn a_timeout_on_an_open_last_answer_is_accepted_after_the_window() {
        for last in ["processing", "pending"] {
            let inv = invoice("tok-b", Outcome::Completed, Some(last));
            assert!(check("timeout", 10_500, inv).is_ok(), "{last}");
        }
    }

    #[test]
    fn a_timeout_before_the_window_is_wrong_whatever_the_truth() {
        let inv = invoice("tok-c", Outcome::Never, Some("pending"));
        let err = check("timeout", 9_000, inv).unwrap_err().to_string();
        assert!(err.contains("tok-c: timeout after only 9000 ms"), "{err}");
    }
}
