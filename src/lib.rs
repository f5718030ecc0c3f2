//! # ligdicash-reconciler
//!
//! A daemon that makes sure no LigdiCash payment is lost or mis-recorded. The shop hands over
//! the creation token of each invoice (or withdrawal, or straight payout: money out), by
//! inserting a row into the `payments` table or through the shop API; the reconciler
//! confirms each one with LigdiCash, at its kind's endpoint, until it resolves, records what
//! LigdiCash said, and tells the shop by events. LigdiCash's callbacks only make a payment
//! confirmed sooner; the shop's confirm-now asks at once, before it cancels an order.
//!
//! The database is SQLite (one daemon per file, held by a file lock) or PostgreSQL, where
//! several daemons may share it as a cluster: each claims its rows with a lease and sends at
//! its share of `max_requests_per_second`, and one at a time writes the nightly reports.
//!
//! ```text
//!  shop ──INSERT or shop API──▶ store (SQLite or PostgreSQL) ◀──────────────┐
//!  LigdiCash callback ──▶ due now │ due rows       one transaction per batch: attempt,
//!                                 ▼                status (compare-and-set), event
//!   poller, confirm-now, re-check ──▶ confirm::Confirmer ──HTTP──▶ LigdiCash
//!                                      throttle, classify (pure), decide (pure)
//!                                              │
//!                                              └──▶ store's one writer ──▶ events ──▶ sinks
//! ```
//!
//! - [`app`]: assembles the daemon from its [`config`] and runs it ([`tasks`] watched).
//! - [`config`]: the TOML file, credentials and the database to use.
//! - [`payment`]: the domain types (status, kind, due payment, change, outcome) and the
//!   pure callback policy.
//! - [`confirm`]: the one confirm path: rate limit and pause, client, classification,
//!   policy; on a cluster, this node's share of the rate.
//! - [`store`]: the one store interface (`Db`) over SQLite and PostgreSQL: schemas,
//!   migrations, queries, claims and the one outcome writer.
//! - [`ligdicash`]: the HTTP client, the lenient answer parser and the classifier.
//! - [`poller`]: claims due payments, confirm workers, the batch writer.
//! - [`api`]: the shop API (enqueue, look-ups, confirm-now, cases, evidence) and
//!   LigdiCash's callbacks.
//! - [`cases`]: what needs a person: the case sweep, a person's decision, the evidence file.
//! - [`events`], [`report`]: the outbox and its sinks; the nightly reports, mailed to the
//!   accountant through the outbox's `email` sink (`report::email`), and the re-check.
//! - [`health`], [`http`], [`listener`], [`metrics`], [`systemd`], [`telemetry`]: what
//!   operators see, and the limits every HTTP listener runs within.
//! - [`failure`], [`lock`], [`time`]: exit codes, one `run` per SQLite database,
//!   millisecond time.
//! - [`sandbox`]: a simulated LigdiCash API for the demo, tests and benchmarks.
//! - [`demo`]: the end-to-end demonstration on the sandbox.
//! - [`cli`]: the command-line interface; `main.rs` only calls it.

#![forbid(unsafe_code)]
// A panic in the daemon strands what its task held (a claimed payment, the report lock): an
// error is handled or said, never unwrapped. Tests may unwrap: a panic is their failure.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod cases;
pub mod cli;
pub mod config;
pub mod confirm;
pub mod demo;
pub mod events;
pub mod failure;
pub mod health;
pub mod http;
pub mod ligdicash;
pub mod listener;
pub mod lock;
pub mod metrics;
pub mod payment;
pub mod poller;
pub mod report;
pub mod sandbox;
pub mod store;
pub mod systemd;
pub mod tasks;
pub mod telemetry;
pub mod time;
