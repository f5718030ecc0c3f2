//! From [`PgSettings`] to a pool: the connection parameters, and TLS per `sslmode`.
//!
//! TLS is rustls with the platform verifier (the system's trust store), as the LigdiCash
//! client: `require` means a certificate valid for the host, never "encrypted to whoever
//! answers". `disable` connects without TLS, `prefer` tries TLS first and falls back to
//! plain only when the server has none.

use crate::config::{PgSettings, SslMode};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// How long making one connection may take before the pool reports the database down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The driver's configuration for `settings` (the password included, which the driver's
/// own `Debug` redacts).
pub fn pg_config(settings: &PgSettings) -> tokio_postgres::Config {
    let url = &settings.url;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&url.host)
        .port(url.port)
        .user(&url.user)
        .dbname(&url.dbname)
        .application_name("ligdicash-reconciler")
        .connect_timeout(CONNECT_TIMEOUT)
        .ssl_mode(match url.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require => tokio_postgres::config::SslMode::Require,
        });
    if let Some(password) = &settings.password {
        config.password(password.expose_secret());
    }
    config
}

/// The pool; `Err` is why it cannot be built (the TLS configuration), in one line.
pub fn pool(settings: &PgSettings, max_connections: usize) -> Result<Pool, String> {
    // `Fast` recycling: a connection the server closed fails its next statement, which the
    // caller retries as any refused write; checking every checkout would cost a round trip.
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let config = pg_config(settings);
    let manager = match settings.url.sslmode {
        SslMode::Disable => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        SslMode::Prefer | SslMode::Require => Manager::from_config(config, tls()?, manager_config),
    };
    Pool::builder(manager)
        .max_size(max_connections.max(1))
        .build()
        .map_err(|e| format!("cannot build the connection pool: {e}"))
}

/// rustls with the system's trust store, on the process's one crypto provider.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestServer;
    use super::super::{ClaimPolicy, PgStore};
    use crate::config::{PgUrl, SslMode};
    use secrecy::SecretString;

    /// The test server has no certificate: `prefer` falls back to plain TCP, `require`
    /// refuses to connect at all, and the error shows no password.
    #[tokio::test]
    async fn prefer_falls_back_to_plain_and_require_refuses_a_server_without_tls() {
        let Some(pg) = TestServer::start() else {
            return;
        };
        let mut settings = pg.database("tls").await;
        settings.password = Some(SecretString::from("pw-SECRET".to_owned()));
        let claims = || ClaimPolicy::new("n1", 30_000, 3_000);
        for (mode, connects) in [(SslMode::Prefer, true), (SslMode::Require, false)] {
            let text = format!(
                "postgres://postgres@127.0.0.1:{}/tls?sslmode={}",
                pg.port,
                mode.as_str()
            );
            settings.url = PgUrl::parse(&text).unwrap();
            match PgStore::open(&settings, 1, claims()).await {
                Ok(store) => {
                    assert!(connects, "{mode:?} connected");
                    assert_eq!(store.schema_version().await.unwrap(), 0);
                }
                Err(e) => {
                    assert!(!connects, "{mode:?}: {e}");
                    let msg = e.to_string();
                    assert!(
                        msg.contains("sslmode=require") && !msg.contains("SECRET"),
                        "{msg}"
                    );
                }
            }
        }
    }
}
