//! Segment files on disk: reading blocks of the committed prefix, and the writer that appends
//! blocks, rolls to a new file at [`SEGMENT_BYTES_TARGET`], syncs, and rolls back what a
//! refused append wrote beyond the committed length. Framing: `format::segment`.

use super::disk::{Disk, DiskFile, FileMap, MAP_ALIGN_BYTES};
use super::StoreError;
use crate::format::segment::{
    check_block, hash_block, parse_block_header, parse_segment_header, segment_header, BlockHeader, BLOCK_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
};
use crate::limits::{SEGMENT_BYTES_TARGET, SEGMENT_MAP_WINDOW_BYTES, SEGMENT_READ_BUFFER_BYTES};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Directory of the segment files inside a ledger.
pub const SEGMENTS_DIR: &str = "segments";
const SEGMENT_SUFFIX: &str = ".qseg";

/// The file name of the segment whose first record has `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// The first seqs of every segment file, ascending.
pub fn list_segments(disk: &dyn Disk, dir: &Path) -> Result<Vec<u64>, StoreError> {
    let names = match disk.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Damaged {
                seq: None,
                what: format!("the segments directory {} is missing", dir.display()),
            })
        }
        Err(e) => return Err(StoreError::io("listing", dir, e)),
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let first = name
            .strip_suffix(SEGMENT_SUFFIX)
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok());
        match first {
            Some(f) => out.push(f),
            None => {
                return Err(StoreError::Damaged {
                    seq: None,
                    what: format!("{} holds {name:?}, which is not a segment file", dir.display()),
                })
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A block as read: header, its bytes, payload, and where it lies.
#[derive(Debug)]
pub struct RawBlock {
    /// The decoded header.
    pub header: BlockHeader,
    /// The header's bytes.
    pub header_bytes: [u8; BLOCK_HEADER_BYTES],
    /// The payload.
    pub payload: Payload,
    /// First seq of the segment file it is in.
    pub segment: u64,
    /// Offset of its header in that file.
    pub offset: u64,
}

/// A block's payload: part of a mapped window of its segment (a long read on the real file
/// system), or a pooled buffer it was read into. Either way, bytes.
#[derive(Debug)]
pub struct Payload(PayloadBytes);

#[derive(Debug)]
enum PayloadBytes {
    /// Read into a buffer, which goes back to its pool when the payload is dropped.
    Read { buf: Vec<u8>, pool: Arc<PayloadPool> },
    /// Bytes `start..start + len` of a window that stays mapped while a payload in it lives.
    Mapped { window: Arc<FileMap>, start: usize, len: usize },
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            PayloadBytes::Read { buf, .. } => buf,
            PayloadBytes::Mapped { window, start, len } => &window[*start..*start + *len],
        }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if let PayloadBytes::Read { buf, pool } = &mut self.0 {
            pool.put(std::mem::take(buf));
        }
    }
}

/// Buffers kept for the payloads of the blocks a reader hands out, at most: as many as a read
/// has in flight (the pipeline's queues), so a long read reuses a few warm buffers instead of
/// allocating (and another thread freeing) one a block.
const POOLED_PAYLOADS_MAX: usize = 32;

/// The payload buffers of one reader, returned by its dropped blocks (on any thread).
#[derive(Debug, Default)]
struct PayloadPool(Mutex<Vec<Vec<u8>>>);

impl PayloadPool {
    /// An empty buffer, warm if one came back.
    fn take(&self) -> Vec<u8> {
        let spare = self.0.lock().ok().and_then(|mut spare| spare.pop());
        spare.unwrap_or_default()
    }

    fn put(&self, mut buf: Vec<u8>) {
        if let Ok(mut spare) = self.0.lock() {
            if spare.len() < POOLED_PAYLOADS_MAX {
                buf.clear();
                spare.push(buf);
            }
        }
    }
}

/// Reads blocks in order from the block holding `from`, checking framing, checksums and seqs,
/// and stops after the block that holds record `end - 1`.
pub struct BlockReader {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    segments: Vec<u64>,
    index: usize,
    file: Option<Box<dyn DiskFile>>,
    file_len: u64,
    offset: u64,
    buf: Vec<u8>,
    buf_start: u64,
    next_seq: u64,
    end: u64,
    failed: bool,
    pool: Arc<PayloadPool>,
    /// Whether this reader maps windows of its segments instead of reading them into `buf`.
    map_windows: bool,
    /// The mapped window and the file offset it starts at.
    window: Option<(Arc<FileMap>, u64)>,
    /// Whether the blocks' checksums are left to the caller ([`Self::defer_checks`]).
    checks_deferred: bool,
}

/// A read of this many records or more maps its segments window by window instead of copying
/// them into a buffer: measured on a 1M `verify --chain-only`, the kernel's copy of the file
/// into the buffer was 19% of the CPU time and the copy out of it into each block's payload
/// most of another 5%. A shorter read (`head`, a seek, one record) costs less read than mapped.
const MAPPED_READ_RECORDS_MIN: u64 = 8192;

impl std::fmt::Debug for BlockReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockReader").field("dir", &self.dir).field("next_seq", &self.next_seq).finish()
    }
}

impl BlockReader {
    /// A reader of the records `from..end` (whole blocks: the first may start before `from`).
    pub fn new(disk: Arc<dyn Disk>, dir: &Path, from: u64, end: u64) -> Result<BlockReader, StoreError> {
        let segments = list_segments(disk.as_ref(), dir)?;
        let mut r = BlockReader {
            disk,
            dir: dir.to_path_buf(),
            segments,
            index: 0,
            file: None,
            file_len: 0,
            offset: 0,
            buf: Vec::new(),
            buf_start: 0,
            next_seq: 0,
            end,
            failed: false,
            pool: Arc::default(),
            map_windows: end.saturating_sub(from) >= MAPPED_READ_RECORDS_MIN,
            window: None,
            checks_deferred: false,
        };
        if from < end {
            r.seek(from)?;
        } else {
            r.next_seq = end;
        }
        Ok(r)
    }

    /// Leaves each block's checksum to the caller, who passes every block through [`checked`]
    /// before using it (the reader pipeline does, on its decoding threads: reading a block's
    /// bytes for the first time is the slow part of a long read, and this spreads it over the
    /// cores). Framing, seqs and segment order are still checked here.
    pub fn defer_checks(mut self) -> BlockReader {
        self.checks_deferred = true;
        self
    }

    fn damaged(&self, what: String) -> StoreError {
        StoreError::Damaged { seq: Some(self.next_seq), what }
    }

    /// Positions the reader at the block holding `seq`, walking block headers from the start of
    /// its segment.
    fn seek(&mut self, seq: u64) -> Result<(), StoreError> {
        let index = match self.segments.iter().rposition(|&first| first <= seq) {
            Some(i) => i,
            None => return Err(StoreError::Damaged { seq: Some(seq), what: "no segment file holds it".into() }),
        };
        self.open_segment(index)?;
        // Header to header with small reads: a seek never reads the blocks it skips.
        while self.next_seq <= seq {
            let (header, _) = match self.read_header(true)? {
                Some(h) => h,
                None => return Err(self.damaged("the segment ends before the committed head".into())),
            };
            if header.end_seq() > seq {
                return Ok(());
            }
            self.offset += header.total_bytes();
            self.next_seq = header.end_seq();
        }
        Ok(())
    }

    fn open_segment(&mut self, index: usize) -> Result<(), StoreError> {
        let first = self.segments[index];
        let path = self.dir.join(segment_name(first));
        let file = self.disk.open(&path, false).map_err(|e| StoreError::io("opening", &path, e))?;
        let file_len = file.len().map_err(|e| StoreError::io("reading", &path, e))?;
        let mut h = [0u8; SEGMENT_HEADER_BYTES];
        let n = read_fully(file.as_ref(), &mut h, 0).map_err(|e| StoreError::io("reading", &path, e))?;
        let found = parse_segment_header(&h[..n])
            .map_err(|e| StoreError::Damaged { seq: Some(first), what: format!("segment {}: {e}", path.display()) })?;
        if found != first {
            return Err(StoreError::Damaged {
                seq: Some(first),
                what: format!("segment {} says it starts at seq {found}", path.display()),
            });
        }
        self.index = index;
        self.file = Some(file);
        self.file_len = file_len;
        self.offset = SEGMENT_HEADER_BYTES as u64;
        self.buf.clear();
        self.buf_start = 0;
        self.window = None;
        self.next_seq = first;
        Ok(())
    }

    /// Bytes `offset..offset + len` of the current file, or `None` if the file ends first.
    fn bytes_at(&mut self, offset: u64, len: usize) -> Result<Option<&[u8]>, StoreError> {
        if offset + len as u64 > self.file_len {
            return Ok(None);
        }
        if self.map_window(offset, len)? {
            let (window, start) = self.window.as_ref().expect("map_window mapped it");
            let at = (offset - start) as usize;
            return Ok(Some(&window[at..at + len]));
        }
        let have = offset >= self.buf_start && offset + len as u64 <= self.buf_start + self.buf.len() as u64;
        if !have {
            let want = len.max(SEGMENT_READ_BUFFER_BYTES).min((self.file_len - offset) as usize);
            self.buf.resize(want, 0);
            let file = self.file.as_ref().expect("a segment is open");
            let n = read_fully(file.as_ref(), &mut self.buf, offset)
                .map_err(|e| StoreError::io("reading", &self.dir.join(segment_name(self.segments[self.index])), e))?;
            self.buf.truncate(n);
            self.buf_start = offset;
            if n < len {
                return Ok(None);
            }
        }
        let start = (offset - self.buf_start) as usize;
        Ok(Some(&self.buf[start..start + len]))
    }

    /// Makes the mapped window cover `offset..offset + len` (which lies in the file); false
    /// when this reader does not map, or its file layer cannot (then it reads into `buf`).
    fn map_window(&mut self, offset: u64, len: usize) -> Result<bool, StoreError> {
        if !self.map_windows {
            return Ok(false);
        }
        if let Some((window, start)) = &self.window {
            if offset >= *start && offset + len as u64 <= start + window.len() as u64 {
                return Ok(true);
            }
        }
        let start = offset - offset % MAP_ALIGN_BYTES;
        let end = (offset + len.max(SEGMENT_MAP_WINDOW_BYTES) as u64).min(self.file_len);
        let file = self.file.as_ref().expect("a segment is open");
        let mapped = file
            .map(start, (end - start) as usize)
            .map_err(|e| StoreError::io("mapping", &self.dir.join(segment_name(self.segments[self.index])), e))?;
        match mapped {
            Some(map) => self.window = Some((Arc::new(map), start)),
            None => self.map_windows = false,
        }
        Ok(self.map_windows)
    }

    /// The payload at `offset..offset + len`, which [`Self::bytes_at`] just returned: a
    /// share of the mapped window, or a copy out of the read buffer.
    fn payload(&self, offset: u64, len: usize) -> Payload {
        if let Some((window, start)) = self.window.as_ref().filter(|_| self.map_windows) {
            return Payload(PayloadBytes::Mapped { window: window.clone(), start: (offset - start) as usize, len });
        }
        let at = (offset - self.buf_start) as usize;
        let mut buf = self.pool.take();
        buf.extend_from_slice(&self.buf[at..at + len]);
        Payload(PayloadBytes::Read { buf, pool: self.pool.clone() })
    }

    /// The block header at the current offset: through the read buffer when reading blocks,
    /// or `direct` (one small read, no buffer) when skipping from header to header.
    fn read_header(&mut self, direct: bool) -> Result<Option<(BlockHeader, [u8; BLOCK_HEADER_BYTES])>, StoreError> {
        let mut hb = [0u8; BLOCK_HEADER_BYTES];
        if direct {
            let file = self.file.as_ref().expect("a segment is open");
            let n = read_fully(file.as_ref(), &mut hb, self.offset)
                .map_err(|e| StoreError::io("reading", &self.dir.join(segment_name(self.segments[self.index])), e))?;
            if n < BLOCK_HEADER_BYTES {
                return Ok(None);
            }
        } else {
            let Some(bytes) = self.bytes_at(self.offset, BLOCK_HEADER_BYTES)? else { return Ok(None) };
            hb.copy_from_slice(bytes);
        }
        let header = parse_block_header(&hb).map_err(|e| self.damaged(format!("block header: {e}")))?;
        if header.first_seq != self.next_seq {
            return Err(self.damaged(format!(
                "a block starting at seq {} stands where seq {} belongs",
                header.first_seq, self.next_seq
            )));
        }
        Ok(Some((header, hb)))
    }

    fn next_block(&mut self) -> Result<Option<RawBlock>, StoreError> {
        if self.next_seq >= self.end {
            return Ok(None);
        }
        if self.file.is_none() || self.offset >= self.file_len {
            let next = self.index + 1;
            if self.file.is_none() || next >= self.segments.len() || self.segments[next] != self.next_seq {
                return Err(self.damaged("the chain ends before the committed head".into()));
            }
            self.open_segment(next)?;
        }
        let Some((header, header_bytes)) = self.read_header(false)? else {
            return Err(self.damaged("a block header is cut off below the committed head".into()));
        };
        let payload_offset = self.offset + BLOCK_HEADER_BYTES as u64;
        let payload_len = header.payload_len as usize;
        let deferred = self.checks_deferred;
        let Some(payload) = self.bytes_at(payload_offset, payload_len)? else {
            return Err(self.damaged("a block is cut off below the committed head".into()));
        };
        if !deferred {
            check_payload(&header, &header_bytes, payload)?;
        }
        let block = RawBlock {
            header,
            header_bytes,
            payload: self.payload(payload_offset, payload_len),
            segment: self.segments[self.index],
            offset: self.offset,
        };
        self.offset += header.total_bytes();
        self.next_seq = header.end_seq();
        Ok(Some(block))
    }
}

impl Iterator for BlockReader {
    type Item = Result<RawBlock, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.next_block().transpose();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }
}

/// The checksum of a block read by a reader whose checks are deferred
/// ([`BlockReader::defer_checks`]): the block, or the damage it holds.
pub fn checked(block: RawBlock) -> Result<RawBlock, StoreError> {
    check_payload(&block.header, &block.header_bytes, &block.payload)?;
    Ok(block)
}

/// Checks a block's checksum; on damage, names the first record it reaches: the first whose
/// hash, recomputed from the block's link, differs from its locator (the block's first if none
/// does).
fn check_payload(
    header: &BlockHeader,
    header_bytes: &[u8; BLOCK_HEADER_BYTES],
    payload: &[u8],
) -> Result<(), StoreError> {
    check_block(header_bytes, payload).map_err(|e| {
        let mut hashes = Vec::new();
        let index = hash_block(header, payload, &mut hashes).err().map_or(0, |f| f.index);
        StoreError::Damaged { seq: Some(header.first_seq.saturating_add(u64::from(index))), what: format!("{e}") }
    })
}

/// Reads as many bytes as the file has at `offset`, up to `buf.len()`.
pub fn read_fully(file: &dyn DiskFile, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

/// Appends blocks to the last segment, rolling to new files; syncs; rolls back to the
/// committed length.
pub struct SegmentWriter {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    /// The segment being written: first seq, file, length.
    current: (u64, Box<dyn DiskFile>, u64),
    /// Earlier segments this append wrote to and has not synced yet.
    unsynced: Vec<(u64, Box<dyn DiskFile>)>,
    /// Segments this append created (their directory entries need a sync).
    created: Vec<u64>,
    /// The committed end: segment and length.
    committed: (u64, u64),
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter").field("dir", &self.dir).field("committed", &self.committed).finish()
    }
}

impl SegmentWriter {
    /// A writer appending after the committed end `(segment, len)`; bytes beyond it were
    /// already dealt with by recovery.
    pub fn open(disk: Arc<dyn Disk>, dir: &Path, segment: u64, len: u64) -> Result<SegmentWriter, StoreError> {
        let path = dir.join(segment_name(segment));
        let file = disk.open(&path, true).map_err(|e| StoreError::io("opening", &path, e))?;
        Ok(SegmentWriter {
            disk,
            dir: dir.to_path_buf(),
            current: (segment, file, len),
            unsynced: Vec::new(),
            created: Vec::new(),
            committed: (segment, len),
        })
    }

    /// Creates the first segment of a new ledger (synced, with its directory entry).
    pub fn create_first(disk: &dyn Disk, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(segment_name(0));
        let file = disk.create_new(&path).map_err(|e| StoreError::io("creating", &path, e))?;
        file.write_all_at(&segment_header(0), 0).map_err(|e| StoreError::io("writing", &path, e))?;
        file.sync_data().map_err(|e| StoreError::io("syncing", &path, e))?;
        disk.sync_dir(dir).map_err(|e| StoreError::io("syncing", dir, e))
    }

    /// The end of what was written: segment and length.
    pub fn end(&self) -> (u64, u64) {
        (self.current.0, self.current.2)
    }

    /// Appends one block whose first record has `first_seq`, rolling to a new segment first
    /// when the current one has reached its size.
    pub fn write_block(&mut self, bytes: &[u8], first_seq: u64) -> Result<(), StoreError> {
        let roll =
            self.current.2 > SEGMENT_HEADER_BYTES as u64 && self.current.2 + bytes.len() as u64 > SEGMENT_BYTES_TARGET;
        if roll {
            self.roll(first_seq)?;
        }
        let (first, file, len) = &mut self.current;
        file.write_all_at(bytes, *len)
            .map_err(|e| StoreError::io("writing", &self.dir.join(segment_name(*first)), e))?;
        *len += bytes.len() as u64;
        Ok(())
    }

    fn roll(&mut self, first_seq: u64) -> Result<(), StoreError> {
        let path = self.dir.join(segment_name(first_seq));
        let file = self.disk.create_new(&path).map_err(|e| StoreError::io("creating", &path, e))?;
        file.write_all_at(&segment_header(first_seq), 0).map_err(|e| StoreError::io("writing", &path, e))?;
        let old = std::mem::replace(&mut self.current, (first_seq, file, SEGMENT_HEADER_BYTES as u64));
        self.unsynced.push((old.0, old.1));
        self.created.push(first_seq);
        Ok(())
    }

    /// Makes everything written durable: `fdatasync` of every segment written, then of the
    /// directory if a segment was created.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        for (first, file) in &self.unsynced {
            file.sync_data().map_err(|e| StoreError::io("syncing", &self.dir.join(segment_name(*first)), e))?;
        }
        let (first, file, _) = &self.current;
        file.sync_data().map_err(|e| StoreError::io("syncing", &self.dir.join(segment_name(*first)), e))?;
        if !self.created.is_empty() {
            self.disk.sync_dir(&self.dir).map_err(|e| StoreError::io("syncing", &self.dir, e))?;
        }
        self.unsynced.clear();
        self.created.clear();
        Ok(())
    }

    /// Marks the current end as committed (after the commit point moved).
    pub fn mark_committed(&mut self) {
        self.committed = (self.current.0, self.current.2);
    }

    /// Removes what was written since the last commit: segments created, bytes appended.
    pub fn roll_back(&mut self) -> Result<(), StoreError> {
        let (segment, len) = self.committed;
        if self.current.0 != segment {
            let path = self.dir.join(segment_name(segment));
            let file = self.disk.open(&path, true).map_err(|e| StoreError::io("opening", &path, e))?;
            self.current = (segment, file, len);
        }
        for first in self.created.drain(..) {
            let path = self.dir.join(segment_name(first));
            match self.disk.remove(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing", &path, e)),
            }
        }
        self.unsynced.clear();
        let path = self.dir.join(segment_name(segment));
        self.current.1.set_len(len).map_err(|e| StoreError::io("truncating", &path, e))?;
        self.current.1.sync_data().map_err(|e| StoreError::io("syncing", &path, e))?;
        self.current.2 = len;
        self.disk.sync_dir(&self.dir).map_err(|e| StoreError::io("syncing", &self.dir, e))
    }
}
