//! The `HEAD` file: reading the commit point, and moving it (write one slot, `fdatasync`).
//! Framing: `format::head`.

use super::disk::{Disk, DiskFile};
use super::StoreError;
use crate::format::head::{pick, HeadSlot, HEAD_SLOT1_OFFSET, HEAD_SLOT_BYTES};
use crate::format::segment::SEGMENT_HEADER_BYTES;
use std::path::{Path, PathBuf};

/// Name of the commit point file inside a ledger.
pub const HEAD_FILE: &str = "HEAD";

/// Reads the commit point. A missing or unreadable `HEAD` is damage (exit 3), never "empty".
pub fn read_head(disk: &dyn Disk, dir: &Path) -> Result<HeadSlot, StoreError> {
    let path = dir.join(HEAD_FILE);
    let file = match disk.open(&path, false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Damaged { seq: None, what: format!("{} is missing", path.display()) })
        }
        Err(e) => return Err(StoreError::io("opening", &path, e)),
    };
    read_slots(file.as_ref(), &path)
}

fn read_slots(file: &dyn DiskFile, path: &Path) -> Result<HeadSlot, StoreError> {
    let mut s0 = [0u8; HEAD_SLOT_BYTES];
    let mut s1 = [0u8; HEAD_SLOT_BYTES];
    let n0 = super::segment::read_fully(file, &mut s0, 0).map_err(|e| StoreError::io("reading", path, e))?;
    let n1 =
        super::segment::read_fully(file, &mut s1, HEAD_SLOT1_OFFSET).map_err(|e| StoreError::io("reading", path, e))?;
    let damaged = |what: String| StoreError::Damaged { seq: None, what: format!("{}: {what}", path.display()) };
    if n0 < HEAD_SLOT_BYTES && n1 < HEAD_SLOT_BYTES {
        return Err(damaged("cut off".into()));
    }
    match pick(&s0[..n0], &s1[..n1]) {
        Ok(Some(slot)) => Ok(slot),
        Ok(None) => Err(damaged("no commit point was ever written".into())),
        Err(e) => Err(damaged(format!("no valid commit point ({e})"))),
    }
}

/// Moves the commit point.
pub struct HeadWriter {
    file: Box<dyn DiskFile>,
    path: PathBuf,
    slot: HeadSlot,
}

impl std::fmt::Debug for HeadWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadWriter").field("slot", &self.slot).finish()
    }
}

impl HeadWriter {
    /// Opens `HEAD` for writing, at the commit point `slot` read from it.
    pub fn open(disk: &dyn Disk, dir: &Path, slot: HeadSlot) -> Result<HeadWriter, StoreError> {
        let path = dir.join(HEAD_FILE);
        let file = disk.open(&path, true).map_err(|e| StoreError::io("opening", &path, e))?;
        Ok(HeadWriter { file, path, slot })
    }

    /// Writes the first commit point of a new ledger: no records, segment 0 holding only its
    /// header. Synced, with its directory entry (through `disk`, which holds the chain: the
    /// real directory's fsync further on does not reach a simulated disk).
    pub fn create(disk: &dyn Disk, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(HEAD_FILE);
        let file = disk.create_new(&path).map_err(|e| StoreError::io("creating", &path, e))?;
        let slot = HeadSlot {
            generation: 0,
            records: 0,
            last_hash: [0; 32],
            segment_first_seq: 0,
            segment_len: SEGMENT_HEADER_BYTES as u64,
        };
        file.write_all_at(&slot.encode(), 0).map_err(|e| StoreError::io("writing", &path, e))?;
        file.write_all_at(&[0u8; HEAD_SLOT_BYTES], HEAD_SLOT1_OFFSET)
            .map_err(|e| StoreError::io("writing", &path, e))?;
        file.sync_data().map_err(|e| StoreError::io("syncing", &path, e))?;
        disk.sync_dir(dir).map_err(|e| StoreError::io("syncing", dir, e))
    }

    /// The current commit point.
    pub fn slot(&self) -> HeadSlot {
        self.slot
    }

    /// Moves the commit point: writes the other slot with the next generation and syncs it.
    pub fn commit(&mut self, records: u64, last_hash: [u8; 32], segment: (u64, u64)) -> Result<(), StoreError> {
        let next = HeadSlot {
            generation: self.slot.generation + 1,
            records,
            last_hash,
            segment_first_seq: segment.0,
            segment_len: segment.1,
        };
        let offset = if next.generation.is_multiple_of(2) { 0 } else { HEAD_SLOT1_OFFSET };
        self.file.write_all_at(&next.encode(), offset).map_err(|e| StoreError::io("writing", &self.path, e))?;
        self.file.sync_data().map_err(|e| StoreError::io("syncing", &self.path, e))?;
        self.slot = next;
        Ok(())
    }
}
