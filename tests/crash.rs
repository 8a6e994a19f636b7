//! Crash safety: `qledger append` (thousands of events with idempotency keys) is SIGKILLed at
//! seeded random moments, again and again. After every kill: `verify` passes; the record count is
//! the count before the call or before plus the whole batch; the newest head that was reported
//! (and a random older one) is still on the chain (`verify --expect-head`); the quota state
//! matches the model (every order counted once) and verify's fresh replay; retrying the same
//! file appends exactly what is missing and nothing twice. Then kills during `verify`, `state`,
//! `log` and `export` must damage nothing.
//!
//! Short mode (CI): `cargo test --test crash` (50 append kills + 1 kill during a staged
//! 100,000-event appends + 20 reader kills).
//! Long mode: `QLEDGER_SOAK=1 cargo test --release --test crash -- --ignored` (1,000 append
//! kills, 20 staged, 200 reader kills). Replay a run with `QLEDGER_SEED=N`.

mod qa_util;

use qa_util::*;
use std::path::Path;
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
        ok(ledger, &["append", pre.to_str().unwrap(), "--actor", "clerk"]);
        heads.clear();
        heads.push((2, head_hash(ledger)));
    };
    start(&ledger, &mut heads);
    write(&input, orders("cal-", "L-1", 0, batch, t_next));
    t_next += batch;
    // Calibrate: how long an uninterrupted append of one batch takes here.
    let t = Instant::now();
    ok(&ledger, &["append", input.to_str().unwrap(), "--actor", "clerk"]);
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
        let exited = kill_after(&ledger, &["append", input.to_str().unwrap(), "--actor", "clerk"], delay);
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
        let out = run(&ledger, &["append", input.to_str().unwrap(), "--actor", "clerk", "--json"]);
        assert_eq!(out.code, Some(0), "{what}: the retry failed: {}", out.stderr);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("append --json");
        let appended = report["appended"].as_u64().expect("appended");
        let skipped = report["skipped"].as_array().expect("skipped").len() as u64;
        assert_eq!(appended + skipped, batch, "{what}: retry accounts for every line");
        // A kill after the blocks were synced but before the commit point moved leaves a whole
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
    ok(&ledger, &["append", input.to_str().unwrap(), "--actor", "clerk"]);
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
    ok(&ledger, &["append", dir.path().join("in.jsonl").to_str().unwrap()]);
    let head = head_hash(&ledger);
    // What a kill between sled's write and rename of a snapshot leaves: a cut-short file whose
    // name sorts after every finished snapshot.
    write(&ledger.join("meta").join("snap.FFFFFFFFFFFFFFFF.generating"), [0x5a; 40]);
    let out = run(&ledger, &["verify", "--expect-head", &head]);
    assert_eq!(out.code, Some(0), "verify (which never opens sled) after an unfinished snapshot: {}", out.stderr);
    write(&dir.path().join("more.jsonl"), orders("p", "L-1", 0, 5, 17_000_000));
    ok(&ledger, &["append", dir.path().join("more.jsonl").to_str().unwrap()]);
    assert!(!ledger.join("meta").join("snap.FFFFFFFFFFFFFFFF.generating").exists());
    ok(&ledger, &["verify", "--expect-head", &head]);
}
