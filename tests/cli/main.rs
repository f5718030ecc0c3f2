//! Integration tests: the real binary against the sandbox on loopback, with a real SQLite
//! file per test.

mod helpers;
mod input;
mod resilience;
mod statuses;
