//! Projection snapshot files: `snapshots/head.qsnap` (the quota state at the newest commit
//! the writer finished) and `snapshots/<records>.qsnap` every `SNAPSHOT_INTERVAL_RECORDS`.
//! Derived data: written by a temporary file and a rename (readers see a whole file or the
//! old one), not synced; a damaged or stale one is ignored by readers, rewritten by the next
//! writer and reported by `verify`.

use super::disk::create_new_file;
use super::StoreError;
use crate::format::snapshot::{decode_snapshot_file, encode_snapshot_file};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Directory of the snapshot files inside a ledger.
pub const SNAPSHOTS_DIR: &str = "snapshots";
const HEAD_NAME: &str = "head.qsnap";
const SUFFIX: &str = ".qsnap";

/// A snapshot file's contents: either the snapshot bytes, or why they are unusable.
pub type SnapshotRead = Result<Vec<u8>, String>;

/// Writes `snapshots/head.qsnap`.
pub fn write_head(dir: &Path, snapshot: &[u8]) -> Result<(), StoreError> {
    write_atomically(&dir.join(HEAD_NAME), &encode_snapshot_file(snapshot))
}

/// Writes the periodic snapshot after `records` records.
pub fn write_periodic(dir: &Path, records: u64, snapshot: &[u8]) -> Result<(), StoreError> {
    write_atomically(&dir.join(periodic_name(records)), &encode_snapshot_file(snapshot))
}

fn periodic_name(records: u64) -> String {
    format!("{records:020}{SUFFIX}")
}

/// Writes a file under a random temporary name beside `path`, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(dir);
    let result = create_new_file(&tmp).and_then(|mut f| f.write_all(bytes)).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io("writing", path, e));
    }
    Ok(())
}

/// A fresh temporary name in `dir` (`.tmp-<pid>-<random>`).
pub fn temp_path(dir: &Path) -> PathBuf {
    let mut r = [0u8; 8];
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let h = blake3::hash(format!("{}-{nanos}-{:p}", std::process::id(), &r).as_bytes());
    r.copy_from_slice(&h.as_bytes()[..8]);
    dir.join(format!(".tmp-{}-{}", std::process::id(), crate::format::chain::hex(&r)))
}

/// Bytes of a snapshot file before the snapshot itself (magic, format, padding, length).
const FILE_HEADER_BYTES: usize = 24;

/// The first byte of the snapshot inside the periodic snapshot file after `records` records
/// (the snapshot's own format), reading only the file's first bytes: `None` if the file is
/// missing or too short.
pub fn periodic_format(dir: &Path, records: u64) -> Result<Option<u8>, StoreError> {
    use std::io::Read;
    let path = dir.join(periodic_name(records));
    let mut head = [0u8; FILE_HEADER_BYTES + 1];
    let read = fs::File::open(&path).and_then(|mut f| f.read_exact(&mut head));
    match read {
        Ok(()) => Ok(Some(head[FILE_HEADER_BYTES])),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof) => Ok(None),
        Err(e) => Err(StoreError::io("reading", &path, e)),
    }
}

/// Moves the periodic snapshot after `records` records into `recovered` (created owner-only if
/// missing): kept, never deleted, but out of the way of readers and `verify`.
pub fn set_aside_periodic(dir: &Path, records: u64, recovered: &Path) -> Result<(), StoreError> {
    if let Err(e) = super::disk::create_dir(recovered) {
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(StoreError::io("creating", recovered, e));
        }
    }
    let from = dir.join(periodic_name(records));
    let to = recovered.join(format!("stale-snapshot-{}", periodic_name(records)));
    fs::rename(&from, &to).map_err(|e| StoreError::io("moving", &from, e))
}

/// Reads the head snapshot: `None` if there is none.
pub fn read_head(dir: &Path) -> Result<Option<SnapshotRead>, StoreError> {
    read_file(&dir.join(HEAD_NAME))
}

/// Reads the periodic snapshot after `records` records.
pub fn read_periodic(dir: &Path, records: u64) -> Result<Option<SnapshotRead>, StoreError> {
    read_file(&dir.join(periodic_name(records)))
}

fn read_file(path: &Path) -> Result<Option<SnapshotRead>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(decode_snapshot_file(&bytes).map(<[u8]>::to_vec).map_err(|e| e.to_string()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading", path, e)),
    }
}

/// Record counts of every periodic snapshot, ascending.
pub fn list_periodic(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io("listing", dir, e)),
    };
    for e in entries {
        let name = e.map_err(|e| StoreError::io("listing", dir, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(SUFFIX).filter(|n| n.len() == 20).and_then(|n| n.parse::<u64>().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Removes temporary files a writer that died left behind (called with the writer's lock).
pub fn remove_temporaries(dir: &Path) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("listing", dir, e)),
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(())
}
