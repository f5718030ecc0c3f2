use super::*;
use crate::config::credentials::write_private;
use secrecy::ExposeSecret;

fn email(url: &str) -> EmailConfig {
    EmailConfig {
        url: url.into(),
        user: Some("compta@shop.bf".into()),
        password_file: None,
        from: "Boutique <rapports@shop.bf>".into(),
        to: vec!["compta@cabinet.bf".into()],
        cc: Vec::new(),
        attach_json: false,
        ca_file: None,
    }
}

#[test]
fn each_scheme_gets_its_transport_and_default_port() {
    let cases = [
        (
            "smtps://mail.shop.bf",
            "mail.shop.bf",
            465,
            SmtpSecurity::Tls,
        ),
        (
            "smtps://mail.shop.bf:2465",
            "mail.shop.bf",
            2465,
            SmtpSecurity::Tls,
        ),
        (
            "smtp://mail.shop.bf",
            "mail.shop.bf",
            587,
            SmtpSecurity::StartTls,
        ),
        (
            "smtp://mail.shop.bf:25/",
            "mail.shop.bf",
            25,
            SmtpSecurity::StartTls,
        ),
        (
            "smtp://127.0.0.1:2525",
            "127.0.0.1",
            2525,
            SmtpSecurity::LoopbackStartTlsIfOffered,
        ),
        (
            "smtp://localhost",
            "localhost",
            25,
            SmtpSecurity::LoopbackStartTlsIfOffered,
        ),
        (
            "smtp://[::1]:2525",
            "::1",
            2525,
            SmtpSecurity::LoopbackStartTlsIfOffered,
        ),
    ];
    for (url, host, port, security) in cases {
        let server = email(url).server().unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            server,
            SmtpServer {
                host: host.into(),
                port,
                security
            },
            "{url}"
        );
    }
}

/// Every other form is refused by name, and a URL holding a password never shows it.
#[test]
fn every_other_url_form_is_refused_naming_the_key() {
    let cases = [
        ("http://mail.shop.bf", "scheme \"http\""),
        ("smtp+starttls://mail.shop.bf", "scheme"),
        ("mail.shop.bf:587", "scheme"),
        ("not a url", "not a URL"),
        (
            "smtps://compta:pw-SECRET@mail.shop.bf",
            "must not hold a user or password",
        ),
        (
            "smtps://compta@mail.shop.bf",
            "must not hold a user or password",
        ),
        (
            "smtps://mail.shop.bf/?auth=pw-SECRET",
            "only a scheme, a host and a port",
        ),
        (
            "smtps://mail.shop.bf/relay",
            "only a scheme, a host and a port",
        ),
        ("smtp://", "names no host"),
    ];
    for (url, needle) in cases {
        let err = email(url).validate().unwrap_err().to_string();
        assert!(err.contains("report.email.url"), "{url}: {err}");
        assert!(err.contains(needle), "{url}: {err}");
        assert!(!err.contains("SECRET"), "{url}: {err}");
    }
}

#[test]
fn addresses_are_parsed_and_a_bad_one_is_named_by_its_key() {
    let mut cfg = email("smtps://mail.shop.bf");
    cfg.to
        .push("Cabinet Ouédraogo <ouedraogo@cabinet.bf>".into());
    cfg.cc = vec!["gerant@shop.bf".into()];
    let r = cfg.recipients().unwrap();
    assert_eq!(r.from.email.to_string(), "rapports@shop.bf");
    assert_eq!(r.to.len(), 2);
    assert_eq!(r.to[1].name.as_deref(), Some("Cabinet Ouédraogo"));
    assert_eq!(r.cc[0].email.to_string(), "gerant@shop.bf");

    let bad = |edit: &dyn Fn(&mut EmailConfig)| {
        let mut c = email("smtps://mail.shop.bf");
        edit(&mut c);
        c.validate().unwrap_err().to_string()
    };
    let err = bad(&|c| c.from = "rapports at shop.bf".into());
    assert!(
        err.contains("report.email.from \"rapports at shop.bf\""),
        "{err}"
    );
    let err = bad(&|c| c.to.push("compta@".into()));
    assert!(
        err.contains("report.email.to[1] \"compta@\" is not an e-mail address"),
        "{err}"
    );
    let err = bad(&|c| c.cc = vec!["x".into()]);
    assert!(err.contains("report.email.cc[0]"), "{err}");
    let err = bad(&|c| c.to.clear());
    assert!(
        err.contains("report.email.to must name at least one address"),
        "{err}"
    );
    let err = bad(&|c| c.user = Some(" ".into()));
    assert!(err.contains("report.email.user is empty"), "{err}");
}

/// As the API token and the database password: the environment, then the file, then the
/// systemd credential; a world-readable file is refused; no user, no password looked for.
#[test]
fn the_password_comes_from_the_environment_then_the_file_then_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtp-password");
    write_private(&file, "from-file\n");
    write_private(&dir.path().join(SMTP_PASSWORD_CREDENTIAL), "from-systemd");
    let creds = dir.path().display().to_string();
    let mut cfg = email("smtps://mail.shop.bf");
    cfg.password_file = Some(file.clone());
    let env = |name: &str| match name {
        SMTP_PASSWORD_ENV => Some("from-env".to_owned()),
        "CREDENTIALS_DIRECTORY" => Some(creds.clone()),
        _ => None,
    };
    let password = |cfg: &EmailConfig, env: &dyn Fn(&str) -> Option<String>| {
        let (secret, source) = cfg.load_password(env).unwrap().unwrap();
        (secret.expose_secret().to_owned(), source)
    };
    assert_eq!(password(&cfg, &env).0, "from-env");
    let no_env = |name: &str| env(name).filter(|_| name != SMTP_PASSWORD_ENV);
    assert_eq!(
        password(&cfg, &no_env),
        ("from-file".into(), format!("file {}", file.display()))
    );
    cfg.password_file = None;
    let (secret, source) = password(&cfg, &no_env);
    assert_eq!(secret, "from-systemd");
    assert!(source.contains("systemd credential"), "{source}");
    let missing = cfg.load_password(&|_| None).unwrap_err().to_string();
    assert!(
        missing.contains(SMTP_PASSWORD_ENV) && missing.contains("password_file"),
        "{missing}"
    );

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    cfg.password_file = Some(file);
    let err = cfg.load_password(&no_env).unwrap_err().to_string();
    assert!(
        err.contains("world-readable") && !err.contains("from-file"),
        "{err}"
    );

    cfg.user = None;
    assert!(cfg.load_password(&env).unwrap().is_none());
}

/// `[report.email]` in a file: read into the report's config, shown back by
/// `check-config` without a password (there is none to show), unknown keys refused.
#[test]
fn the_section_is_read_from_the_file_and_unknown_keys_are_refused() {
    let text = "[report.email]\nurl = \"smtps://mail.shop.bf\"\nuser = \"u\"\n\
                from = \"r@shop.bf\"\nto = [\"c@cabinet.bf\"]\nattach_json = true\n";
    let c = crate::config::Config::parse(text).unwrap();
    c.validate().unwrap();
    let e = c.report.email.as_ref().unwrap();
    assert!(e.attach_json && e.cc.is_empty());
    assert!(c.to_redacted_toml().contains("[report.email]"));
    let err =
        crate::config::Config::parse("[report.email]\npassword = \"pw-SECRET\"\n").unwrap_err();
    assert!(err.contains("password") && !err.contains("SECRET"), "{err}");
}

/// The mail carries the HTML page and the CSV (and the JSON when asked): a configuration
/// that does not write them is refused at start, not every night.
#[test]
fn the_mailed_formats_must_be_written() {
    let base = "[report.email]\nurl = \"smtps://mail.shop.bf\"\nfrom = \"r@shop.bf\"\nto = [\"c@cabinet.bf\"]\n";
    let refused = |formats: &str, json: bool| {
        let text = format!("[report]\nformats = {formats}\n{base}attach_json = {json}\n");
        crate::config::Config::parse(&text)
            .unwrap()
            .validate()
            .err()
            .map(|e| e.to_string())
    };
    let err = refused("[\"json\", \"csv\"]", false).unwrap();
    assert!(
        err.contains("HTML") && err.contains("add \"html\""),
        "{err}"
    );
    let err = refused("[\"html\"]", false).unwrap();
    assert!(err.contains("add \"csv\""), "{err}");
    let err = refused("[\"html\", \"csv\"]", true).unwrap();
    assert!(err.contains("add \"json\""), "{err}");
    assert_eq!(refused("[\"html\", \"csv\"]", false), None);
}
