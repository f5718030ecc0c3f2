//! `[api]`: the shop's HTTP API, off unless `listen` is set. A listener of its own, apart
//! from `[http]`: metrics stay unauthenticated on their port, and turning them on never
//! exposes the API by accident.
//!
//! Who may call it: bearer tokens, each with a name and the scopes it grants. The single
//! token of the first releases (`LIGDICASH_RECONCILER_API_TOKEN`, `token_file`, the
//! systemd credential `reconciler-api-token`) is the token named `default`, with every
//! scope, so nothing changes on upgrade. Named tokens (`[api.tokens.shop]`,
//! `[api.tokens.accounting]`) give each caller only what it needs: the shop enqueues and
//! confirms, the accountant reads and records decisions.

use super::ConfigError;
use super::credentials::read_secret_file;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment variable holding the API's `default` bearer token.
pub const API_BEARER_ENV: &str = "LIGDICASH_RECONCILER_API_TOKEN";
/// The systemd credential (`LoadCredential=`) holding it.
pub const API_BEARER_CREDENTIAL: &str = "reconciler-api-token";

/// `[api]`: where the shop API listens and who may call it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `host:port`, or `"off"` (the default).
    pub listen: String,
    /// A file holding the `default` token (after `LIGDICASH_RECONCILER_API_TOKEN`, before
    /// the systemd credential `reconciler-api-token`).
    pub token_file: Option<PathBuf>,
    /// Named tokens and their scopes, `[api.tokens.NAME]`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, NamedToken>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "off".into(),
            token_file: None,
            tokens: BTreeMap::new(),
        }
    }
}

/// `[api.tokens.NAME]`: what one named token may do, and where its secret is.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedToken {
    pub scopes: Vec<Scope>,
    /// A file holding the token (after `LIGDICASH_RECONCILER_API_TOKEN_<NAME>`, before the
    /// systemd credential `reconciler-api-token-<name>`).
    pub token_file: Option<PathBuf>,
}

/// What a token may do on the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /v1/payments`.
    Enqueue,
    /// Every `GET`: payments, cases, evidence.
    Read,
    /// `POST /v1/payments/{token}/confirm`: asks LigdiCash now.
    Confirm,
    /// `POST /v1/payments/{token}/resolution`: records a person's decision on a case.
    Resolve,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Enqueue, Scope::Read, Scope::Confirm, Scope::Resolve];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Enqueue => "enqueue",
            Scope::Read => "read",
            Scope::Confirm => "confirm",
            Scope::Resolve => "resolve",
        }
    }
}

/// A token the API accepts: its name (recorded with what it does), its scopes, the secret.
#[derive(Clone)]
pub struct ApiToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub secret: SecretString,
    /// Where the secret came from, for the log (never the secret).
    pub source: String,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("secret", &"<redacted>")
            .field("source", &self.source)
            .finish()
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

    /// Every token the API accepts: `default` (all scopes) when its secret is given, and
    /// each named token, whose secret must be given. `listen` set without any token, a
    /// named token without scopes or secret, a bad name or two tokens with one secret are
    /// configuration errors (exit 3).
    pub fn load_tokens(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<ApiToken>, ConfigError> {
        let mut tokens = Vec::new();
        let default = Sources {
            env: API_BEARER_ENV.to_owned(),
            file: self.token_file.clone(),
            credential: API_BEARER_CREDENTIAL.to_owned(),
        };
        if let Some((secret, source)) = default.find("shop API bearer token", env)? {
            tokens.push(ApiToken {
                name: "default".to_owned(),
                scopes: Scope::ALL.to_vec(),
                secret,
                source,
            });
        }
        for (name, named) in &self.tokens {
            tokens.push(named.load(name, env)?);
        }
        if tokens.is_empty() {
            return Err(ConfigError::MissingCredentials(format!(
                "api.listen is set but there is no shop API bearer token: set {API_BEARER_ENV}, [api] token_file, a systemd credential named {API_BEARER_CREDENTIAL}, or [api.tokens.NAME]"
            )));
        }
        for (i, a) in tokens.iter().enumerate() {
            if let Some(b) = tokens[i + 1..]
                .iter()
                .find(|b| a.secret.expose_secret() == b.secret.expose_secret())
            {
                return Err(ConfigError::Invalid(format!(
                    "the API tokens {:?} and {:?} are the same: give each caller its own",
                    a.name, b.name
                )));
            }
        }
        Ok(tokens)
    }
}

impl NamedToken {
    fn load(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ApiToken, ConfigError> {
        let key = format!("api.tokens.{name}");
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid || name == "default" {
            return Err(ConfigError::Invalid(format!(
                "{key}: a token name is 1 to 32 of a-z, 0-9, _ and - (and not \"default\", the token of [api] itself)"
            )));
        }
        if self.scopes.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{key}.scopes is empty: give one or more of enqueue, read, confirm, resolve"
            )));
        }
        let sources = Sources {
            env: format!(
                "{API_BEARER_ENV}_{}",
                name.to_ascii_uppercase().replace('-', "_")
            ),
            file: self.token_file.clone(),
            credential: format!("{API_BEARER_CREDENTIAL}-{name}"),
        };
        let (secret, source) = sources.find(&format!("{key} token"), env)?.ok_or_else(|| {
            ConfigError::MissingCredentials(format!(
                "{key} has no token: set {}, {key}.token_file, or a systemd credential named {}",
                sources.env, sources.credential
            ))
        })?;
        let mut scopes = self.scopes.clone();
        scopes.sort_unstable();
        scopes.dedup();
        Ok(ApiToken {
            name: name.to_owned(),
            scopes,
            secret,
            source,
        })
    }
}

/// Where one token's secret may be, in the order they are tried.
struct Sources {
    env: String,
    file: Option<PathBuf>,
    credential: String,
}

impl Sources {
    /// The secret and where it came from, or `None` when no source has one.
    fn find(
        &self,
        what: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<(SecretString, String)>, ConfigError> {
        if let Some(value) = env(&self.env).filter(|v| !v.trim().is_empty()) {
            let source = format!("environment {}", self.env);
            return Ok(Some((SecretString::from(value.trim().to_owned()), source)));
        }
        if let Some(path) = &self.file {
            let secret = read_secret_file(what, path)?;
            return Ok(Some((secret, format!("file {}", path.display()))));
        }
        if let Some(dir) = env("CREDENTIALS_DIRECTORY") {
            let path = PathBuf::from(dir).join(&self.credential);
            if path.exists() {
                let secret = read_secret_file(what, &path)?;
                return Ok(Some((
                    secret,
                    format!("systemd credential {}", self.credential),
                )));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::credentials::write_private;
    use secrecy::ExposeSecret;

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
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        write_private(&file, "from-file\n");
        write_private(&dir.path().join(API_BEARER_CREDENTIAL), "from-systemd");
        let creds = dir.path().display().to_string();
        let cfg = ApiConfig {
            listen: "127.0.0.1:9188".into(),
            token_file: Some(file),
            tokens: BTreeMap::new(),
        };
        let env = |name: &str| match name {
            API_BEARER_ENV => Some("from-env".to_owned()),
            "CREDENTIALS_DIRECTORY" => Some(creds.clone()),
            _ => None,
        };
        let only = |tokens: Vec<ApiToken>| {
            assert_eq!(tokens.len(), 1);
            assert_eq!(tokens[0].name, "default");
            assert_eq!(tokens[0].scopes, Scope::ALL);
            tokens[0].clone()
        };
        let from_env = only(cfg.load_tokens(&env).unwrap());
        assert_eq!(from_env.secret.expose_secret(), "from-env");
        let no_env = |name: &str| env(name).filter(|_| name != API_BEARER_ENV);
        let from_file = only(cfg.load_tokens(&no_env).unwrap());
        assert_eq!(from_file.secret.expose_secret(), "from-file");
        let systemd_only = ApiConfig {
            token_file: None,
            ..cfg.clone()
        };
        let token = only(systemd_only.load_tokens(&no_env).unwrap());
        assert_eq!(token.secret.expose_secret(), "from-systemd");
        assert!(token.source.contains("systemd credential"));
        let missing = systemd_only.load_tokens(&|_| None).unwrap_err().to_string();
        assert!(missing.contains(API_BEARER_ENV), "{missing}");
    }

    /// Named tokens come from their own variable, file or credential, with the scopes
    /// given; the default token keeps every scope; bad names, empty scopes, a missing
    /// secret and two tokens with one secret are refused, naming the key.
    #[test]
    fn named_tokens_have_their_scopes_and_their_own_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounting");
        write_private(&file, "acc-secret\n");
        let toml = format!(
            "listen = \"127.0.0.1:9188\"\n\
             [tokens.shop]\nscopes = [\"enqueue\", \"read\", \"confirm\"]\n\
             [tokens.accounting]\nscopes = [\"read\", \"resolve\", \"read\"]\ntoken_file = {:?}\n",
            file.display().to_string()
        );
        let cfg: ApiConfig = toml::from_str(&toml).unwrap();
        let env = |name: &str| {
            (name == "LIGDICASH_RECONCILER_API_TOKEN_SHOP").then(|| "shop-secret".to_owned())
        };
        let tokens = cfg.load_tokens(&env).unwrap();
        let names: Vec<_> = tokens
            .iter()
            .map(|t| (t.name.as_str(), t.scopes.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("accounting", vec![Scope::Read, Scope::Resolve]),
                ("shop", vec![Scope::Enqueue, Scope::Read, Scope::Confirm]),
            ]
        );
        assert_eq!(tokens[0].secret.expose_secret(), "acc-secret");
        assert!(!format!("{tokens:?}").contains("secret\""), "redacted");
        let refuse = |toml: &str, env: &dyn Fn(&str) -> Option<String>| {
            let cfg: ApiConfig = toml::from_str(toml).unwrap();
            cfg.load_tokens(env).unwrap_err().to_string()
        };
        let none = |_: &str| None;
        let missing = refuse("[tokens.shop]\nscopes = [\"read\"]\n", &none);
        assert!(
            missing.contains("LIGDICASH_RECONCILER_API_TOKEN_SHOP"),
            "{missing}"
        );
        let bad = refuse("[tokens.Shop]\nscopes = [\"read\"]\n", &none);
        assert!(bad.contains("api.tokens.Shop"), "{bad}");
        let empty = refuse("[tokens.shop]\nscopes = []\n", &env);
        assert!(empty.contains("scopes is empty"), "{empty}");
        let same = |name: &str| name.starts_with(API_BEARER_ENV).then(|| "one".to_owned());
        let twice = refuse("[tokens.shop]\nscopes = [\"read\"]\n", &same);
        assert!(
            twice.contains("\"default\" and \"shop\" are the same"),
            "{twice}"
        );
        assert!(toml::from_str::<ApiConfig>("[tokens.shop]\nscopes = [\"delete\"]\n").is_err());
    }
}
