//! Storage: the only module that touches files and sled.
//!
//! A ledger is a directory (the README's "Storage" section is the spec):
//! ```text
//! PATH/FORMAT      "quotaledger ledger format 2": marks the directory as a ledger
//! PATH/CREATING    present only while `init` is creating the ledger
//! PATH/LOCK        writers' lock (readers never take it)
//! PATH/HEAD        the commit point: two slots (`format::head`)
//! PATH/segments/   the chain: append-only segment files (`format::segment`)   source of truth
//! PATH/index/      the per-event index: run files and MANIFEST (`store::index`)  derived
//! PATH/snapshots/  quota snapshots (`store::snapshots`)                           derived
//! PATH/meta/       sled: the writer's metadata (the index manifest; a few keys)   derived
//! PATH/tree/       the Merkle tree over the records (`store::tree`), block index  derived
//! PATH/checkpoints/ signed checkpoints (`store::checkpoints`), kept as evidence
//! PATH/recovered/  torn tails cut by recovery, kept as found
//! ```
//! Architecture Invariant: the segments and `HEAD` are the truth; everything else is derived
//! and rebuilt from them (`Writer::open` catches it up, `qledger reindex` rebuilds it).
//! Architecture Invariant: readers take no lock and write nothing; they read the committed
//! prefix named by `HEAD`, which only ever grows. Only a writer, holding `LOCK`, opens sled.
//! Architecture Invariant: an append writes its blocks beyond the committed length, syncs
//! them, then moves the commit point (one `HEAD` slot, synced); a failed write poisons the
//! writer, which accepts nothing more.

pub mod checkpoints;
pub mod disk;
pub mod head;
pub mod index;
pub mod locate;
pub mod meta;
pub mod recovery;
pub mod run_filter;
pub mod segment;
pub mod snapshots;
pub mod tree;
pub mod writer;

use crate::format::head::HeadSlot;
use crate::limits::{DISK_SPACE_FACTOR, DISK_SPACE_MARGIN_BYTES, LOCK_RETRY_MS};
use disk::{create_dir, create_new_file, Disk, RealDisk};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The text of `PATH/FORMAT`.
pub const FORMAT_MARKER: &str = "quotaledger ledger format 2\n";
/// The marker of the sled-only layout of qledger 0.1, which this build does not read.
pub const FORMAT_MARKER_V1: &str = "quotaledger ledger format 1\n";
const FORMAT_FILE: &str = "FORMAT";
const CREATING_FILE: &str = "CREATING";
const LOCK_FILE: &str = "LOCK";
/// The ledger's settings (truth, not derived: they are not in the chain and cannot be rebuilt).
pub const SETTINGS_FILE: &str = "SETTINGS";
const SETTINGS_HEADER: &str = "quotaledger settings 1\n";

/// A ledger's settings, fixed when it is created (`qledger init --future-margin SECS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How far ahead of the clock an event's `at` may lie, in seconds.
    pub future_margin_secs: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { future_margin_secs: crate::limits::AT_FUTURE_MARGIN_SECS_DEFAULT }
    }
}

/// Reads `PATH/SETTINGS` (absent: the defaults). A file that does not parse is damage.
pub fn read_settings(dir: &Path) -> Result<Settings, StoreError> {
    let path = dir.join(SETTINGS_FILE);
    let text = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(e) => return Err(StoreError::io("reading", &path, e)),
    };
    let damaged = || StoreError::Damaged { seq: None, what: format!("{} is not a settings file", path.display()) };
    let text = std::str::from_utf8(&text).map_err(|_| damaged())?;
    let body = text.strip_prefix(SETTINGS_HEADER).ok_or_else(damaged)?;
    let secs = body
        .strip_prefix("future_margin_secs=")
        .and_then(|r| r.strip_suffix('\n'))
        .filter(|d| !d.is_empty() && d.len() <= 10 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u32>().ok())
        .ok_or_else(damaged)?;
    Ok(Settings { future_margin_secs: secs })
}

/// Writes `PATH/SETTINGS` (temporary file, rename, fsync of the directory).
pub fn write_settings(dir: &Path, s: &Settings) -> Result<(), StoreError> {
    let text = format!("{SETTINGS_HEADER}future_margin_secs={}\n", s.future_margin_secs);
    snapshots::write_atomically(&dir.join(SETTINGS_FILE), text.as_bytes())?;
    fsync_dir(dir)
}

/// Directory of torn tails cut by recovery.
pub const RECOVERED_DIR: &str = "recovered";

/// A storage failure: exit 4, except `Damaged`, an integrity failure (exit 3).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the ledger for writing.
    #[error("ledger {0} is in use by another writer (retry, or pass --wait SECONDS)")]
    InUse(PathBuf),
    /// The directory is not a ledger.
    #[error("{path} is not a quotaledger ledger: {why}")]
    NotALedger {
        /// The directory.
        path: PathBuf,
        /// What was found.
        why: String,
    },
    /// Written by another format.
    #[error("{path} was written by an unsupported ledger format ({found:?}); this qledger reads format 2")]
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
        /// The OS error.
        error: io::Error,
    },
    /// Not enough free space for a commit: refused before anything is written.
    #[error(
        "not enough free space in {path}: this append needs about {needed_bytes} bytes, {available_bytes} are free"
    )]
    DiskFull {
        /// The directory.
        path: PathBuf,
        /// Estimated need, margin included.
        needed_bytes: u64,
        /// Free bytes.
        available_bytes: u64,
    },
    /// sled reported an error (or panicked, caught and reported here).
    #[error("store error: {0}")]
    Sled(String),
    /// An earlier write failed; the writer refuses further writes.
    #[error("an earlier write to this ledger failed; it accepts no further writes in this process")]
    Poisoned,
    /// The chain's files are damaged below the committed length (an integrity failure).
    #[error("{}{what}", seq.map(|s| format!("at seq {s}: ")).unwrap_or_default())]
    Damaged {
        /// The first seq concerned, if known.
        seq: Option<u64>,
        /// What is wrong.
        what: String,
    },
}

impl StoreError {
    /// An I/O error on a path.
    pub fn io(what: &'static str, path: &Path, error: io::Error) -> StoreError {
        StoreError::Io { what, path: path.to_path_buf(), error }
    }
}

/// How to open a ledger directory for writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the ledger if the directory is missing or empty.
    CreateIfMissing,
    /// The ledger must already exist.
    MustExist,
}

/// Paths of a ledger's parts.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The ledger directory.
    pub dir: PathBuf,
}

impl Layout {
    /// The layout of the ledger at `dir`.
    pub fn new(dir: &Path) -> Layout {
        Layout { dir: dir.to_path_buf() }
    }
    /// `segments/`.
    pub fn segments(&self) -> PathBuf {
        self.dir.join(segment::SEGMENTS_DIR)
    }
    /// `index/`.
    pub fn index(&self) -> PathBuf {
        self.dir.join(index::INDEX_DIR)
    }
    /// `snapshots/`.
    pub fn snapshots(&self) -> PathBuf {
        self.dir.join(snapshots::SNAPSHOTS_DIR)
    }
    /// `meta/`.
    pub fn meta(&self) -> PathBuf {
        self.dir.join(meta::META_DIR)
    }
    /// `tree/` (issue 10): the Merkle tree over the records.
    pub fn tree(&self) -> PathBuf {
        self.dir.join(tree::TREE_DIR)
    }
    /// `checkpoints/` (issue 10): signed checkpoints kept as evidence.
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join(checkpoints::CHECKPOINTS_DIR)
    }
}

/// Checks that `dir` is a ledger of this format (for readers and writers alike).
pub fn check_ledger(dir: &Path) -> Result<(), StoreError> {
    match read_marker(dir)? {
        Some(()) => Ok(()),
        None => {
            let why = if dir.exists() { "it has no FORMAT file" } else { "it does not exist" };
            Err(StoreError::NotALedger {
                path: dir.to_path_buf(),
                why: format!("{why} (create one with `qledger init --ledger {}`)", dir.display()),
            })
        }
    }
}

/// The default disk for the chain.
pub fn real_disk() -> Arc<dyn Disk> {
    Arc::new(RealDisk)
}

/// Creates the ledger at `dir` if it has none (under the lock, so concurrent creators
/// serialize), and takes the writers' lock.
pub fn lock_for_writing(
    dir: &Path,
    mode: OpenMode,
    wait: Option<Duration>,
    disk: &dyn Disk,
) -> Result<File, StoreError> {
    if read_marker(dir)?.is_some() {
        return lock(dir, wait);
    }
    if mode == OpenMode::MustExist {
        check_ledger(dir)?;
    }
    check_creatable(dir)?;
    let created_dir = !dir.exists();
    create_dir(dir).map_err(|e| StoreError::io("creating", dir, e))?;
    if created_dir {
        sync_parent(dir)?;
    }
    // The marker goes first: it proves to a later `init` that leftovers here are ours.
    match create_new_file(&dir.join(CREATING_FILE)) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(StoreError::io("creating", &dir.join(CREATING_FILE), e)),
    }
    let lock = lock(dir, wait)?;
    if read_marker(dir)?.is_none() {
        check_creatable(dir)?;
        create_ledger(dir, disk)?;
    }
    Ok(lock)
}

fn sync_parent(dir: &Path) -> Result<(), StoreError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fsync_dir(&parent)
}

/// Lays out a new ledger in `dir` (which holds at most our own leftovers), `FORMAT` last.
fn create_ledger(dir: &Path, disk: &dyn Disk) -> Result<(), StoreError> {
    let layout = Layout::new(dir);
    // Leftovers of an interrupted creation (proven ours by CREATING) are started over.
    for sub in [layout.segments(), layout.index(), layout.snapshots(), layout.meta()] {
        if sub.exists() {
            fs::remove_dir_all(&sub).map_err(|e| StoreError::io("removing", &sub, e))?;
        }
    }
    let _ = fs::remove_file(dir.join(head::HEAD_FILE));
    for sub in [layout.segments(), layout.index(), layout.snapshots()] {
        create_dir(&sub).map_err(|e| StoreError::io("creating", &sub, e))?;
    }
    segment::SegmentWriter::create_first(disk, &layout.segments())?;
    head::HeadWriter::create(disk, dir)?;
    let tmp = snapshots::temp_path(dir);
    let mut f = create_new_file(&tmp).map_err(|e| StoreError::io("creating", &tmp, e))?;
    f.write_all(FORMAT_MARKER.as_bytes()).map_err(|e| StoreError::io("writing", &tmp, e))?;
    f.sync_all().map_err(|e| StoreError::io("syncing", &tmp, e))?;
    fs::rename(&tmp, dir.join(FORMAT_FILE)).map_err(|e| StoreError::io("renaming", &tmp, e))?;
    fsync_dir(dir)?;
    fs::remove_file(dir.join(CREATING_FILE)).map_err(|e| StoreError::io("removing", &dir.join(CREATING_FILE), e))?;
    fsync_dir(dir)
}

/// `Some(())` if `dir` holds this format's FORMAT file, `None` if it has none.
fn read_marker(dir: &Path) -> Result<Option<()>, StoreError> {
    let marker = dir.join(FORMAT_FILE);
    match fs::read(&marker) {
        Ok(bytes) if bytes == FORMAT_MARKER.as_bytes() => Ok(Some(())),
        Ok(bytes) => {
            let mut found = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).trim().to_string();
            if bytes == FORMAT_MARKER_V1.as_bytes() {
                found.push_str(
                    ": the sled store of qledger 0.1; export it with that version and append the events anew",
                );
            }
            Err(StoreError::UnsupportedFormat { path: dir.to_path_buf(), found })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading", &marker, e)),
    }
}

/// A ledger may be created in a missing or empty directory, or over the leftovers of an
/// interrupted creation, proven by the `CREATING` marker the tool writes first.
fn check_creatable(dir: &Path) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(it) => it,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("reading directory", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("reading directory", dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok(());
    }
    let ours = [
        CREATING_FILE,
        LOCK_FILE,
        SETTINGS_FILE,
        head::HEAD_FILE,
        segment::SEGMENTS_DIR,
        index::INDEX_DIR,
        snapshots::SNAPSHOTS_DIR,
        meta::META_DIR,
        tree::TREE_DIR,
        checkpoints::CHECKPOINTS_DIR,
        RECOVERED_DIR,
    ];
    let only_ours = names.iter().all(|n| ours.contains(&n.as_str()) || n == FORMAT_FILE || n.starts_with(".tmp-"));
    // CREATING: another creator is at work (or was interrupted); FORMAT: it has just finished
    // (the caller looks for FORMAT again once it holds the lock).
    if names.iter().any(|n| n == CREATING_FILE || n == FORMAT_FILE) && only_ours {
        return Ok(());
    }
    Err(StoreError::NotALedger {
        path: dir.to_path_buf(),
        why: "the directory is not empty and has no FORMAT file (a ledger is created only in a new or empty directory)"
            .to_string(),
    })
}

fn lock(dir: &Path, wait: Option<Duration>) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags_nofollow()
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

trait NoFollow {
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for OpenOptions {
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOFOLLOW).mode(disk::FILE_MODE)
    }
}

/// `fsync` of a directory.
pub fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io("syncing", dir, e))
}

/// Refuses a write that might not fit (sled 0.34 does not fail cleanly on a full disk, and a
/// half-written segment block is cut only by the next writer's recovery).
pub fn ensure_space(dir: &Path, bytes: u64) -> Result<(), StoreError> {
    let available_bytes = fs2::available_space(dir).map_err(|e| StoreError::io("measuring free space in", dir, e))?;
    let needed_bytes = bytes.saturating_mul(DISK_SPACE_FACTOR).saturating_add(DISK_SPACE_MARGIN_BYTES);
    if available_bytes < needed_bytes {
        return Err(StoreError::DiskFull { path: dir.to_path_buf(), needed_bytes, available_bytes });
    }
    Ok(())
}

/// The committed prefix a reader sees, after checking that the segment holding its end is
/// there (one `open`, so that even `head` never presents a ledger whose chain is gone; a
/// segment cut short is named at its first bad seq by the readers that read it).
pub fn read_commit_point(disk: &dyn Disk, dir: &Path) -> Result<HeadSlot, StoreError> {
    let slot = head::read_head(disk, dir)?;
    let path = Layout::new(dir).segments().join(segment::segment_name(slot.segment_first_seq));
    match disk.open(&path, false) {
        Ok(_) => Ok(slot),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Damaged {
            seq: Some(slot.segment_first_seq),
            what: format!("{}, which holds the committed head, is missing", path.display()),
        }),
        Err(e) => Err(StoreError::io("opening", &path, e)),
    }
}
