//! # ligdicash-reconciler
//!
//! A daemon that makes sure no LigdiCash payment is lost or mis-recorded. The shop writes the
//! creation token of each invoice into a SQLite table; the reconciler confirms each one with
//! LigdiCash until it resolves, and records what LigdiCash said.
//!
//! ```text
//!  shop ──INSERT──▶ store (SQLite, schema.sql) ◀──────────────┐
//!                      │ due rows                            │ one transaction per batch
//!                      ▼                                     │
//!                   poller ──▶ ligdicash::client ──HTTP──▶ LigdiCash (or the sandbox)
//!                      │            │ exchange
//!                      │            ▼
//!                      │      ligdicash::classify (pure) ──▶ confirm::decide (pure)
//!                      └──────────────────────────────────────┘
//! ```
//!
//! - [`config`]: the TOML file and credentials.
//! - [`store`]: the SQLite schema, migrations and queries.
//! - [`ligdicash`]: the HTTP client, the lenient answer parser and the classifier.
//! - [`poller`]: scheduling, rate limiting, the backoff schedule and the decision policy.
//! - [`sandbox`]: a simulated LigdiCash API for the demo, tests and benchmarks.
//! - [`demo`]: the end-to-end demonstration on the sandbox.
//! - [`http`]: the health and metrics endpoints, served through [`listener`], which bounds
//!   what any client may hold (connections, header and idle time).
//! - [`cli`]: the command-line interface; `main.rs` only calls it.

#![forbid(unsafe_code)]

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
