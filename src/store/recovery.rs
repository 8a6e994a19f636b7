//! Recovery when a writer opens the ledger: what lies beyond the committed length.
//!
//! Below the committed length nothing is ever removed: damage there is an integrity failure.
//! Beyond it, appends whose every block is whole and valid, ending in a COMMIT block that
//! continues the chain, were written by a writer that died before it moved the commit point:
//! they are kept (synced first, as the writer may have died before its fdatasync, then the
//! commit point moves over them). Whatever follows the last such append is
//! a torn tail: its bytes are copied to `recovered/` as found, synced, and only then cut.
//! All of this is done on the word of the commit point, so first the chain must bear it out
//! ([`check_commit_point`]): a `HEAD` that names another end than the chain's is refused.

use super::disk::{Disk, DiskFile};
use super::head::HeadWriter;
use super::segment::{list_segments, read_fully, segment_name, BlockReader};
use super::{StoreError, RECOVERED_DIR};
use crate::format::chain::hex;
use crate::format::head::HeadSlot;
use crate::format::segment::{
    check_block, hash_block, parse_block_header, parse_segment_header, BLOCK_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use std::path::Path;
use std::sync::Arc;

/// What recovery did, for the user to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records of complete appends found beyond the old commit point and kept.
    pub records_kept: u64,
    /// Bytes of torn tail cut (copied to `recovered/` first).
    pub bytes_cut: u64,
}

/// A position in the chain: segment, offset, the next seq and the hash it must link to.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    segment: u64,
    offset: u64,
    seq: u64,
    prev: [u8; 32],
}

/// Checks, before anything is kept or cut on its word, that the commit point is borne out by
/// the chain: the block holding its last record is whole, ends exactly at the committed
/// segment and length, and its last record hashes to the committed hash. A commit point that
/// is not (a forged or damaged `HEAD`, a segment cut or flipped at its end) is an integrity
/// failure, and the writer stops with every byte as it was.
pub fn check_commit_point(disk: Arc<dyn Disk>, seg_dir: &Path, slot: &HeadSlot) -> Result<(), StoreError> {
    let names = |segment: u64, len: u64| format!("{} length {len}", segment_name(segment));
    let Some(last) = slot.records.checked_sub(1) else {
        if (slot.segment_first_seq, slot.segment_len) == (0, SEGMENT_HEADER_BYTES as u64) {
            return Ok(());
        }
        return Err(StoreError::Damaged {
            seq: Some(0),
            what: format!(
                "the commit point of an empty ledger names {}",
                names(slot.segment_first_seq, slot.segment_len)
            ),
        });
    };
    let block = match BlockReader::new(disk, seg_dir, last, slot.records)?.next() {
        Some(block) => block?,
        None => {
            return Err(StoreError::Damaged { seq: Some(last), what: "the last committed record is missing".into() })
        }
    };
    let mut hashes = Vec::new();
    let (h, first) = (&block.header, block.header.first_seq);
    hash_block(h, &block.payload, &mut hashes).map_err(|f| StoreError::Damaged {
        seq: Some(first + u64::from(f.index)),
        what: "a committed record does not hash to its locator".into(),
    })?;
    let end = (block.segment, block.offset + h.total_bytes());
    let hash = hashes.last().copied().unwrap_or_default();
    if h.end_seq() != slot.records || end != (slot.segment_first_seq, slot.segment_len) || hash != slot.last_hash {
        return Err(StoreError::Damaged {
            seq: Some(last),
            what: format!(
                "the commit point says {} records ending in {} at {}; the chain's block there ends before seq {} with {} at {}",
                slot.records,
                hex(&slot.last_hash),
                names(slot.segment_first_seq, slot.segment_len),
                h.end_seq(),
                hex(&hash),
                names(end.0, end.1)
            ),
        });
    }
    Ok(())
}

/// Recovers the ledger whose segments are in `seg_dir` and commit point in `head`.
pub fn recover(disk: &dyn Disk, dir: &Path, seg_dir: &Path, head: &mut HeadWriter) -> Result<Recovered, StoreError> {
    let slot = head.slot();
    let segments = list_segments(disk, seg_dir)?;
    let damaged = |what: String| StoreError::Damaged { seq: Some(slot.records), what };
    if !segments.contains(&slot.segment_first_seq) {
        return Err(damaged(format!(
            "the segment of the commit point ({}) is missing",
            segment_name(slot.segment_first_seq)
        )));
    }
    let path = seg_dir.join(segment_name(slot.segment_first_seq));
    let file = disk.open(&path, true).map_err(|e| StoreError::io("opening", &path, e))?;
    let len = file.len().map_err(|e| StoreError::io("reading", &path, e))?;
    if len < slot.segment_len {
        return Err(damaged(format!(
            "{} is shorter ({len} bytes) than its committed length {}",
            path.display(),
            slot.segment_len
        )));
    }
    let start =
        Cursor { segment: slot.segment_first_seq, offset: slot.segment_len, seq: slot.records, prev: slot.last_hash };
    let end = scan(disk, seg_dir, &segments, start)?;
    let mut report = Recovered::default();
    if end.seq > slot.records {
        report.records_kept = end.seq - slot.records;
        // Whole blocks are not synced blocks: a writer killed between its writes and its
        // fdatasync leaves them whole in the page cache. They are made durable before the
        // commit point moves over them.
        sync_kept(disk, seg_dir, &segments, slot.segment_first_seq, end.segment)?;
        head.commit(end.seq, end.prev, (end.segment, end.offset))?;
    }
    report.bytes_cut = cut_tail(disk, dir, seg_dir, &segments, &end)?;
    Ok(report)
}

/// Follows valid blocks from `start`; returns the position after the last COMMIT block.
fn scan(disk: &dyn Disk, seg_dir: &Path, segments: &[u64], start: Cursor) -> Result<Cursor, StoreError> {
    let mut at = start;
    let mut committed = start;
    let mut file = open(disk, seg_dir, at.segment)?;
    let mut hashes = Vec::new();
    loop {
        let file_len = file.len().map_err(|e| StoreError::io("reading", &seg_dir.join(segment_name(at.segment)), e))?;
        if at.offset >= file_len {
            // Continue in the next segment only if it starts exactly here.
            match segments.iter().find(|&&s| s > at.segment) {
                Some(&next) if next == at.seq => {
                    let f = open(disk, seg_dir, next)?;
                    let mut h = [0u8; SEGMENT_HEADER_BYTES];
                    let n = read_fully(f.as_ref(), &mut h, 0)
                        .map_err(|e| StoreError::io("reading", &seg_dir.join(segment_name(next)), e))?;
                    if parse_segment_header(&h[..n]) != Ok(next) {
                        return Ok(committed);
                    }
                    file = f;
                    at.segment = next;
                    at.offset = SEGMENT_HEADER_BYTES as u64;
                    continue;
                }
                _ => return Ok(committed),
            }
        }
        let mut hb = [0u8; BLOCK_HEADER_BYTES];
        if read_fully(file.as_ref(), &mut hb, at.offset).unwrap_or(0) < BLOCK_HEADER_BYTES {
            return Ok(committed);
        }
        let Ok(header) = parse_block_header(&hb) else { return Ok(committed) };
        if header.first_seq != at.seq || header.prev != at.prev {
            return Ok(committed);
        }
        let mut payload = vec![0u8; header.payload_len as usize];
        let whole = read_fully(file.as_ref(), &mut payload, at.offset + BLOCK_HEADER_BYTES as u64).unwrap_or(0)
            == payload.len();
        if !whole || check_block(&hb, &payload).is_err() || hash_block(&header, &payload, &mut hashes).is_err() {
            return Ok(committed);
        }
        at.offset += header.total_bytes();
        at.seq = header.end_seq();
        at.prev = *hashes.last().expect("a block holds at least one record");
        if header.is_commit() {
            committed = at;
        }
    }
}

/// `fdatasync` of the segments `from..=to`, and of their directory if that spans a new file.
fn sync_kept(disk: &dyn Disk, seg_dir: &Path, segments: &[u64], from: u64, to: u64) -> Result<(), StoreError> {
    for &s in segments.iter().filter(|&&s| s >= from && s <= to) {
        let path = seg_dir.join(segment_name(s));
        open(disk, seg_dir, s)?.sync_data().map_err(|e| StoreError::io("syncing", &path, e))?;
    }
    if to != from {
        disk.sync_dir(seg_dir).map_err(|e| StoreError::io("syncing", seg_dir, e))?;
    }
    Ok(())
}

fn open(disk: &dyn Disk, seg_dir: &Path, segment: u64) -> Result<Box<dyn DiskFile>, StoreError> {
    let path = seg_dir.join(segment_name(segment));
    disk.open(&path, true).map_err(|e| StoreError::io("opening", &path, e))
}

/// Copies everything after `end` to `recovered/`, then cuts it: the rest of `end`'s segment
/// and every later segment file. Returns the bytes cut.
fn cut_tail(disk: &dyn Disk, dir: &Path, seg_dir: &Path, segments: &[u64], end: &Cursor) -> Result<u64, StoreError> {
    let mut cut = 0u64;
    let recovered = dir.join(RECOVERED_DIR);
    for &s in segments.iter().filter(|&&s| s >= end.segment) {
        let path = seg_dir.join(segment_name(s));
        let file = open(disk, seg_dir, s)?;
        let len = file.len().map_err(|e| StoreError::io("reading", &path, e))?;
        let from = if s == end.segment { end.offset } else { 0 };
        if len <= from {
            continue;
        }
        let mut tail = vec![0u8; (len - from) as usize];
        let n = read_fully(file.as_ref(), &mut tail, from).map_err(|e| StoreError::io("reading", &path, e))?;
        tail.truncate(n);
        keep_evidence(disk, &recovered, &format!("{}.{from}.tail", segment_name(s)), &tail)?;
        cut += tail.len() as u64;
        if s == end.segment {
            file.set_len(from).map_err(|e| StoreError::io("truncating", &path, e))?;
            file.sync_data().map_err(|e| StoreError::io("syncing", &path, e))?;
        } else {
            disk.remove(&path).map_err(|e| StoreError::io("removing", &path, e))?;
        }
    }
    if cut > 0 {
        disk.sync_dir(seg_dir).map_err(|e| StoreError::io("syncing", seg_dir, e))?;
    }
    Ok(cut)
}

fn keep_evidence(disk: &dyn Disk, recovered: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    disk.create_dir(recovered).map_err(|e| StoreError::io("creating", recovered, e))?;
    let mut n = 0;
    let file = loop {
        let path = recovered.join(if n == 0 { name.to_string() } else { format!("{name}.{n}") });
        match disk.create_new(&path) {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(StoreError::io("creating", &path, e)),
        }
    };
    let path = recovered.join(name);
    file.write_all_at(bytes, 0).map_err(|e| StoreError::io("writing", &path, e))?;
    file.sync_data().map_err(|e| StoreError::io("syncing", &path, e))?;
    disk.sync_dir(recovered).map_err(|e| StoreError::io("syncing", recovered, e))
}
