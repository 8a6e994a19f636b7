//! The file layer under the chain (segment files and `HEAD`), as a trait: the real file system,
//! and a simulated disk for tests that loses every write not yet synced and tears the last one
//! (the idea of SQLite's test VFS and TigerBeetle's storage simulator).
//!
//! Everything that decides what is committed goes through [`Disk`]; derived data (index runs,
//! snapshots, sled) lives on the real file system and is rebuilt from the chain when lost.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Mode of every file the ledger creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the ledger creates.
pub const DIR_MODE: u32 = 0o700;

/// An open file of the chain.
pub trait DiskFile: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every write so far durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Cuts or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Bytes `offset..offset + len` mapped into memory read-only, where the file layer can
    /// (the real file system; the simulated disk says `None` and is read with `read_at`).
    /// `offset` is a multiple of [`MAP_ALIGN_BYTES`] and the range lies within the file.
    fn map(&self, _offset: u64, _len: usize) -> io::Result<Option<FileMap>> {
        Ok(None)
    }
}

/// Alignment of a mapping's start in its file: the page size of every platform we run on
/// divides it.
pub const MAP_ALIGN_BYTES: u64 = 64 * 1024;

/// A read-only mapping of part of a file ([`DiskFile::map`]), unmapped when dropped.
///
/// The segment readers read only the committed prefix through it, which no writer ever
/// shortens (a window may reach past the prefix, into bytes a writer may still cut, but those
/// are never touched); a file cut from outside while it is mapped would raise `SIGBUS` on the
/// next access, which the binary turns into an integrity error (exit 3) in `main.rs`.
#[derive(Debug)]
pub struct FileMap(memmap2::Mmap);

impl std::ops::Deref for FileMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A file system for the chain.
pub trait Disk: Send + Sync + std::fmt::Debug {
    /// Opens an existing file; `write` asks for write access.
    fn open(&self, path: &Path, write: bool) -> io::Result<Box<dyn DiskFile>>;
    /// Creates a new file (fails if it exists; never follows a link), mode [`FILE_MODE`].
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    /// Makes the directory's entries durable (`fsync` of the directory).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory.
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory, owner-only (no error if it exists).
    fn create_dir(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDisk;

struct RealFile(File);

impl DiskFile for RealFile {
    fn map(&self, offset: u64, len: usize) -> io::Result<Option<FileMap>> {
        debug_assert_eq!(offset % MAP_ALIGN_BYTES, 0, "a mapping starts aligned");
        let mut options = memmap2::MmapOptions::new();
        // Populated: the reading thread fills the window's page table in one call when it maps
        // it, instead of the decoding threads faulting every few pages in as they first read.
        options.offset(offset).len(len).populate();
        // SAFETY: the mapping is read-only and only ever read as bytes. What is read of it lies
        // in the committed prefix of a segment, which no qledger process writes or shortens
        // (writers append after it; recovery cuts only beyond it). A change from outside the ledger
        // while it is mapped is tampering: it can change what is read (the checksums and the
        // chain catch it) or raise SIGBUS (exit 3, see main.rs), never memory unsafety in Rust
        // code, which reads the bytes as plain `u8`.
        let map = unsafe { options.map(&self.0) }?;
        // The readers walk a mapping once, front to back.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Some(FileMap(map)))
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        loop {
            match self.0.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl Disk for RealDisk {
    fn open(&self, path: &Path, write: bool) -> io::Result<Box<dyn DiskFile>> {
        let f = OpenOptions::new().read(true).write(write).custom_flags(libc_nofollow()).open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let f = create_new_file(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(path)? {
            out.push(e?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        create_dir(path)
    }
}

/// `O_NOFOLLOW`: never open a file through a symbolic link.
fn libc_nofollow() -> i32 {
    libc::O_NOFOLLOW
}

/// Creates a new file exclusively (no link followed), readable and writable by its owner only,
/// whatever the umask.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new().read(true).write(true).create_new(true).mode(FILE_MODE).open(path)?;
    f.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}

/// Creates a directory owner-only (no error if it exists as a directory).
pub fn create_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// A simulated disk: each file has the bytes a crash would keep (`durable`) and the bytes the
/// process sees (`live`). `crash` throws away every write since the last sync, except that the
/// last unsynced write may survive torn (a prefix of it). Files created and not yet made durable
/// by a directory sync vanish. Writes can be made to fail after a number of calls.
#[derive(Debug, Default, Clone)]
pub struct SimDisk {
    inner: Arc<Mutex<SimState>>,
}

#[derive(Debug, Default)]
struct SimState {
    files: BTreeMap<PathBuf, SimFileState>,
    /// Fail every write or sync after this many more succeed.
    fail_after: Option<u64>,
    /// How many write and sync calls were made (to aim a failure).
    ops: u64,
}

#[derive(Debug, Default, Clone)]
struct SimFileState {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// Whether the directory entry survives a crash.
    entry_durable: bool,
    /// The last write not yet synced: `(offset, len)`.
    last_unsynced: Option<(u64, usize)>,
}

impl SimDisk {
    /// A new, empty simulated disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// Makes every write or sync fail after `n` more succeed (`None`: never).
    pub fn fail_after(&self, n: Option<u64>) {
        let mut s = self.lock();
        s.fail_after = n;
    }

    /// Write and sync calls made so far.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// A power failure: unsynced writes are lost; the last one survives as its first
    /// `torn_bytes` bytes (0: not at all); files whose creation was never made durable vanish.
    pub fn crash(&self, torn_bytes: usize) {
        let mut s = self.lock();
        s.fail_after = None;
        s.files.retain(|_, f| f.entry_durable);
        for f in s.files.values_mut() {
            let mut kept = f.durable.clone();
            if let Some((off, len)) = f.last_unsynced {
                let n = torn_bytes.min(len);
                let (off, end) = (off as usize, off as usize + n);
                if n > 0 && end <= f.live.len() {
                    if kept.len() < end {
                        kept.resize(end, 0);
                    }
                    kept[off..end].copy_from_slice(&f.live[off..end]);
                }
            }
            f.live = kept.clone();
            f.durable = kept;
            f.last_unsynced = None;
        }
    }

    /// Flips one bit of a file (tests of damage below the committed length).
    pub fn flip(&self, path: &Path, offset: usize) {
        let mut s = self.lock();
        if let Some(f) = s.files.get_mut(path) {
            if offset < f.live.len() {
                f.live[offset] ^= 1;
                f.durable = f.live.clone();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        // A panic in a test thread holding the lock leaves plain data behind: keep using it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn op(&self) -> io::Result<()> {
        let mut s = self.lock();
        s.ops += 1;
        match s.fail_after {
            Some(0) => Err(io::Error::other("simulated I/O failure")),
            Some(n) => {
                s.fail_after = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

struct SimFile {
    disk: SimDisk,
    path: PathBuf,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut SimFileState) -> T) -> io::Result<T> {
        let mut s = self.disk.lock();
        match s.files.get_mut(&self.path) {
            Some(file) => Ok(f(file)),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "simulated file vanished")),
        }
    }
}

impl DiskFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.with(|f| {
            let start = (offset as usize).min(f.live.len());
            let n = buf.len().min(f.live.len() - start);
            buf[..n].copy_from_slice(&f.live[start..start + n]);
            n
        })
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.disk.op()?;
        self.with(|f| {
            let end = offset as usize + buf.len();
            if f.live.len() < end {
                f.live.resize(end, 0);
            }
            f.live[offset as usize..end].copy_from_slice(buf);
            f.last_unsynced = Some((offset, buf.len()));
        })
    }
    fn sync_data(&self) -> io::Result<()> {
        self.disk.op()?;
        self.with(|f| {
            f.durable = f.live.clone();
            f.last_unsynced = None;
        })
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.disk.op()?;
        self.with(|f| {
            f.live.resize(len as usize, 0);
            f.last_unsynced = None;
            // A truncation reaches the disk with the next sync; until then the old bytes stay.
        })
    }
    fn len(&self) -> io::Result<u64> {
        self.with(|f| f.live.len() as u64)
    }
}

impl Disk for SimDisk {
    fn open(&self, path: &Path, _write: bool) -> io::Result<Box<dyn DiskFile>> {
        if !self.lock().files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display())));
        }
        Ok(Box::new(SimFile { disk: self.clone(), path: path.to_path_buf() }))
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        self.op()?;
        let mut s = self.lock();
        if s.files.contains_key(path) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", path.display())));
        }
        s.files.insert(path.to_path_buf(), SimFileState::default());
        drop(s);
        Ok(Box::new(SimFile { disk: self.clone(), path: path.to_path_buf() }))
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.op()?;
        let mut s = self.lock();
        for (p, f) in s.files.iter_mut() {
            if p.parent() == Some(path) {
                f.entry_durable = true;
            }
        }
        Ok(())
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        Ok(s.files
            .keys()
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.op()?;
        self.lock().files.remove(path);
        Ok(())
    }
    fn create_dir(&self, _path: &Path) -> io::Result<()> {
        // Directories are implied by the paths of the files in them.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_synced_bytes_and_at_most_a_torn_prefix_of_the_last_write() {
        let d = SimDisk::new();
        let dir = Path::new("/sim");
        let f = d.create_new(&dir.join("a")).unwrap();
        d.sync_dir(dir).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        f.write_all_at(b" world", 5).unwrap();
        d.crash(3);
        let f = d.open(&dir.join("a"), false).unwrap();
        let mut buf = [0u8; 16];
        let n = f.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf[..n], b"hello wo");
        let _ = d.create_new(&dir.join("b")).unwrap();
        d.crash(0);
        assert_eq!(d.list(dir).unwrap(), vec!["a".to_string()]);
    }
}
