//! The sled adapter: the only module that imports sled.
//!
//! A ledger is a directory:
//! ```text
//! PATH/FORMAT      "quotaledger ledger format 1": marks the directory as a ledger
//! PATH/LOCK        an exclusive lock held by the one process using the ledger
//! PATH/store/      the sled database (one tree)
//! ```
//! Keys in the sled tree (values are `format` wire types):
//! ```text
//! "b" seq:u64 BE   a block of records whose first record has that seq
//! "h"              the head (record count, last hash)
//! "p"              the quota snapshot at the head
//! "s" n:u64 BE     a quota snapshot after n records (every SNAPSHOT_INTERVAL_RECORDS)
//! "i" n:u16 BE    command-side index bucket n (order rows and idempotency keys)
//! "t"              staging marker: u64 BE head record count a large append started from
//! "w"              u64 BE: sled blob files up to this number were fsynced
//! ```
//! Architecture Invariant: every write is one `Commit` applied as one sled batch, then flushed
//! and fsynced; a failed write poisons the store so that nothing more is written through it.

use crate::limits::{DISK_SPACE_FACTOR, DISK_SPACE_MARGIN_BYTES, LOCK_RETRY_MS, STORE_CACHE_BYTES};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The text of `PATH/FORMAT`.
pub const FORMAT_MARKER: &str = "quotaledger ledger format 1\n";
const FORMAT_FILE: &str = "FORMAT";
const LOCK_FILE: &str = "LOCK";
const STORE_DIR: &str = "store";

const PREFIX_BLOCK: u8 = b'b';
const KEY_HEAD: &[u8] = b"h";
const KEY_HEAD_SNAPSHOT: &[u8] = b"p";
const KEY_STAGING: &[u8] = b"t";
const KEY_BLOBS_SYNCED: &[u8] = b"w";
const PREFIX_SNAPSHOT: u8 = b's';
const PREFIX_INDEX: u8 = b'i';

/// A storage failure. Every variant maps to exit code 4.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the ledger.
    #[error("ledger {0} is in use by another process (retry, or pass --wait SECONDS)")]
    InUse(PathBuf),
    /// The directory is not a ledger.
    #[error("{path} is not a quotaledger ledger: {why}")]
    NotALedger {
        /// The directory.
        path: PathBuf,
        /// What was found.
        why: String,
    },
    /// Written by a newer (or unknown) format.
    #[error("{path} was written by an unsupported ledger format ({found:?}); this qledger reads format 1")]
    UnsupportedFormat {
        /// The directory.
        path: PathBuf,
        /// The marker found.
        found: String,
    },
    /// A file system call failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error (in the message, not a separate cause, so it is printed once).
        error: io::Error,
    },
    /// Not enough free space for a commit: refused before anything is written.
    #[error(
        "not enough free space in {path}: this append needs about {needed_bytes} bytes, {available_bytes} are free"
    )]
    DiskFull {
        /// The store directory.
        path: PathBuf,
        /// Estimated need, margin included.
        needed_bytes: u64,
        /// Free bytes available to this process.
        available_bytes: u64,
    },
    /// sled reported an error (or panicked, which is caught and reported here).
    #[error("store error: {0}")]
    Sled(String),
    /// An earlier write failed; the store refuses further writes.
    #[error("an earlier write to this ledger failed; it accepts no further writes in this process")]
    Poisoned,
    /// A stored key has a shape no writer produces.
    #[error("stored key {0:02x?} is malformed")]
    BadKey(Vec<u8>),
}

impl StoreError {
    fn io(what: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError::Io { what, path: path.to_path_buf(), error: source }
    }
}

fn sled_err(e: sled::Error) -> StoreError {
    StoreError::Sled(e.to_string())
}

/// Runs a sled call, turning a panic inside sled (seen on corrupt files) into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> sled::Result<T>) -> Result<T, StoreError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(sled_err),
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

/// How to open a ledger directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the ledger if the directory is missing or empty.
    CreateIfMissing,
    /// The ledger must already exist.
    MustExist,
}

/// Everything one `append` writes, applied as one atomic sled batch.
#[derive(Debug, Default)]
pub struct Commit {
    /// `(first seq, block bytes)`.
    pub blocks: Vec<(u64, Vec<u8>)>,
    /// The new head.
    pub head: Vec<u8>,
    /// The quota snapshot at the new head.
    pub head_snapshot: Vec<u8>,
    /// `(records, snapshot bytes)` for periodic snapshots.
    pub snapshots: Vec<(u64, Vec<u8>)>,
    /// `(bucket, bytes)` of changed index buckets.
    pub index_buckets: Vec<(u16, Vec<u8>)>,
    /// First seqs of uncommitted blocks (left beyond the head by an interrupted append) to
    /// remove.
    pub remove_blocks: Vec<u64>,
}

/// An open, locked ledger store.
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    poisoned: bool,
    /// Blob files numbered up to this were fsynced by an earlier commit.
    blobs_synced: u64,
    // Held for the life of the store: the OS lock is released when the file closes.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).field("poisoned", &self.poisoned).finish()
    }
}

impl Store {
    /// Opens (or creates) the ledger at `dir`, waiting up to `wait` for another process to
    /// release it.
    pub fn open(dir: &Path, mode: OpenMode, wait: Option<Duration>) -> Result<Store, StoreError> {
        let lock = match read_marker(dir)? {
            Some(()) => lock(dir, wait)?,
            None => {
                if mode == OpenMode::MustExist {
                    let why = if dir.exists() { "it has no FORMAT file" } else { "it does not exist" };
                    return Err(StoreError::NotALedger {
                        path: dir.to_path_buf(),
                        why: format!("{why} (create one with `qledger init` or `qledger append`)"),
                    });
                }
                // Checked before anything is written into a directory that is not ours.
                check_creatable(dir)?;
                fs::create_dir_all(dir).map_err(|e| StoreError::io("creating", dir, e))?;
                // Creators serialize on the lock: the first creates, the others then find FORMAT.
                let lock = lock(dir, wait)?;
                if read_marker(dir)?.is_none() {
                    check_creatable(dir)?;
                    create_ledger_dir(dir)?;
                }
                lock
            }
        };
        let store_dir = dir.join(STORE_DIR);
        if !store_dir.is_dir() {
            return Err(StoreError::NotALedger {
                path: dir.to_path_buf(),
                why: "its store/ directory is missing".into(),
            });
        }
        // Every setting spelled out: no reliance on sled's defaults (its cache is 1 GiB).
        let config = sled::Config::new()
            .path(&store_dir)
            .cache_capacity(STORE_CACHE_BYTES)
            .mode(sled::Mode::LowSpace)
            .use_compression(false)
            .compression_factor(1)
            .flush_every_ms(None)
            .temporary(false)
            .create_new(false)
            .print_profile_on_drop(false);
        // sled holds its own lock on store/db until its background threads let go of the file,
        // which can outlive the previous holder's `LOCK` by a moment: that is "in use" too.
        let deadline = wait.map(|w| Instant::now() + w);
        let db = loop {
            // Again on every try: a previous holder still finishing may have left one.
            remove_unfinished_snapshots(&store_dir)?;
            match guarded("opening the store", || config.open()) {
                Ok(db) => break db,
                Err(StoreError::Sled(msg)) if msg.contains("could not acquire lock") => match deadline {
                    Some(d) if Instant::now() < d => std::thread::sleep(Duration::from_millis(LOCK_RETRY_MS)),
                    _ => return Err(StoreError::InUse(dir.to_path_buf())),
                },
                Err(e) => return Err(e),
            }
        };
        let blobs_synced = match guarded("reading", || db.get(KEY_BLOBS_SYNCED))? {
            Some(v) => <[u8; 8]>::try_from(&v[..]).map(u64::from_be_bytes).unwrap_or(0),
            None => 0,
        };
        Ok(Store { db, dir: dir.to_path_buf(), poisoned: false, blobs_synced, _lock: lock })
    }

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        guarded("reading", || self.db.get(key))
    }

    /// The stored head, if any record was ever appended.
    pub fn head(&self) -> Result<Option<sled::IVec>, StoreError> {
        self.get(KEY_HEAD)
    }

    /// The quota snapshot at the head.
    pub fn head_snapshot(&self) -> Result<Option<sled::IVec>, StoreError> {
        self.get(KEY_HEAD_SNAPSHOT)
    }

    /// The staging marker: the head record count an interrupted (or running) large append
    /// started from, if any.
    pub fn staging_marker(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.get(KEY_STAGING)?.map(|v| match <[u8; 8]>::try_from(&v[..]) {
            Ok(b) => u64::from_be_bytes(b),
            // A malformed marker vouches for nothing.
            Err(_) => u64::MAX,
        }))
    }

    /// A command-side index bucket.
    pub fn index_bucket(&self, bucket: u16) -> Result<Option<sled::IVec>, StoreError> {
        self.get(&prefixed(PREFIX_INDEX, &bucket.to_be_bytes()))
    }

    /// Every stored index bucket, in order: `(bucket, bytes)`.
    pub fn index_buckets(&self) -> impl Iterator<Item = Result<(u16, sled::IVec), StoreError>> + '_ {
        self.db.scan_prefix([PREFIX_INDEX]).map(|r| {
            let (k, v) = r.map_err(sled_err)?;
            match &k[..] {
                [PREFIX_INDEX, hi, lo] => Ok((u16::from_be_bytes([*hi, *lo]), v)),
                _ => Err(StoreError::BadKey(k.to_vec())),
            }
        })
    }

    /// First seqs of blocks stored at or beyond `records` (uncommitted: beyond the head).
    pub fn blocks_beyond(&self, records: u64) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for item in self.blocks_from(records)? {
            let (first, _) = item?;
            if first >= records {
                out.push(first);
            }
        }
        Ok(out)
    }

    /// Writes blocks of a large append ahead of its commit, beyond the head, where readers
    /// ignore them; they count only once a commit moves the head over them. Not synced here:
    /// the commit's flush and fsync cover them.
    ///
    /// Every staged batch also writes the staging marker: the record count of the head the
    /// append started from. Blocks beyond the head are legitimate only under a marker equal to
    /// the head; without one they were put there some other way, and nothing removes them.
    pub fn stage(
        &mut self,
        blocks: Vec<(u64, Vec<u8>)>,
        remove_blocks: &[u64],
        head_records: u64,
    ) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        self.ensure_space(blocks.iter().map(|(_, b)| b.len() as u64).sum())?;
        let mut batch = sled::Batch::default();
        for seq in remove_blocks {
            batch.remove(prefixed(PREFIX_BLOCK, &seq.to_be_bytes()));
        }
        for (seq, bytes) in blocks {
            batch.insert(prefixed(PREFIX_BLOCK, &seq.to_be_bytes()), bytes);
        }
        batch.insert(KEY_STAGING, &head_records.to_be_bytes()[..]);
        self.poisoned = true;
        guarded("writing", || self.db.apply_batch(batch))?;
        self.poisoned = false;
        Ok(())
    }

    /// Removes the blocks a refused append staged, and its staging marker.
    pub fn unstage(&mut self, staged: &[u64]) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let mut batch = sled::Batch::default();
        for seq in staged {
            batch.remove(prefixed(PREFIX_BLOCK, &seq.to_be_bytes()));
        }
        batch.remove(KEY_STAGING);
        self.poisoned = true;
        guarded("writing", || self.db.apply_batch(batch))?;
        self.poisoned = false;
        Ok(())
    }

    /// The latest periodic snapshot taken after at most `records` records.
    pub fn snapshot_at_or_before(&self, records: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        let hi = prefixed(PREFIX_SNAPSHOT, &records.to_be_bytes());
        let found = guarded("reading", || self.db.range(vec![PREFIX_SNAPSHOT]..=hi).next_back().transpose())?;
        match found {
            None => Ok(None),
            Some((k, v)) => Ok(Some((seq_key(PREFIX_SNAPSHOT, &k)?, v))),
        }
    }

    /// Every periodic snapshot, in order: `(records, bytes)`.
    pub fn snapshots(&self) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + '_ {
        self.db.scan_prefix([PREFIX_SNAPSHOT]).map(|r| {
            let (k, v) = r.map_err(sled_err)?;
            Ok((seq_key(PREFIX_SNAPSHOT, &k)?, v))
        })
    }

    /// Blocks in key order, starting with the block that holds record `seq` (or the first
    /// block after it): `(first seq from the key, bytes)`.
    pub fn blocks_from(&self, seq: u64) -> Result<Blocks, StoreError> {
        let at = prefixed(PREFIX_BLOCK, &seq.to_be_bytes());
        let start = guarded("reading", || self.db.range(vec![PREFIX_BLOCK]..=at).next_back().transpose())?;
        let start_key = match start {
            Some((k, _)) => k.to_vec(),
            None => vec![PREFIX_BLOCK],
        };
        Ok(Blocks { iter: self.db.range(start_key..vec![PREFIX_BLOCK + 1]) })
    }

    /// Applies a commit atomically, then makes it durable (sled flush, then fsync).
    pub fn commit(&mut self, c: Commit) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let values = |v: &[(u64, Vec<u8>)]| v.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        let bytes = values(&c.blocks)
            + values(&c.snapshots)
            + c.index_buckets.iter().map(|(_, b)| b.len() as u64).sum::<u64>()
            + (c.head.len() + c.head_snapshot.len()) as u64;
        self.ensure_space(bytes)?;
        let mut batch = sled::Batch::default();
        for seq in c.remove_blocks {
            batch.remove(prefixed(PREFIX_BLOCK, &seq.to_be_bytes()));
        }
        for (seq, bytes) in c.blocks {
            batch.insert(prefixed(PREFIX_BLOCK, &seq.to_be_bytes()), bytes);
        }
        for (records, bytes) in c.snapshots {
            batch.insert(prefixed(PREFIX_SNAPSHOT, &records.to_be_bytes()), bytes);
        }
        for (bucket, bytes) in c.index_buckets {
            batch.insert(prefixed(PREFIX_INDEX, &bucket.to_be_bytes()), bytes);
        }
        batch.insert(KEY_HEAD_SNAPSHOT, c.head_snapshot);
        batch.insert(KEY_HEAD, c.head);
        batch.remove(KEY_STAGING);
        // Poison first: if anything below fails, the store refuses further writes.
        self.poisoned = true;
        guarded("writing", || self.db.apply_batch(batch))?;
        self.sync()?;
        self.poisoned = false;
        Ok(())
    }

    /// Refuses a write that might not fit. sled 0.34 does not fail cleanly when the disk fills
    /// up mid-write (seen: a flush that reports success, then a store that no longer opens), so
    /// the ledger checks before writing, with room for sled's rewrites of whole tree nodes.
    fn ensure_space(&self, bytes: u64) -> Result<(), StoreError> {
        let store_dir = self.dir.join(STORE_DIR);
        let available_bytes =
            fs2::available_space(&store_dir).map_err(|e| StoreError::io("measuring free space in", &store_dir, e))?;
        let needed_bytes = bytes.saturating_mul(DISK_SPACE_FACTOR).saturating_add(DISK_SPACE_MARGIN_BYTES);
        if available_bytes < needed_bytes {
            return Err(StoreError::DiskFull { path: store_dir, needed_bytes, available_bytes });
        }
        Ok(())
    }

    /// Flushes sled's buffers and fsyncs the store's files. sled 0.34's `flush` ends with
    /// `sync_file_range`, which does not flush a drive's write cache; `fsync` does.
    ///
    /// sled never rewrites a blob file (it writes a new one, named by its increasing log
    /// sequence number), so only blobs above the watermark need an fsync: syncing all of them
    /// made a one-event append on a 1M-event ledger cost ~1000 fsyncs. The watermark lives in
    /// the tree itself (key "w"), written after the fsyncs it vouches for, so it can lag the
    /// files (more fsyncs) but never run ahead of them, nor of a store restored from a backup;
    /// blobs a crashed writer left unsynced are above it, so the next commit syncs them.
    fn sync(&mut self) -> Result<(), StoreError> {
        guarded("flushing", || self.db.flush())?;
        let store_dir = self.dir.join(STORE_DIR);
        let blobs_dir = store_dir.join("blobs");
        let watermark = self.blobs_synced;
        let mut highest = watermark;
        if blobs_dir.is_dir() {
            let entries = fs::read_dir(&blobs_dir).map_err(|e| StoreError::io("listing", &blobs_dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io("listing", &blobs_dir, e))?;
                let lsn = entry.file_name().to_str().and_then(|n| n.parse::<u64>().ok());
                if lsn.is_some_and(|n| n <= watermark) {
                    continue;
                }
                fsync_file(&entry.path())?;
                highest = highest.max(lsn.unwrap_or(0));
            }
            fsync_dir(&blobs_dir)?;
        }
        let entries = fs::read_dir(&store_dir).map_err(|e| StoreError::io("listing", &store_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("listing", &store_dir, e))?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                fsync_file(&entry.path())?;
            }
        }
        fsync_dir(&store_dir)?;
        if highest > watermark {
            self.blobs_synced = highest;
            // Best effort and not fsynced: if this is lost, a later commit syncs more blobs
            // than it must. Written after the fsyncs, so it never claims an unsynced blob.
            let _ = guarded("writing", || self.db.insert(KEY_BLOBS_SYNCED, &highest.to_be_bytes()[..]))
                .and_then(|_| guarded("flushing", || self.db.flush()));
        }
        Ok(())
    }
}

/// Iterator over stored blocks.
/// Owns its position in the tree, so a reader thread can carry it.
pub struct Blocks {
    iter: sled::Iter,
}

impl Iterator for Blocks {
    type Item = Result<(u64, sled::IVec), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match panic::catch_unwind(AssertUnwindSafe(|| self.iter.next())) {
            Ok(item) => item?,
            Err(_) => return Some(Err(StoreError::Sled("reading a block panicked inside sled".into()))),
        };
        Some(item.map_err(sled_err).and_then(|(k, v)| Ok((seq_key(PREFIX_BLOCK, &k)?, v))))
    }
}

fn prefixed(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.len());
    k.push(prefix);
    k.extend_from_slice(rest);
    k
}

fn seq_key(prefix: u8, key: &[u8]) -> Result<u64, StoreError> {
    match key {
        [p, rest @ ..] if *p == prefix && rest.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(rest);
            Ok(u64::from_be_bytes(b))
        }
        _ => Err(StoreError::BadKey(key.to_vec())),
    }
}

/// Removes the page-table snapshots sled had not finished writing when its process died.
///
/// sled 0.34 writes a snapshot to `snap.<lsn>.generating`, fsyncs it, then renames it; on open
/// it reads the name that sorts last, `.generating` included, and a cut-short one fails its
/// CRC: "Read corrupted data", and the store no longer opens (sled issues #1527, #1533; seen
/// here after ~900 kill -9 rounds). An unfinished snapshot is never the only copy of anything:
/// the previous snapshot and the log are still there, so removing it loses nothing. Called
/// with the ledger's lock held, so no live sled of ours is writing it.
fn remove_unfinished_snapshots(store_dir: &Path) -> Result<(), StoreError> {
    let entries = fs::read_dir(store_dir).map_err(|e| StoreError::io("listing", store_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("listing", store_dir, e))?;
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

/// `Some(())` if `dir` holds this format's FORMAT file, `None` if it has none.
fn read_marker(dir: &Path) -> Result<Option<()>, StoreError> {
    let marker = dir.join(FORMAT_FILE);
    match fs::read(&marker) {
        Ok(bytes) if bytes == FORMAT_MARKER.as_bytes() => Ok(Some(())),
        Ok(bytes) => {
            let found = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).trim().to_string();
            Err(StoreError::UnsupportedFormat { path: dir.to_path_buf(), found })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading", &marker, e)),
    }
}

/// A ledger may be created in a missing or empty directory, or over what an interrupted or
/// concurrent creation leaves (`LOCK`, `store/` before `FORMAT` exists, `FORMAT.*.tmp`).
fn check_creatable(dir: &Path) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(it) => it,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("reading directory", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("reading directory", dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let leftover =
            name == LOCK_FILE || name == STORE_DIR || (name.starts_with("FORMAT.") && name.ends_with(".tmp"));
        if !leftover {
            return Err(StoreError::NotALedger {
                path: dir.to_path_buf(),
                why: "the directory is not empty and has no FORMAT file".to_string(),
            });
        }
    }
    Ok(())
}

fn create_ledger_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir.join(STORE_DIR)).map_err(|e| StoreError::io("creating", dir, e))?;
    // The marker is written last and atomically (temp file + rename), so a directory with a
    // FORMAT file always has its store/ directory.
    let tmp = dir.join(format!("FORMAT.{}.tmp", std::process::id()));
    let mut f = File::create(&tmp).map_err(|e| StoreError::io("creating", &tmp, e))?;
    f.write_all(FORMAT_MARKER.as_bytes()).map_err(|e| StoreError::io("writing", &tmp, e))?;
    f.sync_all().map_err(|e| StoreError::io("syncing", &tmp, e))?;
    fs::rename(&tmp, dir.join(FORMAT_FILE)).map_err(|e| StoreError::io("renaming", &tmp, e))?;
    // Temporary files of creators that died before renaming theirs are no longer needed.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("FORMAT.") && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    fsync_dir(dir)
}

fn lock(dir: &Path, wait: Option<Duration>) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::io("opening", &path, e))?;
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) => match deadline {
                Some(d) if Instant::now() < d => std::thread::sleep(Duration::from_millis(LOCK_RETRY_MS)),
                _ => return Err(StoreError::InUse(dir.to_path_buf())),
            },
            Err(fs::TryLockError::Error(e)) => return Err(StoreError::io("locking", &path, e)),
        }
    }
}

fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io("syncing", dir, e))
}

fn fsync_file(path: &Path) -> Result<(), StoreError> {
    match File::open(path).and_then(|f| f.sync_all()) {
        Ok(()) => Ok(()),
        // sled removes blob files it no longer needs while we walk: nothing to sync.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("syncing", path, e)),
    }
}
