//! Tampering with derived data: the order and key index (run files under `index/`, listed by
//! `index/MANIFEST` for readers and by sled's copy for the writer) and the quota snapshots
//! (`snapshots/*.qsnap`) are not hashed, but `append` decides with them. An insider who edits
//! them and then appends through the normal path writes genuine, correctly hashed records that
//! break the rules. The default `verify` replays every record against the rules and rebuilds
//! the index, so each of these is caught and names the first bad seq; an edited index run or
//! manifest, or an edited snapshot, is caught by itself; a snapshot that fails its checksum is
//! ignored by `state`, which answers from the records.

mod qa_util;

use qa_util::segments::*;
use qa_util::*;
use quotaledger::format::chain::hex;
use quotaledger::format::codec;
use quotaledger::format::index_run::digest;
use quotaledger::store::index::Run;
use std::path::{Path, PathBuf};

const STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl");
const AT: &str = "2026-12-01T00:00:00Z";
/// Records in the story: the seq of the first record appended after it.
const NEXT: u64 = 48;

fn story_ledger(dir: &Path) -> PathBuf {
    let ledger = ledger_in(dir);
    ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
    assert_eq!(records(&ledger), NEXT);
    ledger
}

fn append_line(ledger: &Path, line: &str) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    write(&file, format!("{line}\n"));
    run(ledger, &["append", "--create", file.to_str().unwrap(), "--actor", "insider"])
}

fn assert_verify_fails(ledger: &Path, what: &str, says: &str) -> Out {
    let out = run(ledger, &["verify"]);
    assert_eq!(out.code, Some(3), "{what}: verify must exit 3: {:?} {}", out.code, out.stderr);
    out.assert_one_line_error(what);
    assert!(out.stderr.contains(says), "{what}: verify must say {says:?}: {}", out.stderr);
    out
}

/// The record at `seq` is caught by the rule check of the default verify, and only there:
/// the chain itself is intact.
fn assert_caught(ledger: &Path, seq: u64, what: &str) {
    let out = assert_verify_fails(ledger, what, "breaks the rules");
    assert!(out.stderr.contains(&format!("at seq {seq}:")), "{what}: must name seq {seq}: {}", out.stderr);
    ok(ledger, &["verify", "--chain-only"]);
}

#[test]
fn an_edited_order_row_that_allows_over_shipping_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    // O-AL-1 ordered 30000 and shipped 29000 (after a correction); pretend it ordered far more.
    edit_order_row(&ledger, &digest(b'o', "O-AL-1"), |r| r.quantity = 999_999_999);
    let out = append_line(
        &ledger,
        &format!(r#"{{"type":"shipment_recorded","at":"{AT}","order":"O-AL-1","quantity":500000}}"#),
    );
    assert_eq!(out.code, Some(0), "the edited index lets the shipment in: {}", out.stderr);
    assert_caught(&ledger, NEXT, "over-shipping through an edited order row");
}

#[test]
fn a_deleted_order_row_that_allows_a_duplicate_order_id_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    // The run shrinks by one entry: both manifests (readers' and the writer's) are updated to
    // match, as an insider who knows the format would.
    remove_entry(&ledger, &digest(b'o', "O-BD-1"));
    let out = append_line(
        &ledger,
        &format!(
            r#"{{"type":"order_placed","at":"{AT}","order":"O-BD-1","license":"CN-IMP-2026-0001","quantity":3,"domestic_quantity":1,"supplier":"nvidia"}}"#
        ),
    );
    assert_eq!(out.code, Some(0), "the edited index lets the duplicate in: {}", out.stderr);
    assert_caught(&ledger, NEXT, "duplicate order id through a deleted order row");
}

#[test]
fn a_deleted_key_entry_that_lets_a_used_key_record_another_event_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    remove_entry(&ledger, &digest(b'k', "po-bd-0001"));
    let out = append_line(
        &ledger,
        &format!(
            r#"{{"type":"order_placed","at":"{AT}","key":"po-bd-0001","order":"O-BD-9","license":"CN-IMP-2026-0001","quantity":3,"domestic_quantity":1,"supplier":"nvidia"}}"#
        ),
    );
    assert_eq!(out.code, Some(0), "the edited index lets the reused key in: {}", out.stderr);
    assert_caught(&ledger, NEXT, "a reused idempotency key through a deleted key entry");
    let out = run(&ledger, &["verify"]);
    assert!(out.stderr.contains("key po-bd-0001 was already used"), "names the key: {}", out.stderr);
}

#[test]
fn a_raised_quota_in_the_head_snapshot_is_caught_even_after_it_is_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let raise = |by: i64| {
        move |s: &mut quotaledger::format::snapshot::QuotaSnapshotV2| {
            let l = s.licenses.iter_mut().find(|(id, _)| id == "CN-IMP-2026-0003").expect("license");
            l.1.quantity = l.1.quantity.checked_add_signed(by).expect("in range");
        }
    };
    edit_head_snapshot(&ledger, raise(1_000_000));
    let out = append_line(
        &ledger,
        &format!(
            r#"{{"type":"order_placed","at":"{AT}","order":"O-TC-9","license":"CN-IMP-2026-0003","quantity":500000,"domestic_quantity":166667,"supplier":"nvidia"}}"#
        ),
    );
    assert_eq!(out.code, Some(0), "the edited snapshot lets the order in: {}", out.stderr);
    // The append wrote its own head snapshot from the raised state; put the quota back so that
    // the stored snapshot agrees with a replay of the records: only the rule check is left.
    edit_head_snapshot(&ledger, raise(-1_000_000));
    assert_caught(&ledger, NEXT, "an order over quota through an edited snapshot");
}

#[test]
fn an_edited_index_run_alone_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let d = digest(b'o', "O-TC-1");
    // A well-formed run (page and footer checksums valid) with one row changed.
    edit_order_row(&ledger, &d, |r| r.shipped = r.quantity - 1);
    let out = assert_verify_fails(&ledger, "edited index run", "the index differs from a rebuild");
    assert!(out.stderr.contains(&hex(&d)), "names the digest of O-TC-1: {}", out.stderr);
    ok(&ledger, &["verify", "--chain-only"]);
    // `reindex` rebuilds the index from the chain.
    ok(&ledger, &["reindex"]);
    ok(&ledger, &["verify"]);
}

#[test]
fn an_index_run_with_a_flipped_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let m = manifest(&ledger);
    let (id, _) = m.runs[0];
    let path = run_path(&ledger, id);
    let len = std::fs::metadata(&path).unwrap().len();
    for (what, at) in [("in a page", 40), ("in the footer", len - 20)] {
        let copy = dir.path().join(format!("copy-{at}"));
        copy_dir(&ledger, &copy);
        flip_file(&run_path(&copy, id), at, 0x10);
        let out = assert_verify_fails(&copy, what, "index run");
        assert!(!out.stderr.contains("at seq"), "{what}: no record is blamed: {}", out.stderr);
    }
}

#[test]
fn an_edited_or_deleted_index_manifest_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let m = manifest(&ledger);
    let mpath = index_dir(&ledger).join("MANIFEST");
    type Edit = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "MANIFEST deleted",
            Box::new(|l| std::fs::remove_file(index_dir(l).join("MANIFEST")).unwrap()),
            "MANIFEST is missing",
        ),
        (
            "MANIFEST garbled",
            Box::new(|l| std::fs::write(index_dir(l).join("MANIFEST"), b"\xff\xff\xff").unwrap()),
            "index manifest",
        ),
        (
            "MANIFEST lists no run",
            Box::new({
                let m = m.clone();
                move |l| {
                    let empty = quotaledger::store::index::ManifestV1 { runs: Vec::new(), ..m.clone() };
                    std::fs::write(index_dir(l).join("MANIFEST"), codec::encode(&empty)).unwrap()
                }
            }),
            "the index differs",
        ),
        (
            "MANIFEST gives a run another entry count",
            Box::new({
                let m = m.clone();
                move |l| {
                    let mut other = m.clone();
                    other.runs[0].1 -= 1;
                    std::fs::write(index_dir(l).join("MANIFEST"), codec::encode(&other)).unwrap()
                }
            }),
            "another count",
        ),
    ];
    assert!(mpath.exists());
    for (what, edit, says) in cases {
        let copy = dir.path().join(what.replace(' ', "-"));
        copy_dir(&ledger, &copy);
        edit(&copy);
        assert_verify_fails(&copy, what, says);
        ok(&copy, &["verify", "--chain-only"]);
    }
}

#[test]
fn a_damaged_snapshot_file_fails_verify_and_state_answers_from_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let state = ok(&ledger, &["state", "--json"]);
    let as_of = ok(&ledger, &["state", "--as-of", "15", "--json"]);
    // A periodic snapshot after 10 records, as a writer would leave one (correct: verify
    // compares it and passes), then damaged: its checksum fails.
    write_periodic_snapshot(&ledger, 10, &true_snapshot(&ledger, 10));
    let report: serde_json::Value = serde_json::from_str(&ok(&ledger, &["verify", "--json"])).unwrap();
    assert_eq!(report["snapshots"], 2, "the head and the periodic snapshot are compared: {report}");
    assert_eq!(ok(&ledger, &["state", "--as-of", "15", "--json"]), as_of);
    for (what, path) in [
        ("the head snapshot", head_snapshot_path(&ledger)),
        ("a periodic snapshot", periodic_snapshot_path(&ledger, 10)),
    ] {
        let copy = dir.path().join(what.replace(' ', "-"));
        copy_dir(&ledger, &copy);
        let path = copy.join(path.strip_prefix(&ledger).unwrap());
        let len = std::fs::metadata(&path).unwrap().len();
        flip_file(&path, len / 2, 0x01);
        assert_verify_fails(&copy, what, "snapshot");
        assert_eq!(ok(&copy, &["state", "--json"]), state, "{what}: state ignores the damaged file");
        assert_eq!(ok(&copy, &["state", "--as-of", "15", "--json"]), as_of, "{what}: so does --as-of");
        assert_eq!(ok(&copy, &["state", "--full-replay", "--json"]), state);
    }
}

#[test]
fn an_edited_snapshot_with_a_valid_checksum_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let state = ok(&ledger, &["state", "--json"]);
    // The story grants its first licenses at seq 13..=16: a snapshot after 20 records holds them.
    let as_of = ok(&ledger, &["state", "--as-of", "25", "--full-replay", "--json"]);
    let raise = |s: &mut quotaledger::format::snapshot::QuotaSnapshotV2| {
        s.licenses.iter_mut().for_each(|(_, l)| l.quantity += 1_000);
    };
    let head = dir.path().join("head");
    copy_dir(&ledger, &head);
    edit_head_snapshot(&head, raise);
    assert_verify_fails(&head, "edited head snapshot", &format!("snapshot after {NEXT} records differs"));
    assert_eq!(ok(&head, &["state", "--full-replay", "--json"]), state, "the records still say what they said");
    let periodic = dir.path().join("periodic");
    copy_dir(&ledger, &periodic);
    let mut s = true_snapshot(&periodic, 20);
    assert!(!s.licenses.is_empty(), "the snapshot holds licenses to raise");
    raise(&mut s);
    write_periodic_snapshot(&periodic, 20, &s);
    assert_verify_fails(&periodic, "edited periodic snapshot", "snapshot after 20 records differs");
    assert_eq!(ok(&periodic, &["state", "--as-of", "25", "--full-replay", "--json"]), as_of);
    // A periodic snapshot whose record count is not its name is never a match either.
    let misnamed = dir.path().join("misnamed");
    copy_dir(&ledger, &misnamed);
    write_periodic_snapshot(&misnamed, 22, &true_snapshot(&misnamed, 20));
    assert_verify_fails(&misnamed, "misnamed periodic snapshot", "snapshot");
}

#[test]
fn an_older_genuine_head_snapshot_is_neither_trusted_nor_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let old = std::fs::read(head_snapshot_path(&ledger)).unwrap();
    let out = append_line(
        &ledger,
        &format!(
            r#"{{"type":"quota_amended","at":"{AT}","license":"CN-IMP-2026-0003","quantity":100000,"reason":"r"}}"#
        ),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let state = ok(&ledger, &["state", "--json"]);
    std::fs::write(head_snapshot_path(&ledger), &old).unwrap();
    assert_eq!(ok(&ledger, &["state", "--json"]), state, "a stale snapshot is replayed past, not shown");
    ok(&ledger, &["verify"]);
    std::fs::remove_file(head_snapshot_path(&ledger)).unwrap();
    assert_eq!(ok(&ledger, &["state", "--json"]), state, "a missing snapshot is replayed past");
    ok(&ledger, &["verify"]);
}

/// Rewrites the published `index/MANIFEST` (what `verify` reads) to claim `records`.
fn claim_records(ledger: &Path, records: u64) {
    let m = quotaledger::store::index::ManifestV1 { records, ..manifest(ledger) };
    std::fs::write(index_dir(ledger).join("MANIFEST"), codec::encode(&m)).unwrap();
}

#[test]
fn an_index_a_crash_left_behind_the_head_is_compared_where_it_stands() {
    // The process dies once the commit point moved, before the index was written: the index
    // covers fewer records than the head, which no one can be blamed for. It is compared with
    // the rebuild at the point it covers.
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let input = dir.path().join("in.jsonl");
    write(
        &input,
        format!(
            r#"{{"type":"order_placed","at":"{AT}","key":"po-bd-0009","order":"O-BD-9","license":"CN-IMP-2026-0001","quantity":3,"domestic_quantity":1,"supplier":"nvidia"}}"#
        ) + "\n",
    );
    let mut cmd = command(&ledger, &["append", "--create", input.to_str().unwrap()]);
    cmd.env(quotaledger::store::writer::FAULT_ENV, "head-synced");
    let out = run_cmd(cmd, None, TIMEOUT, "append killed once its commit point moved");
    assert_eq!(out.code, None, "the append dies at the fault point: {}", out.stderr);
    assert_eq!(records(&ledger), NEXT + 1);
    assert_eq!(manifest(&ledger).records, NEXT, "the index was not written");
    let report: serde_json::Value = serde_json::from_str(&ok(&ledger, &["verify", "--json"])).unwrap();
    assert_eq!(report["index_records"], NEXT, "{report}");
    assert!(report["index_entries"].as_u64().unwrap() > 0, "the lagging index was compared: {report}");
    // And an edit in it is caught there.
    edit_order_row(&ledger, &digest(b'o', "O-TC-1"), |r| r.shipped = r.quantity - 1);
    assert_verify_fails(&ledger, "edited lagging index", "the index differs from a rebuild");
}

#[test]
fn an_edited_index_run_behind_a_manifest_that_claims_fewer_records_is_still_caught() {
    // Regression: `verify` compared the index only when its manifest claimed exactly the
    // head's record count, so claiming one record less hid any edit of the runs.
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    // A last record that touches no index entry (a party without a key): the index is also
    // the one after NEXT records, and claiming so is no lie by itself.
    let party = format!(
        r#"{{"type":"party_registered","at":"{AT}","party":"zhipu","name":"Zhipu AI","country":"CN","state_backed":false,"sector":"internet"}}"#
    );
    let out = append_line(&ledger, &party);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    claim_records(&ledger, NEXT);
    ok(&ledger, &["verify"]);
    edit_order_row(&ledger, &digest(b'o', "O-TC-1"), |r| r.shipped = r.quantity - 1);
    claim_records(&ledger, NEXT);
    assert_verify_fails(&ledger, "edited run behind a manifest claiming fewer records", "the index differs");
}

#[test]
fn an_index_manifest_that_claims_more_records_than_the_commit_point_is_caught() {
    // Regression: an index ahead of the commit point was taken for a writer's, and not
    // compared. It is written after the commit point moves, so no crash leaves it ahead; a
    // writer that committed since moves the commit point too, which `verify` reads again.
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    edit_order_row(&ledger, &digest(b'o', "O-TC-1"), |r| r.shipped = r.quantity - 1);
    claim_records(&ledger, NEXT + 1);
    assert_verify_fails(&ledger, "manifest ahead of the commit point", "covers 49 records, the commit point only 48");
    ok(&ledger, &["verify", "--chain-only"]);
}

/// A periodic snapshot of an older snapshot format (as a version before rounds and holds wrote
/// it) is reported by `verify`, and the next writer moves it into `recovered/` (kept, not
/// deleted) and rebuilds the snapshots: then `verify` passes.
#[test]
fn a_snapshot_of_an_older_format_is_reported_then_set_aside_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let mut bytes = quotaledger::format::codec::encode(&true_snapshot(&ledger, 10));
    bytes[0] = 1; // the snapshot's own format byte
    quotaledger::store::snapshots::write_periodic(&ledger.join("snapshots"), 10, &bytes).expect("write");
    assert_verify_fails(&ledger, "an older snapshot format", "snapshot");
    let state = ok(&ledger, &["state", "--json"]);
    // Any writer: a dry run opens the ledger for writing and writes no record.
    let line = r#"{"type":"party_restricted","party":"tencent","reason":"r","at":"2026-04-06T00:00:00Z"}"#;
    let input = dir.path().join("in.jsonl");
    write(&input, format!("{line}\n"));
    ok(&ledger, &["append", "--dry-run", input.to_str().unwrap(), "--actor", "clerk"]);
    assert!(ledger.join("recovered").join("stale-snapshot-00000000000000000010.qsnap").exists());
    ok(&ledger, &["verify"]);
    assert_eq!(ok(&ledger, &["state", "--json"]), state);
}

/// An index whose runs are of run format 1 (as versions before run format 2 wrote them) is
/// read as it is: `verify`, a reader, compares it with its rebuild entry by entry and writes
/// nothing, and catches an edited entry in it; the next append rewrites it in run format 2 from
/// its own entries (README "Storage").
#[test]
fn an_index_of_run_format_1_is_read_by_verify_and_rewritten_by_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let before = manifest(&ledger);
    let mut digests = std::collections::BTreeSet::new();
    for &(id, _) in &before.runs {
        let entries = run_entries(&ledger, id);
        digests.extend(entries.keys().copied());
        write_run_format1(&ledger, id, &entries);
        assert_eq!(run_entries(&ledger, id), entries, "run {id} reads back");
    }
    let formats = |l: &Path| -> Vec<u8> {
        manifest(l).runs.iter().map(|(id, _)| Run::open(&index_dir(l), *id).expect("run").format()).collect()
    };
    assert!(formats(&ledger).iter().all(|&f| f == 1));
    let files = |l: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(index_dir(l))
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    };
    let old_files = files(&ledger);

    let report: serde_json::Value = serde_json::from_str(&ok(&ledger, &["verify", "--json"])).unwrap();
    let compared = report["index_entries"].as_u64().unwrap();
    assert_eq!(compared, digests.len() as u64, "the format 1 index was compared entry by entry: {report}");
    assert_eq!(files(&ledger), old_files, "verify wrote to the index");

    // An edited row in a format 1 run is caught like one in a format 2 run.
    let copy = dir.path().join("edited");
    copy_dir(&ledger, &copy);
    let d = digest(b'o', "O-TC-1");
    let id = run_holding(&copy, &d);
    let mut entries = run_entries(&copy, id);
    let mut row = order_row(&copy, &d);
    row.shipped = row.quantity - 1;
    entries.insert(d, codec::encode(&quotaledger::format::index_run::IndexValueV1::Order2(row)));
    write_run_format1(&copy, id, &entries);
    let out = assert_verify_fails(&copy, "edited format 1 index run", "the index differs from a rebuild");
    assert!(out.stderr.contains(&hex(&d)), "names the digest of O-TC-1: {}", out.stderr);

    // The next append: the writer merges the format 1 runs into one of run format 2.
    let out = append_line(
        &ledger,
        r#"{"type":"party_restricted","party":"tencent","reason":"r","at":"2026-04-06T00:00:00Z","key":"k-after"}"#,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(formats(&ledger), vec![quotaledger::format::index_run::RUN_FORMAT]);
    let listed: Vec<String> = manifest(&ledger).runs.iter().map(|(id, _)| format!("{id:016x}.qidx")).collect();
    for (name, bytes) in files(&ledger) {
        if name.ends_with(".qidx") {
            assert!(listed.contains(&name), "a run the merge replaced is left: {name}");
            assert_eq!(bytes[8], 2, "{name} is of run format 2");
        }
    }
    let report: serde_json::Value = serde_json::from_str(&ok(&ledger, &["verify", "--json"])).unwrap();
    assert_eq!(report["index_entries"].as_u64().unwrap(), compared + 1, "{report}");
}
