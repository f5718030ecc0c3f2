//! systemd's notify protocol, spoken directly over `$NOTIFY_SOCKET` (no libsystemd):
//! `READY=1` once the database is migrated and the configuration valid, `WATCHDOG=1` only
//! while the poll loop's own heartbeat is fresh (a stuck loop gets the service restarted),
//! `STATUS=` with counts, and `STOPPING=1` at shutdown. Without `NOTIFY_SOCKET` (not under
//! systemd) every call is a no-op.

use crate::metrics::Metrics;
use crate::store::Db;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Sends one notification; false when there is no socket or the send failed.
pub fn notify(message: &str) -> bool {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return false;
    };
    let Ok(socket) = UnixDatagram::unbound() else {
        return false;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        // Abstract socket namespace (Linux).
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| socket.send_to_addr(message.as_bytes(), &addr))
    } else {
        socket.send_to(message.as_bytes(), &path)
    };
    sent.is_ok()
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings the watchdog at half its interval while the heartbeat is fresh, and refreshes
/// `STATUS=` with the pending and resolved counts, until `shutdown`.
pub async fn supervise(metrics: Arc<Metrics>, db: Db, shutdown: CancellationToken) {
    let watchdog = watchdog_interval();
    let period = watchdog.map_or(Duration::from_secs(10), |w| {
        (w / 2).max(Duration::from_millis(50))
    });
    let stale_ms = watchdog.map_or(i64::MAX, |w| {
        i64::try_from(w.as_millis()).unwrap_or(i64::MAX)
    });
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if watchdog.is_some() && metrics.since_heartbeat() < stale_ms {
            notify("WATCHDOG=1");
        }
        let pending = db.gauges().await.map_or(-1, |g| g.pending);
        let auth = if metrics.auth_failing() {
            "; LigdiCash refuses the credentials"
        } else {
            ""
        };
        notify(&format!(
            "STATUS={pending} pending, {} resolved since start{auth}",
            metrics.finalized.load(std::sync::atomic::Ordering::Relaxed)
        ));
    }
}
