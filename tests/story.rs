//! The H200 story (examples/h200.jsonl) end to end through the `qledger` binary.
//!
//! Every expected number below is derived by hand from the story file (the derivation is in
//! the comments), not copied from the program's output. Record hashes are never pinned: every
//! record holds `recorded_at`, the wall clock of its append, so a fresh ledger's hashes differ
//! from run to run; hashes are recomputed from `export` bytes instead.
//!
//! Names: L1..L5 = CN-IMP-2026-0001..0005 (authority CN-MOFCOM, product H200), US =
//! US-BIS-D000001 (authority US-BIS, licensee the supplier nvidia). The story, seq by seq (48
//! records, seq 0..=47; seq = line - 1):
//! ```text
//!  0- 4 party_registered   bytedance, alibaba, tencent, baidu (internet, private),
//!                          china-mobile (state-backed, telecom)
//!     5 party_restricted   china-mobile
//!  6- 8 party_registered   china-telecom (state-backed, telecom), cn-univ-lab (state-backed,
//!                          research), nvidia (US, semiconductors)
//!     9 round_opened       CN-MOFCOM round 1 H200, ceiling 400000
//!    10 policy_set         P-SOE CN-MOFCOM H200 denies state-backed and sectors telecom, defense
//!    11 exemption_granted  P-SOE exempts cn-univ-lab
//!    12 cap_set            CN-MOFCOM H200 150000 per party
//!    13 license_granted    L1 bytedance 150000 r1   (round 1: 150000 of 400000; cap 150000/150000)
//!    14 license_granted    L2 alibaba   130000 r1   (round 1: 280000)
//!    15 license_granted    L3 tencent   110000 r1   (round 1: 390000)
//!    16 license_granted    US nvidia    150000 (US-BIS: no round opened, no cap)
//!                          L1-L3, US valid 2026-01-20..2027-01-19
//! 17-23 condition_added    L1 C1 bundle 1/3 pending, L1 C2 end_use final, L2 C1 bundle 1/3
//!                          pending, L2 C2 max_per_order 50000 pending, L3 C1 bundle 1/3 pending,
//!                          L3 C2 reporting final, L1 C3 max_shipments 12 final
//! 24-26 condition_final.   L1 C1, L2 C1, L2 C2
//!    27 order_placed       O-BD-1 L1+US 40000 (domestic 14000 >= ceil(40000/3) = 13334)
//!    28 order_placed       O-AL-1 L2+US 30000 (domestic 10000 >= 10000; <= 50000 per order)
//!    29 order_placed       O-BD-2 L1+US 25000 (domestic 9000 >= 8334)
//!    30 shipment           O-BD-1 20000 (2026-02-20)
//!    31 shipment           O-AL-1 30000 (2026-02-21)
//!    32 order_cancelled    O-BD-2 (25000 returned to L1 and US)
//!    33 quota_amended      L2 130000 -> 120000 (round 1: 390000 -> 380000)
//!    34 license_granted    L5 cn-univ-lab 20000 r1, 2026-03-03..2027-03-02 (caught by P-SOE
//!                          as state-backed, but exempted; round 1: 400000 of 400000)
//!    35 shipment_corrected refers_to 31: O-AL-1 shipped 30000 -> 29000 (approved_by another)
//!    36 license_suspended  L3 (2026-03-05)
//!    37 license_reinst.    L3 (2026-03-12)
//!    38 condition_final.   L3 C1
//!    39 order_placed       O-TC-1 L3+US 50000 (domestic 16667 = ceil(50000/3))
//!    40 shipment (LATE)    O-BD-1 10000, at 2026-03-01T10:00 (before seq 39's 03-13), with
//!                          late_reason
//!    41 round_closed       CN-MOFCOM round 1
//!    42 round_opened       CN-MOFCOM round 2 H200, ceiling 200000
//!    43 license_granted    L4 baidu 60000 r2, 2026-04-01..2027-03-31 (round 2: 60000)
//!    44 condition_added    L4 C1 bundle 1/2 pending
//!    45 order_placed hold  O-BA-1 L4+US 20000, domestic 10000 (held: L4 C1 pending)
//!    46 order_placed hold  O-BA-2 L4+US 10000, domestic 2000 (held)
//!    47 condition_final.   L4 C1: O-BA-1 (10000 >= ceil(20000/2)) opened; O-BA-2 (2000 <
//!                          ceil(10000/2) = 5000) released as bundle_short, 10000 returned
//! ```
//!
//! US gate running remaining: 150000 -27: 110000 -28: 80000 -29: 55000 +32: 80000 -39: 30000
//! -45: 10000 -46: 0 +47: 10000. US shipped: 20000 (30) + 30000 (31) - 1000 (35) + 10000 (40)
//! = 59000.

use assert_cmd::Command;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const STORY: &str = include_str!("../examples/h200.jsonl");
const L1: &str = "CN-IMP-2026-0001";
const L2: &str = "CN-IMP-2026-0002";
const L3: &str = "CN-IMP-2026-0003";
const L4: &str = "CN-IMP-2026-0004";
const L5: &str = "CN-IMP-2026-0005";
const US: &str = "US-BIS-D000001";
const HASH_CONTEXT: &str = "quotaledger 2026-11-28 record hash v1";
const LATE_REASON: &str = "customs declaration of 1 March was filed two weeks late";

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
    // 48 lines in the story, none skipped.
    assert!(out.contains("appended 48 events (0 skipped); head seq 47"), "{out}");
    (dir, ledger)
}

fn state(ledger: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["state", "--json"];
    args.extend_from_slice(extra);
    json_of(ledger, &args)
}

fn find<'v>(s: &'v Value, list: &str, key: &str, id: &str) -> &'v Value {
    s[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list}[] missing from {s}"))
        .iter()
        .find(|x| x[key] == id)
        .unwrap_or_else(|| panic!("{list} {id} missing from {s}"))
}

fn license<'v>(s: &'v Value, id: &str) -> &'v Value {
    find(s, "licenses", "license", id)
}

fn party<'v>(s: &'v Value, id: &str) -> &'v Value {
    find(s, "parties", "party", id)
}

fn ids(s: &Value, list: &str, key: &str) -> Vec<String> {
    s[list].as_array().expect("a list").iter().map(|x| x[key].as_str().expect("an id").to_string()).collect()
}

/// Checks the quantity columns of one license: quantity, ordered, shipped, remaining.
fn assert_numbers(l: &Value, quantity: u64, ordered: u64, shipped: u64, remaining: u64) {
    let got = [&l["quantity"], &l["ordered"], &l["shipped"], &l["remaining"]];
    assert_eq!(got, [&json!(quantity), &json!(ordered), &json!(shipped), &json!(remaining)], "{}", l["license"]);
}

/// Held units, shipments recorded, shipments allowed (null: no max_shipments condition).
fn assert_usage(l: &Value, held: u64, shipments: u64, allowed: Option<u64>) {
    let got = [&l["held"], &l["shipments"], &l["shipments_allowed"]];
    assert_eq!(got, [&json!(held), &json!(shipments), &json!(allowed)], "{}", l["license"]);
}

fn assert_party(p: &Value, restricted: bool, licensed: u64, ordered: u64, shipped: u64, remaining: u64) {
    assert_eq!(p["restricted"], json!(restricted), "{p}");
    let got = [&p["licensed"], &p["ordered"], &p["shipped"], &p["remaining"]];
    assert_eq!(got, [&json!(licensed), &json!(ordered), &json!(shipped), &json!(remaining)], "{}", p["party"]);
}

fn totals(licensed: u64, ordered: u64, shipped: u64, remaining: u64) -> Value {
    json!({"licensed": licensed, "ordered": ordered, "shipped": shipped, "remaining": remaining})
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

/// `headroom[]` as (party, product, units).
fn headroom(s: &Value) -> Vec<(String, String, u64)> {
    s["headroom"]
        .as_array()
        .expect("headroom[]")
        .iter()
        .map(|h| {
            (
                h["party"].as_str().unwrap().to_string(),
                h["product"].as_str().unwrap().to_string(),
                h["headroom"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn h200(v: &[(&str, u64)]) -> Vec<(String, String, u64)> {
    v.iter().map(|(p, n)| (p.to_string(), "H200".to_string(), *n)).collect()
}

fn round(authority: &str, n: u64, open: bool, ceiling: u64, granted: u64, ordered: u64, shipped: u64) -> Value {
    json!({"authority": authority, "round": n, "product": "H200", "open": open, "ceiling": ceiling,
        "granted": granted, "ordered": ordered, "shipped": shipped, "left": ceiling - granted})
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn licenses_parties_and_totals_at_the_head_have_the_hand_derived_numbers() {
    let (_dir, ledger) = story_ledger();
    let s = state(&ledger, &[]);
    assert_eq!(s["as_of"], json!({"seq": 47, "records": 48, "at": "2026-04-03T03:00:00Z", "left_out": 0}));
    let head = json_of(&ledger, &["head", "--json"]);
    assert_eq!(s["head"], head);

    // L1: orders 40000 (27) + 25000 (29), O-BD-2 cancelled (32, nothing shipped): ordered 40000;
    // shipped 20000 (30) + 10000 (40, late) = 30000 in 2 shipments of the 12 C3 allows;
    // remaining 150000 - 40000.
    let l1 = license(&s, L1);
    assert_numbers(l1, 150_000, 40_000, 30_000, 110_000);
    assert_usage(l1, 0, 2, Some(12));
    assert_eq!(l1["status"], "active");
    assert_eq!(l1["licensee"], "bytedance");
    assert_eq!(l1["authority"], "CN-MOFCOM");
    assert_eq!(l1["product"], "H200");
    assert_eq!(l1["round"], 1);
    assert_eq!(l1["valid_from"], "2026-01-20");
    assert_eq!(l1["valid_until"], "2027-01-19");
    assert_eq!(conditions(l1), pairs(&[("C1", "final"), ("C2", "final"), ("C3", "final")]));
    assert_eq!(l1["conditions"][0]["rule"], json!({"kind": "bundle_ratio", "domestic": 1, "per": 3}));
    assert_eq!(
        l1["conditions"][1]["rule"],
        json!({"kind": "end_use", "text": "data-centre inference and training only; no re-export"})
    );
    assert_eq!(l1["conditions"][2]["rule"], json!({"kind": "max_shipments", "count": 12}));

    // L2: amended 130000 -> 120000 (33); O-AL-1 30000, shipped 30000 corrected to 29000 (35);
    // remaining 120000 - 30000 (a correction returns nothing to the quota).
    let l2 = license(&s, L2);
    assert_numbers(l2, 120_000, 30_000, 29_000, 90_000);
    assert_usage(l2, 0, 1, None);
    assert_eq!(conditions(l2), pairs(&[("C1", "final"), ("C2", "final")]));
    assert_eq!(l2["conditions"][1]["rule"], json!({"kind": "max_per_order", "units": 50000}));

    // L3: suspended (36), reinstated (37): active; O-TC-1 50000 (39), nothing shipped.
    let l3 = license(&s, L3);
    assert_numbers(l3, 110_000, 50_000, 0, 60_000);
    assert_usage(l3, 0, 0, None);
    assert_eq!(l3["status"], "active");
    assert_eq!(conditions(l3), pairs(&[("C1", "final"), ("C2", "final")]));

    // L4: round 2; O-BA-1 20000 opened, O-BA-2 10000 released (47): ordered 20000, none held.
    let l4 = license(&s, L4);
    assert_numbers(l4, 60_000, 20_000, 0, 40_000);
    assert_usage(l4, 0, 0, None);
    assert_eq!(l4["round"], 2);
    assert_eq!(l4["licensee"], "baidu");
    assert_eq!(l4["valid_from"], "2026-04-01");
    assert_eq!(l4["valid_until"], "2027-03-31");
    assert_eq!(conditions(l4), pairs(&[("C1", "final")]));
    assert_eq!(l4["conditions"][0]["rule"], json!({"kind": "bundle_ratio", "domestic": 1, "per": 2}));

    // L5: the exempted laboratory's license, untouched.
    let l5 = license(&s, L5);
    assert_numbers(l5, 20_000, 0, 0, 20_000);
    assert_eq!(l5["licensee"], "cn-univ-lab");
    assert_eq!(l5["round"], 1);
    assert_eq!(l5["valid_from"], "2026-03-03");
    assert_eq!(l5["valid_until"], "2027-03-02");
    assert_eq!(conditions(l5), pairs(&[]));

    // US: every order passes it: O-BD-1 40000 + O-AL-1 30000 + O-TC-1 50000 + O-BA-1 20000 =
    // 140000 (O-BD-2 cancelled, O-BA-2 released); shipped 30000 (O-BD-1) + 29000 (O-AL-1,
    // corrected) = 59000 in 3 shipments (30, 31, 40); remaining 10000.
    let us = license(&s, US);
    assert_numbers(us, 150_000, 140_000, 59_000, 10_000);
    assert_usage(us, 0, 3, None);
    assert_eq!(us["licensee"], "nvidia");
    assert_eq!(us["authority"], "US-BIS");
    assert_eq!(conditions(us), pairs(&[]));
    assert_eq!(ids(&s, "licenses", "license"), [L1, L2, L3, L4, L5, US]);

    // Parties: each holds exactly one license (the supplier nvidia holds US); china-mobile
    // (restricted) and china-telecom hold none.
    assert_party(party(&s, "bytedance"), false, 150_000, 40_000, 30_000, 110_000);
    assert_party(party(&s, "alibaba"), false, 120_000, 30_000, 29_000, 90_000);
    assert_party(party(&s, "tencent"), false, 110_000, 50_000, 0, 60_000);
    assert_party(party(&s, "baidu"), false, 60_000, 20_000, 0, 40_000);
    assert_party(party(&s, "cn-univ-lab"), false, 20_000, 0, 0, 20_000);
    assert_party(party(&s, "nvidia"), false, 150_000, 140_000, 59_000, 10_000);
    assert_party(party(&s, "china-mobile"), true, 0, 0, 0, 0);
    assert_party(party(&s, "china-telecom"), false, 0, 0, 0, 0);
    for (p, backed, sector) in
        [("china-mobile", true, "telecom"), ("china-telecom", true, "telecom"), ("cn-univ-lab", true, "research")]
    {
        assert_eq!((&party(&s, p)["state_backed"], &party(&s, p)["sector"]), (&json!(backed), &json!(sector)));
    }
    assert_eq!(party(&s, "nvidia")["country"], "US");
    assert_eq!(s["parties"].as_array().unwrap().len(), 8);

    // Totals sum the licenses, so an order counts on both its gates:
    // licensed 150000 + 120000 + 110000 + 60000 + 20000 + 150000 = 610000;
    // ordered 40000 + 30000 + 50000 + 20000 + 0 + 140000 = 280000;
    // shipped 30000 + 29000 + 59000 = 118000;
    // remaining 110000 + 90000 + 60000 + 40000 + 20000 + 10000 = 330000.
    assert_eq!(s["totals"], totals(610_000, 280_000, 118_000, 330_000));
    // Each order counts on both of its gates above; per authority, once. CN-MOFCOM: the four
    // import licenses and the lab's (150000 + 120000 + 110000 + 60000 + 20000 = 460000
    // licensed; orders 40000 + 30000 + 50000 + 20000 = 140000; shipped 30000 + 29000 = 59000;
    // remaining 460000 - 140000 = 320000). US-BIS: 150000 licensed, the same 140000 ordered
    // and 59000 shipped, 10000 remaining.
    let by = |a: &str| s["totals_by_authority"].as_array().unwrap().iter().find(|t| t["authority"] == a).cloned();
    let cn = by("CN-MOFCOM").expect("CN-MOFCOM totals");
    assert_eq!((&cn["licenses"], &cn["licensed"], &cn["ordered"]), (&json!(5), &json!(460_000), &json!(140_000)));
    assert_eq!((&cn["shipped"], &cn["remaining"]), (&json!(59_000), &json!(320_000)));
    let us = by("US-BIS").expect("US-BIS totals");
    assert_eq!((&us["licenses"], &us["licensed"], &us["ordered"]), (&json!(1), &json!(150_000), &json!(140_000)));
    assert_eq!((&us["shipped"], &us["remaining"]), (&json!(59_000), &json!(10_000)));
    assert_eq!(s["late_entries"], 1);
    assert_eq!(s["refusals"], 0);
    assert_eq!(s["held_orders"], json!([]));
}

#[test]
fn rounds_headroom_policies_and_caps_at_the_head() {
    let (_dir, ledger) = story_ledger();
    let s = state(&ledger, &[]);
    // Round 1 (closed at 41): granted 150000 + 130000 + 110000 - 10000 (33) + 20000 (34) =
    // 400000 = the ceiling; ordered on L1, L2, L3, L5: 40000 + 30000 + 50000 + 0 = 120000;
    // shipped 30000 + 29000 = 59000. US-BIS opened no round, so US counts in none.
    // Round 2: L4 60000 of 200000; ordered 20000; nothing shipped; 140000 left.
    assert_eq!(
        s["rounds"],
        json!([
            round("CN-MOFCOM", 1, false, 400_000, 400_000, 120_000, 59_000),
            round("CN-MOFCOM", 2, true, 200_000, 60_000, 20_000, 0),
        ])
    );

    // Headroom: the least over every gate an order must pass: the party's own CN-MOFCOM
    // remaining and the US gate's 10000; caps bind grants, not orders. Every party with an active
    // license is held to 10000 by the US gate; nvidia (US 10000, the best CN-MOFCOM licensee
    // bytedance 110000) too. china-mobile and china-telecom hold no license: no row.
    assert_eq!(
        headroom(&s),
        h200(&[
            ("alibaba", 10_000),
            ("baidu", 10_000),
            ("bytedance", 10_000),
            ("cn-univ-lab", 10_000),
            ("nvidia", 10_000),
            ("tencent", 10_000)
        ])
    );

    // P-SOE catches the state-backed (china-mobile, china-telecom, cn-univ-lab) and the telecom
    // sector (the same two operators), not nvidia (US, private) nor the internet companies;
    // cn-univ-lab is exempted.
    assert_eq!(
        s["policies"],
        json!([{
            "policy": "P-SOE", "authority": "CN-MOFCOM", "product": "H200",
            "deny": {"state_backed": true, "sectors": ["telecom", "defense"]},
            "reason": "state-backed buyers and critical infrastructure are kept out of H200 imports",
            "caught": ["china-mobile", "china-telecom", "cn-univ-lab"],
            "exemptions": ["cn-univ-lab"],
            "lifted": false
        }])
    );

    // Cap 150000 per party on CN-MOFCOM H200: holdings after amendments, room = 150000 - held.
    let holding = |p: &str, held: u64| json!({"party": p, "held": held, "room": 150_000 - held});
    assert_eq!(
        s["caps"],
        json!([{
            "authority": "CN-MOFCOM", "product": "H200", "per_party": 150_000,
            "holdings": [
                holding("alibaba", 120_000),
                holding("baidu", 60_000),
                holding("bytedance", 150_000),
                holding("cn-univ-lab", 20_000),
                holding("tencent", 110_000)
            ]
        }])
    );
}

#[test]
fn held_orders_reserve_both_gates_until_the_finalization_resolves_them() {
    let (_dir, ledger) = story_ledger();
    // After seq 46: O-BA-1 (20000) and O-BA-2 (10000) held on L4 and US; held units count as
    // ordered: L4 ordered 30000, held 30000, remaining 30000; US ordered 120000 + 30000 = 150000,
    // remaining 0, held 30000.
    let s = state(&ledger, &["--as-of", "46"]);
    assert_eq!(
        s["held_orders"],
        json!([
            {"order": "O-BA-1", "licenses": [L4, US], "quantity": 20_000, "seq": 45},
            {"order": "O-BA-2", "licenses": [L4, US], "quantity": 10_000, "seq": 46}
        ])
    );
    assert_numbers(license(&s, L4), 60_000, 30_000, 0, 30_000);
    assert_usage(license(&s, L4), 30_000, 0, None);
    assert_numbers(license(&s, US), 150_000, 150_000, 59_000, 0);
    assert_usage(license(&s, US), 30_000, 3, None);
    // Round 2's ordered counts the held 30000.
    assert_eq!(s["rounds"][1], round("CN-MOFCOM", 2, true, 200_000, 60_000, 30_000, 0));
    // The US gate is exhausted: nobody can order anything.
    assert!(headroom(&s).iter().all(|(_, _, n)| *n == 0), "{}", s["headroom"]);
    assert_eq!(headroom(&s).len(), 6);

    // After seq 44, before the holds: US 30000 left, the binding gate for every party except
    // cn-univ-lab, whose own L5 has only 20000.
    let s = state(&ledger, &["--as-of", "44"]);
    assert_eq!(s["held_orders"], json!([]));
    assert_eq!(
        headroom(&s),
        h200(&[
            ("alibaba", 30_000),
            ("baidu", 30_000),
            ("bytedance", 30_000),
            ("cn-univ-lab", 20_000),
            ("nvidia", 30_000),
            ("tencent", 30_000)
        ])
    );

    // At the head (after 47): nothing held; O-BA-2's 10000 is back on both gates.
    let s = state(&ledger, &[]);
    assert_eq!(s["held_orders"], json!([]));
    assert_usage(license(&s, L4), 0, 0, None);
    assert_eq!(license(&s, L4)["remaining"], 40_000);
    assert_eq!(license(&s, US)["remaining"], 10_000);

    // The text form lists the held orders as of seq 46 (a table: order, quantity, licenses,
    // seq), and none at the head.
    let text = ok(&ledger, &["state", "--as-of", "46"]);
    let row = |order: &str| text.lines().find(|l| l.starts_with(order)).unwrap_or_else(|| panic!("no {order}: {text}"));
    let cells =
        |l: &str| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(cells(row("O-BA-1")), ["O-BA-1", "20,000", &format!("{L4}, {US}"), "45"]);
    assert_eq!(cells(row("O-BA-2")), ["O-BA-2", "10,000", &format!("{L4}, {US}"), "46"]);
    assert!(!ok(&ledger, &["state"]).contains("HELD ORDER"));
}

#[test]
fn state_filters_by_license_and_party() {
    let (_dir, ledger) = story_ledger();
    let s = state(&ledger, &["--license", L2]);
    assert_eq!(ids(&s, "licenses", "license"), [L2]);
    assert_numbers(license(&s, L2), 120_000, 30_000, 29_000, 90_000);
    assert_eq!(s["totals"], totals(120_000, 30_000, 29_000, 90_000));

    let s = state(&ledger, &["--party", "tencent"]);
    assert_eq!(ids(&s, "licenses", "license"), [L3]);
    assert_eq!(ids(&s, "parties", "party"), ["tencent"]);
    assert_party(party(&s, "tencent"), false, 110_000, 50_000, 0, 60_000);
    assert_eq!(headroom(&s), h200(&[("tencent", 10_000)]));

    // The supplier: its export license only.
    let s = state(&ledger, &["--party", "nvidia"]);
    assert_eq!(ids(&s, "licenses", "license"), [US]);
    assert_eq!(s["totals"], totals(150_000, 140_000, 59_000, 10_000));

    // A filter naming nothing in the ledger is bad input.
    assert_eq!(run(&ledger, &["state", "--license", "CN-IMP-9999-0000"]).code, 1);
    assert_eq!(run(&ledger, &["state", "--party", "nobody"]).code, 1);
}

#[test]
fn state_as_of_a_seq_is_the_state_after_that_record() {
    let (_dir, ledger) = story_ledger();
    // After seq 29 (O-BD-2 placed): L1 ordered 40000 + 25000 = 65000, remaining 85000; L2 still
    // 130000 with 30000 ordered; L3 110000 untouched, C1 pending; US ordered 95000, remaining
    // 55000; nothing shipped; no L4, L5 yet.
    let s = state(&ledger, &["--as-of", "29"]);
    assert_eq!(s["as_of"], json!({"seq": 29, "records": 30, "at": "2026-02-04T06:00:00Z", "left_out": 0}));
    assert_numbers(license(&s, L1), 150_000, 65_000, 0, 85_000);
    assert_numbers(license(&s, L2), 130_000, 30_000, 0, 100_000);
    assert_numbers(license(&s, L3), 110_000, 0, 0, 110_000);
    assert_numbers(license(&s, US), 150_000, 95_000, 0, 55_000);
    assert_eq!(conditions(license(&s, L3)), pairs(&[("C1", "pending"), ("C2", "final")]));
    assert_eq!(ids(&s, "licenses", "license"), [L1, L2, L3, US]);
    // Totals: 150000 + 130000 + 110000 + 150000 = 540000 licensed; 65000 + 30000 + 95000 =
    // 190000 ordered; 85000 + 100000 + 110000 + 55000 = 350000 remaining.
    assert_eq!(s["totals"], totals(540_000, 190_000, 0, 350_000));
    // Round 1 open, 390000 of 400000 granted, 10000 left; ordered on L1-L3 95000.
    assert_eq!(s["rounds"], json!([round("CN-MOFCOM", 1, true, 400_000, 390_000, 95_000, 0)]));
    // The head is reported as the head, not the as-of point.
    assert_eq!(s["head"]["seq"], 47);

    // After seq 33 (the amendment): round 1 granted 380000, alibaba's holding 120000.
    let s = state(&ledger, &["--as-of", "33"]);
    assert_eq!(s["rounds"][0]["granted"], 380_000);
    assert_eq!(s["rounds"][0]["left"], 20_000);
    assert_eq!(find(&s["caps"][0], "holdings", "party", "alibaba")["held"], 120_000);
    // After seq 34: the laboratory's 20000 fills the ceiling.
    assert_eq!(state(&ledger, &["--as-of", "34"])["rounds"][0]["left"], 0);

    // After seq 36 (L3 suspended): tencent has no active license, so no headroom row; US
    // remaining 150000 - 40000 - 30000 = 80000 binds bytedance (L1 110000) and alibaba (L2
    // 90000); cn-univ-lab's L5 (20000) binds it; nvidia: US 80000.
    let s = state(&ledger, &["--as-of", "36"]);
    assert_eq!(license(&s, L3)["status"], "suspended");
    assert_eq!(
        headroom(&s),
        h200(&[("alibaba", 80_000), ("bytedance", 80_000), ("cn-univ-lab", 20_000), ("nvidia", 80_000)])
    );

    // After seq 40 round 1 is still open; after 41 it is closed.
    assert_eq!(state(&ledger, &["--as-of", "40"])["rounds"][0]["open"], true);
    assert_eq!(state(&ledger, &["--as-of", "41"])["rounds"][0]["open"], false);

    // After seq 5: five parties, china-mobile restricted, no license, no policy yet.
    let s = state(&ledger, &["--as-of", "5"]);
    assert_eq!(s["licenses"].as_array().unwrap().len(), 0);
    assert_eq!(s["parties"].as_array().unwrap().len(), 5);
    assert_eq!(party(&s, "china-mobile")["restricted"], true);
    assert_eq!(s["policies"], json!([]));
    // After seq 4: china-mobile registered, not yet restricted.
    assert_eq!(party(&state(&ledger, &["--as-of", "4"]), "china-mobile")["restricted"], false);
    // After seq 10 the policy catches the three state-backed parties; the exemption follows at 11.
    let s = state(&ledger, &["--as-of", "10"]);
    assert_eq!(s["policies"][0]["caught"], json!(["china-mobile", "china-telecom", "cn-univ-lab"]));
    assert_eq!(s["policies"][0]["exemptions"], json!([]));
    assert_eq!(state(&ledger, &["--as-of", "11"])["policies"][0]["exemptions"], json!(["cn-univ-lab"]));

    // A seq past the head names no record: refused (exit 1), not silently the head.
    let out = run(&ledger, &["state", "--json", "--as-of", "999"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--as-of 999: the ledger's last seq is 47"), "{}", out.stderr);
    assert_eq!(state(&ledger, &["--as-of", "47"])["as_of"]["seq"], 47);
}

#[test]
fn state_as_of_a_time_uses_effective_time_and_includes_a_late_entry_dated_before_it() {
    let (_dir, ledger) = story_ledger();
    // 2026-03-05T00:00:00Z: seq 0..=35 (35 is 03-04T08:00) and seq 40, the late shipment dated
    // 03-01, although it was recorded after seq 39 (03-13); not 36 (L3 suspended 03-05T02:00).
    let s = state(&ledger, &["--as-of", "2026-03-05T00:00:00Z"]);
    assert_eq!(s["as_of"]["at"], "2026-03-04T08:00:00Z", "the latest effective time included");
    assert_eq!(s["late_entries"], 1);
    // L1: 20000 (30) + 10000 (40) shipped in 2 shipments.
    assert_numbers(license(&s, L1), 150_000, 40_000, 30_000, 110_000);
    assert_usage(license(&s, L1), 0, 2, Some(12));
    // L2: amended (33) and corrected (35).
    assert_numbers(license(&s, L2), 120_000, 30_000, 29_000, 90_000);
    // L3: active, no order yet (O-TC-1 is 03-13), C1 still pending (final 03-12).
    assert_eq!(license(&s, L3)["status"], "active");
    assert_numbers(license(&s, L3), 110_000, 0, 0, 110_000);
    assert_eq!(conditions(license(&s, L3)), pairs(&[("C1", "pending"), ("C2", "final")]));
    // US: O-BD-1 40000 + O-AL-1 30000 ordered; 30000 + 29000 shipped in 3 shipments.
    assert_numbers(license(&s, US), 150_000, 70_000, 59_000, 80_000);
    assert_usage(license(&s, US), 0, 3, None);
    assert_eq!(ids(&s, "licenses", "license"), [L1, L2, L3, L5, US]);
    // 150000 + 120000 + 110000 + 20000 + 150000 = 550000 licensed; 40000 + 30000 + 70000 =
    // 140000 ordered; 30000 + 29000 + 59000 = 118000 shipped; 110000 + 90000 + 110000 + 20000 +
    // 80000 = 410000 remaining.
    assert_eq!(s["totals"], totals(550_000, 140_000, 118_000, 410_000));

    // One second before the late shipment's at: seq 0..=32 only (33 is 03-02): no late entry,
    // L1 shipped 20000 once, L2 not yet amended nor corrected.
    let s = state(&ledger, &["--as-of", "2026-03-01T09:59:59Z"]);
    assert_eq!(s["as_of"]["at"], "2026-02-25T05:00:00Z");
    assert_eq!(s["late_entries"], 0);
    assert_numbers(license(&s, L1), 150_000, 40_000, 20_000, 110_000);
    assert_usage(license(&s, L1), 0, 1, Some(12));
    assert_numbers(license(&s, L2), 130_000, 30_000, 30_000, 100_000);
    // Exactly its at includes it: US shipped 20000 + 30000 + 10000 = 60000 (uncorrected).
    let s = state(&ledger, &["--as-of", "2026-03-01T10:00:00Z"]);
    assert_eq!(s["as_of"]["at"], "2026-03-01T10:00:00Z");
    assert_eq!(s["late_entries"], 1);
    assert_numbers(license(&s, L1), 150_000, 40_000, 30_000, 110_000);
    assert_numbers(license(&s, US), 150_000, 70_000, 60_000, 80_000);
    // Offsets are normalized: 18:00+08:00 is 10:00Z.
    assert_eq!(state(&ledger, &["--as-of", "2026-03-01T18:00:00+08:00"])["licenses"], s["licenses"]);

    // 2026-03-06: after the suspension (03-05T02:00), before the reinstatement (03-12).
    let s = state(&ledger, &["--as-of", "2026-03-06T00:00:00Z"]);
    assert_eq!(s["as_of"]["at"], "2026-03-05T02:00:00Z");
    assert_eq!(license(&s, L3)["status"], "suspended");

    // A DATE is the end of that UTC day: 2026-03-05 includes the suspension (03-05T02:00) and the
    // late shipment; 2026-03-04 includes the correction (03-04T08:00) but not the suspension.
    let s = state(&ledger, &["--as-of", "2026-03-05"]);
    assert_eq!(s["as_of"]["at"], "2026-03-05T02:00:00Z");
    assert_eq!(license(&s, L3)["status"], "suspended");
    assert_eq!(license(&s, L1)["shipped"], 30_000);
    let s = state(&ledger, &["--as-of", "2026-03-04"]);
    assert_eq!(s["as_of"]["at"], "2026-03-04T08:00:00Z");
    assert_eq!(license(&s, L3)["status"], "active");
    assert_eq!(license(&s, L2)["shipped"], 29_000);

    // Exactly the at of seq 33 (2026-03-02T02:00:00Z) includes the amendment; a second earlier
    // does not.
    assert_eq!(license(&state(&ledger, &["--as-of", "2026-03-02T02:00:00Z"]), L2)["quantity"], 120_000);
    assert_eq!(license(&state(&ledger, &["--as-of", "2026-03-02T01:59:59Z"]), L2)["quantity"], 130_000);

    // After the last record: the head state.
    let s = state(&ledger, &["--as-of", "2026-05-01T00:00:00Z"]);
    assert_eq!(s["licenses"], state(&ledger, &[])["licenses"]);

    // Before the first record: the empty state.
    let s = state(&ledger, &["--as-of", "2026-01-01T00:00:00Z"]);
    assert_eq!(s["as_of"]["at"], Value::Null);
    assert_eq!(s["parties"].as_array().unwrap().len(), 0);

    // Neither a seq nor a time: usage error.
    assert_eq!(run(&ledger, &["state", "--as-of", "yesterday"]).code, 2);
}

/// `recorded_at` of every record, from `log --json`.
fn recorded_at(ledger: &Path) -> Vec<String> {
    json_lines(ledger, &["log", "--json"])
        .iter()
        .map(|l| l["recorded_at"].as_str().expect("recorded_at on every record").to_string())
        .collect()
}

#[test]
fn state_known_at_shows_only_what_had_been_recorded_by_then() {
    // The story appended in two calls: lines 1-40 (seq 0..=39), then 41-48 (seq 40..=47, the
    // late shipment first).
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("split");
    let lines: Vec<&str> = STORY.lines().collect();
    assert_eq!(lines.len(), 48);
    assert_eq!(run_stdin(&ledger, &["append", "--create"], &(lines[..40].join("\n") + "\n")).code, 0);
    // The ledger clock keeps whole seconds: let one pass, so the second call is known later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(run_stdin(&ledger, &["append", "--create"], &(lines[40..].join("\n") + "\n")).code, 0);
    // recorded_at is the ledger's clock at the append: the same within one call, later in the
    // second (it never goes backwards). Times are taken from the log, never pinned.
    let rec = recorded_at(&ledger);
    assert_eq!(rec.len(), 48);
    assert!(rec[..40].iter().all(|r| *r == rec[0]) && rec[40..].iter().all(|r| *r == rec[40]), "{rec:?}");
    let (first, second) = (rec[0].as_str(), rec[40].as_str());
    assert!(first < second, "recorded_at went backwards or stood still: {first} then {second}");

    // Before anything was recorded: the empty state.
    let s = state(&ledger, &["--known-at", "2000-01-01T00:00:00Z"]);
    assert_eq!(s["as_of"], json!({"seq": null, "records": 0, "at": null, "left_out": 0}));
    assert_eq!(s["licenses"], json!([]));
    assert_eq!(s["parties"], json!([]));
    // The head is still the head.
    assert_eq!(s["head"]["seq"], 47);

    // As of the first call: seq 0..=39. L1 shipped only 20000 (the late shipment is not yet
    // known); US remaining after O-TC-1: 80000 - 50000 = 30000; round 1 still open.
    let s = state(&ledger, &["--known-at", first]);
    assert_eq!(s["as_of"]["seq"], 39);
    assert_eq!(s["late_entries"], 0);
    assert_numbers(license(&s, L1), 150_000, 40_000, 20_000, 110_000);
    assert_numbers(license(&s, US), 150_000, 120_000, 49_000, 30_000);
    assert_eq!(s["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(s["rounds"][0]["open"], true);

    // As of the second call: everything, equal to the head state.
    let s = state(&ledger, &["--known-at", second]);
    assert_eq!(s["as_of"]["seq"], 47);
    assert_eq!(s["licenses"], state(&ledger, &[])["licenses"]);
    assert_eq!(s["late_entries"], 1);

    // Combined with --as-of TIME: "what did the ledger say then about 5 March": before the late
    // entry was recorded, O-BD-1 had shipped 20000 by 5 March; after, 30000.
    let then = state(&ledger, &["--known-at", first, "--as-of", "2026-03-05T00:00:00Z"]);
    assert_eq!(license(&then, L1)["shipped"], 20_000);
    let now = state(&ledger, &["--known-at", second, "--as-of", "2026-03-05T00:00:00Z"]);
    assert_eq!(license(&now, L1)["shipped"], 30_000);
    // Combined with --as-of SEQ: the earlier of the two points.
    assert_eq!(state(&ledger, &["--known-at", first, "--as-of", "45"])["as_of"]["seq"], 39);
    assert_eq!(state(&ledger, &["--known-at", second, "--as-of", "29"])["as_of"]["seq"], 29);

    // Not a time: usage error.
    assert_eq!(run(&ledger, &["state", "--known-at", "yesterday"]).code, 2);
}

#[test]
fn verify_and_expect_head() {
    let (_dir, ledger) = story_ledger();
    let out = ok(&ledger, &["verify"]);
    assert!(out.starts_with("ok: 48 records"), "{out}");
    let head = json_of(&ledger, &["head", "--json"]);
    let hash = head["hash"].as_str().unwrap().to_string();
    let v = json_of(&ledger, &["verify", "--json", "--expect-head", &hash]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["records"], 48);
    assert_eq!(v["expected_head_seq"], 47);

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

    // The head of the empty ledger (all zeros) is extended by every ledger.
    let zeros = "0".repeat(64);
    let v = json_of(&ledger, &["verify", "--json", "--expect-head", &zeros]);
    assert_eq!(v["ok"], true);
}

/// An export line without what depends on when it was appended (`recorded_at`, which is inside
/// `bytes`, so `bytes`, `hash` and `prev` differ between two appends of the same events).
fn content(rec: &Value) -> Value {
    let mut rec = rec.clone();
    for k in ["recorded_at", "bytes", "hash", "prev"] {
        rec.as_object_mut().unwrap().remove(k);
    }
    rec
}

#[test]
fn a_head_taken_midway_is_on_the_chain_it_was_taken_from_and_on_no_other() {
    // The story appended in two calls (lines 1-27, then 28-48) holds the same events as one
    // call, and the head after the first call is found on its chain at seq 26.
    let (_dir, whole) = story_ledger();
    let dir = tempfile::tempdir().unwrap();
    let split = dir.path().join("split");
    let lines: Vec<&str> = STORY.lines().collect();
    let first = lines[..27].join("\n") + "\n";
    let rest = lines[27..].join("\n") + "\n";
    let r = run_stdin(&split, &["append", "--create", "-"], &first);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mid = json_of(&split, &["head", "--json"]);
    assert_eq!(mid["seq"], 26);
    assert_eq!(mid["records"], 27);
    let r = run_stdin(&split, &["append", "--create"], &rest);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (a, b) = (json_lines(&split, &["export"]), json_lines(&whole, &["export"]));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(content(x), content(y), "seq {}", x["seq"]);
    }
    // ...appended at two moments: the second call's records are recorded later.
    // (The ledger clock is kept in whole seconds: the two calls may fall in one second.)
    assert!(a[26]["recorded_at"].as_str() <= a[27]["recorded_at"].as_str(), "{} {}", a[26], a[27]);
    assert_eq!(state(&split, &[])["licenses"], state(&whole, &[])["licenses"]);
    let v = json_of(&split, &["verify", "--json", "--expect-head", mid["hash"].as_str().unwrap()]);
    assert_eq!(v["expected_head_seq"], 26);
    // The whole story was appended at another moment: unless both fell in the same second, its
    // records hold another recorded_at, so the split ledger's midway head is on no record of it.
    let on_whole = run(&whole, &["verify", "--expect-head", mid["hash"].as_str().unwrap()]).code;
    if a[26]["recorded_at"] == b[26]["recorded_at"] {
        assert_eq!(a[26]["hash"], b[26]["hash"], "same events at the same clock, same bytes");
        assert_eq!(on_whole, 0);
    } else {
        assert_ne!(a[26]["hash"], b[26]["hash"]);
        assert_eq!(on_whole, 3);
    }
}

#[test]
fn head_json_names_the_last_record() {
    let (_dir, ledger) = story_ledger();
    let head = json_of(&ledger, &["head", "--json"]);
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(head["seq"], 47);
    assert_eq!(head["records"], 48);
    assert_eq!(head["hash"], export[47]["hash"]);
    let text = ok(&ledger, &["head"]);
    assert_eq!(text.trim_end(), format!("seq 47 records 48 hash {}", head["hash"].as_str().unwrap()));

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
    assert_eq!(log_seqs(&ledger, &[]), (0..=47).collect::<Vec<_>>());
    // L1: granted 13, conditions 17, 18, 23, C1 finalized 24, O-BD-1 27, O-BD-2 29, and the
    // shipments 30 and 40 and the cancellation 32, which touch L1 through their orders.
    assert_eq!(log_seqs(&ledger, &["--license", L1]), vec![13, 17, 18, 23, 24, 27, 29, 30, 32, 40]);
    // L3: granted 15, conditions 21, 22, suspended 36, reinstated 37, C1 finalized 38, O-TC-1 39.
    assert_eq!(log_seqs(&ledger, &["--license", L3]), vec![15, 21, 22, 36, 37, 38, 39]);
    // L4: granted 43, condition 44, the held orders 45, 46, the finalization 47.
    assert_eq!(log_seqs(&ledger, &["--license", L4]), vec![43, 44, 45, 46, 47]);
    // US, the second gate of every order: granted 16, orders 27, 28, 29, shipments 30, 31,
    // cancellation 32, correction 35, O-TC-1 39, late shipment 40, held orders 45, 46.
    let us = log_seqs(&ledger, &["--license", US]);
    for seq in [16, 27, 28, 29, 30, 31, 32, 35, 39, 40, 45, 46] {
        assert!(us.contains(&seq), "seq {seq} touched {US}: {us:?}");
    }
    assert_eq!(log_seqs(&ledger, &["--order", "O-BD-1"]), vec![27, 30, 40]);
    assert_eq!(log_seqs(&ledger, &["--order", "O-BD-2"]), vec![29, 32]);
    // The correction (35) names seq 31, and through it O-AL-1.
    assert_eq!(log_seqs(&ledger, &["--order", "O-AL-1"]), vec![28, 31, 35]);
    // bytedance: registered 0, then every L1 event.
    assert_eq!(log_seqs(&ledger, &["--party", "bytedance"]), vec![0, 13, 17, 18, 23, 24, 27, 29, 30, 32, 40]);
    // china-mobile: registered 4, restricted 5; it holds no license.
    assert_eq!(log_seqs(&ledger, &["--party", "china-mobile"]), vec![4, 5]);
    assert_eq!(log_seqs(&ledger, &["--party", "china-telecom"]), vec![6]);
    // baidu: registered 3, then every L4 event.
    assert_eq!(log_seqs(&ledger, &["--party", "baidu"]), vec![3, 43, 44, 45, 46, 47]);
    assert_eq!(log_seqs(&ledger, &["--from", "27", "--limit", "3"]), vec![27, 28, 29]);
    assert_eq!(log_seqs(&ledger, &["--license", L1, "--from", "28"]), vec![29, 30, 32, 40]);

    // JSON lines carry the type, subject, hash (equal to the export's), late_reason and
    // recorded_at.
    let log = json_lines(&ledger, &["log", "--json", "--order", "O-BD-2"]);
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(log[1]["type"], "order_cancelled");
    assert_eq!(log[1]["subject"], "O-BD-2");
    assert_eq!(log[1]["license"], L1);
    assert_eq!(log[1]["key"], "cancel-bd-2");
    assert_eq!(log[1]["hash"], export[32]["hash"]);
    assert_eq!(log[1]["late_reason"], Value::Null);

    // The text form: a header, then one row per record, with seq, type and the hash's first 16
    // hex digits; the late one says so.
    let text = ok(&ledger, &["log", "--order", "O-BD-1"]);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("order_placed") && lines[0].contains(&export[27]["hash"].as_str().unwrap()[..16]));
    assert!(lines[1].trim_start().starts_with("30 ") && lines[1].contains("shipment_recorded"));
    assert!(!lines[1].contains("LATE"), "{}", lines[1]);
    assert!(lines[2].trim_start().starts_with("40 ") && lines[2].contains("LATE"), "{}", lines[2]);
}

#[test]
fn log_late_lists_only_the_backdated_shipment() {
    let (_dir, ledger) = story_ledger();
    // Only seq 40 is dated before the record before it (03-01 after 03-13) and says why.
    assert_eq!(log_seqs(&ledger, &["--late"]), vec![40]);
    let late = json_lines(&ledger, &["log", "--json", "--late"]);
    assert_eq!(late[0]["late_reason"], LATE_REASON);
    assert_eq!(late[0]["at"], "2026-03-01T10:00:00Z");
    assert_eq!(late[0]["subject"], "O-BD-1");
    assert_eq!(late[0]["key"], "ship-bd-1-b");
    // It was recorded with the rest of the story, after seq 39's effective time.
    let rec = recorded_at(&ledger);
    assert_eq!(late[0]["recorded_at"], rec[40].as_str());
    // Every other record has no late_reason.
    let all = json_lines(&ledger, &["log", "--json"]);
    assert_eq!(all.iter().filter(|l| !l["late_reason"].is_null()).count(), 1);
    // Text: the seq, the LATE mark with when it was recorded, the reason.
    let text = ok(&ledger, &["log", "--late"]);
    assert_eq!(text.lines().count(), 2, "a header and one row: {text}");
    assert!(text.lines().nth(1).unwrap().trim_start().starts_with("40 "), "{text}");
    assert!(text.contains("LATE (recorded ") && text.contains(LATE_REASON), "{text}");
    // Combined with another filter: O-BD-2 had no late entry.
    assert_eq!(log_seqs(&ledger, &["--late", "--order", "O-BD-2"]), Vec::<u64>::new());
    assert_eq!(log_seqs(&ledger, &["--late", "--license", L1]), vec![40]);
}

#[test]
fn replay_shows_each_effect_on_every_gate_round_and_cap() {
    let (_dir, ledger) = story_ledger();
    // A header, then a row per event; numbers with thousands separators (dropped here).
    let text = ok(&ledger, &["replay"]).replace(',', "");
    assert_eq!(text.lines().count(), 49);
    let line = |seq: usize| text.lines().nth(seq + 1).unwrap().to_string();
    let round1 = |granted: u64| format!("round CN-MOFCOM/1 granted {granted} of 400000");
    let cap = |p: &str, held: u64| format!("{p} holds {held} of cap 150000 (CN-MOFCOM H200)");
    // Expected effects, computed from the story by hand (US running remaining in the header).
    let expected = [
        (13, format!("{L1} granted: remaining 150000 | {} | {}", round1(150_000), cap("bytedance", 150_000))),
        (14, format!("{L2} granted: remaining 130000 | {} | {}", round1(280_000), cap("alibaba", 130_000))),
        (15, format!("{L3} granted: remaining 110000 | {} | {}", round1(390_000), cap("tencent", 110_000))),
        // US-BIS has no round and no cap.
        (16, format!("{US} granted: remaining 150000")),
        (17, format!("{L1} condition C1 pending")),
        (18, format!("{L1} condition C2 final")),
        (24, format!("{L1} condition C1 pending -> final")),
        (27, format!("{L1} remaining 150000 -> 110000 | {US} remaining 150000 -> 110000")), // O-BD-1 40000
        (28, format!("{L2} remaining 130000 -> 100000 | {US} remaining 110000 -> 80000")),  // O-AL-1 30000
        (29, format!("{L1} remaining 110000 -> 85000 | {US} remaining 80000 -> 55000")),    // O-BD-2 25000
        (30, format!("{L1} shipped 0 -> 20000 | {US} remaining 55000")),
        (31, format!("{L2} shipped 0 -> 30000 | {US} remaining 55000")),
        (32, format!("{L1} remaining 85000 -> 110000 | {US} remaining 55000 -> 80000")), // 25000 back
        // 120000 - 30000 ordered; round 1 390000 - 10000.
        (33, format!("{L2} remaining 100000 -> 90000 | {} | {}", round1(380_000), cap("alibaba", 120_000))),
        (34, format!("{L5} granted: remaining 20000 | {} | {}", round1(400_000), cap("cn-univ-lab", 20_000))),
        (35, format!("{L2} shipped 30000 -> 29000 | {US} remaining 80000")),
        (36, format!("{L3} active -> suspended")),
        (37, format!("{L3} suspended -> active")),
        (39, format!("{L3} remaining 110000 -> 60000 | {US} remaining 80000 -> 30000")), // O-TC-1 50000
        (40, format!("{L1} shipped 20000 -> 30000 | {US} remaining 30000 | LATE: {LATE_REASON}")),
        (
            43,
            format!(
                "{L4} granted: remaining 60000 | round CN-MOFCOM/2 granted 60000 of 200000 | {}",
                cap("baidu", 60_000)
            ),
        ),
        (45, format!("{L4} remaining 60000 -> 40000 | {US} remaining 30000 -> 10000")), // O-BA-1 held
        (46, format!("{L4} remaining 40000 -> 30000 | {US} remaining 10000 -> 0")),     // O-BA-2 held
    ];
    for (seq, effect) in expected {
        let l = line(seq);
        assert!(l.trim_start().starts_with(&format!("{seq} ")), "line {seq}: {l}");
        assert!(l.trim_end().ends_with(&effect), "seq {seq}: expected {effect:?} in {l:?}");
    }
    // The finalization: O-BA-2's 10000 back on L4 (30000 -> 40000); one opened, one released.
    let l47 = line(47);
    for part in [&format!("{L4} remaining 30000 -> 40000"), "opened held O-BA-1", "released held O-BA-2 (bundle_short)"]
    {
        assert!(l47.contains(part), "seq 47: expected {part:?} in {l47:?}");
    }
    // Events with no quota effect say nothing: registration, round, policy, cap.
    for seq in [0, 9, 10, 11, 12, 41, 42] {
        assert!(!line(seq).contains("remaining"), "{}", line(seq));
    }

    // Only L3's events (7 of them, see log), and --to stops after seq 37.
    // (Each with a header line.)
    let l3 = ok(&ledger, &["replay", "--license", L3]);
    assert_eq!(l3.lines().count(), 1 + 7);
    assert!(l3.lines().skip(1).all(|l| l.contains(L3)), "{l3}");
    let to = ok(&ledger, &["replay", "--license", L3, "--to", "37"]);
    assert_eq!(to.lines().count(), 1 + 5);
    let from = ok(&ledger, &["replay", "--from", "29", "--to", "32"]);
    assert_eq!(from.lines().count(), 1 + 4);
    assert!(from.lines().last().unwrap().ends_with(&format!("{US} remaining 55,000 -> 80,000")));

    // JSON: before and after of the cancellation, on the first gate.
    let j = json_lines(&ledger, &["replay", "--json", "--from", "32", "--to", "32"]);
    assert_eq!(j.len(), 1);
    assert_eq!(j[0]["before"], json!({"remaining": 85_000, "status": "active", "shipped": 20_000}));
    assert_eq!(j[0]["after"], json!({"remaining": 110_000, "status": "active", "shipped": 20_000}));
    assert_eq!(j[0]["event"]["type"], "order_cancelled");
    assert_eq!(
        j[0]["disclosure"]["gates"],
        json!([{"license": US, "remaining_before": 55_000, "remaining_after": 80_000}])
    );
}

/// `replay --json` of one seq: its disclosure.
fn disclosure(ledger: &Path, seq: u64) -> Value {
    let s = seq.to_string();
    let j = json_lines(ledger, &["replay", "--json", "--from", &s, "--to", &s]);
    assert_eq!(j.len(), 1);
    assert_eq!(j[0]["seq"], seq);
    j[0]["disclosure"].clone()
}

#[test]
fn replay_json_discloses_gates_rounds_caps_holds_and_the_late_mark() {
    let (_dir, ledger) = story_ledger();
    let none = || json!({"gates": [], "round": null, "cap": null, "opened": [], "released": [], "late_reason": null, "headline": null});
    let with = |k: &str, v: Value| {
        let mut d = none();
        d[k] = v;
        d
    };
    // A grant in round 1: round and cap running totals.
    let mut d = with("round", json!({"authority": "CN-MOFCOM", "round": 1, "ceiling": 400_000, "granted": 150_000}));
    d["cap"] = json!({"authority": "CN-MOFCOM", "product": "H200", "party": "bytedance", "per_party": 150_000, "held": 150_000});
    assert_eq!(disclosure(&ledger, 13), d);
    // The US grant: nothing beyond its own license.
    assert_eq!(disclosure(&ledger, 16), none());
    // The amendment: round 1 390000 -> 380000, alibaba holds 120000.
    let mut d = with("round", json!({"authority": "CN-MOFCOM", "round": 1, "ceiling": 400_000, "granted": 380_000}));
    d["cap"] =
        json!({"authority": "CN-MOFCOM", "product": "H200", "party": "alibaba", "per_party": 150_000, "held": 120_000});
    assert_eq!(disclosure(&ledger, 33), d);
    // Round 2's grant.
    assert_eq!(
        disclosure(&ledger, 43)["round"],
        json!({"authority": "CN-MOFCOM", "round": 2, "ceiling": 200_000, "granted": 60_000})
    );
    // Orders: the second gate's running remaining (the first gate is before/after).
    let gate = |before: u64, after: u64| json!([{"license": US, "remaining_before": before, "remaining_after": after}]);
    assert_eq!(disclosure(&ledger, 27), with("gates", gate(150_000, 110_000)));
    assert_eq!(disclosure(&ledger, 39), with("gates", gate(80_000, 30_000)));
    assert_eq!(disclosure(&ledger, 46), with("gates", gate(10_000, 0)));
    // The late shipment: marked, with its reason; US remaining unchanged by a shipment.
    let mut d = with("gates", gate(30_000, 30_000));
    d["late_reason"] = json!(LATE_REASON);
    assert_eq!(disclosure(&ledger, 40), d);
    // The finalization: O-BA-1 opened, O-BA-2 released by bundle_short (2000 < 5000).
    let d = disclosure(&ledger, 47);
    assert_eq!(d["opened"], json!(["O-BA-1"]));
    assert_eq!(d["released"], json!([{"order": "O-BA-2", "rule": "bundle_short"}]));
    assert_eq!(d["late_reason"], Value::Null);
}

#[test]
fn the_correction_sets_o_al_1_shipped_to_29000_on_both_gates_and_keeps_the_original() {
    let (_dir, ledger) = story_ledger();
    // Before the correction (after 34): O-AL-1 shipped 30000 on L2 and US (20000 + 30000 = 50000).
    let s = state(&ledger, &["--as-of", "34"]);
    assert_eq!(license(&s, L2)["shipped"], 30_000);
    assert_eq!(license(&s, US)["shipped"], 50_000);
    // After it (35): 29000 on L2, 49000 on US; ordered and remaining unchanged (a correction
    // returns nothing to the quota: L2 120000 - 30000, US 150000 - 70000).
    let s = state(&ledger, &["--as-of", "35"]);
    assert_numbers(license(&s, L2), 120_000, 30_000, 29_000, 90_000);
    assert_numbers(license(&s, US), 150_000, 70_000, 49_000, 80_000);
    assert_eq!(license(&s, L2)["shipments"], 1, "a correction is not another shipment");

    // The original record stays as it was; the correction names it and what it corrected.
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(export[31]["event"], json!({"type": "shipment_recorded", "order": "O-AL-1", "quantity": 30000}));
    assert_eq!(export[35]["event"]["refers_to"], 31);
    assert_eq!(export[35]["event"]["quantity"], 29_000);
    assert_eq!(export[35]["event"]["approved_by"], "supervisor@customs");
    assert_eq!(export[35]["actor"], "officer@customs");
    assert_eq!(
        export[35]["context"],
        json!({"kind": "correction", "licenses": [L2, US], "order": "O-AL-1", "previous": 30000})
    );

    // Four eyes: the actor cannot approve its own correction; the ledger is unchanged.
    let head = ok(&ledger, &["head", "--json"]);
    let own = r#"{"type":"shipment_corrected","at":"2026-04-04T00:00:00Z","actor":"officer@customs","refers_to":30,"quantity":19000,"reason":"recount","approved_by":"officer@customs"}"#;
    let r = run_stdin(&ledger, &["append", "--create"], own);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("rule same_approver"), "{}", r.stderr);
    // Never above what was ordered (O-AL-1: 30000).
    let over = r#"{"type":"shipment_corrected","at":"2026-04-04T00:00:00Z","actor":"officer@customs","refers_to":30,"quantity":40001,"reason":"recount","approved_by":"supervisor@customs"}"#;
    assert_eq!(run_stdin(&ledger, &["append", "--create"], over).code, 1);
    assert_eq!(ok(&ledger, &["head", "--json"]), head);
}

#[test]
fn export_lines_carry_every_field_and_their_hashes_recompute() {
    let (_dir, ledger) = story_ledger();
    let export = json_lines(&ledger, &["export"]);
    assert_eq!(export.len(), 48);
    let input: Vec<Value> = STORY.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut prev = "0".repeat(64);
    for (i, (rec, line)) in export.iter().zip(&input).enumerate() {
        let keys: Vec<&str> = rec.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "seq",
            "at",
            "recorded_at",
            "actor",
            "key",
            "late_reason",
            "allow_future",
            "event",
            "context",
            "prev",
            "hash",
            "bytes",
        ] {
            assert!(keys.contains(&k), "seq {i}: no {k} in {rec}");
        }
        assert_eq!(rec["seq"], i as u64);
        assert_eq!(rec["at"], line["at"]);
        assert_eq!(rec["actor"], line["actor"]);
        assert_eq!(rec["key"], line.get("key").cloned().unwrap_or(Value::Null));
        assert_eq!(rec["late_reason"], line.get("late_reason").cloned().unwrap_or(Value::Null));
        assert_eq!(rec["allow_future"], false);
        // The event in its input shape: the input line without its stamp (late_reason is part
        // of the stamp).
        let mut event = line.clone();
        for k in ["at", "actor", "key", "late_reason"] {
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
        // The bytes start with format 2 and the seq (one varint byte below 251).
        assert_eq!(&bytes[..2], &[2, i as u8], "seq {i}");
        // The late reason is in the hashed bytes of seq 40 and only there.
        assert_eq!(contains_bytes(&bytes, LATE_REASON.as_bytes()), i == 40, "seq {i}");
        prev = hash;
    }

    // --out writes the same bytes to a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    ok(&ledger, &["export", "--out", file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ok(&ledger, &["export"]));
}

/// The story's keyed lines (16: 6 grants, 6 orders, 3 shipments, 1 cancellation).
fn keyed_lines() -> Vec<&'static str> {
    STORY.lines().filter(|l| l.contains("\"key\"")).collect()
}

#[test]
fn reappending_keyed_events_skips_them_and_changes_nothing() {
    let (_dir, ledger) = story_ledger();
    let head = ok(&ledger, &["head", "--json"]);
    let export = ok(&ledger, &["export"]);
    let keyed = keyed_lines();
    assert_eq!(keyed.len(), 16);
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &(keyed.join("\n") + "\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 0);
    // line -> (key, seq of the record that used it); see the table at the top. The keyed lines
    // are dated before the head, and still skipped (a repeat, not a late entry).
    let expected = [
        (1, "grant-bytedance-r1", 13),
        (2, "grant-alibaba-r1", 14),
        (3, "grant-tencent-r1", 15),
        (4, "grant-bis-nvidia", 16),
        (5, "po-bd-0001", 27),
        (6, "po-al-0001", 28),
        (7, "po-bd-0002", 29),
        (8, "ship-bd-1-a", 30),
        (9, "ship-al-1-a", 31),
        (10, "cancel-bd-2", 32),
        (11, "grant-lab-r1", 34),
        (12, "po-tc-0001", 39),
        (13, "ship-bd-1-b", 40),
        (14, "grant-baidu-r2", 43),
        (15, "po-ba-0001", 45),
        (16, "po-ba-0002", 46),
    ];
    let expected: Vec<Value> =
        expected.iter().map(|(line, key, seq)| json!({"line": line, "key": key, "seq": seq})).collect();
    assert_eq!(report["skipped"], Value::Array(expected));
    assert_eq!(ok(&ledger, &["head", "--json"]), head);
    assert_eq!(ok(&ledger, &["export"]), export);

    // The same event under the same key, with another `at` and `actor`, is still a repeat.
    let moved = keyed[4].replace("2026-02-03T06:00:00Z", "2026-05-01T00:00:00Z").replace("buyer@bytedance", "someone");
    assert_ne!(moved, keyed[4]);
    let r = run_stdin(&ledger, &["append", "--create"], &moved);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("line 1: skipped: key po-bd-0001 already recorded this event at seq 27"), "{}", r.stdout);
    assert!(r.stdout.contains("appended 0 events (1 skipped)"), "{}", r.stdout);
    assert_eq!(ok(&ledger, &["export"]), export);

    // Repeats mixed with one new event: the new one is appended at seq 48, the rest skipped.
    let new = r#"{"type":"shipment_recorded","at":"2026-04-04T00:00:00Z","actor":"officer@customs","key":"ship-bd-1-c","order":"O-BD-1","quantity":5000}"#;
    let input = format!("{}\n{new}\n", keyed.join("\n"));
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 1);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 16);
    assert_eq!(report["head"]["seq"], 48);
    // O-BD-1 shipped 30000 + 5000 = 35000 in 3 of L1's 12 shipments; US 59000 + 5000.
    let s = state(&ledger, &[]);
    assert_eq!(license(&s, L1)["shipped"], 35_000);
    assert_eq!(license(&s, L1)["shipments"], 3);
    assert_eq!(license(&s, US)["shipped"], 64_000);
    // ...and appending that file again appends nothing.
    let r = run_stdin(&ledger, &["append", "--create", "--json"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["appended"], 0);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 17);
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
    // po-bd-0001 named O-BD-1 (40000) at seq 27; here it names another order.
    let line = r#"{"type":"order_placed","at":"2026-04-04T00:00:00Z","key":"po-bd-0001","order":"O-BD-9","licenses":["CN-IMP-2026-0001","US-BIS-D000001"],"quantity":100,"domestic_quantity":34,"supplier":"nvidia"}"#;
    let r = run_stdin(&ledger, &["append", "--create"], line);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("line 1: order_placed O-BD-9: key po-bd-0001 was used at seq 27 for a different event"),
        "{}",
        r.stderr
    );
    // Only the quantity differs from the recorded event: still another event.
    let same_but_qty = keyed_lines()[4].replace("\"quantity\":40000", "\"quantity\":40001");
    assert_ne!(same_but_qty, keyed_lines()[4]);
    assert_eq!(run_stdin(&ledger, &["append", "--create"], &same_but_qty).code, 1);
    assert_eq!(ok(&ledger, &["head", "--json"]), head);
    assert_eq!(ok(&ledger, &["export"]), export);
}

#[test]
fn the_head_numbers_bind_the_next_events() {
    let (_dir, ledger) = story_ledger();
    let head = ok(&ledger, &["head", "--json"]);
    let refused = |line: &str, rule: &str| {
        let r = run_stdin(&ledger, &["append", "--create"], line);
        assert_eq!(r.code, 1, "accepted, expected {rule}: {line}");
        assert!(r.stderr.contains(&format!("rule {rule}")), "expected {rule}: {}", r.stderr);
    };
    // US has 10000 left: tencent's 10001 on L3 (60000 left) is refused by the US gate.
    let order = |n: &str, q: u64| {
        format!(
            r#"{{"type":"order_placed","at":"2026-04-04T00:00:00Z","actor":"buyer@tencent","order":"{n}","licenses":["{L3}","{US}"],"quantity":{q},"domestic_quantity":{},"supplier":"nvidia"}}"#,
            q.div_ceil(3)
        )
    };
    refused(&order("O-TC-2", 10_001), "exceeds_remaining");
    let r = run_stdin(&ledger, &["append", "--create"], &order("O-TC-2", 10_001));
    assert!(r.stderr.contains(&format!("exceeds remaining 10000 on {US}")), "{}", r.stderr);
    // The cap: tencent holds 110000 of 150000, so a round-2 grant of 40001 is refused.
    let grant = |n: &str, q: u64| {
        format!(
            r#"{{"type":"license_granted","at":"2026-04-04T00:00:00Z","actor":"approver@mofcom","license":"{n}","authority":"CN-MOFCOM","licensee":"tencent","product":"H200","quantity":{q},"valid_from":"2026-04-04","valid_until":"2027-04-03","round":2}}"#
        )
    };
    refused(&grant("CN-IMP-2026-0007", 40_001), "exceeds_party_cap");
    // Round 1 is closed.
    refused(&grant("CN-IMP-2026-0007", 1).replace("\"round\":2", "\"round\":1"), "round_not_open");
    // The policy: china-telecom is caught and not exempted.
    refused(
        &grant("CN-IMP-2026-0007", 1).replace("\"licensee\":\"tencent\"", "\"licensee\":\"china-telecom\""),
        "policy_denied",
    );
    assert_eq!(ok(&ledger, &["head", "--json"]), head, "refusals append nothing");

    // Exactly at the limits both are accepted: 10000 on the US gate, 40000 under the cap.
    let both = format!("{}\n{}\n", order("O-TC-2", 10_000), grant("CN-IMP-2026-0007", 40_000));
    let r = run_stdin(&ledger, &["append", "--create"], &both);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = state(&ledger, &[]);
    assert_eq!(license(&s, US)["remaining"], 0);
    assert_eq!(find(&s["caps"][0], "holdings", "party", "tencent")["room"], 0);
    // Round 2: 60000 + 40000 granted of 200000.
    assert_eq!(s["rounds"][1]["left"], 100_000);
}

#[test]
fn append_record_refusals_records_the_refused_line_and_appends_the_others() {
    let (_dir, ledger) = story_ledger();
    let before = state(&ledger, &[]);
    // Line 1: O-BD-4, 20000 over the US gate's 10000 (refused). Line 2: a restriction dated
    // after the story. Line 3: a shipment of the opened O-BA-1. Line 4: not JSON.
    let o_bd_4 = r#"{"type":"order_placed","at":"2026-04-05T06:00:00Z","actor":"buyer@bytedance","key":"po-bd-0004","order":"O-BD-4","licenses":["CN-IMP-2026-0001","US-BIS-D000001"],"quantity":20000,"domestic_quantity":7000,"supplier":"nvidia"}"#;
    let restrict = r#"{"type":"party_restricted","at":"2026-04-05T07:00:00Z","actor":"clerk@mofcom","party":"china-telecom","reason":"policy P-SOE"}"#;
    let ship = r#"{"type":"shipment_recorded","at":"2026-04-06T00:00:00Z","actor":"officer@customs","key":"ship-ba-1-a","order":"O-BA-1","quantity":5000}"#;
    let input = format!("{o_bd_4}\n{restrict}\n{ship}\n{{not json\n");

    // Without the flag the first refusal appends nothing at all.
    let export = ok(&ledger, &["export"]);
    let r = run_stdin(&ledger, &["append", "--create"], &input);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("line 1: order_placed O-BD-4"), "{}", r.stderr);
    assert_eq!(ok(&ledger, &["export"]), export);

    let r = run_stdin(&ledger, &["append", "--create", "--json", "--record-refusals"], &input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    // Four records: 48 refused (line 1), 49 restriction, 50 shipment, 51 refused (line 4).
    assert_eq!(report["appended"], 4, "{report}");
    assert_eq!(report["head"]["seq"], 51);
    assert_eq!(
        report["refusals"],
        json!([{"line": 1, "rule": "exceeds_remaining"}, {"line": 4, "rule": "invalid_input"}])
    );
    let export = json_lines(&ledger, &["export"]);
    let types: Vec<&str> = export[48..].iter().map(|r| r["event"]["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["refused", "party_restricted", "shipment_recorded", "refused"]);
    let refused = &export[48];
    assert_eq!(refused["event"]["line"], 1);
    assert_eq!(refused["event"]["rule"], "exceeds_remaining");
    assert_eq!(refused["event"]["message"], format!("quantity 20000 exceeds remaining 10000 on {US}"));
    let line: Value = serde_json::from_str(refused["event"]["event"].as_str().unwrap()).unwrap();
    assert_eq!(line, serde_json::from_str::<Value>(o_bd_4).unwrap(), "the refused line, whole");
    assert_eq!(refused["actor"], "buyer@bytedance");
    assert_eq!(refused["key"], Value::Null, "a refused line uses up no key");
    // A refusal does not move effective time: the lines after it keep their dates.
    assert_eq!(refused["at"], "2026-04-03T03:00:00Z");
    assert_eq!(export[51]["event"]["rule"], "invalid_input");
    assert_eq!(export[51]["event"]["line"], 4);

    // The refusal changed no quota; the shipment did: O-BA-1 5000 on L4 and US.
    let s = state(&ledger, &[]);
    assert_eq!(s["refusals"], 2);
    assert_eq!(license(&s, US)["remaining"], 10_000);
    assert_eq!(license(&s, US)["shipped"], 64_000);
    assert_eq!(license(&s, L4)["shipped"], 5_000);
    assert_eq!(license(&s, L1), license(&before, L1));
    assert_eq!(party(&s, "china-telecom")["restricted"], true);
    // 118000 + 5000 on each of the shipment's two gates.
    assert_eq!(s["totals"], totals(610_000, 280_000, 128_000, 330_000));
    // No order O-BD-4 exists, and its key is free: 10000 fits the US gate now.
    let r = run(&ledger, &["log", "--order", "O-BD-4"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("no order O-BD-4 in the ledger"), "{}", r.stderr);
    let fits = o_bd_4
        .replace("\"quantity\":20000,\"domestic_quantity\":7000", "\"quantity\":10000,\"domestic_quantity\":3334");
    assert_ne!(fits, o_bd_4);
    let r = run_stdin(
        &ledger,
        &["append", "--create", "--json"],
        &fits.replace("2026-04-05T06:00:00Z", "2026-04-07T00:00:00Z"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(log_seqs(&ledger, &["--order", "O-BD-4"]), vec![52]);
    assert_eq!(license(&state(&ledger, &[]), US)["remaining"], 0);
    ok(&ledger, &["verify"]);
    // The log lists the refused records by their line.
    let log = json_lines(&ledger, &["log", "--json", "--from", "48", "--limit", "1"]);
    assert_eq!((&log[0]["type"], &log[0]["subject"]), (&json!("refused"), &json!("line 1")));
}

#[test]
fn demo_exits_zero_and_shows_three_refusals_and_the_late_entry() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo");
    let out = ok(&ledger, &["demo"]);
    assert!(out.contains("appended 48 events (0 skipped)"), "{out}");
    // O-BD-3: 30000 units need ceil(30000 * 1 / 3) = 10000 domestic; it has 5000.
    assert!(
        out.contains(
            "refused: line 1: order_placed O-BD-3: domestic_quantity 5000 is below the 10000 that condition C1"
        ),
        "{out}"
    );
    // O-BD-4: 20000 fits L1 (110000 left) but not the US gate (10000 left).
    assert!(out.contains(&format!("order_placed O-BD-4: quantity 20000 exceeds remaining 10000 on {US}")), "{out}");
    // A license to china-telecom (state-backed telecom, not exempted).
    assert!(out.contains("license_granted CN-IMP-2026-0006: policy P-SOE denies china-telecom"), "{out}");
    assert!(out.contains("rule policy_denied"), "{out}");
    assert!(out.contains("head unchanged: 48 records"), "{out}");
    // The late entries: seq 40 only.
    let late = out.split("== 6.").nth(1).expect("a late-entry section");
    let listed: Vec<&str> = late.lines().filter(|l| l.contains("LATE")).collect();
    assert_eq!(listed.len(), 1, "{late}");
    assert!(listed[0].trim_start().starts_with("40 ") && listed[0].contains(LATE_REASON), "{}", listed[0]);
    // It left the story in the ledger it was given.
    assert_eq!(json_of(&ledger, &["head", "--json"])["records"], 48);
    // The demo records at a fixed clock: a second demo elsewhere builds the same bytes.
    let again = dir.path().join("again");
    ok(&again, &["demo"]);
    assert_eq!(ok(&again, &["export"]), ok(&ledger, &["export"]));
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
    assert_eq!(run(&ledger, &["replay", "--from", "48"]).code, 1);
    assert_eq!(run(&ledger, &["replay", "--from", "47"]).code, 0);
    assert_eq!(run(&ledger, &["log", "--from", "48"]).code, 1);
    // An input file that does not exist: exit 1, and no ledger appears at a new path.
    let fresh = dir.path().join("fresh");
    assert_eq!(run(&fresh, &["append", "--create", "/nonexistent/input.jsonl"]).code, 1);
    assert!(!fresh.exists(), "a failed append created {}", fresh.display());
}

/// Where the story's bookkeeping is incomplete (found while deriving this file; see the
/// report to the lead). Ignored until fixed: `cargo test --test story -- --ignored`.
#[test]
fn a_finalization_is_logged_and_disclosed_on_every_gate_and_order_it_resolved() {
    let (_dir, ledger) = story_ledger();
    // Seq 47 opened O-BA-1 and released O-BA-2, returning its 10000 to L4 and to US.
    assert_eq!(log_seqs(&ledger, &["--order", "O-BA-1"]), vec![45, 47]);
    assert_eq!(log_seqs(&ledger, &["--order", "O-BA-2"]), vec![46, 47]);
    assert!(log_seqs(&ledger, &["--license", US]).contains(&47));
    assert_eq!(
        disclosure(&ledger, 47)["gates"],
        json!([{"license": US, "remaining_before": 0, "remaining_after": 10_000}])
    );
    // The exemption (11) names cn-univ-lab; US is nvidia's license, passed by orders 27..46.
    assert_eq!(log_seqs(&ledger, &["--party", "cn-univ-lab"]), vec![7, 11, 34]);
    assert!(log_seqs(&ledger, &["--party", "nvidia"]).contains(&27));
}

#[test]
fn export_carries_the_hashed_recorded_at_and_late_reason() {
    let (_dir, ledger) = story_ledger();
    let export = json_lines(&ledger, &["export"]);
    let log = json_lines(&ledger, &["log", "--json"]);
    for (rec, l) in export.iter().zip(&log) {
        assert_eq!(rec["recorded_at"], l["recorded_at"], "seq {}", rec["seq"]);
        assert_eq!(rec["late_reason"], l["late_reason"], "seq {}", rec["seq"]);
    }
    assert_eq!(export[40]["late_reason"], LATE_REASON);
}

#[test]
fn a_bundle_of_the_us_gate_holds_every_record_that_changed_it_and_checks() {
    let (dir, ledger) = story_ledger();
    let key = dir.path().join("k.key");
    let vkey = ok(&ledger, &["keygen", "--name", "example.org/story", "--out", key.to_str().unwrap()]);
    ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    let bundle = dir.path().join("us.json");
    let out = ok(&ledger, &["bundle", "--license", US, "--out", bundle.to_str().unwrap()]);
    // The grant (16), 6 orders (27, 28, 29, 39, 45, 46), 3 shipments (30, 31, 40), the
    // cancellation (32), the correction (35) and the finalization that released O-BA-2 (47).
    assert!(out.contains(&format!("wrote 13 records of {US}")), "{out}");
    let r = run(&ledger, &["check-bundle", bundle.to_str().unwrap(), "--key", vkey.trim()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
