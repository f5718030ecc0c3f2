//! Integration tests: the real binary against the sandbox on loopback, with a real SQLite
//! file per test.

mod api;
mod bad_rows;
mod callbacks;
mod commands;
mod crash;
mod events;
mod faults;
mod helpers;
mod input;
mod listener;
mod lock;
mod network;
mod once;
mod receiver;
mod reports;
mod resilience;
mod service;
mod shop;
mod statuses;
