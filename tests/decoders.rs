//! Every decoder of stored data, fed arbitrary bytes and mutations of valid encodings: each
//! returns `Ok` or `Err`, never panics, and whatever it accepts re-encodes to the same bytes.
//!
//! Short mode (CI): `cargo test --test decoders` (proptest's default 256 cases per property).
//! Long mode: `QLEDGER_SOAK=1 cargo test --release --test decoders -- --ignored` (100,000
//! cases per property; a failure prints the minimal input).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use quotaledger::domain::QuotaState;
use quotaledger::format::chain::{record_hash, ChainCursor};
use quotaledger::format::codec::{self, DecodeError};
use quotaledger::format::head::{HeadSlot, HEAD_SLOT_BYTES};
use quotaledger::format::index_run::{
    decode_footer, digest, page_entries, parse_footer_trailer, parse_run_header, IndexValueV1, PageBuilder,
    FOOTER_TRAILER_BYTES, INDEX_PAGE_BYTES_MAX,
};
use quotaledger::format::record::{RecordV1, WireContext, WireEvent, WireRule};
use quotaledger::format::segment::{
    block_records, check_block, hash_block, parse_block_header, parse_segment_header, segment_header, BlockBuilder,
    BLOCK_HEADER_BYTES,
};
use quotaledger::format::snapshot::{
    decode_snapshot_file, encode_snapshot_file, OrderRowV1, QuotaSnapshotV2, WireLicense, WireParty,
};
use quotaledger::limits::RECORD_BYTES_MAX;

/// Feeds `bytes` to every decoder. Panics only if a decoder panics or accepts a non-canonical
/// encoding.
fn all_decoders(bytes: &[u8]) {
    if let Ok(r) = codec::decode_linked::<RecordV1>(bytes, RECORD_BYTES_MAX) {
        assert_eq!(encode_record(&r), bytes, "an accepted record re-encodes to its bytes");
        let _ = r.to_fact();
        let mut cursor = ChainCursor::genesis();
        let _ = cursor.check(bytes, &record_hash(bytes));
    }
    block_decoders(bytes);
    if let Ok(Some(h)) = HeadSlot::decode(bytes) {
        assert_eq!(&h.encode()[..], bytes);
    }
    let _ = parse_segment_header(bytes);
    let _ = parse_run_header(bytes);
    for format in [1, 2] {
        let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
        if let Ok(entries) = page_entries(format, bytes, &mut buf) {
            assert!(!entries.is_empty());
        }
    }
    if bytes.len() >= FOOTER_TRAILER_BYTES {
        if let Ok((len, crc)) = parse_footer_trailer(&bytes[bytes.len() - FOOTER_TRAILER_BYTES..]) {
            let body = &bytes[..bytes.len() - FOOTER_TRAILER_BYTES];
            let _ = decode_footer(&body[body.len().saturating_sub(len)..], crc, 3);
        }
    }
    if let Ok(inner) = decode_snapshot_file(bytes) {
        assert_eq!(encode_snapshot_file(inner), bytes);
    }
    if let Ok((state, hash)) = QuotaSnapshotV2::decode(bytes) {
        // The state a snapshot decodes to encodes back to the same snapshot.
        assert_eq!(codec::encode(&QuotaSnapshotV2::from_state(&state, hash)), bytes);
        let _: u64 = state.licenses.values().map(|l| l.remaining()).fold(0, u64::wrapping_add);
    }
    if let Ok(o) = codec::decode::<OrderRowV1<String>>(bytes, 1024) {
        assert_eq!(codec::encode(&o), bytes);
        let _ = o.into_row();
    }
    if let Ok(v) = IndexValueV1::decode(bytes) {
        assert_eq!(codec::encode(&v), bytes);
    }
}

/// A block of a segment file: header, checksum, records, chain from its link.
fn block_decoders(bytes: &[u8]) {
    let Some(hb) = bytes.get(..BLOCK_HEADER_BYTES) else { return };
    let hb: &[u8; BLOCK_HEADER_BYTES] = hb.try_into().expect("sliced to size");
    let Ok(header) = parse_block_header(hb) else { return };
    let payload = &bytes[BLOCK_HEADER_BYTES..];
    let _ = check_block(hb, payload);
    let mut hashes = Vec::new();
    let _ = hash_block(&header, payload, &mut hashes);
    if let Ok(records) = block_records(&header, payload) {
        for item in records.take(100_000) {
            let Ok((stored, _)) = item else { break };
            let mut body = stored.to_vec();
            body.extend_from_slice(&header.prev);
            if let Ok(r) = codec::decode_linked::<RecordV1>(&body, RECORD_BYTES_MAX) {
                let _ = r.to_fact();
            }
        }
    }
}

/// A record's canonical bytes: its serde fields, then its link.
fn encode_record(r: &RecordV1) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_linked(r, &mut out);
    out
}

fn record(seq: u64, prev: [u8; 32], event: WireEvent, context: WireContext) -> RecordV1 {
    RecordV1 {
        format: 1,
        seq,
        at_secs: 1_780_000_000 + seq as i64,
        at_nanos: 500,
        actor: "clerk@mofcom".into(),
        key: if seq.is_multiple_of(2) { Some(format!("k-{seq}")) } else { None },
        event,
        context,
        prev,
    }
}

/// Valid encodings of every stored type: records of every event and context kind, a block, a
/// head, a snapshot, index entries and a bucket.
fn valid_encodings() -> Vec<Vec<u8>> {
    let events = vec![
        WireEvent::PartyRegistered {
            party: "bytedance".into(),
            name: "ByteDance Ltd.".into(),
            country: "CN".into(),
            state_backed: false,
            sector: "internet".into(),
        },
        WireEvent::PartyRestricted { party: "cm".into(), reason: "state-backed".into() },
        WireEvent::LicenseGranted {
            license: "L-1".into(),
            authority: "CN-MOFCOM".into(),
            licensee: "bytedance".into(),
            product: "H200".into(),
            quantity: 150_000,
            valid_from: 20_473,
            valid_until: 20_837,
            round: 1,
        },
        WireEvent::ConditionAdded {
            license: "L-1".into(),
            condition: "C1".into(),
            rule: WireRule::BundleRatio { domestic: 1, per: 3 },
            is_final: false,
        },
        WireEvent::ConditionAdded {
            license: "L-1".into(),
            condition: "C2".into(),
            rule: WireRule::MaxPerOrder { units: 9_000 },
            is_final: true,
        },
        WireEvent::ConditionAdded {
            license: "L-1".into(),
            condition: "C3".into(),
            rule: WireRule::EndUse { text: "no military use".into() },
            is_final: true,
        },
        WireEvent::ConditionFinalized { license: "L-1".into(), condition: "C1".into() },
        WireEvent::ConditionWithdrawn { license: "L-1".into(), condition: "C1".into(), reason: "r".into() },
        WireEvent::OrderPlaced {
            order: "O-1".into(),
            license: "L-1".into(),
            quantity: 20_000,
            domestic_quantity: 7_000,
            supplier: "nvidia".into(),
        },
        WireEvent::OrderCancelled { order: "O-1".into(), reason: "r".into() },
        WireEvent::ShipmentRecorded { order: "O-1".into(), quantity: 10_000 },
        WireEvent::QuotaAmended { license: "L-1".into(), quantity: 120_000, reason: "r".into() },
        WireEvent::LicenseSuspended { license: "L-1".into(), reason: "r".into() },
        WireEvent::LicenseReinstated { license: "L-1".into(), reason: "r".into() },
        WireEvent::LicenseRevoked { license: "L-1".into(), reason: "r".into() },
    ];
    let contexts = [
        WireContext::None,
        WireContext::Shipment { license: "L-1".into() },
        WireContext::Cancellation { license: "L-1".into(), quantity_returned: 10_000 },
    ];
    let mut out = Vec::new();
    let mut block = BlockBuilder::new(0, [0; 32]);
    let mut prev = [0u8; 32];
    for (i, e) in events.into_iter().enumerate() {
        let r = record(i as u64, prev, e, contexts[i % 3].clone());
        let body = encode_record(&r);
        let hash = record_hash(&body);
        block.push(&body, &hash);
        prev = hash;
        out.push(body);
    }
    out.push(block.finish(true));
    out.push(
        HeadSlot { generation: 3, records: 15, last_hash: prev, segment_first_seq: 0, segment_len: 999 }
            .encode()
            .to_vec(),
    );
    out.push(segment_header(15).to_vec());
    let snap = QuotaSnapshotV2 {
        format: 2,
        records: 15,
        last_hash: prev,
        last_at: Some((1_780_000_000, 5)),
        last_recorded_at: Some((1_780_000_100, 0)),
        rounds: vec![("CN-MOFCOM".into(), 1, "H200".into(), 400_000, true)],
        policies: vec![],
        caps: vec![("CN-MOFCOM".into(), "H200".into(), 200_000)],
        held: vec![],
        late_entries: 0,
        refusals: 1,
        parties: vec![(
            "bytedance".into(),
            WireParty {
                name: "ByteDance".into(),
                country: "CN".into(),
                state_backed: false,
                sector: "internet".into(),
                restricted: false,
            },
        )],
        licenses: vec![(
            "L-1".into(),
            WireLicense {
                authority: "CN-MOFCOM".into(),
                licensee: "bytedance".into(),
                product: "H200".into(),
                round: 1,
                status: 1,
                quantity: 150_000,
                ordered: 10_000,
                held: 0,
                shipped: 5_000,
                shipments: 1,
                valid_from: 20_473,
                valid_until: 20_837,
                granted_at: (1_768_870_800, 0),
                conditions: vec![
                    ("C1".into(), WireRule::BundleRatio { domestic: 1, per: 3 }, 1),
                    ("C2".into(), WireRule::Reporting { text: "monthly".into() }, 2),
                ],
            },
        )],
    };
    out.push(codec::encode(&snap));
    out.push(codec::encode(&QuotaSnapshotV2::from_state(&QuotaState::default(), [0; 32])));
    let row: OrderRowV1 = OrderRowV1 { license: "L-1".into(), quantity: 20_000, shipped: 10_000, cancelled: false };
    out.push(codec::encode(&row));
    out.push(codec::encode(&IndexValueV1::Key { seq: 7, event: [7; 8] }));
    let mut page = PageBuilder::default();
    let mut ds = [digest(b'o', "O-1"), digest(b'k', "K-1")];
    ds.sort();
    let (order, key) =
        (codec::encode(&IndexValueV1::Order(row)), codec::encode(&IndexValueV1::Key { seq: 1, event: [1; 8] }));
    page.push(&ds[0], &order);
    page.push(&ds[1], &key);
    out.push(page.take().0);
    out.push(encode_snapshot_file(&out[18]));
    out
}

#[test]
fn the_valid_encodings_decode() {
    let v = valid_encodings();
    for body in &v[..15] {
        let r: RecordV1 = codec::decode_linked(body, RECORD_BYTES_MAX).expect("valid record");
        r.to_fact().expect("valid fact");
    }
    let hb: &[u8; BLOCK_HEADER_BYTES] = v[15][..BLOCK_HEADER_BYTES].try_into().unwrap();
    let header = parse_block_header(hb).unwrap();
    check_block(hb, &v[15][BLOCK_HEADER_BYTES..]).unwrap();
    let mut hashes = Vec::new();
    hash_block(&header, &v[15][BLOCK_HEADER_BYTES..], &mut hashes).unwrap();
    assert_eq!(hashes.len(), 15);
    assert!(HeadSlot::decode(&v[16]).unwrap().is_some());
    assert_eq!(parse_segment_header(&v[17]), Ok(15));
    let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
    assert!(page_entries(2, &v[22], &mut buf).is_ok());
    assert!(decode_snapshot_file(&v[23]).is_ok());
    QuotaSnapshotV2::decode(&v[18]).unwrap();
    QuotaSnapshotV2::decode(&v[19]).unwrap();
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Append(Vec<u8>),
    /// Overwrite 9 bytes with a varint claiming a huge length (u64 prefix 253).
    HugeLength(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        any::<usize>().prop_map(Mutation::HugeLength),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len().max(1);
    match m {
        Mutation::Flip(i, b) => {
            if !bytes.is_empty() {
                bytes[i % n] ^= b;
            }
        }
        Mutation::Set(i, b) => {
            if !bytes.is_empty() {
                bytes[i % n] = *b;
            }
        }
        Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), *b),
        Mutation::Remove(i) => {
            if !bytes.is_empty() {
                bytes.remove(i % n);
            }
        }
        Mutation::Truncate(i) => bytes.truncate(i % n),
        Mutation::Append(extra) => bytes.extend_from_slice(extra),
        Mutation::HugeLength(i) => {
            let at = i % n;
            let mut huge = vec![253u8];
            huge.extend_from_slice(&(u64::MAX / 3).to_le_bytes());
            for (k, b) in huge.into_iter().enumerate() {
                if at + k < bytes.len() {
                    bytes[at + k] = b;
                } else {
                    bytes.push(b);
                }
            }
        }
    }
}

fn mutated(which: usize, ms: &[Mutation]) -> Vec<u8> {
    let valid = valid_encodings();
    let mut bytes = valid[which % valid.len()].clone();
    for m in ms {
        apply(&mut bytes, m);
    }
    bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_decoders(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_block_header_never_panic(
        count in any::<u32>(),
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = vec![1u8, 0, 0, 0];
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&rest);
        all_decoders(&bytes);
        let mut slot = vec![0u8; HEAD_SLOT_BYTES];
        slot[..8].copy_from_slice(b"qledhead");
        let n = rest.len().min(HEAD_SLOT_BYTES - 8);
        slot[8..8 + n].copy_from_slice(&rest[..n]);
        all_decoders(&slot);
    }

    #[test]
    fn mutated_valid_encodings_never_panic(
        which in 0usize..32,
        ms in proptest::collection::vec(mutation(), 1..4),
    ) {
        all_decoders(&mutated(which, &ms));
    }
}

#[test]
fn hostile_length_prefixes_are_refused_without_allocating() {
    // A record whose actor claims u64::MAX / 3 bytes, a block claiming 4 billion records, a
    // snapshot claiming 2^60 parties: each an error, at once.
    let mut r = vec![1u8, 0, 0, 0, 253];
    r.extend_from_slice(&(u64::MAX / 3).to_le_bytes());
    assert!(codec::decode_linked::<RecordV1>(&r, RECORD_BYTES_MAX).is_err());
    let mut s = vec![1u8, 0];
    s.extend_from_slice(&[0; 32]);
    s.push(0);
    s.push(253);
    s.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(QuotaSnapshotV2::decode(&s).is_err());
    // A block header claiming 4 billion records in a small payload.
    let mut b = vec![1u8, 0, 0, 0];
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&100u32.to_le_bytes());
    b.extend_from_slice(&[0; 36]);
    let hb: &[u8; BLOCK_HEADER_BYTES] = b[..].try_into().unwrap();
    assert!(parse_block_header(hb).is_err());
    let mut huge = b.clone();
    huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let hb: &[u8; BLOCK_HEADER_BYTES] = huge[..].try_into().unwrap();
    assert!(matches!(parse_block_header(hb), Err(DecodeError::TooLarge { .. })));
}

#[test]
#[ignore = "soak: run with `cargo test --release --test decoders -- --ignored`"]
fn soak_decoders() {
    let mut runner = TestRunner::new(Config { cases: 100_000, ..Config::default() });
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..4096), |bytes| {
            all_decoders(&bytes);
            Ok(())
        })
        .unwrap();
    runner
        .run(&(0usize..32, proptest::collection::vec(mutation(), 1..6)), |(which, ms)| {
            all_decoders(&mutated(which, &ms));
            Ok(())
        })
        .unwrap();
    eprintln!("decoders soak: 200,000 inputs, no panic");
}

/// Found by the `index_run` fuzz target (in its first second): a run whose page table puts a
/// page at an offset near `u64::MAX` made `Run` overflow `offset + len` when it checked the
/// page lies in the file (a panic in debug builds; in release a wrapped bound, then an I/O
/// error, exit 4). Both checks (the page table read whole, and one entry read for a lookup)
/// now report it as damage, like any other page outside the file. The footer's checksum is
/// crc32c, which anyone can recompute, and a lookup reads a page table entry without it.
#[test]
fn an_index_run_page_at_an_offset_near_u64_max_is_damage() {
    use quotaledger::format::index_run::{encode_footer, run_header, Bloom, PageRef, RUN_FORMAT};
    use quotaledger::store::index::Run;
    use quotaledger::store::StoreError;
    let mut page = PageBuilder::default();
    let d = digest(b'k', "K-1");
    page.push(&d, &codec::encode(&IndexValueV1::Key { seq: 1, event: [1; 8] }));
    let (page, first) = page.take();
    let mut bloom = Bloom::with_entries(1);
    bloom.insert(&d);
    let damage = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Damaged { .. }));
    for offset in [u64::MAX - 10, u64::MAX - page.len() as u64 + 1, u64::MAX] {
        let refs = [PageRef { first, offset, len: page.len() as u32, crc: crc32c::crc32c(&page) }];
        let mut run = run_header(RUN_FORMAT, 1, 1).to_vec();
        run.extend_from_slice(&page);
        run.extend_from_slice(&encode_footer(&refs, &bloom));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0000000000000000.qidx"), &run).unwrap();
        let opened = Run::open(dir.path(), 0);
        if let Ok(r) = &opened {
            assert!(damage(r.get(&d).map(drop)), "a lookup at offset {offset}");
            assert!(damage(r.iter().next().expect("an entry or an error").map(drop)), "iterating at offset {offset}");
        } else {
            assert!(damage(opened.map(drop)), "opening at offset {offset}");
        }
        quotaledger::fuzzing::index_run(&run);
    }
    // The fuzzer's input, minimized (378 to 94 bytes): a lookup reads the entry of page 0.
    let found = include_bytes!("../fuzz/corpus/index_run/seed-regress-page-offset-near-u64-max.qidx");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0000000000000000.qidx"), found).unwrap();
    let run = Run::open(dir.path(), 0).expect("the header and trailer are valid");
    assert!(damage(run.get(&[0; 12]).map(drop)));
    quotaledger::fuzzing::index_run(found);
}

/// Found while extending the `segment` fuzz target to `store::segment::BlockReader`: a block
/// whose checksum fails is reported at the first record whose hash differs from its locator,
/// `first_seq + index`, which overflowed (a panic in debug builds) for a block starting near
/// `u64::MAX` (a segment header's checksum is crc32c, which anyone can recompute). It is damage.
#[test]
fn a_damaged_block_near_u64_max_is_damage() {
    use quotaledger::format::segment::{segment_header, BlockBuilder};
    use quotaledger::store::disk::{Disk, SimDisk};
    use quotaledger::store::segment::{segment_name, BlockReader};
    use quotaledger::store::StoreError;
    use std::path::Path;
    use std::sync::Arc;
    let first = u64::MAX - 1;
    let mut block = BlockBuilder::new(first, [0; 32]);
    let mut prev = [0u8; 32];
    for i in 0..3u8 {
        let mut body = vec![i; 40];
        body.extend_from_slice(&prev);
        let hash = record_hash(&body);
        block.push(&body, &hash);
        prev = hash;
    }
    let mut seg = segment_header(first).to_vec();
    seg.extend_from_slice(&block.finish(true));
    let last = seg.len() - 1;
    seg[last] ^= 1; // the third record's bytes: checksum and its locator fail
    let disk = SimDisk::new();
    let dir = Path::new("/l/segments");
    disk.create_dir(Path::new("/l")).unwrap();
    disk.create_dir(dir).unwrap();
    disk.create_new(&dir.join(segment_name(first))).unwrap().write_all_at(&seg, 0).unwrap();
    let mut reader = BlockReader::new(Arc::new(disk), dir, first, u64::MAX).unwrap();
    match reader.next() {
        Some(Err(StoreError::Damaged { .. })) => {}
        other => panic!("{other:?}"),
    }
    quotaledger::fuzzing::segment(&seg);
}

/// Fuzzing finding (`snapshot`, 2026-11-30, after 53,670 executions; minimized to 56 bytes,
/// `fuzz/corpus/snapshot/seed-regress-policy-exemption-repeated.snap`): a snapshot whose policy
/// listed an exemption twice (or out of order) decoded, to a state whose exemptions are a set,
/// which re-encodes to other bytes: two encodings of one state. They must be sorted and unique.
#[test]
fn a_snapshot_whose_policy_lists_an_exemption_twice_is_refused() {
    use quotaledger::format::snapshot::WirePolicy;
    let policy = |exemptions: &[&str]| WirePolicy {
        authority: "CN-MOFCOM".into(),
        product: "H200".into(),
        deny_state_backed: true,
        deny_sectors: vec!["telecom".into()],
        reason: "r".into(),
        lifted: false,
        exemptions: exemptions.iter().map(|e| e.to_string()).collect(),
    };
    let mut w = QuotaSnapshotV2::from_state(&QuotaState::default(), [0; 32]);
    for (exemptions, ok) in [
        (&["a", "b"][..], true),
        (&[][..], true),
        (&["a", "a"][..], false),
        (&["b", "a"][..], false),
        (&["", "", "", ""][..], false),
    ] {
        w.policies = vec![("P-1".into(), policy(exemptions))];
        let bytes = codec::encode(&w);
        match QuotaSnapshotV2::decode(&bytes) {
            Ok((state, hash)) => {
                assert!(ok, "exemptions {exemptions:?} decode");
                assert_eq!(codec::encode(&QuotaSnapshotV2::from_state(&state, hash)), bytes);
            }
            Err(e) => assert!(!ok && matches!(e, DecodeError::Invalid(_)), "exemptions {exemptions:?}: {e}"),
        }
        quotaledger::fuzzing::snapshot(&bytes);
    }
    let found = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/snapshot/seed-regress-policy-exemption-repeated.snap"
    ))
    .expect("the minimized input");
    assert!(QuotaSnapshotV2::decode(&found).is_err());
    quotaledger::fuzzing::snapshot(&found);
}
