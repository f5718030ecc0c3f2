//! Cases: the loop from what the reconciler finds to a person's decision (docs/cases.md).
//!
//! ```text
//!  payments, callbacks ──(index-backed, since the last look)──▶ sweep ──▶ payment::case (pure)
//!                                                                 │  open / close / replace
//!                                                                 ▼
//!             store: cases + case_decisions + case.opened / case.resolved in one transaction
//!                                                                 ▲
//!  `resolve` (CLI, Unix user) / POST /v1/payments/{token}/resolution (API token) ──┘
//! ```
//!
//! - [`sweep`]: the case task: opens a case when a payment needs a person, closes it when
//!   it no longer does, once per `[cases] sweep_interval` (and once at the end of a finite
//!   run). What needs a person, and what a person may decide, is `payment::case`'s.
//! - [`resolve`]: a person's decision, checked against the case it closes, recorded beside
//!   LigdiCash's verdict (never over it).
//! - [`evidence`]: everything known about a payment in one self-contained file, JSON and
//!   HTML, with the SHA-256 of the JSON.
//! - [`who`]: who a command-line decision is recorded as.

pub mod evidence;
pub mod resolve;
pub mod sweep;
pub mod who;
