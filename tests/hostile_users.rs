//! Hostile users and careless clerks (issue 8), through the binary: a year typo in `at`, a leap
//! second, quantities near u64::MAX, lookalike and invisible characters, `export --out` aimed at
//! the ledger or through a planted symlink, `demo` with `QLEDGER_LEDGER` set, a full or closed
//! stdout, a byte order mark. Each case gives the documented exit code and one stderr line, and
//! a refused one leaves the ledger unchanged. The single-line input cases are in the hostile
//! corpus (`tests/hostile/cases.txt`); these need more than one call or a prepared directory.
//!
//! `cargo test --test hostile_users`.

mod qa_util;

use qa_util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl");

/// A ledger holding the H200 story, in a temporary directory.
fn story_ledger() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = ledger_in(dir.path());
    ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
    (dir, ledger)
}

/// Appends `input` through stdin with `args`.
fn append(ledger: &Path, args: &[&str], input: &str) -> Out {
    let mut all = vec!["append", "--create", "-"];
    all.extend_from_slice(args);
    run_cmd(command(ledger, &all), Some(input.as_bytes()), TIMEOUT, "append")
}

/// What a refusal must leave: exit `code`, one stderr line holding every needle, the same head
/// and a byte-identical export.
fn assert_refused(ledger: &Path, out: &Out, code: i32, needles: &[&str], before: &(serde_json::Value, Vec<u8>)) {
    assert_eq!(out.code, Some(code), "stderr {:?}", out.stderr);
    out.assert_one_line_error("refusal");
    for n in needles {
        assert!(out.stderr.contains(n), "expected {n:?} in {:?}", out.stderr);
    }
    assert_eq!(head_json(ledger), before.0, "the head moved");
    assert!(export(ledger) == before.1, "the export changed");
}

fn snapshot(ledger: &Path) -> (serde_json::Value, Vec<u8>) {
    (head_json(ledger), export(ledger))
}

/// RFC 3339 for the clock now plus `secs`.
fn from_now(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    t.replace_nanosecond(0).expect("0 ns").format(&time::format_description::well_known::Rfc3339).expect("format")
}

fn party_line(at: &str, id: &str, name: &str) -> String {
    format!(
        r#"{{"type":"party_registered","at":"{at}","party":"{id}","name":"{name}","country":"CN","state_backed":false,"sector":"ai"}}"#
    )
}

// ---------------------------------------------------------------------------------------------
// (1) Time.
// ---------------------------------------------------------------------------------------------

#[test]
fn an_at_beyond_the_clocks_margin_is_refused_unless_the_append_allows_the_future() {
    let (_dir, ledger) = story_ledger();
    let before = snapshot(&ledger);
    // Two days ahead: a typo that would freeze the ledger (`at` never goes backwards).
    let ahead = from_now(2 * 86_400);
    let out = append(&ledger, &[], &party_line(&ahead, "zhipu", "Zhipu AI"));
    assert_refused(
        &ledger,
        &out,
        1,
        &["line 1: party_registered zhipu", "rule at_in_future", "--allow-future"],
        &before,
    );
    // An hour ahead lies within the margin (clocks and time zones disagree a little).
    let soon = from_now(3_600);
    let out = append(&ledger, &[], &party_line(&soon, "zhipu", "Zhipu AI"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Meant on purpose, the future is allowed; verify (which knows no clock) accepts it.
    let out = append(&ledger, &["--allow-future"], &party_line(&ahead, "moonshot", "Moonshot AI"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    ok(&ledger, &["verify"]);
    // ... and the record says so, in its hashed flags: only the one that needed it.
    let records: Vec<serde_json::Value> = ok(&ledger, &["log", "--json", "-n", "1000"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("log --json lines"))
        .collect();
    let flagged: Vec<&str> = records
        .iter()
        .filter(|r| r["allow_future"] == serde_json::json!(true))
        .filter_map(|r| r["subject"].as_str())
        .collect();
    assert_eq!(flagged, ["moonshot"], "only the event beyond the margin carries the flag");
}

#[test]
fn a_leap_second_is_refused_with_its_own_message_in_input_and_in_flags() {
    let (_dir, ledger) = story_ledger();
    let before = snapshot(&ledger);
    let out = append(&ledger, &[], &party_line("2026-06-30T23:59:60Z", "zhipu", "Zhipu AI"));
    assert_refused(&ledger, &out, 1, &["line 1: field `at`", "leap second"], &before);
    let out = run(&ledger, &["state", "--as-of", "2016-12-31T23:59:60Z"]);
    assert_refused(&ledger, &out, 2, &["--as-of", "leap second"], &before);
}

// ---------------------------------------------------------------------------------------------
// (2) Numbers.
// ---------------------------------------------------------------------------------------------

#[test]
fn quantities_at_u64_max_are_kept_and_no_output_panics() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    let max = u64::MAX;
    let lines = [
        party_line("2026-02-01T00:00:00Z", "bd", "ByteDance Ltd."),
        format!(
            r#"{{"type":"license_granted","at":"2026-02-01T00:00:01Z","license":"L-1","authority":"CN-MOFCOM","licensee":"bd","product":"H200","quantity":{max},"valid_from":"2026-01-01","valid_until":"2030-12-31"}}"#
        ),
        format!(
            r#"{{"type":"order_placed","at":"2026-02-01T00:00:02Z","order":"O-1","license":"L-1","quantity":{max},"domestic_quantity":{max},"supplier":"nvidia"}}"#
        ),
        format!(r#"{{"type":"shipment_recorded","at":"2026-02-01T00:00:03Z","order":"O-1","quantity":{}}}"#, max - 1),
    ];
    let out = append(&ledger, &[], &(lines.join("\n") + "\n"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let before = snapshot(&ledger);
    // The issue's reproduction: a second grant of u64::MAX to the same party. It used to be
    // accepted, and `state --json` then panicked on that ledger for good.
    let second = lines[1].replace("L-1", "L-2").replace("00:00:01Z", "00:00:04Z");
    let out = append(&ledger, &[], &second);
    assert_refused(&ledger, &out, 1, &["license_granted L-2", "rule total_overflow"], &before);
    let state: serde_json::Value = serde_json::from_str(&ok(&ledger, &["state", "--json"])).expect("state --json");
    assert_eq!(state["totals"]["licensed"].as_u64(), Some(max));
    assert_eq!(state["parties"][0]["shipped"].as_u64(), Some(max - 1));
    for args in [&["replay", "--json"][..], &["log", "--json"], &["export"]] {
        for line in ok(&ledger, args).lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{args:?}: {e}: {line}"));
        }
    }
    for args in [&["state"][..], &["state", "--full-replay"], &["log"], &["replay"], &["head"], &["verify"]] {
        ok(&ledger, args);
    }
}

// ---------------------------------------------------------------------------------------------
// (5) Identifiers and texts.
// ---------------------------------------------------------------------------------------------

#[test]
fn names_keep_unicode_and_a_lookalike_party_needs_confusable_ok_which_is_not_recorded() {
    let (_dir, ledger) = story_ledger();
    let before = snapshot(&ledger);
    let at = "2026-05-01T00:00:00Z";
    // The issue's reproduction: a Cyrillic а in the id, and in the name.
    let out = append(&ledger, &[], &party_line(at, "bytedаnce", "ByteDance Ltd."));
    assert_refused(&ledger, &out, 1, &["line 1: party_registered", "printable ASCII", "rule invalid_id"], &before);
    let out = append(&ledger, &[], &party_line(at, "bytedance-cn", "ByteDаnce Ltd."));
    assert_refused(&ledger, &out, 1, &["registered party bytedance", "rule confusable_party"], &before);
    // Said on purpose, it is appended; the flag is an exception of the append, not a field of
    // the record: the export shows no trace of it, and verify accepts the record.
    let flagged =
        party_line(at, "bytedance-cn", "ByteDаnce Ltd.").replace(r#","sector""#, r#","confusable_ok":true,"sector""#);
    let out = append(&ledger, &[], &flagged);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let exported = String::from_utf8(export(&ledger)).unwrap();
    assert!(!exported.contains("confusable_ok"), "the flag is not recorded");
    ok(&ledger, &["verify"]);
    // Names keep any other Unicode, shown as they are.
    let out = append(&ledger, &[], &party_line("2026-05-01T00:00:01Z", "bytedance-zh", "字节跳动有限公司"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let state: serde_json::Value = serde_json::from_str(&ok(&ledger, &["state", "--json"])).unwrap();
    let names: Vec<&str> = state["parties"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"字节跳动有限公司") && names.contains(&"ByteDаnce Ltd."), "{names:?}");
}

/// Three bytes of printable ASCII standing for U+202E (also three bytes in UTF-8), so that the
/// forged records keep every length prefix.
const MARK: &str = "~~~";
const RLO: &str = "\u{202e}";

/// What an older version could write and this one refuses: ids and texts holding a bidi
/// override. Appended with [`MARK`] in their place, then each record's bytes are edited and the
/// chain re-hashed in the segment file, with the commit point moved to match and the derived
/// snapshots removed (the index is left stale, which only `verify` and writers read).
fn older_ledger_with_bidi_overrides(ledger: &Path) {
    use quotaledger::format::chain::record_hash;
    use quotaledger::format::head::{pick, HEAD_SLOT1_OFFSET, HEAD_SLOT_BYTES};
    use quotaledger::format::record::{Record, RecordV1};
    use quotaledger::format::segment::{
        block_records, parse_block_header, segment_header, BlockBuilder, BLOCK_HEADER_BYTES, SEGMENT_HEADER_BYTES,
    };
    let m = MARK;
    let input = [
        party_line("2026-02-01T00:00:00Z", &format!("evil{m}x"), &format!("Evil{m}Co")),
        format!(
            r#"{{"type":"license_granted","at":"2026-02-01T00:00:01Z","license":"L{m}1","authority":"CN-MOFCOM","licensee":"evil{m}x","product":"H200","quantity":10,"valid_from":"2026-01-01","valid_until":"2030-12-31"}}"#
        ),
        format!(
            r#"{{"type":"condition_added","at":"2026-02-01T00:00:02Z","license":"L{m}1","condition":"C{m}1","rule":{{"kind":"end_use","text":"use{m}here"}},"final":true}}"#
        ),
        format!(
            r#"{{"type":"order_placed","at":"2026-02-01T00:00:03Z","order":"O{m}1","license":"L{m}1","quantity":1,"domestic_quantity":1,"supplier":"nvidia"}}"#
        ),
    ];
    let out = append(ledger, &[], &(input.join("\n") + "\n"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let seg_path = ledger.join("segments").join(format!("{:020}.qseg", 0));
    let seg = std::fs::read(&seg_path).expect("segment");
    let mut out_seg = segment_header(0).to_vec();
    let (mut at, mut old_prev, mut prev, mut records) = (SEGMENT_HEADER_BYTES, [0u8; 32], [0u8; 32], 0u64);
    while at < seg.len() {
        let hb: [u8; BLOCK_HEADER_BYTES] = seg[at..at + BLOCK_HEADER_BYTES].try_into().unwrap();
        let h = parse_block_header(&hb).expect("block header");
        let payload = &seg[at + BLOCK_HEADER_BYTES..at + BLOCK_HEADER_BYTES + h.payload_len as usize];
        let mut rebuilt = BlockBuilder::new(h.first_seq, prev);
        for entry in block_records(&h, payload).expect("records") {
            let (stored, _) = entry.expect("record");
            let mut original = stored.to_vec();
            original.extend_from_slice(&old_prev);
            old_prev = record_hash(&original);
            let mut bytes = original;
            replace_all(&mut bytes, MARK.as_bytes(), RLO.as_bytes());
            // What an older version wrote: format 1 (this version appends format 2).
            let Record::V2(r) = Record::decode(&bytes).expect("forged record decodes") else {
                panic!("this version appends format 2 records")
            };
            let record = RecordV1 {
                format: 1,
                seq: r.seq,
                at_secs: r.at_secs,
                at_nanos: r.at_nanos,
                actor: r.actor,
                key: r.key,
                event: r.event,
                context: r.context,
                prev,
            };
            let bytes = Record::V1(record).encode();
            prev = record_hash(&bytes);
            rebuilt.push(&bytes, &prev);
            records += 1;
        }
        out_seg.extend_from_slice(&rebuilt.finish(h.is_commit()));
        at += BLOCK_HEADER_BYTES + h.payload_len as usize;
    }
    std::fs::write(&seg_path, &out_seg).expect("rewrite segment");
    let head_path = ledger.join("HEAD");
    let head = std::fs::read(&head_path).expect("HEAD");
    let slot1 = HEAD_SLOT1_OFFSET as usize;
    let mut slot = pick(&head[..HEAD_SLOT_BYTES], &head[slot1..slot1 + HEAD_SLOT_BYTES]).unwrap().unwrap();
    slot.generation += 1;
    slot.records = records;
    slot.last_hash = prev;
    slot.segment_len = out_seg.len() as u64;
    let mut new_head = head.clone();
    let offset = if slot.generation.is_multiple_of(2) { 0 } else { slot1 };
    new_head[offset..offset + HEAD_SLOT_BYTES].copy_from_slice(&slot.encode());
    std::fs::write(&head_path, new_head).expect("rewrite HEAD");
    for e in std::fs::read_dir(ledger.join("snapshots")).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

#[test]
fn ids_and_texts_an_older_version_wrote_are_escaped_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    older_ledger_with_bidi_overrides(&ledger);
    for args in [&["state"][..], &["state", "--full-replay"], &["log"], &["replay"]] {
        let text = ok(&ledger, args);
        assert!(!text.contains(RLO), "{args:?} wrote a raw U+202E: {text}");
        assert!(text.contains("\\u{202e}"), "{args:?} shows no escape: {text}");
    }
    let replay = ok(&ledger, &["replay"]);
    assert!(replay.contains("L\\u{202e}1 condition C\\u{202e}1 final"), "{replay}");
    let state = ok(&ledger, &["state"]);
    assert!(state.contains("end use: use\\u{202e}here") && state.contains("evil\\u{202e}x"), "{state}");
    // Errors echo them escaped too; a reference to the old id is still accepted.
    let restrict =
        format!(r#"{{"type":"party_restricted","at":"2026-03-01T00:00:00Z","party":"evil{RLO}x","reason":"r"}}"#);
    let out = append(&ledger, &[], &format!("{restrict}\n{restrict}\n"));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("evil\\u{202e}x") && !out.stderr.contains(RLO), "{}", out.stderr);
    assert!(out.stderr.contains("line 2:") && out.stderr.contains("party_already_restricted"), "{}", out.stderr);
    // JSON carries the data as it is, for programs (JSON escapes only control characters).
    let state: serde_json::Value = serde_json::from_str(&ok(&ledger, &["state", "--json"])).unwrap();
    assert_eq!(state["parties"][0]["name"], format!("Evil{RLO}Co"));
}

// ---------------------------------------------------------------------------------------------
// (6) and (3) export --out.
// ---------------------------------------------------------------------------------------------

#[test]
fn export_out_inside_the_ledger_directory_is_refused_and_changes_nothing() {
    let (dir, ledger) = story_ledger();
    let before = snapshot(&ledger);
    let files = files_under(&ledger);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&ledger, &link).unwrap();
    let shown = |p: PathBuf| p.to_str().unwrap().to_string();
    let targets = [
        shown(ledger.join("segments").join(format!("{:020}.qseg", 0))), // the issue's reproduction: it destroyed the ledger
        shown(ledger.join("FORMAT")),
        shown(ledger.join("new.jsonl")),
        shown(ledger.clone()),
        shown(link.join("HEAD")),
        shown(ledger.join("segments").join("..").join("x.jsonl")),
    ];
    for target in &targets {
        let out = run(&ledger, &["export", "--out", target]);
        assert_refused(&ledger, &out, 2, &["--out", "inside the ledger directory"], &before);
    }
    // A relative path from inside the ledger directory.
    let mut cmd = command(&ledger.canonicalize().unwrap(), &["export", "--out", "HEAD"]);
    cmd.current_dir(&ledger);
    let out = run_cmd(cmd, None, TIMEOUT, "relative --out");
    assert_refused(&ledger, &out, 2, &["inside the ledger directory"], &before);
    assert_eq!(files_under(&ledger), files, "a file was created or removed in the ledger");
    ok(&ledger, &["verify"]);
}

#[test]
fn export_out_never_follows_a_planted_symlink_and_creates_an_owner_only_file() {
    let (dir, ledger) = story_ledger();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let victim = dir.path().join("victim.txt");
    write(&victim, "precious");
    let target = shared.join("export.jsonl");
    // The issue's reproduction: another user plants F.partial -> a file of the exporter's.
    std::os::unix::fs::symlink(&victim, shared.join("export.jsonl.partial")).unwrap();
    // And an old-style temporary name too, for good measure.
    std::os::unix::fs::symlink(&victim, shared.join(".export.jsonl.partial")).unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(r#"umask 000; exec "$0" --ledger "$1" export --out "$2""#)
        .arg(bin())
        .arg(&ledger)
        .arg(&target)
        .env_remove("QLEDGER_LEDGER");
    let out = run_cmd(cmd, None, TIMEOUT, "export --out under umask 000");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "the planted symlink was followed");
    assert!(std::fs::read(&target).unwrap() == export(&ledger), "FILE holds the export");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "created owner-only whatever the umask");
    let names: Vec<String> =
        std::fs::read_dir(&shared).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "no temporary file is left beside FILE: {names:?}");
    // A symlink at FILE itself is replaced, not followed.
    std::fs::remove_file(&target).unwrap();
    std::os::unix::fs::symlink(&victim, &target).unwrap();
    ok(&ledger, &["export", "--out", target.to_str().unwrap()]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "FILE's symlink was followed");
    assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
}

// ---------------------------------------------------------------------------------------------
// (7) demo.
// ---------------------------------------------------------------------------------------------

#[test]
fn demo_never_enters_the_ledger_named_by_qledger_ledger() {
    let (dir, ledger) = story_ledger();
    let before = snapshot(&ledger);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let demo = |args: &[&str]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args).env("QLEDGER_LEDGER", &ledger).env("TMPDIR", &tmp).env("USER", "tester");
        run_cmd(cmd, None, TIMEOUT, "demo")
    };
    // The issue's reproduction: demo appended its fictional story to the real ledger.
    let out = demo(&["demo"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(snapshot(&ledger), before, "demo wrote into $QLEDGER_LEDGER");
    let made: Vec<PathBuf> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(made.len(), 1, "one fresh demo directory under TMPDIR: {made:?}");
    // The demo appends the story, one record a line.
    let story_records = quotaledger::cli::demo::STORY_JSONL.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    assert_eq!(records(&made[0]), story_records);
    // A --ledger given on the command line must be new or empty.
    let out = demo(&["--ledger", ledger.to_str().unwrap(), "demo"]);
    assert_refused(&ledger, &out, 1, &["demo needs a fresh ledger"], &before);
    let fresh = dir.path().join("fresh");
    let out = demo(&["--ledger", fresh.to_str().unwrap(), "demo"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(records(&fresh), story_records);
}

// ---------------------------------------------------------------------------------------------
// (8) Output and input edges.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_full_stdout_is_a_storage_error_and_a_closed_one_is_not_an_error() {
    let (_dir, ledger) = story_ledger();
    for args in [&["export"][..], &["state"], &["state", "--json"], &["log"], &["replay", "--json"], &["head"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let mut cmd = command(&ledger, args);
        cmd.stdin(Stdio::null()).stdout(full).stderr(Stdio::piped());
        let out = cmd.output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?} > /dev/full: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("qledger: writing standard output: "), "{args:?}: {stderr}");
    }
    // A reader that stops early (`qledger export | head -1`): more output than a pipe holds.
    // An export license: the story's CN-MOFCOM grants of H200 go through its rounds and cap.
    let preamble = preamble("acme", "L-1").replace("2026-01-10", "2026-06-01").replace("CN-MOFCOM", "US-BIS");
    let input = preamble + &orders("p", "L-1", 0, 2_000, 12_000_000);
    let out = append(&ledger, &[], &input);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for args in [&["export"][..], &["log"], &["replay", "--json"]] {
        let mut child = command(&ledger, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let status = wait_timeout(&mut child, Duration::from_secs(60), "closed stdout");
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(0), "{args:?} into a closed pipe: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn a_byte_order_mark_at_the_start_of_the_input_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    let file = dir.path().join("notepad.jsonl");
    // What a Windows editor saves: a BOM, CRLF line ends.
    let text = format!(
        "\u{feff}{}\r\n{}\r\n",
        party_line("2026-02-01T00:00:00Z", "a", "A"),
        party_line("2026-02-01T00:00:01Z", "b", "B")
    );
    write(&file, text);
    ok(&ledger, &["append", "--create", file.to_str().unwrap()]);
    assert_eq!(records(&ledger), 2);
}

/// Issue 8, item 4: a directory that holds anything but a ledger or the tool's own proven
/// leftovers is never taken over: `init` and `append` refuse it (exit 4) and write nothing.
#[test]
fn init_refuses_a_directory_holding_only_a_store_dir_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ledger");
    std::fs::create_dir_all(target.join("store")).unwrap();
    std::fs::write(target.join("store").join("db"), b"a user's own database").unwrap();
    let before = files_under(&target);
    for args in [&["init"][..], &["append", "--create", STORY]] {
        let out = run(&target, args);
        assert_eq!(out.code, Some(4), "{args:?}: {}", out.stderr);
        out.assert_one_line_error("takeover");
        assert!(out.stderr.contains("not empty"), "{}", out.stderr);
        assert_eq!(files_under(&target), before, "{args:?} wrote into a foreign directory");
    }
    assert_eq!(std::fs::read(target.join("store").join("db")).unwrap(), b"a user's own database");
}

/// ...but an interrupted creation, proven by the CREATING marker the tool writes first, is
/// started over.
#[test]
fn a_creation_interrupted_after_its_marker_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ledger");
    std::fs::create_dir_all(target.join("segments")).unwrap();
    std::fs::write(target.join("CREATING"), b"").unwrap();
    std::fs::write(target.join("segments").join("00000000000000000000.qseg"), b"half a header").unwrap();
    ok(&target, &["init"]);
    assert!(!target.join("CREATING").exists());
    ok(&target, &["append", "--create", STORY, "--actor", "clerk"]);
    ok(&target, &["verify"]);
}

/// Issue 8, item 8: every file and directory a ledger is made of is owner-only, whatever the
/// umask (sled's own files live inside the owner-only meta/).
#[test]
fn the_files_of_a_ledger_are_owner_only_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    for args in [&["init"][..], &["append", "--create", STORY, "--actor", "clerk"]] {
        let mut cmd = command(&ledger, args);
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        let out = run_cmd(cmd, None, TIMEOUT, "umask 000");
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    let mut checked = 0;
    let mut stack = vec![ledger.clone()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        if d.file_name().is_some_and(|n| n == "meta") {
            continue;
        }
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} files checked");
}

/// Issue 8, item 8: readers take no lock and write nothing: with the lock file gone they
/// answer, no lock file appears, and every file keeps its bytes.
#[test]
fn readers_take_no_lock_and_write_nothing() {
    let (_dir, ledger) = story_ledger();
    std::fs::remove_file(ledger.join("LOCK")).unwrap();
    let listing = |l: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files_under(l).into_iter().map(|f| (f.clone(), std::fs::read(&f).unwrap())).collect()
    };
    let before = listing(&ledger);
    for args in [&["verify"][..], &["state", "--json"], &["log"], &["replay"], &["head"], &["export"]] {
        let out = run(&ledger, args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    }
    assert!(!ledger.join("LOCK").exists(), "a reader created the lock file");
    assert!(listing(&ledger) == before, "a reader changed a file of the ledger");
}

/// Issue 8, item 1: the margin is a per-ledger setting, fixed at `init`, recorded in the ledger
/// (`SETTINGS`), and refused as a change once the ledger holds records.
#[test]
fn the_future_margin_is_a_setting_of_the_ledger_fixed_at_init() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    ok(&ledger, &["init", "--future-margin", "3600"]);
    let settings = std::fs::read_to_string(ledger.join("SETTINGS")).unwrap();
    assert_eq!(settings, "quotaledger settings 1\nfuture_margin_secs=3600\n");
    let before = snapshot(&ledger);
    let out = append(&ledger, &["--actor", "clerk"], &(party_line(&from_now(2 * 3600), "p-late", "Late") + "\n"));
    assert_refused(&ledger, &out, 1, &["at_in_future"], &before);
    let out = append(&ledger, &["--actor", "clerk"], &(party_line(&from_now(1800), "p-soon", "Soon") + "\n"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = run(&ledger, &["init", "--future-margin", "86400"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("fixed once a ledger holds records"), "{}", out.stderr);
    ok(&ledger, &["init", "--future-margin", "3600"]);
}
