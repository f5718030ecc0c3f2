//! Where the LigdiCash API key and token come from, in order of precedence:
//! the environment (`LIGDICASH_API_KEY`, `LIGDICASH_API_TOKEN`), a file named in the config
//! (`api_key_file`, `api_token_file`), a systemd credential (`$CREDENTIALS_DIRECTORY/
//! ligdicash-api-key`, `.../ligdicash-api-token`, set by `LoadCredential=`), and last the
//! config file itself, only when that file is not world-readable.
//!
//! Values are held as [`SecretString`] so `Debug` and panics never print them.

use super::{ConfigError, LigdicashConfig};
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};

pub const API_KEY_ENV: &str = "LIGDICASH_API_KEY";
pub const API_TOKEN_ENV: &str = "LIGDICASH_API_TOKEN";
pub const API_KEY_CREDENTIAL: &str = "ligdicash-api-key";
pub const API_TOKEN_CREDENTIAL: &str = "ligdicash-api-token";

/// The two LigdiCash secrets, with where each came from (for `check-config`).
#[derive(Clone)]
pub struct Credentials {
    pub api_key: SecretString,
    pub api_token: SecretString,
    pub api_key_source: String,
    pub api_token_source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &"<redacted>")
            .field("api_token", &"<redacted>")
            .field("api_key_source", &self.api_key_source)
            .field("api_token_source", &self.api_token_source)
            .finish()
    }
}

impl Credentials {
    /// Looks the credentials up through the documented chain; `env` is injectable for tests.
    pub fn load(
        cfg: &LigdicashConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (api_key, api_key_source) = find(
            "API key",
            API_KEY_ENV,
            cfg.api_key_file.as_deref(),
            API_KEY_CREDENTIAL,
            cfg.api_key.as_ref(),
            env,
        )?;
        let (api_token, api_token_source) = find(
            "API token",
            API_TOKEN_ENV,
            cfg.api_token_file.as_deref(),
            API_TOKEN_CREDENTIAL,
            cfg.api_token.as_ref(),
            env,
        )?;
        Ok(Self {
            api_key,
            api_token,
            api_key_source,
            api_token_source,
        })
    }

    /// Fixed credentials, for the embedded sandbox and tests.
    pub fn fixed(api_key: &str, api_token: &str) -> Self {
        Self {
            api_key: SecretString::from(api_key.to_owned()),
            api_token: SecretString::from(api_token.to_owned()),
            api_key_source: "fixed".into(),
            api_token_source: "fixed".into(),
        }
    }
}

fn find(
    what: &str,
    env_name: &str,
    file: Option<&Path>,
    credential: &str,
    inline: Option<&SecretString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(SecretString, String), ConfigError> {
    if let Some(value) = env(env_name).filter(|v| !v.trim().is_empty()) {
        return Ok((secret(&value), format!("environment {env_name}")));
    }
    if let Some(path) = file {
        return read_secret_file(&format!("LigdiCash {what}"), path)
            .map(|s| (s, format!("file {}", path.display())));
    }
    if let Some(dir) = env("CREDENTIALS_DIRECTORY") {
        let path = PathBuf::from(dir).join(credential);
        if path.exists() {
            return read_secret_file(&format!("LigdiCash {what}"), &path)
                .map(|s| (s, format!("systemd credential {credential}")));
        }
    }
    if let Some(value) = inline.filter(|v| !v.expose_secret().trim().is_empty()) {
        return Ok((value.clone(), "config file".into()));
    }
    Err(ConfigError::MissingCredentials(format!(
        "no LigdiCash {what}: set {env_name}, [ligdicash] {}_file, or a systemd credential named {credential}",
        if what == "API key" {
            "api_key"
        } else {
            "api_token"
        }
    )))
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.trim().to_owned())
}

/// Reads a secret from a file; `what` names it in errors ("LigdiCash API key"). Every
/// file a secret is read from comes here: the LigdiCash key and token files, the shop API's
/// `token_file`, `[database] password_file`, webhook `secret_file`s and systemd
/// credentials (which systemd makes readable by the service alone, so the check holds).
/// A file anyone on the machine can read is refused, as a config file holding a secret is.
pub fn read_secret_file(what: &str, path: &Path) -> Result<SecretString, ConfigError> {
    refuse_world_readable(path, &format!("the {what}"), None)?;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(ConfigError::MissingCredentials(format!(
            "the {what} file {} is empty",
            path.display()
        )));
    }
    Ok(secret(&text))
}

/// Refuses a file that holds a secret (`holds`: "the shop API bearer token") but that any
/// user of the machine can read: whoever can read it can act as the shop or as the
/// reconciler. The one check for the config file and every secret file, so each is
/// refused the same way (exit 3), naming the file and the fix; `instead` names other ways
/// to give the secret. Group-readable stays allowed: a shop's group may need the config.
pub fn refuse_world_readable(
    path: &Path,
    holds: &str,
    instead: Option<&str>,
) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            let instead = instead.map_or_else(String::new, |i| format!(", or {i}"));
            return Err(ConfigError::Invalid(format!(
                "{path} holds {holds} but is world-readable (mode {mode:04o}): chmod 600 {path}{instead}",
                path = path.display(),
            )));
        }
    }
    Ok(())
}

/// Writes a secret file as an operator should: readable by its owner only.
#[cfg(test)]
pub(crate) fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn environment_wins_and_is_trimmed() {
        let env = |name: &str| match name {
            API_KEY_ENV => Some(" key-from-env\n".to_owned()),
            API_TOKEN_ENV => Some("token-from-env".to_owned()),
            _ => None,
        };
        let c = Credentials::load(&LigdicashConfig::default(), &env).unwrap();
        assert_eq!(c.api_key.expose_secret(), "key-from-env");
        assert_eq!(c.api_token_source, "environment LIGDICASH_API_TOKEN");
    }

    #[test]
    fn systemd_credentials_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        write_private(&dir.path().join(API_KEY_CREDENTIAL), "k\n");
        write_private(&dir.path().join(API_TOKEN_CREDENTIAL), "t\n");
        let d = dir.path().to_string_lossy().into_owned();
        let env = move |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| d.clone());
        let c = Credentials::load(&LigdicashConfig::default(), &env).unwrap();
        assert_eq!(c.api_key.expose_secret(), "k");
        assert_eq!(c.api_token.expose_secret(), "t");
    }

    #[test]
    fn missing_credentials_name_every_way_to_provide_them() {
        let err = Credentials::load(&LigdicashConfig::default(), &no_env).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("LIGDICASH_API_KEY") && msg.contains("api_key_file"),
            "{msg}"
        );
    }

    #[test]
    fn debug_redacts_values() {
        let c = Credentials::fixed("very-secret-key", "very-secret-token");
        let debug = format!("{c:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
    }

    /// The one rule for every secret file: readable by others than its owner's group is
    /// refused, naming the file and the fix; group-readable is accepted.
    #[test]
    fn a_world_readable_secret_file_is_refused_and_a_group_readable_one_is_not() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-token");
        write_private(&path, "t-SECRET\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_file("shop API bearer token", &path)
            .unwrap_err()
            .to_string();
        let expected = format!(
            "invalid config: {p} holds the shop API bearer token but is world-readable (mode 0644): chmod 600 {p}",
            p = path.display()
        );
        assert_eq!(err, expected);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let read = read_secret_file("shop API bearer token", &path).unwrap();
        assert_eq!(read.expose_secret(), "t-SECRET");
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_config_with_inline_secrets_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[ligdicash]\napi_key = \"k\"\napi_token = \"t\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(super::super::Config::load(Some(&path)).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        super::super::Config::load(Some(&path)).unwrap();
    }
}
