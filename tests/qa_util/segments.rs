//! An insider's tools for the tamper suites: what someone with write access to a ledger's
//! directory can do once `qledger` has exited.
//!
//! - [`Segments`]: the segment files read into blocks of stored records (framing parsed by
//!   `quotaledger::format::segment`), edited in memory, and written back with as much repair as
//!   the insider bothers with ([`Fix`]): none (checksums stale), block checksums, the locators
//!   of each block, or the whole chain (links, seqs, locators, checksums).
//! - The `HEAD` slots: read, written one at a time, or moved to the end of edited segments.
//! - Derived data: index runs (rewritten with valid page and footer checksums) and both index
//!   manifests (the published `index/MANIFEST` and the writer's copy in sled), snapshot files.
//!
//! Everything here panics on what it cannot do: it runs on ledgers the tests built.

use quotaledger::domain::QuotaState;
use quotaledger::format::chain::{record_hash, GENESIS_PREV};
use quotaledger::format::codec;
use quotaledger::format::head::{HeadSlot, HEAD_SLOT1_OFFSET, HEAD_SLOT_BYTES};
use quotaledger::format::index_run::{
    encode_footer, run_header, Bloom, Digest, IndexValueV1, PageBuilderV1, PageRef, RUN_HEADER_BYTES,
};
use quotaledger::format::record::Record;
use quotaledger::format::segment::{
    block_records, locator, parse_block_header, parse_segment_header, segment_header, BLOCK_HEADER_BYTES,
    BLOCK_PAYLOAD_BYTES_MAX, LOCATOR_BYTES, SEGMENT_FORMAT, SEGMENT_HEADER_BYTES,
};
use quotaledger::format::snapshot::{OrderRowV2, QuotaSnapshotV2};
use quotaledger::limits::SNAPSHOT_BYTES_MAX;
use quotaledger::store::index::{publish_manifest, read_manifest, write_run, ManifestV1, Run};
use quotaledger::store::meta::Meta;
use quotaledger::store::snapshots;
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One stored record: its canonical bytes without the final 32-byte `prev`, and its locator
/// (the first bytes of its hash as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Canonical bytes less `prev`.
    pub stored: Vec<u8>,
    /// The stored locator.
    pub locator: [u8; LOCATOR_BYTES],
}

impl Rec {
    /// A record with a correct locator for its own bytes (its `prev` included): a forgery
    /// that hashes right where it links right.
    pub fn forge(record: &Record) -> Rec {
        let bytes = record.encode();
        Rec { stored: bytes[..bytes.len() - 32].to_vec(), locator: locator(&record_hash(&bytes)) }
    }

    /// The canonical bytes when the record before has hash `prev`.
    pub fn bytes(&self, prev: &[u8; 32]) -> Vec<u8> {
        let mut b = self.stored.clone();
        b.extend_from_slice(prev);
        b
    }

    /// Decodes the record, linked to `prev`.
    pub fn decode(&self, prev: &[u8; 32]) -> Record {
        Record::decode(&self.bytes(prev)).expect("a stored record decodes")
    }
}

/// One block: its header fields as read, and its records.
#[derive(Clone, Debug)]
pub struct Block {
    /// Flag bits (COMMIT: the last block of an append).
    pub flags: u8,
    /// Seq of its first record, as the header says.
    pub first_seq: u64,
    /// Hash of the record before its first, as the header says.
    pub prev: [u8; 32],
    /// The checksum as read (written back unless [`Fix::crc`]).
    pub crc: u32,
    /// Its records.
    pub records: Vec<Rec>,
}

impl Block {
    /// The block's bytes: header and payload, with the stored checksum or a recomputed one.
    pub fn encode(&self, fix_crc: bool) -> Vec<u8> {
        let mut payload = Vec::new();
        for r in &self.records {
            payload.extend_from_slice(&r.locator);
        }
        for r in &self.records {
            payload.extend_from_slice(&u16::try_from(r.stored.len()).expect("record length").to_le_bytes());
        }
        for r in &self.records {
            payload.extend_from_slice(&r.stored);
        }
        let mut out = Vec::with_capacity(BLOCK_HEADER_BYTES + payload.len());
        out.push(SEGMENT_FORMAT);
        out.push(self.flags);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.first_seq.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.prev);
        let crc = if fix_crc { crc32c::crc32c_append(crc32c::crc32c(&out[0..52]), &payload) } else { self.crc };
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Payload bytes the block takes.
    pub fn payload_len(&self) -> usize {
        self.records.iter().map(|r| LOCATOR_BYTES + 2 + r.stored.len()).sum()
    }

    /// Whether `extra` more payload bytes still fit under the block size limit.
    pub fn has_room(&self, extra: usize) -> bool {
        self.payload_len() + extra <= BLOCK_PAYLOAD_BYTES_MAX
    }
}

/// One segment file: its first seq (name and header), its blocks, and any bytes after them
/// that do not parse as a block (beyond the committed length).
#[derive(Clone, Debug)]
pub struct Segment {
    /// First seq, from its header.
    pub first_seq: u64,
    /// Its blocks in order.
    pub blocks: Vec<Block>,
    /// Bytes after the last whole block, kept as found.
    pub tail: Vec<u8>,
}

/// How much an insider repairs when writing edited segments back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fix {
    /// Recompute each block's checksum.
    pub crc: bool,
    /// Recompute each block's locators from the block's own `prev` (each block consistent
    /// within itself; links between blocks left as they are).
    pub locators: bool,
    /// Recompute the whole chain: every block's first seq and `prev`, every record's `seq`,
    /// every locator and checksum (an insider who rewrites everything).
    pub chain: bool,
}

impl Fix {
    /// The bytes as edited: checksums and locators as they were.
    pub const NOTHING: Fix = Fix { crc: false, locators: false, chain: false };
    /// Block checksums recomputed, locators as they were (an insider who knows the framing).
    pub const CRC: Fix = Fix { crc: true, locators: false, chain: false };
    /// Checksums and each block's locators recomputed; links between blocks as they were.
    pub const BLOCK: Fix = Fix { crc: true, locators: true, chain: false };
    /// Everything recomputed: a consistent chain.
    pub const CHAIN: Fix = Fix { crc: true, locators: true, chain: true };
}

/// A record as the chain presents it: position, decoded record, canonical bytes and hash
/// (computed from its block's `prev` on).
#[derive(Clone, Debug)]
pub struct Chained {
    /// Position in the chain (not necessarily the `seq` it carries after an edit).
    pub seq: u64,
    /// The decoded record.
    pub record: Record,
    /// Its canonical bytes.
    pub bytes: Vec<u8>,
    /// Its hash.
    pub hash: [u8; 32],
}

/// A ledger's segment files, in memory.
#[derive(Clone, Debug)]
pub struct Segments {
    /// The `segments/` directory.
    pub dir: PathBuf,
    /// The files, by first seq.
    pub files: Vec<Segment>,
}

/// `segments/` of a ledger.
pub fn segments_dir(ledger: &Path) -> PathBuf {
    ledger.join("segments")
}

/// The path of the segment file starting at `first_seq`.
pub fn segment_path(ledger: &Path, first_seq: u64) -> PathBuf {
    segments_dir(ledger).join(format!("{first_seq:020}.qseg"))
}

/// The first seqs of the segment files, ascending.
pub fn segment_firsts(ledger: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(segments_dir(ledger))
        .expect("list segments")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".qseg").and_then(|n| n.parse().ok()))
        .collect();
    out.sort_unstable();
    out
}

fn parse_segment(bytes: &[u8]) -> Segment {
    let first_seq = parse_segment_header(bytes).expect("segment header");
    let mut blocks = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while let Some(hb) = bytes.get(at..at + BLOCK_HEADER_BYTES) {
        let hb: &[u8; BLOCK_HEADER_BYTES] = hb.try_into().expect("sliced to size");
        let Ok(header) = parse_block_header(hb) else { break };
        let start = at + BLOCK_HEADER_BYTES;
        let Some(payload) = bytes.get(start..start + header.payload_len as usize) else { break };
        let Ok(records) = block_records(&header, payload) else { break };
        let records = records
            .map(|r| r.map(|(stored, locator)| Rec { stored: stored.to_vec(), locator }))
            .collect::<Result<Vec<_>, _>>();
        let Ok(records) = records else { break };
        blocks.push(Block {
            flags: header.flags,
            first_seq: header.first_seq,
            prev: header.prev,
            crc: header.crc,
            records,
        });
        at = start + header.payload_len as usize;
    }
    Segment { first_seq, blocks, tail: bytes[at..].to_vec() }
}

impl Segments {
    /// Reads every segment file of `ledger`.
    pub fn read(ledger: &Path) -> Segments {
        let files = segment_firsts(ledger)
            .into_iter()
            .map(|first| parse_segment(&std::fs::read(segment_path(ledger, first)).expect("read segment")))
            .collect();
        Segments { dir: segments_dir(ledger), files }
    }

    /// Every block in chain order.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.files.iter().flat_map(|f| f.blocks.iter())
    }

    /// Every block in chain order, mutably.
    pub fn blocks_mut(&mut self) -> impl Iterator<Item = &mut Block> {
        self.files.iter_mut().flat_map(|f| f.blocks.iter_mut())
    }

    /// Block `i` in chain order.
    pub fn block(&mut self, i: usize) -> &mut Block {
        self.blocks_mut().nth(i).expect("block index")
    }

    /// `(first seq, records)` of every block, in chain order.
    pub fn block_spans(&self) -> Vec<(u64, u64)> {
        self.blocks().map(|b| (b.first_seq, b.records.len() as u64)).collect()
    }

    /// Records in the chain.
    pub fn len(&self) -> u64 {
        self.blocks().map(|b| b.records.len() as u64).sum()
    }

    /// Whether the chain holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record as the chain presents it, each hashed from its block's `prev` on.
    pub fn chain(&self) -> Vec<Chained> {
        let mut out = Vec::new();
        let mut seq = 0;
        for b in self.blocks() {
            let mut prev = b.prev;
            for r in &b.records {
                let bytes = r.bytes(&prev);
                let hash = record_hash(&bytes);
                let record = Record::decode(&bytes).expect("a stored record decodes");
                out.push(Chained { seq, record, bytes, hash });
                prev = hash;
                seq += 1;
            }
        }
        out
    }

    /// Where record `seq` is: `(block index in chain order, index in its block)`.
    pub fn locate(&self, seq: u64) -> (usize, usize) {
        let mut first = 0u64;
        for (bi, b) in self.blocks().enumerate() {
            let n = b.records.len() as u64;
            if seq < first + n {
                return (bi, (seq - first) as usize);
            }
            first += n;
        }
        panic!("no record at seq {seq}");
    }

    /// The hash the record at `seq` links to: its block's `prev`, or the hash of the record
    /// before it in its block (computed from the block's `prev`).
    pub fn prev_of(&self, seq: u64) -> [u8; 32] {
        let (bi, ri) = self.locate(seq);
        let b = self.blocks().nth(bi).expect("block");
        b.records[..ri].iter().fold(b.prev, |prev, r| record_hash(&r.bytes(&prev)))
    }

    /// The hash of record `seq` as the chain computes it.
    pub fn hash_of(&self, seq: u64) -> [u8; 32] {
        let (bi, ri) = self.locate(seq);
        record_hash(&self.blocks().nth(bi).expect("block").records[ri].bytes(&self.prev_of(seq)))
    }

    /// The record at `seq`, decoded with the link it has in the chain.
    pub fn record(&self, seq: u64) -> Record {
        let (bi, ri) = self.locate(seq);
        self.blocks().nth(bi).expect("block").records[ri].decode(&self.prev_of(seq))
    }

    /// The stored record at `seq`.
    pub fn rec_mut(&mut self, seq: u64) -> &mut Rec {
        let (bi, ri) = self.locate(seq);
        &mut self.block(bi).records[ri]
    }

    /// Rewrites the record at `seq` with `edit` applied, keeping its stored locator. Its `prev`
    /// is stored only for the first record of a block (as the block's `prev`); inside a block
    /// it is the hash of the record before, so an edit of it there is refused.
    pub fn edit(&mut self, seq: u64, edit: impl FnOnce(&mut Record)) {
        let before = self.record(seq);
        let mut r = before.clone();
        edit(&mut r);
        assert_ne!(r, before, "the edit of seq {seq} must change the record");
        let (bi, ri) = self.locate(seq);
        if r.prev() != before.prev() {
            assert_eq!(
                ri, 0,
                "seq {seq} is inside its block: its prev is not stored, it is the hash of the record before"
            );
            self.block(bi).prev = r.prev();
        }
        let bytes = r.encode();
        self.block(bi).records[ri].stored = bytes[..bytes.len() - 32].to_vec();
    }

    /// Removes the record at `seq` (and its block if it was the last one there).
    pub fn remove(&mut self, seq: u64) -> Rec {
        let (bi, ri) = self.locate(seq);
        let rec = self.block(bi).records.remove(ri);
        for f in &mut self.files {
            f.blocks.retain(|b| !b.records.is_empty());
        }
        rec
    }

    /// Inserts `rec` so that it stands at position `seq` (in the block that holds `seq`).
    pub fn insert(&mut self, seq: u64, rec: Rec) {
        let (bi, ri) = self.locate(seq);
        self.block(bi).records.insert(ri, rec);
    }

    /// Removes every record from `seq` on (a truncation).
    pub fn truncate(&mut self, seq: u64) {
        while self.len() > seq {
            let last = self.len() - 1;
            self.remove(last);
        }
    }

    /// Moves the blocks from the one starting at `seq` on into a new segment file of their own
    /// (what a writer does when a segment reaches its size).
    pub fn split(&mut self, seq: u64) {
        let (bi, ri) = self.locate(seq);
        assert_eq!(ri, 0, "a segment starts at a block boundary");
        let mut seen = 0;
        for fi in 0..self.files.len() {
            let n = self.files[fi].blocks.len();
            if bi < seen + n {
                let moved = self.files[fi].blocks.split_off(bi - seen);
                let tail = std::mem::take(&mut self.files[fi].tail);
                self.files.insert(fi + 1, Segment { first_seq: seq, blocks: moved, tail });
                return;
            }
            seen += n;
        }
    }

    fn relocate_blocks(&mut self) {
        for b in self.blocks_mut() {
            let mut prev = b.prev;
            for r in &mut b.records {
                let hash = record_hash(&r.bytes(&prev));
                r.locator = locator(&hash);
                prev = hash;
            }
        }
    }

    fn rechain(&mut self) {
        let mut seq = 0u64;
        let mut prev = GENESIS_PREV;
        for f in &mut self.files {
            if !f.blocks.is_empty() {
                // A segment is named by its first seq: renumbering moves it too.
                f.first_seq = seq;
            }
            for b in &mut f.blocks {
                b.first_seq = seq;
                b.prev = prev;
                for r in &mut b.records {
                    let mut bytes = r.bytes(&prev);
                    if let Ok(mut record) = Record::decode(&bytes) {
                        let (s, _, _, p) = record.parts_mut();
                        *s = seq;
                        *p = prev;
                        bytes = record.encode();
                        r.stored = bytes[..bytes.len() - 32].to_vec();
                    }
                    let hash = record_hash(&bytes);
                    r.locator = locator(&hash);
                    prev = hash;
                    seq += 1;
                }
            }
        }
    }

    /// The bytes of each segment file as [`Segments::write`] would write them:
    /// `(first seq, bytes, committed length)` (the committed length leaves the tail out).
    pub fn encode(&self, fix_crc: bool) -> Vec<(u64, Vec<u8>, u64)> {
        self.files
            .iter()
            .map(|f| {
                let mut bytes = segment_header(f.first_seq).to_vec();
                for b in &f.blocks {
                    bytes.extend_from_slice(&b.encode(fix_crc));
                }
                let committed = bytes.len() as u64;
                bytes.extend_from_slice(&f.tail);
                (f.first_seq, bytes, committed)
            })
            .collect()
    }

    /// Applies `fix`, then replaces every segment file with the edited ones.
    pub fn write(&mut self, fix: Fix) {
        if fix.chain {
            self.rechain();
        } else if fix.locators {
            self.relocate_blocks();
        }
        for entry in std::fs::read_dir(&self.dir).expect("list segments") {
            std::fs::remove_file(entry.expect("entry").path()).expect("remove segment");
        }
        for (first, bytes, _) in self.encode(fix.crc) {
            std::fs::write(self.dir.join(format!("{first:020}.qseg")), bytes).expect("write segment");
        }
    }

    /// The commit point these segments end at: records, last hash, last segment and its
    /// committed length.
    pub fn end(&self) -> (u64, [u8; 32], u64, u64) {
        let records = self.len();
        let last = if records == 0 { GENESIS_PREV } else { self.hash_of(records - 1) };
        let (first, _, committed) = self.encode(true).pop().expect("a segment file");
        (records, last, first, committed)
    }
}

/// `HEAD` of a ledger.
pub fn head_path(ledger: &Path) -> PathBuf {
    ledger.join("HEAD")
}

/// Offset of slot `i` (0 or 1) in `HEAD`.
pub fn slot_offset(i: usize) -> u64 {
    if i == 0 {
        0
    } else {
        HEAD_SLOT1_OFFSET
    }
}

/// The two slots of `HEAD` as decoded (`None`: never written; `Err`: damaged).
pub fn head_slots(ledger: &Path) -> [Result<Option<HeadSlot>, quotaledger::format::DecodeError>; 2] {
    let bytes = std::fs::read(head_path(ledger)).expect("read HEAD");
    let slot = |i: usize| {
        let at = slot_offset(i) as usize;
        HeadSlot::decode(&bytes[at..at + HEAD_SLOT_BYTES])
    };
    [slot(0), slot(1)]
}

/// The commit point readers take: the valid slot with the higher generation, and its index.
pub fn current_slot(ledger: &Path) -> (usize, HeadSlot) {
    let [a, b] = head_slots(ledger);
    match (a, b) {
        (Ok(Some(a)), Ok(Some(b))) if b.generation > a.generation => (1, b),
        (Ok(Some(a)), _) => (0, a),
        (_, Ok(Some(b))) => (1, b),
        _ => panic!("no valid HEAD slot"),
    }
}

/// Writes slot `i` of `HEAD` (128 bytes at its offset).
pub fn write_slot(ledger: &Path, i: usize, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(head_path(ledger)).expect("open HEAD");
    f.write_all_at(bytes, slot_offset(i)).expect("write HEAD slot");
}

/// Flips one bit of slot `i` of `HEAD` at byte `at` within the slot.
pub fn flip_slot(ledger: &Path, i: usize, at: usize) {
    let path = head_path(ledger);
    let mut bytes = std::fs::read(&path).expect("read HEAD");
    bytes[slot_offset(i) as usize + at] ^= 0x04;
    std::fs::write(&path, bytes).expect("write HEAD");
}

/// Moves the commit point as a writer would: the next generation, in the other slot.
pub fn commit_slot(ledger: &Path, records: u64, last_hash: [u8; 32], segment: (u64, u64)) -> HeadSlot {
    let (_, cur) = current_slot(ledger);
    let next = HeadSlot {
        generation: cur.generation + 1,
        records,
        last_hash,
        segment_first_seq: segment.0,
        segment_len: segment.1,
    };
    write_slot(ledger, (next.generation % 2) as usize, &next.encode());
    next
}

/// Moves the commit point to the end of `segs` (after writing them).
pub fn commit_to(ledger: &Path, segs: &Segments) -> HeadSlot {
    let (records, last, first, len) = segs.end();
    commit_slot(ledger, records, last, (first, len))
}

/// Flips one bit of a file at `offset`.
pub fn flip_file(path: &Path, offset: u64, bit: u8) {
    let mut bytes = std::fs::read(path).expect("read file to flip");
    bytes[offset as usize] ^= bit;
    std::fs::write(path, bytes).expect("write flipped file");
}

/// The offset in its segment file of the first stored byte of record `seq`'s body, and the
/// file's path (the ledger's segments as they are on disk).
pub fn record_offset(ledger: &Path, seq: u64) -> (PathBuf, u64) {
    let segs = Segments::read(ledger);
    let (bi, ri) = segs.locate(seq);
    let mut seen = 0;
    for f in &segs.files {
        let mut at = SEGMENT_HEADER_BYTES;
        for (i, b) in f.blocks.iter().enumerate() {
            if seen + i == bi {
                let n = b.records.len();
                let body: usize = b.records[..ri].iter().map(|r| r.stored.len()).sum();
                let off = at + BLOCK_HEADER_BYTES + n * (LOCATOR_BYTES + 2) + body;
                return (segment_path(ledger, f.first_seq), off as u64);
            }
            at += BLOCK_HEADER_BYTES + b.payload_len();
        }
        seen += f.blocks.len();
    }
    panic!("no record at seq {seq}");
}

// ---- derived data ----

/// `index/` of a ledger.
pub fn index_dir(ledger: &Path) -> PathBuf {
    ledger.join("index")
}

/// The published index manifest (`index/MANIFEST`).
pub fn manifest(ledger: &Path) -> ManifestV1 {
    read_manifest(&index_dir(ledger)).expect("read MANIFEST").expect("MANIFEST exists").expect("MANIFEST decodes")
}

/// The path of index run `id`.
pub fn run_path(ledger: &Path, id: u64) -> PathBuf {
    index_dir(ledger).join(format!("{id:016x}.qidx"))
}

/// Every entry of run `id`, in digest order.
pub fn run_entries(ledger: &Path, id: u64) -> BTreeMap<Digest, Vec<u8>> {
    let run = Run::open(&index_dir(ledger), id).expect("open run");
    run.iter().map(|e| e.expect("run entry")).collect()
}

/// The newest live run that holds `d`.
pub fn run_holding(ledger: &Path, d: &Digest) -> u64 {
    let m = manifest(ledger);
    m.runs.iter().rev().map(|(id, _)| *id).find(|&id| run_entries(ledger, id).contains_key(d)).expect("a run holds it")
}

/// Stores a manifest where both readers (`index/MANIFEST`) and the writer (sled) find it.
pub fn store_manifest(ledger: &Path, m: &ManifestV1) {
    publish_manifest(&index_dir(ledger), m).expect("publish MANIFEST");
    let (meta, _) = Meta::open(&ledger.join("meta")).expect("open sled metadata");
    meta.set_manifest(&codec::encode(m), true).expect("store manifest in sled");
}

/// Rewrites run `id` with `edit` applied to its entries: a well-formed run file (page and
/// footer checksums, Bloom filter), and, if its entry count changed, both manifests updated.
pub fn rewrite_run(ledger: &Path, id: u64, edit: impl FnOnce(&mut BTreeMap<Digest, Vec<u8>>)) {
    let mut entries = run_entries(ledger, id);
    let before = entries.clone();
    edit(&mut entries);
    assert_ne!(entries, before, "the edit must change the run");
    std::fs::remove_file(run_path(ledger, id)).expect("remove run");
    let n = entries.len() as u64;
    write_run(&index_dir(ledger), id, n, entries.into_iter().map(Ok)).expect("write run");
    let mut m = manifest(ledger);
    let slot = m.runs.iter_mut().find(|(r, _)| *r == id).expect("the run is live");
    if slot.1 != n {
        slot.1 = n;
        store_manifest(ledger, &m);
    }
}

/// Writes `entries` as run `id` of run format 1, as versions before run format 2 wrote it
/// (whole digests, pages never compressed), in place of the file that is there.
pub fn write_run_format1(ledger: &Path, id: u64, entries: &BTreeMap<Digest, Vec<u8>>) {
    let mut pages = Vec::new();
    let mut refs = Vec::new();
    let mut bloom = Bloom::with_entries(entries.len() as u64);
    let mut page = PageBuilderV1::default();
    let mut flush = |page: &mut PageBuilderV1, pages: &mut Vec<u8>| {
        let (bytes, first) = page.take();
        let offset = (RUN_HEADER_BYTES + pages.len()) as u64;
        refs.push(PageRef { first, offset, len: bytes.len() as u32, crc: crc32c::crc32c(&bytes) });
        pages.extend_from_slice(&bytes);
    };
    for (d, v) in entries {
        if !page.fits(v.len()) {
            flush(&mut page, &mut pages);
        }
        page.push(d, v);
        bloom.insert(d);
    }
    flush(&mut page, &mut pages);
    let header = run_header(1, entries.len() as u64, refs.len() as u32);
    let file = [&header[..], &pages, &encode_footer(&refs, &bloom)].concat();
    std::fs::write(run_path(ledger, id), file).expect("write run");
}

/// The order row of `order` in the index.
pub fn order_row(ledger: &Path, d: &Digest) -> OrderRowV2 {
    let id = run_holding(ledger, d);
    match IndexValueV1::decode(&run_entries(ledger, id)[d]).expect("index value") {
        IndexValueV1::Order2(r) => r,
        other => panic!("not an order row: {other:?}"),
    }
}

/// Rewrites the order row under digest `d`.
pub fn edit_order_row(ledger: &Path, d: &Digest, edit: impl FnOnce(&mut OrderRowV2)) {
    let mut row = order_row(ledger, d);
    edit(&mut row);
    let id = run_holding(ledger, d);
    rewrite_run(ledger, id, |e| {
        e.insert(*d, codec::encode(&IndexValueV1::Order2(row)));
    });
}

/// Removes the entry under digest `d` from the run holding it.
pub fn remove_entry(ledger: &Path, d: &Digest) {
    let id = run_holding(ledger, d);
    rewrite_run(ledger, id, |e| {
        e.remove(d);
    });
}

/// `snapshots/` of a ledger.
pub fn snapshots_dir(ledger: &Path) -> PathBuf {
    ledger.join("snapshots")
}

/// `snapshots/head.qsnap`.
pub fn head_snapshot_path(ledger: &Path) -> PathBuf {
    snapshots_dir(ledger).join("head.qsnap")
}

/// The path of the periodic snapshot after `records` records.
pub fn periodic_snapshot_path(ledger: &Path, records: u64) -> PathBuf {
    snapshots_dir(ledger).join(format!("{records:020}.qsnap"))
}

/// The head snapshot, as stored.
pub fn head_snapshot(ledger: &Path) -> QuotaSnapshotV2 {
    let bytes = snapshots::read_head(&snapshots_dir(ledger)).expect("read").expect("exists").expect("valid file");
    codec::decode(&bytes, SNAPSHOT_BYTES_MAX).expect("snapshot decodes")
}

/// Writes the head snapshot as a well-formed file (valid checksum).
pub fn write_head_snapshot(ledger: &Path, s: &QuotaSnapshotV2) {
    snapshots::write_head(&snapshots_dir(ledger), &codec::encode(s)).expect("write head snapshot");
}

/// Rewrites the head snapshot with `edit` applied.
pub fn edit_head_snapshot(ledger: &Path, edit: impl FnOnce(&mut QuotaSnapshotV2)) {
    let mut s = head_snapshot(ledger);
    edit(&mut s);
    write_head_snapshot(ledger, &s);
}

/// Writes a periodic snapshot file (valid checksum) after `records` records.
pub fn write_periodic_snapshot(ledger: &Path, records: u64, s: &QuotaSnapshotV2) {
    snapshots::write_periodic(&snapshots_dir(ledger), records, &codec::encode(s)).expect("write periodic snapshot");
}

/// The correct snapshot after the first `records` records of the ledger's chain.
pub fn true_snapshot(ledger: &Path, records: u64) -> QuotaSnapshotV2 {
    let chain = Segments::read(ledger).chain();
    let mut state = QuotaState::default();
    let mut last = GENESIS_PREV;
    for c in chain.iter().take(records as usize) {
        state.apply(&c.record.to_fact().expect("fact"));
        last = c.hash;
    }
    QuotaSnapshotV2::from_state(&state, last)
}

/// Every file under `ledger` but the lock and sled's directory, with its bytes: what "the
/// ledger is unchanged" compares (sled rewrites its own files when a writer opens it).
pub fn ledger_files(ledger: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    super::files_under(ledger)
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(ledger).expect("under the ledger");
            rel != Path::new("LOCK") && !rel.starts_with("meta")
        })
        .map(|p| {
            let b = std::fs::read(&p).expect("read ledger file");
            (p, b)
        })
        .collect()
}
