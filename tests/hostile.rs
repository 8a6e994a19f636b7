//! Hostile input: every case in `tests/hostile/cases.txt` plus generated ones (a 10,000-char id,
//! a 100 MB line, deep nesting, random binary), bad flags, and hostile ledger directories (not a
//! ledger, another format version, read-only, full disk). Each must give the documented exit
//! code, exactly one stderr line naming the line and the problem, and leave the ledger unchanged
//! (same `head --json`, byte-identical `export`).
//!
//! Short mode (CI): `cargo test --test hostile`.
//! Long mode: `QLEDGER_SOAK=1 cargo test --release --test hostile -- --ignored` adds 2,000
//! seeded random binary and mutated-JSON inputs (`QLEDGER_SEED=N` replays a run).

mod qa_util;

use qa_util::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const STORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl");

struct Fixture {
    _dir: tempfile::TempDir,
    ledger: PathBuf,
    head: serde_json::Value,
    export: Vec<u8>,
}

/// A ledger holding the H200 story, shared by the input cases (none may change it).
fn story() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = ledger_in(dir.path());
        ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
        let head = head_json(&ledger);
        let export = export(&ledger);
        Fixture { _dir: dir, ledger, head, export }
    })
}

fn assert_unchanged(fx: &Fixture, ledger: &Path, what: &str) {
    assert_eq!(head_json(ledger), fx.head, "{what}: the head changed");
    assert!(export(ledger) == fx.export, "{what}: the export changed");
}

/// Checks one refused call: exit code, one clean stderr line, expected substrings.
fn check_refusal(out: &Out, exit: i32, needles: &[String], what: &str) {
    assert_eq!(out.code, Some(exit), "{what}: exit code; stderr {:?}", out.stderr);
    out.assert_one_line_error(what);
    let line = out.stderr.trim_end_matches('\n');
    assert!(
        !line.chars().any(char::is_control),
        "{what}: stderr must not carry raw control characters: {:?}",
        out.stderr
    );
    assert!(line.len() <= 2_000, "{what}: stderr is {} bytes long", line.len());
    for n in needles {
        assert!(line.contains(n.as_str()), "{what}: expected {n:?} in {line:?}");
    }
    // The error is said once, not repeated through its cause chain.
    if let Some(i) = line.find("line ") {
        let tag: String = line[i..].chars().take_while(|&c| c != ':').collect();
        assert_eq!(line.matches(&format!("{tag}:")).count(), 1, "{what}: {tag:?} said twice in {line:?}");
    }
}

struct Case {
    name: String,
    exit: i32,
    needles: Vec<String>,
    final_newline: bool,
    input: Vec<u8>,
}

fn unescape(line: &str) -> Vec<u8> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("zz");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hostile/cases.txt"))
        .expect("tests/hostile/cases.txt");
    let mut cases = Vec::new();
    for chunk in text.split("\n=== ").skip(1) {
        let mut lines = chunk.split('\n');
        let name = lines.next().expect("name").trim().to_string();
        let (mut exit, mut needles, mut final_newline) = (None, Vec::new(), true);
        let mut input_lines = Vec::new();
        let mut in_input = false;
        for l in lines {
            if in_input {
                input_lines.push(l);
            } else if l.starts_with("##") || l.is_empty() {
                continue;
            } else if let Some(n) = l.strip_prefix("exit ") {
                exit = Some(n.trim().parse().expect("exit code"));
            } else if let Some(s) = l.strip_prefix("stderr ") {
                needles.push(s.to_string());
            } else if l == "no-final-newline" {
                final_newline = false;
            } else if l == "input:" {
                in_input = true;
            } else {
                panic!("case {name:?}: unknown header line {l:?}");
            }
        }
        while input_lines.last() == Some(&"") {
            input_lines.pop();
        }
        let mut input = Vec::new();
        for (i, l) in input_lines.iter().enumerate() {
            input.extend(unescape(l));
            if i + 1 < input_lines.len() || final_newline {
                input.push(b'\n');
            }
        }
        cases.push(Case { name, exit: exit.expect("exit line"), needles, final_newline, input });
    }
    cases
}

/// Appends `input` from a file and from stdin; both must be refused the same way.
fn refuse(fx: &Fixture, name: &str, input: &[u8], exit: i32, needles: &[String]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("case.jsonl");
    write(&file, input);
    let out = run(&fx.ledger, &["append", "--create", file.to_str().unwrap(), "--actor", "tester"]);
    check_refusal(&out, exit, needles, &format!("{name} (file)"));
    let out =
        run_cmd(command(&fx.ledger, &["append", "--create", "-", "--actor", "tester"]), Some(input), TIMEOUT, name);
    check_refusal(&out, exit, needles, &format!("{name} (stdin)"));
    assert_unchanged(fx, &fx.ledger, name);
}

#[test]
fn every_corpus_case_is_refused_with_one_line_and_the_ledger_unchanged() {
    let fx = story();
    let cases = corpus();
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    for c in &cases {
        let _ = c.final_newline;
        refuse(fx, &c.name, &c.input, c.exit, &c.needles);
    }
    eprintln!("hostile corpus: {} inputs tried, {} refused, ledger unchanged", cases.len(), cases.len());
}

#[test]
fn long_ids_and_texts_are_refused() {
    let fx = story();
    let id = "x".repeat(10_000);
    let cases = [
        (
            "a 10,000-char party id",
            format!(
                r#"{{"type":"party_registered","at":"2026-05-01T00:00:00Z","party":"{id}","name":"N","country":"CN","state_backed":false,"sector":"s"}}"#
            ),
            vec!["line 1: ".to_string(), "party must be 1 to 128 bytes".to_string()],
        ),
        (
            "a 10,000-char order id",
            format!(
                r#"{{"type":"order_placed","at":"2026-05-01T00:00:00Z","order":"{id}","license":"CN-IMP-2026-0001","quantity":1,"domestic_quantity":1,"supplier":"nvidia"}}"#
            ),
            vec!["line 1: ".to_string(), "order".to_string()],
        ),
        (
            "a 10,000-char key",
            format!(
                r#"{{"type":"party_restricted","at":"2026-05-01T00:00:00Z","key":"{id}","party":"baidu","reason":"r"}}"#
            ),
            vec!["line 1: ".to_string(), "key".to_string()],
        ),
        (
            "a 10,000-char reason",
            format!(r#"{{"type":"party_restricted","at":"2026-05-01T00:00:00Z","party":"baidu","reason":"{id}"}}"#),
            vec!["line 1: ".to_string(), "reason".to_string()],
        ),
        (
            "a 129-byte id of multi-byte characters",
            format!(
                r#"{{"type":"party_restricted","at":"2026-05-01T00:00:00Z","party":"{}é","reason":"r"}}"#,
                "é".repeat(63)
            ),
            vec!["line 1: ".to_string(), "party".to_string()],
        ),
    ];
    for (name, line, needles) in cases {
        refuse(fx, name, format!("{line}\n").as_bytes(), 1, &needles);
    }
}

#[test]
fn deep_nesting_and_wide_objects_are_refused_without_a_crash() {
    let fx = story();
    let deep = "[".repeat(60_000);
    refuse(fx, "60,000 nested arrays", deep.as_bytes(), 1, &["line 1: ".to_string()]);
    let deep_rule = format!(
        r#"{{"type":"condition_added","license":"CN-IMP-2026-0001","condition":"C9","rule":{}1{}}}"#,
        "{\"kind\":".repeat(5_000),
        "}".repeat(5_000)
    );
    refuse(fx, "5,000 nested rule objects", deep_rule.as_bytes(), 1, &["line 1: ".to_string()]);
    let mut wide = String::from(r#"{"type":"party_restricted","party":"baidu","reason":"r""#);
    for i in 0..3_000 {
        wide.push_str(&format!(r#","f{i}":{i}"#));
    }
    wide.push('}');
    refuse(fx, "3,000 unknown fields", wide.as_bytes(), 1, &["line 1: ".to_string(), "unknown field".to_string()]);
}

#[test]
fn an_empty_file_and_an_empty_stdin_append_nothing() {
    let fx = story();
    refuse(fx, "empty input", b"", 1, &["no events".to_string()]);
    refuse(fx, "blank lines only", b"\n\n\r\n  \n", 1, &["no events".to_string()]);
}

/// Peak resident memory of a running process, from /proc (Linux), in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_100_mb_line_is_refused_with_bounded_memory() {
    let fx = story();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("huge.jsonl");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        w.write_all(br#"{"type":"party_registered","at":"2026-05-01T00:00:00Z","party":"newco","name":"New Co","country":"CN","state_backed":false,"sector":"internet"}"#).unwrap();
        w.write_all(b"\n").unwrap();
        w.write_all(br#"{"type":"party_restricted","at":"2026-05-01T00:00:00Z","party":"baidu","reason":""#).unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(b"\"}\n").unwrap();
        w.write_all(br#"{"type":"party_restricted","at":"2026-05-01T00:00:00Z","party":"newco","reason":"r"}"#)
            .unwrap();
        w.write_all(b"\n").unwrap();
    }
    let mut cmd = command(&fx.ledger, &["append", "--create", file.to_str().unwrap(), "--actor", "tester"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = vm_hwm_kib(pid) {
            peak = peak.max(hwm);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the 100 MB line: no exit within 120 s");
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = child.wait_with_output().unwrap();
    let out = Out { code: status.code(), stdout: out.stdout, stderr: String::from_utf8_lossy(&out.stderr).into() };
    check_refusal(&out, 1, &["line 2: ".to_string(), "longer than the limit".to_string()], "the 100 MB line");
    eprintln!("hostile: the 100 MB line was refused; peak RSS seen {} KiB", peak);
    // Holding the line would take 100 MB at least; the sled cache and buffers stay well under.
    assert!(peak < 80 * 1024, "memory must stay bounded on a 100 MB line: peak {peak} KiB");
    assert_unchanged(fx, &fx.ledger, "the 100 MB line");
}

#[test]
fn a_line_just_over_the_limit_is_too_long_and_one_at_the_limit_is_read() {
    let fx = story();
    let max = quotaledger::limits::LINE_BYTES_MAX;
    let head = r#"{"type":"party_restricted","at":"2026-05-01T00:00:00Z","party":"baidu","reason":""#;
    let fill = |total: usize| format!("{head}{}\"}}", "r".repeat(total - head.len() - 2));
    let at_limit = fill(max);
    assert_eq!(at_limit.len(), max);
    // At the limit, the line is read and the rule on text length refuses it.
    refuse(
        fx,
        "a line of exactly the limit",
        format!("{at_limit}\n").as_bytes(),
        1,
        &["line 1: ".into(), "reason".into()],
    );
    let over = fill(max + 1);
    refuse(
        fx,
        "a line one byte over",
        format!("{over}\n").as_bytes(),
        1,
        &["line 1: ".into(), "longer than the limit".into()],
    );
    refuse(
        fx,
        "a line one byte over, no newline",
        over.as_bytes(),
        1,
        &["line 1: ".into(), "longer than the limit".into()],
    );
}

/// Random inputs: binary garbage and single-byte mutations of valid lines. Runs on a ledger of
/// its own: a mutation can still be a valid event (a digit changed), which must then be a real
/// append of exactly one record; every other input is refused and changes nothing.
fn random_inputs(rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = ledger_in(dir.path());
    ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
    let mut head = head_json(&ledger);
    let mut exported = export(&ledger);
    let seed = seed("hostile random inputs");
    let mut rng = Rng::new(seed);
    let valid = r#"{"type":"order_placed","at":"2026-05-01T00:00:00Z","order":"O-NEW","license":"CN-IMP-2026-0003","quantity":5,"domestic_quantity":2,"supplier":"nvidia"}"#;
    let (mut refused, mut accepted) = (0usize, 0usize);
    for round in 0..rounds {
        let input: Vec<u8> = if round % 2 == 0 {
            let n = rng.range(1, 4096) as usize;
            (0..n).map(|_| rng.next_u64() as u8).collect()
        } else {
            let mut b = valid.as_bytes().to_vec();
            for _ in 0..rng.range(1, 3) {
                let i = rng.below(b.len() as u64) as usize;
                match rng.below(3) {
                    0 => b[i] = rng.next_u64() as u8,
                    1 => {
                        b.remove(i);
                    }
                    _ => b.insert(i, rng.next_u64() as u8),
                }
            }
            b
        };
        let name = format!("random input {round} (seed {seed})");
        let case_dir = tempfile::tempdir().expect("tempdir");
        let file = case_dir.path().join("case.jsonl");
        write(&file, &input);
        let out = run(&ledger, &["append", "--create", file.to_str().unwrap(), "--actor", "tester"]);
        if out.code == Some(0) {
            let now = head_json(&ledger);
            assert_eq!(
                now["records"].as_u64(),
                head["records"].as_u64().map(|r| r + 1),
                "{name}: an accepted input must append exactly one record: {:?}",
                String::from_utf8_lossy(&input)
            );
            ok(&ledger, &["verify"]);
            head = now;
            exported = export(&ledger);
            accepted += 1;
            continue;
        }
        assert_eq!(
            out.code,
            Some(1),
            "{name}: exit {:?} {:?} for {:?}",
            out.code,
            out.stderr,
            String::from_utf8_lossy(&input)
        );
        out.assert_one_line_error(&name);
        assert!(!out.stderr.trim_end().chars().any(char::is_control), "{name}: control chars in {:?}", out.stderr);
        refused += 1;
        if round % 50 == 0 {
            assert_eq!(head_json(&ledger), head, "{name}: the head changed");
            assert!(export(&ledger) == exported, "{name}: the export changed");
        }
    }
    assert_eq!(head_json(&ledger), head, "random inputs: the head changed");
    assert!(export(&ledger) == exported, "random inputs: the export changed");
    assert!(refused >= rounds / 2, "random inputs: only {refused} of {rounds} refused");
    eprintln!("hostile random inputs: {rounds} tried, {refused} refused, {accepted} accepted (valid mutations)");
}

#[test]
fn random_binary_and_mutated_lines_are_refused() {
    random_inputs(40);
}

#[test]
#[ignore = "soak: run with `cargo test --release --test hostile -- --ignored`"]
fn soak_random_binary_and_mutated_lines() {
    random_inputs(2_000);
}

#[test]
fn usage_errors_exit_2_and_change_nothing() {
    let fx = story();
    let l = &fx.ledger;
    // clap's own errors: exit 2, a message starting with "error:" (clap adds a usage block).
    for args in [
        &["append", "--create", "--bogus"][..],
        &["--wait", "-1", "head"],
        &["--wait", "nan", "head"],
        &["log", "--from", "-1"],
        &["log", "--limit", "many"],
        &["frobnicate"],
    ] {
        let out = run(l, args);
        assert_eq!(out.code, Some(2), "{args:?}: {:?}", out.stderr);
        assert!(out.stderr.starts_with("error:") || out.stderr.starts_with("Usage"), "{args:?}: {:?}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}: {:?}", out.stderr);
    }
    // Usage errors found after parsing: exit 2 and one line.
    for (args, needle) in [
        (&["verify", "--expect-head", "xyz"][..], "--expect-head"),
        (&["verify", "--expect-head", &"g".repeat(64)], "--expect-head"),
        (&["state", "--as-of", "yesterday"], "--as-of"),
        (&["state", "--as-of", "2026-02-30T00:00:00Z"], "--as-of"),
        (&["replay", "--to", "soon"], "--to"),
    ] {
        let out = run(l, args);
        check_refusal(&out, 2, &[needle.to_string()], &format!("{args:?}"));
    }
    let out = run(l, &["append", "--create", "/no/such/file.jsonl"]);
    check_refusal(&out, 1, &["/no/such/file.jsonl".to_string()], "a missing input file");
    assert_unchanged(fx, l, "usage errors");
}

fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn a_directory_that_is_not_a_ledger_is_exit_4_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let not = dir.path().join("photos");
    std::fs::create_dir_all(&not).unwrap();
    write(&not.join("cat.jpg"), b"\xff\xd8\xff not a ledger");
    let before = listing(&not);
    let input = dir.path().join("in.jsonl");
    write(&input, preamble("acme", "L-1"));
    for args in [
        &["append", "--create", input.to_str().unwrap()][..],
        &["init"],
        &["verify"],
        &["state"],
        &["head"],
        &["export"],
        &["log"],
    ] {
        let out = run(&not, args);
        check_refusal(&out, 4, &["not a quotaledger ledger".into()], &format!("not a ledger: {args:?}"));
    }
    assert_eq!(listing(&not), before, "nothing may be written into a directory that is not a ledger");
    // A missing directory: read commands refuse it (and create nothing).
    let missing = dir.path().join("missing");
    let out = run(&missing, &["verify"]);
    check_refusal(&out, 4, &["not a quotaledger ledger".into()], "missing ledger");
    assert!(!missing.exists(), "verify created the missing ledger");
    // A plain file where the ledger should be.
    let file = dir.path().join("file");
    write(&file, b"hello");
    for args in [&["append", "--create", input.to_str().unwrap()][..], &["verify"]] {
        let out = run(&file, args);
        assert_eq!(out.code, Some(4), "a file as ledger {args:?}: {:?}", out.stderr);
        out.assert_one_line_error("a file as ledger");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");
}

#[test]
fn another_format_version_is_exit_4_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
    let input = dir.path().join("in.jsonl");
    write(&input, preamble("acme", "L-1").replace("2026-01-10", "2026-06-10"));
    for marker in ["quotaledger ledger format 3\n", "quotaledger ledger format 1\n", "", "\u{0}\u{0}garbage\n"] {
        write(&ledger.join("FORMAT"), marker);
        let before = listing(&ledger.join("segments"));
        for args in [&["append", "--create", input.to_str().unwrap()][..], &["verify"], &["state"], &["export"]] {
            let out = run(&ledger, args);
            check_refusal(&out, 4, &["unsupported ledger format".into()], &format!("FORMAT {marker:?} {args:?}"));
        }
        assert_eq!(listing(&ledger.join("segments")), before, "FORMAT {marker:?}: the chain was touched");
    }
    write(&ledger.join("FORMAT"), quotaledger::store::FORMAT_MARKER);
    ok(&ledger, &["verify"]);
    // The FORMAT file is there but the chain is gone: damage (exit 3), never an empty ledger.
    std::fs::remove_dir_all(ledger.join("segments")).unwrap();
    for args in [&["verify"][..], &["head"], &["state"], &["export"]] {
        let out = run(&ledger, args);
        check_refusal(&out, 3, &["segments".into()], &format!("segments/ missing, {args:?}"));
    }
    let out = run(&ledger, &["append", "--create", input.to_str().unwrap()]);
    check_refusal(&out, 3, &["segments".into()], "segments/ missing, append");
    assert!(!ledger.join("segments").exists(), "append recreated the missing chain");
}

fn set_mode_recursive(dir: &Path, dir_mode: u32, file_mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    for f in files_under(dir) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(file_mode)).unwrap();
    }
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            }
        }
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(dir_mode)).unwrap();
    }
}

#[test]
fn a_read_only_ledger_refuses_appends_with_exit_4_and_keeps_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_in(dir.path());
    ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
    let head = head_json(&ledger);
    let export_before = export(&ledger);
    let input = dir.path().join("in.jsonl");
    write(&input, preamble("acme", "L-1").replace("2026-01-10", "2026-06-10"));
    set_mode_recursive(&ledger, 0o555, 0o444);
    let probe = ledger.join("segments").join("probe");
    let writable = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    if writable {
        eprintln!(
            "SKIPPED chmod read-only ledger: permissions do not stop this user (root); \
             the read-only filesystem case below covers it"
        );
    } else {
        let out = run(&ledger, &["append", "--create", input.to_str().unwrap()]);
        check_refusal(&out, 4, &[], "append to a read-only ledger");
    }
    set_mode_recursive(&ledger, 0o755, 0o644);
    assert_eq!(head_json(&ledger), head);

    // A read-only file system stops root too.
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mount = match Mount::tmpfs(&mnt, "16m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED read-only file system: {why}");
            return;
        }
    };
    let ro_ledger = mnt.join("ledger");
    copy_dir(&ledger, &ro_ledger);
    if let Err(why) = mount.remount("ro") {
        eprintln!("SKIPPED read-only file system: remount ro failed: {why}");
        return;
    }
    let out = run(&ro_ledger, &["append", "--create", input.to_str().unwrap()]);
    check_refusal(&out, 4, &[], "append on a read-only file system");
    // Readers on a read-only file system (issue 8): they take no lock and write nothing, so
    // every one of them answers, exactly as on the writable original.
    for args in [
        &["verify"][..],
        &["verify", "--chain-only"],
        &["state", "--json"],
        &["log"],
        &["replay"],
        &["head"],
        &["export"],
    ] {
        let out = run(&ro_ledger, args);
        assert_eq!(out.code, Some(0), "{args:?} on a read-only file system: {}", out.stderr);
        assert_eq!(out.stdout, run(&ledger, args).stdout, "{args:?}: the read-only copy answers differently");
    }
    mount.remount("rw").expect("remount rw");
    assert_eq!(head_json(&ro_ledger), head, "the read-only attempt changed the head");
    ok(&ro_ledger, &["verify"]);
    assert!(export(&ro_ledger) == export_before);
}

#[test]
// Regression: on a full tmpfs, sled 0.34 let `append` exit 0 without the data reaching the file
// and left a store that no longer opened; the ledger now checks free space before writing.
fn a_full_disk_fails_the_append_with_exit_4_and_keeps_the_old_head() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    // Room for the story with the commit margin (limits::DISK_SPACE_MARGIN_BYTES), not more.
    let _mount = match Mount::tmpfs(&mnt, "48m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED full disk: {why}");
            return;
        }
    };
    let ledger = mnt.join("ledger");
    ok(&ledger, &["append", "--create", STORY, "--actor", "clerk"]);
    let head = head_json(&ledger);
    let export_before = export(&ledger);
    // Fill the file system.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0xa5u8; 16 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let input = dir.path().join("in.jsonl");
    let t0 = 16_000_000; // 2026-08-05, after the story and the license
                         // An export license: the story's CN-MOFCOM grants of H200 go through its rounds and cap.
    let preamble = preamble("acme", "L-1").replace("2026-01-10", "2026-08-01").replace("CN-MOFCOM", "US-BIS");
    write(&input, preamble + &orders("f", "L-1", 0, 1_500, t0));
    for attempt in 0..2 {
        let out = run(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "tester"]);
        check_refusal(&out, 4, &[], &format!("append on a full disk, attempt {attempt}"));
    }
    let out = run(&ledger, &["verify"]);
    if out.code != Some(0) {
        check_refusal(&out, 4, &[], "verify on a full disk");
    }
    std::fs::remove_file(&filler).unwrap();
    let out = run(&ledger, &["verify", "--expect-head", head["hash"].as_str().unwrap()]);
    assert_eq!(out.code, Some(0), "after freeing space, verify passes: {}", out.stderr);
    assert_eq!(head_json(&ledger), head, "a failed append on a full disk changed the head");
    assert!(export(&ledger) == export_before, "a failed append on a full disk changed the export");
    // With space again, the same append goes through in full.
    ok(&ledger, &["append", "--create", input.to_str().unwrap(), "--actor", "tester"]);
    assert_eq!(records(&ledger), head["records"].as_u64().unwrap() + 1_502);
    ok(&ledger, &["verify"]);
}

/// An append refused for disk space writes nothing the next writer must trust: bytes an
/// interrupted append left beyond the committed length stay invisible to readers, a refused
/// large append leaves the head as it was, and the next writer keeps the leftovers as evidence
/// in `recovered/` before cutting them.
#[test]
fn an_append_refused_for_space_keeps_the_ledger_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let _mount = match Mount::tmpfs(&mnt, "160m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED refused append on a full disk: {why}");
            return;
        }
    };
    let ledger = mnt.join("ledger");
    let small = dir.path().join("small.jsonl");
    write(&small, preamble("acme", "L-1") + &orders("a", "L-1", 0, 100, 16_000_000));
    ok(&ledger, &["append", "--create", small.to_str().unwrap()]);
    let head = head_json(&ledger);
    let records = head["records"].as_u64().unwrap();
    // What a kill during an append leaves: bytes beyond the committed length.
    let segment = ledger.join("segments").join(format!("{:020}.qseg", 0));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
        f.write_all(b"half a block written by an append that was killed").unwrap();
    }
    let out = run(&ledger, &["verify"]);
    assert_eq!(out.code, Some(0), "bytes beyond the committed length are not part of the ledger: {}", out.stderr);
    let filler = mnt.join("filler");
    let free = fs2::available_space(&mnt).unwrap();
    std::fs::write(&filler, vec![0u8; free.saturating_sub(30 << 20) as usize]).unwrap();
    let big = dir.path().join("big.jsonl");
    write(&big, orders("b", "L-1", 0, 150_000, 17_000_000));
    let out = run(&ledger, &["append", "--create", big.to_str().unwrap()]);
    // The writer first says what recovery did (a note), then the one-line refusal.
    let (notes, rest): (Vec<&str>, Vec<&str>) = out.stderr.lines().partition(|l| l.starts_with("qledger: note: "));
    assert_eq!(notes.len(), 1, "recovery notes: {}", out.stderr);
    assert!(notes[0].contains("cut 49 bytes"), "{}", notes[0]);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert_eq!(rest.len(), 1, "{}", out.stderr);
    assert!(rest[0].contains("not enough free space"), "{}", out.stderr);
    std::fs::remove_file(&filler).unwrap();
    let out = run(&ledger, &["verify"]);
    assert_eq!(out.code, Some(0), "verify after the refused append: {}", out.stderr);
    assert_eq!(head_json(&ledger), head);
    ok(&ledger, &["append", "--create", big.to_str().unwrap()]);
    assert_eq!(head_json(&ledger)["records"].as_u64().unwrap(), records + 150_000);
    ok(&ledger, &["verify"]);
    let kept: Vec<_> = std::fs::read_dir(ledger.join("recovered")).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1, "the cut tail is kept as evidence");
    let tail = std::fs::read(kept[0].path()).unwrap();
    assert!(tail.ends_with(b"killed"), "the tail is kept as found");
}
