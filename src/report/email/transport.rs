//! How a report mail travels: one lettre SMTP transport per process, built once from
//! `[report.email]`, over the process's TLS (rustls with aws-lc-rs, certificates checked
//! by the platform verifier as LigdiCash's are, plus the `ca_file` roots), connecting anew
//! for each mail (one a day needs no pool).
//!
//! Every step has a timeout, and a whole send a deadline, so a server that accepts the
//! connection and then says nothing cannot hold a delivery slot for ever. A failure is
//! told with its causes (`permanent error (535): 5.7.8 Authentication failed`, `Connection
//! error: Connection refused (os error 111)`): never the password, which lettre keeps to
//! itself (its `Credentials` print nothing).

use crate::config::ConfigError;
use crate::config::email::{EmailConfig, SmtpSecurity};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::error::Error as StdError;
use std::path::Path;
use std::time::Duration;

/// Each SMTP step (connect, a command and its reply, the message's data).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A whole send, however many steps.
const SEND_DEADLINE: Duration = Duration::from_secs(120);

/// The configured server, ready to send.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    /// Builds the transport; reads `ca_file`. Nothing is sent or connected yet.
    pub fn new(cfg: &EmailConfig, password: Option<SecretString>) -> Result<Self, ConfigError> {
        let server = cfg.server()?;
        let mut tls = TlsParameters::builder(server.host.clone());
        if let Some(path) = &cfg.ca_file {
            tls = tls.add_root_certificate(read_roots(path)?);
        }
        let tls = tls.build_rustls().map_err(|e| {
            ConfigError::Invalid(format!("report.email: cannot set up TLS: {}", causes(&e)))
        })?;
        let tls = match server.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls),
            SmtpSecurity::StartTls => Tls::Required(tls),
            SmtpSecurity::LoopbackStartTlsIfOffered => Tls::Opportunistic(tls),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host)
            .port(server.port)
            .tls(tls)
            .timeout(Some(STEP_TIMEOUT));
        if let (Some(user), Some(password)) = (&cfg.user, password) {
            let password = password.expose_secret().to_owned();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
        })
    }

    /// Sends one message; the error is its causes, in one line.
    pub async fn send(&self, message: Message) -> Result<(), String> {
        match tokio::time::timeout(SEND_DEADLINE, self.transport.send(message)).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) => Err(causes(&e)),
            Err(_) => Err(format!(
                "the SMTP server did not finish within {}s",
                SEND_DEADLINE.as_secs()
            )),
        }
    }
}

/// The PEM bundle of `ca_file`, refused when it holds no certificate (a key, a typo'd
/// path to the wrong file) rather than failing every night with "UnknownIssuer".
fn read_roots(path: &Path) -> Result<Certificate, ConfigError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let shown = path.display();
    let count = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::Invalid(format!("report.email.ca_file {shown}: {e}")))?
        .len();
    if count == 0 {
        return Err(ConfigError::Invalid(format!(
            "report.email.ca_file {shown} holds no PEM certificate"
        )));
    }
    Certificate::from_pem(&pem)
        .map_err(|e| ConfigError::Invalid(format!("report.email.ca_file {shown}: {e}")))
}

/// An error and its causes, each once, on one line: lettre's own message already ends
/// with its first cause, which the chain would repeat, and a lettre error wrapping
/// another says its kind twice ("Connection error: Connection error: ...").
pub fn causes(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    for cause in std::iter::successors(e.source(), |&c| c.source()) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> EmailConfig {
        EmailConfig {
            url: url.into(),
            user: Some("compta".into()),
            password_file: None,
            from: "r@shop.bf".into(),
            to: vec!["c@cabinet.bf".into()],
            cc: Vec::new(),
            attach_json: false,
            ca_file: None,
        }
    }

    /// A server that is down is named as such, and the error never holds the password.
    #[tokio::test]
    async fn a_server_that_is_down_is_named_without_the_password() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
        drop(closed);
        let smtp = Smtp::new(&config(&url), Some(SecretString::from("pw-SECRET"))).unwrap();
        let message = Message::builder()
            .from("r@shop.bf".parse().unwrap())
            .to("c@cabinet.bf".parse().unwrap())
            .subject("s")
            .body(String::from("b"))
            .unwrap();
        let err = smtp.send(message).await.unwrap_err();
        assert!(err.contains("Connection refused"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
    }

    /// An error as lettre nests them: each level says its kind, then its cause.
    #[derive(Debug)]
    struct Nested(&'static str, Option<Box<Nested>>);

    impl std::fmt::Display for Nested {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match &self.1 {
                Some(inner) => write!(f, "{}: {inner}", self.0),
                None => f.write_str(self.0),
            }
        }
    }

    impl StdError for Nested {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn causes_are_told_once_each_on_one_line() {
        let tls = Nested("invalid peer certificate: UnknownIssuer", None);
        let e = Nested(
            "Connection error",
            Some(Box::new(Nested("Connection error", Some(Box::new(tls))))),
        );
        assert_eq!(
            causes(&e),
            "Connection error: invalid peer certificate: UnknownIssuer"
        );
        let multiline = Nested(
            "permanent error (550)",
            Some(Box::new(Nested("5.1.1 no\r\nsuch user", None))),
        );
        assert_eq!(
            causes(&multiline),
            "permanent error (550): 5.1.1 no  such user"
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let mut cfg = config("smtps://mail.shop.bf");
        cfg.ca_file = Some(path);
        let err = Smtp::new(&cfg, None).err().unwrap().to_string();
        assert!(
            err.contains("report.email.ca_file") && err.contains("no PEM certificate"),
            "{err}"
        );
        cfg.ca_file =
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem").into());
        assert!(Smtp::new(&cfg, None).is_ok());
    }
}
