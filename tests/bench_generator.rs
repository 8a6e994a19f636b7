//! Pins the benchmark's event generator (`examples/bench/gen/`) to the output of the Python
//! script it was ported from (`gen_events.py`, which lives outside the repository): the BLAKE3
//! of the bytes it writes and the checker's totals for a few (seed, count) pairs, and CPython's
//! `random.Random` draws it is built on. The expected values were computed with the Python script
//! and CPython 3.11; a change in the generator, however small, changes a hash here.

#[allow(dead_code)]
#[path = "../examples/bench/gen/mod.rs"]
mod gen;

use gen::py_random::PyRandom;

/// (seed, events, BLAKE3 of the output, bytes, the checker's totals line), from the script.
const PINNED: [(u64, u64, &str, usize, &str); 4] = [
    (
        0,
        1,
        "011e75b11729b4df794bc1c432f57564f1ec4fe65cd07d77456129b3dfa4f580",
        182,
        "totals: licenses=0 licensed=0 ordered=0 returned=0 shipped=0 remaining=0",
    ),
    (
        20_260_101,
        1000,
        "8972a980a4c71a68e634a2ae179e732c394fa657a52020abfcb781e2c527850c",
        213_522,
        "totals: licenses=5 licensed=23995000 ordered=233039 returned=8656 shipped=22835 remaining=23770617",
    ),
    // 20,000 events or more: the stream includes the one revocation and the late restriction.
    (
        7,
        25_000,
        "fbc5793f4f7fce180aab518214c0ea0bd07cc722151d187e92d8fbf7f57078af",
        5_394_929,
        "totals: licenses=18 licensed=123506000 ordered=6102208 returned=185092 shipped=662713 remaining=117588884",
    ),
    // A seed of two 32-bit words.
    (
        4_294_967_297,
        30_000,
        "edc24d9cd8efc937b93866b269e3a3213ea97edee4727486c84e23e6c4293d09",
        6_479_852,
        "totals: licenses=25 licensed=129896071 ordered=7930117 returned=263004 shipped=873354 remaining=122228958",
    ),
];

#[test]
fn generator_writes_the_bytes_of_the_python_script() {
    for (seed, events, want_hash, want_bytes, _) in PINNED {
        let mut out = Vec::new();
        let written = gen::generate(events, seed, &mut out).expect("writing to a Vec cannot fail");
        assert_eq!(written, events, "seed {seed}");
        assert_eq!(out.len(), want_bytes, "seed {seed}, {events} events: byte count");
        assert_eq!(blake3::hash(&out).to_hex().as_str(), want_hash, "seed {seed}, {events} events: BLAKE3");
    }
}

#[test]
fn checker_reports_the_totals_of_the_python_checker() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (seed, events, _, _, want_totals) in PINNED {
        let path = dir.path().join(format!("events-{seed}-{events}.jsonl"));
        let file = std::fs::File::create(&path).expect("create the events file");
        gen::generate(events, seed, std::io::BufWriter::new(file)).expect("write the events file");
        let report = gen::check::check_file(&path).expect("the generated stream checks out");
        // The script's four lines, then what revoked licenses had left (qledger's own line).
        assert_eq!(report.lines.len(), 5);
        assert!(report.lines[4].starts_with("revoked: unused="), "{}", report.lines[4]);
        assert_eq!(report.lines[0].split(',').next(), Some(format!("OK: {events} events valid").as_str()));
        assert_eq!(report.lines[3], want_totals, "seed {seed}, {events} events");
    }
}

#[test]
fn checker_refuses_what_the_rules_refuse() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases = [
        ("{\"type\":\"party_registered\"}\n", "INVALID: line 1: bad at None"),
        (
            "{\"type\":\"license_granted\",\"license\":\"L\",\"at\":\"2026-01-01T00:00:00Z\",\"actor\":\"a\"}\n",
            "INVALID: line 1: unknown licensee None",
        ),
        (
            "{\"type\":\"party_registered\",\"at\":\"2026-01-01T00:00:00Z\",\"actor\":\"a\"}",
            "INVALID: line 1: line not newline-terminated",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.jsonl"));
        std::fs::write(&path, text).expect("write the events file");
        match gen::check::check_file(&path) {
            Err(e) => assert_eq!(e.to_string(), *want),
            Ok(r) => panic!("case {i} was accepted: {:?}", r.lines),
        }
    }
}

#[test]
fn py_random_draws_what_cpython_draws() {
    // Values printed by CPython 3.11 for random.Random(42) making the same calls in order.
    let mut r = PyRandom::new(42);
    assert_eq!(r.random(), 0.6394267984578837);
    assert_eq!(r.random(), 0.025010755222666936);
    assert_eq!(r.getrandbits(128), 47482295457342411543800303662309855831);
    assert_eq!(r.randrange_step(20_000, 100_001, 1000), 33_000);
    assert_eq!(r.randint(0, 2), 2);
    assert_eq!(r.randint(1, 8), 2);
    let mut x: Vec<u32> = (0..10).collect();
    r.shuffle(&mut x);
    assert_eq!(x, [3, 5, 2, 4, 1, 8, 7, 0, 6, 9]);
    assert_eq!(r.expovariate(1.0 / 300.0), 247.14427551114153);
    assert_eq!(r.choice(&[3, 4, 5]), 5);
    let mut r = PyRandom::new(u64::MAX);
    assert_eq!(r.getrandbits(32), 93_740_670);
    assert_eq!(r.getrandbits(33), 1_068_495_656);
}
