//! A PostgreSQL URL (`postgres://user@host:port/dbname?sslmode=require`) read into its
//! parts, and the form it may be shown in: without its password, ever.
//!
//! Only what the reconciler uses is accepted: a host (or `localhost`), a port, a user, a
//! database name, and `sslmode`. Any other query parameter is refused by name rather than
//! ignored, as `deny_unknown_fields` refuses a mistyped key: `sslmod=require` must not
//! silently mean "prefer". Errors never quote the URL (it may carry the password).

use secrecy::SecretString;
use url::Url;

/// The default PostgreSQL port.
pub const DEFAULT_PORT: u16 = 5432;

/// `sslmode` of the URL. `require` verifies the server's certificate and name against the
/// system's trust store, as the LigdiCash client does (rustls has no "encrypt but trust
/// anyone" mode, and a shop's payment data should not be sent to whoever answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP: for a server on the same host or a private network.
    Disable,
    /// TLS when the server offers it, plain otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS or no connection.
    Require,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" | "verify-full" => Err(format!(
                "sslmode={text} is not supported: use sslmode=require, which verifies the certificate and the host name against the system's trust store"
            )),
            _ => Err("sslmode must be disable, prefer or require".to_owned()),
        }
    }
}

/// The parts of a PostgreSQL URL.
#[derive(Clone)]
pub struct PgUrl {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub sslmode: SslMode,
    /// The URL's own password, if it has one.
    pub password: Option<SecretString>,
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl PgUrl {
    /// Reads a URL; the error names what is wrong, never the URL itself.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err("must start with postgres:// or postgresql://".to_owned());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("must name a host (postgres://user@host:port/dbname)".to_owned()),
        };
        let user = decoded(url.username(), "user name")?;
        if user.is_empty() {
            return Err("must name a user (postgres://user@host:port/dbname)".to_owned());
        }
        let password = url
            .password()
            .map(|p| decoded(p, "password"))
            .transpose()?
            .filter(|p| !p.is_empty())
            .map(SecretString::from);
        let dbname = decoded(url.path().trim_start_matches('/'), "database name")?;
        if dbname.is_empty() || dbname.contains('/') {
            return Err("must name one database (postgres://user@host:port/dbname)".to_owned());
        }
        let mut sslmode = SslMode::default();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => sslmode = SslMode::parse(&value)?,
                other => {
                    return Err(format!(
                        "has the parameter {other:?}: only sslmode is supported"
                    ));
                }
            }
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".to_owned());
        }
        Ok(Self {
            host,
            port: url.port().unwrap_or(DEFAULT_PORT),
            user,
            dbname,
            sslmode,
            password,
        })
    }

    /// As logs, errors and `check-config` show it: user, host, port, database and
    /// `sslmode`, never the password (not even whether there is one: that is said where
    /// the password's source is reported).
    pub fn shown(&self) -> String {
        let host = match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        };
        format!(
            "postgres://{}@{host}:{}/{}?sslmode={}",
            encoded(&self.user),
            self.port,
            encoded(&self.dbname),
            self.sslmode.as_str()
        )
    }
}

/// A percent-decoded URL part; `what` names it in the error, which never quotes it.
fn decoded(part: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| format!("the {what} is not UTF-8 once decoded"))
}

/// A name as it may stand in a URL again (`@`, `/`, `:`... percent-encoded).
fn encoded(part: &str) -> String {
    const SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(part, SAFE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_full_url_is_read_into_its_parts() {
        let u = PgUrl::parse("postgres://shop:p%40ss-SECRET@db.example:6543/pay?sslmode=require")
            .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.user.as_str(), u.dbname.as_str()),
            ("db.example", 6543, "shop", "pay")
        );
        assert_eq!(u.sslmode, SslMode::Require);
        assert_eq!(u.password.unwrap().expose_secret(), "p@ss-SECRET");
    }

    #[test]
    fn defaults_are_libpqs_port_and_prefer() {
        let u = PgUrl::parse("postgresql://shop@127.0.0.1/pay").unwrap();
        assert_eq!(u.port, 5432);
        assert_eq!(u.sslmode, SslMode::Prefer);
        assert!(u.password.is_none());
        assert_eq!(
            u.shown(),
            "postgres://shop@127.0.0.1:5432/pay?sslmode=prefer"
        );
    }

    #[test]
    fn the_shown_form_and_debug_never_carry_the_password() {
        let u = PgUrl::parse("postgres://shop:pw-SECRET@[::1]:5433/pay?sslmode=disable").unwrap();
        assert_eq!(u.shown(), "postgres://shop@[::1]:5433/pay?sslmode=disable");
        assert!(!format!("{u:?}").contains("SECRET"));
    }

    #[test]
    fn each_bad_url_is_refused_with_its_reason_and_never_quoted() {
        for (text, reason) in [
            ("mysql://shop:pw-SECRET@h/db", "postgres://"),
            ("postgres://:pw-SECRET@h/db", "user"),
            ("postgres://shop:pw-SECRET@h", "one database"),
            (
                "postgres://shop:pw-SECRET@h/db?sslmode=allow",
                "disable, prefer or require",
            ),
            (
                "postgres://shop:pw-SECRET@h/db?sslmode=verify-full",
                "sslmode=require",
            ),
            (
                "postgres://shop:pw-SECRET@h/db?sslmod=require",
                "\"sslmod\"",
            ),
            ("postgres://shop:pw-SECRET@h/db#x", "fragment"),
            ("not a url pw-SECRET", "not a valid URL"),
        ] {
            let err = PgUrl::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(!err.contains("SECRET"), "{err}");
        }
    }
}
