//! Tampering with derived data: the order and key index (`i` buckets) and the quota snapshot
//! at the head (`p`) are not hashed, but `append` decides with them. An insider who edits them
//! and then appends through the normal path writes genuine, correctly hashed records that break
//! the rules. The default `verify` replays every record against the rules and rebuilds the
//! index, so each of these is caught and names the first bad seq.

mod qa_util;

use qa_util::*;
use quotaledger::format::codec;
use quotaledger::format::snapshot::{index_bucket, IndexBucketV1, QuotaSnapshotV1};
use std::path::{Path, PathBuf};

const STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl");
const AT: &str = "2026-12-01T00:00:00Z";

fn story_ledger(dir: &Path) -> PathBuf {
    let ledger = ledger_in(dir);
    ok(&ledger, &["append", STORY, "--actor", "clerk"]);
    ledger
}

/// Rewrites the index bucket holding order `id` (the qledger process has exited).
fn edit_order_bucket(ledger: &Path, id: &str, edit: impl FnOnce(&mut IndexBucketV1)) {
    let db = sled::open(ledger.join("store")).expect("open store");
    let b = index_bucket(b'o', id);
    let mut key = vec![b'i'];
    key.extend_from_slice(&b.to_be_bytes());
    let bytes = db.get(&key).expect("get").expect("bucket exists");
    let mut bucket = IndexBucketV1::decode(&bytes, b).expect("decode");
    edit(&mut bucket);
    db.insert(key, codec::encode(&bucket)).expect("insert");
    db.flush().expect("flush");
}

/// Rewrites the quota snapshot at the head.
fn edit_head_snapshot(ledger: &Path, edit: impl FnOnce(&mut QuotaSnapshotV1)) {
    let db = sled::open(ledger.join("store")).expect("open store");
    let bytes = db.get(b"p").expect("get").expect("snapshot exists");
    let mut snap: QuotaSnapshotV1 = codec::decode(&bytes, usize::MAX).expect("decode");
    edit(&mut snap);
    db.insert(b"p", codec::encode(&snap)).expect("insert");
    db.flush().expect("flush");
}

fn append_line(ledger: &Path, line: &str) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    write(&file, format!("{line}\n"));
    run(ledger, &["append", file.to_str().unwrap(), "--actor", "insider"])
}

fn assert_caught(ledger: &Path, seq: u64, what: &str) {
    let out = run(ledger, &["verify"]);
    assert_eq!(out.code, Some(3), "{what}: verify must exit 3: {}", out.stderr);
    out.assert_one_line_error(what);
    assert!(out.stderr.contains(&format!("at seq {seq}:")), "{what}: must name seq {seq}: {}", out.stderr);
    assert!(out.stderr.contains("breaks the rules"), "{what}: must say which rule: {}", out.stderr);
    // The chain itself is intact: only the rule check can see it.
    ok(ledger, &["verify", "--chain-only"]);
}

#[test]
fn an_edited_order_row_that_allows_over_shipping_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    // O-AL-1 ordered 30000 and fully shipped; pretend it ordered far more.
    edit_order_bucket(&ledger, "O-AL-1", |b| {
        let row = b.orders.iter_mut().find(|(id, _)| id == "O-AL-1").expect("row");
        row.1.quantity = 999_999_999;
    });
    let out = append_line(
        &ledger,
        &format!(r#"{{"type":"shipment_recorded","at":"{AT}","order":"O-AL-1","quantity":500000}}"#),
    );
    assert_eq!(out.code, Some(0), "the edited index lets the shipment in: {}", out.stderr);
    assert_caught(&ledger, 31, "over-shipping through an edited order row");
}

#[test]
fn a_deleted_order_row_that_allows_a_duplicate_order_id_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    edit_order_bucket(&ledger, "O-BD-1", |b| b.orders.retain(|(id, _)| id != "O-BD-1"));
    let out = append_line(
        &ledger,
        &format!(
            r#"{{"type":"order_placed","at":"{AT}","order":"O-BD-1","license":"CN-IMP-2026-0001","quantity":3,"domestic_quantity":1,"supplier":"nvidia"}}"#
        ),
    );
    assert_eq!(out.code, Some(0), "the edited index lets the duplicate in: {}", out.stderr);
    assert_caught(&ledger, 31, "duplicate order id through a deleted order row");
}

#[test]
fn a_raised_quota_in_the_head_snapshot_is_caught_even_after_it_is_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    let raise = |by: i64| {
        move |s: &mut QuotaSnapshotV1| {
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
    // Put the quota back so that the stored snapshot agrees with a replay of the records.
    edit_head_snapshot(&ledger, raise(-1_000_000));
    assert_caught(&ledger, 31, "an order over quota through an edited snapshot");
}

#[test]
fn an_edited_index_bucket_alone_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    edit_order_bucket(&ledger, "O-TC-1", |b| {
        let row = b.orders.iter_mut().find(|(id, _)| id == "O-TC-1").expect("row");
        row.1.shipped = 1;
    });
    let out = run(&ledger, &["verify"]);
    assert_eq!(out.code, Some(3), "verify must exit 3: {}", out.stderr);
    out.assert_one_line_error("edited index bucket");
    let bucket = index_bucket(b'o', "O-TC-1");
    assert!(out.stderr.contains(&format!("index bucket {bucket} differs")), "names the bucket: {}", out.stderr);
}

#[test]
fn a_deleted_head_is_caught_and_the_next_append_destroys_nothing() {
    // Regression: with "h" and "p" deleted, every block looked like the leftovers of an
    // interrupted append: verify passed on 0 records and the next append erased the history.
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    {
        let db = sled::open(ledger.join("store")).expect("open store");
        db.remove(b"h").expect("remove head");
        db.remove(b"p").expect("remove snapshot");
        db.flush().expect("flush");
    }
    let out = run(&ledger, &["verify"]);
    assert_eq!(out.code, Some(3), "verify must exit 3: {}", out.stderr);
    assert!(out.stderr.contains("at seq 0:") && out.stderr.contains("beyond the head"), "{}", out.stderr);
    let out = append_line(
        &ledger,
        &format!(
            r#"{{"type":"party_registered","at":"{AT}","party":"newco","name":"N","country":"CN","state_backed":false,"sector":"x"}}"#
        ),
    );
    assert_eq!(out.code, Some(3), "append must refuse, not delete: {}", out.stderr);
    out.assert_one_line_error("append over a deleted head");
    let db = sled::open(ledger.join("store")).expect("open store");
    assert_eq!(db.scan_prefix(b"b").count(), 1, "the story's block is still stored");
}

#[test]
fn an_export_that_meets_a_broken_record_leaves_no_file() {
    // The error path of `export --out`: it writes FILE.partial and renames it only when every
    // record was read, so a failure half-way leaves neither file behind.
    let dir = tempfile::tempdir().unwrap();
    let ledger = story_ledger(dir.path());
    {
        let db = sled::open(ledger.join("store")).expect("open store");
        let key = [b'b', 0, 0, 0, 0, 0, 0, 0, 0];
        let block = db.get(key).expect("get").expect("the story's block");
        db.insert(key, &block[..block.len() / 2]).expect("cut the block short");
        db.flush().expect("flush");
    }
    let out_file = dir.path().join("export.jsonl");
    let out = run(&ledger, &["export", "--out", out_file.to_str().unwrap()]);
    assert_eq!(out.code, Some(3), "export of a broken ledger: {}", out.stderr);
    out.assert_one_line_error("export of a cut block");
    assert!(!out_file.exists(), "no export file");
    assert!(!dir.path().join("export.jsonl.partial").exists(), "no partial file");
}
