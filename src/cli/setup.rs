//! The commands that prepare or check a deployment without running it: `migrate` and
//! `check-config`.

use super::{Failure, output, process_env, with_db};
use crate::config::{Config, Credentials};
use crate::events::sinks::Sink;
use crate::report::email::Mailer;

/// `migrate`: opening the store creates or upgrades the schema; prints the version.
pub(super) fn migrate(config: &Config) -> Result<(), Failure> {
    let version = with_db(config, async |db| Ok(db.schema_version().await?))?;
    let shown = crate::store::Target::from_config(config, &process_env)?.shown();
    output::line(format_args!(
        "database {shown} is at schema version {version}"
    ))?;
    Ok(())
}

/// `check-config`: loads the credentials and builds the sinks as `run` does, then prints
/// the effective configuration without its secrets.
pub(super) fn check_config(config: &Config) -> Result<(), Failure> {
    let creds = Credentials::load(&config.ligdicash, &process_env)?;
    // Built as `run` builds them: a missing or malformed webhook secret fails here too.
    let sinks = Sink::from_config(&config.events, &process_env)?;
    // As `run` builds it: a missing SMTP password or an unreadable ca_file fails here too.
    let mailer = Mailer::from_config(&config.report, &process_env)?;
    let api_tokens = match config.api.addr()? {
        Some(_) => config.api.load_tokens(&process_env)?,
        None => Vec::new(),
    };
    output::line(format_args!("# configuration is valid"))?;
    output::line(format_args!("# api key: from {}", creds.api_key_source))?;
    output::line(format_args!("# api token: from {}", creds.api_token_source))?;
    for t in &api_tokens {
        let scopes: Vec<_> = t.scopes.iter().map(|s| s.as_str()).collect();
        output::line(format_args!(
            "# shop API token {:?} ({}): from {}",
            t.name,
            scopes.join(", "),
            t.source
        ))?;
    }
    for sink in &sinks {
        output::line(format_args!("# event sink: {}", sink.name()))?;
    }
    if let Some(mailer) = &mailer {
        output::line(format_args!(
            "# event sink: {} (report.generated only): {}",
            crate::config::events::sink_name::EMAIL,
            mailer.shown()
        ))?;
        if let Some(source) = &mailer.password_source {
            output::line(format_args!("# smtp password: from {source}"))?;
        }
    }
    output::write(&config.to_redacted_toml())?;
    Ok(())
}
