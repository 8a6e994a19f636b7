//! Signed checkpoints kept as evidence under `PATH/checkpoints/` (issue 10), never deleted:
//!
//! ```text
//! PATH/checkpoints/<size, 20 digits>-<key ID, 8 hex>.checkpoint   the signed note (C2SP)
//! PATH/checkpoints/<key ID, 8 hex>.vkey                           its verifier key, one line
//! ```
//!
//! Each file is written once: to a temporary file, synced, then linked under its name (which
//! fails if the name exists) and the directory synced. Writing the same bytes again is a
//! no-op; other bytes under an existing name are refused (evidence is never replaced).
//! Readers take no lock: a name appears only with its whole contents.

use super::disk::{create_dir, create_new_file};
use super::snapshots::temp_path;
use super::{fsync_dir, StoreError};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Directory of the checkpoints inside a ledger.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Largest checkpoint or key file read, in bytes.
pub const CHECKPOINT_FILE_BYTES_MAX: u64 = 64 * 1024;
const NOTE_SUFFIX: &str = ".checkpoint";
const KEY_SUFFIX: &str = ".vkey";

/// A stored checkpoint, by its name: tree size and signer key ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredCheckpoint {
    /// Tree size (records) it signs.
    pub size: u64,
    /// The signer's key ID.
    pub key_id: u32,
}

impl StoredCheckpoint {
    /// Its file name.
    pub fn file_name(&self) -> String {
        format!("{:020}-{:08x}{NOTE_SUFFIX}", self.size, self.key_id)
    }

    fn key_file_name(&self) -> String {
        format!("{:08x}{KEY_SUFFIX}", self.key_id)
    }

    fn parse(name: &str) -> Option<StoredCheckpoint> {
        let stem = name.strip_suffix(NOTE_SUFFIX)?;
        let (size, id) = stem.split_once('-')?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !digits(size, 20) || !size.bytes().all(|b| b.is_ascii_digit()) || !digits(id, 8) {
            return None;
        }
        if id.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(StoredCheckpoint { size: size.parse().ok()?, key_id: u32::from_str_radix(id, 16).ok()? })
    }
}

/// Stores a signed checkpoint and its verifier key; `Ok(false)` if this very checkpoint was
/// already stored.
pub fn store(dir: &Path, id: StoredCheckpoint, note: &str, vkey: &str) -> Result<bool, StoreError> {
    create_dir(dir).map_err(|e| StoreError::io("creating", dir, e))?;
    write_once(&dir.join(id.key_file_name()), format!("{vkey}\n").as_bytes())?;
    let new = write_once(&dir.join(id.file_name()), note.as_bytes())?;
    fsync_dir(dir)?;
    Ok(new)
}

/// Writes `bytes` under `path` unless it exists: `Ok(true)` if written, `Ok(false)` if it held
/// these bytes already; other bytes are an error.
fn write_once(path: &Path, bytes: &[u8]) -> Result<bool, StoreError> {
    if let Some(existing) = read_bounded(path)? {
        return same(path, &existing, bytes).map(|()| false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(dir);
    let written = create_new_file(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let existing = read_bounded(path)?.unwrap_or_default();
            same(path, &existing, bytes).map(|()| false)
        }
        Err(e) => Err(StoreError::io("writing", path, e)),
    }
}

fn same(path: &Path, existing: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
    if existing == bytes {
        Ok(())
    } else {
        Err(StoreError::Damaged {
            seq: None,
            what: format!("{} exists with other contents; evidence is never replaced", path.display()),
        })
    }
}

fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("opening", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(CHECKPOINT_FILE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(|e| StoreError::io("reading", path, e))?;
    if bytes.len() as u64 > CHECKPOINT_FILE_BYTES_MAX {
        return Err(StoreError::Damaged {
            seq: None,
            what: format!("{} is larger than {CHECKPOINT_FILE_BYTES_MAX} bytes", path.display()),
        });
    }
    Ok(Some(bytes))
}

/// Every stored checkpoint, by size then key ID.
pub fn list(dir: &Path) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| StoreError::io("listing", dir, e))?.file_name();
        if let Some(c) = StoredCheckpoint::parse(&name.to_string_lossy()) {
            out.push(c);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A stored checkpoint's signed note and verifier key text (unverified).
pub fn read(dir: &Path, id: StoredCheckpoint) -> Result<(Vec<u8>, String), StoreError> {
    let missing = |p: PathBuf| StoreError::Damaged { seq: None, what: format!("{} is missing", p.display()) };
    let note_path = dir.join(id.file_name());
    let note = read_bounded(&note_path)?.ok_or_else(|| missing(note_path.clone()))?;
    let key_path = dir.join(id.key_file_name());
    let key = read_bounded(&key_path)?.ok_or_else(|| missing(key_path.clone()))?;
    let key = String::from_utf8(key)
        .ok()
        .and_then(|k| k.strip_suffix('\n').map(str::to_owned))
        .ok_or_else(|| StoreError::Damaged { seq: None, what: format!("{} is not one line", key_path.display()) })?;
    Ok((note, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_once_listed_in_order_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(CHECKPOINTS_DIR);
        let a = StoredCheckpoint { size: 31, key_id: 0xdead_beef };
        let b = StoredCheckpoint { size: 7, key_id: 1 };
        assert!(store(&dir, a, "note a\n", "k+deadbeef+x").unwrap());
        assert!(!store(&dir, a, "note a\n", "k+deadbeef+x").unwrap());
        assert!(store(&dir, a, "note b\n", "k+deadbeef+x").is_err());
        assert!(store(&dir, b, "note c\n", "j+00000001+y").unwrap());
        assert_eq!(list(&dir).unwrap(), vec![b, a]);
        assert_eq!(read(&dir, a).unwrap(), (b"note a\n".to_vec(), "k+deadbeef+x".to_owned()));
        assert_eq!(StoredCheckpoint::parse(&a.file_name()), Some(a));
        assert_eq!(StoredCheckpoint::parse("00000000000000000031-DEADBEEF.checkpoint"), None);
    }
}
