//! Tampering: an insider edits the sled store directly (the `qledger` process has exited), and
//! `qledger verify` must catch it with exit 3 and the first bad seq; a fully re-hashed rewrite
//! (head and head snapshot fixed too) passes plain `verify` and is caught by `--expect-head`.
//! Then random byte flips in the store's files: each is either a one-line, panic-free error or a
//! clean verify whose export is byte-identical to the original.
//!
//! Short mode (CI): `cargo test --test tamper` (about 30 byte flips).
//! Long mode: `QLEDGER_SOAK=1 cargo test --release --test tamper -- --ignored` (600 flips; the
//! soak test is `#[ignore]`d, so `--ignored` selects it). Replay a run with `QLEDGER_SEED=N`.

mod qa_util;

use qa_util::*;
use quotaledger::domain::QuotaState;
use quotaledger::format::block::{block_entries, BlockBuilder};
use quotaledger::format::chain::{hex, record_hash};
use quotaledger::format::codec;
use quotaledger::format::record::{RecordV1, WireEvent};
use quotaledger::format::snapshot::{HeadV1, QuotaSnapshotV1};
use quotaledger::format::FORMAT_VERSION;
use quotaledger::limits::RECORD_BYTES_MAX;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

type Entry = (Vec<u8>, [u8; 32]);
type Block = (u64, Vec<Entry>);

fn open_db(ledger: &Path) -> sled::Db {
    sled::Config::new()
        .path(ledger.join("store"))
        .cache_capacity(32 * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .use_compression(false)
        .flush_every_ms(None)
        .open()
        .expect("open the store in the test")
}

fn block_key(first: u64) -> Vec<u8> {
    let mut k = vec![b'b'];
    k.extend_from_slice(&first.to_be_bytes());
    k
}

fn load_blocks(db: &sled::Db) -> Vec<Block> {
    db.scan_prefix([b'b'])
        .map(|r| {
            let (k, v) = r.expect("scan");
            let first = u64::from_be_bytes(k[1..9].try_into().expect("block key"));
            let entries = block_entries(&v)
                .expect("block header")
                .map(|e| e.map(|(b, h)| (b.to_vec(), *h)).expect("entry"))
                .collect();
            (first, entries)
        })
        .collect()
}

fn frame(entries: &[Entry]) -> Vec<u8> {
    let mut b = BlockBuilder::new();
    for (body, hash) in entries {
        b.push(body, hash);
    }
    b.finish()
}

fn put_block(db: &sled::Db, first: u64, entries: &[Entry]) {
    db.insert(block_key(first), frame(entries)).expect("insert block");
}

fn decode(body: &[u8]) -> RecordV1 {
    codec::decode(body, RECORD_BYTES_MAX).expect("stored record decodes")
}

/// Where record `seq` is: (block index, index inside the block).
fn locate(blocks: &[Block], seq: u64) -> (usize, usize) {
    let bi = blocks.iter().rposition(|(first, _)| *first <= seq).expect("block holding seq");
    (bi, (seq - blocks[bi].0) as usize)
}

/// Replays every record of `blocks` and writes a head and head snapshot that agree with them
/// (what an insider who knows the format would do after editing the chain).
fn rewrite_head_consistently(db: &sled::Db, blocks: &[Block]) {
    let mut state = QuotaState::default();
    let mut last = [0u8; 32];
    for (_, entries) in blocks {
        for (body, hash) in entries {
            state.apply(&decode(body).to_fact().expect("fact"));
            last = *hash;
        }
    }
    let head = HeadV1 { format: FORMAT_VERSION, records: state.records, last_hash: last };
    db.insert(b"h", codec::encode(&head)).expect("head");
    db.insert(b"p", codec::encode(&QuotaSnapshotV1::from_state(&state, last))).expect("snapshot");
}

/// Re-links and re-hashes every record from `from` on, in place, keeping block boundaries.
fn rehash_from(blocks: &mut [Block], from: u64) {
    let mut prev: Option<[u8; 32]> = None;
    for (first, entries) in blocks.iter_mut() {
        for (i, (body, hash)) in entries.iter_mut().enumerate() {
            let seq = *first + i as u64;
            if seq >= from {
                let mut r = decode(body);
                if let Some(p) = prev {
                    r.prev = p;
                }
                *body = codec::encode(&r);
                *hash = record_hash(body);
            }
            prev = Some(*hash);
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    ledger: PathBuf,
    head: String,
    export: Vec<u8>,
}

/// A ledger of 2,003 records over several blocks and three appends (built once per process).
fn big() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger_in(dir.path());
        let input = dir.path().join("in.jsonl");
        write(&input, preamble("acme", "L-1") + &orders("a", "L-1", 0, 1200, 0));
        ok(&ledger, &["append", input.to_str().unwrap(), "--actor", "clerk"]);
        write(&input, orders("a", "L-1", 1200, 800, 0));
        ok(&ledger, &["append", input.to_str().unwrap(), "--actor", "clerk"]);
        write(&input, orders("a", "L-1", 2000, 1, 0));
        ok(&ledger, &["append", input.to_str().unwrap(), "--actor", "auditor"]);
        assert_eq!(records(&ledger), 2003);
        ok(&ledger, &["verify"]);
        let head = head_hash(&ledger);
        let export = export(&ledger);
        Fixture { _dir: dir, ledger, head, export }
    })
}

/// The H200 story: small, one block, every event type.
fn story() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger_in(dir.path());
        let story = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl");
        ok(&ledger, &["append", story, "--actor", "clerk"]);
        ok(&ledger, &["verify"]);
        let head = head_hash(&ledger);
        let export = export(&ledger);
        Fixture { _dir: dir, ledger, head, export }
    })
}

/// What verify must say after a tamper.
enum Expect {
    /// Exit 3 naming this first bad seq.
    BadSeq(u64),
    /// Exit 3 without a seq (a head or snapshot edit), with this substring.
    Fails(&'static str),
    /// Plain verify passes (a consistent rewrite); `--expect-head` of the original head must
    /// fail with exit 3; `--expect-head` of this still-valid older hash must pass.
    OnlyExpectHead(Option<String>),
}

struct Tally {
    tried: usize,
    caught: usize,
}

/// Copies the fixture, applies `edit` to its store, then checks `verify` against `expect`.
fn case(fx: &Fixture, name: &str, tally: &mut Tally, edit: impl FnOnce(&sled::Db, &mut Vec<Block>) -> Expect) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger");
    copy_dir(&fx.ledger, &ledger);
    let expect = {
        let db = open_db(&ledger);
        let mut blocks = load_blocks(&db);
        let e = edit(&db, &mut blocks);
        db.flush().expect("flush");
        e
    };
    tally.tried += 1;
    let out = run(&ledger, &["verify"]);
    match expect {
        Expect::BadSeq(seq) => {
            assert_eq!(out.code, Some(3), "{name}: verify must exit 3, got {:?} {}", out.code, out.stderr);
            out.assert_one_line_error(name);
            assert!(
                out.stderr.contains(&format!("at seq {seq}:")),
                "{name}: verify must name seq {seq} first, said {}",
                out.stderr
            );
        }
        Expect::Fails(what) => {
            assert_eq!(out.code, Some(3), "{name}: verify must exit 3, got {:?} {}", out.code, out.stderr);
            out.assert_one_line_error(name);
            assert!(out.stderr.contains(what), "{name}: expected {what:?} in {}", out.stderr);
        }
        Expect::OnlyExpectHead(still_on_chain) => {
            // The rewrite keeps chain, head and snapshots consistent: the chain checks pass. It
            // leaves the order and key index as it was, which the rule check of the default
            // verify rebuilds from the records: there it may be caught, never wrongly named.
            let chain = run(&ledger, &["verify", "--chain-only"]);
            assert_eq!(
                chain.code,
                Some(0),
                "{name}: a consistent rewrite passes verify --chain-only: {}",
                chain.stderr
            );
            if out.code != Some(0) {
                assert_eq!(out.code, Some(3), "{name}: verify: {:?} {}", out.code, out.stderr);
                assert!(
                    out.stderr.contains("index bucket"),
                    "{name}: only the stale index can betray it: {}",
                    out.stderr
                );
            }
            let out = run(&ledger, &["verify", "--chain-only", "--expect-head", &fx.head]);
            assert_eq!(out.code, Some(3), "{name}: --expect-head OLD must exit 3: {:?} {}", out.code, out.stderr);
            out.assert_one_line_error(name);
            assert!(out.stderr.contains(&fx.head), "{name}: the error names the missing hash: {}", out.stderr);
            if let Some(h) = still_on_chain {
                let out = run(&ledger, &["verify", "--chain-only", "--expect-head", &h]);
                assert_eq!(out.code, Some(0), "{name}: an older head still on the chain passes: {}", out.stderr);
            }
            assert_ne!(export(&ledger), fx.export, "{name}: the rewrite changed the content");
        }
    }
    tally.caught += 1;
}

/// Rewrites record `seq` with `f` applied, keeping its stored hash (a naive edit).
fn edit_record(db: &sled::Db, blocks: &mut [Block], seq: u64, f: impl FnOnce(&mut RecordV1)) -> Expect {
    let (bi, ei) = locate(blocks, seq);
    let mut r = decode(&blocks[bi].1[ei].0);
    let before = r.clone();
    f(&mut r);
    assert_ne!(r, before, "the edit must change the record");
    blocks[bi].1[ei].0 = codec::encode(&r);
    put_block(db, blocks[bi].0, &blocks[bi].1);
    Expect::BadSeq(seq)
}

/// Changes the last character of `s`, keeping its length (blocks are filled to their limit).
fn alter(s: &mut String) {
    let c = if s.ends_with('x') { 'y' } else { 'x' };
    s.pop();
    s.push(c);
}

fn change_event(e: &mut WireEvent) {
    match e {
        WireEvent::OrderPlaced { quantity, .. } => *quantity += 1,
        WireEvent::PartyRegistered { name, .. } => alter(name),
        WireEvent::LicenseGranted { quantity, .. } => *quantity -= 1,
        WireEvent::ShipmentRecorded { quantity, .. } => *quantity += 1,
        WireEvent::QuotaAmended { quantity, .. } => *quantity += 1,
        WireEvent::ConditionAdded { is_final, .. } => *is_final = !*is_final,
        WireEvent::ConditionFinalized { condition, .. } => alter(condition),
        WireEvent::PartyRestricted { reason, .. }
        | WireEvent::ConditionWithdrawn { reason, .. }
        | WireEvent::OrderCancelled { reason, .. }
        | WireEvent::LicenseSuspended { reason, .. }
        | WireEvent::LicenseReinstated { reason, .. }
        | WireEvent::LicenseRevoked { reason, .. } => alter(reason),
    }
}

/// Every per-record field edit, on record `seq`.
fn field_edits(fx: &Fixture, seq: u64, tally: &mut Tally) {
    type Edit = Box<dyn Fn(&mut RecordV1)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("event", Box::new(|r| change_event(&mut r.event))),
        ("at", Box::new(|r| r.at_secs -= 60)),
        ("at nanos", Box::new(|r| r.at_nanos += 1)),
        ("actor", Box::new(|r| r.actor = "eve".into())),
        ("key", Box::new(|r| r.key = Some(format!("{}x", r.key.clone().unwrap_or_default()).split_off(1)))),
        ("key removed", Box::new(|r| r.key = if r.key.is_some() { None } else { Some("k".into()) })),
        ("prev", Box::new(|r| r.prev[7] ^= 0x10)),
        ("seq", Box::new(|r| r.seq += 1)),
    ];
    for (what, f) in edits {
        case(fx, &format!("{what} of seq {seq}"), tally, |db, blocks| edit_record(db, blocks, seq, f));
    }
    case(fx, &format!("stored hash of seq {seq}"), tally, |db, blocks| {
        let (bi, ei) = locate(blocks, seq);
        blocks[bi].1[ei].1[31] ^= 1;
        put_block(db, blocks[bi].0, &blocks[bi].1);
        Expect::BadSeq(seq)
    });
    case(fx, &format!("raw payload byte of seq {seq}"), tally, |db, blocks| {
        let (bi, ei) = locate(blocks, seq);
        let body = &mut blocks[bi].1[ei].0;
        // A byte of the event's text (the last text before the context and prev): stays
        // decodable, so only the hash can catch it.
        let pos = body.len() - 32 - 2 - 1;
        body[pos] ^= 0x01;
        put_block(db, blocks[bi].0, &blocks[bi].1);
        Expect::BadSeq(seq)
    });
}

#[test]
fn every_field_edit_of_any_record_is_caught_at_its_seq() {
    let mut tally = Tally { tried: 0, caught: 0 };
    let fx = big();
    let blocks = {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fx.ledger, &dir.path().join("l"));
        let db = open_db(&dir.path().join("l"));
        load_blocks(&db).iter().map(|(f, e)| (*f, e.len() as u64)).collect::<Vec<_>>()
    };
    assert!(blocks.len() >= 4, "the fixture spans several blocks: {blocks:?}");
    let last = 2002;
    let b1_end = blocks[1].0 - 1;
    // The first record, one inside a block, both sides of a block boundary, the last.
    for seq in [0, 1, 700, b1_end, b1_end + 1, last] {
        field_edits(fx, seq, &mut tally);
    }
    // Every record of the story (every event type) has each field checked once.
    let s = story();
    let n = records(&s.ledger);
    for seq in 0..n {
        case(s, &format!("story event of seq {seq}"), &mut tally, |db, b| {
            edit_record(db, b, seq, |r| change_event(&mut r.event))
        });
    }
    eprintln!("tamper field edits: {} tried, {} caught", tally.tried, tally.caught);
    assert_eq!(tally.tried, tally.caught);
}

#[test]
fn deleting_inserting_and_swapping_records_is_caught_at_the_first_bad_seq() {
    let fx = big();
    let mut t = Tally { tried: 0, caught: 0 };
    case(fx, "delete a record inside a block", &mut t, |db, b| {
        b[0].1.remove(500);
        put_block(db, b[0].0, &b[0].1);
        Expect::BadSeq(500)
    });
    case(fx, "delete the first record", &mut t, |db, b| {
        b[0].1.remove(0);
        put_block(db, b[0].0, &b[0].1);
        Expect::BadSeq(0)
    });
    case(fx, "delete the first record of a block", &mut t, |db, b| {
        let first = b[1].0;
        b[1].1.remove(0);
        put_block(db, first, &b[1].1);
        Expect::BadSeq(first)
    });
    case(fx, "delete the last record, head left alone", &mut t, |db, b| {
        let (first, entries) = b.last_mut().unwrap();
        entries.pop();
        if entries.is_empty() {
            db.remove(block_key(*first)).unwrap();
        } else {
            put_block(db, *first, entries);
        }
        Expect::BadSeq(2002)
    });
    case(fx, "delete a whole block in the middle", &mut t, |db, b| {
        db.remove(block_key(b[1].0)).unwrap();
        Expect::BadSeq(b[1].0)
    });
    case(fx, "delete the last block, head left alone", &mut t, |db, b| {
        let first = b.last().unwrap().0;
        db.remove(block_key(first)).unwrap();
        Expect::BadSeq(first)
    });
    // Insertions go into the block with the most room (blocks are filled to their limit).
    let roomy = |b: &[Block]| {
        let bi = (0..b.len()).min_by_key(|&i| frame(&b[i].1).len()).unwrap();
        b[bi].0 + b[bi].1.len() as u64 / 2
    };
    case(fx, "insert a forged record with a correct hash and link", &mut t, |db, b| {
        let at = roomy(b);
        let (bi, ei) = locate(b, at);
        let mut forged = decode(&b[bi].1[ei].0);
        forged.event = WireEvent::OrderPlaced {
            order: "O-forged".into(),
            license: "L-1".into(),
            quantity: 5,
            domestic_quantity: 5,
            supplier: "nvidia".into(),
        };
        forged.key = None;
        let body = codec::encode(&forged);
        let hash = record_hash(&body);
        b[bi].1.insert(ei, (body, hash));
        put_block(db, b[bi].0, &b[bi].1);
        // Record `at` is forged perfectly; the old one, now in position at+1, still says `at`.
        Expect::BadSeq(at + 1)
    });
    case(fx, "insert a forged record with a stale hash", &mut t, |db, b| {
        let at = roomy(b);
        let (bi, ei) = locate(b, at);
        let (mut body, hash) = b[bi].1[ei].clone();
        let mut r = decode(&body);
        r.actor = "mallory".into();
        body = codec::encode(&r);
        b[bi].1.insert(ei, (body, hash));
        put_block(db, b[bi].0, &b[bi].1);
        Expect::BadSeq(at)
    });
    case(fx, "insert a forged block between two blocks", &mut t, |db, b| {
        let first = b[1].0;
        let (body, hash) = b[1].1[0].clone();
        let mut r = decode(&body);
        r.actor = "mallory".into();
        let body = codec::encode(&r);
        let h = record_hash(&body);
        let _ = hash;
        put_block(db, first + 1, &[(body, h)]);
        // The block keyed `first` runs past first+1; right after it, the chain meets the
        // forged block keyed first+1 where it expects the next block's first seq.
        Expect::BadSeq(b[2].0)
    });
    case(fx, "swap two records inside a block", &mut t, |db, b| {
        b[0].1.swap(300, 301);
        put_block(db, b[0].0, &b[0].1);
        Expect::BadSeq(300)
    });
    case(fx, "swap two records across a block boundary", &mut t, |db, b| {
        let (f0, f1) = (b[0].0, b[1].0);
        let last0 = b[0].1.len() - 1;
        let a = b[0].1[last0].clone();
        b[0].1[last0] = b[1].1[0].clone();
        b[1].1[0] = a;
        put_block(db, f0, &b[0].1);
        put_block(db, f1, &b[1].1);
        Expect::BadSeq(f1 - 1)
    });
    case(fx, "swap the contents of two blocks", &mut t, |db, b| {
        put_block(db, b[1].0, &b[2].1);
        put_block(db, b[2].0, &b[1].1);
        Expect::BadSeq(b[1].0)
    });
    case(fx, "head moved back, blocks left alone", &mut t, |db, _| {
        let head = HeadV1::decode(&db.get(b"h").unwrap().unwrap()).unwrap();
        let h = HeadV1 { records: head.records - 1, ..head };
        db.insert(b"h", codec::encode(&h)).unwrap();
        Expect::Fails("integrity failure")
    });
    case(fx, "head hash changed", &mut t, |db, _| {
        let mut head = HeadV1::decode(&db.get(b"h").unwrap().unwrap()).unwrap();
        head.last_hash[0] ^= 1;
        db.insert(b"h", codec::encode(&head)).unwrap();
        Expect::Fails("head mismatch")
    });
    case(fx, "head snapshot edited", &mut t, |db, _| {
        let (mut state, hash) = QuotaSnapshotV1::decode(&db.get(b"p").unwrap().unwrap()).unwrap();
        state.licenses.values_mut().for_each(|l| l.quantity += 1_000);
        db.insert(b"p", codec::encode(&QuotaSnapshotV1::from_state(&state, hash))).unwrap();
        Expect::Fails("snapshot")
    });
    case(fx, "head snapshot removed", &mut t, |db, _| {
        db.remove(b"p").unwrap();
        Expect::Fails("integrity failure")
    });
    eprintln!("tamper structural edits: {} tried, {} caught", t.tried, t.caught);
}

#[test]
fn truncation_and_rehashed_rewrites_pass_plain_verify_but_not_expect_head() {
    let fx = big();
    let mut t = Tally { tried: 0, caught: 0 };
    case(fx, "truncate the last block, head and snapshot rewritten", &mut t, |db, b| {
        let (first, _) = b.pop().unwrap();
        db.remove(block_key(first)).unwrap();
        rewrite_head_consistently(db, b);
        let still = hex(&b.last().unwrap().1.last().unwrap().1);
        Expect::OnlyExpectHead(Some(still))
    });
    case(fx, "truncate the last record, head and snapshot rewritten", &mut t, |db, b| {
        let (first, entries) = b.last_mut().unwrap();
        entries.pop();
        if entries.is_empty() {
            db.remove(block_key(*first)).unwrap();
            b.pop();
        } else {
            put_block(db, *first, entries);
        }
        rewrite_head_consistently(db, b);
        Expect::OnlyExpectHead(None)
    });
    case(fx, "head and snapshot moved back, the tail block left as if uncommitted", &mut t, |db, b| {
        // No staging marker vouches for the block beyond the head: caught by plain verify.
        b.pop();
        rewrite_head_consistently(db, b);
        Expect::Fails("beyond the head")
    });
    case(fx, "rewrite the whole tail with a re-hashed forged chain", &mut t, |db, b| {
        let from = 1000;
        let still = {
            let (bi, ei) = locate(b, from - 1);
            hex(&b[bi].1[ei].1)
        };
        for (first, entries) in b.iter_mut() {
            for (i, (body, _)) in entries.iter_mut().enumerate() {
                if *first + i as u64 >= from {
                    let mut r = decode(body);
                    // Same lengths or shorter: the blocks are full.
                    r.actor = "eve".into();
                    if let WireEvent::OrderPlaced { supplier, .. } = &mut r.event {
                        *supplier = "forger".into();
                    }
                    *body = codec::encode(&r);
                }
            }
        }
        rehash_from(b, from);
        for (first, entries) in b.iter() {
            put_block(db, *first, entries);
        }
        rewrite_head_consistently(db, b);
        Expect::OnlyExpectHead(Some(still))
    });
    case(fx, "re-hashed rewrite of the tail without fixing the head", &mut t, |db, b| {
        let from = 1999;
        let (bi, ei) = locate(b, from);
        let mut r = decode(&b[bi].1[ei].0);
        r.actor = "eve".into();
        b[bi].1[ei].0 = codec::encode(&r);
        rehash_from(b, from);
        for (first, entries) in b.iter() {
            put_block(db, *first, entries);
        }
        Expect::Fails("head mismatch")
    });
    eprintln!("tamper truncations and rewrites: {} tried, {} caught", t.tried, t.caught);
}

/// Flips random bits in the store's files and checks each outcome.
fn byte_flips(rounds: usize) {
    let seed = seed("tamper byte flips");
    let mut rng = Rng::new(seed);
    let fx = big();
    let (mut clean, mut refused) = (0usize, 0usize);
    let mut codes = std::collections::BTreeMap::new();
    for round in 0..rounds {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = dir.path().join("ledger");
        copy_dir(&fx.ledger, &ledger);
        let files = files_under(&ledger.join("store"));
        let file = &files[rng.below(files.len() as u64) as usize];
        let mut bytes = std::fs::read(file).unwrap();
        // Flip within the written part (sled preallocates; zeros at the end are unused).
        let used = bytes.iter().rposition(|&b| b != 0).map_or(bytes.len(), |i| i + 1).max(1);
        let flips = rng.range(1, 3);
        let mut what = Vec::new();
        for _ in 0..flips {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(used.min(bytes.len()) as u64) as usize;
            let bit = 1u8 << rng.below(8);
            bytes[at] ^= bit;
            what.push(format!("{}@{at}^{bit:#04x}", file.file_name().unwrap().to_string_lossy()));
        }
        std::fs::write(file, &bytes).unwrap();
        let name = format!("round {round} (seed {seed}): {}", what.join(" "));
        let out = run(&ledger, &["verify"]);
        *codes.entry(out.code).or_insert(0usize) += 1;
        match out.code {
            Some(0) => {
                let got = run(&ledger, &["export"]);
                assert_eq!(got.code, Some(0), "{name}: verify passed but export failed: {}", got.stderr);
                assert!(
                    got.stdout == fx.export,
                    "{name}: verify passed but the export differs from the original (silent change); \
                     head now {}, was {}",
                    head_json(&ledger),
                    fx.head
                );
                clean += 1;
            }
            Some(_) => {
                out.assert_one_line_error(&name);
                refused += 1;
            }
            None => panic!("{name}: verify was killed by a signal: {}", out.stderr),
        }
    }
    eprintln!(
        "tamper byte flips: {rounds} rounds, {clean} clean with identical export, {refused} refused with one line; \
         exit codes {codes:?}"
    );
}

#[test]
fn random_byte_flips_never_give_a_clean_verify_with_different_content() {
    byte_flips(30);
}

#[test]
#[ignore = "soak: run with `cargo test --release --test tamper -- --ignored`"]
fn soak_random_byte_flips() {
    byte_flips(600);
}
