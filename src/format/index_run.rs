//! Index run files: immutable sorted runs of the per-event index (order id -> order row,
//! idempotency key -> seq). Pure framing; `store::index` writes, reads and merges them.
//!
//! ```text
//! run    := header (32 bytes) | page* | footer
//! header := magic "qledgidx" | format:u8 (=1) | 7 zero bytes | entries:u64 LE | pages:u32 LE
//!         | 4 zero bytes
//! page   := count:u16 LE | count x (digest:[u8; 12] | len:u8 | value:[u8; len])
//!           (at most INDEX_PAGE_BYTES_MAX; digests ascending across the whole run, unique)
//! footer := pages x (first_digest:[u8; 12] | offset:u64 LE | len:u32 LE | crc32c:u32 LE)
//!         | bloom_bytes:u32 LE | bloom_hashes:u8 | bloom bits
//!         | footer_len:u32 LE (bytes of footer before this field) | crc32c:u32 LE (of them)
//!         | magic "qledgidx"
//! ```
//! The digest of an id is `BLAKE3 derive_key(INDEX_KEY_CONTEXT, kind || id)` cut to 12 bytes,
//! kind `o` for an order id and `k` for an idempotency key: the record holds the id itself, the
//! index only what finds it. A value is an [`IndexValueV1`] in the canonical encoding.

use super::codec::{self, DecodeError};
use super::snapshot::{OrderRowV1, OrderRowV2};
use serde::{Deserialize, Serialize};

/// Magic of a run file (header and footer).
pub const RUN_MAGIC: &[u8; 8] = b"qledgidx";
/// Bytes of a run header.
pub const RUN_HEADER_BYTES: usize = 32;
/// Largest page.
pub const INDEX_PAGE_BYTES_MAX: usize = 4096;
/// Largest value of one entry.
pub const INDEX_VALUE_BYTES_MAX: usize = 255;
/// Bytes of a page table entry in the footer.
pub const PAGE_ENTRY_BYTES: usize = DIGEST_BYTES + 8 + 4 + 4;
/// Bloom filter bits per entry (about 1% false positives with 7 hashes).
pub const BLOOM_BITS_PER_ENTRY: u64 = 10;
/// Bloom filter hash functions.
pub const BLOOM_HASHES: u8 = 7;
/// Largest footer a reader accepts (page table and bloom of ~100M entries).
pub const RUN_FOOTER_BYTES_MAX: usize = 256 * 1024 * 1024;
/// BLAKE3 `derive_key` context of index digests.
pub const INDEX_KEY_CONTEXT: &str = "quotaledger 2026-11-29 index key v1";

const _: () = assert!(2 + DIGEST_BYTES + 1 + INDEX_VALUE_BYTES_MAX <= INDEX_PAGE_BYTES_MAX);
const _: () = assert!(INDEX_VALUE_BYTES_MAX <= u8::MAX as usize);

/// Bytes of a digest (96 bits: among 100 million ids, a collision has odds below 10^-12).
pub const DIGEST_BYTES: usize = 12;
/// Bytes of the event digest kept with an idempotency key.
pub const KEY_EVENT_BYTES: usize = 8;

/// The digest an index entry is found by.
pub type Digest = [u8; DIGEST_BYTES];

/// The hasher with the context already absorbed: cloning it is cheaper than deriving it.
static INDEX_HASHER: std::sync::LazyLock<blake3::Hasher> =
    std::sync::LazyLock::new(|| blake3::Hasher::new_derive_key(INDEX_KEY_CONTEXT));

/// The digest of an order id (`kind` b'o') or an idempotency key (`kind` b'k').
pub fn digest(kind: u8, id: &str) -> Digest {
    let mut h = INDEX_HASHER.clone();
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

/// Builds the pages of a run.
#[derive(Debug, Default)]
pub struct PageBuilder {
    buf: Vec<u8>,
    count: u16,
    first: Option<Digest>,
}

impl PageBuilder {
    /// Whether an entry with a value of `len` bytes still fits.
    pub fn fits(&self, len: usize) -> bool {
        self.buf.len().max(2) + DIGEST_BYTES + 1 + len <= INDEX_PAGE_BYTES_MAX && self.count < u16::MAX
    }

    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
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

/// Iterates over a page's entries: `(digest, value bytes)`.
pub fn page_entries(page: &[u8]) -> Result<Vec<(Digest, &[u8])>, DecodeError> {
    let bad = |what: &str| DecodeError::Framing(format!("index page: {what}"));
    if page.len() < 2 || page.len() > INDEX_PAGE_BYTES_MAX {
        return Err(bad("size out of range"));
    }
    let count = u16::from_le_bytes([page[0], page[1]]);
    let mut rest = &page[2..];
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        if rest.len() < DIGEST_BYTES + 1 {
            return Err(bad("entry cut off"));
        }
        let mut d = [0u8; DIGEST_BYTES];
        d.copy_from_slice(&rest[..DIGEST_BYTES]);
        let len = usize::from(rest[DIGEST_BYTES]);
        let start = DIGEST_BYTES + 1;
        if len > INDEX_VALUE_BYTES_MAX || rest.len() < start + len {
            return Err(bad("value cut off or too long"));
        }
        if out.last().is_some_and(|(p, _): &(Digest, &[u8])| *p >= d) {
            return Err(bad("digests out of order"));
        }
        out.push((d, &rest[start..start + len]));
        rest = &rest[start + len..];
    }
    if !rest.is_empty() || count == 0 {
        return Err(bad("trailing bytes or empty page"));
    }
    Ok(out)
}

/// The value stored for `d` in a page, scanning it in place (no allocation); framing errors
/// are reported as by [`page_entries`].
pub fn find_in_page<'a>(page: &'a [u8], d: &Digest) -> Result<Option<&'a [u8]>, DecodeError> {
    let bad = |what: &str| DecodeError::Framing(format!("index page: {what}"));
    if page.len() < 2 || page.len() > INDEX_PAGE_BYTES_MAX {
        return Err(bad("size out of range"));
    }
    let count = u16::from_le_bytes([page[0], page[1]]);
    let mut rest = &page[2..];
    for _ in 0..count {
        if rest.len() < DIGEST_BYTES + 1 {
            return Err(bad("entry cut off"));
        }
        let len = usize::from(rest[DIGEST_BYTES]);
        let start = DIGEST_BYTES + 1;
        if rest.len() < start + len {
            return Err(bad("value cut off"));
        }
        match rest[..DIGEST_BYTES].cmp(&d[..]) {
            std::cmp::Ordering::Equal => return Ok(Some(&rest[start..start + len])),
            std::cmp::Ordering::Greater => return Ok(None),
            std::cmp::Ordering::Less => rest = &rest[start + len..],
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
    /// An empty filter sized for `entries`.
    pub fn with_entries(entries: u64) -> Bloom {
        let bytes = (entries.max(1) * BLOOM_BITS_PER_ENTRY).div_ceil(8).max(8);
        Bloom { bits: vec![0; bytes as usize], hashes: BLOOM_HASHES }
    }

    fn positions(&self, d: &Digest) -> impl Iterator<Item = u64> {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&d[0..8]);
        b.copy_from_slice(&d[4..12]);
        let (h1, h2) = (u64::from_le_bytes(a), u64::from_le_bytes(b) | 1);
        let m = self.bits.len() as u64 * 8;
        (0..u64::from(self.hashes)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
    }

    /// Adds a digest.
    pub fn insert(&mut self, d: &Digest) {
        let ps: Vec<u64> = self.positions(d).collect();
        for p in ps {
            self.bits[(p / 8) as usize] |= 1 << (p % 8);
        }
    }

    /// Whether the digest may be present (false: certainly absent).
    pub fn may_contain(&self, d: &Digest) -> bool {
        self.positions(d).all(|p| self.bits[(p / 8) as usize] & (1 << (p % 8)) != 0)
    }
}

/// The header of a run file.
pub fn run_header(entries: u64, pages: u32) -> [u8; RUN_HEADER_BYTES] {
    let mut h = [0u8; RUN_HEADER_BYTES];
    h[0..8].copy_from_slice(RUN_MAGIC);
    h[8] = 1;
    h[16..24].copy_from_slice(&entries.to_le_bytes());
    h[24..28].copy_from_slice(&pages.to_le_bytes());
    h
}

/// Reads a run header: `(entries, pages)`.
pub fn parse_run_header(h: &[u8]) -> Result<(u64, u32), DecodeError> {
    if h.len() != RUN_HEADER_BYTES || &h[0..8] != RUN_MAGIC || h[9..16] != [0; 7] || h[28..32] != [0; 4] {
        return Err(DecodeError::Framing("not an index run header".into()));
    }
    if h[8] != 1 {
        return Err(DecodeError::Version(h[8]));
    }
    let mut e = [0u8; 8];
    e.copy_from_slice(&h[16..24]);
    Ok((u64::from_le_bytes(e), u32::from_le_bytes([h[24], h[25], h[26], h[27]])))
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

    #[test]
    fn pages_round_trip_and_the_bloom_filter_has_no_false_negatives() {
        let mut p = PageBuilder::default();
        let mut bloom = Bloom::with_entries(100);
        let mut ds: Vec<Digest> = (0..100u32).map(|i| digest(b'o', &format!("O-{i}"))).collect();
        ds.sort();
        for d in &ds {
            assert!(p.fits(3));
            p.push(d, b"abc");
            bloom.insert(d);
        }
        let (page, first) = p.take();
        assert_eq!(first, ds[0]);
        let got = page_entries(&page).unwrap();
        assert_eq!(got.len(), 100);
        assert!(ds.iter().all(|d| bloom.may_contain(d)));
        let refs = vec![PageRef { first, offset: 32, len: page.len() as u32, crc: 1 }];
        let f = encode_footer(&refs, &bloom);
        let (len, crc) = parse_footer_trailer(&f[f.len() - FOOTER_TRAILER_BYTES..]).unwrap();
        assert_eq!(decode_footer(&f[..len], crc, 1).unwrap(), (refs, bloom));
    }
}
