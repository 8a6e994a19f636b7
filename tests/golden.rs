//! Golden vectors: the exact canonical bytes and BLAKE3 record hashes of fixed records, a head
//! and a block, plus the `qledger export` of the H200 story as a fixture. Any change to the
//! encoding, the field order, the hash context or the framing fails here.
//!
//! The constants were computed once by running the code, then checked by hand against the
//! bincode 2 `standard()` layout documented in src/format/codec.rs (see the decoding of the
//! first vector below) and, independently, against `blake3::derive_key`.

use quotaledger::domain::{Day, Timestamp};
use quotaledger::format::chain::{record_hash, ChainCursor, GENESIS_PREV, RECORD_HASH_CONTEXT};
use quotaledger::format::codec::{self, DecodeError};
use quotaledger::format::head::HeadSlot;
use quotaledger::format::index_run::{
    digest, encode_footer, parse_footer_trailer, parse_run_header, run_header, Bloom, Digest, IndexValueV1,
    PageBuilder, PageBuilderV1, PageRef, FOOTER_TRAILER_BYTES, RUN_HEADER_BYTES, VALUES_LZ4, VALUES_STORED,
};
use quotaledger::format::record::{Record, RecordV1, RecordV2, WireContext, WireEvent, WireRule};
use quotaledger::format::segment::{
    block_records, hash_block, parse_block_header, segment_header, BlockBuilder, BLOCK_HEADER_BYTES,
};
use quotaledger::format::snapshot::OrderRowV2;
use quotaledger::limits::RECORD_BYTES_MAX;
use quotaledger::store::index::{write_run, Run};
use std::path::Path;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn day(text: &str) -> i32 {
    Day::parse(text).unwrap().0
}

/// A record's canonical bytes: its serde fields, then the 32 bytes of its link.
fn linked<T: codec::Linked>(r: &T) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_linked(r, &mut out);
    out
}

fn record(seq: u64, at_text: &str, actor: &str, key: Option<&str>, event: WireEvent, context: WireContext) -> RecordV1 {
    let t = at(at_text);
    RecordV1 {
        format: 1,
        seq,
        at_secs: t.secs,
        at_nanos: t.nanos,
        actor: actor.into(),
        key: key.map(Into::into),
        event,
        context,
        prev: GENESIS_PREV,
    }
}

/// A chain of fixed records, seq 0..=7, each linked to the hash of the one before.
fn chain() -> Vec<RecordV1> {
    let l1 = || "CN-IMP-2026-0001".to_string();
    let mut records = vec![
        // The story's first record (seq 0 of examples/h200.jsonl).
        record(
            0,
            "2026-01-14T02:00:00Z",
            "clerk@mofcom",
            None,
            WireEvent::PartyRegistered {
                party: "bytedance".into(),
                name: "ByteDance Ltd.".into(),
                country: "CN".into(),
                state_backed: false,
                sector: "internet".into(),
            },
            WireContext::None,
        ),
        // A key, fractional seconds, dates as day numbers.
        record(
            1,
            "2026-01-20T01:00:00.25Z",
            "approver@mofcom",
            Some("grant-bytedance-r1"),
            WireEvent::LicenseGranted {
                license: l1(),
                authority: "CN-MOFCOM".into(),
                licensee: "bytedance".into(),
                product: "H200".into(),
                quantity: 150_000,
                valid_from: day("2026-01-20"),
                valid_until: day("2027-01-19"),
                round: 1,
            },
            WireContext::None,
        ),
        record(
            2,
            "2026-01-20T01:10:00Z",
            "approver@mofcom",
            None,
            WireEvent::ConditionAdded {
                license: l1(),
                condition: "C1".into(),
                rule: WireRule::BundleRatio { domestic: 1, per: 3 },
                is_final: false,
            },
            WireContext::None,
        ),
        // Non-ASCII text (UTF-8 bytes, length in bytes).
        record(
            3,
            "2026-01-20T01:11:00Z",
            "approver@mofcom",
            None,
            WireEvent::ConditionAdded {
                license: l1(),
                condition: "C2".into(),
                rule: WireRule::EndUse { text: "数据中心 only".into() },
                is_final: true,
            },
            WireContext::None,
        ),
        record(
            4,
            "2026-02-03T06:00:00Z",
            "buyer@bytedance",
            Some("po-bd-0001"),
            WireEvent::OrderPlaced {
                order: "O-BD-1".into(),
                license: l1(),
                quantity: 40_000,
                domestic_quantity: 14_000,
                supplier: "nvidia".into(),
            },
            WireContext::None,
        ),
        record(
            5,
            "2026-02-20T09:00:00Z",
            "officer@customs",
            None,
            WireEvent::ShipmentRecorded { order: "O-BD-1".into(), quantity: 20_000 },
            WireContext::Shipment { license: l1() },
        ),
        record(
            6,
            "2026-02-25T05:00:00Z",
            "buyer@bytedance",
            None,
            WireEvent::OrderCancelled { order: "O-BD-1".into(), reason: "withdrawn".into() },
            WireContext::Cancellation { license: l1(), quantity_returned: 20_000 },
        ),
        record(
            7,
            "2026-03-05T02:00:00Z",
            "inspector@mofcom",
            None,
            WireEvent::LicenseRevoked { license: l1(), reason: "breach".into() },
            WireContext::None,
        ),
    ];
    let mut prev = GENESIS_PREV;
    for r in &mut records {
        r.prev = prev;
        prev = record_hash(&linked(r));
    }
    records
}

/// A record with every varint width: seq 300 (u16), quantities past u16, u32 and a negative
/// (zig-zag) day, and a u64 near its maximum.
fn wide() -> RecordV1 {
    let mut r = record(
        300,
        "2026-06-01T00:00:00.000000001Z",
        "a",
        Some("k"),
        WireEvent::QuotaAmended { license: "L".into(), quantity: u64::MAX - 1, reason: "r".into() },
        WireContext::None,
    );
    r.prev = [0xab; 32];
    r
}

/// The canonical bytes of `chain()`.
///
/// Vector 0, decoded by hand (bincode 2 `standard()`: little-endian, varints: < 251 in one
/// byte, 251/252/253 prefix a u16/u32/u64; signed integers zig-zag first; strings as a varint
/// length then UTF-8; `Option` as 0/1; enum variants as a varint index; `[u8; 32]` as bytes):
/// ```text
/// 01                         format = 1 (u8, one raw byte)
/// 00                         seq = 0
/// fc 40 f1 cd d2             at_secs: u32 follows, 0xd2cdf140 = 3536712000 = zigzag(1768356000);
///                            1768356000 = (20467 days * 86400) + 7200 = 2026-01-14T02:00:00Z
///                            (2026-01-01 is day 56*365 + 14 leap days = 20454; +13 = 20467)
/// 00                         at_nanos = 0
/// 0c 636c65726b406d6f66636f6d   actor: 12 bytes "clerk@mofcom"
/// 00                         key = None
/// 00                         event: variant 0 = PartyRegistered
/// 09 6279746564616e6365      party "bytedance" (9)
/// 0e 4279746544616e6365204c74642e   name "ByteDance Ltd." (14)
/// 02 434e                    country "CN"
/// 00                         state_backed = false
/// 08 696e7465726e6574        sector "internet"
/// 00                         context: variant 0 = None
/// 00 x 32                    prev = genesis (32 zero bytes, no length prefix)
/// ```
/// 94 bytes in all. Vector 1 shows the other widths: nanos 250000000 = `fc 80b2e60e`,
/// quantity 150000 = `fc f0490200`, valid_from day 20473 (2026-01-20) zig-zagged to 40946 =
/// `fb f29f`, valid_until day 20837 (2027-01-19, 364 days later) = 41674 = `fb caa2`; event
/// variant indices: 2 LicenseGranted, 3 ConditionAdded, 6 OrderPlaced, 8 ShipmentRecorded,
/// 7 OrderCancelled, 12 LicenseRevoked; context 1 Shipment, 2 Cancellation; bundle_ratio is rule
/// variant 0, end_use 2.
const CHAIN_HEX: [&str; 8] = [
    "0100fc40f1cdd2000c636c65726b406d6f66636f6d0000096279746564616e63650e4279746544616e6365204c74642e02434e0008696e7465726e6574000000000000000000000000000000000000000000000000000000000000000000",
    "0101fc20a7ddd2fc80b2e60e0f617070726f766572406d6f66636f6d01126772616e742d6279746564616e63652d72310210434e2d494d502d323032362d3030303109434e2d4d4f46434f4d096279746564616e63650448323030fcf0490200fbf29ffbcaa20100f658e382dde3c1fd8987fea80a9f462cacf07d3208fca981b8e3ddbc9759bd3a",
    "0102fcd0abddd2000f617070726f766572406d6f66636f6d000310434e2d494d502d323032362d30303031024331000103000061a1aecfb1593cce86dc92a110729467390575a6ddfc55d185e7a82832c0bfba",
    "0103fc48acddd2000f617070726f766572406d6f66636f6d000310434e2d494d502d323032362d303030310243320211e695b0e68daee4b8ade5bf83206f6e6c790100bfbe797f34a5bd962f814e2904726dbcb2b17b8d6c508ecd56fd7ede8a753aa5",
    "0104fcc01d03d3000f6275796572406279746564616e6365010a706f2d62642d3030303106064f2d42442d3110434e2d494d502d323032362d30303031fb409cfbb036066e76696469610064673ec39d4ac92c50d378c849456ea46eb146022d0e2812ca57ec7d0839f2a0",
    "0105fc204530d3000f6f66666963657240637573746f6d730008064f2d42442d31fb204e0110434e2d494d502d323032362d303030310f003e6479775be167e9dc4d52f8bb9e3e1c4d1a9375510201e52004c6a86b2f",
    "0106fca0033dd3000f6275796572406279746564616e63650007064f2d42442d310977697468647261776e0210434e2d494d502d323032362d30303031fb204e128ceb69f5fc885d30bd4a5bb8aa3f07943ce5fe295dc1166209dac47c62549c",
    "0107fc40c751d30010696e73706563746f72406d6f66636f6d000c10434e2d494d502d323032362d3030303106627265616368008b41e1031c5be2f0134a319c9a1c84b1eeb7b251a84d68be51fee1891cd58b99",
];

/// The BLAKE3 `derive_key` record hashes of `chain()`.
const CHAIN_HASH: [&str; 8] = [
    "f658e382dde3c1fd8987fea80a9f462cacf07d3208fca981b8e3ddbc9759bd3a",
    "61a1aecfb1593cce86dc92a110729467390575a6ddfc55d185e7a82832c0bfba",
    "bfbe797f34a5bd962f814e2904726dbcb2b17b8d6c508ecd56fd7ede8a753aa5",
    "64673ec39d4ac92c50d378c849456ea46eb146022d0e2812ca57ec7d0839f2a0",
    "0f003e6479775be167e9dc4d52f8bb9e3e1c4d1a9375510201e52004c6a86b2f",
    "128ceb69f5fc885d30bd4a5bb8aa3f07943ce5fe295dc1166209dac47c62549c",
    "8b41e1031c5be2f0134a319c9a1c84b1eeb7b251a84d68be51fee1891cd58b99",
    "0ab36e4dd3f7d6b33a177776b8bdd0a92c55c3366afc87e2835dbc76a9b60e66",
];

/// `wide()`, by hand: 01 format | fb 2c01 seq 300 | fc 009739d4 at_secs zigzag 3560544000 =
/// 1780272000 = day 20605 (2026-06-01) * 86400 | 01 nanos 1 | 01 61 actor "a" | 01 01 6b key
/// Some("k") | 09 QuotaAmended | 01 4c "L" | fd feffffffffffffff u64::MAX - 1 | 01 72 "r" |
/// 00 context None | ab x 32 prev.
const WIDE_HEX: &str = "01fb2c01fc009739d401016101016b09014cfdfeffffffffffffff017200abababababababababababababababababababababababababababababababab";
const WIDE_HASH: &str = "145d852a11d08759e18add44974cd660517eb097ea75ae960f5408b231219b80";

#[test]
fn records_encode_to_the_frozen_bytes_and_hashes() {
    for (i, r) in chain().iter().enumerate() {
        let bytes = linked(r);
        assert_eq!(hex(&bytes), CHAIN_HEX[i], "vector {i}: the encoding changed");
        assert_eq!(hex(&record_hash(&bytes)), CHAIN_HASH[i], "vector {i}: the hash changed");
    }
    let bytes = linked(&wide());
    assert_eq!(hex(&bytes), WIDE_HEX);
    assert_eq!(hex(&record_hash(&bytes)), WIDE_HASH);
}

#[test]
fn vector_zero_has_the_hand_decoded_layout() {
    let b = unhex(CHAIN_HEX[0]);
    assert_eq!(b.len(), 94);
    assert_eq!(&b[..2], &[0x01, 0x00]);
    // at_secs: 0xfc then a u32 little-endian, zig-zag encoded (even: non-negative).
    assert_eq!(b[2], 0xfc);
    let zz = u32::from_le_bytes([b[3], b[4], b[5], b[6]]);
    assert_eq!(i64::from(zz / 2), at("2026-01-14T02:00:00Z").secs);
    assert_eq!(i64::from(zz / 2), 20_467 * 86_400 + 2 * 3_600);
    assert_eq!(b[7], 0); // nanos
    assert_eq!(b[8] as usize, "clerk@mofcom".len());
    assert_eq!(&b[9..21], b"clerk@mofcom");
    assert_eq!(&b[21..23], &[0, 0]); // key None, variant PartyRegistered
    assert_eq!(b[23], 9);
    assert_eq!(&b[24..33], b"bytedance");
    assert_eq!(&b[b.len() - 32..], &[0u8; 32]); // prev: genesis, no length prefix
    assert_eq!(b[b.len() - 33], 0); // context None
}

#[test]
fn hashes_are_blake3_derive_key_with_the_frozen_context() {
    assert_eq!(RECORD_HASH_CONTEXT, "quotaledger 2026-11-28 record hash v1");
    for (i, h) in CHAIN_HEX.iter().enumerate() {
        let expected = blake3::derive_key("quotaledger 2026-11-28 record hash v1", &unhex(h));
        assert_eq!(hex(&expected), CHAIN_HASH[i]);
        // Not plain BLAKE3, not keyed by something else.
        assert_ne!(hex(blake3::hash(&unhex(h)).as_bytes()), CHAIN_HASH[i]);
    }
    // The first vector is the story's first record: same hash as the fixture's seq 0.
    let fixture = std::fs::read_to_string(fixture_path()).unwrap();
    let first: serde_json::Value = serde_json::from_str(fixture.lines().next().unwrap()).unwrap();
    assert_eq!(first["bytes"], CHAIN_HEX[0]);
    assert_eq!(first["hash"], CHAIN_HASH[0]);
}

#[test]
fn the_frozen_bytes_decode_back_and_chain() {
    let mut cursor = ChainCursor::genesis();
    for (i, r) in chain().iter().enumerate() {
        let bytes = unhex(CHAIN_HEX[i]);
        let decoded: RecordV1 = codec::decode_linked(&bytes, RECORD_BYTES_MAX).unwrap();
        assert_eq!(&decoded, r);
        // Each links to the hash of the one before (vector 0 to the genesis zeros).
        let prev = if i == 0 { [0u8; 32] } else { unhex(CHAIN_HASH[i - 1]).try_into().unwrap() };
        assert_eq!(decoded.prev, prev);
        let hash: [u8; 32] = unhex(CHAIN_HASH[i]).try_into().unwrap();
        assert_eq!(cursor.check(&bytes, &hash).unwrap(), Record::V1(decoded.clone()));
        // Every vector is a valid fact, within the input limits.
        decoded.to_fact().unwrap();
    }
    let wide: RecordV1 = codec::decode_linked(&unhex(WIDE_HEX), RECORD_BYTES_MAX).unwrap();
    assert_eq!(wide, self::wide());
    // Strict: a trailing byte, or a varint written wider than needed, is refused.
    let mut longer = unhex(CHAIN_HEX[0]);
    longer.push(0);
    assert_eq!(
        codec::decode_linked::<RecordV1>(&longer, RECORD_BYTES_MAX),
        Err(DecodeError::TrailingBytes { trailing: 1 })
    );
    // seq 0 written as a u16 (fb 0000) instead of one byte.
    let mut wider = vec![0x01, 0xfb, 0x00, 0x00];
    wider.extend_from_slice(&unhex(CHAIN_HEX[0])[2..]);
    assert_eq!(codec::decode_linked::<RecordV1>(&wider, RECORD_BYTES_MAX), Err(DecodeError::NotCanonical));
}

#[test]
fn the_commit_point_slot_has_the_frozen_bytes() {
    let slot = HeadSlot {
        generation: 1,
        records: 31,
        last_hash: unhex(CHAIN_HASH[7]).try_into().unwrap(),
        segment_first_seq: 0,
        segment_len: 4242,
    };
    let bytes = slot.encode();
    // magic | format 1 | 7 zeros | generation LE | records LE | last_hash | segment first seq LE
    // | segment length LE (4242 = 0x1092) | 32 zeros | checksum (16 bytes of BLAKE3 derive_key).
    let body = format!(
        "716c656468656164{}{}{}{}{}{}{}",
        "0100000000000000",
        "0100000000000000",
        "1f00000000000000",
        CHAIN_HASH[7],
        "0000000000000000",
        "9210000000000000",
        "00".repeat(32)
    );
    assert_eq!(hex(&bytes[..112]), body);
    assert_eq!(hex(&bytes[112..]), HEAD_CHECKSUM);
    let sum = blake3::derive_key("quotaledger 2026-11-29 head slot v1", &bytes[..112]);
    assert_eq!(&sum[..16], &bytes[112..]);
    assert_eq!(HeadSlot::decode(&bytes), Ok(Some(slot)));
}

const HEAD_CHECKSUM: &str = "06305067e843f2238d4f575cb4f004fe";
const BLOCK_CRC: &str = "15efb1d4";
const SEGMENT_HEADER_HEX: &str = "716c6564677365670100000000000000000000000000000015c0471400000000";
const DIGEST_O1: &str = "848eea10478a57aa60b90c24";

#[test]
fn a_segment_header_and_a_block_have_the_frozen_framing() {
    assert_eq!(hex(&segment_header(0)), SEGMENT_HEADER_HEX);
    let mut b = BlockBuilder::new(0, [0; 32]);
    for i in 0..2 {
        b.push(&unhex(CHAIN_HEX[i]), &unhex(CHAIN_HASH[i]).try_into().unwrap());
    }
    let bytes = b.finish(true);
    // Record 0 is 94 bytes (62 stored), record 1 is 136 (104 stored): the payload is the two
    // locators, the two lengths (u16 LE) and the stored bytes, each record less its final prev.
    let stored = |i: usize| {
        let r = unhex(CHAIN_HEX[i]);
        hex(&r[..r.len() - 32])
    };
    let payload =
        format!("{}{}{}{}{}{}", &CHAIN_HASH[0][..16], &CHAIN_HASH[1][..16], "3e00", "6800", stored(0), stored(1));
    let header = format!(
        "01010000{}{}{}{}{}",
        "02000000",
        "0000000000000000",
        format!("{:08x}", (payload.len() / 2) as u32)
            .as_bytes()
            .chunks(2)
            .rev()
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<String>(),
        "00".repeat(32),
        BLOCK_CRC
    );
    assert_eq!(hex(&bytes), format!("{header}{payload}"));
    let hb: &[u8; BLOCK_HEADER_BYTES] = bytes[..BLOCK_HEADER_BYTES].try_into().unwrap();
    let h = parse_block_header(hb).unwrap();
    let mut hashes = Vec::new();
    hash_block(&h, &bytes[BLOCK_HEADER_BYTES..], &mut hashes).unwrap();
    assert_eq!(hex(&hashes[1]), CHAIN_HASH[1]);
    assert_eq!(block_records(&h, &bytes[BLOCK_HEADER_BYTES..]).unwrap().count(), 2);
}

#[test]
fn index_digests_are_frozen() {
    assert_eq!(hex(&digest(b'o', "O-1")), DIGEST_O1);
    assert_eq!(&digest(b'o', "O-1")[..], &blake3::derive_key("quotaledger 2026-11-29 index key v1", b"oO-1")[..12]);
}

/// The entries of the pinned format 2 run: three order rows on one license and two keys.
fn golden_index_entries() -> Vec<(Digest, Vec<u8>)> {
    let order = |quantity: u64, placed: i64| {
        codec::encode(&IndexValueV1::Order2(OrderRowV2 {
            licenses: vec!["CN-IMP-2026-0001".into()],
            quantity,
            shipped: 0,
            status: 0,
            placed_at: Some(placed),
        }))
    };
    // An event digest's first bytes: nothing LZ4 finds a match in.
    let event = |key: &str| -> [u8; 8] { digest(b'e', key)[..8].try_into().unwrap() };
    let mut entries = vec![
        (digest(b'o', "O-1"), order(500, 1_767_225_600)),
        (digest(b'o', "O-2"), order(16, 1_767_225_660)),
        (digest(b'o', "O-3"), order(2_000, 1_767_225_720)),
        (digest(b'k', "K-1"), codec::encode(&IndexValueV1::Key { seq: 1, event: event("K-1") })),
        (digest(b'k', "K-2"), codec::encode(&IndexValueV1::Key { seq: 70_000, event: event("K-2") })),
    ];
    entries.sort();
    entries
}

/// The run's one page with its values stored as they are: count, the digests (each as the
/// bytes it shares with the one before and the rest), the values' lengths, `0`, the values.
const INDEX_PAGE_STORED_HEX: &str = "05004a00000150898ce1fc769ab02fedc200133a0feb04b81c0a52cc560f004cbbc54e4ffb4d036657ac1500848eea10478a57aa60b90c2400c55c80745285313e218ef4bb0e0a1c1e1e0001fc70110100a8af2afa44f25c1001013254ed1736add60b020110434e2d494d502d323032362d3030303110000001fc7872abd2020110434e2d494d502d323032362d30303031fbf401000001fc0072abd2020110434e2d494d502d323032362d30303031fbd007000001fcf072abd2";
/// The whole run file as this version writes it: header (run format 2), the page with its
/// values compressed (LZ4), the footer (page table, Bloom filter, trailer).
const INDEX_RUN_HEX: &str = "716c65646769647802000000000000000500000000000000010000000000000005004a00000150898ce1fc769ab02fedc200133a0feb04b81c0a52cc560f004cbbc54e4ffb4d036657ac1500848eea10478a57aa60b90c2400c55c80745285313e218ef4bb0e0a1c1e1e01ff2501fc70110100a8af2afa44f25c1001013254ed1736add60b020110434e2d494d502d323032362d3030303110000001fc7872abd21c00008ffbf401000001fc001e0004a0d007000001fcf072abd20150898ce1fc769ab02fedc220000000000000009b000000a38d90960800000007ba198e2bd55c8242290000004bfa92b5716c656467696478";
/// The page of a run of the two keys alone: their values do not compress, and are stored.
const INDEX_KEYS_PAGE_HEX: &str = "02002000000150898ce1fc769ab02fedc200133a0feb04b81c0a52cc560f0e0a0001fc70110100a8af2afa44f25c1001013254ed1736add60b";

/// The page of run `id` in `dir`, a run of one page.
fn only_page(dir: &Path, id: u64) -> Vec<u8> {
    let bytes = std::fs::read(dir.join(format!("{id:016x}.qidx"))).unwrap();
    let (footer_len, _) = parse_footer_trailer(&bytes[bytes.len() - FOOTER_TRAILER_BYTES..]).unwrap();
    bytes[RUN_HEADER_BYTES..bytes.len() - FOOTER_TRAILER_BYTES - footer_len].to_vec()
}

#[test]
fn an_index_run_has_the_frozen_format_2_framing() {
    let dir = tempfile::tempdir().unwrap();
    let entries = golden_index_entries();
    let run = write_run(dir.path(), 0, 5, entries.clone().into_iter().map(Ok)).unwrap();
    let bytes = std::fs::read(dir.path().join("0000000000000000.qidx")).unwrap();
    let header = parse_run_header(&bytes[..RUN_HEADER_BYTES]).unwrap();
    assert_eq!((header.format, header.entries, header.pages), (2, 5, 1));
    let mut stored = PageBuilder::default();
    entries.iter().for_each(|(d, v)| stored.push(d, v));
    let (stored, _) = stored.take_stored();
    assert_eq!(hex(&stored), INDEX_PAGE_STORED_HEX);
    assert_eq!(hex(&bytes), INDEX_RUN_HEX);
    // Hand-decoded: five entries; where the values start; the first digest whole, each later
    // one after the bytes it shares with the one before; five lengths; the values, stored (0)
    // or compressed (1).
    let page = only_page(dir.path(), 0);
    assert_eq!(page[..2], [5, 0]);
    assert_eq!(page[4], 0);
    assert_eq!(page[5..17], entries[0].0);
    let mut at = 17;
    for w in entries.windows(2) {
        let shared = usize::from(page[at]);
        assert_eq!(w[0].0[..shared], w[1].0[..shared]);
        assert_ne!(w[0].0[shared], w[1].0[shared]);
        assert_eq!(page[at + 1..at + 13 - shared], w[1].0[shared..]);
        at += 13 - shared;
    }
    let lens: Vec<u8> = entries.iter().map(|(_, v)| v.len() as u8).collect();
    assert_eq!(page[at..at + 5], lens[..]);
    assert_eq!(usize::from(u16::from_le_bytes([page[2], page[3]])), at + 5);
    assert_eq!(page[..at + 5], stored[..at + 5]);
    assert_eq!(page[at + 5], VALUES_LZ4, "three rows of one license compress");
    assert!(page.len() < stored.len());
    let values: Vec<u8> = entries.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    assert_eq!(stored[at + 5..], [&[VALUES_STORED][..], &values].concat()[..]);
    // It reads back, whole and by lookup.
    assert_eq!(run.iter().collect::<Result<Vec<_>, _>>().unwrap(), entries);
    for (d, v) in &entries {
        assert_eq!(run.get(d).unwrap().as_ref(), Some(v));
    }

    let keys: Vec<_> = entries.iter().filter(|(_, v)| v[0] == 1).cloned().collect();
    write_run(dir.path(), 1, 2, keys.into_iter().map(Ok)).unwrap();
    let page = only_page(dir.path(), 1);
    assert_eq!(hex(&page), INDEX_KEYS_PAGE_HEX);
    assert_eq!(page[usize::from(u16::from_le_bytes([page[2], page[3]]))], VALUES_STORED);
}

/// A run of format 1 as the version before run format 2 wrote it (the H200 story's second run,
/// kept as `tests/fixtures/index-run-format1.qidx`): this version reads it, and its format 1
/// framing, written again from what was read, gives the same bytes.
#[test]
fn a_format_1_index_run_written_before_format_2_still_reads() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/index-run-format1.qidx");
    let bytes = std::fs::read(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0000000000000000.qidx"), &bytes).unwrap();
    let run = Run::open(dir.path(), 0).unwrap();
    assert_eq!(run.format(), 1);
    let entries = run.iter().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(entries.len(), 19);
    for (d, v) in &entries {
        IndexValueV1::decode(v).unwrap();
        assert_eq!(run.get(d).unwrap().as_ref(), Some(v));
    }
    let mut page = PageBuilderV1::default();
    let mut bloom = Bloom::with_entries(19);
    for (d, v) in &entries {
        page.push(d, v);
        bloom.insert(d);
    }
    let (page, first) = page.take();
    let refs = [PageRef { first, offset: RUN_HEADER_BYTES as u64, len: page.len() as u32, crc: crc32c::crc32c(&page) }];
    let again = [&run_header(1, 19, 1)[..], &page, &encode_footer(&refs, &bloom)].concat();
    assert_eq!(hex(&again), hex(&bytes));
}

/// The `qledger export` of the H200 story as it stood before issue 9 (31 events), appended by
/// the version that wrote format 1: what every ledger held before format 2.
fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h200-export-format1.jsonl")
}

/// The canonical bytes and hashes of today's story (examples/h200.jsonl) in format 2, each
/// record's `recorded_at` set to the seconds of its `at` (the ledger's clock is the appending machine's and
/// cannot be pinned), linked again. Regenerate with `QLEDGER_BLESS=1 cargo test --test golden`
/// when the story changes, and review the diff.
fn story_fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h200-story-format2.jsonl")
}

/// The `qledger export` of examples/h200.jsonl appended into a fresh ledger.
fn export_story() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let story = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/h200.jsonl");
    let qledger = || {
        let mut cmd = assert_cmd::Command::cargo_bin("qledger").unwrap();
        cmd.env_remove("QLEDGER_LEDGER").arg("--ledger").arg(&ledger);
        cmd
    };
    qledger().arg("append").arg("--create").arg(&story).assert().success();
    let out = qledger().arg("export").output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn a_format_1_ledger_still_decodes_chains_and_passes_every_rule() {
    use quotaledger::domain::{check_with, Lookup, OrderRow, QuotaState};
    let fixture = std::fs::read_to_string(fixture_path()).expect("the format 1 fixture");
    let mut cursor = ChainCursor::genesis();
    let (mut state, mut orders) = (QuotaState::default(), std::collections::BTreeMap::<String, OrderRow>::new());
    for line in fixture.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let bytes = unhex(v["bytes"].as_str().unwrap());
        assert_eq!(bytes[0], 1, "seq {}: the fixture is format 1", v["seq"]);
        let hash: [u8; 32] = unhex(v["hash"].as_str().unwrap()).try_into().unwrap();
        let record = cursor.check(&bytes, &hash).unwrap_or_else(|e| panic!("seq {}: {e:?}", v["seq"]));
        assert!(matches!(record, Record::V1(_)));
        let fact = record.into_fact().unwrap();
        assert_eq!(fact.stamp.recorded_at, None, "format 1 kept no ledger clock");
        // The rules of today accept what an older version recorded, with the same context
        // (what `verify` re-checks).
        let before = fact.event.order().and_then(|o| orders.get(o)).cloned();
        let lookup = Lookup { order: before.as_ref(), target: None };
        let context = check_with(&state, lookup, &fact.stamp, &fact.event)
            .unwrap_or_else(|r| panic!("seq {}: {} refused today: {}", v["seq"], fact.event.type_name(), r.message));
        assert_eq!(context, fact.context, "seq {}", v["seq"]);
        if let Some((id, row)) = OrderRow::after(&fact, before) {
            orders.insert(id.to_string(), row);
        }
        state.apply(&fact);
    }
    assert_eq!(state.records, 31);
}

#[test]
fn the_story_exports_as_the_pinned_format_2_records_but_for_the_ledger_clock() {
    let start = Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc());
    let export = export_story();
    let end = Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc());
    let (mut prev, mut pinned_prev, mut last_clock) = ([0u8; 32], GENESIS_PREV, None);
    let mut pinned = String::new();
    for (i, line) in export.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["seq"], i);
        assert_eq!(v["prev"], hex(&prev).as_str());
        let bytes = unhex(v["bytes"].as_str().unwrap());
        let hash = blake3::derive_key(RECORD_HASH_CONTEXT, &bytes);
        assert_eq!(v["hash"], hex(&hash).as_str());
        prev = hash;
        let Record::V2(mut r) = Record::decode(&bytes).unwrap() else { panic!("seq {i}: not format 2") };
        // The clock: read while the append ran, never going backwards.
        let clock = Timestamp { secs: r.recorded_at_secs, nanos: 0 };
        assert!(start.secs <= clock.secs && clock.secs <= end.secs, "seq {i}: recorded_at {clock} outside the run");
        assert!(last_clock.is_none_or(|c| c <= clock), "seq {i}: recorded_at went backwards");
        last_clock = Some(clock);
        (r.recorded_at_secs, r.prev) = (r.at_secs, pinned_prev);
        let normalized = linked(&r);
        pinned_prev = record_hash(&normalized);
        pinned.push_str(&format!(
            "{{\"seq\":{i},\"bytes\":\"{}\",\"hash\":\"{}\"}}\n",
            hex(&normalized),
            hex(&pinned_prev)
        ));
    }
    if std::env::var_os("QLEDGER_BLESS").is_some() {
        std::fs::write(story_fixture_path(), &pinned).unwrap();
    }
    let fixture = std::fs::read_to_string(story_fixture_path()).expect("tests/fixtures/h200-story-format2.jsonl");
    if pinned != fixture {
        let first = pinned.lines().zip(fixture.lines()).position(|(a, b)| a != b);
        panic!(
            "the story's records differ from the pinned ones (first differing seq {first:?}, {} vs {} records); \
             if the story changed on purpose, QLEDGER_BLESS=1 regenerates the fixture",
            pinned.lines().count(),
            fixture.lines().count()
        );
    }
}

#[test]
fn the_format_1_fixture_hashes_recompute() {
    let fixture = std::fs::read(fixture_path()).expect("tests/fixtures/h200-export-format1.jsonl");
    let mut prev = "00".repeat(32);
    for (i, line) in fixture.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert_eq!(v["seq"], i);
        assert_eq!(v["prev"], prev.as_str());
        let bytes = unhex(v["bytes"].as_str().unwrap());
        let hash = hex(&blake3::derive_key(RECORD_HASH_CONTEXT, &bytes));
        assert_eq!(v["hash"], hash.as_str());
        prev = hash;
    }
}

// ---------------------------------------------------------------------------------------------
// Record format 2 (issue 9): every record type added with it, every new context, the
// max_shipments rule, a late entry and the allow_future flag.
// ---------------------------------------------------------------------------------------------

/// A format 2 record appended at `recorded` (the ledger's clock), effective at `at_text`.
/// `recorded` keeps whole seconds, as the ledger's clock does.
fn record2(seq: u64, at_text: &str, recorded: &str, actor: &str, event: WireEvent, context: WireContext) -> RecordV2 {
    let (t, r) = (at(at_text), at(recorded));
    RecordV2 {
        format: 2,
        seq,
        at_secs: t.secs,
        at_nanos: t.nanos,
        recorded_at_secs: r.secs,
        actor: actor.into(),
        key: None,
        late_reason: None,
        flags: 0,
        event,
        context,
        prev: GENESIS_PREV,
    }
}

/// A chain of format 2 records, seq 0..=15, each linked to the hash of the one before.
fn chain2() -> Vec<RecordV2> {
    let s = |x: &str| x.to_string();
    let (cn, us) = (|| s("CN-IMP-2026-0001"), || s("US-BIS-D000001"));
    let gates = || vec![cn(), us()];
    let mut records = vec![
        // A plain event in format 2: recorded a second after its effective time.
        record2(
            0,
            "2026-01-14T02:00:00Z",
            "2026-01-14T02:00:01Z",
            "clerk@mofcom",
            WireEvent::PartyRestricted { party: s("china-mobile"), reason: s("state-backed telecom") },
            WireContext::None,
        ),
        record2(
            1,
            "2026-01-15T00:00:00Z",
            "2026-01-15T00:00:00Z",
            "mofcom",
            WireEvent::RoundOpened { authority: s("CN-MOFCOM"), round: 1, product: s("H200"), ceiling: 400_000 },
            WireContext::None,
        ),
        record2(
            2,
            "2026-01-15T00:01:00Z",
            "2026-01-15T00:01:00Z",
            "mofcom",
            WireEvent::PolicySet {
                policy: s("P-SOE"),
                authority: s("CN-MOFCOM"),
                product: s("H200"),
                deny_state_backed: true,
                deny_sectors: vec![s("telecom"), s("defense")],
                reason: s("critical infrastructure"),
            },
            WireContext::None,
        ),
        record2(
            3,
            "2026-01-15T00:02:00Z",
            "2026-01-15T00:02:00Z",
            "mofcom",
            WireEvent::ExemptionGranted { policy: s("P-SOE"), party: s("cn-univ-lab"), reason: s("research") },
            WireContext::None,
        ),
        record2(
            4,
            "2026-01-15T00:03:00Z",
            "2026-01-15T00:03:00Z",
            "mofcom",
            WireEvent::CapSet { authority: s("CN-MOFCOM"), product: s("H200"), per_party: 75_000 },
            WireContext::None,
        ),
        record2(
            5,
            "2026-01-20T01:12:00Z",
            "2026-01-20T01:12:00Z",
            "approver@mofcom",
            WireEvent::ConditionAdded {
                license: cn(),
                condition: s("C3"),
                rule: WireRule::MaxShipments { count: 12 },
                is_final: true,
            },
            WireContext::None,
        ),
        // Two gates, not held.
        record2(
            6,
            "2026-02-03T06:00:00Z",
            "2026-02-03T06:00:00Z",
            "buyer@bytedance",
            WireEvent::OrderPlacedGated {
                order: s("O-BD-1"),
                licenses: gates(),
                quantity: 40_000,
                domestic_quantity: 14_000,
                supplier: s("nvidia"),
                hold: false,
            },
            WireContext::None,
        ),
        // One gate, held.
        record2(
            7,
            "2026-02-03T07:00:00Z",
            "2026-02-03T07:00:00Z",
            "buyer@bytedance",
            WireEvent::OrderPlacedGated {
                order: s("O-BD-2"),
                licenses: vec![cn()],
                quantity: 5_000,
                domestic_quantity: 0,
                supplier: s("nvidia"),
                hold: true,
            },
            WireContext::Held,
        ),
        record2(
            8,
            "2026-02-20T09:00:00Z",
            "2026-02-20T09:00:00Z",
            "officer@customs",
            WireEvent::ShipmentRecorded { order: s("O-BD-1"), quantity: 20_000 },
            WireContext::ShipmentGated { licenses: gates() },
        ),
        record2(
            9,
            "2026-02-21T00:00:00Z",
            "2026-02-21T00:00:00Z",
            "officer@customs",
            WireEvent::ShipmentCorrected {
                refers_to: 8,
                quantity: 19_000,
                reason: s("weighbill"),
                approved_by: s("officer-2"),
            },
            WireContext::Correction { licenses: gates(), order: s("O-BD-1"), previous: 20_000 },
        ),
        record2(
            10,
            "2026-02-22T00:00:00Z",
            "2026-02-22T00:00:00Z",
            "approver@mofcom",
            WireEvent::ConditionFinalized { license: cn(), condition: s("C1") },
            WireContext::Resolved {
                opened: vec![s("O-BD-2")],
                released: vec![(s("O-AL-2"), s("bundle_short"))],
                licenses: vec![cn(), s("CN-IMP-2026-0002")],
            },
        ),
        // A held order cancelled (one license, held: only the gated form holds `held`).
        record2(
            11,
            "2026-02-25T05:00:00Z",
            "2026-02-25T05:00:00Z",
            "buyer@bytedance",
            WireEvent::OrderCancelled { order: s("O-BD-3"), reason: s("withdrawn") },
            WireContext::CancellationGated { licenses: vec![cn()], quantity_returned: 5_000, held: true },
        ),
        record2(
            12,
            "2026-03-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            "mofcom",
            WireEvent::PolicyLifted { policy: s("P-SOE"), reason: s("relaxed") },
            WireContext::None,
        ),
        record2(
            13,
            "2026-03-02T00:00:00Z",
            "2026-03-02T00:00:00Z",
            "mofcom",
            WireEvent::RoundClosed { authority: s("CN-MOFCOM"), round: 1 },
            WireContext::None,
        ),
        record2(
            14,
            "2026-03-02T00:00:00Z",
            "2026-03-02T00:00:05Z",
            "qledger",
            WireEvent::Refused {
                line: 7,
                event: s(r#"{"type":"order_placed","order":"O-9"}"#),
                rule: s("exceeds_remaining"),
                message: s("quantity 30001 exceeds remaining 30000 on US-BIS-D000001"),
            },
            WireContext::None,
        ),
    ];
    // A late entry, accepted beyond the future margin: late_reason Some, flags bit 0.
    let mut late = record2(
        15,
        "2026-02-10T00:00:00Z",
        "2026-03-03T00:00:00Z",
        "clerk@mofcom",
        WireEvent::PartyRestricted { party: s("zte"), reason: s("defense") },
        WireContext::None,
    );
    late.key = Some(s("late-1"));
    late.late_reason = Some(s("found in the paper files"));
    late.flags = 1;
    records.push(late);
    let mut prev = GENESIS_PREV;
    for r in &mut records {
        r.prev = prev;
        prev = record_hash(&linked(r));
    }
    records
}

/// The canonical bytes of `chain2()`. Vector 0, by hand (the layout of every format 2
/// record; README "Ledger format"):
/// ```text
/// 02                         format = 2
/// 00                         seq = 0
/// fc 40f1cdd2 00             at: 2026-01-14T02:00:00Z (as format 1's vector 0), nanos 0
/// fc 42f1cdd2                recorded_at: one second later (zig-zag: +2), whole seconds
/// 0c 636c65726b406d6f66636f6d   actor "clerk@mofcom"
/// 00                         key = None
/// 00                         late_reason = None
/// 00                         flags = 0
/// 01                         event: variant 1 = PartyRestricted
/// 0c ... 14 ...              party "china-mobile", reason (20 bytes)
/// 00                         context: None
/// 00 x 32                    prev = genesis
/// ```
/// Event variants added with format 2: 13 OrderPlacedGated, 14 RoundOpened, 15 RoundClosed,
/// 16 PolicySet, 17 PolicyLifted, 18 ExemptionGranted, 19 CapSet, 20 ShipmentCorrected,
/// 21 Refused (one byte each: `0d` .. `15`); contexts 3 ShipmentGated, 4 CancellationGated,
/// 5 Held, 6 Resolved, 7 Correction; rule 4 MaxShipments (`04 0c`: 12 shipments, vector 5).
/// Vector 15 is a late entry accepted with `--allow-future`: key `01 06 "late-1"`,
/// late_reason `01 18 "found in the paper files"`, flags `01`.
const CHAIN2_HEX: [&str; 16] = [
    "0200fc40f1cdd200fc42f1cdd20c636c65726b406d6f66636f6d000000010c6368696e612d6d6f62696c651473746174652d6261636b65642074656c65636f6d000000000000000000000000000000000000000000000000000000000000000000",
    "0201fc005cd0d200fc005cd0d2066d6f66636f6d0000000e09434e2d4d4f46434f4d010448323030fc801a060000812a335a6fded08e437aabcb33f7d30fea8fdeae7ce0e8f91ad0cdd1959f76d4",
    "0202fc785cd0d200fc785cd0d2066d6f66636f6d0000001005502d534f4509434e2d4d4f46434f4d044832303001020774656c65636f6d07646566656e736517637269746963616c20696e6672617374727563747572650083a119ffea937091c0784df5a8fc405a48b93dc9057aaa7db3dac02bd5bfd6da",
    "0203fcf05cd0d200fcf05cd0d2066d6f66636f6d0000001205502d534f450b636e2d756e69762d6c616208726573656172636800d38c7986a6feb3b6faa7eb1d7c23ccbe0a1d94ba763b1ab5bb9631e270e0552e",
    "0204fc685dd0d200fc685dd0d2066d6f66636f6d0000001309434e2d4d4f46434f4d0448323030fcf82401000066d8fe6543c64d28c0ab0ae2e48c2d072a8a9f37611f31cb0eac8eb161b66005",
    "0205fcc0acddd200fcc0acddd20f617070726f766572406d6f66636f6d0000000310434e2d494d502d323032362d30303031024333040c0100d9011c2012242e99c132ed14e65a759d5b7f1a2eb88c64fb30d385c8ce86d764",
    "0206fcc01d03d300fcc01d03d30f6275796572406279746564616e63650000000d064f2d42442d310210434e2d494d502d323032362d303030310e55532d4249532d44303030303031fb409cfbb036066e76696469610000d9857e8a372a14cf5c5af1f4374610c4fae8281111ed385ee072686d95707fa6",
    "0207fce03903d300fce03903d30f6275796572406279746564616e63650000000d064f2d42442d320110434e2d494d502d323032362d30303031fb881300066e76696469610105cdbe9f72d2f2cffc5dc32eaad98997334a405eec8edfd2b999b60a0ecb5762d6",
    "0208fc204530d300fc204530d30f6f66666963657240637573746f6d7300000008064f2d42442d31fb204e030210434e2d494d502d323032362d303030310e55532d4249532d44303030303031261ac846d5a776857ca8d8b9856a4dde7940b3da4d0c95aa85ec9dd9816dd2a3",
    "0209fc00eb31d300fc00eb31d30f6f66666963657240637573746f6d730000001408fb384a09776569676862696c6c096f6666696365722d32070210434e2d494d502d323032362d303030310e55532d4249532d44303030303031064f2d42442d31fb204e073d8b9d4287c98cb2a754f3e8f60b6e2e7953caa102f1c6c6a8da26f5af0c5b",
    "020afc008e34d300fc008e34d30f617070726f766572406d6f66636f6d0000000410434e2d494d502d323032362d303030310243310601064f2d42442d3201064f2d414c2d320c62756e646c655f73686f72740210434e2d494d502d323032362d3030303110434e2d494d502d323032362d3030303271f9e21b7ce0959ecea36545df71432888c1e9e161ce445f1958ceae72584c27",
    "020bfca0033dd300fca0033dd30f6275796572406279746564616e636500000007064f2d42442d330977697468647261776e040110434e2d494d502d323032362d30303031fb881301187dae4f1c1a4a47e761a0a3d048fd3008a5baf21ea52a8f3db56f4b6a631dc2",
    "020cfc000347d300fc000347d3066d6f66636f6d0000001105502d534f450772656c61786564004354fd13adb6b589839e3dbb26e5e80397e68c04c4c123d5ceeefd53390e3114",
    "020dfc00a649d300fc00a649d3066d6f66636f6d0000000f09434e2d4d4f46434f4d01004b1ef73d4c4b8e6966e1a2f7a77ccc06dd983fb1cc7e5e58519449976b1c3047",
    "020efc00a649d300fc0aa649d307716c65646765720000001507257b2274797065223a226f726465725f706c61636564222c226f72646572223a224f2d39227d11657863656564735f72656d61696e696e67387175616e7469747920333030303120657863656564732072656d61696e696e67203330303030206f6e2055532d4249532d443030303030310082f2d401b33dc73bb0ae806c571515738784461d44eb1ef2749dfdd1b8e1e7b6",
    "020ffc00ea14d300fc00494cd30c636c65726b406d6f66636f6d01066c6174652d310118666f756e6420696e207468652070617065722066696c65730101037a746507646566656e736500eaac42b7602ce80f6946ddf143e60eb5b1db6933f5738fec6bb5ef947825a6f2",
];

/// The BLAKE3 `derive_key` record hashes of `chain2()` (same context as format 1).
const CHAIN2_HASH: [&str; 16] = [
    "812a335a6fded08e437aabcb33f7d30fea8fdeae7ce0e8f91ad0cdd1959f76d4",
    "83a119ffea937091c0784df5a8fc405a48b93dc9057aaa7db3dac02bd5bfd6da",
    "d38c7986a6feb3b6faa7eb1d7c23ccbe0a1d94ba763b1ab5bb9631e270e0552e",
    "66d8fe6543c64d28c0ab0ae2e48c2d072a8a9f37611f31cb0eac8eb161b66005",
    "d9011c2012242e99c132ed14e65a759d5b7f1a2eb88c64fb30d385c8ce86d764",
    "d9857e8a372a14cf5c5af1f4374610c4fae8281111ed385ee072686d95707fa6",
    "cdbe9f72d2f2cffc5dc32eaad98997334a405eec8edfd2b999b60a0ecb5762d6",
    "261ac846d5a776857ca8d8b9856a4dde7940b3da4d0c95aa85ec9dd9816dd2a3",
    "073d8b9d4287c98cb2a754f3e8f60b6e2e7953caa102f1c6c6a8da26f5af0c5b",
    "71f9e21b7ce0959ecea36545df71432888c1e9e161ce445f1958ceae72584c27",
    "187dae4f1c1a4a47e761a0a3d048fd3008a5baf21ea52a8f3db56f4b6a631dc2",
    "4354fd13adb6b589839e3dbb26e5e80397e68c04c4c123d5ceeefd53390e3114",
    "4b1ef73d4c4b8e6966e1a2f7a77ccc06dd983fb1cc7e5e58519449976b1c3047",
    "82f2d401b33dc73bb0ae806c571515738784461d44eb1ef2749dfdd1b8e1e7b6",
    "eaac42b7602ce80f6946ddf143e60eb5b1db6933f5738fec6bb5ef947825a6f2",
    "8385d6b580996c77eb1e8ba5f8d4b1ec981b075a478c0fd6343d52c3a7767dba",
];

#[test]
fn format_2_records_encode_to_the_frozen_bytes_and_hashes() {
    for (i, r) in chain2().iter().enumerate() {
        let bytes = linked(r);
        assert_eq!(hex(&bytes), CHAIN2_HEX[i], "format 2 vector {i}: the encoding changed");
        assert_eq!(hex(&record_hash(&bytes)), CHAIN2_HASH[i], "format 2 vector {i}: the hash changed");
        assert_eq!(hex(&blake3::derive_key(RECORD_HASH_CONTEXT, &bytes)), CHAIN2_HASH[i]);
        // `Record` writes the same bytes.
        assert_eq!(Record::V2(r.clone()).encode(), bytes);
    }
}

#[test]
fn format_2_vector_zero_has_the_hand_decoded_layout() {
    let b = unhex(CHAIN2_HEX[0]);
    assert_eq!(&b[..2], &[0x02, 0x00]);
    let secs = |at: usize| {
        assert_eq!(b[at], 0xfc);
        i64::from(u32::from_le_bytes([b[at + 1], b[at + 2], b[at + 3], b[at + 4]]) / 2)
    };
    assert_eq!(secs(2), at("2026-01-14T02:00:00Z").secs);
    assert_eq!(b[7], 0);
    assert_eq!(secs(8), at("2026-01-14T02:00:01Z").secs);
    // recorded_at is whole seconds: no nanoseconds follow.
    assert_eq!(b[13] as usize, "clerk@mofcom".len());
    assert_eq!(&b[14..26], b"clerk@mofcom");
    // key None, late_reason None, flags 0, event variant 1 (PartyRestricted).
    assert_eq!(&b[26..30], &[0, 0, 0, 1]);
    assert_eq!(&b[b.len() - 32..], &[0u8; 32]);
    assert_eq!(b[b.len() - 33], 0);
    // The late entry: key, late_reason and the allow_future flag, in that order.
    let late = unhex(CHAIN2_HEX[15]);
    let tail = b"\x01\x06late-1\x01\x18found in the paper files\x01\x01";
    assert!(late.windows(tail.len()).any(|w| w == tail), "the late entry's stamp fields are not in order");
}

#[test]
fn format_2_bytes_decode_back_chain_and_are_valid_facts() {
    let mut cursor = ChainCursor::genesis();
    for (i, r) in chain2().iter().enumerate() {
        let bytes = unhex(CHAIN2_HEX[i]);
        let decoded = Record::decode(&bytes).unwrap();
        assert_eq!(decoded, Record::V2(r.clone()), "vector {i}");
        let hash: [u8; 32] = unhex(CHAIN2_HASH[i]).try_into().unwrap();
        assert_eq!(cursor.check(&bytes, &hash).unwrap(), decoded);
        let fact = decoded.into_fact().unwrap_or_else(|e| panic!("vector {i}: {e:?}"));
        assert_eq!(fact.stamp.recorded_at, Some(Timestamp { secs: r.recorded_at_secs, nanos: 0 }));
        // The fact encodes back to the same record.
        assert_eq!(Record::from_fact(r.seq, r.prev, fact).encode(), bytes, "vector {i}");
    }
    let late = Record::decode(&unhex(CHAIN2_HEX[15])).unwrap().into_fact().unwrap();
    assert!(late.stamp.is_late() && late.stamp.allow_future);
    assert_eq!(late.stamp.late_reason.as_deref(), Some("found in the paper files"));
    // A format 2 record read as format 1, and a format no version wrote, are refused.
    assert!(codec::decode_linked::<RecordV1>(&unhex(CHAIN2_HEX[0]), RECORD_BYTES_MAX).is_err());
    let mut three = unhex(CHAIN2_HEX[0]);
    three[0] = 3;
    assert_eq!(Record::decode(&three), Err(DecodeError::Version(3)));
}

#[test]
fn a_format_1_record_holding_a_variant_added_with_format_2_is_refused() {
    let v1 = |r: &RecordV2| RecordV1 {
        format: 1,
        seq: r.seq,
        at_secs: r.at_secs,
        at_nanos: r.at_nanos,
        actor: r.actor.clone(),
        key: r.key.clone(),
        event: r.event.clone(),
        context: r.context.clone(),
        prev: r.prev,
    };
    // Vector 0 (a format 1 event) is fine as format 1; every other vector holds a new event,
    // context or rule.
    let chain = chain2();
    let fine = Record::V1(v1(&chain[0])).encode();
    Record::decode(&fine).unwrap().into_fact().expect("format 1 holds party_restricted");
    for r in &chain[1..15] {
        let bytes = Record::V1(v1(r)).encode();
        let record = Record::decode(&bytes).expect("the bytes decode");
        match record.into_fact() {
            Err(DecodeError::Invalid(m)) => assert!(m.contains("format 2"), "seq {}: {m}", r.seq),
            other => panic!("seq {}: a format 1 record of a format 2 variant gave {other:?}", r.seq),
        }
    }
}

#[test]
fn one_value_has_one_encoding_the_gated_forms_refuse_what_the_plain_ones_hold() {
    let with = |event: WireEvent, context: WireContext| {
        let mut r = record2(0, "2026-02-03T06:00:00Z", "2026-02-03T06:00:00Z", "buyer", event, context);
        r.prev = GENESIS_PREV;
        Record::decode(&Record::V2(r).encode()).unwrap().into_fact()
    };
    let gated = |licenses: Vec<String>, hold: bool| WireEvent::OrderPlacedGated {
        order: "O-1".into(),
        licenses,
        quantity: 1,
        domestic_quantity: 0,
        supplier: "nvidia".into(),
        hold,
    };
    let l = || "L-1".to_string();
    // One license and no hold: `OrderPlaced` encodes it.
    assert_eq!(with(gated(vec![l()], false), WireContext::None), Err(DecodeError::NotCanonical));
    with(gated(vec![l()], true), WireContext::Held).expect("held, one license");
    with(gated(vec![l(), "L-2".into()], false), WireContext::None).expect("two licenses");
    // A gated shipment of one license, a gated cancellation of one license not held.
    let ship = WireEvent::ShipmentRecorded { order: "O-1".into(), quantity: 1 };
    assert!(matches!(with(ship, WireContext::ShipmentGated { licenses: vec![l()] }), Err(DecodeError::Invalid(_))));
    let cancel = || WireEvent::OrderCancelled { order: "O-1".into(), reason: "r".into() };
    let one = |held| WireContext::CancellationGated { licenses: vec![l()], quantity_returned: 1, held };
    assert!(matches!(with(cancel(), one(false)), Err(DecodeError::Invalid(_))));
    with(cancel(), one(true)).expect("a held cancellation");
    // Flags other than bit 0 are refused.
    let mut r = chain2()[0].clone();
    r.flags = 2;
    assert!(matches!(Record::V2(r).into_fact(), Err(DecodeError::Invalid(_))));
}

#[test]
fn the_tree_manifest_has_the_frozen_bytes() {
    use quotaledger::format::tree::TreeManifest;
    // 261 = 256 + 4 + 1 leaves: low-edge slots 0 and 2 set, the rest zero.
    let mut low_edge = [[0u8; 32]; 8];
    low_edge[0] = [0x11; 32];
    low_edge[2] = [0x22; 32];
    let m = TreeManifest { size: 261, root: [0xab; 32], low_edge };
    let bytes = m.encode();
    // magic | format 2 | 7 zeros | size LE (261 = 0x105) | root | 8 low-edge slots | checksum.
    let body = format!(
        "716c656474726565{}{}{}{}{}{}",
        "0200000000000000",
        "0501000000000000",
        "ab".repeat(32),
        "11".repeat(32) + &"00".repeat(32),
        "22".repeat(32),
        "00".repeat(32 * 5)
    );
    assert_eq!(hex(&bytes[..312]), body);
    let sum = blake3::derive_key("quotaledger 2026-11-30 tree manifest v2", &bytes[..312]);
    assert_eq!(&sum[..16], &bytes[312..]);
    assert_eq!(bytes.len(), 328);
    assert_eq!(TreeManifest::decode(&bytes), Ok(m));
}
