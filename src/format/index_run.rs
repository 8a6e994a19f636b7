//! Index run files: immutable sorted runs of the per-event index (order id -> order row,
//! idempotency key -> seq). Pure framing; `store::index` writes, reads and merges them.
//!
//! Run format 2 (written by this version; format 1, below, is still read):
//!
//! ```text
//! run    := header (32 bytes) | page* | footer
//! header := magic "qledgidx" | format:u8 (=2) | 7 zero bytes | entries:u64 LE | pages:u32 LE
//!         | 4 zero bytes
//! page   := count:u16 LE (>= 1) | values_at:u16 LE (where `values` starts in the page)
//!         | count x (shared:u8 | digest[shared..12])
//!         | count x len:u8
//!         | values
//! values := VALUES_STORED (0) | the values, one after the other (the sum of the lens in bytes)
//!         | VALUES_LZ4 (1) | LZ4 block (the LZ4 block format, no frame) of those bytes
//!           (the writer compresses the values unless that does not make them shorter; a
//!           reader takes either kind)
//!           A page is at most INDEX_PAGE_BYTES_MAX bytes as stored, and so it is with its values
//!           stored as they are. `shared` is exactly the number of leading bytes the digest
//!           shares with the one before it in the page (0 for the first): the digest is the
//!           previous one's first `shared` bytes, then the 12 - shared stored ones. Digests
//!           ascend across the whole run, unique. A lookup reads the digests up to the one it
//!           looks for, and the values only if it is there (`values_at` finds them): a Bloom
//!           filter's false positive costs no decompression.
//! footer := pages x (first_digest:[u8; 12] | offset:u64 LE | len:u32 LE | crc32c:u32 LE)
//!           (`len` and `crc32c` of the page as stored)
//!         | bloom_bytes:u32 LE | bloom_hashes:u8 | bloom bits
//!           (BLOOM_BITS_PER_ENTRY bits an entry and BLOOM_HASHES hashes, up to a filter of
//!           RUN_FILTER_BYTES_MAX bytes, which has `round(ln 2 x bits an entry)` hashes; a
//!           reader takes any size and 1 to 32 hashes)
//!         | footer_len:u32 LE (bytes of footer before this field) | crc32c:u32 LE (of them)
//!         | magic "qledgidx"
//! ```
//!
//! Format 1 differs in its pages only: `page := count:u16 LE | count x (digest:[u8; 12] |
//! len:u8 | value)`, at most INDEX_PAGE_BYTES_MAX bytes, never compressed. Sorted digests
//! among millions share their first 2 or 3 bytes with their neighbour, and the order rows of a
//! page repeat the same few license ids, which LZ4 folds: at 1M benchmark events, format 2
//! takes 51 bytes of index per event where format 1 took 65 (README "Storage").
//!
//! The digest of an id is `BLAKE3 derive_key(INDEX_KEY_CONTEXT, kind || id)` cut to 12 bytes,
//! kind `o` for an order id and `k` for an idempotency key: the record holds the id itself, the
//! index only what finds it. A value is an [`IndexValueV1`] in the canonical encoding.

use super::codec::{self, DecodeError};
use super::snapshot::{OrderRowV1, OrderRowV2};
use crate::limits::RUN_FILTER_BYTES_MAX;
use serde::{Deserialize, Serialize};

/// Magic of a run file (header and footer).
pub const RUN_MAGIC: &[u8; 8] = b"qledgidx";
/// Bytes of a run header.
pub const RUN_HEADER_BYTES: usize = 32;
/// Largest page, as stored and (format 2) with its values stored as they are.
pub const INDEX_PAGE_BYTES_MAX: usize = 4096;
/// The run format this version writes.
pub const RUN_FORMAT: u8 = 2;
/// The oldest run format this version reads.
pub const RUN_FORMAT_OLDEST: u8 = 1;
/// Kind of a format 2 page's values stored as they are.
pub const VALUES_STORED: u8 = 0;
/// Kind of a format 2 page's values compressed (LZ4 block format).
pub const VALUES_LZ4: u8 = 1;
/// Largest value of one entry.
pub const INDEX_VALUE_BYTES_MAX: usize = 255;
/// Bytes of a page table entry in the footer.
pub const PAGE_ENTRY_BYTES: usize = DIGEST_BYTES + 8 + 4 + 4;
/// Bloom filter bits per entry (about 1% false positives with 7 hashes), up to a filter of
/// [`RUN_FILTER_BYTES_MAX`].
pub const BLOOM_BITS_PER_ENTRY: u64 = 10;
/// Bloom filter hash functions (fewer in a filter that [`RUN_FILTER_BYTES_MAX`] caps).
pub const BLOOM_HASHES: u8 = 7;
/// Largest footer a reader accepts (page table and bloom of ~100M entries).
pub const RUN_FOOTER_BYTES_MAX: usize = 256 * 1024 * 1024;
/// BLAKE3 `derive_key` context of index digests.
pub const INDEX_KEY_CONTEXT: &str = "quotaledger 2026-11-29 index key v1";

const _: () = assert!(4 + 1 + DIGEST_BYTES + 1 + 1 + INDEX_VALUE_BYTES_MAX <= INDEX_PAGE_BYTES_MAX);
const _: () = assert!(INDEX_PAGE_BYTES_MAX <= u16::MAX as usize);
const _: () = assert!(INDEX_VALUE_BYTES_MAX <= u8::MAX as usize);
const _: () = assert!(RUN_FILTER_BYTES_MAX <= RUN_FOOTER_BYTES_MAX / 2);

/// Bytes of a digest (96 bits: among 100 million ids, a collision has odds below 10^-12).
pub const DIGEST_BYTES: usize = 12;
/// Bytes of the event digest kept with an idempotency key.
pub const KEY_EVENT_BYTES: usize = 8;

/// The digest an index entry is found by.
pub type Digest = [u8; DIGEST_BYTES];

/// The index key digests' context, its key derived once.
static INDEX_KEY: super::chain::DeriveKey = super::chain::DeriveKey::new(INDEX_KEY_CONTEXT);

/// The digest of an order id (`kind` b'o') or an idempotency key (`kind` b'k').
pub fn digest(kind: u8, id: &str) -> Digest {
    let mut h = INDEX_KEY.hasher();
    h.update(&[kind]);
    h.update(id.as_bytes());
    let mut d = [0u8; DIGEST_BYTES];
    d.copy_from_slice(&h.finalize().as_bytes()[..DIGEST_BYTES]);
    d
}

/// One index value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexValueV1 {
    /// An order's row.
    Order(OrderRowV1),
    /// An idempotency key: the seq of the record that used it and the first 8 bytes of its
    /// event digest (`ledger::event_digest`).
    Key {
        /// The record's seq.
        seq: u64,
        /// Digest of its event.
        event: [u8; KEY_EVENT_BYTES],
    },
    /// An order's row, format 2 (several licenses, held and released orders). Appended: the
    /// variants before it keep their bytes.
    Order2(OrderRowV2),
}

impl codec::Wire for IndexValueV1 {}

impl IndexValueV1 {
    /// Decodes a stored value.
    pub fn decode(bytes: &[u8]) -> Result<IndexValueV1, DecodeError> {
        let v: IndexValueV1 = codec::decode(bytes, INDEX_VALUE_BYTES_MAX)?;
        let shipped_over = match &v {
            IndexValueV1::Order(r) => r.shipped > r.quantity,
            IndexValueV1::Order2(r) => r.shipped > r.quantity,
            IndexValueV1::Key { .. } => false,
        };
        if shipped_over {
            return Err(DecodeError::Invalid("order shipped more than ordered".into()));
        }
        Ok(v)
    }
}

/// Builds the pages of a format 2 run: the digests first, each as the bytes it shares with the
/// one before it and the rest, then the values' lengths, then the values, which
/// [`take`](PageBuilder::take) compresses (LZ4) unless that does not make them smaller.
#[derive(Clone, Debug, Default)]
pub struct PageBuilder {
    digests: Vec<u8>,
    lens: Vec<u8>,
    values: Vec<u8>,
    count: u16,
    first: Option<Digest>,
    last: Digest,
}

/// Bytes two digests share at their start.
fn shared_prefix(a: &Digest, b: &Digest) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PageBuilder {
    fn shared(&self, d: &Digest) -> usize {
        if self.count == 0 {
            0
        } else {
            shared_prefix(&self.last, d).min(DIGEST_BYTES - 1)
        }
    }

    /// Bytes of the page with its values stored as they are.
    fn len(&self) -> usize {
        4 + self.digests.len() + self.lens.len() + 1 + self.values.len()
    }

    /// Whether an entry for `d` (the next digest, ascending) with a value of `len` bytes still
    /// fits.
    pub fn fits(&self, d: &Digest, len: usize) -> bool {
        let entry = 1 + DIGEST_BYTES - self.shared(d) + 1 + len;
        self.len() + entry <= INDEX_PAGE_BYTES_MAX && self.count < u16::MAX
    }

    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds an entry (digests ascending; the caller checks `fits`).
    pub fn push(&mut self, d: &Digest, value: &[u8]) {
        assert!(value.len() <= INDEX_VALUE_BYTES_MAX && self.fits(d, value.len()), "index page overfilled");
        assert!(self.count == 0 || self.last < *d, "index page entries must ascend");
        let shared = self.shared(d);
        if self.count == 0 {
            self.first = Some(*d);
        }
        self.digests.push(shared as u8);
        self.digests.extend_from_slice(&d[shared..]);
        self.lens.push(value.len() as u8);
        self.values.extend_from_slice(value);
        self.count += 1;
        self.last = *d;
    }

    /// The finished page as stored and its first digest; the builder is empty again.
    pub fn take(&mut self) -> (Vec<u8>, Digest) {
        self.finish(true)
    }

    /// [`take`](PageBuilder::take) with the values stored as they are (for the fuzz target
    /// and tests: this version's runs compress them when that makes them shorter).
    pub fn take_stored(&mut self) -> (Vec<u8>, Digest) {
        self.finish(false)
    }

    fn finish(&mut self, compress: bool) -> (Vec<u8>, Digest) {
        let mut page = Vec::with_capacity(self.len());
        let values_at = 4 + self.digests.len() + self.lens.len();
        page.extend_from_slice(&self.count.to_le_bytes());
        page.extend_from_slice(&(values_at as u16).to_le_bytes());
        page.extend_from_slice(&self.digests);
        page.extend_from_slice(&self.lens);
        if compress {
            encode_values(&self.values, &mut page);
        } else {
            page.push(VALUES_STORED);
            page.extend_from_slice(&self.values);
        }
        self.digests.clear();
        self.lens.clear();
        self.values.clear();
        self.count = 0;
        (page, self.first.take().unwrap_or_default())
    }
}

/// Appends a format 2 page's values as stored: `VALUES_LZ4 | LZ4 block` if that is shorter
/// than `VALUES_STORED | values`.
pub fn encode_values(values: &[u8], out: &mut Vec<u8>) {
    let compressed = lz4_flex::block::compress(values);
    if compressed.len() < values.len() {
        out.push(VALUES_LZ4);
        out.extend_from_slice(&compressed);
    } else {
        out.push(VALUES_STORED);
        out.extend_from_slice(values);
    }
}

/// A format 2 page's values from their stored bytes, `len` bytes in all (the sum of the
/// lengths, which the caller has checked against the page limit): as they are, or
/// decompressed into `buf`. Bytes that are no LZ4 block of exactly `len` bytes are an error.
pub fn decode_values<'a>(
    stored: &'a [u8],
    len: usize,
    buf: &'a mut [u8; INDEX_PAGE_BYTES_MAX],
) -> Result<&'a [u8], DecodeError> {
    match stored.split_first() {
        Some((&VALUES_STORED, values)) if values.len() == len => Ok(values),
        Some((&VALUES_STORED, _)) => Err(bad_page("values cut off or trailing bytes")),
        Some((&VALUES_LZ4, compressed)) => {
            let out = buf.get_mut(..len).ok_or_else(|| bad_page("values too long"))?;
            match lz4_flex::block::decompress_into(compressed, out) {
                Ok(n) if n == len => Ok(&buf[..len]),
                Ok(_) => Err(bad_page("the compressed values are shorter than their lengths")),
                Err(e) => Err(bad_page(&format!("compressed values: {e}"))),
            }
        }
        Some(_) => Err(bad_page("unknown kind of values")),
        None => Err(bad_page("values cut off")),
    }
}

/// Builds the pages of a format 1 run (whole digests, each with its value, never compressed).
/// This version writes format 2; this builder is kept for the fuzz target (an accepted format
/// 1 page rebuilds to its bytes) and for tests that write a run as older versions did.
#[derive(Debug, Default)]
pub struct PageBuilderV1 {
    buf: Vec<u8>,
    count: u16,
    first: Option<Digest>,
}

impl PageBuilderV1 {
    /// Whether an entry with a value of `len` bytes still fits.
    pub fn fits(&self, len: usize) -> bool {
        self.buf.len().max(2) + DIGEST_BYTES + 1 + len <= INDEX_PAGE_BYTES_MAX && self.count < u16::MAX
    }

    /// Adds an entry (digests ascending; the caller checks `fits`).
    pub fn push(&mut self, d: &Digest, value: &[u8]) {
        assert!(value.len() <= INDEX_VALUE_BYTES_MAX && self.fits(value.len()), "index page overfilled");
        if self.buf.is_empty() {
            self.buf.extend_from_slice(&[0, 0]);
            self.first = Some(*d);
        }
        self.buf.extend_from_slice(d);
        self.buf.push(value.len() as u8);
        self.buf.extend_from_slice(value);
        self.count += 1;
    }

    /// The finished page and its first digest; the builder is empty again.
    pub fn take(&mut self) -> (Vec<u8>, Digest) {
        let mut page = std::mem::take(&mut self.buf);
        page[0..2].copy_from_slice(&self.count.to_le_bytes());
        self.count = 0;
        (page, self.first.take().unwrap_or_default())
    }
}

fn bad_page(what: &str) -> DecodeError {
    DecodeError::Framing(format!("index page: {what}"))
}

/// A page's digests, read and checked one by one: in format 1 each followed by its value, in
/// format 2 alone (the lengths and values follow them all).
struct PageDigests<'a> {
    format: u8,
    rest: &'a [u8],
    count: usize,
    /// Digests read so far.
    read: usize,
    /// The last digest read.
    last: Digest,
}

fn cut_off() -> DecodeError {
    bad_page("entry cut off")
}

impl<'a> PageDigests<'a> {
    /// Reads the page's header (count, and in format 2 where its values start) of a page of run
    /// `format`: at least one entry, at most a page's bytes. Returns the digests and, in format
    /// 2, the values' offset.
    fn new(format: u8, page: &'a [u8]) -> Result<(PageDigests<'a>, usize), DecodeError> {
        if !(RUN_FORMAT_OLDEST..=RUN_FORMAT).contains(&format) {
            return Err(DecodeError::Framing(format!("index run format {format} is not read by this version")));
        }
        let header = if format == 1 { 2 } else { 4 };
        if page.len() < header || page.len() > INDEX_PAGE_BYTES_MAX {
            return Err(bad_page("size out of range"));
        }
        let count = usize::from(u16::from_le_bytes([page[0], page[1]]));
        if count == 0 {
            return Err(bad_page("empty page"));
        }
        let values_at = if format == 1 { 0 } else { usize::from(u16::from_le_bytes([page[2], page[3]])) };
        Ok((PageDigests { format, rest: &page[header..], count, read: 0, last: [0; DIGEST_BYTES] }, values_at))
    }

    /// The next digest, from its whole bytes (format 1) or from the bytes it shares with the one
    /// before it and the rest (format 2), which must be exactly the bytes it shares: a digest
    /// has one encoding. Digests ascend.
    fn digest(&mut self) -> Result<Digest, DecodeError> {
        if self.format == 1 {
            let (d, rest) = self.rest.split_first_chunk::<DIGEST_BYTES>().ok_or_else(cut_off)?;
            if self.read > 0 && *d <= self.last {
                return Err(bad_page("digests out of order"));
            }
            (self.last, self.rest, self.read) = (*d, rest, self.read + 1);
            return Ok(self.last);
        }
        let shared = usize::from(*self.rest.first().ok_or_else(cut_off)?);
        if shared >= DIGEST_BYTES || (self.read == 0 && shared > 0) {
            return Err(bad_page("shared digest bytes out of range"));
        }
        let tail = self.rest.get(1..1 + DIGEST_BYTES - shared).ok_or_else(cut_off)?;
        // With the first `shared` bytes equal, the next one decides both the order and that
        // `shared` is all the digests share.
        if self.read > 0 && tail[0] <= self.last[shared] {
            return Err(bad_page("digests out of order, or shared bytes not all that are shared"));
        }
        self.last[shared..].copy_from_slice(tail);
        self.rest = &self.rest[1 + tail.len()..];
        self.read += 1;
        Ok(self.last)
    }

    /// The next entry of a format 1 page: its digest and value.
    fn entry_v1(&mut self) -> Result<(Digest, &'a [u8]), DecodeError> {
        let d = self.digest()?;
        let (&len, rest) = self.rest.split_first().ok_or_else(cut_off)?;
        let (value, rest) = rest.split_at_checked(usize::from(len)).ok_or_else(|| bad_page("value cut off"))?;
        self.rest = rest;
        Ok((d, value))
    }
}

/// A format 2 page's lengths and values (decoded into `buf` if compressed), from its
/// `values_at` (checked here: after the digests read so far, room left for the rest at two
/// bytes each at least) and the page limit.
fn values_v2<'a>(
    page: &'a [u8],
    digests: &PageDigests<'_>,
    values_at: usize,
    buf: &'a mut [u8; INDEX_PAGE_BYTES_MAX],
) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
    let count = digests.count;
    let digests_end = page.len() - digests.rest.len() + 2 * (count - digests.read);
    if values_at < digests_end + count || values_at >= page.len() {
        return Err(bad_page("values offset out of range"));
    }
    let lens = &page[values_at - count..values_at];
    let total: usize = lens.iter().map(|&l| usize::from(l)).sum();
    if values_at + 1 + total > INDEX_PAGE_BYTES_MAX {
        return Err(bad_page("values too long for a page"));
    }
    Ok((lens, decode_values(&page[values_at..], total, buf)?))
}

/// Every entry of a stored page of a run of `format`: `(digest, value bytes)`, the values of
/// a compressed format 2 page decompressed into `buf`.
pub fn page_entries<'a>(
    format: u8,
    page: &'a [u8],
    buf: &'a mut [u8; INDEX_PAGE_BYTES_MAX],
) -> Result<Vec<(Digest, &'a [u8])>, DecodeError> {
    let (mut digests, values_at) = PageDigests::new(format, page)?;
    let count = digests.count;
    let mut out = Vec::with_capacity(count);
    if format == 1 {
        for _ in 0..count {
            out.push(digests.entry_v1()?);
        }
        if !digests.rest.is_empty() {
            return Err(bad_page("trailing bytes"));
        }
        return Ok(out);
    }
    let ds = (0..count).map(|_| digests.digest()).collect::<Result<Vec<Digest>, _>>()?;
    if values_at != page.len() - digests.rest.len() + count {
        return Err(bad_page("the values do not start after the lengths"));
    }
    let (lens, mut values) = values_v2(page, &digests, values_at, buf)?;
    for (d, &len) in ds.into_iter().zip(lens) {
        let (value, rest) = values.split_at(usize::from(len));
        out.push((d, value));
        values = rest;
    }
    Ok(out)
}

/// The value stored for `d` in a stored page of a run of `format`, reading the page's digests
/// up to `d`: a format 2 page's values are read (and decompressed, into `buf`) only if `d` is
/// there. Framing errors up to there are reported as by [`page_entries`].
pub fn find_in_page<'a>(
    format: u8,
    page: &'a [u8],
    d: &Digest,
    buf: &'a mut [u8; INDEX_PAGE_BYTES_MAX],
) -> Result<Option<&'a [u8]>, DecodeError> {
    let (mut digests, values_at) = PageDigests::new(format, page)?;
    for i in 0..digests.count {
        let (e, value) = if format == 1 { digests.entry_v1()? } else { (digests.digest()?, &[][..]) };
        match e.cmp(d) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Greater => return Ok(None),
            std::cmp::Ordering::Equal if format == 1 => return Ok(Some(value)),
            std::cmp::Ordering::Equal => {
                let (lens, values) = values_v2(page, &digests, values_at, buf)?;
                let start: usize = lens[..i].iter().map(|&l| usize::from(l)).sum();
                return Ok(Some(&values[start..start + usize::from(lens[i])]));
            }
        }
    }
    Ok(None)
}

/// A page table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRef {
    /// The page's first digest.
    pub first: Digest,
    /// Offset in the run file.
    pub offset: u64,
    /// Bytes.
    pub len: u32,
    /// crc32c of the page.
    pub crc: u32,
}

/// A Bloom filter over digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bloom {
    bits: Vec<u8>,
    hashes: u8,
}

impl Bloom {
    /// An empty filter sized for `entries`: [`BLOOM_BITS_PER_ENTRY`] bits an entry and
    /// [`BLOOM_HASHES`] hashes, up to [`RUN_FILTER_BYTES_MAX`].
    pub fn with_entries(entries: u64) -> Bloom {
        Bloom::with_entries_max(entries, RUN_FILTER_BYTES_MAX)
    }

    /// An empty filter sized for `entries`, of at most `bytes_max` bytes (at least 8): a filter
    /// that the limit caps has fewer bits an entry, and the number of hashes that gives the
    /// fewest false positives at that density, `round(ln 2 x bits an entry)`, 1 to
    /// [`BLOOM_HASHES`]. A filter the limit does not reach is the same as without it.
    pub fn with_entries_max(entries: u64, bytes_max: usize) -> Bloom {
        let entries = entries.max(1);
        let bytes = entries.saturating_mul(BLOOM_BITS_PER_ENTRY).div_ceil(8).max(8);
        let bytes_max = bytes_max.max(8) as u64;
        if bytes <= bytes_max {
            return Bloom { bits: vec![0; bytes as usize], hashes: BLOOM_HASHES };
        }
        let hashes = hashes_for(bytes_max.saturating_mul(8), entries, BLOOM_HASHES.into()) as u8;
        Bloom { bits: vec![0; bytes_max as usize], hashes }
    }

    /// Bytes of the filter's bits (what it holds in memory).
    pub fn bytes(&self) -> usize {
        self.bits.len()
    }

    /// Its number of hash functions.
    pub fn hashes(&self) -> u8 {
        self.hashes
    }

    /// The bits of `d` in a filter of `m` bits with `hashes` hashes (double hashing).
    fn positions(d: &Digest, m: u64, hashes: u8) -> impl Iterator<Item = u64> {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&d[0..8]);
        b.copy_from_slice(&d[4..12]);
        let (h1, h2) = (u64::from_le_bytes(a), u64::from_le_bytes(b) | 1);
        (0..u64::from(hashes)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
    }

    fn bits_len(&self) -> u64 {
        self.bits.len() as u64 * 8
    }

    /// Adds a digest.
    pub fn insert(&mut self, d: &Digest) {
        for p in Bloom::positions(d, self.bits_len(), self.hashes) {
            self.bits[(p / 8) as usize] |= 1 << (p % 8);
        }
    }

    /// Whether the digest may be present (false: certainly absent).
    pub fn may_contain(&self, d: &Digest) -> bool {
        Bloom::positions(d, self.bits_len(), self.hashes).all(|p| self.bits[(p / 8) as usize] & (1 << (p % 8)) != 0)
    }
}

/// The number of hashes that gives a Bloom filter of `bits` bits over `entries` entries the
/// fewest false positives, `round(ln 2 x bits / entries)`, from 1 to `hashes_max`.
pub fn hashes_for(bits: u64, entries: u64, hashes_max: u32) -> u32 {
    let entries = entries.max(1);
    // ln 2 x bits an entry, in integers: bits x 693 / (entries x 1000), rounded.
    let k = bits.saturating_mul(693).saturating_add(entries.saturating_mul(500)) / entries.saturating_mul(1000);
    k.clamp(1, u64::from(hashes_max.max(1))) as u32
}

/// What a run header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunHeader {
    /// The run format: 1 or 2.
    pub format: u8,
    /// Entries in the run.
    pub entries: u64,
    /// Pages in the run.
    pub pages: u32,
}

/// The header of a run file of `format` (this version writes [`RUN_FORMAT`]).
pub fn run_header(format: u8, entries: u64, pages: u32) -> [u8; RUN_HEADER_BYTES] {
    let mut h = [0u8; RUN_HEADER_BYTES];
    h[0..8].copy_from_slice(RUN_MAGIC);
    h[8] = format;
    h[16..24].copy_from_slice(&entries.to_le_bytes());
    h[24..28].copy_from_slice(&pages.to_le_bytes());
    h
}

/// Reads a run header of a format this version reads.
pub fn parse_run_header(h: &[u8]) -> Result<RunHeader, DecodeError> {
    if h.len() != RUN_HEADER_BYTES || &h[0..8] != RUN_MAGIC || h[9..16] != [0; 7] || h[28..32] != [0; 4] {
        return Err(DecodeError::Framing("not an index run header".into()));
    }
    if !(RUN_FORMAT_OLDEST..=RUN_FORMAT).contains(&h[8]) {
        return Err(DecodeError::Framing(format!("index run format {} is not read by this version", h[8])));
    }
    let mut e = [0u8; 8];
    e.copy_from_slice(&h[16..24]);
    Ok(RunHeader {
        format: h[8],
        entries: u64::from_le_bytes(e),
        pages: u32::from_le_bytes([h[24], h[25], h[26], h[27]]),
    })
}

/// The footer's bytes (page table, bloom, length, checksum, magic).
pub fn encode_footer(pages: &[PageRef], bloom: &Bloom) -> Vec<u8> {
    let (head, bits, trailer) = footer_parts(pages, bloom);
    [head.as_slice(), bits, trailer.as_slice()].concat()
}

/// The footer in three parts, to be written one after the other without copying the Bloom
/// filter's bits (10 bits an entry: tens of MiB for a large run): the page table and the
/// filter's header, its bits, and the trailer (length, checksum, magic).
pub fn footer_parts<'a>(pages: &[PageRef], bloom: &'a Bloom) -> (Vec<u8>, &'a [u8], [u8; FOOTER_TRAILER_BYTES]) {
    let mut f = Vec::with_capacity(pages.len() * PAGE_ENTRY_BYTES + 5);
    for p in pages {
        f.extend_from_slice(&p.first);
        f.extend_from_slice(&p.offset.to_le_bytes());
        f.extend_from_slice(&p.len.to_le_bytes());
        f.extend_from_slice(&p.crc.to_le_bytes());
    }
    f.extend_from_slice(&(bloom.bits.len() as u32).to_le_bytes());
    f.push(bloom.hashes);
    let len = (f.len() + bloom.bits.len()) as u32;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&f), &bloom.bits);
    let mut trailer = [0u8; FOOTER_TRAILER_BYTES];
    trailer[0..4].copy_from_slice(&len.to_le_bytes());
    trailer[4..8].copy_from_slice(&crc.to_le_bytes());
    trailer[8..16].copy_from_slice(RUN_MAGIC);
    (f, &bloom.bits, trailer)
}

/// Decodes one page table entry (its bounds are the caller's to check).
pub fn parse_page_ref(e: &[u8; PAGE_ENTRY_BYTES]) -> PageRef {
    let mut first = [0u8; DIGEST_BYTES];
    first.copy_from_slice(&e[0..DIGEST_BYTES]);
    let e = &e[DIGEST_BYTES..];
    let mut off = [0u8; 8];
    off.copy_from_slice(&e[0..8]);
    PageRef {
        first,
        offset: u64::from_le_bytes(off),
        len: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
        crc: u32::from_le_bytes([e[12], e[13], e[14], e[15]]),
    }
}

/// Bytes at the end of the footer: length, checksum, magic.
pub const FOOTER_TRAILER_BYTES: usize = 16;

/// Reads the trailer: the footer's length (before the trailer) and checksum.
pub fn parse_footer_trailer(t: &[u8]) -> Result<(usize, u32), DecodeError> {
    if t.len() != FOOTER_TRAILER_BYTES || &t[8..16] != RUN_MAGIC {
        return Err(DecodeError::Framing("index run footer: bad magic".into()));
    }
    let len = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize;
    if len > RUN_FOOTER_BYTES_MAX {
        return Err(DecodeError::TooLarge { len, max: RUN_FOOTER_BYTES_MAX });
    }
    Ok((len, u32::from_le_bytes([t[4], t[5], t[6], t[7]])))
}

/// Decodes the footer body (without its trailer) checked against `crc` and the header's page
/// count.
pub fn decode_footer(f: &[u8], crc: u32, pages: u32) -> Result<(Vec<PageRef>, Bloom), DecodeError> {
    let bad = |what: &str| DecodeError::Framing(format!("index run footer: {what}"));
    let head = footer_head_bytes(pages)?;
    if f.len() < head {
        if crc32c::crc32c(f) != crc {
            return Err(bad("checksum mismatch"));
        }
        return Err(bad("cut off"));
    }
    decode_footer_parts(&f[..head], f[head..].to_vec(), crc, pages)
}

/// Bytes of a footer's first part (the page table and the Bloom filter's header) for `pages`
/// pages.
pub fn footer_head_bytes(pages: u32) -> Result<usize, DecodeError> {
    (pages as usize)
        .checked_mul(PAGE_ENTRY_BYTES)
        .and_then(|t| t.checked_add(5))
        .ok_or_else(|| DecodeError::Framing("index run footer: page count".into()))
}

/// [`decode_footer`] of a footer body read in two parts: the first [`footer_head_bytes`], and
/// the Bloom filter's bits, which become the filter as they are (a reader never holds the
/// filter twice).
pub fn decode_footer_parts(
    head: &[u8],
    bits: Vec<u8>,
    crc: u32,
    pages: u32,
) -> Result<(Vec<PageRef>, Bloom), DecodeError> {
    if crc32c::crc32c_append(crc32c::crc32c(head), &bits) != crc {
        return Err(DecodeError::Framing("index run footer: checksum mismatch".into()));
    }
    let (refs, hashes) = decode_footer_head(head, bits.len(), pages)?;
    Ok((refs, Bloom { bits, hashes }))
}

/// The page table and the Bloom filter's hash count from a footer's first part, given how many
/// bytes of bits follow it (the checksum, over both parts, is the caller's to check first): a
/// scan needs the page table and not the filter.
pub fn decode_footer_head(head: &[u8], bits_len_found: usize, pages: u32) -> Result<(Vec<PageRef>, u8), DecodeError> {
    let bad = |what: &str| DecodeError::Framing(format!("index run footer: {what}"));
    let table = footer_head_bytes(pages)? - 5;
    if head.len() != table + 5 {
        return Err(bad("cut off"));
    }
    let f = head;
    let mut refs = Vec::with_capacity(pages as usize);
    for e in f[..table].chunks_exact(PAGE_ENTRY_BYTES) {
        let p = parse_page_ref(e.try_into().expect("chunks of PAGE_ENTRY_BYTES"));
        if p.len as usize > INDEX_PAGE_BYTES_MAX || refs.last().is_some_and(|q: &PageRef| q.first >= p.first) {
            return Err(bad("page table out of order or oversized page"));
        }
        refs.push(p);
    }
    let rest = &f[table..];
    let bits_len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let hashes = rest[4];
    if bits_len_found != bits_len || bits_len == 0 || hashes == 0 || hashes > 32 {
        return Err(bad("bloom filter size"));
    }
    Ok((refs, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_digests(n: u32) -> Vec<Digest> {
        let mut ds: Vec<Digest> = (0..n).map(|i| digest(b'o', &format!("O-{i}"))).collect();
        ds.sort();
        ds
    }

    fn buf() -> [u8; INDEX_PAGE_BYTES_MAX] {
        [0; INDEX_PAGE_BYTES_MAX]
    }

    #[test]
    fn pages_round_trip_and_the_bloom_filter_has_no_false_negatives() {
        let mut p = PageBuilder::default();
        let mut bloom = Bloom::with_entries(100);
        let ds = sorted_digests(100);
        for d in &ds {
            assert!(p.fits(d, 3));
            p.push(d, b"abc");
            bloom.insert(d);
        }
        let (page, first) = p.take();
        assert_eq!(first, ds[0]);
        let got =
            page_entries(2, &page, &mut buf()).unwrap().into_iter().map(|(d, v)| (d, v.to_vec())).collect::<Vec<_>>();
        assert_eq!(got, ds.iter().map(|d| (*d, b"abc".to_vec())).collect::<Vec<_>>());
        assert!(ds.iter().all(|d| bloom.may_contain(d)));
        let refs = vec![PageRef { first, offset: 32, len: page.len() as u32, crc: 1 }];
        let f = encode_footer(&refs, &bloom);
        let (len, crc) = parse_footer_trailer(&f[f.len() - FOOTER_TRAILER_BYTES..]).unwrap();
        assert_eq!(decode_footer(&f[..len], crc, 1).unwrap(), (refs, bloom));
    }

    #[test]
    fn a_filter_at_its_byte_limit_keeps_that_size_fewer_hashes_and_no_false_negatives() {
        // Below the limit: as without it (10 bits an entry, 7 hashes).
        let small = Bloom::with_entries_max(100, 8192);
        assert_eq!((small.bytes(), small.hashes()), (125, BLOOM_HASHES));
        assert_eq!(small, Bloom::with_entries(100));
        // 6.6 bits an entry: ln 2 x 6.6 = 4.5 hashes, 4.4% false positives in theory; 1.6
        // bits: 1.1 hashes, 46%.
        for (entries, hashes, fp_max) in [(10_000u32, 5, 0.06), (40_000, 1, 0.50)] {
            let mut bloom = Bloom::with_entries_max(u64::from(entries), 8192);
            assert_eq!((bloom.bytes(), bloom.hashes()), (8192, hashes), "{entries} entries");
            let ds = sorted_digests(entries);
            ds.iter().for_each(|d| bloom.insert(d));
            assert!(ds.iter().all(|d| bloom.may_contain(d)), "{entries} entries: a false negative");
            let absent = (0..10_000).filter(|i| bloom.may_contain(&digest(b'k', &format!("absent-{i}")))).count();
            assert!((absent as f64) < fp_max * 10_000.0, "{entries} entries: {absent} false positives in 10,000");
            let refs = vec![PageRef { first: ds[0], offset: 32, len: 100, crc: 1 }];
            let f = encode_footer(&refs, &bloom);
            let (len, crc) = parse_footer_trailer(&f[f.len() - FOOTER_TRAILER_BYTES..]).unwrap();
            assert_eq!(decode_footer(&f[..len], crc, 1).unwrap(), (refs, bloom), "read back as written");
        }
    }

    #[test]
    fn a_run_of_more_entries_than_the_limit_allows_gets_a_filter_of_the_limit() {
        // 7M entries at 10 bits would be 8.3 MiB: the default limit caps it.
        let bloom = Bloom::with_entries(7_000_000);
        assert_eq!(bloom.bytes(), RUN_FILTER_BYTES_MAX);
        assert_eq!(bloom.hashes(), 7, "9.6 bits an entry: ln 2 x 9.6 = 6.6, rounded");
        assert_eq!(Bloom::with_entries(6_000_000).bytes(), 7_500_000, "below the limit: 10 bits an entry");
    }

    /// Bytes of a page before its values: count, values' offset, digests, lengths.
    fn values_at(page: &[u8]) -> usize {
        let count = usize::from(u16::from_le_bytes([page[0], page[1]]));
        let mut at = 4;
        for _ in 0..count {
            at += 1 + DIGEST_BYTES - usize::from(page[at]);
        }
        assert_eq!(at + count, usize::from(u16::from_le_bytes([page[2], page[3]])));
        at + count
    }

    #[test]
    fn a_page_fills_to_its_limit_and_its_values_are_compressed_only_if_that_makes_them_shorter() {
        let ds = sorted_digests(2_000);
        for (what, value, kind) in [
            (
                "random values",
                (|i: usize| digest(b'v', &i.to_string()).to_vec()) as fn(usize) -> Vec<u8>,
                VALUES_STORED,
            ),
            ("one license id", |_| b"CN-IMP-2026-0001".to_vec(), VALUES_LZ4),
        ] {
            let mut p = PageBuilder::default();
            let mut n = 0;
            while p.fits(&ds[n], value(n).len()) {
                p.push(&ds[n], &value(n));
                n += 1;
            }
            assert!(p.len() > INDEX_PAGE_BYTES_MAX - 30, "{what}: {}", p.len());
            let raw = p.len();
            let (page, _) = p.take();
            let at = values_at(&page);
            assert_eq!(page[at], kind, "{what}");
            assert!(page.len() <= raw, "{what}");
            assert_eq!(page_entries(2, &page, &mut buf()).unwrap().len(), n, "{what}");
            assert_eq!(find_in_page(2, &page, &ds[n - 1], &mut buf()).unwrap(), Some(&value(n - 1)[..]), "{what}");
            assert_eq!(find_in_page(2, &page, &ds[0], &mut buf()).unwrap(), Some(&value(0)[..]), "{what}");
            assert_eq!(find_in_page(2, &page, &ds[n], &mut buf()).unwrap(), None, "{what}");
        }
    }

    /// A page of two entries whose digests share `shared` leading bytes, values stored.
    fn two_entry_page(a: &Digest, shared: u8, b_tail: &[u8]) -> Vec<u8> {
        let values_at = 4 + 13 + 1 + b_tail.len() + 2;
        let mut page = vec![2, 0, values_at as u8, 0, 0];
        page.extend_from_slice(a);
        page.push(shared);
        page.extend_from_slice(b_tail);
        page.extend_from_slice(&[1, 1, VALUES_STORED, b'x', b'y']);
        page
    }

    #[test]
    fn a_digest_whose_shared_bytes_are_not_exactly_its_shared_prefix_is_refused() {
        let a = [7u8; DIGEST_BYTES];
        // Shares 2 bytes with `a` and says so: accepted.
        let good = two_entry_page(&a, 2, &[8; 10]);
        let mut b = [8u8; DIGEST_BYTES];
        b[..2].copy_from_slice(&[7, 7]);
        assert_eq!(page_entries(2, &good, &mut buf()).unwrap(), vec![(a, &b"x"[..]), (b, &b"y"[..])]);
        for (what, page) in [
            ("says 1 where it shares 2", two_entry_page(&a, 1, &[7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8])),
            ("says 3 where it shares 4", two_entry_page(&a, 3, &[7, 8, 8, 8, 8, 8, 8, 8, 8])),
            ("is the same digest", two_entry_page(&a, 11, &[7])),
            ("descends", two_entry_page(&a, 2, &[6; 10])),
            ("says 12", two_entry_page(&a, 12, &[])),
        ] {
            assert!(page_entries(2, &page, &mut buf()).is_err(), "a digest that {what}");
            assert!(find_in_page(2, &page, &[0xff; DIGEST_BYTES], &mut buf()).is_err(), "find_in_page: {what}");
        }
        // The first entry of a page shares nothing.
        let mut first_shares = vec![1, 0, 17, 0, 1];
        first_shares.extend_from_slice(&a[1..]);
        first_shares.extend_from_slice(&[1, VALUES_STORED, b'x']);
        assert!(page_entries(2, &first_shares, &mut buf()).is_err());
    }

    #[test]
    fn compressed_values_must_decompress_to_exactly_the_sum_of_their_lengths_within_a_page() {
        let mut p = PageBuilder::default();
        let ds = sorted_digests(50);
        for d in &ds {
            p.push(d, b"CN-IMP-2026-0001");
        }
        let (page, _) = p.take();
        let at = values_at(&page);
        assert_eq!(page[at], VALUES_LZ4);
        assert_eq!(page_entries(2, &page, &mut buf()).unwrap().len(), 50);
        let with_len = |i: usize, len: u8| {
            let mut bad = page.clone();
            bad[at - 50 + i] = len;
            bad
        };
        let a = [7u8; DIGEST_BYTES];
        for (what, bad, present) in [
            ("a length one short", with_len(3, 15), ds[49]),
            ("a length one long", with_len(3, 17), ds[49]),
            ("cut compressed values", page[..page.len() - 1].to_vec(), ds[49]),
            ("no values", page[..at].to_vec(), ds[49]),
            ("an unknown kind of values", [&page[..at], &[2], &page[at + 1..]].concat(), ds[49]),
            ("stored values with a byte more", [&two_entry_page(&a, 2, &[8; 10])[..], &[0]].concat(), a),
            ("more than a page", [page.clone(), vec![0; INDEX_PAGE_BYTES_MAX]].concat(), ds[49]),
            (
                "a values offset past the page",
                [&page[..2], &(page.len() as u16).to_le_bytes(), &page[4..]].concat(),
                ds[49],
            ),
            (
                "a values offset inside the digests",
                [&page[..2], &(at as u16 - 60).to_le_bytes(), &page[4..]].concat(),
                ds[49],
            ),
        ] {
            assert!(page_entries(2, &bad, &mut buf()).is_err(), "{what}");
            assert!(find_in_page(2, &bad, &present, &mut buf()).is_err(), "find_in_page: {what}");
        }
        // Values that would take more than a page once decompressed: refused before decompressing.
        let mut big = PageBuilder::default();
        for d in &sorted_digests(300)[..255] {
            big.push(d, &[]);
        }
        let (mut big, _) = big.take();
        let at = values_at(&big);
        big[at - 255..at].fill(255);
        big.truncate(at);
        encode_values(&vec![0u8; 255 * 255], &mut big);
        assert!(big.len() <= INDEX_PAGE_BYTES_MAX);
        assert!(page_entries(2, &big, &mut buf()).is_err());
        // A values offset one off: the lengths are read from the wrong bytes.
        let off = [&page[..2], &(at as u16 + 1).to_le_bytes(), &page[4..]].concat();
        assert!(page_entries(2, &off, &mut buf()).is_err());
    }

    #[test]
    fn format_1_pages_still_read_and_headers_carry_their_format() {
        let ds = sorted_digests(10);
        let mut p = PageBuilderV1::default();
        ds.iter().for_each(|d| p.push(d, b"v1"));
        let (page, first) = p.take();
        assert_eq!(first, ds[0]);
        assert_eq!(page_entries(1, &page, &mut buf()).unwrap().len(), 10);
        assert_eq!(find_in_page(1, &page, &ds[9], &mut buf()).unwrap(), Some(&b"v1"[..]));
        assert!(page_entries(3, &page, &mut buf()).is_err());
        for format in [1, 2] {
            let h = parse_run_header(&run_header(format, 10, 1)).unwrap();
            assert_eq!(h, RunHeader { format, entries: 10, pages: 1 });
        }
        assert!(parse_run_header(&run_header(3, 10, 1)).is_err());
        assert!(parse_run_header(&run_header(0, 10, 1)).is_err());
    }
}
