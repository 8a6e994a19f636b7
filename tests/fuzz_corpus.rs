//! The fuzz targets (`fuzz/`, README "Fuzzing") run in CI: every target body of
//! `quotaledger::fuzzing` over its seed corpus `fuzz/corpus/<target>/`, then over a few hundred
//! seeded mutations of those seeds. This keeps the targets building and their seeds passing on
//! the stable toolchain, where `cargo fuzz` itself is not part of CI.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seeds` regenerates the seeds (`seed-*`)
//! from the library and from a ledger the binary builds out of `examples/h200.jsonl`.

use quotaledger::format::codec;
use quotaledger::format::head::{HeadSlot, HEAD_SLOT1_OFFSET, HEAD_SLOT_BYTES};
use quotaledger::format::index_run::{
    page_entries, parse_footer_trailer, IndexValueV1, PageBuilder, FOOTER_TRAILER_BYTES, INDEX_PAGE_BYTES_MAX,
    KEY_EVENT_BYTES, RUN_FORMAT, RUN_HEADER_BYTES,
};
use quotaledger::format::record::{Record, RecordV1, WireContext, WireEvent, WireRule};
use quotaledger::format::segment::{
    parse_block_header, segment_header, BlockBuilder, BLOCK_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use quotaledger::format::snapshot::{
    decode_snapshot_file, encode_snapshot_file, OrderRowV1, OrderRowV2, QuotaSnapshotV2,
};
use quotaledger::fuzzing::{tlog_signer, TARGETS};
use quotaledger::tlog::checkpoint::Checkpoint;
use quotaledger::tlog::merkle::{self, MemoryTree, Sha256, TreeHasher};
use quotaledger::tlog::note::{self, SignerKey};
use quotaledger::tlog::tiles;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Format 2 events the H200 story does not have, for the seeds of `record`, `jsonl`,
/// `snapshot` and `index_run`.
const EXTRA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz_extra.jsonl");

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable");
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

/// xorshift64*: the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let n = bytes.len();
        match rng.below(6) {
            0 if n > 0 => bytes[rng.below(n)] ^= 1 << rng.below(8),
            1 if n > 0 => bytes[rng.below(n)] = rng.next() as u8,
            2 => bytes.insert(rng.below(n + 1), rng.next() as u8),
            3 if n > 0 => {
                bytes.remove(rng.below(n));
            }
            4 => bytes.truncate(rng.below(n + 1)),
            _ => {
                // An interesting integer over 1 to 8 bytes: 0, 0xff.., a varint tag.
                let at = rng.below(n + 1);
                let b = [0u8, 0xff, 251, 252, 253, 0x80][rng.below(6)];
                for k in 0..1 + rng.below(8) {
                    if at + k < bytes.len() {
                        bytes[at + k] = b;
                    }
                }
            }
        }
    }
}

#[test]
fn every_fuzz_target_passes_its_seed_corpus_and_mutations_of_it() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (target, body) in TARGETS {
        let seeds = inputs(target);
        let named =
            seeds.iter().filter(|(p, _)| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-")));
        assert!(named.count() >= 3, "fuzz/corpus/{target} holds at least 3 seeds");
        for (path, bytes) in &seeds {
            let run = std::panic::catch_unwind(|| body(bytes));
            assert!(run.is_ok(), "fuzz target {target} fails on {}", path.display());
        }
        for i in 0..300 {
            let (path, seed) = &seeds[i % seeds.len()];
            let mut bytes = seed.clone();
            mutate(&mut rng, &mut bytes);
            let run = std::panic::catch_unwind(|| body(&bytes));
            assert!(run.is_ok(), "fuzz target {target} fails on a mutation of {}: {bytes:02x?}", path.display());
        }
    }
}

/// The record seeds hold every event, context and rule variant of both formats' wire types, in
/// a record of format 2, and records of format 1: `write_seeds` is rerun when a variant is added.
#[test]
fn the_record_seeds_hold_every_wire_variant() {
    let variant = |debug: String| debug.split([' ', '(', '{']).next().unwrap_or_default().to_string();
    let (mut v2, mut v1) = (std::collections::BTreeSet::new(), 0);
    for (_, bytes) in inputs("record") {
        match Record::decode(&bytes) {
            Ok(Record::V2(r)) => {
                if let WireEvent::ConditionAdded { rule, .. } = &r.event {
                    v2.insert(format!("rule {}", variant(format!("{rule:?}"))));
                }
                v2.insert(format!("event {}", variant(format!("{:?}", r.event))));
                v2.insert(format!("context {}", variant(format!("{:?}", r.context))));
                if r.late_reason.is_some() {
                    v2.insert("late_reason".into());
                }
                if r.flags != 0 {
                    v2.insert("flags".into());
                }
            }
            Ok(Record::V1(_)) => v1 += 1,
            Err(_) => {}
        }
    }
    let events = "PartyRegistered PartyRestricted LicenseGranted ConditionAdded ConditionFinalized \
        ConditionWithdrawn OrderPlaced OrderCancelled ShipmentRecorded QuotaAmended LicenseSuspended \
        LicenseReinstated LicenseRevoked OrderPlacedGated RoundOpened RoundClosed PolicySet PolicyLifted \
        ExemptionGranted CapSet ShipmentCorrected Refused";
    let contexts = "None Shipment Cancellation ShipmentGated CancellationGated Held Resolved Correction";
    let rules = "BundleRatio MaxPerOrder EndUse Reporting MaxShipments";
    let mut missing: Vec<String> = events.split_whitespace().map(|e| format!("event {e}")).collect();
    missing.extend(contexts.split_whitespace().map(|c| format!("context {c}")));
    missing.extend(rules.split_whitespace().map(|r| format!("rule {r}")));
    missing.extend(["late_reason".to_string(), "flags".to_string()]);
    missing.retain(|m| !v2.contains(m));
    assert!(missing.is_empty(), "no format 2 record seed holds {missing:?}: rerun write_seeds");
    assert!(v1 >= 10, "format 1 record seeds: {v1}");
}

// ---------------------------------------------------------------------------------------------
// The seeds

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn qledger(ledger: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_qledger"))
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .env_remove("QLEDGER_LEDGER")
        .output()
        .expect("qledger runs");
    assert!(out.status.success(), "qledger {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 1;
    b
}

/// Writes the seed corpus of every target: files of a ledger the binary builds from the H200
/// story in two appends (two blocks, two index runs, a HEAD of generation 2), encodings the
/// library makes, and a few malformed variants of each.
#[test]
#[ignore = "writes fuzz/corpus/*/seed-*: run when the formats change"]
fn write_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger");
    let story = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl")).expect("story");
    let lines: Vec<&str> = story.lines().collect();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    std::fs::write(&a, lines[..20].join("\n") + "\n").expect("write");
    std::fs::write(&b, lines[20..].join("\n") + "\n").expect("write");
    for part in [&a, &b] {
        qledger(
            &ledger,
            &["append", "--create", part.to_str().expect("utf-8 path"), "--actor", "clerk", "--allow-future"],
        );
    }

    // jsonl: the story, and the hostile cases are written by hand (`seed-hostile-*`).
    write("jsonl", "h200.jsonl", story.as_bytes());
    write("jsonl", "extra.jsonl", &std::fs::read(EXTRA_PATH).expect("the extra events"));

    // record: one record of each event and context kind from the export, and broken ones.
    let export = String::from_utf8(qledger(&ledger, &["export"])).expect("utf-8");
    let mut kinds = std::collections::BTreeSet::new();
    for line in export.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("export is JSON");
        let kind = format!("{}-{}", v["event"]["type"].as_str().unwrap(), v["context"]["kind"].as_str().unwrap());
        let bytes = unhex(v["bytes"].as_str().expect("bytes"));
        if kinds.insert(kind.clone()) {
            write("record", &format!("{kind}.rec"), &bytes);
        }
        if v["seq"] == 6 {
            write("record", "cut.rec", &bytes[..bytes.len() - 1]);
            let mut trailing = bytes.clone();
            trailing.push(0);
            write("record", "trailing.rec", &trailing);
            let mut overlong = vec![bytes[0], 251, bytes[1], 0];
            overlong.extend_from_slice(&bytes[2..]);
            write("record", "overlong-seq.rec", &overlong);
        }
    }

    // Format 1 records (a ledger of an older version: `tests/fixtures`), one of each kind.
    let v1 = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/h200-export-format1.jsonl"))
        .expect("the format 1 export");
    let mut v1_kinds = std::collections::BTreeSet::new();
    for line in v1.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("export is JSON");
        let kind = format!("{}-{}", v["event"]["type"].as_str().unwrap(), v["context"]["kind"].as_str().unwrap());
        if v1_kinds.insert(kind.clone()) {
            write("record", &format!("v1-{kind}.rec"), &unhex(v["bytes"].as_str().expect("bytes")));
        }
    }

    // Format 2 events, contexts and rules the story does not have (`tests/fixtures/fuzz_extra.jsonl`,
    // appended with `--record-refusals` to a ledger of its own): a plain one-license order, its
    // shipment and cancellation, a held order (cancelled: a gated cancellation of a held order;
    // and one left held), a gated shipment and cancellation, a withdrawn condition, a lifted
    // policy, a revoked license, a late entry, refusal records, an event past the future margin.
    let extra_ledger = dir.path().join("extra");
    qledger(
        &extra_ledger,
        &["append", "--create", EXTRA_PATH, "--actor", "clerk", "--allow-future", "--record-refusals"],
    );
    for line in String::from_utf8(qledger(&extra_ledger, &["export"])).expect("utf-8").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("export is JSON");
        let kind = format!("{}-{}", v["event"]["type"].as_str().unwrap(), v["context"]["kind"].as_str().unwrap());
        let seq = v["seq"].as_u64().expect("seq");
        write("record", &format!("extra-{seq:02}-{kind}.rec"), &unhex(v["bytes"].as_str().expect("bytes")));
    }

    // Event and rule kinds the story does not have, and a record an older version could write
    // (non-ASCII id, invisible characters in texts: decodes, but input refuses it).
    let extra = [
        WireEvent::ConditionWithdrawn { license: "L-1".into(), condition: "C1".into(), reason: "r".into() },
        WireEvent::LicenseRevoked { license: "L-1".into(), reason: "sanctions".into() },
        WireEvent::ConditionAdded {
            license: "L-1".into(),
            condition: "C3".into(),
            rule: WireRule::EndUse { text: "no military use".into() },
            is_final: true,
        },
        WireEvent::ConditionAdded {
            license: "L-1".into(),
            condition: "C4".into(),
            rule: WireRule::Reporting { text: "monthly".into() },
            is_final: false,
        },
        WireEvent::PartyRegistered {
            party: "bytedаnce".into(),
            name: "Evil\u{202e}Co".into(),
            country: "CN".into(),
            state_backed: true,
            sector: "\u{2066}internet\u{2069}".into(),
        },
    ];
    for (i, event) in extra.into_iter().enumerate() {
        let r = RecordV1 {
            format: 1,
            seq: 1_000_000 + i as u64,
            at_secs: 1_780_000_000,
            at_nanos: 999_999_999,
            actor: "clerk".into(),
            key: Some(format!("k-{i}")),
            event,
            context: WireContext::None,
            prev: [0xab; 32],
        };
        write("record", &format!("library-{i}.rec"), &Record::V1(r).encode());
    }

    // segment: the file, its first block alone, its header alone, a torn tail, a bad checksum.
    let seg = std::fs::read(ledger.join("segments/00000000000000000000.qseg")).expect("segment");
    write("segment", "ledger.qseg", &seg);
    write("segment", "header.qseg", &seg[..SEGMENT_HEADER_BYTES]);
    let hb: &[u8; BLOCK_HEADER_BYTES] = seg[SEGMENT_HEADER_BYTES..][..BLOCK_HEADER_BYTES].try_into().unwrap();
    let first = parse_block_header(hb).expect("a block");
    let first_end = SEGMENT_HEADER_BYTES + BLOCK_HEADER_BYTES + first.payload_len as usize;
    write("segment", "block.qblk", &seg[SEGMENT_HEADER_BYTES..first_end]);
    write("segment", "torn.qseg", &seg[..first_end + 100]);
    write("segment", "bad-crc.qseg", &flip(&seg, first_end + 60));
    // tests/decoders.rs `a_damaged_block_near_u64_max_is_damage`: a segment at seq
    // u64::MAX - 1 whose third record is damaged (BlockReader overflowed naming it).
    let near = u64::MAX - 1;
    let mut block = BlockBuilder::new(near, [0; 32]);
    let mut prev = [0u8; 32];
    for i in 0..3u8 {
        let mut body = vec![i; 40];
        body.extend_from_slice(&prev);
        let hash = quotaledger::format::chain::record_hash(&body);
        block.push(&body, &hash);
        prev = hash;
    }
    let mut regress = segment_header(near).to_vec();
    regress.extend_from_slice(&block.finish(true));
    let last = regress.len() - 1;
    regress[last] ^= 1;
    write("segment", "regress-damaged-block-near-u64-max.qseg", &regress);

    // head: the file, its two slots side by side, one slot, a torn slot 1.
    let head = std::fs::read(ledger.join("HEAD")).expect("HEAD");
    write("head", "HEAD", &head);
    let s1 = &head[HEAD_SLOT1_OFFSET as usize..][..HEAD_SLOT_BYTES];
    let pair = [&head[..HEAD_SLOT_BYTES], s1].concat();
    write("head", "slots", &pair);
    write("head", "slot0", &head[..HEAD_SLOT_BYTES]);
    write("head", "torn-slot1", &flip(&pair, HEAD_SLOT_BYTES + 40));
    let empty = HeadSlot { generation: 0, records: 0, last_hash: [0; 32], segment_first_seq: 0, segment_len: 32 };
    write("head", "new-ledger", &[&empty.encode()[..], &[0; HEAD_SLOT_BYTES]].concat());

    // index_run: both runs (format 2), a page as written and its block stored as it is, a
    // value, a damaged footer, the manifest. (The `seed-format1-*` files are runs and a page
    // that the version before run format 2 wrote.)
    for (i, name) in ["0000000000000000.qidx", "0000000000000001.qidx"].iter().enumerate() {
        let run = std::fs::read(ledger.join("index").join(name)).expect("run");
        write("index_run", &format!("run{i}.qidx"), &run);
        if i == 1 {
            let (len, _) = parse_footer_trailer(&run[run.len() - FOOTER_TRAILER_BYTES..]).expect("trailer");
            let footer_at = run.len() - FOOTER_TRAILER_BYTES - len;
            let page = &run[RUN_HEADER_BYTES..footer_at];
            write("index_run", "page", page);
            let mut buf = [0u8; INDEX_PAGE_BYTES_MAX];
            let entries = page_entries(RUN_FORMAT, page, &mut buf).expect("one page");
            // The same entries with their values stored as they are.
            let mut stored = PageBuilder::default();
            entries.iter().for_each(|(d, v)| stored.push(d, v));
            write("index_run", "page-values-stored", &stored.take_stored().0);
            write("index_run", "value", entries[0].1);
            write("index_run", "bad-footer.qidx", &flip(&run, footer_at + 3));
        }
    }

    let run = std::fs::read(extra_ledger.join("index/0000000000000000.qidx")).expect("run");
    write("index_run", "extra-run0.qidx", &run);
    // Values of each kind, as the library encodes them: a format 2 order row (two licenses,
    // held, placed at a time; one license, released, no time), a format 1 row, a key.
    let values = [
        IndexValueV1::Order2(OrderRowV2 {
            licenses: vec!["CN-IMP-2026-0004".into(), "US-BIS-D000001".into()],
            quantity: 20_000,
            shipped: 0,
            status: 2,
            placed_at: Some(1_775_109_600),
        }),
        IndexValueV1::Order2(OrderRowV2 {
            licenses: vec!["L-1".into()],
            quantity: 6_000,
            shipped: 6_000,
            status: 3,
            placed_at: None,
        }),
        IndexValueV1::Order(OrderRowV1 { license: "L-1".into(), quantity: 1_000, shipped: 400, cancelled: true }),
        IndexValueV1::Key { seq: 47, event: [0xa5; KEY_EVENT_BYTES] },
    ];
    for (i, v) in values.iter().enumerate() {
        write("index_run", &format!("value-{i}"), &codec::encode(v));
    }

    let manifest = std::fs::read(ledger.join("index/MANIFEST")).expect("manifest");
    write("index_run", "MANIFEST", &manifest);

    // snapshot: the head snapshot file, the snapshot inside it, an empty one, a cut one.
    let snap = std::fs::read(ledger.join("snapshots/head.qsnap")).expect("snapshot");
    write("snapshot", "head.qsnap", &snap);
    let inner = decode_snapshot_file(&snap).expect("a snapshot file");
    write("snapshot", "inner.snap", inner);
    let empty = codec::encode(&QuotaSnapshotV2::from_state(&Default::default(), [0; 32]));
    write("snapshot", "empty.qsnap", &encode_snapshot_file(&empty));
    write("snapshot", "cut.qsnap", &snap[..snap.len() - 17]);
    // Rounds, a lifted policy with an exemption, a cap, a held order, a revoked license,
    // refusals, a late entry.
    let extra_snap = std::fs::read(extra_ledger.join("snapshots/head.qsnap")).expect("snapshot");
    let (extra_state, _) = QuotaSnapshotV2::decode(decode_snapshot_file(&extra_snap).expect("a file"))
        .expect("the extra snapshot decodes");
    assert!(!extra_state.held.is_empty() && !extra_state.policies.is_empty(), "the extra ledger holds an order");
    write("snapshot", "extra.qsnap", &extra_snap);

    // tlog: a signed checkpoint of the story's tree (mode 0), texts (1), a bundle (2), proofs
    // (3, 4), entries (5).
    let entries: Vec<Vec<u8>> = export
        .lines()
        .map(|l| unhex(serde_json::from_str::<serde_json::Value>(l).unwrap()["bytes"].as_str().unwrap()))
        .collect();
    let mut tree = MemoryTree::<Sha256>::from_entries(&entries);
    let size = tree.size();
    let signer = tlog_signer();
    let cp = Checkpoint::new(signer.name(), size, tree.root(), vec!["blake3 d93580e7".into()]).expect("checkpoint");
    let signed = cp.sign(&signer).expect("sign");
    write("tlog", "checkpoint.note", &[b"\0", signed.as_bytes()].concat());
    let other = SignerKey::from_seed("other.example/log", &[9; 32]).expect("key");
    let two = note::sign("hello\nworld\n", &[&signer, &other]).expect("sign");
    write("tlog", "two-signatures.note", &[b"\0", two.as_bytes()].concat());
    write("tlog", "checkpoint.txt", &[b"\x01", cp.to_text().as_bytes()].concat());
    write("tlog", "vkey", &[b"\x01", signer.verifier().unwrap().to_string().as_bytes()].concat());
    write("tlog", "skey", &[b"\x01", signer.to_secret_string().as_bytes()].concat());
    write("tlog", "tile-path", b"\x01tile/0/x001/234.p/7");
    write("tlog", "entries-path", b"\x01tile/entries/005");
    let bundle = tiles::encode_entry_bundle(&entries[..3]).expect("bundle");
    write("tlog", "bundle", &[&[2u8, 0, 3][..], &bundle].concat());
    let (index, older) = (5u64, 12u64);
    let inclusion = merkle::prove_inclusion::<Sha256, _>(&mut tree, index, size).expect("proof");
    let leaf = Sha256::hash_leaf(&entries[index as usize]);
    let mut blob = vec![3u8];
    blob.extend_from_slice(&index.to_le_bytes());
    blob.extend_from_slice(&size.to_le_bytes());
    blob.extend_from_slice(&leaf);
    blob.extend_from_slice(&tree.root());
    inclusion.iter().for_each(|h| blob.extend_from_slice(h));
    write("tlog", "inclusion", &blob);
    let consistency = merkle::prove_consistency::<Sha256, _>(&mut tree, older, size).expect("proof");
    let old_root = MemoryTree::<Sha256>::from_entries(&entries[..older as usize]).root();
    let mut blob = vec![4u8];
    blob.extend_from_slice(&older.to_le_bytes());
    blob.extend_from_slice(&size.to_le_bytes());
    blob.extend_from_slice(&old_root);
    blob.extend_from_slice(&tree.root());
    consistency.iter().for_each(|h| blob.extend_from_slice(h));
    write("tlog", "consistency", &blob);
    write("tlog", "tree", b"\x05\x00\x07\x00\x03a\nb\nc\nd\ne\nf\ng\nh\ni");
}
