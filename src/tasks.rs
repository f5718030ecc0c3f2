//! The daemon's long-lived tasks beside the poller (signal handler, HTTP listener, systemd
//! supervision, event delivery, nightly reports), watched so that none can die unseen.
//!
//! A task that fails, panics or returns while the daemon is meant to run leaves a
//! half-alive process that looks healthy (no more deliveries, no more reports, SIGTERM
//! unheard), so the caller stops the whole daemon with a non-zero exit and lets systemd
//! restart it. Each task is spawned with a name, so the log says which one ended and why.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio::task::{Id, JoinSet};

/// How a task ended.
#[derive(Debug)]
pub enum Ended<E> {
    /// Returned `Ok`: expected at shutdown, a fault before it.
    Finished,
    Failed(E),
    Panicked(String),
    /// Aborted after the time allowed at shutdown.
    Aborted,
}

/// A named set of tasks.
pub struct Tasks<E> {
    set: JoinSet<Result<(), E>>,
    names: HashMap<Id, &'static str>,
}

impl<E> Default for Tasks<E> {
    fn default() -> Self {
        Self {
            set: JoinSet::new(),
            names: HashMap::new(),
        }
    }
}

impl<E: Send + 'static> Tasks<E> {
    /// Starts `task` under `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = Result<(), E>> + Send + 'static,
    ) {
        let handle = self.set.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// The next task to end, with its name; `None` when none is left (then it never
    /// resolves again, so a `select!` branch on it is simply disabled).
    pub async fn next(&mut self) -> Option<(&'static str, Ended<E>)> {
        let joined = self.set.join_next_with_id().await?;
        Some(self.name_of(joined))
    }

    /// Waits for every task to end, at most `limit`, then aborts the rest.
    pub async fn join_all(&mut self, limit: Duration) -> Vec<(&'static str, Ended<E>)> {
        let mut ended = Vec::new();
        let all = async {
            while let Some(joined) = self.set.join_next_with_id().await {
                ended.push(self.name_of(joined));
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            self.set.abort_all();
            while let Some(joined) = self.set.join_next_with_id().await {
                ended.push(self.name_of(joined));
            }
        }
        ended
    }

    fn name_of(
        &mut self,
        joined: Result<(Id, Result<(), E>), tokio::task::JoinError>,
    ) -> (&'static str, Ended<E>) {
        let (id, ended) = match joined {
            Ok((id, Ok(()))) => (id, Ended::Finished),
            Ok((id, Err(e))) => (id, Ended::Failed(e)),
            Err(e) if e.is_panic() => {
                let id = e.id();
                (id, Ended::Panicked(panic_message(e.into_panic())))
            }
            Err(e) => (e.id(), Ended::Aborted),
        };
        (self.names.remove(&id).unwrap_or("unnamed"), ended)
    }
}

/// The text a panic carried (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(no message)".to_owned(), |s| (*s).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_ending_is_named_failures_panics_and_returns_alike() {
        let mut tasks: Tasks<String> = Tasks::default();
        tasks.spawn("fails", async { Err("disk full".to_owned()) });
        let (name, ended) = tasks.next().await.unwrap();
        assert_eq!(name, "fails");
        assert!(matches!(ended, Ended::Failed(e) if e == "disk full"));
        tasks.spawn("panics", async { panic!("broken pipe") });
        let (name, ended) = tasks.next().await.unwrap();
        assert_eq!(name, "panics");
        assert!(matches!(ended, Ended::Panicked(m) if m == "broken pipe"));
        tasks.spawn("returns", async { Ok(()) });
        assert!(matches!(
            tasks.next().await.unwrap(),
            ("returns", Ended::Finished)
        ));
        assert!(tasks.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_still_running_after_the_limit_are_aborted() {
        let mut tasks: Tasks<String> = Tasks::default();
        tasks.spawn("quick", async { Ok(()) });
        tasks.spawn("stuck", std::future::pending());
        let mut ended = tasks.join_all(Duration::from_secs(1)).await;
        ended.sort_by_key(|(name, _)| *name);
        assert!(matches!(ended[0], ("quick", Ended::Finished)));
        assert!(matches!(ended[1], ("stuck", Ended::Aborted)));
    }
}
