//! SQLite's connections, as a pool: the process opens the file once (migrating it), then
//! up to `max` connections as calls need them, each call running on the blocking pool with
//! one connection to itself. Several calls then run at once (a long report read never holds
//! up the poller's scan; WAL lets readers and the one writer proceed together), and
//! `busy_timeout` orders the writers, as it orders them with the shop's own.

use super::super::{Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// A pool of connections to one SQLite file; clones share it.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Store>>,
    /// One permit per connection the pool may hold.
    slots: Arc<Semaphore>,
    /// Where the next re-check of parked rows starts, whichever connection runs it.
    parked_cursor: Arc<AtomicI64>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Connections {
    /// Opens (creating and migrating) the file at `path`; at most `max` connections.
    pub async fn open(
        path: PathBuf,
        busy_timeout: Duration,
        max: usize,
    ) -> Result<Self, StoreError> {
        let parked_cursor = Arc::new(AtomicI64::new(0));
        let (first_path, cursor) = (path.clone(), parked_cursor.clone());
        let first = tokio::task::spawn_blocking(move || {
            Store::open(&first_path, busy_timeout).map(|s| s.sharing_cursor(cursor))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        Ok(Self::from_store(
            first,
            path,
            busy_timeout,
            max,
            parked_cursor,
        ))
    }

    /// A pool around a connection already open (tests that prepared it by hand).
    pub fn from_store(
        store: Store,
        path: PathBuf,
        busy_timeout: Duration,
        max: usize,
        parked_cursor: Arc<AtomicI64>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                busy_timeout,
                idle: Mutex::new(vec![store]),
                slots: Arc::new(Semaphore::new(max.max(1))),
                parked_cursor,
            }),
        }
    }

    /// Runs `f` on a connection of its own, on the blocking pool: a statement waiting up to
    /// `busy_timeout` for the shop's transaction never stalls the async threads. A call
    /// that panics fails alone (its caller gets an error); its connection, whose open
    /// transaction rusqlite rolled back on unwind, serves the next call.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let slot = self
            .inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let idle = inner.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut store = match idle {
                Some(store) => store,
                None => Store::connect(&inner.path, inner.busy_timeout)?
                    .sharing_cursor(inner.parked_cursor.clone()),
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut store)));
            inner
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(store);
            result.unwrap_or_else(|panic| Err(StoreError::Task(panic_text(panic))))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => format!("a database call panicked: {s}"),
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(
            || "a database call panicked".to_owned(),
            |s| format!("a database call panicked: {s}"),
        ),
    }
}
