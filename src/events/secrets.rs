//! Webhook signing secrets: read from where `[[events.webhooks]]` says (an environment
//! variable or a file), checked to decode, and turned into the HMAC keys the webhook sink
//! signs with.
//!
//! This lives beside the signer rather than in `config`: what makes a secret valid is the
//! signature scheme's business ([`super::signature::secret_key`]), and `config` stays a leaf
//! that imports nothing from the modules it configures. `run` and `check-config` both get
//! here through [`super::sinks::Sink::from_config`], so they refuse the same secrets with
//! the same message (exit 3).

use super::signature::secret_key;
use crate::config::credentials::read_secret_file;
use crate::config::{ConfigError, WebhookConfig};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// The HMAC keys of one webhook: one, or several while its secret is rotated (the
/// configured text then holds several whitespace-separated secrets, and each signs every
/// message). Errors name the webhook by its shown URL and never include the secret.
pub fn webhook_keys(
    hook: &WebhookConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<SecretSlice<u8>>, ConfigError> {
    let missing = |why: String| {
        ConfigError::MissingCredentials(format!("webhook {}: {why}", hook.shown_url()))
    };
    // Held as a secret from the moment it is read, so it is wiped when dropped.
    let text = SecretString::from(match (&hook.secret_env, &hook.secret_file) {
        (Some(var), _) => {
            env(var).ok_or_else(|| missing(format!("environment variable {var} is not set")))?
        }
        (None, Some(path)) => match read_secret_file("webhook secret", path) {
            Ok(text) => text.expose_secret().to_owned(),
            Err(ConfigError::Read { source, .. }) => {
                return Err(missing(format!(
                    "cannot read secret_file {}: {source}",
                    path.display()
                )));
            }
            Err(ConfigError::MissingCredentials(why)) => return Err(missing(why)),
            Err(other) => return Err(other),
        },
        (None, None) => return Err(missing("no secret_env or secret_file".into())),
    });
    let text = text.expose_secret().trim();
    if text.is_empty() {
        return Err(missing("the secret is empty".into()));
    }
    text.split_whitespace()
        .map(|secret| {
            secret_key(secret)
                .map(SecretSlice::from)
                .map_err(|e| missing(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn hook(secret_env: Option<&str>, secret_file: Option<std::path::PathBuf>) -> WebhookConfig {
        WebhookConfig {
            url: "https://crm.example/hooks?key=k-9".into(),
            secret_env: secret_env.map(Into::into),
            secret_file,
            name: None,
        }
    }

    fn env_with(value: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name| (name == "HOOK_SECRET").then(|| value.to_owned())
    }

    #[test]
    fn a_secret_is_read_from_its_variable_or_file_and_a_rotation_gives_one_key_each() {
        let keys = webhook_keys(&hook(Some("HOOK_SECRET"), None), &env_with(SECRET)).unwrap();
        assert_eq!(keys.len(), 1);
        let rotating = webhook_keys(
            &hook(Some("HOOK_SECRET"), None),
            &env_with(" whsec_b2xkLXNlY3JldA==\n whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\n"),
        )
        .unwrap();
        assert_eq!(rotating.len(), 2);
        assert_eq!(rotating[0].expose_secret(), b"old-secret");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        crate::config::credentials::write_private(&path, &format!("{SECRET}\n"));
        let keys = webhook_keys(&hook(None, Some(path)), &|_| None).unwrap();
        assert_eq!(keys.len(), 1);
    }

    /// `run` and `check-config` refuse these with exit 3; the message names the webhook and
    /// where its secret should be, never the secret or what the URL hides.
    #[test]
    fn a_missing_empty_or_undecodable_secret_is_refused_without_showing_it() {
        let cases: [(WebhookConfig, &'static str, &str); 4] = [
            (
                hook(Some("UNSET"), None),
                SECRET,
                "environment variable UNSET is not set",
            ),
            (
                hook(Some("HOOK_SECRET"), None),
                "  \n",
                "the secret is empty",
            ),
            (
                hook(Some("HOOK_SECRET"), None),
                "whsec_not!base64-SECRET",
                "not valid base64",
            ),
            (
                hook(None, Some("/nonexistent/secret".into())),
                SECRET,
                "cannot read secret_file /nonexistent/secret",
            ),
        ];
        for (hook, value, needle) in cases {
            let Err(err) = webhook_keys(&hook, &env_with(value)) else {
                panic!("{needle}: accepted");
            };
            assert!(matches!(err, ConfigError::MissingCredentials(_)), "{err}");
            let err = err.to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("webhook https://crm.example/hooks?…"), "{err}");
            assert!(!err.contains("SECRET") && !err.contains("k-9"), "{err}");
        }
    }
}
