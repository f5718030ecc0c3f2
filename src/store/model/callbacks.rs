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

/// How a callback key is looked up: an order reference (an invoice before a payout of the
/// same order, such as its refund; a pending payment before a settled one; the newest
/// first: a shop may retry an order with a new invoice), or an exact column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Order,
    RequestId,
    Token,
}

impl CallbackKeys {
    /// The lookups that may name the payment, in the order they are tried, each with what
    /// it matched by: the order reference, each part of `external_id` as one, `request_id`,
    /// and last the token. Blank values are skipped.
    pub fn probes(&self) -> impl Iterator<Item = (Probe, &str, &'static str)> {
        let order = self
            .transaction_id
            .iter()
            .map(|o| (Probe::Order, o.as_str(), "transaction_id"));
        let parts = self
            .external_id
            .iter()
            .flat_map(|e| e.split(';'))
            .map(|part| (Probe::Order, part.trim(), "external_id"));
        let exact = [
            (Probe::RequestId, &self.request_id, "request_id"),
            (Probe::Token, &self.token, "token"),
        ]
        .into_iter()
        .filter_map(|(probe, value, by)| Some((probe, value.as_deref()?, by)));
        order
            .chain(parts)
            .chain(exact)
            .filter(|(probe, value, _)| *probe == Probe::Order || !value.trim().is_empty())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_try_the_order_then_each_external_part_then_request_id_then_the_token() {
        let keys = CallbackKeys {
            transaction_id: Some("CMD-1".into()),
            external_id: Some("CMD-2; CMD-3".into()),
            request_id: Some(" ".into()),
            token: Some("tok".into()),
            status: None,
        };
        let probes: Vec<_> = keys.probes().collect();
        assert_eq!(
            probes,
            [
                (Probe::Order, "CMD-1", "transaction_id"),
                (Probe::Order, "CMD-2", "external_id"),
                (Probe::Order, "CMD-3", "external_id"),
                (Probe::Token, "tok", "token"),
            ]
        );
    }
}
