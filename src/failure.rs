//! How a command or the daemon fails: a one-line message and a documented exit code.
//!
//! The codes are a contract with systemd (the unit does not restart on 2, 3 and 5, which a
//! retry cannot heal; the daemon never exits 6 or 7, which only a `run --once` pass and
//! `report --send` do) and with the shop's scripts and cron, so they are a type, not
//! numbers spread through the code.

use crate::config::ConfigError;
use crate::lock::LockError;
use crate::store::StoreError;

/// The documented exit codes (0 is success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Not a failure: stdout was closed by its reader (`| head`), so the command stopped
    /// early. It exits 0 without a message, as Unix tools do.
    OutputClosed = 0,
    /// A runtime failure: unknown token, conflicting enqueue, a daemon task that failed.
    Failure = 1,
    /// Bad arguments.
    Usage = 2,
    /// Bad configuration or missing credentials.
    Config = 3,
    /// The database is unusable.
    Database = 4,
    /// Another instance already runs on the database.
    Locked = 5,
    /// A `run --once` pass sent confirms and none got through: LigdiCash refused our
    /// credentials, or could not be reached (no HTTP answer), for every one. Nothing broke
    /// here and nothing was lost, but a pass like that every minute confirms nothing, and
    /// an exit 0 would hide it from cron's mail and from monitoring.
    Ligdicash = 6,
    /// `report --send`: the report was written, but the SMTP server refused the mail or
    /// could not be reached. The files are there; the mail can be asked for again.
    Mail = 7,
}

/// A failure with its exit code; the message is printed on one line.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        self.exit as u8
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Self::new(Exit::Config, e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let exit = match e {
            StoreError::NotFound(_)
            | StoreError::Conflict { .. }
            | StoreError::NotRequeueable { .. }
            | StoreError::StillUnreadable { .. } => Exit::Failure,
            _ => Exit::Database,
        };
        Self::new(exit, e.to_string())
    }
}

impl From<LockError> for Failure {
    fn from(e: LockError) -> Self {
        let exit = match e {
            LockError::Held { .. } => Exit::Locked,
            LockError::Io { .. } => Exit::Database,
        };
        Self::new(exit, e.to_string())
    }
}
