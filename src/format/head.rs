//! The commit point: the `HEAD` file's two slots. Pure framing; `store::head` does the I/O.
//!
//! ```text
//! HEAD := slot 0 at offset 0 | slot 1 at offset 4096   (each HEAD_SLOT_BYTES, zero padded)
//! slot := magic "qledhead" | format:u8 (=1) | 7 zero bytes | generation:u64 LE
//!       | records:u64 LE | last_hash:[u8; 32] | segment_first_seq:u64 LE
//!       | segment_len:u64 LE | 32 zero bytes (reserved)
//!       | checksum:[u8; 16] (BLAKE3 derive_key HEAD_CONTEXT over the 112 bytes before it)
//! ```
//! A commit writes the slot `generation % 2` with the next generation and syncs it; readers
//! take the valid slot with the higher generation. A torn write damages one slot only, and the
//! other still holds the commit before it: the commit point moves atomically.

use super::codec::DecodeError;

/// Bytes of one slot.
pub const HEAD_SLOT_BYTES: usize = 128;
/// Offset of slot 1 (its own page: a torn write of one slot never reaches the other).
pub const HEAD_SLOT1_OFFSET: u64 = 4096;
/// Bytes of the whole HEAD file.
pub const HEAD_FILE_BYTES: u64 = HEAD_SLOT1_OFFSET + HEAD_SLOT_BYTES as u64;
/// Magic of a slot.
pub const HEAD_MAGIC: &[u8; 8] = b"qledhead";
/// BLAKE3 `derive_key` context of the slot checksum.
pub const HEAD_CONTEXT: &str = "quotaledger 2026-11-29 head slot v1";

/// What a commit point says: the committed prefix of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadSlot {
    /// Incremented by every commit.
    pub generation: u64,
    /// Records committed.
    pub records: u64,
    /// Hash of the last committed record (zeros when none).
    pub last_hash: [u8; 32],
    /// First seq of the segment that holds the end of the committed prefix.
    pub segment_first_seq: u64,
    /// Committed bytes of that segment (header included).
    pub segment_len: u64,
}

impl HeadSlot {
    /// The slot's bytes.
    pub fn encode(&self) -> [u8; HEAD_SLOT_BYTES] {
        let mut b = [0u8; HEAD_SLOT_BYTES];
        b[0..8].copy_from_slice(HEAD_MAGIC);
        b[8] = 1;
        b[16..24].copy_from_slice(&self.generation.to_le_bytes());
        b[24..32].copy_from_slice(&self.records.to_le_bytes());
        b[32..64].copy_from_slice(&self.last_hash);
        b[64..72].copy_from_slice(&self.segment_first_seq.to_le_bytes());
        b[72..80].copy_from_slice(&self.segment_len.to_le_bytes());
        let sum = checksum(&b[0..112]);
        b[112..128].copy_from_slice(&sum);
        b
    }

    /// Decodes a slot; `None` for an all-zero (never written) slot.
    pub fn decode(b: &[u8]) -> Result<Option<HeadSlot>, DecodeError> {
        if b.len() != HEAD_SLOT_BYTES {
            return Err(DecodeError::Framing(format!("a head slot is {HEAD_SLOT_BYTES} bytes, not {}", b.len())));
        }
        if b.iter().all(|&x| x == 0) {
            return Ok(None);
        }
        if &b[0..8] != HEAD_MAGIC {
            return Err(DecodeError::Framing("head slot: bad magic".into()));
        }
        if b[8] != 1 {
            return Err(DecodeError::Version(b[8]));
        }
        if checksum(&b[0..112]) != b[112..128] || b[9..16] != [0; 7] || b[80..112] != [0; 32] {
            return Err(DecodeError::Framing("head slot: checksum mismatch".into()));
        }
        let u64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(x)
        };
        let mut last_hash = [0u8; 32];
        last_hash.copy_from_slice(&b[32..64]);
        let slot = HeadSlot {
            generation: u64_at(16),
            records: u64_at(24),
            last_hash,
            segment_first_seq: u64_at(64),
            segment_len: u64_at(72),
        };
        if slot.segment_first_seq > slot.records {
            return Err(DecodeError::Invalid("head slot: its segment starts after its last record".into()));
        }
        Ok(Some(slot))
    }
}

/// Picks the commit point from the two slots' bytes: the valid one with the higher generation.
/// Errors only when no slot is valid.
pub fn pick(slot0: &[u8], slot1: &[u8]) -> Result<Option<HeadSlot>, DecodeError> {
    match (HeadSlot::decode(slot0), HeadSlot::decode(slot1)) {
        (Ok(a), Ok(b)) => Ok(match (a, b) {
            (Some(a), Some(b)) => Some(if b.generation > a.generation { b } else { a }),
            (a, b) => a.or(b),
        }),
        (Ok(Some(a)), Err(_)) | (Err(_), Ok(Some(a))) => Ok(Some(a)),
        (Ok(None), Err(e)) | (Err(e), Ok(None)) | (Err(e), Err(_)) => Err(e),
    }
}

fn checksum(bytes: &[u8]) -> [u8; 16] {
    super::chain::derived_prefix(HEAD_CONTEXT, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newer_valid_slot_wins_and_a_torn_slot_falls_back() {
        let a = HeadSlot { generation: 1, records: 3, last_hash: [7; 32], segment_first_seq: 0, segment_len: 99 };
        let b = HeadSlot { generation: 2, records: 5, ..a };
        assert_eq!(pick(&a.encode(), &b.encode()), Ok(Some(b)));
        let mut torn = b.encode();
        torn[40] ^= 1;
        assert_eq!(pick(&a.encode(), &torn), Ok(Some(a)));
        assert_eq!(pick(&[0; HEAD_SLOT_BYTES], &[0; HEAD_SLOT_BYTES]), Ok(None));
        assert!(pick(&torn, &torn).is_err());
    }
}
