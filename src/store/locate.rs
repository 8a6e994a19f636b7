//! One committed record's canonical bytes without reading the chain up to it, for
//! `prove --seq` (a few `pread`s at any size):
//!
//! - a **block index**, `PATH/tree/blocks`: derived data, one 24-byte entry per committed block
//!   (`first_seq u64 | segment u64 | offset u64`, little-endian, ascending), extended by every
//!   `checkpoint` (a writer) over the blocks committed since; a reader binary-searches it;
//! - else, or past what it covers, a **walk of block headers** (one 56-byte `pread` per block)
//!   from the nearest indexed block of the record's segment, or from the segment's start.
//!
//! The index is a hint: every block read is checked (header, checksum, seq, each record's hash
//! against its locator), and an entry that does not name the block it claims falls back to the
//! walk.

use super::disk::{Disk, DiskFile};
use super::segment::{list_segments, read_fully, segment_name};
use super::snapshots::write_atomically;
use super::StoreError;
use crate::format::chain;
use crate::format::segment::{
    block_records, canonical_bytes, check_block, locator, parse_block_header, BlockHeader, BLOCK_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
};
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The block index file, in `PATH/tree/`.
pub const BLOCK_INDEX_FILE: &str = "blocks";
/// Bytes of one block index entry.
pub const BLOCK_ENTRY_BYTES: usize = 24;

/// Where a block starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockPos {
    /// Seq of its first record.
    pub first_seq: u64,
    /// First seq of its segment (the segment's name).
    pub segment: u64,
    /// Byte offset of its header in the segment.
    pub offset: u64,
}

impl BlockPos {
    fn encode(&self) -> [u8; BLOCK_ENTRY_BYTES] {
        let mut b = [0u8; BLOCK_ENTRY_BYTES];
        b[0..8].copy_from_slice(&self.first_seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.segment.to_le_bytes());
        b[16..24].copy_from_slice(&self.offset.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> BlockPos {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        BlockPos { first_seq: word(0), segment: word(8), offset: word(16) }
    }
}

/// A segment file opened for reading block headers and blocks.
struct Segment {
    file: Box<dyn DiskFile>,
    path: std::path::PathBuf,
    len: u64,
}

impl Segment {
    fn open(disk: &dyn Disk, segments: &Path, first: u64) -> Result<Segment, StoreError> {
        let path = segments.join(segment_name(first));
        let file = disk.open(&path, false).map_err(|e| StoreError::io("opening", &path, e))?;
        let len = file.len().map_err(|e| StoreError::io("reading", &path, e))?;
        Ok(Segment { file, path, len })
    }

    /// The block header at `offset`, if a whole one is there.
    fn header(&self, offset: u64) -> Result<Option<(BlockHeader, [u8; BLOCK_HEADER_BYTES])>, StoreError> {
        let mut hb = [0u8; BLOCK_HEADER_BYTES];
        if offset >= self.len {
            return Ok(None);
        }
        let n =
            read_fully(self.file.as_ref(), &mut hb, offset).map_err(|e| StoreError::io("reading", &self.path, e))?;
        if n < BLOCK_HEADER_BYTES {
            return Ok(None);
        }
        let header = parse_block_header(&hb).map_err(|e| StoreError::Damaged {
            seq: None,
            what: format!("{}: block header at {offset}: {e}", self.path.display()),
        })?;
        Ok(Some((header, hb)))
    }

    /// The payload of the block at `offset` (whose header is `hb`), its checksum checked.
    fn payload(&self, offset: u64, header: &BlockHeader, hb: &[u8; BLOCK_HEADER_BYTES]) -> Result<Vec<u8>, StoreError> {
        let damaged = |what: String| StoreError::Damaged { seq: Some(header.first_seq), what };
        let mut payload = vec![0u8; header.payload_len as usize];
        let at = offset + BLOCK_HEADER_BYTES as u64;
        let n =
            read_fully(self.file.as_ref(), &mut payload, at).map_err(|e| StoreError::io("reading", &self.path, e))?;
        if n < payload.len() {
            return Err(damaged(format!("{} ends inside a block", self.path.display())));
        }
        check_block(hb, &payload).map_err(|e| damaged(e.to_string()))?;
        Ok(payload)
    }
}

/// A block found: its segment, where it starts, its header.
struct Found {
    segment: Segment,
    offset: u64,
    header: BlockHeader,
    hb: [u8; BLOCK_HEADER_BYTES],
}

/// The block holding committed record `seq`: by the block index of `tree` if it names it, else
/// by walking the block headers of its segment.
fn find(disk: &dyn Disk, segments: &Path, tree: &Path, seq: u64) -> Result<Found, StoreError> {
    let damaged = |what: String| StoreError::Damaged { seq: Some(seq), what };
    let firsts = list_segments(disk, segments)?;
    let first = *firsts.iter().rev().find(|&&f| f <= seq).ok_or_else(|| damaged("no segment file holds it".into()))?;
    let segment = Segment::open(disk, segments, first)?;
    if let Some(pos) = indexed(tree, seq)?.filter(|pos| pos.segment == first) {
        // A hint: an entry that names no block of this chain is passed over.
        if let Ok(Some((offset, header, hb))) = walk(&segment, pos, seq) {
            return Ok(Found { segment, offset, header, hb });
        }
    }
    let from_start = BlockPos { first_seq: first, segment: first, offset: SEGMENT_HEADER_BYTES as u64 };
    match walk(&segment, from_start, seq)? {
        Some((offset, header, hb)) => Ok(Found { segment, offset, header, hb }),
        None => Err(damaged(format!("{} ends before the record", segment.path.display()))),
    }
}

/// The canonical bytes of record `seq`, which must be below the commit point; `tree` is
/// `PATH/tree` (its block index is used if present).
pub fn record_bytes(disk: &dyn Disk, segments: &Path, tree: &Path, seq: u64) -> Result<Vec<u8>, StoreError> {
    let mut out = None;
    for_each_record(disk, segments, tree, seq, seq + 1, &mut |bytes| out = Some(bytes.to_vec()))?;
    out.ok_or_else(|| StoreError::Damaged { seq: Some(seq), what: "the block ends before the record".into() })
}

/// Calls `f` with the canonical bytes of committed records `first..end`, in order: the block
/// of `first` found as [`record_bytes`] finds it, then the blocks after it, each checked
/// (checksum, seqs, every record's hash against its locator).
pub fn for_each_record(
    disk: &dyn Disk,
    segments: &Path,
    tree: &Path,
    first: u64,
    end: u64,
    f: &mut dyn FnMut(&[u8]),
) -> Result<(), StoreError> {
    if first >= end {
        return Ok(());
    }
    let Found { mut segment, mut offset, mut header, mut hb } = find(disk, segments, tree, first)?;
    loop {
        let payload = segment.payload(offset, &header, &hb)?;
        records_in_block(&header, &payload, first, end, f)?;
        let next = header.end_seq();
        if next >= end {
            return Ok(());
        }
        offset += header.total_bytes();
        if offset >= segment.len {
            // The segment ends: the next one starts at the next seq.
            segment = Segment::open(disk, segments, next)?;
            offset = SEGMENT_HEADER_BYTES as u64;
        }
        let damaged = |what: String| StoreError::Damaged { seq: Some(next), what };
        (header, hb) = match segment.header(offset)? {
            Some((h, b)) if h.first_seq == next => (h, b),
            Some((h, _)) => {
                return Err(damaged(format!("a block of seq {} stands where seq {next} belongs", h.first_seq)))
            }
            None => return Err(damaged(format!("{} ends before the record", segment.path.display()))),
        };
    }
}

/// Walks block headers from `start` to the block holding `seq`: `None` if `start` does not
/// name a block of this chain's seqs or the segment ends first.
fn walk(
    segment: &Segment,
    start: BlockPos,
    seq: u64,
) -> Result<Option<(u64, BlockHeader, [u8; BLOCK_HEADER_BYTES])>, StoreError> {
    let (mut offset, mut next) = (start.offset, start.first_seq);
    while let Some((header, hb)) = segment.header(offset)? {
        if header.first_seq != next {
            return Ok(None);
        }
        if header.end_seq() > seq {
            return Ok(Some((offset, header, hb)));
        }
        offset += header.total_bytes();
        next = header.end_seq();
    }
    Ok(None)
}

/// The last indexed block starting at or before `seq`, by binary search.
fn indexed(tree: &Path, seq: u64) -> Result<Option<BlockPos>, StoreError> {
    let path = tree.join(BLOCK_INDEX_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("opening", &path, e)),
    };
    let len = file.metadata().map_err(|e| StoreError::io("reading", &path, e))?.len();
    let entries = len / BLOCK_ENTRY_BYTES as u64;
    let entry = |i: u64| -> Result<BlockPos, StoreError> {
        let mut b = [0u8; BLOCK_ENTRY_BYTES];
        file.read_exact_at(&mut b, i * BLOCK_ENTRY_BYTES as u64).map_err(|e| StoreError::io("reading", &path, e))?;
        Ok(BlockPos::decode(&b))
    };
    // The first entry whose block starts after `seq`; the one before it is the answer.
    let (mut lo, mut hi) = (0u64, entries);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if entry(mid)?.first_seq <= seq {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo.checked_sub(1).map(entry).transpose()
}

/// Extends the block index over every block of the first `records` records (a writer, at a
/// checkpoint): from the last indexed block on, one header `pread` per block. Returns the
/// entries indexed.
pub fn index_blocks(disk: &dyn Disk, segments: &Path, tree: &Path, records: u64) -> Result<u64, StoreError> {
    let path = tree.join(BLOCK_INDEX_FILE);
    let mut bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io("reading", &path, e)),
    };
    bytes.truncate(bytes.len() - bytes.len() % BLOCK_ENTRY_BYTES);
    let last = bytes.chunks(BLOCK_ENTRY_BYTES).last().map(BlockPos::decode).filter(|p| p.first_seq < records);
    let firsts: Vec<u64> = list_segments(disk, segments)?.into_iter().filter(|&f| f < records.max(1)).collect();
    let (mut pos, skip_first) = match last {
        Some(p) => (p, true),
        None => {
            bytes.clear();
            (BlockPos { first_seq: 0, segment: 0, offset: SEGMENT_HEADER_BYTES as u64 }, false)
        }
    };
    let mut segment = Segment::open(disk, segments, pos.segment)?;
    let mut skip = skip_first;
    while pos.first_seq < records {
        let Some((header, _)) = segment.header(pos.offset)? else {
            // The segment ends: the next one starts at the next seq.
            if !firsts.contains(&pos.first_seq) || pos.first_seq == pos.segment {
                return Err(StoreError::Damaged {
                    seq: Some(pos.first_seq),
                    what: "the block index walk found no block".into(),
                });
            }
            pos = BlockPos { first_seq: pos.first_seq, segment: pos.first_seq, offset: SEGMENT_HEADER_BYTES as u64 };
            segment = Segment::open(disk, segments, pos.segment)?;
            continue;
        };
        if header.first_seq != pos.first_seq {
            return Err(StoreError::Damaged {
                seq: Some(pos.first_seq),
                what: format!("a block of seq {} stands where seq {} belongs", header.first_seq, pos.first_seq),
            });
        }
        if !std::mem::take(&mut skip) {
            bytes.extend_from_slice(&pos.encode());
        }
        pos = BlockPos { first_seq: header.end_seq(), segment: pos.segment, offset: pos.offset + header.total_bytes() };
    }
    write_atomically(&path, &bytes)?;
    Ok((bytes.len() / BLOCK_ENTRY_BYTES) as u64)
}

/// Records `first..end` of a checked block, to `f`: the chain recomputed from the block's link,
/// each hash checked against its locator.
fn records_in_block(
    header: &BlockHeader,
    payload: &[u8],
    first: u64,
    end: u64,
    f: &mut dyn FnMut(&[u8]),
) -> Result<(), StoreError> {
    let damaged = |what: String| StoreError::Damaged { seq: Some(header.first_seq), what };
    let records = block_records(header, payload).map_err(|e| damaged(e.to_string()))?;
    let mut prev = header.prev;
    let mut bytes = Vec::new();
    for (i, item) in records.enumerate() {
        let seq = header.first_seq + i as u64;
        if seq >= end {
            break;
        }
        let (stored, loc) = item.map_err(|e| damaged(e.to_string()))?;
        canonical_bytes(stored, &prev, &mut bytes);
        let hash = chain::record_hash(&bytes);
        if locator(&hash) != loc {
            return Err(StoreError::Damaged {
                seq: Some(seq),
                what: "a record's hash differs from its locator".into(),
            });
        }
        if seq >= first {
            f(&bytes);
        }
        prev = hash;
    }
    Ok(())
}
