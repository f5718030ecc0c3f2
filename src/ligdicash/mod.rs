//! Everything about talking to LigdiCash: the HTTP client, the lenient answer parser, and
//! the pure classification of what an exchange means.

pub mod amount;
pub mod answer;
pub mod classify;
pub mod client;
pub mod transport;

pub use answer::ConfirmAnswer;
pub use classify::{Classified, ErrorClass, Exchange, TransportError, classify, classify_for};
pub use client::{ClientSettings, LigdicashClient, Timed};
