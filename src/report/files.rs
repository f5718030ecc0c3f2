//! Writing a day's report files: off the async runtime, atomically, and durably.
//!
//! Creating a directory, writing, `fsync` and `rename` block the thread for as long as the
//! disk takes (seconds on a busy or failing disk), and a runtime thread blocked that long
//! stalls the poller and the API beside it. So the whole step, the directory and every
//! format, runs as one task on the blocking pool.
//!
//! Each file is written to a temporary name, synced and renamed over the old one: a reader
//! sees the old file or the whole new one, never half of it. The directory is synced after
//! the renames: on Linux a rename is only durable once its directory is, so without that a
//! crash right after could bring back the old file (or none) under the day's name while
//! `report_runs` says the day is done.

use super::ReportError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `files` (each a name inside `dir` and its contents) into `dir`, created if need
/// be, on the blocking pool. Returns the paths written, in the order given.
pub(super) async fn write_all(
    dir: PathBuf,
    files: Vec<(String, String)>,
) -> Result<Vec<PathBuf>, ReportError> {
    let task_dir = dir.clone();
    match tokio::task::spawn_blocking(move || write_all_blocking(&task_dir, &files)).await {
        Ok(written) => written,
        // A panic in the task (or a runtime shutting down): said as a failure to write
        // the directory, which the scheduled loop retries, never passed on as a panic.
        Err(e) => Err(ReportError::io(
            &dir,
            std::io::Error::other(format!("the task writing the report files ended: {e}")),
        )),
    }
}

/// [`write_all`] on the calling thread.
fn write_all_blocking(dir: &Path, files: &[(String, String)]) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let mut written = Vec::with_capacity(files.len());
    for (name, body) in files {
        written.push(write_atomic(dir, name, body.as_bytes())?);
    }
    sync_dir(dir).map_err(|e| ReportError::io(dir, e))?;
    Ok(written)
}

/// Writes `dir/name` through a temporary file (`dir/.name.tmp`, hidden from a glob of the
/// reports) and a rename: readers see the old file or the whole new one, never half of it.
/// Returns the path written.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, ReportError> {
    let (path, tmp) = (dir.join(name), dir.join(format!(".{name}.tmp")));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    result.map_err(|e| ReportError::io(&path, e))?;
    Ok(path)
}

/// Makes the renames into `dir` durable: an `fsync` of the directory itself.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, String)> {
        vec![
            ("2026-01-02.json".into(), "{}".into()),
            ("2026-01-02.csv".into(), "a,b\n".into()),
        ]
    }

    #[tokio::test]
    async fn every_file_is_written_whole_and_no_temporary_file_is_left() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("reports").join("daily");
        let written = write_all(dir.clone(), files()).await.unwrap();
        assert_eq!(
            written,
            vec![dir.join("2026-01-02.json"), dir.join("2026-01-02.csv")]
        );
        assert_eq!(std::fs::read_to_string(&written[0]).unwrap(), "{}");
        assert_eq!(std::fs::read_to_string(&written[1]).unwrap(), "a,b\n");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["2026-01-02.csv", "2026-01-02.json"]);
    }

    #[tokio::test]
    async fn a_file_written_again_is_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_owned();
        write_all(dir.clone(), files()).await.unwrap();
        let again = vec![("2026-01-02.json".to_owned(), "{\"v\":2}".to_owned())];
        let written = write_all(dir.clone(), again).await.unwrap();
        assert_eq!(std::fs::read_to_string(&written[0]).unwrap(), "{\"v\":2}");
    }

    /// Root may write anywhere, so the directory is made impossible another way: below a
    /// plain file.
    #[tokio::test]
    async fn a_directory_that_cannot_be_created_is_named_in_the_error() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let dir = file.join("reports");
        match write_all(dir.clone(), files()).await {
            Err(ReportError::Io { path, .. }) => assert_eq!(path, dir),
            other => panic!("expected an Io error naming {dir:?}, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_written_is_named_in_the_error() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_owned();
        // A directory where the temporary file would go.
        std::fs::create_dir(dir.join(".2026-01-02.json.tmp")).unwrap();
        match write_all(dir.clone(), files()).await {
            Err(ReportError::Io { path, .. }) => assert_eq!(path, dir.join("2026-01-02.json")),
            other => panic!("expected an Io error naming the file, got {other:?}"),
        }
    }
}
