//! `[api]`: the shop's HTTP API, off unless `listen` is set. A listener of its own, apart
//! from `[http]`: metrics stay unauthenticated on their port, and turning them on never
//! exposes the API by accident.

use super::ConfigError;
use super::credentials::read_secret_file;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The environment variable holding the API's bearer token.
pub const API_BEARER_ENV: &str = "LIGDICASH_RECONCILER_API_TOKEN";
/// The systemd credential (`LoadCredential=`) holding it.
pub const API_BEARER_CREDENTIAL: &str = "reconciler-api-token";

/// `[api]`: where the shop API listens and where its bearer token comes from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `host:port`, or `"off"` (the default).
    pub listen: String,
    /// A file holding the bearer token (after `LIGDICASH_RECONCILER_API_TOKEN`, before the
    /// systemd credential `reconciler-api-token`).
    pub token_file: Option<PathBuf>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "off".into(),
            token_file: None,
        }
    }
}

impl ApiConfig {
    /// The address to bind, or `None` when the API is off.
    pub fn addr(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        if self.listen.trim().eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        self.listen.trim().parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "api.listen {:?} is not host:port (or \"off\")",
                self.listen
            ))
        })
    }
}

impl ApiConfig {
    /// The bearer token every `/v1` request must carry, with where it came from: the
    /// environment, then `token_file`, then the systemd credential. `listen` set without
    /// any of them is a configuration error (exit 3).
    pub fn load_token(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(SecretString, String), ConfigError> {
        const WHAT: &str = "shop API bearer token";
        if let Some(value) = env(API_BEARER_ENV).filter(|v| !v.trim().is_empty()) {
            let source = format!("environment {API_BEARER_ENV}");
            return Ok((SecretString::from(value.trim().to_owned()), source));
        }
        if let Some(path) = &self.token_file {
            return read_secret_file(WHAT, path).map(|s| (s, format!("file {}", path.display())));
        }
        if let Some(dir) = env("CREDENTIALS_DIRECTORY") {
            let path = PathBuf::from(dir).join(API_BEARER_CREDENTIAL);
            if path.exists() {
                return read_secret_file(WHAT, &path)
                    .map(|s| (s, format!("systemd credential {API_BEARER_CREDENTIAL}")));
            }
        }
        Err(ConfigError::MissingCredentials(format!(
            "api.listen is set but there is no {WHAT}: set {API_BEARER_ENV}, [api] token_file, or a systemd credential named {API_BEARER_CREDENTIAL}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::credentials::write_private;

    #[test]
    fn the_api_is_off_by_default_and_listen_must_be_an_address() {
        assert_eq!(ApiConfig::default().addr().unwrap(), None);
        let on = ApiConfig {
            listen: "127.0.0.1:9188".into(),
            ..ApiConfig::default()
        };
        assert_eq!(on.addr().unwrap(), Some("127.0.0.1:9188".parse().unwrap()));
        let bad = ApiConfig {
            listen: "localhost".into(),
            ..ApiConfig::default()
        };
        assert!(bad.addr().unwrap_err().to_string().contains("api.listen"));
    }

    #[test]
    fn the_token_comes_from_the_environment_then_the_file_then_systemd() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        write_private(&file, "from-file\n");
        write_private(&dir.path().join(API_BEARER_CREDENTIAL), "from-systemd");
        let creds = dir.path().display().to_string();
        let cfg = ApiConfig {
            listen: "127.0.0.1:9188".into(),
            token_file: Some(file),
        };
        let env = |name: &str| match name {
            API_BEARER_ENV => Some("from-env".to_owned()),
            "CREDENTIALS_DIRECTORY" => Some(creds.clone()),
            _ => None,
        };
        assert_eq!(cfg.load_token(&env).unwrap().0.expose_secret(), "from-env");
        let no_env = |name: &str| env(name).filter(|_| name != API_BEARER_ENV);
        assert_eq!(
            cfg.load_token(&no_env).unwrap().0.expose_secret(),
            "from-file"
        );
        let systemd_only = ApiConfig {
            token_file: None,
            ..cfg.clone()
        };
        let (token, source) = systemd_only.load_token(&no_env).unwrap();
        assert_eq!(token.expose_secret(), "from-systemd");
        assert!(source.contains("systemd credential"));
        let missing = systemd_only.load_token(&|_| None).unwrap_err().to_string();
        assert!(missing.contains(API_BEARER_ENV), "{missing}");
    }
}
