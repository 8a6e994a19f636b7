//! Crash safety: `qledger append` (thousands of events with idempotency keys) is SIGKILLed at
//! seeded random moments, again and again. After every kill: `verify` passes; the record count is
//! the count before the call or before plus the whole batch; the newest head that was reported
//! (and a random older one) is still on the chain (`verify --expect-head`); the quota state
//! matches the model (every order counted once) and verify's fresh replay; retrying the same
//! file appends exactly what is missing and nothing twice. Then kills during `verify`, `state`,
//! `log` and `export` must damage nothing.
//!
//! Then the faults of the segment store, through the binary:
//! - kill -9 aimed at each step of the commit protocol (`QLEDGER_FAULT_AT`, and twice at a
//!   random moment), and during the catch-up of derived data: readers see the old head or the
//!   whole batch; the next writer keeps a whole interrupted append and says so; the retry
//!   appends exactly what is missing; every reported head stays on the chain;
//! - sled's directory deleted, replaced by an older copy (with or without the old index
//!   manifest, before or after a merge of the index runs) or by garbage: the next writer
//!   catches up from the segments, loses nothing, `verify` passes with the index compared,
//!   `reindex` works;
//! - bytes appended to a segment (garbage, a torn append, a whole append): cut by the next
//!   writer and kept in `recovered/` (or the whole append kept); bytes cut from it or a bit
//!   flipped below the committed length: exit 3, nothing repaired away;
//! - readers write nothing: every read command leaves the ledger directory byte-for-byte (and
//!   mtime for mtime) as it was, and answers the same on a read-only file system.
//!
//! Short mode (CI): `cargo test --test crash` (50 append kills + 1 kill during a staged
//! 100,000-event appends + 20 reader kills + the store faults above, 24 flips).
//! Long mode: `QLEDGER_SOAK=1 cargo test --release --test crash -- --ignored` (1,000 append
//! kills, 20 staged, 200 reader kills; 500 flips, 300 aimed and random kills of the commit protocol). Replay a run with
//! `QLEDGER_SEED=N`.

mod qa_util;

use qa_util::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Default, Debug)]
struct Tally {
    kills: usize,
    before_commit: usize,
    after_commit: usize,
    exited_first: usize,
    reader_kills: usize,
    events_lost: u64,
}

/// Spawns `qledger ARGS` on `ledger`, SIGKILLs it after `delay` unless it exited; returns
/// whether it exited by itself (and its exit code).
fn kill_after(ledger: &Path, args: &[&str], delay: Duration) -> Option<i32> {
    let mut child = command(ledger, args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn qledger");
    let deadline = Instant::now() + delay;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status.code().unwrap_or(-1));
        }
        if Instant::now() >= deadline {
            child.kill().expect("SIGKILL");
            let _ = wait_timeout(&mut child, TIMEOUT, "killed child");
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The checks after every kill. `heads` are `(records, hash)` of every append reported done.
/// Returns the record count.
fn check_after_kill(ledger: &Path, heads: &[(u64, String)], round: usize, rng: &mut Rng, what: &str) -> u64 {
    // Passing `--expect-head` implies a passing plain verify (every hash, link, the head and a
    // fresh replay against the stored state) and that the newest reported head, hence every
    // earlier one, is still on the chain.
    let (records_known, newest) = heads.last().expect("a head").clone();
    let out = run(ledger, &["verify", "--expect-head", &newest]);
    assert_eq!(out.code, Some(0), "{what}: verify --expect-head {newest} after the kill: {}", out.stderr);
    if round.is_multiple_of(5) {
        let (_, older) = &heads[rng.below(heads.len() as u64) as usize];
        let out = run(ledger, &["verify", "--expect-head", older]);
        assert_eq!(out.code, Some(0), "{what}: an older reported head {older} is gone: {}", out.stderr);
    }
    let records = records(ledger);
    assert!(records >= records_known, "{what}: {records} records, fewer than the {records_known} reported");
    // The model: 2 preamble records, then one unit ordered per record.
    let state: serde_json::Value = serde_json::from_str(&ok(ledger, &["state", "--json"])).expect("state json");
    let ordered = state["licenses"][0]["ordered"].as_u64().expect("ordered");
    assert_eq!(ordered, records - 2, "{what}: the state disagrees with the record count");
    assert_eq!(state["totals"]["ordered"].as_u64(), Some(records - 2), "{what}: totals");
    records
}

fn append_kills(rounds: usize, batch: u64, fresh_every: usize, tally: &mut Tally) {
    let seed = seed("crash append kills");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("batch.jsonl");
    let mut ledger = dir.path().join("ledger-0");
    let mut heads: Vec<(u64, String)> = Vec::new();
    let mut t_next = 0u64;
    let start = |ledger: &Path, heads: &mut Vec<(u64, String)>| {
        let pre = dir.path().join("pre.jsonl");
        write(&pre, preamble("acme", "L-1"));
        ok(ledger, &["append", "--create", pre.to_str().unwrap(), "--actor", "clerk"]);
        heads.clear();
        heads.push((2, head_hash(ledger)));
    };
    start(&ledger, &mut heads);
    write(&input, orders("cal-", "L-1", 0, batch, t_next));
    t_next += batch;
    // Calibrate: how long an uninterrupted append of one batch takes here.
    let t = Instant::now();
    ok(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk"]);
    heads.push((records(&ledger), head_hash(&ledger)));
    let span_ms = (t.elapsed().as_millis() as u64).max(20);
    eprintln!("crash: one append of {batch} events takes about {span_ms} ms; killing within {} ms", span_ms * 5 / 4);
    for round in 0..rounds {
        if round > 0 && round % fresh_every == 0 {
            ledger = dir.path().join(format!("ledger-{round}"));
            start(&ledger, &mut heads);
        }
        let what = format!("round {round} (seed {seed})");
        write(&input, orders(&format!("r{round}-"), "L-1", 0, batch, t_next));
        t_next += batch;
        let before = heads.last().expect("head").0;
        // Big (staged) batches: aim at the middle, where blocks are being written ahead.
        let delay = if batch >= 50_000 {
            Duration::from_millis(rng.range(span_ms * 3 / 10, span_ms * 8 / 10))
        } else {
            Duration::from_millis(rng.below(span_ms * 5 / 4 + 1))
        };
        let exited = kill_after(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk"], delay);
        let after = check_after_kill(&ledger, &heads, round, &mut rng, &what);
        match exited {
            Some(code) => {
                assert_eq!(code, 0, "{what}: an append that was not killed failed");
                assert_eq!(after, before + batch, "{what}: a finished append is not all there");
                tally.exited_first += 1;
            }
            None => {
                tally.kills += 1;
                assert!(
                    after == before || after == before + batch,
                    "{what}: {after} records after the kill, neither {before} nor {}: a partial batch",
                    before + batch
                );
                if after == before {
                    tally.before_commit += 1;
                } else {
                    tally.after_commit += 1;
                }
            }
        }
        // Retry the same file: what is missing is appended, nothing twice.
        let out = run(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk", "--json"]);
        assert_eq!(out.code, Some(0), "{what}: the retry failed: {}", out.stderr);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("append --json");
        let appended = report["appended"].as_u64().expect("appended");
        let skipped = report["skipped"].as_array().expect("skipped").len() as u64;
        assert_eq!(appended + skipped, batch, "{what}: retry accounts for every line");
        // A kill after the last block was written but before the commit point moved leaves a whole
        // append beyond it: readers do not see it yet, the next writer keeps it (recovery), and
        // the retry then skips every line.
        let kept_by_recovery = after == before && appended == 0;
        assert!(
            appended == before + batch - after || kept_by_recovery,
            "{what}: the retry appended the wrong amount: {appended} (before {before}, after {after})"
        );
        let now = report["head"]["records"].as_u64().expect("head records");
        assert_eq!(now, before + batch, "{what}: after the retry");
        tally.events_lost += (before + batch).saturating_sub(now);
        heads.push((now, report["head"]["hash"].as_str().expect("head hash").to_string()));
    }
    let final_check = run(&ledger, &["verify", "--expect-head", &heads[1].1]);
    assert_eq!(final_check.code, Some(0), "final: {}", final_check.stderr);
}

fn reader_kills(rounds: usize, tally: &mut Tally) {
    let seed = seed("crash reader kills");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = ledger_in(dir.path());
    let input = dir.path().join("in.jsonl");
    write(&input, preamble("acme", "L-1") + &orders("x", "L-1", 0, 20_000, 0));
    ok(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk"]);
    let head = head_json(&ledger);
    let export_before = export(&ledger);
    let last = (head["records"].as_u64().unwrap() - 1).to_string();
    let readers: [&[&str]; 6] = [
        &["verify"],
        &["state", "--json"],
        &["state", "--as-of", "5000"],
        &["log", "--json"],
        &["export"],
        &["replay", "--to", &last],
    ];
    for round in 0..rounds {
        let args = readers[round % readers.len()];
        let delay = Duration::from_millis(rng.below(400));
        if kill_after(&ledger, args, delay).is_none() {
            tally.reader_kills += 1;
        }
        let what = format!("reader round {round} {args:?} (seed {seed})");
        let out = run(&ledger, &["verify"]);
        assert_eq!(out.code, Some(0), "{what}: verify after killing a reader: {}", out.stderr);
        assert_eq!(head_json(&ledger), head, "{what}: a killed reader changed the head");
    }
    assert!(export(&ledger) == export_before, "killed readers changed the export");
}

#[test]
fn kill_9_during_append_leaves_all_or_nothing_and_retries_append_nothing_twice() {
    let mut t = Tally::default();
    append_kills(50, 1_000, 10, &mut t);
    eprintln!("crash short: {t:?}");
    assert!(t.kills >= 10, "too few kills landed: {t:?}");
    assert_eq!(t.events_lost, 0);
}

#[test]
fn kill_9_during_a_staged_append_of_100k_events() {
    // 100,000 events make more block bytes than STAGE_BYTES_MAX, so blocks are written ahead
    // of the commit, beyond the head; a kill leaves them uncommitted.
    let mut t = Tally::default();
    append_kills(1, 100_000, 1_000, &mut t);
    eprintln!("crash staged: {t:?}");
}

#[test]
fn kill_9_during_readers_damages_nothing() {
    let mut t = Tally::default();
    reader_kills(20, &mut t);
    eprintln!("crash readers: {t:?}");
}

#[test]
#[ignore = "soak: run with `cargo test --release --test crash -- --ignored`"]
fn soak_kill_9() {
    let mut t = Tally::default();
    append_kills(1_000, 2_000, 50, &mut t);
    append_kills(20, 100_000, 5, &mut t);
    reader_kills(200, &mut t);
    eprintln!("crash soak: {t:?}");
    assert_eq!(t.events_lost, 0);
}

/// Regression (found by the long mode after ~900 kills): a kill while sled writes its
/// page-table snapshot leaves `snap.<lsn>.generating`, which sled 0.34 then reads first and
/// refuses as corrupt, so the ledger no longer opened. Unfinished snapshots are removed before
/// sled opens: the previous snapshot and the log still hold everything.
#[test]
fn an_unfinished_sled_snapshot_left_by_a_kill_does_not_lock_the_ledger_out() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    write(&dir.path().join("in.jsonl"), preamble("acme", "L-1") + &orders("o", "L-1", 0, 500, 16_000_000));
    ok(&ledger, &["append", "--create", dir.path().join("in.jsonl").to_str().unwrap()]);
    let head = head_hash(&ledger);
    // What a kill between sled's write and rename of a snapshot leaves: a cut-short file whose
    // name sorts after every finished snapshot.
    write(&ledger.join("meta").join("snap.FFFFFFFFFFFFFFFF.generating"), [0x5a; 40]);
    let out = run(&ledger, &["verify", "--expect-head", &head]);
    assert_eq!(out.code, Some(0), "verify (which never opens sled) after an unfinished snapshot: {}", out.stderr);
    write(&dir.path().join("more.jsonl"), orders("p", "L-1", 0, 5, 17_000_000));
    ok(&ledger, &["append", "--create", dir.path().join("more.jsonl").to_str().unwrap()]);
    assert!(!ledger.join("meta").join("snap.FFFFFFFFFFFFFFFF.generating").exists());
    ok(&ledger, &["verify", "--expect-head", &head]);
}

// ---------------------------------------------------------------------------------------------
// kill -9 aimed at each step of the commit protocol (`QLEDGER_FAULT_AT`, see
// `src/store/writer.rs`), and once at a random moment.
// ---------------------------------------------------------------------------------------------

/// The commit protocol's fault points, in order.
const FAULT_POINTS: [&str; 5] =
    ["blocks-written", "segments-synced", "head-synced", "index-written", "snapshots-written"];
/// The fault points after the commit point moved: the append is there, derived data lags.
const AFTER_COMMIT: [&str; 3] = ["head-synced", "index-written", "snapshots-written"];
const NOTE_KEPT: &str = "qledger: note: kept";
const NOTE_CUT: &str = "qledger: note: cut";

/// No core file from an aborted child, whatever the shell's limit.
fn no_core_dump(c: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            Ok(())
        });
    }
}

/// Runs `qledger ARGS` with `QLEDGER_FAULT_AT=point`: it must die there (SIGABRT, like a
/// kill -9: no destructor, no flush).
fn aborted_at(ledger: &Path, args: &[&str], point: &str) {
    let mut c = command(ledger, args);
    c.env(quotaledger::store::writer::FAULT_ENV, point);
    no_core_dump(&mut c);
    let out = run_cmd(c, None, TIMEOUT, &format!("qledger {args:?} at {point}"));
    assert_eq!(out.code, None, "qledger {args:?} with QLEDGER_FAULT_AT={point} must abort there: {}", out.stderr);
}

/// `append FILE --json`: the report and stderr (exit 0 asserted).
fn append_json(ledger: &Path, input: &Path, what: &str) -> (serde_json::Value, String) {
    let out = run(ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk", "--json"]);
    assert_eq!(out.code, Some(0), "{what}: append failed: {}", out.stderr);
    (serde_json::from_slice(&out.stdout).expect("append --json"), out.stderr)
}

fn reported_head(report: &serde_json::Value) -> (u64, String) {
    (report["head"]["records"].as_u64().expect("records"), report["head"]["hash"].as_str().expect("hash").to_string())
}

/// After a kill: `head`, `state --json`, `verify` and `export` succeed and agree; every head
/// reported so far is on the chain at its seq (in the export; the newest and the oldest also by
/// `verify --expect-head`). The model: 2 preamble records, then one unit ordered per record.
fn readers_see(ledger: &Path, heads: &[(u64, String)], what: &str) -> u64 {
    let records = records(ledger);
    let state: serde_json::Value = serde_json::from_str(&ok(ledger, &["state", "--json"])).expect("state json");
    assert_eq!(state["totals"]["ordered"].as_u64(), Some(records - 2), "{what}: state --json vs the head");
    let hashes: Vec<String> = export(ledger)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<serde_json::Value>(l).expect("export line")["hash"].to_string())
        .collect();
    assert_eq!(hashes.len() as u64, records, "{what}: export vs the head");
    for (n, hash) in heads {
        assert!(*n <= records, "{what}: {records} records, {n} were reported");
        assert_eq!(hashes[*n as usize - 1], format!("{hash:?}"), "{what}: the head reported at {n} records is gone");
    }
    let ends = [heads.first(), heads.last()];
    for (n, hash) in ends.into_iter().flatten() {
        let out = run(ledger, &["verify", "--expect-head", hash]);
        assert_eq!(out.code, Some(0), "{what}: verify --expect-head {hash} ({n} records): {}", out.stderr);
    }
    records
}

/// A ledger with the preamble and one batch; returns the heads reported.
fn start_ledger(dir: &Path, ledger: &Path, clock: &mut u64) -> Vec<(u64, String)> {
    let pre = dir.join("pre.jsonl");
    write(&pre, preamble("acme", "L-1") + &orders("base-", "L-1", 0, 200, *clock));
    *clock += 200;
    let (report, _) = append_json(ledger, &pre, "start");
    vec![reported_head(&report)]
}

#[derive(Debug, Default)]
struct FaultTally {
    aimed: usize,
    random_kills: usize,
    old_head_seen: usize,
    whole_batch_seen: usize,
    kept_by_recovery: usize,
    cut_by_recovery: usize,
    retried_appended: u64,
    /// Random kills that left the whole append beyond the commit point: killed after its last
    /// block was written and before `HEAD` was (`src/ledger/append.rs` `commit`, then
    /// `Writer::commit`: the segments' `fdatasync` lies in between). The next writer keeps such
    /// an append, as it does after the aimed kills at `blocks-written` and `segments-synced`.
    random_whole_beyond: usize,
}

/// What a killed append left beyond the commit point, read from the segment files before the
/// next writer opens the ledger, and what recovery must therefore do (README, "Recovery"): keep
/// the records of the whole, valid blocks that continue the seqs and the chain from the commit
/// point up to the last `COMMIT` block, and cut every byte after them.
#[derive(Debug)]
struct Beyond {
    /// Bytes beyond the committed length: the rest of its segment and every later segment file.
    bytes: u64,
    /// The hashes of the records recovery must keep, in chain order.
    kept: Vec<[u8; 32]>,
    /// Bytes recovery must cut (copied to `recovered/` first).
    cut: u64,
}

fn beyond_head(ledger: &Path) -> Beyond {
    use quotaledger::format::chain::record_hash;
    use quotaledger::format::segment::{locator, FLAG_COMMIT, SEGMENT_HEADER_BYTES};
    let slot = quotaledger::store::read_commit_point(&quotaledger::store::disk::RealDisk, ledger).expect("HEAD");
    let size = |first: u64| std::fs::metadata(segments::segment_path(ledger, first)).expect("segment").len();
    let bytes: u64 = segments::segment_firsts(ledger)
        .into_iter()
        .filter(|&f| f >= slot.segment_first_seq)
        .map(|f| size(f) - if f == slot.segment_first_seq { slot.segment_len } else { 0 })
        .sum();
    // Every block that parses, in chain order; the committed ones end exactly at the commit
    // point. Beyond it, blocks count while they are whole and valid.
    let segs = segments::Segments::read(ledger);
    let (mut seq, mut prev) = (0u64, [0u8; 32]);
    let (mut hashes, mut kept, mut kept_bytes, mut run_bytes) = (Vec::new(), Vec::new(), 0u64, 0u64);
    'files: for file in &segs.files {
        if file.first_seq > slot.segment_first_seq {
            // A later segment continues the chain only if it starts at the next seq.
            if file.first_seq != seq {
                break;
            }
            run_bytes += SEGMENT_HEADER_BYTES as u64;
        }
        let mut offset = SEGMENT_HEADER_BYTES as u64;
        for b in &file.blocks {
            let encoded = b.encode(false);
            let beyond = seq >= slot.records;
            // Beyond the head, whole is not enough: checksum, seq, link and every locator.
            let valid = encoded == b.encode(true) && b.first_seq == seq && b.prev == prev && {
                let mut p = prev;
                b.records.iter().all(|r| {
                    p = record_hash(&r.bytes(&p));
                    r.locator == locator(&p)
                })
            };
            if beyond && !valid {
                break 'files;
            }
            for r in &b.records {
                prev = record_hash(&r.bytes(&prev));
                if beyond {
                    hashes.push(prev);
                }
            }
            seq += b.records.len() as u64;
            offset += encoded.len() as u64;
            if beyond {
                run_bytes += encoded.len() as u64;
                if b.flags & FLAG_COMMIT != 0 {
                    kept.clone_from(&hashes);
                    kept_bytes = run_bytes;
                }
            } else if seq == slot.records {
                assert_eq!(
                    (file.first_seq, offset),
                    (slot.segment_first_seq, slot.segment_len),
                    "the head ends a block"
                );
                assert_eq!(prev, slot.last_hash, "the commit point's hash is the chain's");
            }
        }
        if !file.tail.is_empty() {
            break;
        }
    }
    Beyond { bytes, kept, cut: bytes - kept_bytes }
}

/// One round: `append` of `n` events killed at `point` ("random": after a random delay), then
/// readers, the next writer (a new batch), and the retry of the killed input with new lines.
/// What recovery must keep and cut is read from the bytes beyond the commit point before the
/// next writer opens: a random kill may land anywhere, after the last block was written and
/// before `HEAD` was included, where it leaves the same whole append as an aimed kill at
/// `blocks-written` or `segments-synced`.
fn fault_round(dir: &Path, ledger: &Path, point: &str, rng: &mut Rng, clock: &mut u64, t: &mut FaultTally) {
    let mut heads = start_ledger(dir, ledger, clock);
    let before = heads[0].0;
    let what = format!("kill at {point}");
    let n = 300;
    let batch = orders(&format!("{point}-"), "L-1", 0, n, *clock);
    *clock += n;
    let input = dir.join(format!("{point}.jsonl"));
    write(&input, &batch);
    if point == "random" {
        t.random_kills += usize::from(
            kill_after(ledger, &["append", "--create", input.to_str().unwrap()], Duration::from_millis(rng.below(120)))
                .is_none(),
        );
    } else {
        aborted_at(ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "clerk"], point);
        t.aimed += 1;
    }
    // Readers: the old head or the whole batch, never a part.
    let seen = readers_see(ledger, &heads, &what);
    match point {
        "blocks-written" | "segments-synced" => assert_eq!(seen, before, "{what}: readers see the old head"),
        p if AFTER_COMMIT.contains(&p) => assert_eq!(seen, before + n, "{what}: readers see the whole batch"),
        _ => assert!(seen == before || seen == before + n, "{what}: {seen} records: a partial batch"),
    }
    if seen == before {
        t.old_head_seen += 1;
    } else {
        t.whole_batch_seen += 1;
    }
    // What the kill left beyond the commit point, before the next writer touches it: a killed
    // append is all there (whole, valid, ending in COMMIT) or recovery keeps none of it.
    let beyond = beyond_head(ledger);
    let whole_beyond = !beyond.kept.is_empty();
    assert!(
        beyond.kept.is_empty() || beyond.kept.len() as u64 == n,
        "{what}: {} records of a whole append beyond the head, not {n}: {beyond:?}",
        beyond.kept.len()
    );
    match point {
        "blocks-written" | "segments-synced" => assert!(whole_beyond, "{what}: the batch lies beyond the head"),
        p if AFTER_COMMIT.contains(&p) => assert_eq!(beyond.bytes, 0, "{what}: nothing beyond the head"),
        _ => t.random_whole_beyond += usize::from(whole_beyond),
    }
    if whole_beyond {
        assert_eq!(seen, before, "{what}: an append beyond the head is not committed");
    }
    // The next writer recovers, and retries the killed input with 5 new lines: exactly what is
    // missing is appended, nothing twice.
    let retry = dir.join("retry.jsonl");
    write(&retry, batch + &orders(&format!("{point}-more-"), "L-1", 0, 5, *clock));
    *clock += 5;
    let (report, stderr) = append_json(ledger, &retry, &format!("{what}: the next append"));
    let appended = report["appended"].as_u64().expect("appended");
    let skipped = report["skipped"].as_array().map_or(0, |s| s.len() as u64);
    assert_eq!(appended + skipped, n + 5, "{what}: the retry accounts for every line");
    assert!(appended >= 5, "{what}: the new lines are appended: {report}");
    // What the ledger held once the next writer had recovered.
    let after = before + skipped;
    match point {
        // Its blocks were whole (synced, or whole in the page cache): the next writer keeps
        // the whole append and says so.
        "blocks-written" | "segments-synced" => {
            assert_eq!(after, before + n, "{what}: the next writer keeps the whole interrupted append");
            assert!(
                stderr.contains(&format!("{NOTE_KEPT} {n} records of an interrupted append")),
                "{what}: the next writer's note: {stderr:?}"
            );
        }
        p if AFTER_COMMIT.contains(&p) => {
            assert_eq!(after, before + n, "{what}: a committed append is kept");
            assert!(stderr.is_empty(), "{what}: nothing to recover, nothing to say: {stderr:?}");
        }
        _ => assert!(after == before || after == before + n, "{what}: {after} records after recovery"),
    }
    // Recovery keeps exactly the whole append the kill left beyond the head (and says so), and
    // cuts exactly what follows it.
    if stderr.contains(NOTE_KEPT) {
        t.kept_by_recovery += 1;
        assert!(seen == before && after == before + n, "{what}: kept only a whole append beyond the head");
    } else {
        assert_eq!(after, seen, "{what}: without a note, the next writer starts from the head readers saw");
    }
    assert_eq!(
        stderr.contains(&format!("{NOTE_KEPT} {n} records of an interrupted append")),
        whole_beyond,
        "{what}: kept if and only if a whole append lay beyond the head ({beyond:?}): {stderr:?}"
    );
    assert_eq!(
        stderr.contains(&format!("{NOTE_CUT} {} bytes", beyond.cut)),
        beyond.cut > 0,
        "{what}: cut exactly the {} bytes after the last whole append ({beyond:?}): {stderr:?}",
        beyond.cut
    );
    t.cut_by_recovery += usize::from(stderr.contains(NOTE_CUT));
    if whole_beyond {
        // The records kept are the ones the killed append wrote: the input's lines in order,
        // hashing as they did on disk before recovery.
        let lines: Vec<serde_json::Value> = export(ledger)
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .skip(before as usize)
            .take(n as usize)
            .map(|l| serde_json::from_slice(l).expect("export line"))
            .collect();
        for (i, (line, hash)) in lines.iter().zip(&beyond.kept).enumerate() {
            assert_eq!(line["key"].as_str(), Some(format!("k-{point}-{i}").as_str()), "{what}: kept record {i}");
            assert_eq!(
                line["hash"].as_str(),
                Some(quotaledger::format::chain::hex(hash).as_str()),
                "{what}: kept record {i}"
            );
        }
        assert_eq!(lines.len() as u64, n, "{what}: the kept records");
    }
    let missing = before + n - after;
    assert_eq!(appended, missing + 5, "{what}: the retry appends exactly what is missing");
    t.retried_appended += missing;
    heads.push(reported_head(&report));
    assert_eq!(readers_see(ledger, &heads, &what), before + n + 5, "{what}: in the end");
    let v: serde_json::Value = serde_json::from_str(&ok(ledger, &["verify", "--json"])).expect("verify --json");
    assert_eq!(v["index_records"], v["records"], "{what}: the index caught up: {v}");
}

#[test]
fn kill_9_at_each_commit_step_leaves_the_old_head_or_the_whole_batch_and_retries_append_what_is_missing() {
    let seed = seed("crash fault points");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    let mut t = FaultTally::default();
    for (i, point) in FAULT_POINTS.iter().chain(&["random", "random"]).enumerate() {
        let ledger = dir.path().join(format!("ledger-{i}-{point}"));
        fault_round(dir.path(), &ledger, point, &mut rng, &mut clock, &mut t);
    }
    eprintln!("crash fault points: {t:?}");
    assert_eq!(t.aimed, FAULT_POINTS.len());
    // blocks-written and segments-synced are kept by the next writer; so is a random kill that
    // landed after the last block was written and before HEAD was (checked round by round
    // against the bytes beyond the head: whole, valid, and the input's records).
    assert_eq!(
        t.kept_by_recovery,
        2 + t.random_whole_beyond,
        "blocks-written, segments-synced and every random kill that left a whole append beyond the head are kept by the next writer: {t:?}"
    );
}

#[test]
fn kill_9_during_the_catch_up_of_derived_data_damages_nothing() {
    // After a kill at `head-synced` the index and the snapshots lag the chain; the next writer
    // catches them up on open (the same steps 4 and 5 as an append): kill it there too.
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    for point in ["index-written", "snapshots-written"] {
        let ledger = dir.path().join(format!("ledger-{point}"));
        let mut heads = start_ledger(dir.path(), &ledger, &mut clock);
        let input = dir.path().join("batch.jsonl");
        write(&input, orders(&format!("{point}-"), "L-1", 0, 100, clock));
        clock += 100;
        aborted_at(&ledger, &["append", "--create", input.to_str().unwrap()], "head-synced");
        let next = dir.path().join("next.jsonl");
        write(&next, orders(&format!("{point}-next-"), "L-1", 0, 10, clock));
        clock += 10;
        aborted_at(&ledger, &["append", "--create", next.to_str().unwrap()], point);
        let what = format!("kill during the catch-up at {point}");
        assert_eq!(readers_see(&ledger, &heads, &what), heads[0].0 + 100, "{what}: the committed batch");
        let (report, stderr) = append_json(&ledger, &next, &what);
        assert!(stderr.is_empty(), "{what}: {stderr:?}");
        assert_eq!(report["appended"].as_u64(), Some(10), "{what}");
        heads.push(reported_head(&report));
        assert_eq!(readers_see(&ledger, &heads, &what), heads[0].0 + 110, "{what}");
        let v: serde_json::Value = serde_json::from_str(&ok(&ledger, &["verify", "--json"])).expect("verify --json");
        assert_eq!(v["index_records"], v["records"], "{what}: the index caught up: {v}");
    }
}

// ---------------------------------------------------------------------------------------------
// sled's directory (PATH/meta) lost, or rolled back to an older copy of itself: it holds only
// derived data; the next writer rebuilds or catches up from the segments.
// ---------------------------------------------------------------------------------------------

/// Appends `count` batches of 50 orders; returns the heads reported.
fn more_batches(dir: &Path, ledger: &Path, count: usize, clock: &mut u64) -> Vec<(u64, String)> {
    let mut heads = Vec::new();
    for _ in 0..count {
        let input = dir.join("more.jsonl");
        write(&input, orders(&format!("m{clock}-"), "L-1", 0, 50, *clock));
        *clock += 50;
        let (report, stderr) = append_json(ledger, &input, "a batch");
        assert!(stderr.is_empty(), "{stderr:?}");
        heads.push(reported_head(&report));
    }
    heads
}

/// `verify --json` passes with the index compared in full; returns its report.
fn verify_with_index(ledger: &Path, what: &str) -> serde_json::Value {
    let out = run(ledger, &["verify", "--json"]);
    assert_eq!(out.code, Some(0), "{what}: verify: {}", out.stderr);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verify --json");
    assert_eq!(v["index_records"], v["records"], "{what}: the index covers the chain: {v}");
    assert!(v["index_entries"].as_u64() > Some(0), "{what}: the index was compared: {v}");
    v
}

/// The next writer after the loss: it appends, loses nothing, the index matches a rebuild, and
/// `reindex` works and changes no record.
fn next_writer_catches_up(dir: &Path, ledger: &Path, heads: &mut Vec<(u64, String)>, clock: &mut u64, what: &str) {
    let export_before = export(ledger);
    readers_see(ledger, heads, &format!("{what}: before the next writer"));
    heads.extend(more_batches(dir, ledger, 1, clock));
    assert!(export(ledger).starts_with(&export_before), "{what}: the records before are unchanged");
    readers_see(ledger, heads, what);
    let v = verify_with_index(ledger, what);
    let out = run(ledger, &["reindex"]);
    assert_eq!(out.code, Some(0), "{what}: reindex: {}", out.stderr);
    assert_eq!(verify_with_index(ledger, &format!("{what}: after reindex")), v, "{what}: reindex found another index");
    readers_see(ledger, heads, &format!("{what}: after reindex"));
}

#[test]
fn a_deleted_meta_directory_is_rebuilt_from_the_segments_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    let mut clock = 0;
    let mut heads = start_ledger(dir.path(), &ledger, &mut clock);
    // More live index runs than RUNS_MAX (8): the index has been merged at least once.
    heads.extend(more_batches(dir.path(), &ledger, 8, &mut clock));
    std::fs::remove_dir_all(ledger.join("meta")).unwrap();
    next_writer_catches_up(dir.path(), &ledger, &mut heads, &mut clock, "meta deleted");
    // `reindex` straight after the loss works too.
    std::fs::remove_dir_all(ledger.join("meta")).unwrap();
    let out = run(&ledger, &["reindex"]);
    assert_eq!(out.code, Some(0), "reindex without meta: {}", out.stderr);
    verify_with_index(&ledger, "reindex without meta");
    readers_see(&ledger, &heads, "reindex without meta");
}

#[test]
fn an_older_copy_of_meta_put_back_is_caught_up_from_the_segments_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    // One batch later (the old manifest's runs all exist), or six (more than RUNS_MAX runs: a
    // merge removed them); with the old index/MANIFEST put back as well, or the current one.
    for (later, old_manifest) in [(1, false), (1, true), (6, false), (6, true)] {
        let what = format!("meta {later} batches old, old index/MANIFEST: {old_manifest}");
        let ledger = dir.path().join(format!("ledger-{later}-{old_manifest}"));
        let mut heads = start_ledger(dir.path(), &ledger, &mut clock);
        heads.extend(more_batches(dir.path(), &ledger, 3, &mut clock));
        let aside = dir.path().join(format!("aside-{later}-{old_manifest}"));
        copy_dir(&ledger.join("meta"), &aside.join("meta"));
        std::fs::copy(ledger.join("index/MANIFEST"), aside.join("MANIFEST")).unwrap();
        let runs_then: Vec<PathBuf> = files_under(&ledger.join("index")).into_iter().filter(|f| f.exists()).collect();
        heads.extend(more_batches(dir.path(), &ledger, later, &mut clock));
        let merged = runs_then.iter().any(|f| !f.exists());
        assert_eq!(merged, later > 1, "{what}: whether a merge removed the old manifest's runs");
        std::fs::remove_dir_all(ledger.join("meta")).unwrap();
        copy_dir(&aside.join("meta"), &ledger.join("meta"));
        if old_manifest {
            std::fs::copy(aside.join("MANIFEST"), ledger.join("index/MANIFEST")).unwrap();
        }
        next_writer_catches_up(dir.path(), &ledger, &mut heads, &mut clock, &what);
    }
}

#[test]
fn a_writer_that_removes_the_runs_of_a_stale_published_manifest_republishes_it_first() {
    // A kill between sled taking a new index manifest and its publication in index/MANIFEST
    // (the merge or reindex path: sled is synced in between, a window of milliseconds) leaves
    // readers a MANIFEST naming the old runs, all still there. The next writer removes the
    // runs sled does not list: if it appends nothing (a retry whose every line is skipped,
    // `init`), readers must not be left with a MANIFEST naming removed files.
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    let mut clock = 0;
    let mut heads = start_ledger(dir.path(), &ledger, &mut clock);
    heads.extend(more_batches(dir.path(), &ledger, 2, &mut clock));
    let old = dir.path().join("old-index");
    copy_dir(&ledger.join("index"), &old);
    ok(&ledger, &["reindex"]);
    // The state such a kill leaves: sled names the new runs, MANIFEST the old ones, both exist.
    for f in files_under(&old) {
        let to = ledger.join("index").join(f.file_name().unwrap());
        if !to.exists() || f.ends_with("MANIFEST") {
            std::fs::copy(&f, &to).unwrap();
        }
    }
    verify_with_index(&ledger, "the state a kill before the publication leaves");
    // Writers that append nothing.
    let all_known = dir.path().join("known.jsonl");
    write(&all_known, orders("base-", "L-1", 0, 10, 0));
    for (args, what) in
        [(&["init"][..], "init"), (&["append", "--create", all_known.to_str().unwrap()], "an all-skipped append")]
    {
        let out = run(&ledger, args);
        assert_eq!(out.code, Some(0), "{what}: {}", out.stderr);
        verify_with_index(&ledger, &format!("after {what}"));
    }
    readers_see(&ledger, &heads, "in the end");
}

#[test]
fn a_meta_directory_sled_cannot_open_is_set_aside_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    let mut clock = 0;
    let mut heads = start_ledger(dir.path(), &ledger, &mut clock);
    heads.extend(more_batches(dir.path(), &ledger, 2, &mut clock));
    let mut rng = Rng::new(seed("crash garbage meta"));
    for f in files_under(&ledger.join("meta")) {
        let len = std::fs::metadata(&f).unwrap().len().max(64);
        write(&f, (0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>());
    }
    next_writer_catches_up(dir.path(), &ledger, &mut heads, &mut clock, "meta overwritten with garbage");
}

// ---------------------------------------------------------------------------------------------
// Bytes appended to, cut from, or flipped in a segment file: beyond the committed length they
// are cut by the next writer and kept in PATH/recovered/; below it they are an integrity
// failure (exit 3), never repaired away.
// ---------------------------------------------------------------------------------------------

/// The segment file of the commit point and the committed length (from `HEAD`).
fn commit_point(ledger: &Path) -> (PathBuf, u64) {
    let slot = quotaledger::store::read_commit_point(&quotaledger::store::disk::RealDisk, ledger).expect("HEAD");
    (ledger.join("segments").join(quotaledger::store::segment::segment_name(slot.segment_first_seq)), slot.segment_len)
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    use std::io::Write as _;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

fn random_bytes(rng: &mut Rng, n: u64) -> Vec<u8> {
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// A ledger of the preamble and three batches, all committed (nothing beyond the head); and
/// where its last block (the last batch: one block) starts.
fn segment_base(dir: &Path, clock: &mut u64) -> (PathBuf, Vec<(u64, String)>, u64) {
    let base = dir.join("base");
    let mut heads = start_ledger(dir, &base, clock);
    heads.extend(more_batches(dir, &base, 1, clock));
    let (_, last_block) = commit_point(&base);
    heads.extend(more_batches(dir, &base, 1, clock));
    let (seg, len) = commit_point(&base);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), len, "a clean ledger has nothing beyond its head");
    (base, heads, last_block)
}

#[test]
fn bytes_beyond_the_committed_length_are_cut_by_the_next_writer_and_kept_in_recovered() {
    let seed = seed("crash segment tail");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    let (base, heads, _) = segment_base(dir.path(), &mut clock);
    // The blocks of a whole 700-event append (several blocks) onto the same chain, taken from a
    // copy of the ledger.
    let copy = dir.path().join("copy");
    copy_dir(&base, &copy);
    let (_, len) = commit_point(&base);
    let more = dir.path().join("700.jsonl");
    write(&more, orders("w-", "L-1", 0, 700, clock));
    clock += 700;
    ok(&copy, &["append", "--create", more.to_str().unwrap()]);
    let whole = std::fs::read(commit_point(&copy).0).unwrap()[len as usize..].to_vec();
    let torn = whole[..rng.range(1, whole.len() as u64 - 1) as usize].to_vec();
    let garbage_len = rng.range(1, 5_000);
    let garbage = random_bytes(&mut rng, garbage_len);
    // (case, bytes appended, records the next writer keeps, bytes it cuts)
    let cases: [(&str, Vec<u8>, u64, Vec<u8>); 3] = [
        ("garbage", garbage.clone(), 0, garbage.clone()),
        ("a torn append", torn.clone(), 0, torn),
        ("a whole append, then garbage", [whole.clone(), garbage.clone()].concat(), 700, garbage),
    ];
    for (i, (case, tail, kept, cut)) in cases.into_iter().enumerate() {
        let what = format!("{case} beyond the committed length (seed {seed})");
        let ledger = dir.path().join(format!("ledger-{i}"));
        copy_dir(&base, &ledger);
        let (seg, len) = commit_point(&ledger);
        let committed = std::fs::read(&seg).unwrap();
        let export_before = export(&ledger);
        append_bytes(&seg, &tail);
        // Readers read the committed prefix only.
        assert!(export(&ledger) == export_before, "{what}: readers see what lies beyond the head");
        readers_see(&ledger, &heads, &what);
        let input = dir.path().join("next.jsonl");
        write(&input, orders(&format!("n{i}-"), "L-1", 0, 5, clock));
        clock += 5;
        let (report, stderr) = append_json(&ledger, &input, &what);
        assert_eq!(report["appended"].as_u64(), Some(5), "{what}");
        assert_eq!(reported_head(&report).0, heads.last().unwrap().0 + kept + 5, "{what}: records kept");
        if kept > 0 {
            assert!(stderr.contains(&format!("{NOTE_KEPT} {kept} records")), "{what}: {stderr:?}");
        }
        let recovered = ledger.join("recovered");
        assert!(
            stderr.contains(&format!("{NOTE_CUT} {} bytes", cut.len()))
                && stderr.contains(&*recovered.to_string_lossy()),
            "{what}: the next writer's note: {stderr:?}"
        );
        let from = len + (tail.len() - cut.len()) as u64;
        let name = format!("{}.{from}.tail", seg.file_name().unwrap().to_string_lossy());
        let kept_file =
            std::fs::read(recovered.join(&name)).unwrap_or_else(|e| panic!("{what}: recovered/{name}: {e}"));
        assert!(kept_file == cut, "{what}: recovered/{name} holds other bytes than the ones cut");
        assert_eq!(files_under(&recovered).len(), 1, "{what}: one file in recovered/");
        let now = std::fs::read(&seg).unwrap();
        assert!(now.starts_with(&committed), "{what}: the committed bytes changed");
        if kept > 0 {
            assert!(now[len as usize..].starts_with(&whole), "{what}: the kept append's bytes changed");
        }
        let mut all = heads.clone();
        all.push(reported_head(&report));
        readers_see(&ledger, &all, &what);
        verify_with_index(&ledger, &what);
    }
}

/// Attempts an append on a damaged ledger: exit 3, one line, and not a byte of the ledger
/// directory changed: the damage is not repaired away, nothing is cut. Only sled's own files
/// (`meta/`, derived) may change, when the writer got as far as opening sled before it found
/// the damage (sled 0.34 rewrites its page-table snapshot on open) and `meta_may_change`.
fn append_refused_exit_3(ledger: &Path, input: &Path, what: &str, meta_may_change: bool) {
    let before = tree_state(ledger);
    let out = run(ledger, &["append", "--create", input.to_str().unwrap()]);
    assert_eq!(out.code, Some(3), "{what}: append must fail with exit 3: {}", out.stderr);
    out.assert_one_line_error(what);
    let meta = ledger.join("meta");
    let mut diff = tree_diff(&before, &tree_state(ledger));
    diff.retain(|d| !(meta_may_change && d.split_whitespace().nth(1).is_some_and(|p| Path::new(p).starts_with(&meta))));
    assert!(diff.is_empty(), "{what}: a refused append changed the ledger: {diff:?}");
}

fn verify_fails_exit_3(ledger: &Path, what: &str) -> String {
    let out = run(ledger, &["verify"]);
    assert_eq!(out.code, Some(3), "{what}: verify must fail with exit 3: {}", out.stderr);
    out.assert_one_line_error(what);
    out.stderr
}

#[test]
fn bytes_cut_from_a_segment_below_the_committed_length_are_exit_3_and_never_repaired() {
    let seed = seed("crash segment cut");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    let (base, heads, _) = segment_base(dir.path(), &mut clock);
    let (_, len) = commit_point(&base);
    let input = dir.path().join("next.jsonl");
    write(&input, orders("n-", "L-1", 0, 5, clock));
    let cuts = [1, rng.range(2, 300), rng.range(300, len - 1), len, u64::MAX];
    for (i, cut) in cuts.into_iter().enumerate() {
        let what = if cut == u64::MAX {
            "the segment file removed".to_string()
        } else {
            format!("{cut} bytes cut from the end of {len} (seed {seed})")
        };
        let ledger = dir.path().join(format!("ledger-{i}"));
        copy_dir(&base, &ledger);
        let (seg, _) = commit_point(&ledger);
        let original = std::fs::read(&seg).unwrap();
        if cut == u64::MAX {
            std::fs::remove_file(&seg).unwrap();
        } else {
            std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - cut).unwrap();
        }
        verify_fails_exit_3(&ledger, &what);
        for args in [&["export"][..], &["log"], &["state", "--full-replay"]] {
            let out = run(&ledger, args);
            assert_eq!(out.code, Some(3), "{what}: {args:?} must fail with exit 3: {}", out.stderr);
        }
        append_refused_exit_3(&ledger, &input, &what, false);
        append_refused_exit_3(&ledger, &input, &format!("{what}, second attempt"), false);
        assert!(!ledger.join("recovered").exists(), "{what}: nothing below the head is 'recovered'");
        // Nothing was repaired away: with the bytes put back, the ledger is whole again.
        std::fs::write(&seg, &original).unwrap();
        readers_see(&ledger, &heads, &format!("{what}, bytes put back"));
    }
}

#[test]
fn a_bit_flipped_below_the_committed_length_is_exit_3_and_never_repaired() {
    segment_flips(24);
}

#[test]
#[ignore = "soak: run with `QLEDGER_SOAK=1 cargo test --release --test crash -- --ignored`"]
fn soak_store_faults() {
    segment_flips(500);
    let seed = seed("crash soak random kills");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    let mut t = FaultTally::default();
    for round in 0..50 {
        for point in FAULT_POINTS.iter().chain(&["random"]) {
            let ledger = dir.path().join(format!("ledger-{round}-{point}"));
            fault_round(dir.path(), &ledger, point, &mut rng, &mut clock, &mut t);
            std::fs::remove_dir_all(&ledger).unwrap();
        }
    }
    eprintln!("crash soak fault points: {t:?}");
}

fn segment_flips(rounds: usize) {
    // `verify` reads everything and catches every flip. An append reads the segment header and
    // the block of the head's record (it refuses a chain whose end is damaged, exit 3); it
    // does not read the whole chain (a single call must not grow with the ledger), so over a
    // flip further back it may append, but never touches a byte below the committed length.
    let seed = seed("crash segment flips");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut clock = 0;
    let (base, heads, last_block) = segment_base(dir.path(), &mut clock);
    let (seg_base, len) = commit_point(&base);
    let header = quotaledger::format::segment::SEGMENT_HEADER_BYTES as u64;
    let input = dir.path().join("next.jsonl");
    write(&input, orders("n-", "L-1", 0, 5, clock));
    let (mut refused, mut appended) = (0, 0);
    let work = dir.path().join("work");
    for round in 0..rounds {
        // The segment header, the last block, anywhere.
        let offset = match round % 3 {
            0 => rng.below(header),
            1 => rng.range(last_block, len - 1),
            _ => rng.below(len),
        };
        let bit = 1u8 << rng.below(8);
        let what = format!("bit {bit:#x} flipped at offset {offset} of {len} (seed {seed})");
        let _ = std::fs::remove_dir_all(&work);
        copy_dir(&base, &work);
        let seg = work.join("segments").join(seg_base.file_name().unwrap());
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[offset as usize] ^= bit;
        std::fs::write(&seg, &bytes).unwrap();
        verify_fails_exit_3(&work, &what);
        if offset < header || offset >= last_block {
            append_refused_exit_3(&work, &input, &what, true);
            refused += 1;
        } else {
            let out = run(&work, &["append", "--create", input.to_str().unwrap()]);
            match out.code {
                Some(3) => refused += 1,
                Some(0) => appended += 1,
                _ => panic!("{what}: append: exit {:?}: {}", out.code, out.stderr),
            }
            let now = std::fs::read(&seg).unwrap();
            assert!(now.starts_with(&bytes), "{what}: bytes below the committed length changed");
        }
        verify_fails_exit_3(&work, &format!("{what}, after the append attempt"));
        // Nothing was repaired away: with the bit put back, the chain is whole again.
        let mut now = std::fs::read(&seg).unwrap();
        now[offset as usize] ^= bit;
        std::fs::write(&seg, &now).unwrap();
        let out = run(&work, &["verify", "--expect-head", &heads.last().unwrap().1]);
        assert_eq!(out.code, Some(0), "{what}: with the bit put back: {}", out.stderr);
    }
    eprintln!(
        "crash segment flips: {rounds} flips, appends refused {refused}, appended over a flip further back {appended}"
    );
    assert!(refused >= rounds * 2 / 3, "the header and last-block flips are refused");
}

// ---------------------------------------------------------------------------------------------
// Readers write nothing, anywhere: not sled (they never open it), not the derived data, not
// what lies beyond the head (only a writer recovers).
// ---------------------------------------------------------------------------------------------

/// Every read command, with its options.
fn read_commands(ledger: &Path) -> Vec<Vec<String>> {
    let head = head_json(ledger);
    let hash = head["hash"].as_str().unwrap().to_string();
    let last = head["seq"].as_u64().unwrap().to_string();
    let cmds: [&[&str]; 22] = [
        &["head"],
        &["head", "--json"],
        &["state"],
        &["state", "--json"],
        &["state", "--as-of", "5"],
        &["state", "--as-of", "2026-02-01T00:01:00Z"],
        &["state", "--full-replay"],
        &["state", "--license", "L-1", "--json"],
        &["state", "--party", "acme"],
        &["log"],
        &["log", "--json"],
        &["log", "--order", "O-base-3"],
        &["log", "--from", "3", "--limit", "5"],
        &["replay"],
        &["replay", "--json", "--license", "L-1"],
        &["replay", "--from", "2", "--to", &last],
        &["export"],
        &["verify"],
        &["verify", "--json"],
        &["verify", "--chain-only"],
        &["verify", "--expect-head", &hash],
        &["verify", "--chain-only", "--expect-head", &hash],
    ];
    cmds.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect()
}

/// Runs every read command (each must exit 0); returns their outputs.
fn run_readers(ledger: &Path, cmds: &[Vec<String>], what: &str) -> Vec<Vec<u8>> {
    cmds.iter()
        .map(|c| {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            let out = run_nowait(ledger, &args);
            assert_eq!(out.code, Some(0), "{what}: qledger {args:?}: {}", out.stderr);
            assert!(out.stderr.is_empty(), "{what}: qledger {args:?} says {:?}", out.stderr);
            out.stdout
        })
        .collect()
}

/// Ledgers in the states a reader may find: clean; derived data behind the chain (a kill at
/// `head-synced`) with garbage beyond the head; a whole append beyond the head (a kill at
/// `blocks-written`); sled's directory gone.
fn reader_fixtures(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut clock = 0;
    let mut out = Vec::new();
    let states = [
        ("clean", ""),
        ("derived behind, garbage beyond", "head-synced"),
        ("append beyond", "blocks-written"),
        ("no meta", ""),
    ];
    for (i, (name, point)) in states.into_iter().enumerate() {
        let ledger = dir.join(format!("ledger-{i}"));
        start_ledger(dir, &ledger, &mut clock);
        more_batches(dir, &ledger, 1, &mut clock);
        if !point.is_empty() {
            let input = dir.join("killed.jsonl");
            write(&input, orders(&format!("killed{i}-"), "L-1", 0, 100, clock));
            clock += 100;
            aborted_at(&ledger, &["append", "--create", input.to_str().unwrap()], point);
        }
        if point == "head-synced" {
            append_bytes(&commit_point(&ledger).0, &[0x5a; 777]);
        }
        if name == "no meta" {
            std::fs::remove_dir_all(ledger.join("meta")).unwrap();
        }
        out.push((name, ledger));
    }
    out
}

#[test]
fn readers_change_no_byte_and_create_no_file_in_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    for (name, ledger) in reader_fixtures(dir.path()) {
        let what = format!("readers on a ledger ({name})");
        let cmds = read_commands(&ledger);
        let before = tree_state(&ledger);
        let outputs = run_readers(&ledger, &cmds, &what);
        let diff = tree_diff(&before, &tree_state(&ledger));
        assert!(diff.is_empty(), "{what}: the read commands changed the ledger directory: {diff:?}");
        // And they all read the same thing twice.
        assert!(run_readers(&ledger, &cmds, &what) == outputs, "{what}: a second run reads otherwise");
    }
}

#[test]
fn readers_answer_alike_on_a_read_only_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = reader_fixtures(dir.path());
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mount = match Mount::tmpfs(&mnt, "64m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED readers on a read-only file system: {why}");
            return;
        }
    };
    let mut expected = Vec::new();
    for (name, ledger) in &fixtures {
        let copy = mnt.join(ledger.file_name().unwrap());
        copy_dir(ledger, &copy);
        let cmds = read_commands(&copy);
        expected.push((name, copy.clone(), run_readers(&copy, &cmds, name), cmds));
    }
    if let Err(why) = mount.remount("ro") {
        eprintln!("SKIPPED readers on a read-only file system: remount ro failed: {why}");
        return;
    }
    for (name, copy, outputs, cmds) in &expected {
        let what = format!("readers on a read-only file system ({name})");
        assert!(std::fs::write(copy.join("probe"), b"x").is_err(), "{what}: the mount is not read-only");
        let got = run_readers(copy, cmds, &what);
        for ((cmd, a), b) in cmds.iter().zip(outputs).zip(&got) {
            assert!(a == b, "{what}: qledger {cmd:?} answers otherwise on a read-only file system");
        }
    }
}
