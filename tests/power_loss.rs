//! Power loss, simulated in-process: the chain (segments and `HEAD`) lives on a `SimDisk`,
//! which loses every write not yet synced and may keep a torn prefix of the last one
//! (`crash(torn)`), and can make every write or sync fail after `k` more (`fail_after`).
//! Derived data (index, sled, snapshots) stays on the real file system under the ledger
//! directory and is not crashed: the chain alone decides what is committed.
//!
//! Each round opens a writer (recovering whatever the last round left), appends batches with
//! idempotency keys, aims an I/O failure at a random write or sync of the commit protocol,
//! runs read-only opens between appends (`open_read_on`, state, records, verify; they must not
//! write through the disk nor change a file of the directory), then cuts the power with a
//! random torn length, or only ends the "process" (drops the writer, the disk keeps what it
//! had), and checks on the next open: it opens; no acknowledged append (`append` returned Ok)
//! is lost; every record present verifies; an append that returned an error is all there or
//! not at all, and its retry appends exactly what is missing.
//!
//! Short mode (CI): `cargo test --test power_loss` (200 rounds).
//! Long mode: `QLEDGER_SOAK=1 cargo test --release --test power_loss -- --ignored` (5,000
//! rounds). Replay a run with `QLEDGER_SEED=N`.

mod qa_util;

use qa_util::*;
use quotaledger::cli::append_from;
use quotaledger::domain::Timestamp;
use quotaledger::jsonl::Defaults;
use quotaledger::ledger::{AppendReport, Depth, Ledger, LedgerError};
use quotaledger::store::disk::{Disk, SimDisk};
use quotaledger::store::{OpenMode, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn defaults() -> Defaults {
    Defaults { at: Timestamp::parse("2026-02-01T00:00:00Z").expect("time"), actor: "clerk".into() }
}

fn arc(disk: &SimDisk) -> Arc<dyn Disk> {
    Arc::new(disk.clone())
}

fn open_writer(dir: &Path, disk: &SimDisk) -> Result<Ledger, LedgerError> {
    Ledger::open_on(dir, OpenMode::CreateIfMissing, None, arc(disk))
}

/// A fresh simulated disk and a new ledger at `dir` on it, open to write.
fn new_on_sim_disk(dir: &Path) -> (SimDisk, Ledger) {
    let disk = SimDisk::new();
    let w = open_writer(dir, &disk).expect("create");
    (disk, w)
}

fn append(ledger: &mut Ledger, text: &str) -> Result<AppendReport, LedgerError> {
    append_from(ledger, std::io::Cursor::new(text.as_bytes().to_vec()), &defaults(), Default::default())
}

/// Every record's hash, read back through a read-only open (each checked against its locator).
fn chain_hashes(dir: &Path, disk: &SimDisk) -> Vec<[u8; 32]> {
    let reader = Ledger::open_read_on(dir, arc(disk)).expect("read-only open");
    reader.records(0).expect("records").map(|r| r.expect("a record of the committed prefix").hash).collect()
}

// ---------------------------------------------------------------------------------------------
// Targeted cases (each found by the random rounds below, kept as regressions).
// ---------------------------------------------------------------------------------------------

#[test]
fn a_ledger_created_on_the_sim_disk_opens_after_a_power_loss_right_after_its_first_append() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let (disk, mut w) = new_on_sim_disk(&dir);
    let report = append(&mut w, &preamble("acme", "L-1")).expect("append");
    drop(w);
    disk.crash(0);
    let w = open_writer(&dir, &disk).expect("the ledger opens after a power loss");
    assert_eq!(w.head(), report.head, "an acknowledged append was lost");
}

#[test]
fn a_long_read_on_the_sim_disk_which_cannot_map_reads_every_record_through_its_buffer() {
    // 10,000 records: above the 8,192 from which a read maps its segments on the real file
    // system. The simulated disk has no mapping, so the reader falls back to reading; every
    // record comes out once, in order, linked, and the sim disk's bytes are still checked.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let (disk, mut w) = new_on_sim_disk(&dir);
    append(&mut w, &(preamble("acme", "L-1") + &orders("x", "L-1", 0, 10_000, 0))).expect("append");
    let head = w.head();
    drop(w);
    let reader = Ledger::open_read_on(&dir, arc(&disk)).expect("read-only open");
    let mut prev = [0u8; 32];
    let mut next = 0u64;
    for r in reader.records(0).expect("records") {
        let r = r.expect("a record of the committed prefix");
        assert_eq!((r.seq, r.prev), (next, prev), "records in order, each linked to the one before");
        prev = r.hash;
        next += 1;
    }
    assert_eq!(next, head.records, "every record was read");
    assert!(next > 8_192, "the read is long enough to map where mapping exists");
}

#[test]
fn records_kept_by_recovery_survive_a_power_loss_right_after_the_recovery() {
    // A writer writes an append's blocks and dies before they are synced (here: the segment
    // sync fails; a kill -9 at `blocks-written` leaves the same thing in the page cache). The
    // next writer finds a whole append beyond the commit point and keeps it: it must make the
    // blocks durable before the commit point moves over them, or a power loss right after
    // leaves a HEAD pointing past the end of its segment, and the ledger never opens again.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let (disk, mut w) = new_on_sim_disk(&dir);
    let acked = append(&mut w, &preamble("acme", "L-1")).expect("append").head;
    // The next append writes its one block (1 op), then its segment sync fails.
    disk.fail_after(Some(1));
    let err = append(&mut w, &orders("a", "L-1", 0, 50, 0)).expect_err("the sync fails");
    assert!(matches!(err, LedgerError::Store(_)), "{err}");
    drop(w);
    disk.fail_after(None);
    let w = open_writer(&dir, &disk).expect("the next writer opens");
    let kept = w.recovered().expect("a writer").records_kept;
    assert_eq!(kept, 50, "the whole append beyond the commit point is kept");
    let head = w.head();
    drop(w);
    disk.crash(0);
    let w = open_writer(&dir, &disk).expect("the ledger opens after a power loss right after the recovery");
    assert_eq!(w.head(), head, "records kept by recovery (and reported as there) were lost");
    assert!(w.head().records >= acked.records);
    w.verify(None).expect("verify");
}

#[test]
fn a_bit_flipped_below_the_committed_length_is_an_integrity_error_and_no_writer_writes_over_it() {
    let seed = seed("power loss flips");
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let (mut refused, mut opened) = (0, 0);
    for round in 0..12 {
        let dir = tmp.path().join(format!("ledger-{round}"));
        let (disk, mut w) = new_on_sim_disk(&dir);
        append(&mut w, &(preamble("acme", "L-1") + &orders("a", "L-1", 0, 300, 0))).expect("append");
        let head = append(&mut w, &orders("b", "L-1", 0, 20, 300)).expect("append").head;
        drop(w);
        let slot = quotaledger::store::read_commit_point(&disk, &dir).expect("HEAD");
        let seg = dir.join("segments").join(quotaledger::store::segment::segment_name(slot.segment_first_seq));
        let offset = rng.below(slot.segment_len) as usize;
        let what = format!("a bit flipped at offset {offset} of {} (seed {seed})", slot.segment_len);
        disk.flip(&seg, offset);
        let reader = Ledger::open_read_on(&dir, arc(&disk)).expect("a reader opens (it reads HEAD only)");
        assert_eq!(reader.head(), head, "{what}");
        let e = reader.verify(None).expect_err("verify catches every flip");
        assert!(matches!(e, LedgerError::Integrity(_)), "{what}: {e}");
        let ops = disk.ops();
        match open_writer(&dir, &disk) {
            Err(e) => {
                assert!(matches!(e, LedgerError::Integrity(_)), "{what}: the writer: {e}");
                assert_eq!(disk.ops(), ops, "{what}: a writer that found damage wrote to the chain");
                refused += 1;
            }
            // A flip before the last block: the writer does not read the whole chain.
            Ok(w) => {
                assert_eq!(w.recovered(), Some(Default::default()), "{what}: nothing to recover or cut");
                opened += 1;
            }
        }
        let reader = Ledger::open_read_on(&dir, arc(&disk)).unwrap();
        assert!(reader.verify(None).is_err(), "{what}: the flip is still there");
    }
    eprintln!("power loss flips: 12 flips, writers refused {refused}, opened over a flip further back {opened}");
}

// ---------------------------------------------------------------------------------------------
// Random rounds.
// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct Tally {
    rounds: u64,
    /// Power losses (`crash`).
    crashes: u64,
    /// Power losses with a torn length > 0 that followed a failed append (an unsynced write
    /// was likely pending: its prefix may have survived).
    torn_writes: u64,
    /// Power losses right after a writer's open (its recovery must already be durable).
    crashes_after_open: u64,
    /// Process ends without a power loss (the disk keeps every write).
    restarts: u64,
    /// Appends that returned an I/O error (an injected failure).
    failed_appends: u64,
    /// Failed appends found whole after the next open, and found absent.
    failed_present: u64,
    failed_absent: u64,
    /// Writer opens failed by an injected fault during recovery (then retried after a power loss).
    failed_opens: u64,
    acked_appends: u64,
    acked_events: u64,
    /// Records recovery kept beyond the commit point, and opens that cut a torn tail.
    kept_by_recovery: u64,
    tails_cut: u64,
    read_checks: u64,
    /// Acknowledged appends not found on the chain: must be 0.
    lost: u64,
}

/// One ledger's history as the test knows it.
#[derive(Default)]
struct Model {
    /// `(records, head hash)` after every acknowledged append.
    acked: Vec<(u64, [u8; 32])>,
    /// The append that returned an error: records before it, its input, its event count.
    failed: Option<(u64, String, u64)>,
}

/// Read-only opens between appends: they see at least every acknowledged append, every record
/// they see verifies, and they write nothing (no write or sync through the disk, no file of the
/// ledger directory changed or created).
fn read_checks(dir: &Path, disk: &SimDisk, model: &Model, rng: &mut Rng, what: &str, t: &mut Tally) {
    let ops = disk.ops();
    let files = tree_state(dir);
    let (acked_records, acked_hash) = *model.acked.last().expect("an acknowledged append");
    let reader = Ledger::open_read_on(dir, arc(disk)).unwrap_or_else(|e| panic!("{what}: read-only open: {e}"));
    let head = reader.head();
    assert!(
        head.records >= acked_records,
        "{what}: a reader sees {} records, {acked_records} were acked",
        head.records
    );
    let state = reader.state().unwrap_or_else(|e| panic!("{what}: state: {e}"));
    assert_eq!(state.records, head.records, "{what}: state at the head");
    if head.records > 0 && rng.below(3) == 0 {
        let seq = rng.below(head.records);
        let as_of = reader.state_as_of(quotaledger::ledger::AsOf::Seq(seq)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(as_of.records, seq + 1, "{what}: state --as-of {seq}");
    }
    let hashes: Vec<[u8; 32]> =
        reader.records(0).unwrap().map(|r| r.unwrap_or_else(|e| panic!("{what}: a record: {e}")).hash).collect();
    assert_eq!(hashes.len() as u64, head.records, "{what}: records streamed up to the head");
    check_acked(&hashes, model, what, t);
    let depth = if rng.below(3) == 0 { Depth::Rules } else { Depth::Chain };
    let report =
        reader.verify_with(Some(acked_hash), depth).unwrap_or_else(|e| panic!("{what}: verify ({depth:?}): {e}"));
    assert_eq!(report.expected_seq, Some(acked_records - 1), "{what}: the acked head's seq");
    drop(reader);
    assert_eq!(disk.ops(), ops, "{what}: a reader wrote or synced through the disk");
    let diff = tree_diff(&files, &tree_state(dir));
    assert!(diff.is_empty(), "{what}: a reader changed the ledger directory: {diff:?}");
    t.read_checks += 1;
}

fn check_acked(hashes: &[[u8; 32]], model: &Model, what: &str, t: &mut Tally) {
    for &(records, hash) in &model.acked {
        if hashes.get(records as usize - 1) != Some(&hash) {
            t.lost += 1;
            panic!("{what}: the acknowledged append ending at {records} records is lost: {t:?}");
        }
    }
}

/// A power loss: every unsynced write lost, the last one kept as a random prefix.
fn power_loss(disk: &SimDisk, rng: &mut Rng) -> usize {
    let torn = match rng.below(4) {
        0 => 0,
        1 => rng.range(1, 64) as usize,
        _ => rng.range(1, 70_000) as usize,
    };
    disk.crash(torn);
    torn
}

/// Opens the writer after whatever the last round left, with a fault sometimes aimed at the
/// recovery itself; checks what it found against the model and retries a failed append.
fn open_and_check(dir: &Path, disk: &SimDisk, model: &mut Model, rng: &mut Rng, what: &str, t: &mut Tally) -> Ledger {
    let mut w = loop {
        let armed = rng.below(8) == 0;
        if armed {
            disk.fail_after(Some(rng.below(4)));
        }
        match open_writer(dir, disk) {
            Ok(w) => {
                disk.fail_after(None);
                break w;
            }
            Err(e) => {
                assert!(armed, "{what}: the writer does not open, and no fault was injected: {e}");
                t.failed_opens += 1;
                power_loss(disk, rng);
                t.crashes += 1;
            }
        }
    };
    let recovered = w.recovered().expect("a writer");
    t.kept_by_recovery += recovered.records_kept;
    t.tails_cut += u64::from(recovered.bytes_cut > 0);
    let head = w.head();
    let hashes = chain_hashes(dir, disk);
    assert_eq!(hashes.len() as u64, head.records, "{what}: the writer's head and the records");
    assert_eq!(hashes.last().copied().unwrap_or([0; 32]), head.last_hash, "{what}: the head hash");
    check_acked(&hashes, model, what, t);
    let acked_records = model.acked.last().map_or(0, |a| a.0);
    if let Some((before, text, n)) = model.failed.take() {
        assert_eq!(before, acked_records, "{what}: model");
        let after = head.records;
        if after == before {
            t.failed_absent += 1;
        } else if after == before + n {
            t.failed_present += 1;
        } else {
            panic!("{what}: {after} records after a failed append of {n} onto {before}: a partial append");
        }
        // The retry of the same input appends exactly what is missing.
        let report = append(&mut w, &text).unwrap_or_else(|e| panic!("{what}: the retry failed: {e}"));
        assert_eq!(report.appended + report.skipped.len() as u64, n, "{what}: the retry accounts for every line");
        assert_eq!(report.appended, before + n - after, "{what}: the retry appended the wrong amount");
        assert_eq!(report.head.records, before + n, "{what}: after the retry");
        model.acked.push((report.head.records, report.head.last_hash));
        t.acked_appends += 1;
        t.acked_events += report.appended;
    } else {
        assert_eq!(head.records, acked_records, "{what}: records appeared from nowhere");
    }
    w
}

fn power_loss_rounds(rounds: u64, fresh_every: u64, t: &mut Tally) {
    let seed = seed("power loss");
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = PathBuf::new();
    let mut disk = SimDisk::new();
    let mut model = Model::default();
    // Business time only moves forward: each batch starts after the last one.
    let mut clock = 0u64;
    for round in 0..rounds {
        let what = format!("round {round} (seed {seed})");
        if round % fresh_every == 0 {
            if round > 0 {
                // The last round's crash on this ledger, checked before the next ledger starts.
                let w = open_and_check(&dir, &disk, &mut model, &mut rng, &format!("{what}, last open"), t);
                w.verify(None).unwrap_or_else(|e| panic!("{what}: last verify: {e}"));
            }
            dir = tmp.path().join(format!("ledger-{round}"));
            disk = SimDisk::new();
            model = Model::default();
            let mut w = open_writer(&dir, &disk).expect("create");
            let report = append(&mut w, &preamble("acme", "L-1")).expect("preamble");
            model.acked.push((report.head.records, report.head.last_hash));
        }
        let mut w = open_and_check(&dir, &disk, &mut model, &mut rng, &what, t);
        let recovered = w.recovered().expect("a writer");
        let odds = if recovered.records_kept > 0 || recovered.bytes_cut > 0 { 2 } else { 8 };
        if rng.below(odds) == 0 {
            // A power loss right after the open: what recovery did must already be durable.
            drop(w);
            power_loss(&disk, &mut rng);
            t.crashes += 1;
            t.crashes_after_open += 1;
            w = open_and_check(&dir, &disk, &mut model, &mut rng, &what, t);
        }
        let mut failed = false;
        for j in 0..rng.range(1, 3) {
            let n = if rng.below(15) == 0 { rng.range(300, 600) } else { rng.range(1, 40) };
            let text = orders(&format!("r{round}a{j}-"), "L-1", 0, n, clock);
            clock += n;
            let armed = rng.below(3) == 0;
            if armed {
                // Block writes, the segment sync, the HEAD write and its sync: aim at any.
                disk.fail_after(Some(rng.below(2 + n / 250 + 3)));
            }
            let before = w.head().records;
            match append(&mut w, &text) {
                Ok(report) => {
                    assert_eq!(report.appended, n, "{what}: a fresh batch appended in full");
                    model.acked.push((report.head.records, report.head.last_hash));
                    t.acked_appends += 1;
                    t.acked_events += report.appended;
                }
                Err(LedgerError::DerivedFailed { error, .. }) => {
                    panic!("{what}: derived data failed, though no fault reaches it: {error}")
                }
                Err(e) => {
                    assert!(armed, "{what}: an append failed, and no fault was injected: {e}");
                    t.failed_appends += 1;
                    model.failed = Some((before, text, n));
                    failed = true;
                }
            }
            disk.fail_after(None);
            if failed {
                // The writer that saw a failed write accepts nothing more, and writes nothing.
                let ops = disk.ops();
                let next = orders(&format!("r{round}p-"), "L-1", 0, 3, clock);
                let e = append(&mut w, &next).expect_err("a poisoned writer appends nothing");
                assert!(matches!(e, LedgerError::Store(StoreError::Poisoned)), "{what}: after a failed write: {e}");
                assert_eq!(disk.ops(), ops, "{what}: a poisoned writer wrote through the disk");
            }
            if failed || rng.below(2) == 0 {
                read_checks(&dir, &disk, &model, &mut rng, &what, t);
            }
            if failed {
                break;
            }
        }
        drop(w);
        // A process that saw an I/O error often ends there (its writer accepts nothing more).
        if rng.below(if failed { 3 } else { 6 }) == 0 {
            t.restarts += 1;
        } else {
            let torn = power_loss(&disk, &mut rng);
            t.crashes += 1;
            t.torn_writes += u64::from(failed && torn > 0);
        }
        t.rounds += 1;
    }
    // The last round's crash, checked too.
    let w = open_and_check(&dir, &disk, &mut model, &mut rng, "final open", t);
    w.verify(None).expect("final verify");
}

#[test]
fn power_loss_mid_append_loses_no_acknowledged_event_and_leaves_failed_appends_whole_or_absent() {
    let mut t = Tally::default();
    power_loss_rounds(200, 15, &mut t);
    eprintln!("power loss short: {t:?}");
    assert_eq!(t.lost, 0);
    assert!(t.failed_appends >= 20 && t.crashes >= 100, "too few faults landed: {t:?}");
    assert!(t.failed_present > 0 && t.failed_absent > 0, "both outcomes of a failed append: {t:?}");
}

#[test]
#[ignore = "soak: run with `QLEDGER_SOAK=1 cargo test --release --test power_loss -- --ignored`"]
fn soak_power_loss() {
    let mut t = Tally::default();
    power_loss_rounds(5_000, 100, &mut t);
    eprintln!("power loss soak: {t:?}");
    assert_eq!(t.lost, 0);
}
