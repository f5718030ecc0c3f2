//! What runs beside the poller, each a watched task: this node's cluster heartbeat (on
//! PostgreSQL), the health and metrics listener, the shop API, the nightly reports, the case sweep.

use crate::api::{self, ApiState};
use crate::cases::sweep::CaseSweep;
use crate::confirm::cluster::ClusterRate;
use crate::failure::{Exit, Failure};
use crate::http::{self, HttpState};
use crate::report::Reporter;
use crate::tasks::Tasks;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Starts each part that was built; all stop on `shutdown`.
pub(super) fn spawn_serving(
    tasks: &mut Tasks<Failure>,
    cluster: Option<ClusterRate>,
    health: Option<(TcpListener, HttpState)>,
    shop_api: Option<(TcpListener, ApiState)>,
    shutdown: &CancellationToken,
) {
    if let Some(cluster) = cluster {
        let beats = cluster.run(shutdown.clone());
        tasks.spawn("cluster heartbeat", async move {
            beats
                .await
                .map_err(|e| Failure::new(Exit::Database, e.to_string()))
        });
    }
    if let Some((listener, state)) = health {
        tracing::info!(addr = ?listener.local_addr().ok(), "health and metrics listener started");
        let serve = http::serve(listener, state, shutdown.clone());
        tasks.spawn("http listener", async move {
            serve.await;
            Ok(())
        });
    }
    if let Some((listener, mut state)) = shop_api {
        state.shutdown = shutdown.clone();
        tracing::info!(addr = ?listener.local_addr().ok(), "shop API listener started");
        let serve = api::serve(listener, state, shutdown.clone());
        tasks.spawn("shop API", async move {
            serve.await;
            Ok(())
        });
    }
}

/// The daemon reports on schedule (a watched task); a finite run gets the reporter back, to
/// catch up once after the polling.
pub(super) fn schedule_reports(
    tasks: &mut Tasks<Failure>,
    reporter: Reporter,
    enabled: bool,
    finite: bool,
    shutdown: &CancellationToken,
) -> Option<Reporter> {
    match (enabled, finite) {
        (true, false) => {
            let nightly = reporter.run(shutdown.clone());
            tasks.spawn("nightly report", async move {
                nightly.await;
                Ok(())
            });
            None
        }
        (true, true) => Some(reporter.stop_when_held()),
        (false, _) => None,
    }
}

/// The daemon sweeps for cases on its interval (a watched task); a finite run gets the
/// sweep back, to sweep once at the end so that its cases are opened and announced.
pub(super) fn schedule_sweep(
    tasks: &mut Tasks<Failure>,
    sweep: CaseSweep,
    finite: bool,
    shutdown: &CancellationToken,
) -> Option<CaseSweep> {
    if finite {
        return Some(sweep);
    }
    let sweeping = sweep.run(shutdown.clone());
    tasks.spawn("case sweep", async move {
        sweeping.await;
        Ok(())
    });
    None
}
