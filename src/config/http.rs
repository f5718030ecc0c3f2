//! `[http]`: where the health and metrics listener binds, or that it is off.

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// `[http]`: the health and metrics listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `host:port`, or `"off"`. Loopback by default: metrics are for the local Prometheus.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9187".into(),
        }
    }
}

impl HttpConfig {
    /// The address to bind, or `None` when the listener is off.
    pub fn addr(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        if self.listen.trim().eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        self.listen.trim().parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "http.listen {:?} is not host:port (or \"off\")",
                self.listen
            ))
        })
    }
}
