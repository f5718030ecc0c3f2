//! Integration tests: the real binary against the sandbox on loopback, with a real SQLite
//! file per test.

mod api;
mod browser;
mod callbacks;
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
mod payouts;
mod receiver;
mod reports;
mod resilience;
mod secrets;
mod service;
mod shop;
mod statuses;
