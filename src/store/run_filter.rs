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
//! "absent" of a digest it holds), only sooner. It is at most [`RUN_FILTER_BYTES_MAX`], as
//! the run's stored filter is: a larger run's filter has fewer bits an entry and fewer hashes
//! (more false positives, each a page read), so the filters of the running append's runs, and
//! the one a merge of them builds, stop growing with the append there.

use crate::format::index_run::{hashes_for, Digest};
use crate::limits::RUN_FILTER_BYTES_MAX;

/// Filter bits an entry (about 0.5% false positives: a false positive costs a page read), up
/// to a filter of [`RUN_FILTER_BYTES_MAX`].
const BITS_PER_ENTRY: usize = 12;
/// Bits set in a block per digest: 7 of 9 bits each (63 of the digest's bits 32..96); fewer in
/// a filter that [`RUN_FILTER_BYTES_MAX`] caps.
const HASHES: u32 = 7;
/// A block: one cache line.
type Block = [u64; 8];
/// Bytes of a block.
const BLOCK_BYTES: usize = std::mem::size_of::<Block>();

/// A blocked Bloom filter sized for a known number of entries.
#[derive(Debug)]
pub struct RunFilter {
    blocks: Vec<Block>,
    /// Bits set in a block per digest.
    hashes: u32,
}

impl RunFilter {
    /// An empty filter for `entries` digests: [`BITS_PER_ENTRY`] bits an entry and
    /// [`HASHES`] hashes, up to [`RUN_FILTER_BYTES_MAX`].
    pub fn with_entries(entries: u64) -> RunFilter {
        RunFilter::with_entries_max(entries, RUN_FILTER_BYTES_MAX)
    }

    /// An empty filter for `entries` digests of at most `bytes_max` bytes (at least one
    /// block): a filter the limit caps has fewer bits an entry and `round(ln 2 x bits an
    /// entry)` hashes, 1 to [`HASHES`]; one it does not reach is as without it.
    pub fn with_entries_max(entries: u64, bytes_max: usize) -> RunFilter {
        let blocks = RunFilter::blocks_for(entries, bytes_max);
        let hashes = if blocks * BLOCK_BYTES < RunFilter::bytes_for(entries, usize::MAX) {
            hashes_for((blocks * 512) as u64, entries.max(1), HASHES)
        } else {
            HASHES
        };
        RunFilter { blocks: vec![[0; 8]; blocks], hashes }
    }

    /// Bytes the filter of `entries` digests takes at a limit of `bytes_max` (what
    /// [`RunFilter::with_entries_max`] would allocate), for deciding before building it.
    pub fn bytes_for(entries: u64, bytes_max: usize) -> usize {
        RunFilter::blocks_for(entries, bytes_max).saturating_mul(BLOCK_BYTES)
    }

    fn blocks_for(entries: u64, bytes_max: usize) -> usize {
        let bits = usize::try_from(entries.max(1)).unwrap_or(usize::MAX).saturating_mul(BITS_PER_ENTRY);
        bits.div_ceil(512).min((bytes_max / BLOCK_BYTES).max(1))
    }

    /// Bytes it holds in memory.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * BLOCK_BYTES
    }

    /// The block of `d` (its first 32 bits, by multiply-shift) and its bits in the block.
    fn place(&self, d: &Digest) -> (usize, impl Iterator<Item = usize>) {
        let at = u64::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
        let block = ((at * self.blocks.len() as u64) >> 32) as usize;
        let mut rest = [0u8; 8];
        rest.copy_from_slice(&d[4..12]);
        let bits = u64::from_le_bytes(rest);
        (block, (0..self.hashes).map(move |i| ((bits >> (9 * i)) & 511) as usize))
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
    fn a_filter_at_its_byte_limit_keeps_that_size_and_never_says_absent_of_a_digest_it_holds() {
        // Below the limit: as without it.
        assert_eq!(RunFilter::with_entries_max(1_000, 8192).bytes(), RunFilter::with_entries(1_000).bytes());
        assert_eq!(RunFilter::with_entries_max(1_000, 8192).hashes, HASHES);
        // 8 KiB over 10,000 entries: 6.6 bits an entry, 5 hashes; over 40,000: 1.6 bits, 1.
        for (n, hashes, fp_max) in [(10_000u64, 5, 0.10), (40_000, 1, 0.50)] {
            let mut f = RunFilter::with_entries_max(n, 8192);
            assert_eq!((f.bytes(), f.hashes), (8192, hashes), "{n} entries");
            let held: Vec<Digest> = (0..n).map(|i| digest(b'k', &format!("held-{i}"))).collect();
            held.iter().for_each(|d| f.insert(d));
            assert!(held.iter().all(|d| f.may_contain(d)), "{n} entries: a false negative");
            let maybe = (0..10_000).filter(|i| f.may_contain(&digest(b'o', &format!("absent-{i}")))).count();
            assert!((maybe as f64) < fp_max * 10_000.0, "{n} entries: {maybe} false positives in 10,000");
        }
        // The default limit: a run of 6M entries (8.6 MiB at 12 bits) gets 8 MiB.
        assert_eq!(RunFilter::with_entries(6_000_000).bytes(), RUN_FILTER_BYTES_MAX);
    }

    #[test]
    fn the_size_told_before_building_is_the_size_built() {
        for (n, max) in [(0u64, 8192), (1, 8192), (1_000, 8192), (10_000, 8192), (6_000_000, RUN_FILTER_BYTES_MAX)] {
            assert_eq!(RunFilter::bytes_for(n, max), RunFilter::with_entries_max(n, max).bytes(), "{n} entries");
        }
    }

    #[test]
    fn an_empty_filter_holds_nothing() {
        let f = RunFilter::with_entries(0);
        assert!(!f.may_contain(&digest(b'k', "anything")));
    }
}
