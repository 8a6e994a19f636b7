//! Every example shown in a `--help` text (and in the README's "Examples" section) is run, and
//! prints what is shown.
//!
//! An example is `  $ COMMAND` (run by `sh`, stderr with stdout) followed by the lines it prints;
//! `  ...` stands for any number of lines, and a line ending in ` ...` for any line starting with
//! what precedes it. The examples of one help text run in order, in a
//! fresh directory holding the demo's ledger at `./ledger`, with `QLEDGER_ACTOR=clerk` and no
//! `QLEDGER_LEDGER`.

use clap::CommandFactory;
use quotaledger::cli::args::Cli;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qledger"))
}

/// A fresh directory with the demo's ledger at `./ledger`.
fn fresh_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = Command::new(bin())
        .args(["--ledger", "ledger", "demo"])
        .current_dir(dir.path())
        .env_remove("QLEDGER_LEDGER")
        .output()
        .expect("run demo");
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// `(command, expected lines)` of the Examples section of a help text.
fn examples(text: &str) -> Vec<(String, Vec<String>)> {
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let Some((_, section)) = text.split_once("Examples:\n") else { return found };
    for line in section.lines() {
        if let Some(cmd) = line.strip_prefix("  $ ") {
            found.push((cmd.to_string(), Vec::new()));
        } else if line.is_empty() || line.starts_with("  ") {
            if let Some((_, expected)) = found.last_mut() {
                expected.push(line.strip_prefix("  ").unwrap_or(line).trim_end().to_string());
            }
        } else {
            break;
        }
    }
    for (_, expected) in &mut found {
        while expected.last().is_some_and(String::is_empty) {
            expected.pop();
        }
    }
    found
}

/// Whether `actual` matches `expected`, where a `...` line matches any number of lines and a
/// line ending in ` ...` matches any line that starts with what comes before it (a hash that
/// depends on the clock of the append, say).
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => (0..=actual.len()).any(|skip| matches(rest, &actual[skip..])),
        Some((e, rest)) => {
            actual.split_first().is_some_and(|(a, more)| line_matches(e, a.trim_end()) && matches(rest, more))
        }
    }
}

fn line_matches(expected: &str, actual: &str) -> bool {
    match expected.strip_suffix(" ...") {
        Some(prefix) => actual.starts_with(prefix),
        None => actual == expected,
    }
}

fn run_examples(what: &str, text: &str) -> usize {
    let examples = examples(text);
    let dir = fresh_dir();
    let path = format!(
        "{}:{}",
        bin().parent().map(Path::display).expect("bin dir"),
        std::env::var("PATH").unwrap_or_default()
    );
    for (cmd, expected) in &examples {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{{ {cmd} ; }} 2>&1"))
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("QLEDGER_ACTOR", "clerk")
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env_remove("QLEDGER_LEDGER")
            .env_remove("NO_COLOR")
            .output()
            .expect("run sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut actual: Vec<&str> = text.lines().collect();
        while actual.last().is_some_and(|l| l.trim().is_empty()) {
            actual.pop();
        }
        assert!(
            matches(expected, &actual),
            "{what}: `{cmd}` printed\n{text}\nbut the help shows\n{}",
            expected.join("\n")
        );
    }
    examples.len()
}

fn help_of(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().expect("run --help");
    assert!(out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_help_has_examples_and_each_prints_what_it_shows() {
    let mut ran = run_examples("qledger --help", &help_of(&["--help"]));
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name().to_string();
        let help = help_of(&[&name, "--help"]);
        let n = run_examples(&format!("qledger {name} --help"), &help);
        assert!(n > 0 || name == "help", "qledger {name} --help shows no example");
        ran += n;
    }
    assert!(ran > 30, "only {ran} examples ran");
}

#[test]
fn the_readme_examples_print_what_they_show() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let Some((_, rest)) = readme.split_once("```console\nExamples:\n") else {
        panic!("the README has no ```console Examples block");
    };
    let block = rest.split_once("```").map_or(rest, |(b, _)| b);
    let n = run_examples("README", &format!("Examples:\n{block}"));
    assert!(n > 3, "the README shows only {n} examples");
}

#[test]
fn append_help_no_longer_hides_the_event_types_and_their_fields() {
    let help = help_of(&["append", "--help"]);
    for (name, fields) in quotaledger::jsonl::event_types() {
        let line = help.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{name} missing"));
        for f in &fields {
            assert!(line.contains(f), "{name}: {f} missing in {line}");
        }
    }
}

#[test]
fn a_bare_qledger_no_longer_prints_an_error_dump() {
    let out = Command::new(bin()).output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("qledger demo") && text.lines().count() < 25, "{text}");
    assert!(out.stderr.is_empty());
}

/// The README's command sketch under "Using it" (no output shown): every line runs and exits 0,
/// with the story as `events.jsonl`.
#[test]
fn the_readme_usage_sketch_runs() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let marker = "# run by tests/help_examples.rs with events.jsonl = examples/h200.jsonl: every line exits 0\n";
    let Some((_, rest)) = readme.split_once(marker) else { panic!("the README has no usage sketch") };
    let block = rest.split_once("```").map_or(rest, |(b, _)| b);
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/h200.jsonl"), dir.path().join("events.jsonl"))
        .expect("copy the story");
    let path = format!(
        "{}:{}",
        bin().parent().map(Path::display).expect("bin dir"),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for line in block.lines().filter(|l| l.starts_with("qledger ")) {
        let cmd = line.split("  #").next().unwrap_or(line).trim();
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("QLEDGER_ACTOR", "clerk")
            .env_remove("QLEDGER_LEDGER")
            .output()
            .expect("run sh");
        assert!(out.status.success(), "`{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} lines ran");
}
