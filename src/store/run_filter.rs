//! An in-memory blocked Bloom filter over one pending run of the running append, built as the
//! run is written: a lookup of a digest the run does not hold asks it instead of the run's own
//! filter.
//!
//! A bulk append looks up every new order and every key before it stores it: digests that no
//! run holds. The run format's filter (`format::index_run::Bloom`) spreads a digest's seven
//! bits over the whole filter with a 64-bit modulo each: seven divisions and up to seven cache
//! misses per run asked. Here all of a digest's bits lie in one 64-byte block, as in RocksDB's
//! and Impala's blocked filters: one cache miss per run, no division.
//!
//! Nothing of it is stored; a lookup finds what it found before (a Bloom filter never says
//! "absent" of a digest it holds), only sooner.

use crate::format::index_run::Digest;

/// Filter bits an entry (about 0.5% false positives: a false positive costs a page read).
const BITS_PER_ENTRY: usize = 12;
/// Bits set in a block per digest: 7 of 9 bits each (63 of the digest's bits 32..96).
const HASHES: u32 = 7;
/// A block: one cache line.
type Block = [u64; 8];

/// A blocked Bloom filter sized for a known number of entries.
#[derive(Debug)]
pub struct RunFilter {
    blocks: Vec<Block>,
}

impl RunFilter {
    /// An empty filter for `entries` digests.
    pub fn with_entries(entries: u64) -> RunFilter {
        let bits = (entries.max(1) as usize).saturating_mul(BITS_PER_ENTRY);
        RunFilter { blocks: vec![[0; 8]; bits.div_ceil(512)] }
    }

    /// The block of `d` (its first 32 bits, by multiply-shift) and its bits in the block.
    fn place(&self, d: &Digest) -> (usize, impl Iterator<Item = usize>) {
        let at = u64::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
        let block = ((at * self.blocks.len() as u64) >> 32) as usize;
        let mut rest = [0u8; 8];
        rest.copy_from_slice(&d[4..12]);
        let bits = u64::from_le_bytes(rest);
        (block, (0..HASHES).map(move |i| ((bits >> (9 * i)) & 511) as usize))
    }

    /// Adds a digest.
    pub fn insert(&mut self, d: &Digest) {
        let (block, bits) = self.place(d);
        let b = &mut self.blocks[block];
        for bit in bits {
            b[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// Whether the digest may be present (false: certainly absent).
    pub fn may_contain(&self, d: &Digest) -> bool {
        let (block, mut bits) = self.place(d);
        let b = &self.blocks[block];
        bits.all(|bit| b[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::index_run::digest;

    #[test]
    fn a_filter_never_says_absent_of_a_digest_it_holds() {
        let held: Vec<Digest> = (0..20_000).map(|i| digest(b'k', &format!("held-{i}"))).collect();
        let mut f = RunFilter::with_entries(held.len() as u64);
        held.iter().for_each(|d| f.insert(d));
        assert!(held.iter().all(|d| f.may_contain(d)));
    }

    #[test]
    fn a_digest_the_filter_does_not_hold_is_rarely_a_maybe() {
        let n = 100_000;
        let mut f = RunFilter::with_entries(n);
        (0..n).for_each(|i| f.insert(&digest(b'k', &format!("held-{i}"))));
        let asked = 50_000;
        let maybe = (0..asked).filter(|i| f.may_contain(&digest(b'o', &format!("absent-{i}")))).count();
        let rate = maybe as f64 / asked as f64;
        assert!(rate < 0.02, "false positive rate {rate} at the filter's capacity");
    }

    #[test]
    fn an_empty_filter_holds_nothing() {
        let f = RunFilter::with_entries(0);
        assert!(!f.may_contain(&digest(b'k', "anything")));
    }
}
