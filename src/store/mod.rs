//! The store: every part of the daemon keeps its state through [`Db`], one handle per
//! process on one of two databases, SQLite (the embedded default, a file shared with the
//! shop) or PostgreSQL (several daemons sharing the work). None of the callers knows which.
//!
//! Its shape, as River keeps its drivers: [`model`] holds the types the operations take and
//! give and the rules both databases follow, with no SQL; [`sqlite`] and [`postgres`] each
//! run the same operations in their own SQL; [`Db`] dispatches each operation to the
//! backend in use (the list of operations, with their documentation, is `db/ops.rs`);
//! `read` reads rows into the model's types once for both. One conformance suite
//! (`testing/`) runs every operation on both databases, so they cannot drift.
//! docs/architecture.md has the recipe for a new operation.

mod db;
mod error;
pub mod model;
pub mod postgres;
pub(crate) mod read;
pub mod sqlite;

pub use db::{Db, ReportTurn, Target};
pub use error::StoreError;
pub use model::*;
pub use sqlite::Store;
pub use sqlite::parked::PARKED;

#[cfg(test)]
mod testing;
