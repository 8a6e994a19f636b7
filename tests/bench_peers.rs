//! Pins the benchmark's peers (`examples/bench/peers/`) to the stand-alone peers they were ported
//! from: on the generator's first 1,000 events (seed 20260101), the SQLite hash-chain peer must
//! load, verify and replay to the chain head and totals the stand-alone `sqlite-chain` printed,
//! and raw-sled's scan must recompute the same chain.

#[allow(dead_code)]
#[path = "../examples/bench/gen/mod.rs"]
mod gen;
#[allow(dead_code)]
#[path = "../examples/bench/peers/raw_sled.rs"]
mod raw_sled;
#[allow(dead_code)]
#[path = "../examples/bench/peers/sqlite_chain.rs"]
mod sqlite_chain;

use std::path::{Path, PathBuf};

/// Printed by the stand-alone sqlite-chain for `gen_events.py 1000`.
const HEAD_1K: &str = "2393f4d4bb26a152b7499543ab0364134132c2242fb60b8c6da23e960ee1dabf";
const TOTALS_1K: &str =
    "totals: licenses=5 licensed=23995000 ordered=233039 returned=8656 shipped=22835 remaining=23770617";

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
}

fn events_1k(dir: &Path) -> PathBuf {
    let path = dir.join("events.jsonl");
    let file = std::fs::File::create(&path).expect("create the events file");
    gen::generate(1000, gen::DEFAULT_SEED, std::io::BufWriter::new(file)).expect("write the events file");
    path
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8 here")
}

#[test]
fn sqlite_chain_computes_the_chain_and_totals_of_the_stand_alone_peer() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let events = events_1k(dir.path());
    let db = dir.path().join("chain.db");
    let load = sqlite_chain::load(utf8(&db), utf8(&events)).expect("load");
    assert_eq!(field(&load, "events"), Some("1000"), "{load}");
    assert_eq!(field(&load, "head"), Some(HEAD_1K), "{load}");
    let verify = sqlite_chain::verify(utf8(&db)).expect("verify");
    assert_eq!(field(&verify, "head"), Some(HEAD_1K), "{verify}");
    let replay = sqlite_chain::replay(utf8(&db), false).expect("replay");
    assert_eq!(replay.lines().last(), Some(TOTALS_1K), "{replay}");
}

#[test]
fn raw_sled_scan_recomputes_the_same_chain() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let events = events_1k(dir.path());
    let store = dir.path().join("sled");
    let load = raw_sled::load(utf8(&store), utf8(&events), true).expect("load");
    assert_eq!(field(&load, "events"), Some("1000"), "{load}");
    // sled 0.34's background threads hold its file lock a moment after the loading handle is
    // dropped (the bench runs load and scan as separate processes; here they share one).
    let mut tries = 0;
    let scan = loop {
        match raw_sled::scan(utf8(&store)) {
            Ok(scan) => break scan,
            Err(e) if tries < 100 => {
                tries += 1;
                eprintln!("scan: {e}; retrying");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("scan: {e}"),
        }
    };
    assert_eq!(field(&scan, "head"), Some(HEAD_1K), "{scan}");
}
