//! LigdiCash callbacks as the store takes them in and reports them.

use crate::payment::Status;
use crate::payment::callback::Plan;

/// What a callback says that could name a payment, in the order they are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackKeys {
    /// The shop's order reference (`custom_data` `transaction_id`, or a top-level one).
    pub transaction_id: Option<String>,
    /// LigdiCash's `external_id`: the `custom_data` values whose key contains `id`, joined
    /// by `;`; each part is tried as an order reference.
    pub external_id: Option<String>,
    pub request_id: Option<String>,
    /// The callback's token: documented as empty or as a value other than the creation
    /// token, so it matches only when it happens to equal a stored one.
    pub token: Option<String>,
    /// What it claims (kept as evidence; a contradiction of a final status is checked).
    pub status: Option<String>,
}

/// A callback as received, kept as evidence: its content type, its body byte for byte (as
/// text), and the address it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCallback<'a> {
    pub content_type: &'a str,
    pub body: &'a str,
    pub source: Option<&'a str>,
}

/// What became of one callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    pub payment_id: Option<i64>,
    pub matched_by: Option<&'static str>,
    /// The status of the payment it named, when it was read.
    pub status: Option<Status>,
    /// What the policy planned ([`Plan::make_due`]: the pending payment is now due).
    pub plan: Plan,
    /// Whether the raw body was kept (else it is only counted, in `callback_tally`).
    pub kept: bool,
}
