//! The per-event index in files of our own: an LSM tree in miniature (as fjall and RocksDB
//! build theirs). Framing: `format::index_run`.
//!
//! - A memtable takes the changes of the running append, as encoded values in one byte arena
//!   found by digest ([`Memtable`]); at [`MEMTABLE_ENTRIES_MAX`] entries or
//!   [`MEMTABLE_BYTES_MAX`] bytes it is sorted and written out as a *pending* run, so a bulk
//!   append holds a bounded amount in memory. Pending runs are merged as a base-4 counter
//!   ([`PENDING_MERGE_FANOUT`] runs of one tier into one of the next), so the runs a lookup
//!   asks grow with the logarithm of the append, not with it (`verify`'s rebuild of a 10M
//!   ledger had 185 runs to ask per lookup before).
//! - Runs are immutable sorted files with a page table and a Bloom filter, read page by page
//!   (one `pread` of at most 4 KiB per lookup that passes the filter). A filter, stored or
//!   in memory, is at most [`RUN_FILTER_BYTES_MAX`], so what a lookup holds of a run, and what
//!   a merge builds, stops growing with the ledger there (a large run's filter has more false
//!   positives instead). An index holds at most [`INDEX_FILTER_BYTES_MAX`] of filters in all,
//!   given to its runs smallest first ([`Index::admit_filters`]); a run left without one is
//!   asked through its page table alone, one page read a lookup, so what the lookups of a bulk
//!   append or of `verify`'s rebuild hold stops growing with the ledger too. A merge lets the
//!   filters of the runs it merges go and reads their page tables alone. A lookup asks the
//!   memtable, then the runs from the newest; the newest entry for a digest wins.
//! - After the chain commit, pending runs join the live list, which the writer stores in sled
//!   and publishes as `index/MANIFEST` for readers (`verify`). When there are more than
//!   [`RUNS_MAX`] live runs, they are merged into one.
//! - Files not in the manifest are leftovers of a writer that died: the next writer removes
//!   them. Everything here is derived: `qledger reindex` rebuilds it from the chain.
//! - Runs are written in run format 2 (digests sharing their prefix, values compressed); runs
//!   of format 1, which older versions wrote, are read as they are (a reader such as `verify`
//!   writes nothing), and the first merge step after an append rewrites them in format 2
//!   ([`Index::merge_count`]).

use super::disk::create_new_file;
use super::run_filter::RunFilter;
use super::snapshots::write_atomically;
use super::StoreError;
use crate::format::codec::{self, DecodeError};
use crate::format::index_run::{
    decode_footer_head, decode_footer_parts, find_in_page, footer_head_bytes, footer_parts, page_entries,
    parse_footer_trailer, parse_page_ref, parse_run_header, run_header, Bloom, Digest, PageBuilder, PageRef,
    FOOTER_TRAILER_BYTES, INDEX_PAGE_BYTES_MAX, PAGE_ENTRY_BYTES, RUN_FORMAT, RUN_HEADER_BYTES,
};
use crate::format::index_run::{IndexValueV1, INDEX_VALUE_BYTES_MAX};
use crate::limits::{
    INDEX_FILTER_BYTES_MAX, MEMTABLE_BYTES_MAX, MEMTABLE_ENTRIES_MAX, MERGE_GROWTH, PENDING_MERGE_FANOUT, RUNS_MAX,
    RUN_FILTER_BYTES_MAX,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Directory of the index inside a ledger.
pub const INDEX_DIR: &str = "index";
/// The published manifest file, for readers.
pub const MANIFEST_FILE: &str = "MANIFEST";

/// Which runs make up the index and how many records it covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestV1 {
    /// Records of the chain the index reflects (the index is complete for seqs below this).
    pub records: u64,
    /// Live runs, oldest first: `(id, entries)`.
    pub runs: Vec<(u64, u64)>,
    /// The id the next run gets.
    pub next_run: u64,
}

impl codec::Wire for ManifestV1 {}

impl ManifestV1 {
    /// Decodes a stored manifest.
    pub fn decode(bytes: &[u8]) -> Result<ManifestV1, DecodeError> {
        let m: ManifestV1 = codec::decode(bytes, 1 << 20)?;
        if m.runs.windows(2).any(|w| w[0].0 >= w[1].0) || m.runs.last().is_some_and(|r| r.0 >= m.next_run) {
            return Err(DecodeError::Invalid("index manifest: run ids out of order".into()));
        }
        Ok(m)
    }
}

fn run_name(id: u64) -> String {
    format!("{id:016x}.qidx")
}

/// One immutable run file, opened. Its page table and Bloom filter are read from the footer
/// only once the run serves more than [`RUN_LAZY_LOOKUPS_MAX`] lookups (a bulk append, a
/// merge, `verify`); before that a lookup searches the page table on disk (O(log pages)
/// reads), so a one-event append costs the same on a ledger of any size.
#[derive(Debug)]
pub struct Run {
    id: u64,
    /// The run format of its header: [`RUN_FORMAT`], or 1 for a run an older version wrote.
    format: u8,
    entries: u64,
    file: File,
    path: PathBuf,
    pages_count: u32,
    footer_at: u64,
    footer_len: usize,
    footer_crc: u32,
    meta: std::cell::OnceCell<(Vec<PageRef>, Bloom)>,
    /// The page table alone, for a scan (a merge, `verify`'s listing): read as `meta` is,
    /// without keeping the Bloom filter, which a scan does not ask.
    pages: std::cell::OnceCell<Vec<PageRef>>,
    lookups: std::cell::Cell<u32>,
    /// An in-memory blocked filter, for a run the running append wrote (asked instead of the
    /// run's own filter, with the page table the writer kept).
    filter: Option<RunFilter>,
    /// Left without a filter by the index's budget ([`INDEX_FILTER_BYTES_MAX`]): a busy run is
    /// asked through its page table alone, and loads no stored filter.
    unfiltered: bool,
    /// A lookup's page as stored and its values decompressed (kept: zeroing 8 KiB a lookup
    /// showed in the bulk append's profile).
    bufs: std::cell::RefCell<PageBufs>,
}

/// Two page-sized buffers.
type PageBufs = Box<([u8; INDEX_PAGE_BYTES_MAX], [u8; INDEX_PAGE_BYTES_MAX])>;

/// Lookups a run serves from disk before it loads its page table and Bloom filter.
pub const RUN_LAZY_LOOKUPS_MAX: u32 = 64;

impl Run {
    /// Opens run `id` in `dir`, reading its header and the trailer of its footer.
    pub fn open(dir: &Path, id: u64) -> Result<Run, StoreError> {
        let path = dir.join(run_name(id));
        let file = File::open(&path).map_err(|e| StoreError::io("opening", &path, e))?;
        let damaged =
            |what: String| StoreError::Damaged { seq: None, what: format!("index run {}: {what}", path.display()) };
        let len = file.metadata().map_err(|e| StoreError::io("reading", &path, e))?.len();
        if len < (RUN_HEADER_BYTES + FOOTER_TRAILER_BYTES) as u64 {
            return Err(damaged("cut off".into()));
        }
        let mut h = [0u8; RUN_HEADER_BYTES];
        file.read_exact_at(&mut h, 0).map_err(|e| StoreError::io("reading", &path, e))?;
        let header = parse_run_header(&h).map_err(|e| damaged(e.to_string()))?;
        let (format, entries, pages_count) = (header.format, header.entries, header.pages);
        let mut t = [0u8; FOOTER_TRAILER_BYTES];
        file.read_exact_at(&mut t, len - FOOTER_TRAILER_BYTES as u64)
            .map_err(|e| StoreError::io("reading", &path, e))?;
        let (footer_len, footer_crc) = parse_footer_trailer(&t).map_err(|e| damaged(e.to_string()))?;
        let footer_at = (len - FOOTER_TRAILER_BYTES as u64)
            .checked_sub(footer_len as u64)
            .filter(|&at| at >= RUN_HEADER_BYTES as u64)
            .ok_or_else(|| damaged("footer length out of range".into()))?;
        if (pages_count as usize).saturating_mul(PAGE_ENTRY_BYTES) > footer_len {
            return Err(damaged("the page table does not fit in the footer".into()));
        }
        Ok(Run {
            id,
            format,
            entries,
            file,
            path,
            pages_count,
            footer_at,
            footer_len,
            footer_crc,
            meta: std::cell::OnceCell::new(),
            pages: std::cell::OnceCell::new(),
            lookups: std::cell::Cell::new(0),
            filter: None,
            unfiltered: false,
            bufs: std::cell::RefCell::new(Box::new(([0; INDEX_PAGE_BYTES_MAX], [0; INDEX_PAGE_BYTES_MAX]))),
        })
    }

    /// The page table and Bloom filter, read and checked on first use.
    fn meta(&self) -> Result<&(Vec<PageRef>, Bloom), StoreError> {
        if let Some(m) = self.meta.get() {
            return Ok(m);
        }
        let m = self.read_footer()?;
        Ok(self.meta.get_or_init(|| m))
    }

    /// The page table, read and checked on first use (with the Bloom filter if a lookup
    /// loaded it, else alone).
    fn page_table(&self) -> Result<&[PageRef], StoreError> {
        if let Some((refs, _)) = self.meta.get() {
            return Ok(refs);
        }
        if let Some(refs) = self.pages.get() {
            return Ok(refs);
        }
        // The page table, and the filter's bits only through the checksum, a MiB at a time.
        let (mut head, bits_len) = self.footer_layout()?;
        self.read_at(&mut head, self.footer_at)?;
        let mut crc = crc32c::crc32c(&head);
        let mut buf = vec![0u8; bits_len.min(1 << 20)];
        let (mut at, end) = (self.footer_at + head.len() as u64, self.footer_at + self.footer_len as u64);
        while at < end {
            let n = buf.len().min((end - at) as usize);
            self.read_at(&mut buf[..n], at)?;
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            at += n as u64;
        }
        if crc != self.footer_crc {
            return Err(self.damaged(DecodeError::Framing("index run footer: checksum mismatch".into())));
        }
        let (refs, _) = decode_footer_head(&head, bits_len, self.pages_count).map_err(|e| self.damaged(e))?;
        self.check_refs(&refs)?;
        Ok(self.pages.get_or_init(|| refs))
    }

    /// Bytes of Bloom filters it holds in memory: the stored one once a busy run loaded it,
    /// and the in-memory one of a pending run.
    pub fn filter_bytes(&self) -> usize {
        self.meta.get().map_or(0, |(_, bloom)| bloom.bytes()) + self.filter.as_ref().map_or(0, RunFilter::bytes)
    }

    /// Bytes its filter takes once it has one: the in-memory one it was written with, else the
    /// stored one (loaded when the run gets busy).
    fn filter_cost(&self) -> usize {
        if let Some(f) = &self.filter {
            return f.bytes();
        }
        footer_head_bytes(self.pages_count).map_or(0, |head| self.footer_len.saturating_sub(head))
    }

    /// Leaves it without a filter (the index's budget is spent on smaller runs): the filters
    /// it holds are let go, the page table kept, and lookups read its pages.
    fn go_unfiltered(&mut self) {
        if let Some((refs, _)) = self.meta.take() {
            let _ = self.pages.set(refs);
        }
        self.filter = None;
        self.unfiltered = true;
    }

    /// Gives it a filter again (the budget has room after a merge): its stored filter loads,
    /// with the page table, when it gets busy, so the page table it kept goes now rather than
    /// being held twice.
    fn readmit(&mut self) {
        self.unfiltered = false;
        self.pages = std::cell::OnceCell::new();
    }

    /// Lets the Bloom filters go and keeps the page table, for a scan (reading the table again
    /// would also stream the stored filter's bits through the checksum). Lookups load the
    /// stored filter again.
    fn drop_filter(&mut self) {
        if let Some((refs, _)) = self.meta.take() {
            let _ = self.pages.set(refs);
        }
        self.filter = None;
        self.lookups.set(0);
    }

    /// Forgets the page table and the Bloom filters (read again from the file when asked for).
    fn unload(&mut self) {
        self.meta = std::cell::OnceCell::new();
        self.pages = std::cell::OnceCell::new();
        self.filter = None;
        self.lookups.set(0);
    }

    /// A zeroed buffer for the footer's first part, and the bytes of filter bits after it.
    fn footer_layout(&self) -> Result<(Vec<u8>, usize), StoreError> {
        let head_len = footer_head_bytes(self.pages_count).map_err(|e| self.damaged(e))?;
        let bits_len = self
            .footer_len
            .checked_sub(head_len)
            .ok_or_else(|| self.damaged(DecodeError::Framing("index run footer: cut off".into())))?;
        Ok((vec![0u8; head_len], bits_len))
    }

    fn read_at(&self, buf: &mut [u8], at: u64) -> Result<(), StoreError> {
        self.file.read_exact_at(buf, at).map_err(|e| StoreError::io("reading", &self.path, e))
    }

    /// Every page lies between the header and the footer.
    fn check_refs(&self, refs: &[PageRef]) -> Result<(), StoreError> {
        let outside = |p: &PageRef| p.offset.checked_add(u64::from(p.len)).is_none_or(|end| end > self.footer_at);
        if refs.iter().any(|p| p.offset < RUN_HEADER_BYTES as u64 || outside(p)) {
            return Err(self.damaged(DecodeError::Framing("a page lies outside the file".into())));
        }
        Ok(())
    }

    fn read_footer(&self) -> Result<(Vec<PageRef>, Bloom), StoreError> {
        // In two reads, so that the Bloom filter's bits are read into the filter itself: one
        // buffer of the whole footer and a copy of it took twice the filter's size.
        let (mut head, bits_len) = self.footer_layout()?;
        self.read_at(&mut head, self.footer_at)?;
        let mut bits = vec![0u8; bits_len];
        self.read_at(&mut bits, self.footer_at + head.len() as u64)?;
        let (refs, bloom) =
            decode_footer_parts(&head, bits, self.footer_crc, self.pages_count).map_err(|e| self.damaged(e))?;
        self.check_refs(&refs)?;
        Ok((refs, bloom))
    }

    /// Page table entry `i`, read from disk and bounds-checked.
    fn page_ref_at(&self, i: u32) -> Result<PageRef, StoreError> {
        let mut e = [0u8; PAGE_ENTRY_BYTES];
        let at = self.footer_at + u64::from(i) * PAGE_ENTRY_BYTES as u64;
        self.file.read_exact_at(&mut e, at).map_err(|e| StoreError::io("reading", &self.path, e))?;
        let p = parse_page_ref(&e);
        let inside = p.offset >= RUN_HEADER_BYTES as u64
            && p.offset.checked_add(u64::from(p.len)).is_some_and(|end| end <= self.footer_at);
        if !inside || p.len as usize > INDEX_PAGE_BYTES_MAX || p.len < 2 {
            return Err(self.damaged(DecodeError::Framing("a page table entry lies outside the file".into())));
        }
        Ok(p)
    }

    /// The page that may hold `d`: the last whose first digest is `<= d`.
    fn page_for(&self, d: &Digest) -> Result<Option<PageRef>, StoreError> {
        if let Some(filter) = &self.filter {
            if !filter.may_contain(d) {
                return Ok(None);
            }
            let pages = self.page_table()?;
            return Ok(page_in(pages, d));
        }
        let lookups = self.lookups.get().saturating_add(1);
        self.lookups.set(lookups);
        if self.unfiltered && (self.pages.get().is_some() || lookups > RUN_LAZY_LOOKUPS_MAX) {
            let pages = self.page_table()?;
            return Ok(page_in(pages, d));
        }
        if self.meta.get().is_some() || lookups > RUN_LAZY_LOOKUPS_MAX {
            let (pages, bloom) = self.meta()?;
            if !bloom.may_contain(d) {
                return Ok(None);
            }
            return Ok(page_in(pages, d));
        }
        // Binary search over the page table on disk.
        let (mut lo, mut hi) = (0u32, self.pages_count);
        let mut found = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let p = self.page_ref_at(mid)?;
            if p.first <= *d {
                found = Some(p);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(found)
    }

    fn read_page_into(&self, p: &PageRef, page: &mut [u8]) -> Result<(), StoreError> {
        self.file.read_exact_at(page, p.offset).map_err(|e| StoreError::io("reading", &self.path, e))?;
        if crc32c::crc32c(page) != p.crc {
            return Err(StoreError::Damaged {
                seq: None,
                what: format!("index run {}: page checksum mismatch", self.path.display()),
            });
        }
        Ok(())
    }

    /// The value stored for `d`, if any.
    pub fn get(&self, d: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(p) = self.page_for(d)? else { return Ok(None) };
        let mut bufs = self.bufs.borrow_mut();
        let (stored, buf) = &mut **bufs;
        let page = &mut stored[..p.len as usize];
        self.read_page_into(&p, page)?;
        Ok(find_in_page(self.format, page, d, buf).map_err(|e| self.damaged(e))?.map(<[u8]>::to_vec))
    }

    /// The run format of its header ([`RUN_FORMAT`], or older).
    pub fn format(&self) -> u8 {
        self.format
    }

    fn damaged(&self, e: DecodeError) -> StoreError {
        StoreError::Damaged { seq: None, what: format!("index run {}: {e}", self.path.display()) }
    }

    /// Every entry in digest order, page by page.
    pub fn iter(&self) -> RunIter<'_> {
        RunIter { run: self, page: 0, buf: Vec::new(), at: 0, failed: false, bufs: None }
    }
}

/// The page of `pages` that may hold `d`: the last whose first digest is `<= d`.
fn page_in(pages: &[PageRef], d: &Digest) -> Option<PageRef> {
    let i = pages.partition_point(|p| p.first <= *d);
    i.checked_sub(1).map(|i| pages[i])
}

/// Iterator over a run's entries.
pub struct RunIter<'a> {
    run: &'a Run,
    page: usize,
    buf: Vec<(Digest, Vec<u8>)>,
    at: usize,
    failed: bool,
    bufs: Option<PageBufs>,
}

impl Iterator for RunIter<'_> {
    type Item = Result<(Digest, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at == self.buf.len() {
            if self.failed {
                return None;
            }
            let pages = match self.run.page_table() {
                Ok(pages) => pages,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            let p = *pages.get(self.page)?;
            self.page += 1;
            // Two page buffers for the whole scan: zeroing 8 KiB and allocating a page for
            // each page read took a tenth of the builder's instructions in a bulk append.
            let (stored, buf) = &mut **self
                .bufs
                .get_or_insert_with(|| Box::new(([0; INDEX_PAGE_BYTES_MAX], [0; INDEX_PAGE_BYTES_MAX])));
            let page = &mut stored[..p.len as usize];
            if let Err(e) = self.run.read_page_into(&p, page) {
                return Some(Err(e));
            }
            match page_entries(self.run.format, page, buf) {
                Ok(es) => self.buf = es.into_iter().map(|(d, v)| (d, v.to_vec())).collect(),
                Err(e) => return Some(Err(self.run.damaged(e))),
            }
            self.at = 0;
        }
        self.at += 1;
        Some(Ok(std::mem::take(&mut self.buf[self.at - 1])))
    }
}

/// Writes sorted entries as run `id` in `dir` (a new file, never an existing one), synced.
/// Values are owned (a merge's) or borrowed (the memtable's arena, written out without a copy).
pub fn write_run<V: AsRef<[u8]>>(
    dir: &Path,
    id: u64,
    expected_entries: u64,
    entries: impl Iterator<Item = Result<(Digest, V), StoreError>>,
) -> Result<Run, StoreError> {
    write_run_with(dir, id, expected_entries, entries, Durability::Synced, Kept::Nothing, RUN_FILTER_BYTES_MAX)
}

/// Whether a run file is synced when written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync`ed before it is used (a ledger's index).
    Synced,
    /// Left to the page cache (`verify`'s rebuild, in unlinked temporary files). Its runs
    /// store a filter of [`SCRATCH_STORED_FILTER_BYTES`]: nothing asks it (the rebuild's
    /// lookups ask the in-memory filters, or the pages), and building a full one took up to
    /// [`RUN_FILTER_BYTES_MAX`] more at each large merge.
    Scratch,
}

/// The stored filter of a scratch run: the smallest the run format has (it says "maybe" of
/// every digest once the run holds more than a few).
const SCRATCH_STORED_FILTER_BYTES: usize = 8;

fn write_run_with<V: AsRef<[u8]>>(
    dir: &Path,
    id: u64,
    expected_entries: u64,
    entries: impl Iterator<Item = Result<(Digest, V), StoreError>>,
    durability: Durability,
    kept: Kept,
    filter_bytes_max: usize,
) -> Result<Run, StoreError> {
    let path = dir.join(run_name(id));
    let file = create_new_file(&path).map_err(|e| StoreError::io("creating", &path, e))?;
    let io_err = |e: io::Error| StoreError::io("writing", &path, e);
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(&[0u8; RUN_HEADER_BYTES]).map_err(io_err)?;
    let mut offset = RUN_HEADER_BYTES as u64;
    let mut page = PageBuilder::default();
    let mut refs = Vec::new();
    let stored_max = match durability {
        Durability::Synced => filter_bytes_max,
        Durability::Scratch => SCRATCH_STORED_FILTER_BYTES,
    };
    let mut bloom = Bloom::with_entries_max(expected_entries, stored_max);
    let mut filter = (kept == Kept::Filter).then(|| RunFilter::with_entries_max(expected_entries, filter_bytes_max));
    let mut count = 0u64;
    let mut last: Option<Digest> = None;
    let mut flush = |page: &mut PageBuilder, w: &mut BufWriter<File>, offset: &mut u64| -> Result<(), StoreError> {
        let (bytes, first) = page.take();
        w.write_all(&bytes).map_err(io_err)?;
        refs.push(PageRef { first, offset: *offset, len: bytes.len() as u32, crc: crc32c::crc32c(&bytes) });
        *offset += bytes.len() as u64;
        Ok(())
    };
    for item in entries {
        let (d, v) = item?;
        let v = v.as_ref();
        assert!(last.is_none_or(|l| l < d), "run entries must be sorted and unique");
        last = Some(d);
        if !page.fits(&d, v.len()) {
            flush(&mut page, &mut w, &mut offset)?;
        }
        page.push(&d, v);
        bloom.insert(&d);
        if let Some(f) = filter.as_mut() {
            f.insert(&d);
        }
        count += 1;
    }
    if !page.is_empty() {
        flush(&mut page, &mut w, &mut offset)?;
    }
    let pages = refs.len() as u32;
    let (head, bits, trailer) = footer_parts(&refs, &bloom);
    for part in [head.as_slice(), bits, trailer.as_slice()] {
        w.write_all(part).map_err(io_err)?;
    }
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.write_all_at(&run_header(RUN_FORMAT, count, pages), 0).map_err(io_err)?;
    if durability == Durability::Synced {
        file.sync_data().map_err(io_err)?;
    }
    drop(file);
    let mut run = Run::open(dir, id)?;
    if kept != Kept::Nothing {
        // The page table as written (what the footer holds), not read back.
        run.pages = std::cell::OnceCell::from(refs);
        run.filter = filter;
        run.unfiltered = kept == Kept::Pages;
    }
    Ok(run)
}

/// What a written run keeps in memory beyond what [`Run::open`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    /// Nothing: its page table and filter are read when it gets busy (a live run).
    Nothing,
    /// Its page table and an in-memory [`RunFilter`]: a pending run, which the running
    /// append asks for every new digest.
    Filter,
    /// Its page table alone: a pending run whose filter the index's budget has no room for
    /// ([`INDEX_FILTER_BYTES_MAX`]).
    Pages,
}

/// Writes the entries of `runs` (oldest first: a later run's value wins) as run `id`, with
/// Bloom filters of at most `filter_bytes_max`. The runs' own filters are let go first and
/// their page tables kept (a merge scans, it asks no filter): they and the new run's filters
/// were held at once, and `verify`'s rebuild of a 10M-event ledger peaked at 71 MiB in such
/// a merge.
fn write_merged(
    dir: &Path,
    id: u64,
    runs: &mut [Run],
    durability: Durability,
    kept: Kept,
    filter_bytes_max: usize,
) -> Result<Run, StoreError> {
    runs.iter_mut().for_each(Run::drop_filter);
    let expected: u64 = runs.iter().map(|r| r.entries).sum();
    let streams = runs.iter().map(|r| Box::new(r.iter()) as EntryStream<'_>).collect();
    write_run_with(dir, id, expected, merge(streams), durability, kept, filter_bytes_max)
}

/// A digest as integers that order as its bytes do: compared without a `memcmp` call (sorting
/// a memtable's digests as byte arrays took a fifth of the builder's instructions).
fn order_key(d: &Digest) -> (u64, u32) {
    let (hi, lo) = d.split_at(8);
    (
        u64::from_be_bytes(hi.try_into().expect("a digest is 12 bytes")),
        u32::from_be_bytes(lo.try_into().expect("a digest is 12 bytes")),
    )
}

/// A sorted stream of index entries.
pub type EntryStream<'a> = Box<dyn Iterator<Item = Result<(Digest, Vec<u8>), StoreError>> + 'a>;

/// Merges sorted entry streams, the later stream winning on equal digests.
pub fn merge<'a>(streams: Vec<EntryStream<'a>>) -> impl Iterator<Item = Result<(Digest, Vec<u8>), StoreError>> + 'a {
    let mut heads: Vec<Option<(Digest, Vec<u8>)>> = Vec::with_capacity(streams.len());
    let mut streams = streams;
    let mut failed: Option<StoreError> = None;
    for s in streams.iter_mut() {
        match s.next().transpose() {
            Ok(h) => heads.push(h),
            Err(e) => {
                failed.get_or_insert(e);
                heads.push(None);
            }
        }
    }
    std::iter::from_fn(move || {
        if let Some(e) = failed.take() {
            heads.iter_mut().for_each(|h| *h = None);
            return Some(Err(e));
        }
        let min = heads.iter().flatten().map(|(d, _)| order_key(d)).min()?;
        let mut winner = None;
        for (i, h) in heads.iter_mut().enumerate() {
            if h.as_ref().is_some_and(|(d, _)| order_key(d) == min) {
                winner = h.take();
                match streams[i].next().transpose() {
                    Ok(next) => *h = next,
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        winner.map(Ok)
    })
}

/// The tier of a run of `entries` entries: 0 below a quarter of a full memtable (of
/// `mem_entries_max` entries), then one more for each factor of 4 ([`PENDING_MERGE_FANOUT`]
/// runs of a tier merge into about one of the next).
fn tier(entries: u64, mem_entries_max: usize) -> u32 {
    let mut e = entries / (mem_entries_max as u64 / 4).max(1);
    let mut t = 0;
    while e >= PENDING_MERGE_FANOUT as u64 {
        e /= PENDING_MERGE_FANOUT as u64;
        t += 1;
    }
    t
}

/// The index: live runs, pending runs of the running append, and the memtable.
#[derive(Debug)]
pub struct Index {
    dir: PathBuf,
    manifest: ManifestV1,
    live: Vec<Run>,
    /// The running append's written-out changes, oldest first: runs, then memtables handed
    /// to the builder and not yet written.
    pending: Vec<Pending>,
    mem: Memtable,
    /// A written-out memtable kept for its room (8 MiB of arena), to be the next one.
    spare: Option<Memtable>,
    /// The thread that writes and merges the pending runs, while the append goes on.
    builder: Option<Builder>,
    /// A value being encoded for the memtable.
    scratch: Vec<u8>,
    /// Entries the memtable takes before it is written out ([`MEMTABLE_ENTRIES_MAX`]; less in
    /// tests).
    mem_entries_max: usize,
    /// Whether its runs are synced.
    durability: Durability,
    /// The largest Bloom filter it gives a run, stored or in memory ([`RUN_FILTER_BYTES_MAX`];
    /// less in tests). The builder thread writes with it too.
    filter_bytes_max: usize,
    /// The most bytes of filters its runs hold in all ([`INDEX_FILTER_BYTES_MAX`]; less in
    /// tests).
    filter_budget: usize,
}

/// A written-out part of the running append's index changes.
#[derive(Debug)]
enum Pending {
    /// A run file, written and synced (when the index's runs are).
    Run(Run),
    /// A full memtable the builder is writing as a run; it answers lookups until then.
    Writing(std::sync::Arc<Memtable>),
}

impl Pending {
    fn run(&self) -> Option<(u64, u64)> {
        self.run_ref().map(|r| (r.id, r.entries))
    }

    fn run_ref(&self) -> Option<&Run> {
        match self {
            Pending::Run(r) => Some(r),
            Pending::Writing(_) => None,
        }
    }

    fn run_mut(&mut self) -> Option<&mut Run> {
        match self {
            Pending::Run(r) => Some(r),
            Pending::Writing(_) => None,
        }
    }
}

/// What the builder did, in the order it did it.
enum Built {
    /// The oldest memtable handed to it is written as this run.
    Run(Run),
    /// The newest `k` runs are merged into this one (their files removed).
    Merged(Run, usize),
}

/// The builder thread of a running append: it writes full memtables as runs and merges the
/// runs as a base-4 counter ([`PENDING_MERGE_FANOUT`]), so that the append's own thread only
/// checks, looks up and puts. (The sorting, compressing, filtering and writing of every entry,
/// two to three times over in a bulk append, took about a fifth of that thread's time.)
#[derive(Debug)]
struct Builder {
    jobs: std::sync::mpsc::SyncSender<std::sync::Arc<Memtable>>,
    done: std::sync::mpsc::Receiver<Built>,
    /// The id the next run gets, and the error the builder stopped on.
    handle: std::thread::JoinHandle<(u64, Result<(), StoreError>)>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Built::Run(r) => write!(f, "Run({:x})", r.id),
            Built::Merged(r, k) => write!(f, "Merged({:x}, {k})", r.id),
        }
    }
}

/// Memtables handed to the builder beyond the one it is writing: the append goes on meanwhile
/// (a merge of the largest pending runs takes as long as filling a few memtables), and each
/// holds up to [`MEMTABLE_BYTES_MAX`] of memory.
const BUILDER_QUEUE_MEMTABLES: usize = 1;

impl Builder {
    /// Starts the builder, given the pending runs there are (`(id, entries)`, oldest first).
    fn start(
        dir: PathBuf,
        durability: Durability,
        mem_entries_max: usize,
        filter_bytes_max: usize,
        budget: FilterBudget,
        next_run: u64,
        runs: Vec<(u64, u64)>,
    ) -> Result<Builder, StoreError> {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<Memtable>>(BUILDER_QUEUE_MEMTABLES);
        let (tx, done) = std::sync::mpsc::channel();
        let path = dir.clone();
        let handle = std::thread::Builder::new()
            .name("qledger-index".into())
            .spawn(move || {
                let mut b =
                    BuilderState { dir, durability, mem_entries_max, filter_bytes_max, budget, next_run, runs, tx };
                let result = rx.into_iter().try_for_each(|mem| b.build(mem));
                (b.next_run, result)
            })
            .map_err(|e| StoreError::io("starting the index builder for", &path, e))?;
        Ok(Builder { jobs, done, handle })
    }
}

/// The builder thread's side.
struct BuilderState {
    dir: PathBuf,
    durability: Durability,
    mem_entries_max: usize,
    /// The largest Bloom filter a run it writes gets (the index's).
    filter_bytes_max: usize,
    /// What the index's filter budget leaves for the runs it writes.
    budget: FilterBudget,
    next_run: u64,
    /// The pending runs, `(id, entries)`, oldest first: as the append's thread will see them
    /// once it took in what was sent.
    runs: Vec<(u64, u64)>,
    tx: std::sync::mpsc::Sender<Built>,
}

impl BuilderState {
    /// Writes `mem` as a run, then merges while the newest runs are of one tier.
    fn build(&mut self, mem: std::sync::Arc<Memtable>) -> Result<(), StoreError> {
        let mut sorted: Vec<((u64, u32), Slot)> = mem.slots.iter().map(|(d, s)| (order_key(d), *s)).collect();
        sorted.sort_unstable_by_key(|e| e.0);
        let id = self.take_id();
        let entries = sorted.iter().map(|&((hi, lo), slot)| {
            let mut d = [0u8; 12];
            d[..8].copy_from_slice(&hi.to_be_bytes());
            d[8..].copy_from_slice(&lo.to_be_bytes());
            Ok((d, mem.value(slot)))
        });
        let count = sorted.len() as u64;
        let kept = self.kept_for(count);
        let run = write_run_with(&self.dir, id, count, entries, self.durability, kept, self.filter_bytes_max)?;
        // Let go before the run is reported, so that the append's thread takes the memtable
        // back as its spare: held through the merges below, it was lost whenever a merge was
        // still running, and the next memtable grew its table and arena in fresh pages.
        drop(mem);
        self.runs.push((id, run.entries));
        // A closed receiver: the append is gone; its files are the next writer's to remove.
        let _ = self.tx.send(Built::Run(run));
        while self.runs.len() >= PENDING_MERGE_FANOUT {
            let newest = &self.runs[self.runs.len() - PENDING_MERGE_FANOUT..];
            let tier = |r: &(u64, u64)| tier(r.1, self.mem_entries_max);
            if newest.iter().any(|r| tier(r) != tier(&newest[0])) {
                break;
            }
            // Handles of its own, which load no filter: the append's thread reads the same
            // files meanwhile, through the runs' filters, until it takes the merged run in.
            let mut old = newest.iter().map(|r| Run::open(&self.dir, r.0)).collect::<Result<Vec<_>, _>>()?;
            let id = self.take_id();
            // The append's thread holds the merged runs' filters until it takes the new run
            // in: they count against the budget meanwhile.
            let kept = self.kept_for(old.iter().map(|r| r.entries).sum());
            let run = write_merged(&self.dir, id, &mut old, self.durability, kept, self.filter_bytes_max)?;
            for o in &old {
                let _ = fs::remove_file(&o.path);
            }
            self.runs.truncate(self.runs.len() - PENDING_MERGE_FANOUT);
            self.runs.push((id, run.entries));
            let _ = self.tx.send(Built::Merged(run, PENDING_MERGE_FANOUT));
        }
        Ok(())
    }

    /// Whether a new run of `entries` gets an in-memory filter: if the index's budget, given
    /// smallest first to the live runs' filters, the pending runs' and the new one's, has
    /// room for it. (The append's thread decides again once it takes the run in; this keeps a
    /// filter it would let go from being built.)
    fn kept_for(&self, entries: u64) -> Kept {
        let filter = |entries| RunFilter::bytes_for(entries, self.filter_bytes_max);
        let mut costs = self.budget.live_costs.clone();
        costs.extend(self.runs.iter().map(|r| filter(r.1)));
        costs.push(filter(entries));
        match admit(&costs, self.budget.bytes_max).last() {
            Some(true) => Kept::Filter,
            _ => Kept::Pages,
        }
    }

    fn take_id(&mut self) -> u64 {
        self.next_run += 1;
        self.next_run - 1
    }
}

/// The index's filter budget as the builder thread sees it.
#[derive(Clone, Debug)]
struct FilterBudget {
    /// [`INDEX_FILTER_BYTES_MAX`] (less in tests).
    bytes_max: usize,
    /// The filters the live runs hold or will load (the live runs do not change during an
    /// append), those the budget gave one.
    live_costs: Vec<usize>,
}

/// Which of filters costing `costs` bytes a budget of `bytes_max` has room for, given
/// smallest first (ties in order): the largest runs are the ones left without, as a filter's
/// bytes grow with its run while a run without one costs one page read a lookup, whatever its
/// size.
fn admit(costs: &[usize], bytes_max: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&i| costs[i]);
    let mut admitted = vec![false; costs.len()];
    let mut left = bytes_max;
    for i in order {
        if costs[i] <= left {
            left -= costs[i];
            admitted[i] = true;
        }
    }
    admitted
}

fn builder_lost(what: &str) -> StoreError {
    StoreError::Damaged { seq: None, what: format!("index builder: {what}") }
}

/// The running append's index changes: each value in its canonical encoding (as a run stores
/// it) in one byte arena, and a map from the digest to where its newest value lies.
///
/// Owned values (`IndexValueV1`, an order row with a `Vec<String>` of licenses) took about
/// 90 bytes of table and two allocations an entry, and twice that while being sorted for a
/// run; here an entry is 20 bytes of table and its encoding (15 to 40 bytes) in the arena, and
/// sorting moves 20-byte slots. A value rewritten with the same length is rewritten in place;
/// one of another length is appended, and the old bytes stay until the memtable is written
/// out, which [`MEMTABLE_BYTES_MAX`] bounds.
#[derive(Debug, Default)]
pub struct Memtable {
    slots: HashMap<Digest, Slot, BuildHasherDefault<DigestHasher>>,
    bytes: Vec<u8>,
}

/// Where a value lies in the arena.
#[derive(Clone, Copy, Debug)]
struct Slot {
    at: u32,
    len: u32,
}

impl Memtable {
    /// Entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes of the arena (live values and rewritten ones).
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The encoded value for `d`.
    pub fn get(&self, d: &Digest) -> Option<&[u8]> {
        self.slots.get(d).map(|s| &self.bytes[s.at as usize..(s.at + s.len) as usize])
    }

    /// Sets the value for `d`, given its encoding.
    pub fn put(&mut self, d: Digest, value: &[u8]) {
        if let Some(slot) = self.slots.get(&d) {
            if slot.len as usize == value.len() {
                self.bytes[slot.at as usize..(slot.at + slot.len) as usize].copy_from_slice(value);
                return;
            }
        }
        if self.bytes.capacity() == 0 {
            // Reserved, not touched: pages count only once values are written into them.
            self.bytes.reserve_exact(MEMTABLE_BYTES_MAX + INDEX_VALUE_BYTES_MAX);
        }
        let at = u32::try_from(self.bytes.len()).expect("the memtable is written out long before 4 GiB");
        self.bytes.extend_from_slice(value);
        self.slots.insert(d, Slot { at, len: value.len() as u32 });
    }

    fn value(&self, slot: Slot) -> &[u8] {
        &self.bytes[slot.at as usize..(slot.at + slot.len) as usize]
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.bytes.clear();
    }
}

/// Digests are uniformly random already: their first 8 bytes are the hash.
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
}

impl Index {
    /// Opens the index of `manifest` in `dir` (a directory of its own: the ledger's `index/`,
    /// or a temporary one for `verify`'s rebuild). Fails if a run is missing or damaged.
    pub fn open(dir: &Path, manifest: ManifestV1) -> Result<Index, StoreError> {
        Index::open_with(dir, manifest, Durability::Synced)
    }

    /// An empty index whose runs are not synced: `verify`'s rebuild, in a temporary directory.
    pub fn scratch(dir: &Path) -> Result<Index, StoreError> {
        Index::open_with(dir, ManifestV1::default(), Durability::Scratch)
    }

    fn open_with(dir: &Path, manifest: ManifestV1, durability: Durability) -> Result<Index, StoreError> {
        let mut live = Vec::with_capacity(manifest.runs.len());
        for &(id, entries) in &manifest.runs {
            let run = Run::open(dir, id)?;
            if run.entries != entries {
                return Err(StoreError::Damaged { seq: None, what: format!("index run {id:x} holds another count") });
            }
            live.push(run);
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            live,
            pending: Vec::new(),
            mem: Memtable::default(),
            spare: None,
            builder: None,
            scratch: Vec::new(),
            mem_entries_max: MEMTABLE_ENTRIES_MAX,
            durability,
            filter_bytes_max: RUN_FILTER_BYTES_MAX,
            filter_budget: INDEX_FILTER_BYTES_MAX,
        })
        .map(|mut index| {
            index.admit_filters();
            index
        })
    }

    /// Gives the runs' filters the budget, smallest first ([`admit`]): a run it has no room
    /// for lets its filters go and is asked through its page table; one it has room for again
    /// (after a merge) loads its stored filter when it gets busy.
    fn admit_filters(&mut self) {
        let mut runs: Vec<&mut Run> =
            self.pending.iter_mut().filter_map(Pending::run_mut).chain(self.live.iter_mut()).collect();
        let costs: Vec<usize> = runs.iter().map(|r| r.filter_cost()).collect();
        for (run, admitted) in runs.iter_mut().zip(admit(&costs, self.filter_budget)) {
            if admitted {
                if run.unfiltered {
                    run.readmit();
                }
            } else if !run.unfiltered {
                run.go_unfiltered();
            }
        }
    }

    /// The manifest of the live runs.
    pub fn manifest(&self) -> &ManifestV1 {
        &self.manifest
    }

    /// The value for `d`: memtable, pending runs, live runs, newest first.
    pub fn get(&self, d: &Digest) -> Result<Option<IndexValueV1>, StoreError> {
        if let Some(bytes) = self.mem.get(d) {
            return IndexValueV1::decode(bytes).map(Some).map_err(|e| StoreError::Damaged {
                seq: None,
                what: format!("index memtable: a value does not read back: {e}"),
            });
        }
        for p in self.pending.iter().rev() {
            match p {
                Pending::Writing(mem) => {
                    if let Some(bytes) = mem.get(d) {
                        return IndexValueV1::decode(bytes).map(Some).map_err(|e| StoreError::Damaged {
                            seq: None,
                            what: format!("index memtable: a value does not read back: {e}"),
                        });
                    }
                }
                Pending::Run(run) => {
                    if let Some(bytes) = run.get(d)? {
                        return IndexValueV1::decode(&bytes).map(Some).map_err(|e| run.damaged(e));
                    }
                }
            }
        }
        for run in self.live.iter().rev() {
            if let Some(bytes) = run.get(d)? {
                return IndexValueV1::decode(&bytes).map(Some).map_err(|e| run.damaged(e));
            }
        }
        Ok(None)
    }

    /// Sets the value for `d`; writes the memtable out as a pending run when it is full.
    pub fn put(&mut self, d: Digest, value: IndexValueV1) -> Result<(), StoreError> {
        self.scratch.clear();
        codec::encode_into(&value, &mut self.scratch);
        self.mem.put(d, &self.scratch);
        if self.mem.len() >= self.mem_entries_max || self.mem.bytes() >= MEMTABLE_BYTES_MAX {
            self.flush_mem()?;
        }
        Ok(())
    }

    /// Hands the full memtable to the builder thread (started on first use) and goes on with
    /// an empty one; the handed one answers lookups until its run is written.
    fn flush_mem(&mut self) -> Result<(), StoreError> {
        if self.mem.is_empty() {
            return Ok(());
        }
        self.take_built()?;
        if self.builder.is_none() {
            self.builder = Some(Builder::start(
                self.dir.clone(),
                self.durability,
                self.mem_entries_max,
                self.filter_bytes_max,
                FilterBudget {
                    bytes_max: self.filter_budget,
                    live_costs: self.live.iter().filter(|r| !r.unfiltered).map(Run::filter_cost).collect(),
                },
                self.manifest.next_run,
                self.pending.iter().filter_map(Pending::run).collect(),
            )?);
        }
        let full = std::sync::Arc::new(std::mem::replace(&mut self.mem, self.spare.take().unwrap_or_default()));
        self.pending.push(Pending::Writing(full.clone()));
        let builder = self.builder.as_ref().expect("started above");
        if builder.jobs.send(full).is_err() {
            // The builder stopped on an error: report it.
            return self.settle();
        }
        Ok(())
    }

    /// Applies what the builder has done so far: written memtables become runs, merged runs
    /// one run.
    fn take_built(&mut self) -> Result<(), StoreError> {
        let Some(builder) = self.builder.as_ref() else { return Ok(()) };
        let done: Vec<Built> = builder.done.try_iter().collect();
        if done.is_empty() {
            return Ok(());
        }
        for b in done {
            self.apply(b)?;
        }
        self.admit_filters();
        Ok(())
    }

    fn apply(&mut self, built: Built) -> Result<(), StoreError> {
        let runs = self.pending.iter().take_while(|p| matches!(p, Pending::Run(_))).count();
        match built {
            Built::Run(run) => {
                let Some(Pending::Writing(mem)) = self.pending.get(runs) else {
                    return Err(builder_lost("a run for no memtable"));
                };
                let mem = mem.clone();
                self.pending[runs] = Pending::Run(run);
                if let Ok(mut mem) = std::sync::Arc::try_unwrap(mem) {
                    mem.clear();
                    self.spare = Some(mem);
                }
            }
            Built::Merged(run, k) => {
                if k > runs {
                    return Err(builder_lost("a merge of runs it does not have"));
                }
                // Their files are gone already; open handles read on until dropped here.
                self.pending.splice(runs - k..runs, [Pending::Run(run)]);
            }
        }
        Ok(())
    }

    /// Waits for the builder to write out every memtable handed to it and finish its merges,
    /// and applies what it did; its error, if it stopped on one. (It starts again with the
    /// next full memtable.)
    pub fn settle(&mut self) -> Result<(), StoreError> {
        let Some(Builder { jobs, done, handle }) = self.builder.take() else { return Ok(()) };
        drop(jobs);
        let (next_run, result) = handle.join().map_err(|_| builder_lost("the index builder panicked"))?;
        self.manifest.next_run = next_run;
        for b in done.try_iter() {
            self.apply(b)?;
        }
        self.admit_filters();
        result?;
        if self.pending.iter().any(|p| matches!(p, Pending::Writing(_))) {
            return Err(builder_lost("a memtable was not written out"));
        }
        Ok(())
    }

    /// Ends an append whose records are committed up to `records`: the memtable becomes a
    /// run, pending runs become live. Returns the new manifest (to store and publish).
    pub fn seal(&mut self, records: u64) -> Result<ManifestV1, StoreError> {
        self.flush_mem()?;
        self.settle()?;
        // The append is over: the spare memtable's room (its touched pages) goes.
        self.spare = None;
        for p in self.pending.drain(..) {
            // Settled: every pending part is a run. A live run holds in memory what it held
            // before pending runs had filters of their own (nothing until it gets busy).
            if let Pending::Run(mut run) = p {
                run.unload();
                self.manifest.runs.push((run.id, run.entries));
                self.live.push(run);
            }
        }
        self.manifest.records = records;
        self.admit_filters();
        Ok(self.manifest.clone())
    }

    /// Forgets the running append: memtable dropped, pending run files removed.
    pub fn abort(&mut self) {
        self.mem.clear();
        // Whatever the builder wrote is reported before it ends (even when it stops on an
        // error); a file it was writing when it failed is left to the next writer's
        // [`Index::remove_unlisted`].
        let _ = self.settle();
        for p in self.pending.drain(..) {
            if let Pending::Run(run) = p {
                let _ = fs::remove_file(&run.path);
            }
        }
    }

    /// How many of the newest live runs to merge: none while there are at most [`RUNS_MAX`];
    /// else the newest runs, going back while an older run holds at most
    /// [`MERGE_GROWTH`] times the entries of the newer ones taken so far (at least two). Runs
    /// grow geometrically, so an entry is rewritten O(log n) times, and a small append never
    /// rewrites the large old runs.
    ///
    /// A live run of an older run format (written by an older version) is rewritten in
    /// [`RUN_FORMAT`] at the first merge step: it and every newer run are merged into one, once
    /// (their entries as they are: no record is read again).
    pub fn merge_count(&self) -> usize {
        if let Some(oldest) = self.live.iter().position(|r| r.format < RUN_FORMAT) {
            return self.live.len() - oldest;
        }
        if self.live.len() <= RUNS_MAX {
            return 0;
        }
        let (mut sum, mut k) = (0u64, 0usize);
        for r in self.live.iter().rev() {
            if k >= 2 && r.entries > MERGE_GROWTH.saturating_mul(sum) {
                break;
            }
            sum = sum.saturating_add(r.entries);
            k += 1;
        }
        k
    }

    /// Merges the newest `k` live runs into one new run, which takes their place; returns the
    /// new manifest and the files the old runs were in (to remove once it is stored).
    pub fn merge_newest(&mut self, k: usize) -> Result<(ManifestV1, Vec<PathBuf>), StoreError> {
        // The append's lookups loaded the live runs' page tables and Bloom filters: let them
        // go before the merge builds the new run's. (A 2M-event append onto 8M held 116 MiB at
        // its peak with them kept.) The runs it merges keep their page tables, which it scans
        // (`write_merged`).
        let k = k.min(self.live.len());
        let first = self.live.len() - k;
        self.pending.iter_mut().filter_map(Pending::run_mut).chain(&mut self.live[..first]).for_each(Run::unload);
        let id = self.manifest.next_run;
        let run = write_merged(
            &self.dir,
            id,
            &mut self.live[first..],
            self.durability,
            Kept::Nothing,
            self.filter_bytes_max,
        )?;
        let old: Vec<PathBuf> = self.live.drain(first..).map(|r| r.path).collect();
        self.manifest.next_run = id + 1;
        self.manifest.runs.truncate(first);
        self.manifest.runs.push((run.id, run.entries));
        self.live.push(run);
        self.admit_filters();
        Ok((self.manifest.clone(), old))
    }

    /// Bytes of Bloom filters its runs hold in memory, pending and live.
    pub fn filter_bytes_held(&self) -> usize {
        self.pending.iter().filter_map(Pending::run_ref).chain(&self.live).map(Run::filter_bytes).sum()
    }

    /// Every live entry in digest order (the newest value of each digest).
    pub fn entries(&self) -> impl Iterator<Item = Result<(Digest, Vec<u8>), StoreError>> + '_ {
        merge(self.live.iter().map(|r| Box::new(r.iter()) as Box<dyn Iterator<Item = _>>).collect())
    }

    /// Removes run files in the directory that the manifest does not name (a dead writer's).
    pub fn remove_unlisted(&self) -> Result<(), StoreError> {
        let listed: Vec<String> = self.manifest.runs.iter().map(|(id, _)| run_name(*id)).collect();
        let entries = fs::read_dir(&self.dir).map_err(|e| StoreError::io("listing", &self.dir, e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".qidx") && !listed.contains(&name) {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }
}

/// Publishes the manifest for readers (`index/MANIFEST`, by a temporary file and a rename).
pub fn publish_manifest(dir: &Path, m: &ManifestV1) -> Result<(), StoreError> {
    write_atomically(&dir.join(MANIFEST_FILE), &codec::encode(m))
}

/// Reads the published manifest; `None` if there is none.
pub fn read_manifest(dir: &Path) -> Result<Option<Result<ManifestV1, DecodeError>>, StoreError> {
    let path = dir.join(MANIFEST_FILE);
    match fs::read(&path) {
        Ok(b) => Ok(Some(ManifestV1::decode(&b))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::index_run::digest;

    fn key(i: u64) -> IndexValueV1 {
        IndexValueV1::Key { seq: i, event: [i as u8; 8] }
    }

    /// `n` key entries, `K-0` on, in digest order, as a run is written.
    fn sorted_keys(n: u64) -> Vec<(Digest, Vec<u8>)> {
        let mut entries: Vec<(Digest, Vec<u8>)> =
            (0..n).map(|i| (digest(b'k', &format!("K-{i}")), codec::encode(&key(i)))).collect();
        entries.sort();
        entries
    }

    #[test]
    fn a_lookup_finds_the_same_value_from_disk_and_from_the_loaded_page_table() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sorted_keys(5_000);
        let run = write_run(dir.path(), 7, entries.len() as u64, entries.clone().into_iter().map(Ok)).unwrap();
        assert!(run.meta.get().is_none(), "opening a run reads no page table");
        for round in 0..2 {
            for (i, (d, v)) in entries.iter().enumerate().step_by(97) {
                assert_eq!(run.get(d).unwrap().as_ref(), Some(v), "round {round}, entry {i}");
            }
            assert_eq!(run.get(&digest(b'k', "absent")).unwrap(), None);
        }
        assert!(run.meta.get().is_some(), "a busy run loads its page table");
    }

    #[test]
    fn the_memtable_keeps_the_newest_value_and_writes_out_at_its_byte_limit() {
        let order = |licenses: usize, shipped: u64| {
            IndexValueV1::Order2(crate::format::snapshot::OrderRowV2 {
                licenses: (0..licenses).map(|i| format!("LIC-{i:04}")).collect(),
                quantity: u64::MAX,
                shipped,
                status: 0,
                placed_at: Some(1_700_000_000),
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path(), ManifestV1::default()).unwrap();
        let d = digest(b'o', "O-1");
        index.put(d, order(1, 1)).unwrap();
        let used = index.mem.bytes();
        index.put(d, order(1, 2)).unwrap();
        assert_eq!(index.mem.bytes(), used, "a value of the same length is rewritten in place");
        index.put(d, order(3, 300)).unwrap();
        assert!(index.mem.bytes() > used, "a longer value is appended");
        assert_eq!(index.get(&d).unwrap(), Some(order(3, 300)));
        assert_eq!(index.mem.len(), 1);
        // Rewrites of another length fill the arena: it is written out as a run, not grown.
        let mut n = 0u64;
        while index.pending.is_empty() {
            index.put(d, order(1 + (n % 2) as usize * 10, n)).unwrap();
            n += 1;
        }
        assert!(index.mem.is_empty() && index.mem.bytes() == 0);
        assert_eq!(index.pending.len(), 1);
        assert!(n * 20 >= MEMTABLE_BYTES_MAX as u64 / 10, "written out after {n} rewrites");
        assert_eq!(index.get(&d).unwrap(), Some(order(1 + ((n - 1) % 2) as usize * 10, n - 1)));
        index.seal(1).unwrap();
        assert_eq!(index.manifest().runs.len(), 1);
        assert_eq!(index.get(&d).unwrap(), Some(order(1 + ((n - 1) % 2) as usize * 10, n - 1)));
    }

    #[test]
    fn a_long_append_keeps_few_pending_runs_and_the_newest_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path(), ManifestV1::default()).unwrap();
        index.mem_entries_max = 100;
        let n = 100 * 4u64.pow(4);
        for i in 0..n {
            index.put(digest(b'k', &format!("K-{}", i % (n / 2))), key(i)).unwrap();
            // The builder works beside the puts: wait for it before counting its runs.
            index.settle().unwrap();
            let tiers: Vec<u32> = index.pending.iter().map(|p| tier(p.run().unwrap().1, 100)).collect();
            for t in &tiers {
                assert!(tiers.iter().filter(|u| *u == t).count() < PENDING_MERGE_FANOUT, "{tiers:?}");
            }
        }
        // 256 memtables' worth: merged into one run of tier 4 (and rewritten 4 times, not 256).
        assert_eq!(index.pending.len(), 1, "{:?}", index.pending);
        let on_disk = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "qidx"))
            .count();
        assert_eq!(on_disk, 1, "the merged runs' files are gone");
        for i in (0..n / 2).step_by(61) {
            // The second put of each key (i + n/2) is the newest.
            assert_eq!(index.get(&digest(b'k', &format!("K-{i}"))).unwrap(), Some(key(i + n / 2)));
        }
        index.seal(n).unwrap();
        assert_eq!(index.entries().count() as u64, n / 2);
    }

    #[test]
    fn runs_and_merges_beyond_the_filter_limit_hold_filters_of_at_most_the_limit_and_find_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path(), ManifestV1::default()).unwrap();
        // 1,000 entries a memtable; filters of at most 1 KiB (819 entries at 10 bits, 682 at
        // 12), given to the builder thread when it starts.
        index.mem_entries_max = 1_000;
        index.filter_bytes_max = 1024;
        let n = 24_000u64;
        let check_all = |index: &Index| {
            for i in 0..n {
                assert_eq!(index.get(&digest(b'k', &format!("K-{i}"))).unwrap(), Some(key(i)), "K-{i}");
            }
        };
        for i in 0..n {
            index.put(digest(b'k', &format!("K-{i}")), key(i)).unwrap();
        }
        // The pending runs the builder wrote and merged: their in-memory filters.
        index.settle().unwrap();
        let pending = |index: &Index| {
            index.pending.iter().filter_map(Pending::run_ref).map(|r| (r.entries, r.filter_bytes())).collect::<Vec<_>>()
        };
        assert!(pending(&index).iter().any(|&(entries, _)| entries > 4_000), "{:?}", pending(&index));
        assert!(pending(&index).iter().all(|&(_, bytes)| bytes > 0 && bytes <= 1024), "{:?}", pending(&index));
        check_all(&index);
        index.seal(n).unwrap();
        // The live runs' stored filters, loaded by busy runs.
        let sizes = |index: &Index| index.live.iter().map(|r| (r.entries, r.filter_bytes())).collect::<Vec<_>>();
        assert_eq!(index.filter_bytes_held(), 0, "live runs hold nothing until busy");
        check_all(&index);
        assert!(index.live.iter().all(|r| r.filter_bytes() > 0), "every run busy: {:?}", sizes(&index));
        assert!(index.live.iter().all(|r| r.filter_bytes() <= 1024), "{:?}", sizes(&index));
        let (_, old) = index.merge_newest(index.live.len()).unwrap();
        old.iter().for_each(|p| fs::remove_file(p).unwrap());
        assert_eq!(index.live.len(), 1);
        assert_eq!(index.filter_bytes_held(), 0, "a merge lets the filters go");
        check_all(&index);
        assert_eq!(index.live[0].filter_bytes(), 1024, "the merged run of {n} entries: {:?}", sizes(&index));
        assert_eq!(index.entries().count() as u64, n);
    }

    #[test]
    fn the_filters_an_index_holds_stay_within_its_budget_while_every_entry_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path(), ManifestV1::default()).unwrap();
        // 1,000 entries a memtable (1,536 bytes of blocked filter a run at 12 bits); room for
        // the filters of about 10,000 entries in all.
        index.mem_entries_max = 1_000;
        index.filter_budget = 16 * 1024;
        let n = 40_000u64;
        let held = |index: &Index| index.filter_bytes_held();
        for i in 0..n {
            index.put(digest(b'k', &format!("K-{i}")), key(i)).unwrap();
            if i % 997 == 0 {
                // The pending runs the builder wrote so far, as the append's lookups see them.
                index.take_built().unwrap();
                assert!(held(&index) <= 16 * 1024, "{} bytes of filters after {i} puts", held(&index));
            }
        }
        index.settle().unwrap();
        let unfiltered = |index: &Index| {
            index.pending.iter().filter_map(Pending::run_ref).chain(&index.live).filter(|r| r.unfiltered).count()
        };
        assert!(unfiltered(&index) > 0, "the largest pending runs are left without filters");
        let check_all = |index: &Index| {
            for i in 0..n {
                assert_eq!(index.get(&digest(b'k', &format!("K-{i}"))).unwrap(), Some(key(i)), "K-{i}");
                assert_eq!(index.get(&digest(b'o', &format!("K-{i}"))).unwrap(), None, "absent {i}");
            }
        };
        check_all(&index);
        assert!(held(&index) <= 16 * 1024, "{} bytes of filters", held(&index));
        index.seal(n).unwrap();
        // Live runs, every one busy: the smallest load their stored filters, the largest none.
        check_all(&index);
        assert!(held(&index) > 0 && held(&index) <= 16 * 1024, "{} bytes of filters", held(&index));
        assert!(unfiltered(&index) > 0, "the largest live runs are left without filters");
        // A reader opening the same runs holds no more.
        let reader = Index::open_with(dir.path(), index.manifest().clone(), Durability::Synced)
            .map(|mut r| {
                r.filter_budget = 16 * 1024;
                r.admit_filters();
                r
            })
            .unwrap();
        check_all(&reader);
        assert!(held(&reader) <= 16 * 1024, "{} bytes of filters", held(&reader));
    }

    #[test]
    fn a_run_given_its_filter_again_does_not_hold_its_page_table_twice() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sorted_keys(5_000);
        let mut run = write_run(dir.path(), 1, 5_000, entries.clone().into_iter().map(Ok)).unwrap();
        run.go_unfiltered();
        for (d, v) in entries.iter().take(RUN_LAZY_LOOKUPS_MAX as usize + 1) {
            assert_eq!(run.get(d).unwrap().as_ref(), Some(v));
        }
        assert!(run.pages.get().is_some() && run.meta.get().is_none(), "unfiltered: the page table alone");
        run.readmit();
        for (d, v) in entries.iter().step_by(7) {
            assert_eq!(run.get(d).unwrap().as_ref(), Some(v));
        }
        assert!(run.meta.get().is_some(), "busy again: the stored filter and its page table are loaded");
        assert!(run.pages.get().is_none(), "the page table kept while unfiltered is not held beside them");
    }

    #[test]
    fn the_budget_gives_filters_to_the_smallest_runs_first() {
        assert_eq!(admit(&[500, 100, 300, 200], 600), [false, true, true, true]);
        assert_eq!(admit(&[500, 100, 300, 200], 599), [false, true, false, true]);
        assert_eq!(admit(&[700], 600), [false]);
        assert_eq!(admit(&[], 600), Vec::<bool>::new());
    }

    #[test]
    fn a_scratch_run_stores_the_smallest_filter() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sorted_keys(5_000);
        let it = || entries.clone().into_iter().map(Ok);
        let scratch =
            write_run_with(dir.path(), 1, 5_000, it(), Durability::Scratch, Kept::Nothing, RUN_FILTER_BYTES_MAX)
                .unwrap();
        let synced =
            write_run_with(dir.path(), 2, 5_000, it(), Durability::Synced, Kept::Nothing, RUN_FILTER_BYTES_MAX)
                .unwrap();
        assert_eq!(scratch.filter_cost(), SCRATCH_STORED_FILTER_BYTES);
        assert_eq!(synced.filter_cost(), 5_000 * 10 / 8);
        for (d, v) in entries.iter().step_by(37) {
            assert_eq!(scratch.get(d).unwrap().as_ref(), Some(v));
        }
    }

    #[test]
    fn a_merge_of_live_runs_lets_their_filters_go_and_keeps_the_page_tables_it_scans() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path(), ManifestV1::default()).unwrap();
        for round in 0..3u64 {
            for i in 0..2_000 {
                index.put(digest(b'k', &format!("K-{round}-{i}")), key(i)).unwrap();
            }
            index.seal(round + 1).unwrap();
        }
        for round in 0..3u64 {
            for i in (0..2_000).step_by(7) {
                assert_eq!(index.get(&digest(b'k', &format!("K-{round}-{i}"))).unwrap(), Some(key(i)));
            }
        }
        assert!(index.live.iter().all(|r| r.filter_bytes() > 0), "busy runs loaded their filters");
        let (oldest, merged) = index.live.split_at_mut(1);
        let run =
            write_merged(dir.path(), 99, merged, Durability::Scratch, Kept::Nothing, RUN_FILTER_BYTES_MAX).unwrap();
        assert!(merged.iter().all(|r| r.filter_bytes() == 0 && r.pages.get().is_some()), "filters gone, tables kept");
        assert_eq!(oldest[0].filter_bytes(), 2_500, "a run it does not merge is left as it was");
        assert_eq!(run.entries, 4_000);
    }

    #[test]
    fn small_appends_never_rewrite_the_large_old_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path(), ManifestV1::default()).unwrap();
        for i in 0..50_000u64 {
            index.put(digest(b'k', &format!("big-{i}")), key(i)).unwrap();
        }
        index.seal(1).unwrap();
        let big = index.manifest().runs[0];
        for n in 0..40u64 {
            index.put(digest(b'k', &format!("small-{n}")), key(n)).unwrap();
            index.seal(2 + n).unwrap();
            let k = index.merge_count();
            if k > 1 {
                index.merge_newest(k).unwrap();
            }
            assert!(index.manifest().runs.len() <= RUNS_MAX, "{:?}", index.manifest().runs);
            assert_eq!(index.manifest().runs[0], big, "the large run was rewritten after small append {n}");
        }
        for n in 0..40u64 {
            assert_eq!(index.get(&digest(b'k', &format!("small-{n}"))).unwrap(), Some(key(n)));
        }
        assert_eq!(index.get(&digest(b'k', "big-49999")).unwrap(), Some(key(49_999)));
    }
}
