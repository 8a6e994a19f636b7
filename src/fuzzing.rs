//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`, README "Fuzzing"), here so that
//! `cargo test` runs each over its seed corpus (`tests/fuzz_corpus.rs`) and they keep building.
//!
//! Each body takes arbitrary bytes and panics only if a property of the format breaks: a
//! decoder panics, or accepts bytes that are not the one encoding of what it decoded to, or an
//! input the parser accepts does not survive the append pipeline (admission, encoding, strict
//! decoding) unchanged. Not part of the ledger's API.

use crate::domain::{self, Admission, Context, Event, Fact, InputFlags, OrderRow, QuotaState, Stamp, Timestamp};
use crate::format::chain::{record_hash, ChainCursor};
use crate::format::codec;
use crate::format::head::{pick, HeadSlot, HEAD_SLOT1_OFFSET, HEAD_SLOT_BYTES};
use crate::format::index_run::{
    decode_footer, decode_values, encode_footer, encode_values, find_in_page, page_entries, parse_footer_trailer,
    parse_run_header, run_header, Digest, IndexValueV1, PageBuilder, PageBuilderV1, FOOTER_TRAILER_BYTES,
    INDEX_PAGE_BYTES_MAX, RUN_HEADER_BYTES, VALUES_STORED,
};
use crate::format::record::{Record, RecordV1};
use crate::format::segment::{
    block_records, check_block, hash_block, parse_block_header, parse_segment_header, segment_header, BlockBuilder,
    BlockHeader, BLOCK_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::format::snapshot::{decode_snapshot_file, encode_snapshot_file, OrderRowV1, OrderRowV2, QuotaSnapshotV2};
use crate::jsonl::{parse_line, Defaults, LineError, LineReader};
use crate::limits::{LINE_BYTES_MAX, RECORD_BYTES_MAX};
use crate::tlog::checkpoint::{self, Checkpoint};
use crate::tlog::merkle::{self, Hash, MemoryTree, NodeSource, Sha256, TreeHasher};
use crate::tlog::note::{self, Note, SignerKey, VerifierKey};
use crate::tlog::tiles::{self, Tile, TileNodeSource, TileReader};
use std::collections::HashMap;
use std::io::BufReader;

/// The body of a fuzz target.
pub type Target = fn(&[u8]);

/// Every target: its name (the directory of its corpus) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("jsonl", jsonl),
    ("record", record),
    ("segment", segment),
    ("head", head),
    ("index_run", index_run),
    ("snapshot", snapshot),
    ("tlog", tlog),
];

/// The clock and actor of the `jsonl` target: 2026-06-01T00:00:00Z, `fuzz`.
fn defaults() -> Defaults {
    Defaults { at: Timestamp { secs: 1_780_272_000, nanos: 0 }, actor: "fuzz".into() }
}

// ---------------------------------------------------------------------------------------------
// JSONL input

/// One line read by [`LineReader`]: its number and bytes, or a line too long.
type ReadLine = Result<(u64, Vec<u8>), u64>;

fn read_lines<R: std::io::BufRead>(reader: R) -> Vec<ReadLine> {
    let mut lines = LineReader::new(reader);
    let mut out = Vec::new();
    loop {
        match lines.next_line() {
            Ok(Some((n, bytes))) => out.push(Ok((n, bytes.to_vec()))),
            Ok(None) => return out,
            Err(LineError::TooLong { line }) => out.push(Err(line)),
            Err(LineError::Io(e)) => panic!("reading a slice failed: {e}"),
        }
    }
}

/// What [`LineReader`] is specified to return (README "Input"), written as plainly as possible.
fn reference_lines(data: &[u8]) -> Vec<ReadLine> {
    let mut out = Vec::new();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let n = i as u64 + 1;
        if raw.len() > LINE_BYTES_MAX {
            out.push(Err(n));
            continue;
        }
        let mut line = raw;
        if n == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            out.push(Ok((n, line.to_vec())));
        }
    }
    out
}

/// The JSONL input: a whole input through [`LineReader`] (one read buffer and a 7-byte one,
/// both equal to a plain reference), each line through [`parse_line`], and each accepted event
/// through the checks and encoding of `append`: admission against the state so far, the record
/// it becomes (at most `RECORD_BYTES_MAX` bytes, decoding strictly to itself and back to the
/// same fact), its block, and the snapshot of the state at the end. An accepted line also
/// prints back (as the JSON of its event and stamp) to a line that parses to the same event.
pub fn jsonl(data: &[u8]) {
    let lines = read_lines(data);
    assert_eq!(lines, read_lines(BufReader::with_capacity(7, data)), "line splitting depends on the buffer");
    assert_eq!(lines, reference_lines(data), "LineReader differs from the reference");
    let defaults = defaults();
    let mut admission = Admission::new(defaults.at, crate::limits::AT_FUTURE_MARGIN_SECS_DEFAULT, false);
    let mut state = QuotaState::default();
    let mut orders: HashMap<String, OrderRow> = HashMap::new();
    let mut prev = [0u8; 32];
    let mut block = BlockBuilder::new(0, prev);
    for (n, bytes) in lines.into_iter().flatten() {
        let Ok(input) = parse_line(n, &bytes, &defaults) else { continue };
        assert_eq!(input.line, n);
        reparse(&input.stamp, &input.event, input.flags, n, &defaults);
        let before = input.event.order().and_then(|o| orders.get(o)).cloned();
        let lookup = domain::Lookup { order: before.as_ref(), target: None };
        let Ok(context) = admission.check(&state, lookup, &input.stamp, &input.event, input.flags) else {
            continue;
        };
        // The ledger stamps every accepted fact with its clock (format 2 stores it).
        let stamp = Stamp { recorded_at: Some(admission.now()), ..input.stamp };
        let fact = Fact { stamp, event: input.event, context };
        if let Some((order, row)) = OrderRow::after(&fact, before) {
            orders.insert(order.to_string(), row);
        }
        state.apply(&fact);
        let record = Record::from_fact(state.records - 1, prev, fact.clone());
        let body = record.encode();
        assert!(body.len() <= RECORD_BYTES_MAX, "an admitted event makes a record of {} bytes", body.len());
        let back = Record::decode(&body).expect("an admitted record decodes");
        assert_eq!(back, record);
        assert_eq!(back.into_fact().expect("an admitted record passes the stored limits"), fact);
        let hash = record_hash(&body);
        if !block.fits(body.len()) {
            let seq = state.records - 1;
            block_round_trip(&block.finish_and_reset(seq, prev, false));
        }
        block.push(&body, &hash);
        prev = hash;
    }
    if block.count() > 0 {
        block_round_trip(&block.finish(true));
    }
    let snap = codec::encode(&QuotaSnapshotV2::from_state(&state, prev));
    let (back, hash) = QuotaSnapshotV2::decode(&snap).expect("the snapshot of an admitted state decodes");
    assert_eq!((back, hash), (state, prev));
}

/// An accepted line, printed back as JSON, parses to the same stamp, event and flags.
fn reparse(stamp: &Stamp, event: &Event, flags: InputFlags, n: u64, defaults: &Defaults) {
    let mut v = serde_json::to_value(event).expect("events serialize");
    let obj = v.as_object_mut().expect("an event is an object");
    obj.insert("at".into(), stamp.at.to_string().into());
    obj.insert("actor".into(), stamp.actor.clone().into());
    if let Some(k) = &stamp.key {
        obj.insert("key".into(), k.clone().into());
    }
    if let Some(r) = &stamp.late_reason {
        obj.insert("late_reason".into(), r.clone().into());
    }
    if flags.confusable_ok {
        obj.insert("confusable_ok".into(), true.into());
    }
    let text = serde_json::to_vec(&v).expect("JSON values serialize");
    let again = parse_line(n, &text, defaults).expect("a printed event parses");
    assert_eq!((&again.stamp, &again.event, again.flags), (stamp, event, flags), "{}", String::from_utf8_lossy(&text));
}

fn block_round_trip(bytes: &[u8]) {
    let hb: &[u8; BLOCK_HEADER_BYTES] = bytes[..BLOCK_HEADER_BYTES].try_into().expect("a block has a header");
    let header = parse_block_header(hb).expect("a written block header parses");
    check_block(hb, &bytes[BLOCK_HEADER_BYTES..]).expect("a written block passes its checksum");
    let mut hashes = Vec::new();
    hash_block(&header, &bytes[BLOCK_HEADER_BYTES..], &mut hashes).expect("a written block hashes");
    assert_eq!(hashes.len(), header.count as usize);
}

// ---------------------------------------------------------------------------------------------
// Records

/// A small state with a party, a license with conditions and an order, for the rules to check
/// decoded events against.
fn rules_state() -> (QuotaState, OrderRow) {
    let mut s = QuotaState::default();
    let stamp = Stamp::new(Timestamp { secs: 1_768_356_000, nanos: 0 }, "a", None);
    let events = [
        Event::PartyRegistered {
            party: "bytedance".into(),
            name: "ByteDance".into(),
            country: "CN".into(),
            state_backed: false,
            sector: "internet".into(),
        },
        Event::LicenseGranted {
            license: "L-1".into(),
            authority: "CN-MOFCOM".into(),
            licensee: "bytedance".into(),
            product: "H200".into(),
            quantity: 150_000,
            valid_from: domain::Day(20_473),
            valid_until: domain::Day(20_837),
            round: 1,
        },
        Event::ConditionAdded {
            license: "L-1".into(),
            condition: "C1".into(),
            rule: domain::Rule::BundleRatio { domestic: 1, per: 3 },
            is_final: true,
        },
        Event::ConditionAdded {
            license: "L-1".into(),
            condition: "C2".into(),
            rule: domain::Rule::MaxPerOrder { units: 50_000 },
            is_final: false,
        },
        Event::OrderPlaced {
            order: "O-1".into(),
            licenses: domain::Gates::one("L-1"),
            quantity: 20_000,
            domestic_quantity: 7_000,
            supplier: "nvidia".into(),
            hold: false,
        },
    ];
    for event in events {
        s.apply(&Fact { stamp: stamp.clone(), event, context: Context::None });
    }
    let row = OrderRow {
        licenses: domain::Gates::one("L-1"),
        quantity: 20_000,
        shipped: 5_000,
        status: domain::OrderStatus::Open,
        placed_at: None,
    };
    (s, row)
}

/// A stored record: strict decoding (an accepted record re-encodes to its bytes), the limits of
/// `to_fact`, the way back to the same wire record, the chain cursor, the rules and the quota
/// projection (`verify` runs both on every record; neither may panic on a forged one).
pub fn record(data: &[u8]) {
    let Ok(r) = Record::decode(data) else { return };
    assert_eq!(r.encode(), data, "an accepted record re-encodes to its bytes");
    if r.seq() < u64::MAX {
        let mut cursor = ChainCursor { seq_next: r.seq(), prev: r.prev() };
        assert_eq!(cursor.check(data, &record_hash(data)).as_ref(), Ok(&r));
        assert_eq!((cursor.seq_next, cursor.prev), (r.seq() + 1, record_hash(data)));
    }
    let _ = ChainCursor::genesis().check(data, &record_hash(data));
    let Ok(fact) = r.to_fact() else { return };
    let again = match &r {
        Record::V1(_) => Record::V1(RecordV1::from_fact(r.seq(), r.prev(), fact.clone())),
        Record::V2(_) => Record::from_fact(r.seq(), r.prev(), fact.clone()),
    };
    assert_eq!(again, r, "wire -> domain -> wire changed the record");
    let (mut state, row) = rules_state();
    let _ = domain::check(&state, Some(&row), &fact.stamp, &fact.event);
    let _ = domain::check(&state, None, &fact.stamp, &fact.event);
    let target = domain::Target { seq: 3, shipment: Some(("O-1".into(), 5_000)), at: None, corrected_by: None };
    let _ = domain::check_with(
        &state,
        domain::Lookup { order: Some(&row), target: Some(&target) },
        &fact.stamp,
        &fact.event,
    );
    let _ = OrderRow::after(&fact, Some(row));
    state.apply(&fact);
    let mut empty = QuotaState::default();
    empty.apply(&fact);
}

// ---------------------------------------------------------------------------------------------
// Segments and blocks

/// Everything read from one block: header, checksum, records, chain from its `prev`. A block
/// that passes all of it is rebuilt with [`BlockBuilder`] to the same bytes.
fn block(bytes: &[u8]) -> Option<(BlockHeader, Vec<[u8; 32]>)> {
    let hb: &[u8; BLOCK_HEADER_BYTES] = bytes.get(..BLOCK_HEADER_BYTES)?.try_into().ok()?;
    let header = parse_block_header(hb).ok()?;
    let payload = bytes.get(BLOCK_HEADER_BYTES..BLOCK_HEADER_BYTES + header.payload_len as usize)?;
    let crc_ok = check_block(hb, payload).is_ok();
    let mut hashes = Vec::new();
    let hashed = hash_block(&header, payload, &mut hashes);
    let Ok(records) = block_records(&header, payload) else {
        assert!(hashed.is_err());
        return None;
    };
    let mut prev = header.prev;
    let mut rebuilt = BlockBuilder::new(header.first_seq, header.prev);
    let mut all = true;
    for (i, item) in records.enumerate() {
        let Ok((stored, _locator)) = item else {
            all = false;
            break;
        };
        let mut body = stored.to_vec();
        body.extend_from_slice(&prev);
        let hash = record_hash(&body);
        if let Some(h) = hashes.get(i) {
            assert_eq!(h, &hash, "hash_block and the records disagree");
        }
        if let Ok(r) = Record::decode(&body) {
            let _ = r.to_fact();
        }
        assert!(rebuilt.fits(body.len()), "a record of a parsed block does not fit a block");
        rebuilt.push(&body, &hash);
        prev = hash;
    }
    if crc_ok && all && hashed.is_ok() {
        assert_eq!(hashes.len(), header.count as usize);
        let again = rebuilt.finish(header.is_commit());
        assert_eq!(again, &bytes[..BLOCK_HEADER_BYTES + payload.len()], "an accepted block re-encodes to its bytes");
        return Some((header, hashes));
    }
    None
}

/// A segment file (header, then blocks read as the store reads them, each continuing the seqs
/// and the chain of the one before), or a single block.
pub fn segment(data: &[u8]) {
    block(data);
    let Ok(first_seq) = parse_segment_header(data) else { return };
    assert_eq!(segment_header(first_seq)[..], data[..SEGMENT_HEADER_BYTES], "an accepted header re-encodes");
    let mut at = SEGMENT_HEADER_BYTES;
    let mut next: Option<(u64, [u8; 32])> = None;
    while let Some((header, hashes)) = block(&data[at..]) {
        if let Some((seq, prev)) = next {
            if header.first_seq != seq || header.prev != prev {
                break;
            }
        } else if header.first_seq != first_seq {
            break;
        }
        at += header.total_bytes() as usize;
        next = Some((header.end_seq(), *hashes.last().expect("a block has records")));
    }
    store_blocks(first_seq, data);
}

/// `store::segment::BlockReader`, the reader of every command, over `data` as the only segment
/// file of a simulated disk, from its first seq and from a seq inside it.
fn store_blocks(first_seq: u64, data: &[u8]) {
    use crate::store::disk::{Disk, SimDisk};
    use crate::store::segment::{segment_name, BlockReader};
    use std::path::Path;
    use std::sync::Arc;
    let disk = SimDisk::new();
    let dir = Path::new("/ledger/segments");
    disk.create_dir(Path::new("/ledger")).expect("a simulated directory");
    disk.create_dir(dir).expect("a simulated directory");
    let file = disk.create_new(&dir.join(segment_name(first_seq))).expect("a simulated file");
    file.write_all_at(data, 0).expect("a simulated write");
    let disk: Arc<dyn Disk> = Arc::new(disk);
    let skip = u64::from(data.get(SEGMENT_HEADER_BYTES + 4).copied().unwrap_or(0) % 16);
    for from in [first_seq, first_seq.saturating_add(skip)] {
        let end = first_seq.saturating_add(1 << 20);
        let Ok(reader) = BlockReader::new(Arc::clone(&disk), dir, from, end) else { continue };
        let mut next = None;
        for raw in reader.take(1000) {
            let Ok(raw) = raw else { break };
            assert_eq!(check_block(&raw.header_bytes, &raw.payload), Ok(()), "the reader yields a bad block");
            assert_eq!(parse_block_header(&raw.header_bytes).as_ref(), Ok(&raw.header));
            assert!(raw.header.end_seq() > from, "the reader yields a block before `from`");
            if let Some(seq) = next {
                assert_eq!(raw.header.first_seq, seq, "the reader skips or repeats seqs");
            }
            next = Some(raw.header.end_seq());
            let mut hashes = Vec::new();
            let _ = hash_block(&raw.header, &raw.payload, &mut hashes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HEAD

/// The `HEAD` file: a slot (128 bytes) and the pick of two slots, read as `store::head` reads
/// them (slot 1 at offset 4096; shorter inputs: slot 1 right after slot 0).
pub fn head(data: &[u8]) {
    let check = |slot: &[u8]| match HeadSlot::decode(slot) {
        Ok(Some(h)) => {
            assert_eq!(&h.encode()[..], slot, "an accepted slot re-encodes to its bytes");
            Some(h)
        }
        Ok(None) => {
            assert!(slot.iter().all(|&b| b == 0));
            None
        }
        Err(_) => None,
    };
    check(data);
    let split = if data.len() >= HEAD_SLOT1_OFFSET as usize { HEAD_SLOT1_OFFSET as usize } else { HEAD_SLOT_BYTES };
    let s0 = &data[..data.len().min(HEAD_SLOT_BYTES)];
    let s1 = data.get(split..).map_or(&[][..], |s| &s[..s.len().min(HEAD_SLOT_BYTES)]);
    let (a, b) = (check(s0), check(s1));
    match pick(s0, s1) {
        Ok(Some(p)) => {
            assert!(a == Some(p) || b == Some(p), "pick chose a slot that does not decode to it");
            let g = |x: Option<HeadSlot>| x.map_or(0, |h| h.generation);
            assert!(p.generation >= g(a) && p.generation >= g(b), "pick chose the older slot");
            assert!(p.segment_first_seq <= p.records);
        }
        Ok(None) => assert!(a.is_none() && b.is_none()),
        Err(_) => assert!(a.is_none() && b.is_none()),
    }
}

// ---------------------------------------------------------------------------------------------
// Index runs

/// One page, read as a page of run format 1 and of format 2 (values stored or compressed):
/// `page_entries` and `find_in_page` agree on every entry, an accepted page is rebuilt by
/// [`PageBuilderV1`] to the same bytes (format 1) or by [`PageBuilder`] to a page of the same
/// entries (format 2: the same bytes if neither compresses its values), and its values decode
/// strictly. And any bytes of a page's size come back from [`encode_values`] unchanged.
fn index_page(page: &[u8]) {
    index_page_of(1, page);
    index_page_of(2, page);
    if page.len() <= INDEX_PAGE_BYTES_MAX {
        let mut encoded = Vec::new();
        encode_values(page, &mut encoded);
        assert!(encoded.len() <= page.len() + 1);
        let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
        let back = decode_values(&encoded, page.len(), &mut buf);
        assert_eq!(back, Ok(page), "values do not survive their encoding");
    }
}

fn index_page_of(format: u8, page: &[u8]) {
    let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
    let mut buf2 = [0u8; INDEX_PAGE_BYTES_MAX];
    let found = find_in_page(format, page, &[0xff; 12], &mut buf2).map(|v| v.map(<[u8]>::to_vec));
    let Ok(entries) = page_entries(format, page, &mut buf) else { return };
    assert!(!entries.is_empty());
    assert!(found.is_ok());
    let (mut v1, mut v2) = (PageBuilderV1::default(), PageBuilder::default());
    for (d, v) in &entries {
        let found = find_in_page(format, page, d, &mut buf2);
        assert_eq!(found, Ok(Some(*v)), "find_in_page misses an entry page_entries lists");
        let mut below = *d;
        if let Some(last) = below.iter_mut().rev().find(|b| **b > 0) {
            *last -= 1;
            if entries.binary_search_by(|(e, _)| e.cmp(&below)).is_err() {
                let found = find_in_page(format, page, &below, &mut buf2);
                assert_eq!(found, Ok(None), "find_in_page finds a digest that is not there");
            }
        }
        if format == 1 {
            assert!(v1.fits(v.len()));
            v1.push(d, v);
        } else {
            assert!(v2.fits(d, v.len()));
            v2.push(d, v);
        }
        index_value(v);
    }
    let mut stored_builder = v2.clone();
    let (again, first) = if format == 1 { v1.take() } else { v2.take() };
    assert_eq!(first, entries[0].0);
    if format == 1 {
        assert_eq!(again, page, "an accepted page re-encodes to its bytes");
        return;
    }
    // Format 2: the same count, digests and lengths; the same values, stored or compressed.
    let (stored, _) = stored_builder.take_stored();
    let values_at = stored.len() - 1 - entries.iter().map(|(_, v)| v.len()).sum::<usize>();
    assert_eq!(stored[..values_at], page[..values_at], "an accepted page re-encodes its digests and lengths");
    if page[values_at] == VALUES_STORED {
        assert_eq!(stored, page, "an accepted page re-encodes to its bytes");
    }
    let back = page_entries(2, &again, &mut buf2);
    assert_eq!(back, Ok(entries), "an accepted page re-encodes to its entries");
}

fn index_value(v: &[u8]) {
    if let Ok(value) = IndexValueV1::decode(v) {
        assert_eq!(codec::encode(&value), v, "an accepted index value re-encodes to its bytes");
        match value {
            IndexValueV1::Order(row) => {
                let _ = row.into_row().unshipped();
            }
            IndexValueV1::Order2(row) => order_row_v2(row),
            IndexValueV1::Key { .. } => {}
        }
    }
    if let Ok(o) = codec::decode::<OrderRowV2<String>>(v, 1024) {
        assert_eq!(codec::encode(&o), v);
        order_row_v2(o);
    }
    if let Ok(o) = codec::decode::<OrderRowV1<String>>(v, 1024) {
        assert_eq!(codec::encode(&o), v);
        let _ = o.into_row();
    }
}

/// A format 2 order row that `into_row` accepts goes back to the same wire row.
fn order_row_v2(wire: OrderRowV2) {
    let Ok(row) = wire.clone().into_row() else { return };
    let _ = row.unshipped();
    let back = OrderRowV2::from_row(&row);
    assert_eq!(back.licenses, wire.licenses, "an order row's licenses change on the way back");
    assert_eq!(
        (back.quantity, back.shipped, back.status, back.placed_at),
        (wire.quantity, wire.shipped, wire.status, wire.placed_at)
    );
}

/// An index run file, read as `store::index::Run` reads it (header, trailer, footer, pages in
/// the file, lookups through the Bloom filter and the page table), or one page, or one value,
/// or the index `MANIFEST`.
pub fn index_run(data: &[u8]) {
    index_page(data);
    index_value(data);
    if let Ok(m) = crate::store::index::ManifestV1::decode(data) {
        assert_eq!(codec::encode(&m), data, "an accepted index manifest re-encodes to its bytes");
    }
    if let Some(h) = data.get(..RUN_HEADER_BYTES) {
        if let Ok(r) = parse_run_header(h) {
            assert_eq!(run_header(r.format, r.entries, r.pages)[..], h[..], "an accepted run header re-encodes");
        }
    }
    if data.len() < RUN_HEADER_BYTES + FOOTER_TRAILER_BYTES {
        return;
    }
    let Ok(header) = parse_run_header(&data[..RUN_HEADER_BYTES]) else { return };
    let (format, pages) = (header.format, header.pages);
    let end = data.len() - FOOTER_TRAILER_BYTES;
    let Ok((footer_len, crc)) = parse_footer_trailer(&data[end..]) else { return };
    let Some(footer_at) = end.checked_sub(footer_len).filter(|&at| at >= RUN_HEADER_BYTES) else { return };
    store_run(data);
    let Ok((refs, bloom)) = decode_footer(&data[footer_at..end], crc, pages) else { return };
    assert_eq!(refs.len(), pages as usize);
    assert_eq!(encode_footer(&refs, &bloom), &data[footer_at..], "an accepted footer re-encodes to its bytes");
    let mut entries: Vec<(Digest, Vec<u8>)> = Vec::new();
    for p in &refs {
        let Some(stop) = p.offset.checked_add(u64::from(p.len)).filter(|&s| s <= footer_at as u64) else { return };
        if p.offset < RUN_HEADER_BYTES as u64 {
            return;
        }
        let page = &data[p.offset as usize..stop as usize];
        if crc32c::crc32c(page) != p.crc {
            return;
        }
        index_page(page);
        let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
        let Ok(es) = page_entries(format, page, &mut buf) else { return };
        if es[0].0 != p.first {
            return;
        }
        entries.extend(es.into_iter().map(|(d, v)| (d, v.to_vec())));
    }
    // A run that reads whole: every entry is found as `Run::get` finds it (unless the Bloom
    // filter, which is not checked against the entries, says no).
    for (d, v) in &entries {
        if !bloom.may_contain(d) {
            continue;
        }
        let i = refs.partition_point(|p| p.first <= *d);
        let p = refs[i.checked_sub(1).expect("the first page starts at the first entry")];
        let page = &data[p.offset as usize..(p.offset + u64::from(p.len)) as usize];
        if entries.windows(2).all(|w| w[0].0 < w[1].0) {
            let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
            assert_eq!(find_in_page(format, page, d, &mut buf), Ok(Some(&v[..])));
        }
    }
}

/// `store::index::Run`, the reader of `append` and `verify`, on `data` as run file 0: opening
/// it, every lookup and the iteration either work or report damage, never panic and never an
/// I/O error (the file is there and readable).
fn store_run(data: &[u8]) {
    use crate::store::index::Run;
    use crate::store::StoreError;
    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().expect("a temporary directory");
    }
    DIR.with(|dir| {
        let path = dir.path().join(format!("{:016x}.qidx", 0));
        std::fs::write(&path, data).expect("write the run file");
        let damage = |e: &StoreError| matches!(e, StoreError::Damaged { .. });
        let run = match Run::open(dir.path(), 0) {
            Ok(run) => run,
            Err(e) => {
                assert!(damage(&e), "opening a hostile run is not damage: {e}");
                return;
            }
        };
        let mut digests = vec![[0u8; 12], [0xff; 12]];
        for item in run.iter().take(5000) {
            match item {
                Ok((d, v)) => {
                    index_value(&v);
                    digests.push(d);
                }
                Err(e) => {
                    assert!(damage(&e), "iterating a hostile run is not damage: {e}");
                    break;
                }
            }
        }
        for d in digests.iter().take(64) {
            if let Err(e) = run.get(d) {
                assert!(damage(&e), "a lookup in a hostile run is not damage: {e}");
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// A snapshot file and the snapshot inside: an accepted file re-encodes to its bytes, an
/// accepted snapshot encodes back from the state it decodes to, and that (forged) state goes
/// through the rules and the projection without panicking.
pub fn snapshot(data: &[u8]) {
    let inner = match decode_snapshot_file(data) {
        Ok(inner) => {
            assert_eq!(encode_snapshot_file(inner), data, "an accepted snapshot file re-encodes to its bytes");
            inner
        }
        Err(_) => data,
    };
    let Ok((state, hash)) = QuotaSnapshotV2::decode(inner) else { return };
    assert_eq!(codec::encode(&QuotaSnapshotV2::from_state(&state, hash)), inner, "the state re-encodes to its bytes");
    let _: u128 = state.licenses.values().map(|l| u128::from(l.remaining())).sum();
    let mut state = state;
    let at = state.last_at.unwrap_or_default().max(Timestamp { secs: 1_780_272_000, nanos: 0 });
    let stamp = Stamp::new(at, "fuzz", None);
    let ids: Vec<(String, String, u64)> =
        state.licenses.iter().take(4).map(|(id, l)| (id.clone(), l.licensee.clone(), l.quantity)).collect();
    for (license, licensee, quantity) in ids {
        let row = OrderRow {
            licenses: domain::Gates::one(license.clone()),
            quantity,
            shipped: quantity / 2,
            status: domain::OrderStatus::Open,
            placed_at: None,
        };
        let events = [
            Event::OrderPlaced {
                order: "O-fuzz".into(),
                licenses: domain::Gates::one(license.clone()),
                quantity: quantity.max(1),
                domestic_quantity: quantity,
                supplier: "s".into(),
                hold: false,
            },
            Event::ShipmentRecorded { order: "O-fuzz".into(), quantity: quantity / 2 + 1 },
            Event::OrderCancelled { order: "O-fuzz".into(), reason: "r".into() },
            Event::QuotaAmended { license: license.clone(), quantity: u64::MAX, reason: "r".into() },
            Event::LicenseSuspended { license: license.clone(), reason: "r".into() },
            Event::LicenseReinstated { license: license.clone(), reason: "r".into() },
            Event::ConditionFinalized { license: license.clone(), condition: "C1".into() },
            Event::PartyRestricted { party: licensee, reason: "r".into() },
            Event::LicenseRevoked { license, reason: "r".into() },
        ];
        for event in events {
            for order in [None, Some(&row)] {
                if let Ok(context) = domain::check(&state, order, &stamp, &event) {
                    state.apply(&Fact { stamp: stamp.clone(), event: event.clone(), context });
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transparency log

/// The key of the `tlog` target (a fixed seed; its vkey is in the corpus).
pub fn tlog_signer() -> SignerKey {
    SignerKey::from_seed("quotaledger.example/fuzz", &[7; 32]).expect("a valid key name")
}

struct SliceTiles<'a>(&'a HashMap<Tile, Vec<u8>>);

impl TileReader for SliceTiles<'_> {
    type Error = String;
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, String> {
        self.0.get(tile).cloned().ok_or_else(|| format!("no tile {}", tile.path()))
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        x.copy_from_slice(s);
    }
    u64::from_le_bytes(x)
}

fn hashes(b: &[u8]) -> Vec<Hash> {
    b.chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect()
}

/// The tlog parsers and verifiers. The first byte picks what the rest is:
/// `0` a signed note or checkpoint (parsed, opened with the target's key, printed back),
/// `1` a key, a tile path or a checkpoint text, `2` an entry bundle (`width: u16 BE | data`),
/// `3` an inclusion proof and `4` a consistency proof (`a: u64 | b: u64 | leaf/root1 [32] |
/// root [32] | proof [32]*`), `5` entries of a tree whose proofs and tiles must verify.
pub fn tlog(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 6 {
        0 => tlog_note(rest),
        1 => tlog_text(rest),
        2 => {
            let width = u16::from_be_bytes([rest.first().copied().unwrap_or(0), rest.get(1).copied().unwrap_or(0)]);
            let body = rest.get(2..).unwrap_or(&[]);
            if let Ok(entries) = tiles::decode_entry_bundle(body, width) {
                assert_eq!(entries.len(), usize::from(width));
                assert_eq!(tiles::encode_entry_bundle(&entries).as_deref(), Ok(body), "a bundle re-encodes");
            }
        }
        3 | 4 => {
            let (a, b) = (u64_at(rest, 0), u64_at(rest, 8));
            let (x, root) =
                (hashes(rest.get(16..48).unwrap_or(&[0; 32]))[0], hashes(rest.get(48..80).unwrap_or(&[0; 32]))[0]);
            let proof = hashes(rest.get(80..).unwrap_or(&[]));
            if mode % 6 == 3 {
                let ok = merkle::verify_inclusion::<Sha256>(a, b, &x, &proof, &root).is_ok();
                let computed = merkle::root_from_inclusion_proof::<Sha256>(a, b, &x, &proof);
                assert_eq!(ok, computed == Ok(root));
                if ok {
                    assert_eq!(proof.len(), merkle::inclusion_proof_len(a, b));
                }
                let _ = merkle::verify_inclusion::<Sha256>(a % 300, b % 300, &x, &proof, &root);
            } else {
                let ok = merkle::verify_consistency::<Sha256>(a, b, &proof, &x, &root).is_ok();
                if ok {
                    assert!(a <= b && a > 0);
                    assert_eq!(proof.len(), merkle::consistency_proof_len(a, b));
                }
                let _ = merkle::verify_consistency::<Sha256>(a % 300, b % 300, &proof, &x, &root);
            }
            let _ = tiles::tile_for_node((a % 256) as u8, b, a);
            let _ = tiles::stored_hash_index((a % 256) as u8, b);
            let _ = tiles::split_stored_hash_index(b);
            let _ = tiles::stored_hash_count(a);
        }
        _ => tlog_tree(rest),
    }
}

fn tlog_note(msg: &[u8]) {
    if let Ok(n) = Note::parse(msg) {
        assert_eq!(n.to_text().as_bytes(), msg, "an accepted note prints back to its bytes");
    }
    let key = tlog_signer().verifier().expect("a valid key");
    if let Ok(opened) = note::open(msg, std::slice::from_ref(&key)) {
        assert!(!opened.verified.is_empty());
    }
    if let Ok(c) = checkpoint::open_checkpoint(msg, key.name(), &key) {
        assert_eq!(c.checkpoint.origin, key.name());
        assert_eq!(Checkpoint::parse(&c.note.text).as_ref(), Ok(&c.checkpoint));
    }
}

fn tlog_text(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(c) = Checkpoint::parse(text) {
        assert_eq!(c.to_text(), text, "an accepted checkpoint prints back to its text");
        assert_eq!(c.check(), Ok(()));
    }
    if let Ok(k) = VerifierKey::parse(text) {
        assert_eq!(k.to_string(), text, "an accepted verifier key prints back to its text");
    }
    if let Ok(k) = SignerKey::parse(text) {
        assert_eq!(k.to_secret_string(), text, "an accepted signer key prints back to its text");
    }
    if let Ok(t) = Tile::parse_path(text) {
        assert_eq!(t.path(), text);
    }
    let _ = note::check_key_name(text);
    let _ = note::check_text(text);
}

/// A tree of the entries in `b` (split at `\n`, at most 300): every inclusion and consistency
/// proof it generates verifies, alone and read back from its tiles.
fn tlog_tree(b: &[u8]) {
    let entries: Vec<&[u8]> = b.split(|&c| c == b'\n').take(300).collect();
    let mut tree = MemoryTree::<Sha256>::from_entries(&entries);
    let size = tree.size();
    let root = tree.root();
    assert_eq!(merkle::root::<Sha256, _>(&mut tree, size).ok(), Some(root));
    let mut tile_map = HashMap::new();
    for t in tiles::new_tiles(0, size) {
        let data = tiles::tile_data(&mut tree, &t).expect("a tree has its tiles");
        tile_map.insert(t, data);
    }
    let mut from_tiles = TileNodeSource::new(SliceTiles(&tile_map), size);
    let pick = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
    let index = (pick(0) << 8 | pick(1)) % size.max(1);
    let older = (pick(2) << 8 | pick(3)) % size.max(1) + 1;
    if size > 0 {
        let leaf = Sha256::hash_leaf(entries[index as usize]);
        let proof = merkle::prove_inclusion::<Sha256, _>(&mut tree, index, size).expect("in the tree");
        assert_eq!(merkle::verify_inclusion::<Sha256>(index, size, &leaf, &proof, &root), Ok(()));
        let tiled = merkle::prove_inclusion::<Sha256, _>(&mut from_tiles, index, size).expect("in the tiles");
        assert_eq!(tiled, proof, "a proof from tiles differs");
        assert_eq!(merkle::root::<Sha256, _>(&mut from_tiles, size).ok(), Some(root));
        let old_tree = MemoryTree::<Sha256>::from_entries(&entries[..older as usize]);
        let old_root = old_tree.root();
        let proof = merkle::prove_consistency::<Sha256, _>(&mut tree, older, size).expect("in the tree");
        assert_eq!(merkle::verify_consistency::<Sha256>(older, size, &proof, &old_root, &root), Ok(()));
        let tiled = merkle::prove_consistency::<Sha256, _>(&mut from_tiles, older, size).expect("in the tiles");
        assert_eq!(tiled, proof);
        for level in 0..=8u8 {
            if (1u64 << level) <= size {
                assert_eq!(from_tiles.node(level, 0).ok(), tree.node(level, 0).ok(), "a node from tiles differs");
            }
        }
        for i in 0..size.min(4) {
            let stored = tiles::stored_hash_index(0, i).expect("small");
            assert_eq!(tiles::split_stored_hash_index(stored), Some((0, i)));
        }
        let bundle = tiles::encode_entry_bundle(&entries[..entries.len().min(256)]);
        if let Ok(bundle) = bundle {
            let width = entries.len().min(256) as u16;
            assert_eq!(tiles::decode_entry_bundle(&bundle, width).ok(), Some(entries[..usize::from(width)].to_vec()));
        }
        let cp = Checkpoint::new(tlog_signer().name(), size, root, vec![]).expect("a valid checkpoint");
        let signed = cp.sign(&tlog_signer()).expect("signs");
        let key = tlog_signer().verifier().expect("a valid key");
        let opened = checkpoint::open_checkpoint(signed.as_bytes(), key.name(), &key).expect("opens");
        let proof = merkle::prove_inclusion::<Sha256, _>(&mut tree, index, size).expect("in the tree");
        assert_eq!(opened.checkpoint.verify_inclusion(index, &leaf, &proof), Ok(()));
    }
}
