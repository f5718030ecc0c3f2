//! One `run` per database: an exclusive OS lock on `<database>.lock`, and one on the
//! database file itself.
//!
//! An OS file lock is released by the kernel when the process dies, even by SIGKILL, so a
//! crash never leaves a stale lock behind (unlike a PID file or a row in the database).
//!
//! Why two locks. `<database>.lock` sits beside the database's real path (symlinks
//! resolved), so it is shared by every *path* to the file, exists before the database
//! does, and carries the holder's PID. But a hard link is a second real path to the same
//! file: its `<link>.lock` is another file, and two daemons would each hold "their" lock.
//! A lock file named after the file's identity (device and inode) in its directory would
//! still miss a hard link in another directory. So the database file itself is locked too
//! (`flock`), which follows the inode under any name, symlink, hard link or bind mount.
//! On Linux `flock` locks are independent of the POSIX (`fcntl`) locks SQLite takes on the
//! same file, so neither SQLite's locking nor the shop's connections notice it. (Only on
//! NFS does Linux emulate `flock` with `fcntl` locks; WAL mode already rules NFS out.)

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Held for the life of the daemon; dropping it releases the locks.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    /// The database file, locked once it exists (see [`InstanceLock::lock_database`]).
    database: Option<File>,
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
    /// Takes the locks for the database at `db_path`, without waiting: `<database>.lock`,
    /// and the database file itself if it exists already (else call
    /// [`InstanceLock::lock_database`] once it has been created).
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
        let mut lock = Self {
            _file: file,
            database: None,
            path,
        };
        lock.lock_database(db_path)?;
        Ok(lock)
    }

    /// Locks the database file itself, so that a second `run` reaching it under another
    /// name (a hard link) is refused too. Nothing to do while the file does not exist (no
    /// other name for it can exist either) or once locked; `run` calls this again after
    /// opening the database, which creates it.
    pub fn lock_database(&mut self, db_path: &Path) -> Result<(), LockError> {
        if self.database.is_some() {
            return Ok(());
        }
        let io = |source| LockError::Io {
            path: db_path.to_owned(),
            source,
        };
        // Read-only is enough for flock, and never changes the database.
        let file = match File::open(db_path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    path: db_path.to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        self.database = Some(file);
        Ok(())
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

    /// Two real paths of one database (a hard link) share one lock, and the database
    /// created after the first lock is locked once `lock_database` runs.
    #[test]
    fn a_hard_link_to_the_database_takes_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.db");
        let mut first = InstanceLock::acquire(&db).unwrap();
        std::fs::write(&db, b"").unwrap();
        first.lock_database(&db).unwrap();
        let other = tempfile::tempdir_in(dir.path()).unwrap();
        let link = other.path().join("link.db");
        std::fs::hard_link(&db, &link).unwrap();
        let err = InstanceLock::acquire(&link).unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
        drop(first);
        InstanceLock::acquire(&link).unwrap();
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
