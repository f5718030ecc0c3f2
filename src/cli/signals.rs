//! How the process's signals reach a command that runs until stopped (`run`, `sandbox`):
//! SIGTERM (systemd's stop) and SIGINT (Ctrl-C) cancel a token; SIGHUP calls a reload hook.
//! The library never installs handlers itself: it takes the token, so tests stop it at will.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
pub(super) async fn stop_on_signal(token: CancellationToken) {
    if let Err(e) = stop_on_signal_or_reload(token.clone(), || {}).await {
        tracing::error!(error = %e, "stopping");
        token.cancel();
    }
}

/// [`stop_on_signal`], calling `on_hangup` for each SIGHUP (which would otherwise kill
/// the process). The token is cancelled before anything is logged about the signal: a stop
/// never waits on the log. An error means no handler could be installed.
pub(super) async fn stop_on_signal_or_reload(
    token: CancellationToken,
    on_hangup: impl Fn(),
) -> Result<(), std::io::Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let name = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => on_hangup(),
            // Stopped for another reason: the handlers are no longer needed.
            _ = token.cancelled() => return Ok(()),
        }
    };
    token.cancel();
    tracing::info!(signal = name, "signal received, shutting down");
    Ok(())
}
