//! Integration tests: the real binary against the sandbox on loopback, with a real SQLite
//! file per test.

mod api;
mod api_tokens;
mod bad_rows;
mod browser;
mod callback_flood;
mod callback_rules;
mod callbacks;
mod cases;
mod commands;
mod crash;
mod demo;
mod events;
mod faults;
mod helpers;
mod input;
mod listener;
mod lock;
mod metrics;
mod network;
mod once;
mod payouts;
#[path = "../../src/store/postgres/testing/server.rs"]
#[allow(dead_code)]
mod pg_server;
mod postgres;
mod receiver;
mod reports;
mod resilience;
mod secrets;
mod service;
mod shop;
mod shop_db;
mod smtp;
mod statuses;
