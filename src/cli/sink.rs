//! Where output goes: standard output and `export --out FILE`. A failed write there is a storage
//! error (exit 4), told apart from the errors of what was being written (an integrity failure
//! half-way through an export stays exit 3).
//!
//! `export --out FILE` never follows or clobbers anything but FILE itself: FILE and its directory
//! must lie outside the ledger directory; the export is written to a temporary file created
//! exclusively (`O_EXCL`, a random name beside FILE, so an existing file or symlink there is
//! never opened), mode 0600 whatever the umask, then flushed, fsynced and renamed over FILE (a
//! symlink at FILE is replaced, not followed), and the directory is fsynced.

use super::UsageError;
use anyhow::Result;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Mode of a file `export --out` creates.
pub const EXPORT_FILE_MODE: u32 = 0o600;

/// A write to standard output or an output file failed (exit 4).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct WriteError {
    /// What was being written.
    pub what: String,
    /// The I/O error, as the system said it.
    pub message: String,
}

/// A writer that remembers its first failure, so that the caller can tell a failed write from
/// any other error that reached it through the same `?`.
#[derive(Debug)]
pub struct Tracked<W> {
    inner: W,
    failure: Option<(io::ErrorKind, String)>,
}

impl<W: Write> Tracked<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Tracked<W> {
        Tracked { inner, failure: None }
    }

    /// The kind and text of the first failed write or flush, if one failed.
    pub fn failure(&self) -> Option<(io::ErrorKind, &str)> {
        self.failure.as_ref().map(|(kind, text)| (*kind, text.as_str()))
    }

    fn note<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            // Interrupted writes are retried by the caller (`write_all`): not a failure.
            if e.kind() != io::ErrorKind::Interrupted && self.failure.is_none() {
                self.failure = Some((e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl<W: Write> Write for Tracked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

/// Runs `write` into a new file that replaces `target` only once complete and on disk.
pub fn export_to_file(
    ledger_dir: &Path,
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let (dir, name) = outside_ledger(ledger_dir, target)?;
    let failed = |what: String| move |e: io::Error| WriteError { what, message: e.to_string() };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(failed(format!("creating a temporary file in {}", dir.display())))?;
    let shown = tmp.path().display().to_string();
    // tempfile asks for 0600, which the umask may narrow; the mode is set, not requested.
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(EXPORT_FILE_MODE))
        .map_err(failed(format!("setting the mode of {shown}")))?;
    let mut w = BufWriter::with_capacity(1 << 20, Tracked::new(tmp.as_file()));
    let written = write(&mut w).and_then(|()| Ok(w.flush()?));
    if let Some((_, message)) = w.get_ref().failure() {
        return Err(WriteError { what: format!("writing {shown}"), message: message.to_string() }.into());
    }
    written?;
    drop(w);
    tmp.as_file().sync_all().map_err(failed(format!("syncing {shown}")))?;
    let path = dir.join(&name);
    tmp.persist(&path).map_err(|e| failed(format!("renaming {shown} to {}", path.display()))(e.error))?;
    File::open(&dir).and_then(|d| d.sync_all()).map_err(failed(format!("syncing directory {}", dir.display())))?;
    Ok(())
}

/// The canonical directory and the file name of `target`, refused (exit 2) if the file or its
/// directory lies inside the ledger directory: an export there could overwrite the ledger.
fn outside_ledger(ledger_dir: &Path, target: &Path) -> Result<(PathBuf, std::ffi::OsString)> {
    let usage = |why: String| UsageError(format!("--out {}: {why}", target.display()));
    let name = target.file_name().ok_or_else(|| usage("names no file".into()))?.to_os_string();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(parent).map_err(|e| usage(format!("directory {}: {e}", parent.display())))?;
    let ledger = fs::canonicalize(ledger_dir).map_err(|e| usage(format!("ledger {}: {e}", ledger_dir.display())))?;
    let inside = dir.starts_with(&ledger) || fs::canonicalize(target).is_ok_and(|t| t.starts_with(&ledger));
    if inside {
        return Err(usage(format!("lies inside the ledger directory {}; export outside it", ledger.display())).into());
    }
    Ok((dir, name))
}
