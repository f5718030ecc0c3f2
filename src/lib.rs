//! # ligdicash-reconciler
//!
//! A daemon that makes sure no LigdiCash payment is lost or mis-recorded. The shop writes the
//! creation token of each invoice (or withdrawal, or straight payout: money out) into a SQLite
//! table; the reconciler confirms each one with LigdiCash, at its kind's endpoint, until it
//! resolves, and records what LigdiCash said.
//!
//! ```text
//!  shop ──INSERT──▶ store (SQLite, schema.sql) ◀──────────────────────────┐
//!                      │ due rows                  one transaction per batch: attempt,
//!                      ▼                           status (compare-and-set), event
//!   poller (and the nightly re-check) ──▶ confirm::Confirmer ──HTTP──▶ LigdiCash
//!                                          throttle, classify (pure), decide (pure)
//!                                                  │
//!                                                  └──▶ store::outcomes ──▶ events ──▶ sinks
//! ```
//!
//! - [`app`]: assembles the daemon from its [`config`] and runs it ([`tasks`] watched).
//! - [`config`]: the TOML file and credentials.
//! - [`payment`]: the domain types (status, due payment, change, outcome).
//! - [`confirm`]: the one confirm path: rate limit and pause, client, classification, policy.
//! - [`store`]: the SQLite schema, migrations, queries and the one outcome writer.
//! - [`ligdicash`]: the HTTP client, the lenient answer parser and the classifier.
//! - [`poller`]: claims due payments, confirm workers, the batch writer.
//! - [`events`], [`report`]: the outbox and its sinks; the nightly reports and re-check.
//! - [`health`], [`http`], [`listener`], [`systemd`], [`telemetry`]: what operators see.
//! - [`sandbox`]: a simulated LigdiCash API for the demo, tests and benchmarks.
//! - [`demo`]: the end-to-end demonstration on the sandbox.
//! - [`cli`]: the command-line interface; `main.rs` only calls it.

#![forbid(unsafe_code)]
// A panic in the daemon strands what its task held (a claimed payment, the report lock): an
// error is handled or said, never unwrapped. Tests may unwrap: a panic is their failure.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
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
