//! The reader pipeline (`src/ledger/read.rs`, `BlockPipeline`): a long read is decoded on
//! several threads, and still hands out every record once, in order, linked; a fault stops it
//! at its block after every record before it; and dropping a read early ends its threads.
//!
//! The ledgers here hold 20,002 records in some 40 blocks, above the 8,192 records from which a
//! read is decoded on more than one thread.

mod qa_util;

use qa_util::*;
use quotaledger::format::segment::{parse_block_header, BLOCK_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use quotaledger::ledger::Ledger;
use std::path::Path;

const ORDERS: u64 = 20_000;

fn long_ledger(dir: &Path) -> std::path::PathBuf {
    let ledger = ledger_in(dir);
    let input = dir.join("in.jsonl");
    write(&input, preamble("acme", "L-1") + &orders("x", "L-1", 0, ORDERS, 0));
    ok(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk"]);
    ledger
}

/// Reader threads of this process (named `qledger-read`; the other test here only starts
/// `qledger` processes).
fn reader_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "qledger-read")
        .count()
}

#[test]
fn a_long_read_on_several_threads_hands_out_every_record_in_order_and_ends_its_threads() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = long_ledger(dir.path());
    let l = Ledger::open_read(&ledger).unwrap();
    let head = l.head();
    assert!(head.records > ORDERS, "the ledger holds the orders and the preamble");

    let mut next = 0u64;
    let mut prev = [0u8; 32];
    let records = l.records(0).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = if cores > 1 { 1 + cores.min(4) } else { 1 };
    // A thread names itself once it runs: wait for them all (they wait on full queues).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reader_threads() < started && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(reader_threads(), started, "a reading thread and one decoding thread a core (at most 4)");
    for r in records {
        let r = r.unwrap();
        assert_eq!(r.seq, next, "records come out in order, none twice, none missing");
        assert_eq!(r.prev, prev, "record {} links to the record handed out before it", r.seq);
        prev = r.hash;
        next += 1;
    }
    assert_eq!((next, prev), (head.records, head.last_hash), "the read ends at the head");

    // Replaying on several threads gives the state the writer stored at the head.
    assert_eq!(l.state_replayed(None).unwrap(), l.state().unwrap());

    // A read dropped after three records ends every thread it started (none is left blocked
    // on a full queue).
    let mut early = l.records(0).unwrap();
    for _ in 0..3 {
        early.next().unwrap().unwrap();
    }
    drop(early);
    drop(l);
    assert_eq!(reader_threads(), 0, "every reader thread ended");
}

#[test]
fn a_flipped_byte_in_a_late_block_stops_log_verify_and_replay_at_that_block_after_every_record_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = long_ledger(dir.path());
    // The 20th block of the first segment: its first seq, and a byte in its last record.
    let seg = std::fs::read_dir(ledger.join("segments")).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&seg).unwrap();
    let mut offset = SEGMENT_HEADER_BYTES;
    let mut header = None;
    for _ in 0..20 {
        let hb: &[u8; BLOCK_HEADER_BYTES] = bytes[offset..offset + BLOCK_HEADER_BYTES].try_into().unwrap();
        let h = parse_block_header(hb).unwrap();
        header = Some((offset, h));
        offset += h.total_bytes() as usize;
    }
    let (at, h) = header.unwrap();
    assert!(h.first_seq > 8_192, "the damage lies where several threads decode");
    let flip = at + h.total_bytes() as usize - 5;
    bytes[flip] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();

    let log = run(&ledger, &["log", "--json"]);
    assert_eq!(log.code, Some(3), "log: {}", log.stderr);
    let seqs: Vec<u64> = String::from_utf8(log.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..h.first_seq).collect();
    assert_eq!(seqs, expected, "log prints every record before the damaged block, in order, then stops");

    let verify = run(&ledger, &["verify", "--chain-only"]);
    assert_eq!(verify.code, Some(3), "verify: {}", verify.stderr);
    let last = h.first_seq + u64::from(h.count) - 1;
    assert!(verify.stderr.contains(&format!("seq {last}")), "verify names the damaged record: {}", verify.stderr);

    // The replay takes a block's records by reference, a block at a time: the fault still ends it.
    let replay = run(&ledger, &["state", "--full-replay"]);
    assert_eq!(replay.code, Some(3), "state --full-replay: {}", replay.stderr);
    assert!(replay.stdout.is_empty(), "no state is shown from a damaged chain");
}

/// A long read maps its segments window by window. A segment cut from outside the ledger while
/// a read has it mapped must end the read as damage (one line, exit 3), never as a process
/// killed by SIGBUS with nothing said, and never with the records it could not read printed.
#[test]
fn a_segment_cut_while_a_long_read_has_it_mapped_ends_the_read_with_exit_3_and_one_line() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let ledger = long_ledger(dir.path());
    let seg = std::fs::read_dir(ledger.join("segments")).unwrap().next().unwrap().unwrap().path();
    let mut child = Command::new(bin())
        .args(["--ledger", ledger.to_str().unwrap(), "log", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line is out: the read has its window mapped. It stops when the pipe is full,
    // and the blocks it reads ahead are a few thousand records, far from the end.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"seq\":0"), "{first}");
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(SEGMENT_HEADER_BYTES as u64).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "exit 3, not a death by signal ({status}); stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("integrity failure") && stderr.contains("cut while it was being read"), "{stderr}");
    let printed = 1 + rest.lines().count() as u64;
    assert!(printed < ORDERS, "the records past the cut are not printed ({printed} lines)");
}
