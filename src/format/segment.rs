//! Segment files: the chain on disk. Pure framing (bytes in, bytes out); `store::segment`
//! does the file I/O. The README's "Storage" section is the spec; this is its implementation.
//!
//! ```text
//! segment := header (32 bytes) | block*
//! header  := magic "qledgseg" | format:u8 (=1) | 7 zero bytes | first_seq:u64 LE
//!          | crc32c:u32 LE (of bytes 0..24) | 4 zero bytes
//! block   := block header (56 bytes) | payload
//! block header := format:u8 (=1) | flags:u8 (bit 0: COMMIT, the last block of an append;
//!                 other bits 0) | 2 zero bytes | count:u32 LE (>= 1) | first_seq:u64 LE
//!               | payload_len:u32 LE | prev:[u8; 32] (hash of record first_seq - 1; zeros
//!                 for seq 0) | crc32c:u32 LE (of header bytes 0..52, then the payload)
//! payload := count x locator:[u8; 8]   (the first 8 bytes of each record's hash)
//!          | count x len:u16 LE        (each record's canonical bytes minus the final `prev`)
//!          | the records' canonical bytes without their final 32-byte `prev`, concatenated
//! ```
//! A record's canonical bytes end with `prev`, the hash of the record before it, so they are
//! stored without it: record i's bytes are `stored_i || hash_(i-1)`, where the hash of the
//! record before the block's first is the block's `prev`. The chain is therefore recomputable
//! from any block on, and the locators name the first record whose hash differs.

use super::chain;
use super::codec::DecodeError;
use crate::limits::{BLOCK_BYTES_MAX, RECORD_BYTES_MAX};

/// Magic bytes opening every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"qledgseg";
/// The segment and block framing version.
pub const SEGMENT_FORMAT: u8 = 1;
/// Bytes of a segment header.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// Bytes of a block header.
pub const BLOCK_HEADER_BYTES: usize = 56;
/// Flag bit: this block is the last of one append (the append is complete with it).
pub const FLAG_COMMIT: u8 = 1;
/// Bytes of a record's locator: a prefix of its hash.
pub const LOCATOR_BYTES: usize = 8;
/// Bytes of a stored record body at most (its canonical bytes less `prev`).
pub const STORED_RECORD_BYTES_MAX: usize = RECORD_BYTES_MAX - 32;
/// Largest payload of one block.
pub const BLOCK_PAYLOAD_BYTES_MAX: usize = BLOCK_BYTES_MAX - BLOCK_HEADER_BYTES;

const _: () = assert!(STORED_RECORD_BYTES_MAX <= u16::MAX as usize);
const _: () = assert!(STORED_RECORD_BYTES_MAX + LOCATOR_BYTES + 2 <= BLOCK_PAYLOAD_BYTES_MAX);

/// The header of a segment file.
pub fn segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES];
    h[0..8].copy_from_slice(SEGMENT_MAGIC);
    h[8] = SEGMENT_FORMAT;
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Reads a segment header: its first seq.
pub fn parse_segment_header(bytes: &[u8]) -> Result<u64, DecodeError> {
    if bytes.len() < SEGMENT_HEADER_BYTES {
        return Err(DecodeError::Framing("segment header cut off".into()));
    }
    if &bytes[0..8] != SEGMENT_MAGIC {
        return Err(DecodeError::Framing("not a segment file (bad magic)".into()));
    }
    if bytes[8] != SEGMENT_FORMAT {
        return Err(DecodeError::Version(bytes[8]));
    }
    let crc = u32_at(bytes, 24);
    if crc != crc32c::crc32c(&bytes[0..24]) || bytes[9..16] != [0; 7] || bytes[28..32] != [0; 4] {
        return Err(DecodeError::Framing("segment header checksum mismatch".into()));
    }
    Ok(u64_at(bytes, 16))
}

/// A block header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Flag bits ([`FLAG_COMMIT`]).
    pub flags: u8,
    /// Records in the block.
    pub count: u32,
    /// Seq of the first record.
    pub first_seq: u64,
    /// Bytes of payload after the header.
    pub payload_len: u32,
    /// Hash of the record before the first.
    pub prev: [u8; 32],
    /// Stored checksum.
    pub crc: u32,
}

impl BlockHeader {
    /// Whether this block completes an append.
    pub fn is_commit(&self) -> bool {
        self.flags & FLAG_COMMIT != 0
    }

    /// The seq after the block's last record.
    pub fn end_seq(&self) -> u64 {
        self.first_seq.saturating_add(u64::from(self.count))
    }

    /// Bytes of header and payload.
    pub fn total_bytes(&self) -> u64 {
        BLOCK_HEADER_BYTES as u64 + u64::from(self.payload_len)
    }
}

/// Decodes a block header (its own limits; the checksum is checked with the payload by
/// [`check_block`]).
pub fn parse_block_header(bytes: &[u8; BLOCK_HEADER_BYTES]) -> Result<BlockHeader, DecodeError> {
    if bytes[0] != SEGMENT_FORMAT {
        return Err(DecodeError::Version(bytes[0]));
    }
    let flags = bytes[1];
    if flags & !FLAG_COMMIT != 0 || bytes[2..4] != [0, 0] {
        return Err(DecodeError::Framing(format!("unknown block flags {flags:#04x}")));
    }
    let count = u32_at(bytes, 4);
    let payload_len = u32_at(bytes, 16);
    if count == 0 {
        return Err(DecodeError::Framing("empty block".into()));
    }
    if payload_len as usize > BLOCK_PAYLOAD_BYTES_MAX {
        return Err(DecodeError::TooLarge { len: payload_len as usize, max: BLOCK_PAYLOAD_BYTES_MAX });
    }
    if (count as usize).saturating_mul(LOCATOR_BYTES + 2) > payload_len as usize {
        return Err(DecodeError::Framing(format!("{count} records cannot fit in {payload_len} bytes")));
    }
    let mut prev = [0u8; 32];
    prev.copy_from_slice(&bytes[20..52]);
    Ok(BlockHeader { flags, count, first_seq: u64_at(bytes, 8), payload_len, prev, crc: u32_at(bytes, 52) })
}

/// Checks a block's checksum over its header and payload.
pub fn check_block(header_bytes: &[u8; BLOCK_HEADER_BYTES], payload: &[u8]) -> Result<(), DecodeError> {
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header_bytes[0..52]), payload);
    if crc != u32_at(header_bytes, 52) {
        return Err(DecodeError::Framing("block checksum mismatch".into()));
    }
    Ok(())
}

/// Builds one block from consecutive records, refusing records that would push it past
/// [`BLOCK_BYTES_MAX`].
#[derive(Debug)]
pub struct BlockBuilder {
    first_seq: u64,
    prev: [u8; 32],
    locators: Vec<u8>,
    lens: Vec<u8>,
    bodies: Vec<u8>,
    count: u32,
}

impl BlockBuilder {
    /// An empty block whose first record will have `first_seq` and link to `prev`.
    pub fn new(first_seq: u64, prev: [u8; 32]) -> BlockBuilder {
        BlockBuilder {
            first_seq,
            prev,
            locators: Vec::with_capacity(4096),
            lens: Vec::with_capacity(1024),
            bodies: Vec::with_capacity(BLOCK_PAYLOAD_BYTES_MAX),
            count: 0,
        }
    }

    /// Records in the block so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The seq the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.first_seq + u64::from(self.count)
    }

    fn payload_len(&self) -> usize {
        self.locators.len() + self.lens.len() + self.bodies.len()
    }

    /// Whether a record with canonical bytes of `record_len` still fits.
    pub fn fits(&self, record_len: usize) -> bool {
        self.payload_len() + LOCATOR_BYTES + 2 + record_len.saturating_sub(32) <= BLOCK_PAYLOAD_BYTES_MAX
    }

    /// Adds a record: its canonical bytes (ending in `prev`) and its hash. The caller checks
    /// `fits` first; anything else is a bug in the caller.
    pub fn push(&mut self, record: &[u8], hash: &[u8; 32]) {
        assert!(record.len() >= 32 && record.len() <= RECORD_BYTES_MAX, "record of {} bytes", record.len());
        assert!(self.fits(record.len()), "block overfilled");
        let stored = &record[..record.len() - 32];
        self.locators.extend_from_slice(&hash[..LOCATOR_BYTES]);
        self.lens.extend_from_slice(&(stored.len() as u16).to_le_bytes());
        self.bodies.extend_from_slice(stored);
        self.count += 1;
    }

    /// The finished block's bytes, and the builder emptied for a block starting at
    /// `first_seq` linked to `prev` (its buffers kept).
    pub fn finish_and_reset(&mut self, first_seq: u64, prev: [u8; 32], commit: bool) -> Vec<u8> {
        let out = self.encode(commit);
        self.first_seq = first_seq;
        self.prev = prev;
        self.locators.clear();
        self.lens.clear();
        self.bodies.clear();
        self.count = 0;
        out
    }

    /// The finished block's bytes (header and payload), flagged [`FLAG_COMMIT`] if `commit`.
    pub fn finish(self, commit: bool) -> Vec<u8> {
        self.encode(commit)
    }

    fn encode(&self, commit: bool) -> Vec<u8> {
        assert!(self.count > 0, "an empty block is never written");
        let payload_len = self.payload_len();
        let mut out = Vec::with_capacity(BLOCK_HEADER_BYTES + payload_len);
        out.push(SEGMENT_FORMAT);
        out.push(if commit { FLAG_COMMIT } else { 0 });
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.first_seq.to_le_bytes());
        out.extend_from_slice(&(payload_len as u32).to_le_bytes());
        out.extend_from_slice(&self.prev);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.locators);
        out.extend_from_slice(&self.lens);
        out.extend_from_slice(&self.bodies);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&out[0..52]), &out[BLOCK_HEADER_BYTES..]);
        out[52..56].copy_from_slice(&crc.to_le_bytes());
        out
    }
}

/// A block's records, read from its payload: `(stored bytes, locator)` in order.
#[derive(Debug)]
pub struct BlockRecords<'a> {
    locators: &'a [u8],
    lens: &'a [u8],
    bodies: &'a [u8],
    next: usize,
    count: usize,
}

/// Splits a checked payload into its records.
pub fn block_records<'a>(header: &BlockHeader, payload: &'a [u8]) -> Result<BlockRecords<'a>, DecodeError> {
    let count = header.count as usize;
    if payload.len() != header.payload_len as usize || payload.len() < count * (LOCATOR_BYTES + 2) {
        return Err(DecodeError::Framing("payload length does not match the header".into()));
    }
    let (locators, rest) = payload.split_at(count * LOCATOR_BYTES);
    let (lens, bodies) = rest.split_at(count * 2);
    let total: usize = lens.chunks_exact(2).map(|l| usize::from(u16::from_le_bytes([l[0], l[1]]))).sum();
    if total != bodies.len() {
        return Err(DecodeError::Framing(format!(
            "record lengths add up to {total}, the block holds {}",
            bodies.len()
        )));
    }
    Ok(BlockRecords { locators, lens, bodies, next: 0, count })
}

impl<'a> Iterator for BlockRecords<'a> {
    type Item = Result<(&'a [u8], [u8; LOCATOR_BYTES]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let len = usize::from(u16::from_le_bytes([self.lens[2 * i], self.lens[2 * i + 1]]));
        if len > STORED_RECORD_BYTES_MAX {
            self.next = self.count;
            return Some(Err(DecodeError::TooLarge { len, max: STORED_RECORD_BYTES_MAX }));
        }
        let (body, rest) = self.bodies.split_at(len);
        self.bodies = rest;
        let mut locator = [0u8; LOCATOR_BYTES];
        locator.copy_from_slice(&self.locators[i * LOCATOR_BYTES..(i + 1) * LOCATOR_BYTES]);
        Some(Ok((body, locator)))
    }
}

/// Rebuilds a record's canonical bytes from its stored bytes and the hash before it.
pub fn canonical_bytes(stored: &[u8], prev: &[u8; 32], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(stored);
    out.extend_from_slice(prev);
}

/// The locator of a hash.
pub fn locator(hash: &[u8; 32]) -> [u8; LOCATOR_BYTES] {
    let mut l = [0u8; LOCATOR_BYTES];
    l.copy_from_slice(&hash[..LOCATOR_BYTES]);
    l
}

/// Walks a block's records computing the chain from its `prev`: the hash of each record, or
/// the index of the first record whose hash does not match its locator.
pub fn hash_block(header: &BlockHeader, payload: &[u8], hashes: &mut Vec<[u8; 32]>) -> Result<(), BlockFault> {
    hash_block_with(header, payload, hashes, |_| {})
}

/// [`hash_block`], handing each record's canonical bytes to `each` once its hash matched its
/// locator (so a caller that also decodes the records builds their bytes once).
pub fn hash_block_with(
    header: &BlockHeader,
    payload: &[u8],
    hashes: &mut Vec<[u8; 32]>,
    mut each: impl FnMut(&[u8]),
) -> Result<(), BlockFault> {
    hashes.clear();
    let records = block_records(header, payload).map_err(|e| BlockFault { index: 0, error: Some(e) })?;
    let mut prev = header.prev;
    let mut buf = Vec::with_capacity(512);
    for (i, item) in records.enumerate() {
        let (stored, loc) = item.map_err(|e| BlockFault { index: i as u32, error: Some(e) })?;
        canonical_bytes(stored, &prev, &mut buf);
        let hash = chain::record_hash(&buf);
        if locator(&hash) != loc {
            return Err(BlockFault { index: i as u32, error: None });
        }
        hashes.push(hash);
        each(&buf);
        prev = hash;
    }
    Ok(())
}

/// Where [`hash_block`] stopped: the record's index in its block, and a framing error if that
/// was the cause (else the record's hash differs from its locator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockFault {
    /// Index of the record within the block.
    pub index: u32,
    /// The framing error, if any.
    pub error: Option<DecodeError>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8, prev: &[u8; 32]) -> Vec<u8> {
        let mut r = vec![n; 10 + n as usize];
        r.extend_from_slice(prev);
        r
    }

    #[test]
    fn a_block_round_trips_and_every_cut_or_flip_is_caught() {
        let mut b = BlockBuilder::new(5, [9; 32]);
        let r1 = record(1, &[9; 32]);
        let h1 = chain::record_hash(&r1);
        b.push(&r1, &h1);
        let r2 = record(2, &h1);
        let h2 = chain::record_hash(&r2);
        b.push(&r2, &h2);
        let bytes = b.finish(true);
        let hb: &[u8; BLOCK_HEADER_BYTES] = bytes[..BLOCK_HEADER_BYTES].try_into().unwrap();
        let header = parse_block_header(hb).unwrap();
        assert!(header.is_commit());
        assert_eq!((header.first_seq, header.count, header.end_seq()), (5, 2, 7));
        let payload = &bytes[BLOCK_HEADER_BYTES..];
        check_block(hb, payload).unwrap();
        let mut hashes = Vec::new();
        hash_block(&header, payload, &mut hashes).unwrap();
        assert_eq!(hashes, vec![h1, h2]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let hb: &[u8; BLOCK_HEADER_BYTES] = bad[..BLOCK_HEADER_BYTES].try_into().unwrap();
            let caught = parse_block_header(hb).is_err() || check_block(hb, &bad[BLOCK_HEADER_BYTES..]).is_err();
            assert!(caught, "flip at {i} not caught");
        }
    }

    #[test]
    fn a_segment_header_round_trips_and_rejects_damage() {
        let h = segment_header(42);
        assert_eq!(parse_segment_header(&h), Ok(42));
        for i in 0..h.len() {
            let mut bad = h;
            bad[i] ^= 1;
            assert!(parse_segment_header(&bad).is_err(), "flip at {i}");
        }
    }
}
