//! The evidence file of a payment (placeholder until the evidence module lands).
