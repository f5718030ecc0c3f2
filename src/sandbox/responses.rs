//! Response bodies shaped exactly like LigdiCash's documented examples.

use super::Invoice;
use super::payouts::Payout;
use crate::payment::Kind;
use serde_json::{Value, json};

const CONFIRM_WIKI: &str = "https://client.ligdicash.com/wiki/confirmInvoice";
const CREATE_WIKI: &str = "https://client.ligdicash.com/wiki/createInvoice";

/// `response_code "01"` with a sub-code, as for authentication and not-found errors.
pub fn api_error(code: &str, create: bool) -> Value {
    json!({
        "response_code": "01",
        "token": "",
        "response_text": format!("Echec (Code{code})"),
        "description": "",
        "wiki": if create { CREATE_WIKI } else { CONFIRM_WIKI },
    })
}

/// The create endpoint's success body.
pub fn created(token: &str, payment_url: &str) -> Value {
    json!({
        "response_code": "00",
        "token": token,
        "response_text": payment_url,
        "description": "",
        "wiki": CREATE_WIKI,
    })
}

/// The confirm body for `invoice` with status `status`. With `variant` the field types
/// change the way LigdiCash's do across payloads.
pub fn confirm(invoice: &Invoice, status: &str, variant: bool) -> Value {
    let settled = status != "pending";
    let amount = invoice.fate.paid_amount;
    // What LigdiCash reports as the order reference (a test may make it differ).
    let tx = invoice
        .confirmed_transaction_id
        .clone()
        .or_else(|| invoice.transaction_id.clone())
        .unwrap_or_default();
    let custom_data = if variant && tx.is_empty() {
        json!("")
    } else if variant {
        json!({"transaction_id": tx})
    } else {
        let mut entries = Vec::new();
        if !tx.is_empty() {
            entries.push(custom_entry("transaction_id", &tx));
        }
        entries.push(custom_entry("logfile", &format!("2026{:019}", invoice.seq)));
        Value::Array(entries)
    };
    let (operator_id, operator_name) = if settled {
        (
            if variant { json!(11) } else { json!("11") },
            json!("ORANGE BURKINA"),
        )
    } else {
        (json!(""), json!(""))
    };
    let customer = if settled {
        json!("22676275726")
    } else {
        Value::Null
    };
    let amount_value = if variant {
        json!(amount.to_string())
    } else {
        json!(amount)
    };
    json!({
        "response_code": "00",
        "token": "",
        "response_text": "",
        "description": "",
        "custom_data": custom_data,
        "status": status,
        "operator_id": operator_id,
        "operator_name": operator_name,
        "customer": customer,
        "wiki": CONFIRM_WIKI,
        "montant": amount_value.clone(),
        "amount": amount_value,
        "date": "2026-04-15 11:19:28+00",
        "external_id": tx,
        "oreference": "",
        "customer_details": {
            "firstname": "Awa", "lastname": "Ouedraogo", "email": "awa@example.com",
            "phone": "22676275726", "details": ""
        },
        "request_id": format!("P{:013}", 2_771_491_712_026u64 + invoice.seq),
    })
}

/// The answer of a payout's create endpoint: the token to confirm it with.
pub fn payout_created(token: &str) -> Value {
    json!({
        "response_code": "00",
        "token": token,
        "response_text": "",
        "description": "",
        "wiki": "",
    })
}

/// The confirm body of a withdrawal or straight payout, in LigdiCash's payout shape (its
/// callback example): `amount`/`montant` as strings, `operator_id` an integer,
/// `custom_data` `[]`, the order reference at the top level and in `external_id`.
pub fn payout_confirm(payout: &Payout, status: &str) -> Value {
    let amount = payout.fate.paid_amount.to_string();
    let tx = payout.transaction_id.clone().unwrap_or_default();
    let wiki = match payout.kind {
        Kind::Withdrawal => "https://client.ligdicash.com/wiki/confirmWithdrawal",
        _ => "https://client.ligdicash.com/wiki/confirmPayout",
    };
    json!({
        "response_code": "00",
        "token": "",
        "response_text": "",
        "description": "",
        "status": status,
        "custom_data": [],
        "operator_id": 12,
        "operator_name": "MOOV AFRICA BURKINA",
        "customer": payout.customer,
        "transaction_id": tx,
        "external_id": tx,
        "montant": amount,
        "amount": amount,
        "date": "2026-04-15 11:19:28+00",
        "wiki": wiki,
    })
}

fn custom_entry(key: &str, value: &str) -> Value {
    json!({
        "keyof_customdata": key,
        "valueof_customdata": value,
        "datecreation_customdata": "2026-04-15 11:19:28.977757",
    })
}

/// What a reverse proxy in front of LigdiCash returns when the backend is down.
pub fn html_error(status: u16) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>{status}</title></head>\
         <body><h1>{status} Bad Gateway</h1><hr><center>nginx</center></body></html>"
    )
}
