//! Block framing: one store value holding a run of consecutive records.
//!
//! ```text
//! block  := format:u8 (=1) | count:u32 LE | count x entry
//! entry  := len:u32 LE | body:[u8; len] (a record's canonical bytes) | hash:[u8; 32]
//! ```
//! A block is keyed in the store by the seq of its first record. Every record inside keeps its
//! own seq, link and hash; the framing only groups them so one store write carries many records.

use super::codec::DecodeError;
use super::FORMAT_VERSION;
use crate::limits::{BLOCK_BYTES_MAX, RECORD_BYTES_MAX};

const HEADER_BYTES: usize = 1 + 4;
const ENTRY_OVERHEAD_BYTES: usize = 4 + 32;

/// Builds one block, refusing records that would push it past [`BLOCK_BYTES_MAX`].
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    count: u32,
}

impl Default for BlockBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockBuilder {
    /// An empty block.
    pub fn new() -> BlockBuilder {
        let mut buf = Vec::with_capacity(BLOCK_BYTES_MAX);
        buf.push(FORMAT_VERSION);
        buf.extend_from_slice(&0u32.to_le_bytes());
        BlockBuilder { buf, count: 0 }
    }

    /// Number of records in the block.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether a record of `body_len` bytes still fits.
    pub fn fits(&self, body_len: usize) -> bool {
        self.buf.len() + ENTRY_OVERHEAD_BYTES + body_len <= BLOCK_BYTES_MAX
    }

    /// Adds a record. The caller checks `fits` first; a body over [`RECORD_BYTES_MAX`] is a bug.
    pub fn push(&mut self, body: &[u8], hash: &[u8; 32]) {
        assert!(body.len() <= RECORD_BYTES_MAX, "record of {} bytes passed the input limits", body.len());
        assert!(self.fits(body.len()), "block overfilled");
        self.buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(hash);
        self.count += 1;
    }

    /// The finished block's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[1..5].copy_from_slice(&self.count.to_le_bytes());
        debug_assert!(block_entries(&self.buf).map(|it| it.count()) == Ok(self.count as usize));
        self.buf
    }
}

/// Iterates over a block's entries: `(body, stored hash)`.
pub fn block_entries(bytes: &[u8]) -> Result<BlockEntries<'_>, DecodeError> {
    if bytes.len() > BLOCK_BYTES_MAX {
        return Err(DecodeError::TooLarge { len: bytes.len(), max: BLOCK_BYTES_MAX });
    }
    if bytes.len() < HEADER_BYTES {
        return Err(DecodeError::Framing(format!("{} bytes are too short for a block header", bytes.len())));
    }
    if bytes[0] != FORMAT_VERSION {
        return Err(DecodeError::Version(bytes[0]));
    }
    let count = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    if count == 0 {
        return Err(DecodeError::Framing("empty block".to_string()));
    }
    Ok(BlockEntries { rest: &bytes[HEADER_BYTES..], left: count })
}

/// Iterator returned by [`block_entries`].
#[derive(Debug)]
pub struct BlockEntries<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> BlockEntries<'a> {
    /// Entries not yet returned.
    pub fn remaining(&self) -> u32 {
        self.left
    }
}

impl<'a> Iterator for BlockEntries<'a> {
    type Item = Result<(&'a [u8], &'a [u8; 32]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            if self.rest.is_empty() {
                return None;
            }
            let trailing = self.rest.len();
            self.rest = &[];
            return Some(Err(DecodeError::Framing(format!("{trailing} bytes after the last record"))));
        }
        self.left -= 1;
        let fail = |this: &mut Self, what: String| {
            this.left = 0;
            this.rest = &[];
            Some(Err(DecodeError::Framing(what)))
        };
        if self.rest.len() < 4 {
            return fail(self, "record length cut off".to_string());
        }
        let len = u32::from_le_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]) as usize;
        if len > RECORD_BYTES_MAX {
            return fail(self, format!("record length {len} exceeds {RECORD_BYTES_MAX}"));
        }
        if self.rest.len() < 4 + len + 32 {
            return fail(self, format!("record of {len} bytes cut off"));
        }
        let body = &self.rest[4..4 + len];
        let hash: &[u8; 32] = match self.rest[4 + len..4 + len + 32].try_into() {
            Ok(h) => h,
            Err(_) => return fail(self, "hash cut off".to_string()),
        };
        self.rest = &self.rest[4 + len + 32..];
        Some(Ok((body, hash)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_round_trips_and_broken_framing_is_an_error() {
        let mut b = BlockBuilder::new();
        b.push(b"one", &[1; 32]);
        b.push(b"three", &[3; 32]);
        let bytes = b.finish();
        let got: Vec<_> = block_entries(&bytes).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(got, vec![(&b"one"[..], &[1u8; 32]), (&b"three"[..], &[3u8; 32])]);
        for cut in 0..bytes.len() {
            let short = &bytes[..cut];
            let ok = block_entries(short).map(|it| it.collect::<Result<Vec<_>, _>>().is_ok());
            assert!(!matches!(ok, Ok(true)), "cut at {cut} accepted");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(block_entries(&longer).unwrap().collect::<Result<Vec<_>, _>>().is_err());
    }
}
