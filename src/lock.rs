//! One `run` per database: an exclusive OS lock on `<database>.lock`.
//!
//! An OS file lock is released by the kernel when the process dies, even by SIGKILL, so a
//! crash never leaves a stale lock behind (unlike a PID file or a row in the database).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Held for the life of the daemon; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another ligdicash-reconciler is already running on this database (lock {path} is held); stop it first"
    )]
    Held { path: PathBuf },
    #[error("cannot create lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl InstanceLock {
    /// Takes the lock for the database at `db_path`, without waiting.
    pub fn acquire(db_path: &Path) -> Result<Self, LockError> {
        let mut name = resolved(db_path).into_os_string();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let opened = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        // A lock file left by another user (`run` once as root) may be read-only to us; a
        // lock needs no write access, only the PID note does.
        let mut file = match opened {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                // No lock file to fall back on: the directory's refusal is the error.
                File::open(&path).map_err(|_| io(e))?
            }
            other => other.map_err(io)?,
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(LockError::Held { path }),
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Informational only: who holds it.
        let _ = file.set_len(0);
        let _ = writeln!(file, "{}", std::process::id());
        Ok(Self { _file: file, path })
    }
}

/// The database's real path, symlinks resolved, so every name of one database shares one
/// lock. A database not created yet is resolved through its directory.
fn resolved(db_path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(db_path) {
        return real;
    }
    match (db_path.parent(), db_path.file_name()) {
        (Some(dir), Some(file)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::canonicalize(dir).map_or_else(|_| db_path.to_owned(), |d| d.join(file))
        }
        _ => db_path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.db");
        let first = InstanceLock::acquire(&db).unwrap();
        let err = InstanceLock::acquire(&db).unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
        drop(first);
        InstanceLock::acquire(&db).unwrap();
    }

    /// Two names of one database (a symlink) share one lock.
    #[test]
    fn a_symlink_to_the_database_takes_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.db");
        std::fs::write(&db, b"").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&db, &link).unwrap();
        let _first = InstanceLock::acquire(&db).unwrap();
        let err = InstanceLock::acquire(&link).unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
    }
}
