use super::super::Config;
use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn postgres(backend: DatabaseBackend) -> PgSettings {
    match backend {
        DatabaseBackend::Postgres(pg) => pg,
        other => panic!("expected PostgreSQL, got {other:?}"),
    }
}

#[test]
fn without_a_url_the_backend_is_the_sqlite_file() {
    let c = Config::parse("[database]\npath = \"/var/lib/r/reconciler.db\"\n").unwrap();
    c.validate().unwrap();
    match c.database_backend(&no_env).unwrap() {
        DatabaseBackend::Sqlite { path, busy_timeout } => {
            assert_eq!(path, PathBuf::from("/var/lib/r/reconciler.db"));
            assert_eq!(busy_timeout, Duration::from_secs(5));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_url_in_the_file_selects_postgresql() {
    let c = Config::parse("[database]\nurl = \"postgres://shop@db:5433/pay?sslmode=require\"\n")
        .unwrap();
    c.validate().unwrap();
    let pg = postgres(c.database_backend(&no_env).unwrap());
    assert_eq!(pg.url.host, "db");
    assert_eq!(pg.url.port, 5433);
    assert_eq!(pg.sslmode(), SslMode::Require);
    assert!(pg.password.is_none());
    assert_eq!(pg.source, "url from config file, password none");
}

#[test]
fn the_environment_selects_postgresql_over_the_file() {
    let c = Config::parse("[database]\npath = \"/var/lib/r/reconciler.db\"\n").unwrap();
    let env = env_of(&[(DATABASE_URL_ENV, "postgres://node@10.0.0.5/pay")]);
    let pg = postgres(c.database_backend(&env).unwrap());
    assert_eq!(pg.url.host, "10.0.0.5");
    assert!(pg.source.contains(DATABASE_URL_ENV), "{}", pg.source);
    let bad = env_of(&[(DATABASE_URL_ENV, "postgres://node:pw-SECRET@10.0.0.5")]);
    let err = c.database_backend(&bad).unwrap_err().to_string();
    assert!(
        err.contains(DATABASE_URL_ENV) && !err.contains("SECRET"),
        "{err}"
    );
}

/// Which file holds the payments must never be a guess: exit 3 (`ConfigError::Invalid`).
#[test]
fn a_url_beside_an_explicit_path_is_refused() {
    let c = Config::parse(
        "[database]\npath = \"/var/lib/r/reconciler.db\"\nurl = \"postgres://shop@db/pay\"\n",
    )
    .unwrap();
    let err = c.validate().unwrap_err();
    assert!(matches!(err, ConfigError::Invalid(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("url") && msg.contains("path"), "{msg}");
    let failure = crate::failure::Failure::from(err);
    assert_eq!(failure.exit, crate::failure::Exit::Config);
}

#[test]
fn a_bad_url_in_the_file_is_refused_naming_the_key_not_the_value() {
    let c =
        Config::parse("[database]\nurl = \"postgres://shop:pw-SECRET@db/pay?ssl=1\"\n").unwrap();
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("database.url") && err.contains("\"ssl\""),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
}

#[test]
fn the_password_comes_from_the_url_then_the_file_then_pgpassword() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgpass");
    crate::config::credentials::write_private(&file, "from-file\n");
    let env = env_of(&[(PGPASSWORD_ENV, "from-env")]);
    let with = |url: &str, password_file: Option<&Path>| {
        let c = DatabaseConfig {
            url: Some(DatabaseUrl::new(url)),
            password_file: password_file.map(Path::to_owned),
            ..DatabaseConfig::default()
        };
        let pg = postgres(c.backend(&env).unwrap());
        let password = pg.password.map(|p| p.expose_secret().to_owned());
        (password, pg.source)
    };
    let (password, source) = with("postgres://u:from-url@h/d", Some(&file));
    assert_eq!(password.as_deref(), Some("from-url"));
    assert!(source.ends_with("password from the URL"), "{source}");
    let (password, source) = with("postgres://u@h/d", Some(&file));
    assert_eq!(password.as_deref(), Some("from-file"));
    assert!(source.contains("from file"), "{source}");
    let (password, source) = with("postgres://u@h/d", None);
    assert_eq!(password.as_deref(), Some("from-env"));
    assert!(source.contains(PGPASSWORD_ENV), "{source}");
}

#[test]
fn debug_and_check_config_never_show_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgpass");
    crate::config::credentials::write_private(&file, "file-SECRET\n");
    let text = "[database]\nurl = \"postgres://shop:url-SECRET@db:5432/pay\"\n";
    let c = Config::parse(text).unwrap();
    let rendered = c.to_redacted_toml();
    assert!(
        rendered.contains("url = \"postgres://shop@db:5432/pay?sslmode=prefer\""),
        "{rendered}"
    );
    let env = env_of(&[(PGPASSWORD_ENV, "env-SECRET")]);
    let pg = postgres(c.database_backend(&env).unwrap());
    let mut from_file = c.database.clone();
    from_file.url = Some(DatabaseUrl::new("postgres://shop@db/pay"));
    from_file.password_file = Some(file);
    let pg_file = postgres(from_file.backend(&env).unwrap());
    for text in [
        format!("{c:?}"),
        rendered,
        format!("{pg:?}"),
        format!("{pg_file:?}"),
        pg.source.clone(),
    ] {
        assert!(!text.contains("SECRET"), "{text}");
    }
    assert!(format!("{pg_file:?}").contains("<redacted>"));
}

#[cfg(unix)]
#[test]
fn a_world_readable_file_with_a_password_in_its_url_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[database]\nurl = \"postgres://u:pw@h/d\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Config::load(Some(&path)).unwrap_err().to_string();
    assert!(
        err.contains("world-readable") && !err.contains("pw@"),
        "{err}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Config::load(Some(&path)).unwrap();
    std::fs::write(&path, "[database]\nurl = \"postgres://u@h/d\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    Config::load(Some(&path)).unwrap();
}
