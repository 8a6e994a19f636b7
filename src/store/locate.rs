//! One committed record's canonical bytes, found by walking block headers (one 56-byte `pread`
//! per block of its segment) instead of reading the segment's payloads: what `prove --seq`
//! needs at any size in a few milliseconds. Every block read is checked (header, checksum, seq
//! continuity) and the record's hash against its stored locator.

use super::disk::Disk;
use super::segment::{list_segments, read_fully, segment_name};
use super::StoreError;
use crate::format::chain;
use crate::format::segment::{
    block_records, canonical_bytes, check_block, locator, parse_block_header, BlockHeader, BLOCK_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
};
use std::path::Path;

/// The canonical bytes of record `seq`, which must be below the commit point.
pub fn record_bytes(disk: &dyn Disk, segments: &Path, seq: u64) -> Result<Vec<u8>, StoreError> {
    let damaged = |what: String| StoreError::Damaged { seq: Some(seq), what };
    let firsts = list_segments(disk, segments)?;
    let first = *firsts.iter().rev().find(|&&f| f <= seq).ok_or_else(|| damaged("no segment file holds it".into()))?;
    let path = segments.join(segment_name(first));
    let file = disk.open(&path, false).map_err(|e| StoreError::io("opening", &path, e))?;
    let io = |e| StoreError::io("reading", &path, e);
    let len = file.len().map_err(io)?;
    let (mut offset, mut next) = (SEGMENT_HEADER_BYTES as u64, first);
    let mut hb = [0u8; BLOCK_HEADER_BYTES];
    loop {
        if offset >= len || read_fully(file.as_ref(), &mut hb, offset).map_err(io)? < BLOCK_HEADER_BYTES {
            return Err(damaged(format!("{} ends before the record", path.display())));
        }
        let header = parse_block_header(&hb).map_err(|e| damaged(format!("block header: {e}")))?;
        if header.first_seq != next {
            return Err(damaged(format!("a block of seq {} stands where seq {next} belongs", header.first_seq)));
        }
        if header.end_seq() > seq {
            let mut payload = vec![0u8; header.payload_len as usize];
            let at = offset + BLOCK_HEADER_BYTES as u64;
            if read_fully(file.as_ref(), &mut payload, at).map_err(io)? < payload.len() {
                return Err(damaged(format!("{} ends inside a block", path.display())));
            }
            check_block(&hb, &payload).map_err(|e| damaged(e.to_string()))?;
            return record_in_block(&header, &payload, seq);
        }
        offset += header.total_bytes();
        next = header.end_seq();
    }
}

/// Record `seq` of a checked block: the chain recomputed from the block's link up to it.
fn record_in_block(header: &BlockHeader, payload: &[u8], seq: u64) -> Result<Vec<u8>, StoreError> {
    let damaged = |what: String| StoreError::Damaged { seq: Some(seq), what };
    let records = block_records(header, payload).map_err(|e| damaged(e.to_string()))?;
    let mut prev = header.prev;
    let mut bytes = Vec::new();
    for (i, item) in records.enumerate() {
        let (stored, loc) = item.map_err(|e| damaged(e.to_string()))?;
        canonical_bytes(stored, &prev, &mut bytes);
        let hash = chain::record_hash(&bytes);
        if locator(&hash) != loc {
            return Err(damaged("a record's hash differs from its locator".into()));
        }
        if header.first_seq + i as u64 == seq {
            return Ok(bytes);
        }
        prev = hash;
    }
    Err(damaged("the block ends before the record".into()))
}
