//! Hot paths of append, verify and replay, one at a time (criterion).
//!
//! ```text
//! cargo bench --bench hot_paths               # about a minute
//! cargo bench --bench hot_paths -- --quick    # a quick look
//! ```
//!
//! - `record/encode+hash`: canonical encoding of a typical order record and its BLAKE3 hash;
//! - `rules/check order_placed`: the rule check of an order on a license with conditions;
//! - `rules/input fields order_placed`: the limits on the order's ids and texts (admission);
//! - `block/append until full`: pushing typical records into a block until it is full;
//! - `block/verify`: checksum, chain from the block's link, decoding and checking every record
//!   of one full block;
//! - `jsonl/parse_line`: parsing one input line of an order;
//! - `index/*`: one run of 200,000 entries shaped like the benchmark's (an idempotency key per
//!   event, an order row for ~85% of them, on 40 licenses): writing it, looking up a present
//!   and an absent digest once its page table and Bloom filter are loaded (pages in the page
//!   cache), and reading it whole (a merge's scan).
//!
//! The end-to-end figures (whole commands against the peers) are `examples/bench.rs`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use quotaledger::domain::admission::input_fields;
use quotaledger::domain::{check, Fact, QuotaState, Timestamp};
use quotaledger::format::chain::{record_hash, ChainCursor, GENESIS_PREV};
use quotaledger::format::codec::{encode, encode_linked};
use quotaledger::format::index_run::{digest, Digest, IndexValueV1};
use quotaledger::format::record::RecordV1;
use quotaledger::format::segment::{
    block_records, check_block, hash_block, parse_block_header, BlockBuilder, BLOCK_HEADER_BYTES,
};
use quotaledger::format::snapshot::OrderRowV2;
use quotaledger::jsonl::{parse_line, Defaults};
use quotaledger::store::index::write_run;
use std::hint::black_box;
use std::time::Duration;

/// The history the order is checked against: parties, a license and its conditions.
const SETUP: &[&str] = &[
    r#"{"type":"party_registered","party":"jd","name":"JD.com Inc.","country":"CN","state_backed":false,"sector":"retail","at":"2026-01-01T00:00:00Z","actor":"ops-ingest"}"#,
    r#"{"type":"party_registered","party":"tencent","name":"Tencent Holdings Ltd.","country":"CN","state_backed":false,"sector":"internet","at":"2026-01-01T00:00:01Z","actor":"carol@compliance"}"#,
    r#"{"type":"license_granted","license":"CN-IMP-2026-0001","authority":"CN-MOFCOM","licensee":"jd","product":"H200","quantity":3732000,"valid_from":"2026-01-01","valid_until":"2026-12-31","round":1,"at":"2026-01-01T00:00:17Z","actor":"svc-erp-gateway"}"#,
    r#"{"type":"license_granted","license":"CN-IMP-2026-0002","authority":"CN-MOFCOM","licensee":"tencent","product":"H200","quantity":27000,"valid_from":"2026-01-01","valid_until":"2026-12-31","round":1,"at":"2026-01-01T00:00:18Z","actor":"alice@mofcom"}"#,
    r#"{"type":"condition_added","license":"CN-IMP-2026-0001","condition":"C1","rule":{"kind":"bundle_ratio","domestic":1,"per":4},"final":true,"at":"2026-01-01T00:00:18Z","actor":"bob@customs"}"#,
    r#"{"type":"condition_added","license":"CN-IMP-2026-0001","condition":"C2","rule":{"kind":"max_per_order","units":500},"final":true,"at":"2026-01-01T00:00:19Z","actor":"bob@customs"}"#,
    r#"{"type":"condition_added","license":"CN-IMP-2026-0001","condition":"C3","rule":{"kind":"end_use","text":"data-centre inference and training only; no re-export"},"final":true,"at":"2026-01-01T00:00:20Z","actor":"bob@customs"}"#,
    r#"{"type":"condition_added","license":"CN-IMP-2026-0001","condition":"C4","rule":{"kind":"reporting","text":"quarterly end-use report to the licensing authority"},"final":true,"at":"2026-01-01T00:00:20Z","actor":"alice@mofcom"}"#,
];

/// A typical order line (most lines of `gen_events.py` output are orders).
const ORDER: &str = r#"{"type":"order_placed","order":"O-84601","license":"CN-IMP-2026-0001","quantity":16,"domestic_quantity":7,"supplier":"nvidia","at":"2026-01-02T03:43:49Z","actor":"svc-erp-gateway","key":"a312c61a-bae5-4654-a5f6-ce95f4b5a92b"}"#;

fn defaults() -> Defaults {
    Defaults { at: Timestamp { secs: 1_767_225_600, nanos: 0 }, actor: "bench".to_string() }
}

/// The state after `SETUP`, each line parsed, checked and applied as `append` would.
fn setup_state() -> QuotaState {
    let d = defaults();
    let mut state = QuotaState::default();
    for (i, line) in SETUP.iter().enumerate() {
        let input = parse_line(i as u64 + 1, line.as_bytes(), &d).expect("setup line parses");
        let context = check(&state, None, &input.stamp, &input.event).expect("setup line is accepted");
        state.apply(&Fact { stamp: input.stamp, event: input.event, context });
    }
    state
}

/// The order as an accepted fact.
fn order_fact(state: &QuotaState, order_no: u64) -> Fact {
    let line = ORDER.replace("O-84601", &format!("O-{order_no}"));
    let input = parse_line(1, line.as_bytes(), &defaults()).expect("order line parses");
    let context = check(state, None, &input.stamp, &input.event).expect("order is accepted");
    Fact { stamp: input.stamp, event: input.event, context }
}

/// A full block of chained order records starting at seq 0, and how many records it holds.
fn chained_block(state: &QuotaState) -> (Vec<u8>, u64) {
    let mut block = BlockBuilder::new(0, GENESIS_PREV);
    let mut prev = GENESIS_PREV;
    let mut body = Vec::with_capacity(512);
    for seq in 0.. {
        let record = RecordV1::from_fact(seq, prev, order_fact(state, seq + 1));
        body.clear();
        encode_linked(&record, &mut body);
        if !block.fits(body.len()) {
            break;
        }
        let hash = record_hash(&body);
        block.push(&body, &hash);
        prev = hash;
    }
    let count = u64::from(block.count());
    (block.finish(true), count)
}

fn benches(c: &mut Criterion) {
    let state = setup_state();
    let fact = order_fact(&state, 84_601);
    let record = RecordV1::from_fact(1_234_567, [7; 32], fact.clone());

    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(512);
    g.bench_function("encode+hash", |b| {
        b.iter(|| {
            buf.clear();
            encode_linked(black_box(&record), &mut buf);
            black_box(record_hash(&buf))
        })
    });
    g.bench_function("from_fact+encode+hash", |b| {
        b.iter_batched(
            || fact.clone(),
            |f| {
                let r = RecordV1::from_fact(1_234_567, [7; 32], f);
                buf.clear();
                encode_linked(&r, &mut buf);
                black_box(record_hash(&buf))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(1));
    g.bench_function("check order_placed", |b| {
        b.iter(|| black_box(check(black_box(&state), None, black_box(&fact.stamp), black_box(&fact.event))))
    });
    g.bench_function("input fields order_placed", |b| {
        b.iter(|| black_box(input_fields(black_box(&fact.stamp), black_box(&fact.event))))
    });
    g.finish();

    let (block, count) = chained_block(&state);
    let mut body = Vec::new();
    encode_linked(&record, &mut body);
    let hash = record_hash(&body);
    let append_count = {
        let mut builder = BlockBuilder::new(0, GENESIS_PREV);
        while builder.fits(body.len()) {
            builder.push(&body, &hash);
        }
        u64::from(builder.count())
    };
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Elements(append_count));
    g.bench_function("append until full", |b| {
        b.iter(|| {
            let mut builder = BlockBuilder::new(0, GENESIS_PREV);
            while builder.fits(body.len()) {
                builder.push(black_box(&body), &hash);
            }
            black_box(builder.finish(true))
        })
    });
    g.throughput(Throughput::Elements(count));
    let hb: [u8; BLOCK_HEADER_BYTES] = block[..BLOCK_HEADER_BYTES].try_into().expect("a block has a header");
    let header = parse_block_header(&hb).expect("block header");
    let payload = &block[BLOCK_HEADER_BYTES..];
    g.bench_function("verify", |b| {
        let mut hashes = Vec::new();
        let mut bytes = Vec::with_capacity(512);
        b.iter(|| {
            check_block(&hb, black_box(payload)).expect("checksum");
            hash_block(&header, payload, &mut hashes).expect("chain holds");
            let mut cursor = ChainCursor::genesis();
            let mut prev = header.prev;
            for (entry, hash) in block_records(&header, payload).expect("block frames").zip(&hashes) {
                let (stored, _) = entry.expect("entry frames");
                bytes.clear();
                bytes.extend_from_slice(stored);
                bytes.extend_from_slice(&prev);
                black_box(cursor.check(&bytes, hash).expect("chain holds"));
                prev = *hash;
            }
            cursor.seq_next
        })
    });
    g.bench_function("hash check only", |b| {
        let mut hashes = Vec::new();
        b.iter(|| hash_block(&header, black_box(payload), &mut hashes).expect("chain holds"))
    });
    g.finish();

    let d = defaults();
    let mut g = c.benchmark_group("jsonl");
    g.throughput(Throughput::Bytes(ORDER.len() as u64));
    g.bench_function("parse_line order_placed", |b| {
        b.iter(|| black_box(parse_line(1, black_box(ORDER.as_bytes()), &d).expect("parses")))
    });
    g.finish();
}

/// Events of the index benchmark's run (about 1.85 entries each).
const INDEX_EVENTS: u64 = 108_000;

/// The entries of the index benchmark's run, sorted: for event `i`, its idempotency key (seq,
/// event digest) and, for 85 events in 100, its order row.
fn index_entries() -> Vec<(Digest, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..INDEX_EVENTS {
        let h = digest(b'x', &i.to_string());
        let event: [u8; 8] = h[..8].try_into().expect("8 bytes");
        out.push((digest(b'k', &format!("key-{i}")), encode(&IndexValueV1::Key { seq: 1_000 + i, event })));
        if h[8] % 100 < 85 {
            let row = OrderRowV2 {
                licenses: vec![format!("CN-IMP-2026-{:04}", 1 + u32::from(h[9]) % 40)],
                quantity: 1 + u64::from(h[10]) * 8,
                shipped: 0,
                status: 0,
                placed_at: Some(1_767_225_600 + 30 * i as i64),
            };
            out.push((digest(b'o', &format!("O-{i}")), encode(&IndexValueV1::Order2(row))));
        }
    }
    out.sort();
    out
}

fn index_benches(c: &mut Criterion) {
    let entries = index_entries();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let n = entries.len() as u64;
    let mut g = c.benchmark_group("index");
    g.throughput(Throughput::Elements(n));
    let mut id = 1u64;
    g.bench_function("write run (per entry)", |b| {
        b.iter(|| {
            id += 1;
            let run = write_run(dir.path(), id, n, entries.iter().cloned().map(Ok)).expect("run written");
            std::fs::remove_file(dir.path().join(format!("{id:016x}.qidx"))).expect("run removed");
            black_box(run)
        })
    });
    let run = write_run(dir.path(), 0, n, entries.iter().cloned().map(Ok)).expect("run written");
    g.bench_function("scan run (per entry)", |b| {
        b.iter(|| run.iter().map(|e| e.expect("entry").1.len()).sum::<usize>())
    });
    eprintln!(
        "index: run of {n} entries for {INDEX_EVENTS} events: {} bytes",
        std::fs::metadata(dir.path().join(format!("{:016x}.qidx", 0))).expect("run").len()
    );
    g.throughput(Throughput::Elements(1));
    // Present digests in a scattered order; the first lookups load the page table and filter.
    let probes: Vec<Digest> = entries.iter().step_by(7).map(|(d, _)| *d).collect();
    for d in probes.iter().take(100) {
        run.get(d).expect("lookup");
    }
    let mut i = 0usize;
    g.bench_function("lookup present", |b| {
        b.iter(|| {
            i = (i + 7919) % probes.len();
            black_box(run.get(black_box(&probes[i])).expect("lookup").expect("present"))
        })
    });
    let absent: Vec<Digest> = (0..4096u32).map(|j| digest(b'k', &format!("absent-{j}"))).collect();
    g.bench_function("lookup absent", |b| {
        b.iter(|| {
            i = (i + 1) % absent.len();
            black_box(run.get(black_box(&absent[i])).expect("lookup"))
        })
    });
    g.finish();
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = benches, index_benches
}
criterion_main!(hot_paths);
