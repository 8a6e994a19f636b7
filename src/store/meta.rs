//! sled 0.34.7: the writer's metadata, a handful of keys that do not grow with the events.
//! Only a writer opens it (holding `LOCK`); readers never do, because opening sled 0.34
//! writes to its files. Everything here is derived: a lost or damaged `meta/` is set aside
//! and rebuilt from the chain.
//!
//! Keys: `manifest` (the index manifest, `store::index::ManifestV1`).

use super::StoreError;
use crate::limits::META_CACHE_BYTES;
use std::fs;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Directory of the sled database inside a ledger.
pub const META_DIR: &str = "meta";
const KEY_MANIFEST: &[u8] = b"manifest";
/// How long a writer waits for sled's own lock, held past `LOCK` by a writer that just ended.
const META_LOCK_WAIT_MS: u64 = 10_000;

/// The open sled database.
pub struct Meta {
    db: sled::Db,
    dir: PathBuf,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meta").field("dir", &self.dir).finish()
    }
}

/// Runs a sled call, turning a panic inside sled (seen on corrupt files) into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> sled::Result<T>) -> Result<T, StoreError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| StoreError::Sled(e.to_string())),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(StoreError::Sled(format!("{what} failed inside sled: {msg}")))
        }
    }
}

impl Meta {
    /// Opens (or creates) the sled database in `dir`. A database sled cannot open is moved
    /// aside to `meta.broken-<unix time>` and a fresh one created: it holds only derived
    /// data, which the caller then rebuilds.
    pub fn open(dir: &Path) -> Result<(Meta, bool), StoreError> {
        match Meta::open_locked(dir) {
            Ok(m) => Ok((m, false)),
            Err(StoreError::Sled(_)) => {
                let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let aside = dir.with_file_name(format!("{META_DIR}.broken-{}-{}", t.as_secs(), t.subsec_nanos()));
                fs::rename(dir, &aside).map_err(|e| StoreError::io("moving aside", dir, e))?;
                Ok((Meta::open_locked(dir)?, true))
            }
            Err(e) => Err(e),
        }
    }

    /// sled's own lock on its files can outlive the previous writer's `LOCK` by a moment (its
    /// threads let go of the file after the process released `LOCK`): wait for it, bounded.
    fn open_locked(dir: &Path) -> Result<Meta, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(META_LOCK_WAIT_MS);
        loop {
            match Meta::open_once(dir) {
                Err(StoreError::Sled(msg)) if msg.contains("could not acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::InUse(dir.to_path_buf()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(crate::limits::LOCK_RETRY_MS));
                }
                r => return r,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<Meta, StoreError> {
        super::disk::create_dir(dir).map_err(|e| StoreError::io("creating", dir, e))?;
        remove_unfinished_snapshots(dir)?;
        // Every setting spelled out: nothing left to sled's defaults (its cache is 1 GiB).
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(META_CACHE_BYTES)
            .mode(sled::Mode::LowSpace)
            .use_compression(false)
            .compression_factor(1)
            .flush_every_ms(None)
            .temporary(false)
            .create_new(false)
            .print_profile_on_drop(false);
        let db = guarded("opening the metadata store", || config.open())?;
        Ok(Meta { db, dir: dir.to_path_buf() })
    }

    /// The stored index manifest.
    pub fn manifest(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(guarded("reading", || self.db.get(KEY_MANIFEST))?.map(|v| v.to_vec()))
    }

    /// Stores the index manifest; `durable` also fsyncs sled's files (needed before run files
    /// the old manifest named are removed).
    pub fn set_manifest(&self, bytes: &[u8], durable: bool) -> Result<(), StoreError> {
        super::ensure_space(&self.dir, bytes.len() as u64)?;
        guarded("writing", || self.db.insert(KEY_MANIFEST, bytes))?;
        guarded("flushing", || self.db.flush())?;
        if durable {
            for entry in fs::read_dir(&self.dir).map_err(|e| StoreError::io("listing", &self.dir, e))? {
                let entry = entry.map_err(|e| StoreError::io("listing", &self.dir, e))?;
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    match fs::File::open(entry.path()).and_then(|f| f.sync_all()) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StoreError::io("syncing", &entry.path(), e)),
                    }
                }
            }
            super::fsync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Removes the page-table snapshots sled had not finished writing when its process died.
///
/// sled 0.34 writes a snapshot to `snap.<lsn>.generating`, fsyncs it, then renames it; on open
/// it reads the name that sorts last, `.generating` included, and a cut-short one fails its
/// CRC: "Read corrupted data" (sled issues #1527, #1533). The previous snapshot and the log
/// still hold everything. Called with the writers' lock held.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("listing", dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing", &entry.path(), e)),
            }
        }
    }
    Ok(())
}
