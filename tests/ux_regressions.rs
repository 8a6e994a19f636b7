//! One test per daily-use problem of issue 11 that the command line fixed, each named by the
//! failure it pins.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qledger"))
}

/// A temporary directory with the demo's ledger at `DIR/ledger`.
fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger");
    let out = run(&ledger, &["demo"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (dir, ledger)
}

fn run(ledger: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_env(ledger, args, stdin, &[("QLEDGER_ACTOR", "clerk")])
}

fn run_env(ledger: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(bin());
    cmd.arg("--ledger").arg(ledger).args(args).env_remove("QLEDGER_LEDGER").env_remove("QLEDGER_ACTOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn qledger");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// After the story's last record (2026-04-03T03:00:00Z): O-BD-1 has 10000 of 40000 left to ship.
const SHIPMENT: &str = r#"{"type":"shipment_recorded","at":"2026-04-04T08:00:00Z","order":"O-BD-1","quantity":10000}"#;

#[test]
fn a_typo_in_the_ledger_path_no_longer_creates_a_ledger_and_appends_to_it() {
    let (dir, _) = demo();
    let typo = dir.path().join("ledgr");
    let out = run(&typo, &["append", "-"], Some(SHIPMENT));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("qledger init --ledger"), "{}", stderr(&out));
    assert!(stderr(&out).contains("ledgr"), "{}", stderr(&out));
    assert!(!typo.exists(), "a ledger was created at the typo");
    for cmd in [&["state"][..], &["log"], &["replay"], &["verify"], &["head"], &["export"], &["reindex"]] {
        let out = run(&typo, cmd, None);
        assert_eq!(out.status.code(), Some(4), "{cmd:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("qledger init --ledger"), "{cmd:?}: {}", stderr(&out));
    }
    assert!(!typo.exists());
    let created = run(
        &typo,
        &["append", "--create", "-"],
        Some(
            r#"{"type":"party_registered","party":"acme","name":"Acme","country":"CN","state_backed":false,"sector":"retail"}"#,
        ),
    );
    assert!(created.status.success(), "{}", stderr(&created));
}

#[test]
fn numbers_without_thousands_separators_and_nanosecond_times_are_gone() {
    let (_dir, ledger) = demo();
    let state = stdout(&run(&ledger, &["state"], None));
    assert!(state.contains("610,000") && state.contains("150,000"), "{state}");
    assert!(!state.contains("610000"), "{state}");
    let replay = stdout(&run(&ledger, &["replay", "--license", "CN-IMP-2026-0001"], None));
    assert!(replay.contains("remaining 150,000 -> 110,000"), "{replay}");
    let log = stdout(&run(&ledger, &["log", "-n", "1"], None));
    assert!(log.contains("2026-01-14T02:00:00Z"), "{log}");
    assert!(!log.contains(".000"), "{log}");
}

#[test]
fn a_long_id_no_longer_breaks_the_columns() {
    let (_dir, ledger) = demo();
    let long = "CN-IMP-2026-".to_string() + &"9".repeat(60);
    let grant = format!(
        r#"{{"type":"license_granted","at":"2026-04-04T00:00:00Z","license":"{long}","authority":"CN-MOFCOM","licensee":"tencent","product":"H200","quantity":1000,"valid_from":"2026-04-01","valid_until":"2027-03-31","round":2}}"#
    );
    assert!(run(&ledger, &["append", "-"], Some(&grant)).status.success());
    let state = stdout(&run(&ledger, &["state"], None));
    let lines: Vec<&str> = state.lines().skip_while(|l| !l.starts_with("LICENSE ")).take(6).collect();
    // Every row of the licenses table has its LICENSEE column start where the header's does.
    let column = lines[0].find("LICENSEE").expect("header");
    for l in &lines[1..] {
        assert_eq!(l.char_indices().nth(column).map(|(_, c)| c != ' '), Some(true), "{l}\n{state}");
        assert_eq!(l.as_bytes()[column - 1], b' ', "{l}\n{state}");
    }
}

#[test]
fn appending_one_event_no_longer_says_1_events() {
    let (_dir, ledger) = demo();
    let out = run(&ledger, &["append", "-"], Some(SHIPMENT));
    assert!(stdout(&out).starts_with("appended 1 event (0 skipped)"), "{}", stdout(&out));
    // Not a terminal: no progress, no note on stderr.
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

#[test]
fn an_unknown_event_type_gets_a_suggestion() {
    let (_dir, ledger) = demo();
    let out = run(&ledger, &["append", "-"], Some(r#"{"type":"order_place"}"#));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("did you mean `order_placed`?"), "{}", stderr(&out));
    let out = run(&ledger, &["append", "-"], Some(r#"{"type":"shipment_recorded","ordr":"O-BD-1","quantity":1}"#));
    assert!(stderr(&out).contains("did you mean `order`?"), "{}", stderr(&out));
}

#[test]
fn a_json_syntax_error_no_longer_names_field_question_mark() {
    let (_dir, ledger) = demo();
    let out = run(&ledger, &["append", "-"], Some("{\"type\":\"order_placed\" \"order\":\"O-1\"}\n"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(!err.contains('?'), "{err}");
    assert!(err.contains("line 1: column 24: malformed JSON"), "{err}");
}

#[test]
fn an_unknown_id_is_no_longer_an_empty_success_for_log_and_replay() {
    let (_dir, ledger) = demo();
    for args in [
        &["log", "--license", "CN-IMP-2026-001"][..],
        &["log", "--party", "bytdance"],
        &["log", "--order", "O-BD-9"],
        &["replay", "--license", "CN-IMP-2026-001"],
        &["state", "--license", "CN-IMP-2026-001"],
        &["state", "--party", "bytdance"],
    ] {
        let out = run(&ledger, args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(stderr(&out).contains("did you mean"), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_plain_date_as_of_is_no_longer_a_usage_error() {
    let (_dir, ledger) = demo();
    let by_date = run(&ledger, &["state", "--as-of", "2026-02-04", "--json"], None);
    assert!(by_date.status.success(), "{}", stderr(&by_date));
    let end_of_day = run(&ledger, &["state", "--as-of", "2026-02-04T23:59:59.999999999Z", "--json"], None);
    assert_eq!(stdout(&by_date), stdout(&end_of_day));
    // Seq 29 (O-BD-2) is the last record dated 2026-02-04; the story's late entry is dated
    // later too, so the 18 records after seq 29 are all left out.
    let v: serde_json::Value = serde_json::from_slice(&by_date.stdout).expect("json");
    assert_eq!(v["as_of"]["at"], "2026-02-04T06:00:00Z");
    assert_eq!(v["as_of"]["left_out"], 18);
    let bad = run(&ledger, &["state", "--as-of", "2026-02-30"], None);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_short_hash_prefix_is_no_longer_refused() {
    let (_dir, ledger) = demo();
    let head: serde_json::Value =
        serde_json::from_slice(&run(&ledger, &["head", "--json"], None).stdout).expect("json");
    let hash = head["hash"].as_str().expect("hash").to_string();
    let out = run(&ledger, &["verify", "--chain-only", "--expect-head", &hash[..8]], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("the expected head is seq 47"));
    let upper = hash[..12].to_uppercase();
    assert!(run(&ledger, &["verify", "--chain-only", "--expect-head", &upper], None).status.success());
    let missing = if hash.starts_with('0') { "11111111" } else { "00000000" };
    assert_eq!(run(&ledger, &["verify", "--expect-head", missing], None).status.code(), Some(3));
    assert_eq!(run(&ledger, &["verify", "--expect-head", "3f16d9b"], None).status.code(), Some(2), "7 digits");
}

#[test]
fn an_event_without_actor_is_no_longer_recorded_as_unknown() {
    let (_dir, ledger) = demo();
    let out = run_env(&ledger, &["append", "-"], Some(SHIPMENT), &[("USER", "")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("field `actor`") && err.contains("--actor"), "{err}");
    let head: serde_json::Value =
        serde_json::from_slice(&run(&ledger, &["head", "--json"], None).stdout).expect("json");
    assert_eq!(head["records"], 48, "nothing appended");
    // $QLEDGER_ACTOR, then $USER, then --actor fill it in.
    let out = run_env(&ledger, &["append", "-"], Some(SHIPMENT), &[("USER", "someone")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stdout(&run(&ledger, &["log", "--json", "--from", "48"], None));
    assert!(log.contains(r#""actor":"someone""#), "{log}");
}

#[test]
fn there_are_completions_a_man_page_and_examples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("none");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&ledger, &["completions", shell], None);
        assert!(out.status.success() && stdout(&out).contains("qledger"), "{shell}");
    }
    let man = run(&ledger, &["man"], None);
    assert!(man.status.success() && stdout(&man).starts_with(".ie"), "{}", stdout(&man));
    assert!(!ledger.exists());
}

#[test]
fn csv_and_reverse_and_limit() {
    let (_dir, ledger) = demo();
    let csv = stdout(&run(&ledger, &["log", "--csv", "--reverse", "-n", "2"], None));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("seq,at,actor,key,type"), "{csv}");
    assert!(lines[1].starts_with("47,") && lines[2].starts_with("46,"), "{csv}");
    let state = stdout(&run(&ledger, &["state", "--csv"], None));
    assert!(state.lines().any(|l| l == "total,,,,,610000,280000,118000,330000,,"), "{state}");
}

/// The table `append --help` lists is the parser's: every type in it, with every field it
/// lists, parses as an event of that very type (a type listed but not parsed would otherwise
/// fall through to another).
#[test]
fn every_event_type_append_help_lists_parses_as_itself() {
    use quotaledger::jsonl::{event_types, parse_line, Defaults};
    let value = |field: &str| -> serde_json::Value {
        match field {
            "quantity" | "domestic_quantity" | "round" | "ceiling" | "per_party" | "refers_to" => 1.into(),
            "hold" => false.into(),
            "deny" => serde_json::json!({ "state_backed": true }),
            "state_backed" | "final" | "confusable_ok" => false.into(),
            "valid_from" | "valid_until" => "2026-01-01".into(),
            "rule" => serde_json::json!({ "kind": "end_use", "text": "t" }),
            _ => "x".into(),
        }
    };
    let defaults = Defaults { at: quotaledger::domain::Timestamp::default(), actor: "clerk".into() };
    for (name, fields) in event_types() {
        let mut line = serde_json::Map::new();
        line.insert("type".into(), name.into());
        for f in &fields {
            // `license|licenses`: one of the two, the first.
            let f = f.trim_end_matches('?').split('|').next().unwrap_or_default();
            line.insert(f.into(), value(f));
        }
        let text = serde_json::Value::Object(line).to_string();
        let parsed = parse_line(1, text.as_bytes(), &defaults).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.event.type_name(), name, "{text}");
    }
}

/// `state --known-at` before the first record was recorded called a ledger of 48 records "an
/// empty ledger"; the heading now says that no record is in the state asked for.
#[test]
fn a_state_before_the_first_record_is_not_called_an_empty_ledger() {
    let (_dir, ledger) = demo();
    for point in [["--known-at", "2000-01-01"], ["--as-of", "2000-01-01"]] {
        let out = run(&ledger, &["state", point[0], point[1]], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let first = stdout(&out).lines().next().unwrap_or_default().to_string();
        assert!(!first.contains("empty ledger"), "{point:?}: {first}");
        assert!(first.contains("none of the ledger's 48 records is in it"), "{point:?}: {first}");
    }
    let empty_dir = tempfile::tempdir().expect("tempdir");
    let empty = empty_dir.path().join("ledger");
    assert!(run(&empty, &["init"], None).status.success());
    let out = run(&empty, &["state"], None);
    assert!(stdout(&out).starts_with("quota state of an empty ledger"), "{}", stdout(&out));
}
