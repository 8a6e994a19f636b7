//! The H200 story (examples/h200.jsonl) end to end through the `qledger` binary.
//!
//! Every expected number below is derived by hand from the story file (the derivation is in
//! the comments), not copied from the program's output.
//!
//! The story, seq by seq (31 records, seq 0..=30):
//! ```text
//!  0- 4 party_registered  bytedance, alibaba, tencent, baidu, china-mobile
//!     5 party_restricted  china-mobile
//!  6- 8 license_granted   L1 CN-IMP-2026-0001 bytedance 150000, L2 -0002 alibaba 150000,
//!                         L3 -0003 tencent 120000 (all round 1, 2026-01-20..2027-01-19)
//!  9-14 condition_added   L1 C1 bundle 1/3 pending, L1 C2 end_use final, L2 C1 bundle 1/3
//!                         pending, L2 C2 max_per_order 50000 pending, L3 C1 bundle 1/3 pending,
//!                         L3 C2 reporting final
//! 15-17 condition_final.  L1 C1, L2 C1, L2 C2
//!    18 order_placed      O-BD-1 on L1 40000 (domestic 14000 >= ceil(40000/3) = 13334)
//!    19 order_placed      O-AL-1 on L2 30000 (domestic 10000 >= ceil(30000/3) = 10000)
//!    20 order_placed      O-BD-2 on L1 25000 (domestic 9000 >= ceil(25000/3) = 8334)
//!    21 shipment          O-BD-1 20000
//!    22 shipment          O-AL-1 30000 (fully shipped)
//!    23 order_cancelled   O-BD-2 (25000 unshipped returned to L1)
//!    24 quota_amended     L2 -> 140000
//!    25 license_suspended L3
//!    26 license_reinst.   L3
//!    27 condition_final.  L3 C1
//!    28 order_placed      O-TC-1 on L3 50000 (domestic 16667 = ceil(50000/3))
//!    29 license_granted   L4 CN-IMP-2026-0004 baidu 60000 round 2, 2026-04-01..2027-03-31
//!    30 condition_added   L4 C1 bundle 1/2 pending
//! ```

use assert_cmd::Command;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const STORY: &str = include_str!("../examples/h200.jsonl");
const L1: &str = "CN-IMP-2026-0001";
const L2: &str = "CN-IMP-2026-0002";
const L3: &str = "CN-IMP-2026-0003";
const L4: &str = "CN-IMP-2026-0004";
const HASH_CONTEXT: &str = "quotaledger 2026-11-28 record hash v1";

fn story_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/h200.jsonl")
}

fn qledger(ledger: &Path) -> Command {
    let mut cmd = Command::cargo_bin("qledger").expect("the qledger binary is built");
    cmd.env_remove("QLEDGER_LEDGER").env("USER", "story-test").arg("--ledger").arg(ledger);
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(ledger: &Path, args: &[&str]) -> Run {
    let out = qledger(ledger).args(args).output().expect("qledger runs");
    Run {
        code: out.status.code().expect("qledger exited (not killed by a signal)"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn run_stdin(ledger: &Path, args: &[&str], stdin: &str) -> Run {
    let out = qledger(ledger).args(args).write_stdin(stdin.as_bytes().to_vec()).output().expect("qledger runs");
    Run {
        code: out.status.code().expect("qledger exited"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn ok(ledger: &Path, args: &[&str]) -> String {
    let r = run(ledger, args);
    assert_eq!(r.code, 0, "qledger {args:?} failed: {}", r.stderr);
    r.stdout
}

fn json_of(ledger: &Path, args: &[&str]) -> Value {
    let text = ok(ledger, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("qledger {args:?} printed no JSON ({e}): {text}"))
}

fn json_lines(ledger: &Path, args: &[&str]) -> Vec<Value> {
    ok(ledger, args).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// A fresh ledger holding the whole story.
fn story_ledger() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger");
    let out = ok(&ledger, &["append", "--create", story_path().to_str().expect("utf-8 path")]);
    // 31 lines in the story, none skipped.
    assert!(out.contains("appended 31 events (0 skipped); head seq 30"), "{out}");
    (dir, ledger)
}

fn license<'v>(state: &'v Value, id: &str) -> &'v Value {
    state["licenses"]
        .as_array()
        .expect("licenses[]")
        .iter()
        .find(|l| l["license"] == id)
        .unwrap_or_else(|| panic!("license {id} missing from {state}"))
}

fn party<'v>(state: &'v Value, id: &str) -> &'v Value {
    state["parties"]
        .as_array()
        .expect("parties[]")
        .iter()
        .find(|p| p["party"] == id)
        .unwrap_or_else(|| panic!("party {id} missing from {state}"))
}

/// Checks the quantity columns of one license.
fn assert_numbers(l: &Value, quantity: u64, ordered: u64, shipped: u64, remaining: u64) {
    let got = [&l["quantity"], &l["ordered"], &l["shipped"], &l["remaining"]];
    assert_eq!(got, [&json!(quantity), &json!(ordered), &json!(shipped), &json!(remaining)], "{}", l["license"]);
}

fn assert_party(p: &Value, restricted: bool, licensed: u64, ordered: u64, shipped: u64, remaining: u64) {
    assert_eq!(p["restricted"], json!(restricted), "{p}");
    let got = [&p["licensed"], &p["ordered"], &p["shipped"], &p["remaining"]];
    assert_eq!(got, [&json!(licensed), &json!(ordered), &json!(shipped), &json!(remaining)], "{}", p["party"]);
}

fn conditions(l: &Value) -> Vec<(String, String)> {
    l["conditions"]
        .as_array()
        .expect("conditions[]")
        .iter()
        .map(|c| (c["condition"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn state_at_the_head_has_the_hand_derived_numbers() {
    let (_dir, ledger) = story_ledger();
    let s = json_of(&ledger, &["state", "--json"]);
    assert_eq!(s["as_of"]["seq"], 30);
    assert_eq!(s["as_of"]["at"], "2026-04-01T01:10:00Z");
    let head = json_of(&ledger, &["head", "--json"]);
    assert_eq!(s["head"], head);

    // L1: 150000; orders 40000 + 25000; O-BD-2 (25000, nothing shipped) cancelled, so ordered
    // = 65000 - 25000 = 40000; shipped 20000; remaining 150000 - 40000 = 110000.
    let l1 = license(&s, L1);
    assert_numbers(l1, 150_000, 40_000, 20_000, 110_000);
    assert_eq!(l1["status"], "active");
    assert_eq!(l1["licensee"], "bytedance");
    assert_eq!(l1["authority"], "CN-MOFCOM");
    assert_eq!(l1["product"], "H200");
    assert_eq!(l1["round"], 1);
    assert_eq!(l1["valid_from"], "2026-01-20");
    assert_eq!(l1["valid_until"], "2027-01-19");
    assert_eq!(conditions(l1), pairs(&[("C1", "final"), ("C2", "final")]));
    assert_eq!(l1["conditions"][0]["rule"], json!({"kind": "bundle_ratio", "domestic": 1, "per": 3}));
    assert_eq!(
        l1["conditions"][1]["rule"],
        json!({"kind": "end_use", "text": "data-centre inference and training only; no re-export"})
    );

    // L2: amended 150000 -> 140000; ordered 30000, all shipped; remaining 140000 - 30000.
    let l2 = license(&s, L2);
    assert_numbers(l2, 140_000, 30_000, 30_000, 110_000);
    assert_eq!(l2["status"], "active");
    assert_eq!(conditions(l2), pairs(&[("C1", "final"), ("C2", "final")]));
    assert_eq!(l2["conditions"][1]["rule"], json!({"kind": "max_per_order", "units": 50000}));

    // L3: suspended then reinstated (active again); O-TC-1 50000, nothing shipped.
    let l3 = license(&s, L3);
    assert_numbers(l3, 120_000, 50_000, 0, 70_000);
    assert_eq!(l3["status"], "active");
    assert_eq!(conditions(l3), pairs(&[("C1", "final"), ("C2", "final")]));

    // L4: granted in round 2, nothing ordered, its bundle condition still pending.
    let l4 = license(&s, L4);
    assert_numbers(l4, 60_000, 0, 0, 60_000);
    assert_eq!(l4["round"], 2);
    assert_eq!(l4["licensee"], "baidu");
    assert_eq!(l4["valid_from"], "2026-04-01");
    assert_eq!(l4["valid_until"], "2027-03-31");
    assert_eq!(conditions(l4), pairs(&[("C1", "pending")]));
    assert_eq!(l4["conditions"][0]["rule"], json!({"kind": "bundle_ratio", "domestic": 1, "per": 2}));
    assert_eq!(s["licenses"].as_array().unwrap().len(), 4);

    // Parties: each holds exactly one license, except china-mobile (restricted, none).
    assert_party(party(&s, "bytedance"), false, 150_000, 40_000, 20_000, 110_000);
    assert_party(party(&s, "alibaba"), false, 140_000, 30_000, 30_000, 110_000);
    assert_party(party(&s, "tencent"), false, 120_000, 50_000, 0, 70_000);
    assert_party(party(&s, "baidu"), false, 60_000, 0, 0, 60_000);
    assert_party(party(&s, "china-mobile"), true, 0, 0, 0, 0);
    assert_eq!(party(&s, "china-mobile")["state_backed"], true);
    assert_eq!(s["parties"].as_array().unwrap().len(), 5);

    // Totals: 150000 + 140000 + 120000 + 60000 = 470000 licensed; 40000 + 30000 + 50000 =
    // 120000 ordered; 20000 + 30000 = 50000 shipped; 110000 + 110000 + 70000 + 60000 = 350000.
    assert_eq!(s["totals"], json!({"licensed": 470_000, "ordered": 120_000, "shipped": 50_000, "remaining": 350_000}));
}

#[test]
fn state_filters_by_license_and_party() {
    let (_dir, ledger) = story_ledger();
    let s = json_of(&ledger, &["state", "--json", "--license", L2]);
    assert_eq!(s["licenses"].as_array().unwrap().len(), 1);
    assert_numbers(license(&s, L2), 140_000, 30_000, 30_000, 110_000);
    assert_eq!(s["totals"], json!({"licensed": 140_000, "ordered": 30_000, "shipped": 30_000, "remaining": 110_000}));

    let s = json_of(&ledger, &["state", "--json", "--party", "tencent"]);
    assert_eq!(s["licenses"].as_array().unwrap().len(), 1);
    assert_eq!(s["parties"].as_array().unwrap().len(), 1);
    assert_party(party(&s, "tencent"), false, 120_000, 50_000, 0, 70_000);

    // A filter naming nothing in the ledger is bad input.
    assert_eq!(run(&ledger, &["state", "--license", "CN-IMP-9999-0000"]).code, 1);
    assert_eq!(run(&ledger, &["state", "--party", "nobody"]).code, 1);
}

#[test]
fn state_as_of_a_seq_is_the_state_after_that_record() {
    let (_dir, ledger) = story_ledger();
    // After seq 20 (O-BD-2 placed): L1 ordered 40000 + 25000 = 65000, remaining 85000, nothing
    // shipped; L2 still 150000 with 30000 ordered; L3 active, C1 still pending; no L4 yet.
    let s = json_of(&ledger, &["state", "--json", "--as-of", "20"]);
    assert_eq!(s["as_of"]["seq"], 20);
    assert_eq!(s["as_of"]["at"], "2026-02-04T06:00:00Z");
    assert_numbers(license(&s, L1), 150_000, 65_000, 0, 85_000);
    assert_numbers(license(&s, L2), 150_000, 30_000, 0, 120_000);
    assert_numbers(license(&s, L3), 120_000, 0, 0, 120_000);
    assert_eq!(conditions(license(&s, L3)), pairs(&[("C1", "pending"), ("C2", "final")]));
    assert_eq!(s["licenses"].as_array().unwrap().len(), 3);
    // Totals: 420000 licensed, 95000 ordered, 0 shipped, 325000 remaining.
    assert_eq!(s["totals"], json!({"licensed": 420_000, "ordered": 95_000, "shipped": 0, "remaining": 325_000}));
    // The head is reported as the head, not the as-of point.
    assert_eq!(s["head"]["seq"], 30);

    // After seq 5: five parties, china-mobile restricted, no license.
    let s = json_of(&ledger, &["state", "--json", "--as-of", "5"]);
    assert_eq!(s["licenses"].as_array().unwrap().len(), 0);
    assert_eq!(s["parties"].as_array().unwrap().len(), 5);
    assert_eq!(party(&s, "china-mobile")["restricted"], true);

    // After seq 4: china-mobile registered, not yet restricted.
    let s = json_of(&ledger, &["state", "--json", "--as-of", "4"]);
    assert_eq!(party(&s, "china-mobile")["restricted"], false);

    // A seq past the head names no record: refused (exit 1), not silently the head.
    let out = run(&ledger, &["state", "--json", "--as-of", "999"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--as-of 999: the ledger's last seq is 30"), "{}", out.stderr);
    assert_eq!(json_of(&ledger, &["state", "--json", "--as-of", "30"])["as_of"]["seq"], 30);
}

#[test]
fn state_as_of_a_time_includes_every_record_at_or_before_it() {
    let (_dir, ledger) = story_ledger();
    // 2026-03-06T00:00:00Z falls after seq 25 (L3 suspended 03-05) and before seq 26 (03-12):
    // L3 suspended; L2 already amended to 140000; O-BD-2 already cancelled.
    let s = json_of(&ledger, &["state", "--json", "--as-of", "2026-03-06T00:00:00Z"]);
    assert_eq!(s["as_of"]["seq"], 25);
    assert_eq!(s["as_of"]["at"], "2026-03-05T02:00:00Z");
    assert_eq!(license(&s, L3)["status"], "suspended");
    assert_numbers(license(&s, L1), 150_000, 40_000, 20_000, 110_000);
    assert_numbers(license(&s, L2), 140_000, 30_000, 30_000, 110_000);
    assert_numbers(license(&s, L3), 120_000, 0, 0, 120_000);

    // Exactly the `at` of seq 24 (2026-03-02T02:00:00Z) includes seq 24; one second earlier
    // does not (L2 is still 150000 there).
    let s = json_of(&ledger, &["state", "--json", "--as-of", "2026-03-02T02:00:00Z"]);
    assert_eq!(s["as_of"]["seq"], 24);
    assert_eq!(license(&s, L2)["quantity"], 140_000);
    let s = json_of(&ledger, &["state", "--json", "--as-of", "2026-03-02T01:59:59Z"]);
    assert_eq!(s["as_of"]["seq"], 23);
    assert_eq!(license(&s, L2)["quantity"], 150_000);

    // Offsets are normalized: 10:00+08:00 is 02:00Z.
    let s = json_of(&ledger, &["state", "--json", "--as-of", "2026-03-02T10:00:00+08:00"]);
    assert_eq!(s["as_of"]["seq"], 24);

    // Before the first record: the empty state.
    let s = json_of(&ledger, &["state", "--json", "--as-of", "2026-01-01T00:00:00Z"]);
    assert_eq!(s["as_of"]["seq"], Value::Null);
    assert_eq!(s["parties"].as_array().unwrap().len(), 0);

    // Neither a seq nor a time: usage error.
    assert_eq!(run(&ledger, &["state", "--as-of", "yesterday"]).code, 2);
}

#[test]
fn verify_and_expect_head() {
    let (_dir, ledger) = story_ledger();
    let out = ok(&ledger, &["verify"]);
    assert!(out.starts_with("ok: 31 records"), "{out}");
    let head = json_of(&ledger, &["head", "--json"]);
    let hash = head["hash"].as_str().unwrap().to_string();
    let v = json_of(&ledger, &["verify", "--json", "--expect-head", &hash]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["records"], 31);
    assert_eq!(v["expected_head_seq"], 30);

    // The hash of an earlier record: the ledger extends that head.
    let export = json_lines(&ledger, &["export"]);
    let h10 = export[10]["hash"].as_str().unwrap();
    let out = ok(&ledger, &["verify", "--expect-head", h10]);
    assert!(out.contains("the expected head is seq 10"), "{out}");

    // A hash that no record has: exit 3, named on stderr.
    let bogus = "ab".repeat(32);
    let r = run(&ledger, &["verify", "--expect-head", &bogus]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&bogus), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);

    // Not a hash at all: usage.
    assert_eq!(run(&ledger, &["verify", "--expect-head", "xyz"]).code, 2);

    // The head of the empty ledger (all zeros, as `head --json` prints it before the first
    // append) is extended by every ledger.
    let zeros = "0".repeat(64);
    let v = json_of(&ledger, &["verify", "--json", "--expect-head", &zeros]);
    assert_eq!(v["ok"], true);
}

#[test]
fn a_head_taken_midway_is_on_the_chain_of_the_finished_story() {
    // The story appended in two calls (lines 1-20, then 21-31) builds the same chain as one
    // call, so the head after the first call is found on the final chain at seq 19.
    let (_dir, whole) = story_ledger();
    let dir = tempfile::tempdir().unwrap();
    let split = dir.path().join("split");
    let lines: Vec<&str> = STORY.lines().collect();
    assert_eq!(lines.len(), 31);
    let first = lines[..20].join("\n") + "\n";
    let rest = lines[20..].join("\n") + "\n";
    let r = run_stdin(&split, &["append", "--create", "-"], &first);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mid = json_of(&split, &["head", "--json"]);
    assert_eq!(mid["seq"], 19);
    assert_eq!(mid["records"], 20);
    let r = run_stdin(&split, &["append", "--create"], &rest);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_of(&split, &["head", "--json"]), json_of(&whole, &["head", "--json"]));
    assert_eq!(ok(&split, &["export"]), ok(&whole, &["export"]));
    let v = json_of(&split, &["verify", "--json", "--expect-head", mid["hash"].as_str().unwrap()]);
    assert_eq!(v["expected_head_seq"], 19);

    // A ledger whose first record differs (one minute later) shares no hash with the story.
    let other = dir.path().join("other");
    let changed = STORY.replacen("2026-01-14T02:00:00Z", "2026-01-14T02:00:01Z", 1);
    assert_ne!(changed, STORY);
    assert_eq!(run_stdin(&other, &["append", "--create"], &changed).code, 0);
    let other_mid = json_lines(&other, &["export"])[19]["hash"].as_str().unwrap().to_string();
    assert_eq!(run(&whole, &["verify", "--expect-head", &other_mid]).code, 3);
}

#[test]
fn head_json_names_the_last_record() {
    let (_dir, ledger) = story_ledger();
    let head = json_of(&ledger, &["head", "--json"]);
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(head["seq"], 30);
    assert_eq!(head["records"], 31);
    assert_eq!(head["hash"], export[30]["hash"]);
    let text = ok(&ledger, &["head"]);
    assert_eq!(text.trim_end(), format!("seq 30 records 31 hash {}", head["hash"].as_str().unwrap()));

    // An empty ledger: no seq, zero hash.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    ok(&empty, &["init"]);
    let head = json_of(&empty, &["head", "--json"]);
    assert_eq!(head, json!({"seq": null, "records": 0, "hash": "0".repeat(64)}));
}

fn log_seqs(ledger: &Path, args: &[&str]) -> Vec<u64> {
    let mut full = vec!["log", "--json"];
    full.extend_from_slice(args);
    json_lines(ledger, &full).iter().map(|v| v["seq"].as_u64().expect("seq")).collect()
}

#[test]
fn log_filters_by_license_order_and_party() {
    let (_dir, ledger) = story_ledger();
    assert_eq!(log_seqs(&ledger, &[]), (0..=30).collect::<Vec<_>>());
    // L1: granted 6, conditions 9 and 10, C1 finalized 15, O-BD-1 18, O-BD-2 20, and the
    // shipment 21 and cancellation 23, which touch L1 through their orders.
    assert_eq!(log_seqs(&ledger, &["--license", L1]), vec![6, 9, 10, 15, 18, 20, 21, 23]);
    // L3: granted 8, conditions 13 and 14, suspended 25, reinstated 26, C1 finalized 27, O-TC-1 28.
    assert_eq!(log_seqs(&ledger, &["--license", L3]), vec![8, 13, 14, 25, 26, 27, 28]);
    assert_eq!(log_seqs(&ledger, &["--order", "O-BD-1"]), vec![18, 21]);
    assert_eq!(log_seqs(&ledger, &["--order", "O-BD-2"]), vec![20, 23]);
    assert_eq!(log_seqs(&ledger, &["--order", "O-AL-1"]), vec![19, 22]);
    // bytedance: registered 0, then every L1 event.
    assert_eq!(log_seqs(&ledger, &["--party", "bytedance"]), vec![0, 6, 9, 10, 15, 18, 20, 21, 23]);
    // china-mobile: registered 4, restricted 5; it holds no license.
    assert_eq!(log_seqs(&ledger, &["--party", "china-mobile"]), vec![4, 5]);
    // baidu: registered 3, L4 granted 29, its condition 30.
    assert_eq!(log_seqs(&ledger, &["--party", "baidu"]), vec![3, 29, 30]);
    assert_eq!(log_seqs(&ledger, &["--from", "18", "--limit", "3"]), vec![18, 19, 20]);
    assert_eq!(log_seqs(&ledger, &["--license", L1, "--from", "19"]), vec![20, 21, 23]);

    // JSON lines carry the type, subject and hash (equal to the export's).
    let log = json_lines(&ledger, &["log", "--json", "--order", "O-BD-2"]);
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(log[1]["type"], "order_cancelled");
    assert_eq!(log[1]["subject"], "O-BD-2");
    assert_eq!(log[1]["license"], L1);
    assert_eq!(log[1]["key"], "cancel-bd-2");
    assert_eq!(log[1]["hash"], export[23]["hash"]);

    // The text form: a header, then one row per record, with seq, type and the hash's first 16
    // hex digits.
    let text = ok(&ledger, &["log", "--order", "O-BD-1"]);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("order_placed") && lines[0].contains(&export[18]["hash"].as_str().unwrap()[..16]));
    assert!(lines[1].trim_start().starts_with("21 ") && lines[1].contains("shipment_recorded"));
}

#[test]
fn replay_shows_each_effect_on_the_quota() {
    let (_dir, ledger) = story_ledger();
    // A header, then a row per event; numbers with thousands separators (dropped here).
    let text = ok(&ledger, &["replay"]).replace(',', "");
    assert_eq!(text.lines().count(), 32);
    let line = |seq: usize| text.lines().nth(seq + 1).unwrap().to_string();
    // Expected effects, computed from the story by hand:
    let expected = [
        (6, format!("{L1} granted: remaining 150000")),
        (9, format!("{L1} condition C1 pending")),
        (10, format!("{L1} condition C2 final")),
        (15, format!("{L1} condition C1 pending -> final")),
        (18, format!("{L1} remaining 150000 -> 110000")), // O-BD-1 40000
        (19, format!("{L2} remaining 150000 -> 120000")), // O-AL-1 30000
        (20, format!("{L1} remaining 110000 -> 85000")),  // O-BD-2 25000
        (21, format!("{L1} shipped 0 -> 20000")),
        (22, format!("{L2} shipped 0 -> 30000")),
        (23, format!("{L1} remaining 85000 -> 110000")), // 25000 returned
        (24, format!("{L2} remaining 120000 -> 110000")), // 140000 - 30000
        (25, format!("{L3} active -> suspended")),
        (26, format!("{L3} suspended -> active")),
        (28, format!("{L3} remaining 120000 -> 70000")),
        (29, format!("{L4} granted: remaining 60000")),
    ];
    for (seq, effect) in expected {
        let l = line(seq);
        assert!(l.trim_start().starts_with(&format!("{seq} ")), "line {seq}: {l}");
        assert!(l.trim_end().ends_with(&effect), "seq {seq}: expected {effect:?} in {l:?}");
    }

    // Only L3's events (7 of them, see log), and --to stops after seq 26.
    let l3 = ok(&ledger, &["replay", "--license", L3]);
    assert_eq!(l3.lines().count(), 8);
    assert!(l3.lines().skip(1).all(|l| l.contains(L3)), "{l3}");
    let to = ok(&ledger, &["replay", "--license", L3, "--to", "26"]);
    assert_eq!(to.lines().count(), 6);
    let from = ok(&ledger, &["replay", "--from", "20", "--to", "23"]);
    assert_eq!(from.lines().count(), 5);
    assert!(from.lines().last().unwrap().ends_with(&format!("{L1} remaining 85,000 -> 110,000")));

    // JSON: before and after of the cancellation.
    let j = json_lines(&ledger, &["replay", "--json", "--from", "23", "--to", "23"]);
    assert_eq!(j.len(), 1);
    assert_eq!(j[0]["before"], json!({"remaining": 85_000, "status": "active", "shipped": 20_000}));
    assert_eq!(j[0]["after"], json!({"remaining": 110_000, "status": "active", "shipped": 20_000}));
    assert_eq!(j[0]["event"]["type"], "order_cancelled");
}

#[test]
fn export_lines_carry_every_field_and_their_hashes_recompute() {
    let (_dir, ledger) = story_ledger();
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(export.len(), 31);
    let input: Vec<Value> = STORY.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut prev = "0".repeat(64);
    for (i, (rec, line)) in export.iter().zip(&input).enumerate() {
        let keys: Vec<&str> = rec.as_object().unwrap().keys().map(String::as_str).collect();
        for k in ["seq", "at", "actor", "key", "event", "prev", "hash", "bytes"] {
            assert!(keys.contains(&k), "seq {i}: no {k} in {rec}");
        }
        assert_eq!(rec["seq"], i as u64);
        assert_eq!(rec["at"], line["at"]);
        assert_eq!(rec["actor"], line["actor"]);
        assert_eq!(rec["key"], line.get("key").cloned().unwrap_or(Value::Null));
        // The event in its input shape: the input line without its stamp.
        let mut event = line.clone();
        for k in ["at", "actor", "key"] {
            event.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(rec["event"], event, "seq {i}");
        assert_eq!(rec["prev"], prev.as_str(), "seq {i}: broken link");
        // The hash is BLAKE3 derive_key over the canonical bytes, which end in `prev` (the
        // last field of a record).
        let bytes = unhex(rec["bytes"].as_str().unwrap());
        assert_eq!(hex(&bytes[bytes.len() - 32..]), prev, "seq {i}: bytes do not end in prev");
        let hash = hex(&blake3::derive_key(HASH_CONTEXT, &bytes));
        assert_eq!(rec["hash"], hash.as_str(), "seq {i}: hash does not recompute");
        // The bytes start with format 1 and the seq (one varint byte below 251).
        assert_eq!(&bytes[..2], &[1, i as u8]);
        prev = hash;
    }

    // --out writes the same bytes to a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    ok(&ledger, &["export", "--out", file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ok(&ledger, &["export"]));
}

/// The story's keyed lines (11 of them: 4 grants, 4 orders, 2 shipments, 1 cancellation).
fn keyed_lines() -> Vec<&'static str> {
    STORY.lines().filter(|l| l.contains("\"key\"")).collect()
}

#[test]
fn reappending_keyed_events_skips_them_and_changes_nothing() {
    let (_dir, ledger) = story_ledger();
    let head = ok(&ledger, &["head", "--json"]);
    let export = ok(&ledger, &["export"]);
    let keyed = keyed_lines();
    assert_eq!(keyed.len(), 11);
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &(keyed.join("\n") + "\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 0);
    // line -> (key, seq of the record that used it): grants at 6, 7, 8, orders 18, 19, 20,
    // shipments 21, 22, cancellation 23, O-TC-1 28, the baidu grant 29.
    let expected = [
        (1, "grant-bytedance-r1", 6),
        (2, "grant-alibaba-r1", 7),
        (3, "grant-tencent-r1", 8),
        (4, "po-bd-0001", 18),
        (5, "po-al-0001", 19),
        (6, "po-bd-0002", 20),
        (7, "ship-bd-1-a", 21),
        (8, "ship-al-1-a", 22),
        (9, "cancel-bd-2", 23),
        (10, "po-tc-0001", 28),
        (11, "grant-baidu-r2", 29),
    ];
    let expected: Vec<Value> =
        expected.iter().map(|(line, key, seq)| json!({"line": line, "key": key, "seq": seq})).collect();
    assert_eq!(report["skipped"], Value::Array(expected));
    assert_eq!(ok(&ledger, &["head", "--json"]), head);
    assert_eq!(ok(&ledger, &["export"]), export);

    // The same event under the same key, with another `at` and `actor`, is still a repeat.
    let moved = keyed[3].replace("2026-02-03T06:00:00Z", "2026-05-01T00:00:00Z").replace("buyer@bytedance", "someone");
    assert_ne!(moved, keyed[3]);
    let r = run_stdin(&ledger, &["append", "--create"], &moved);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("line 1: skipped: key po-bd-0001 already recorded this event at seq 18"), "{}", r.stdout);
    assert!(r.stdout.contains("appended 0 events (1 skipped)"), "{}", r.stdout);
    assert_eq!(ok(&ledger, &["export"]), export);

    // Repeats mixed with one new event: the new one is appended at seq 31, the rest skipped.
    let new = r#"{"type":"shipment_recorded","at":"2026-04-02T00:00:00Z","actor":"officer@customs","key":"ship-bd-1-b","order":"O-BD-1","quantity":5000}"#;
    let input = format!("{}\n{new}\n", keyed.join("\n"));
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 1);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 11);
    assert_eq!(report["head"]["seq"], 31);
    // O-BD-1 shipped 20000 + 5000.
    assert_eq!(license(&json_of(&ledger, &["state", "--json"]), L1)["shipped"], 25_000);
    // ...and appending that file again appends nothing.
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 0);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 12);
    ok(&ledger, &["verify"]);
}

#[test]
fn the_same_key_twice_in_one_call_is_a_repeat_too() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let line = r#"{"type":"party_registered","at":"2026-01-01T00:00:00Z","key":"k-1","party":"p","name":"P","country":"CN","state_backed":false,"sector":"x"}"#;
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &format!("{line}\n{line}\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 1);
    assert_eq!(report["skipped"], json!([{"line": 2, "key": "k-1", "seq": 0}]));
}

#[test]
fn the_same_key_with_another_event_is_refused() {
    let (_dir, ledger) = story_ledger();
    let head = ok(&ledger, &["head", "--json"]);
    let export = ok(&ledger, &["export"]);
    // po-bd-0001 named O-BD-1 (40000) at seq 18; here it names another order.
    let line = r#"{"type":"order_placed","at":"2026-04-02T00:00:00Z","key":"po-bd-0001","order":"O-BD-9","license":"CN-IMP-2026-0001","quantity":100,"domestic_quantity":34,"supplier":"nvidia"}"#;
    let r = run_stdin(&ledger, &["append", "--create"], line);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("line 1: order_placed O-BD-9: key po-bd-0001 was used at seq 18 for a different event"),
        "{}",
        r.stderr
    );
    // Only the quantity differs from the recorded event: still another event.
    let same_but_qty = keyed_lines()[3].replace("\"quantity\":40000", "\"quantity\":40001");
    assert_eq!(run_stdin(&ledger, &["append", "--create"], &same_but_qty).code, 1);
    assert_eq!(ok(&ledger, &["head", "--json"]), head);
    assert_eq!(ok(&ledger, &["export"]), export);
}

#[test]
fn demo_exits_zero_and_shows_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo");
    let out = ok(&ledger, &["demo"]);
    assert!(out.contains("appended 31 events (0 skipped)"), "{out}");
    // The demo's refused order: 30000 units need ceil(30000 * 1 / 3) = 10000 domestic; it has 5000.
    assert!(
        out.contains(
            "refused: line 1: order_placed O-BD-3: domestic_quantity 5000 is below the 10000 that condition C1"
        ),
        "{out}"
    );
    assert!(out.contains("head unchanged: 31 records"), "{out}");
    // It left the story in the ledger it was given.
    assert_eq!(json_of(&ledger, &["head", "--json"])["records"], 31);
    // A second demo in the same (now non-empty) ledger is refused.
    assert_eq!(run(&ledger, &["demo"]).code, 1);
}

#[test]
fn exit_codes_for_usage_bad_input_and_a_busy_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    // Usage: unknown subcommand, unknown flag.
    assert_eq!(run(&ledger, &["frobnicate"]).code, 2);
    assert_eq!(run(&ledger, &["state", "--nope"]).code, 2);
    // Bad input: malformed JSON, unknown type, a number beyond u64, a duplicate JSON key.
    for bad in [
        "{not json",
        r#"{"type":"party_exploded","party":"x"}"#,
        r#"{"type":"shipment_recorded","order":"O-1","quantity":18446744073709551616}"#,
        r#"{"type":"party_restricted","party":"a","party":"b","reason":"r"}"#,
    ] {
        let r = run_stdin(&ledger, &["append", "--create"], bad);
        assert_eq!(r.code, 1, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("line 1"), "{bad}: {}", r.stderr);
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    }
    // A missing input file is bad input too.
    assert_eq!(run(&ledger, &["append", "--create", dir.path().join("missing.jsonl").to_str().unwrap()]).code, 1);

    // Busy: while this process holds the ledger for writing, a writer gets exit 4, one line;
    // a reader is never busy.
    let (d, story) = story_ledger();
    let held = quotaledger::ledger::Ledger::open(&story, quotaledger::store::OpenMode::MustExist, None).unwrap();
    let more = d.path().join("more.jsonl");
    std::fs::write(&more, r#"{"type":"party_restricted","party":"tencent","reason":"r"}"#).unwrap();
    let r = run(&story, &["append", "--create", more.to_str().unwrap()]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    assert_eq!(run(&story, &["head"]).code, 0, "a reader while a writer holds the ledger");
    drop(held);
    assert_eq!(run(&story, &["append", "--create", more.to_str().unwrap()]).code, 0);
}

#[test]
fn odd_arguments_are_refused_and_a_missing_input_creates_no_ledger() {
    let (dir, ledger) = story_ledger();
    let head = json_of(&ledger, &["head", "--json"]);
    let hash = head["hash"].as_str().unwrap();
    // A sign is not a hex digit (from_str_radix alone would accept "+d2...").
    let signed = format!("+{}", &hash[1..]);
    assert_eq!(run(&ledger, &["verify", "--expect-head", &signed]).code, 2);
    // --from past the head names no record.
    assert_eq!(run(&ledger, &["replay", "--from", "31"]).code, 1);
    assert_eq!(run(&ledger, &["replay", "--from", "30"]).code, 0);
    // An input file that does not exist: exit 1, and no ledger appears at a new path.
    let fresh = dir.path().join("fresh");
    assert_eq!(run(&fresh, &["append", "--create", "/nonexistent/input.jsonl"]).code, 1);
    assert!(!fresh.exists(), "a failed append created {}", fresh.display());
}
