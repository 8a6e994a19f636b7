//! Long commands show progress on a terminal (issue 11: "the 4-5 s append, verify and export of
//! 1M events print nothing until they end"), and nowhere else: not with `--quiet`, not when
//! stderr is a pipe. A terminal is given by util-linux `script`, which runs the command on a
//! pseudo-terminal; the test is skipped with a message where `script` is missing.

#[allow(dead_code)]
#[path = "../examples/bench/gen/mod.rs"]
mod gen;

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qledger"))
}

/// Runs `args` on a pseudo-terminal: what the terminal showed (stdout and stderr together).
fn on_a_terminal(args: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", &format!("{} {args}", bin().display()), "/dev/null"])
        .env_remove("NO_COLOR")
        .output()
        .expect("run script");
    assert!(out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Events of a ledger whose `verify` runs for more than a second ([`DELAY`] of progress), in a
/// debug build and in a release build (`cargo test --release`), which verifies about ten times
/// faster.
///
/// [`DELAY`]: quotaledger::cli::progress::DELAY
const EVENTS: (u64, &str) = if cfg!(debug_assertions) { (60_000, "60,000") } else { (600_000, "600,000") };

/// A ledger of [`EVENTS`] events.
fn big_ledger(dir: &Path) -> PathBuf {
    let events = dir.join("events.jsonl");
    gen::generate(EVENTS.0, 7, std::io::BufWriter::new(std::fs::File::create(&events).expect("create")))
        .expect("generate");
    let ledger = dir.join("ledger");
    let out = Command::new(bin())
        .args(["--ledger"])
        .arg(&ledger)
        .args(["append", "--create", "--actor", "clerk"])
        .arg(&events)
        .output()
        .expect("append");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ledger
}

#[test]
fn a_long_verify_shows_progress_on_a_terminal_and_nowhere_else() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let ledger = big_ledger(dir.path());
    let l = ledger.display();
    let shown = on_a_terminal(&format!("--ledger {l} verify"));
    let records = EVENTS.1;
    assert!(shown.contains(&format!("verifying {records} records")), "no progress on the terminal:\n{shown}");
    assert!(shown.contains(&format!("{records} records in")), "the result follows the progress: {shown}");
    let quiet = on_a_terminal(&format!("--ledger {l} --quiet verify"));
    assert!(!quiet.contains("verifying"), "--quiet still shows progress:\n{quiet}");
    // stderr a pipe: no progress, even on a long command.
    let piped = Command::new(bin()).arg("--ledger").arg(&ledger).arg("verify").output().expect("verify");
    assert!(piped.status.success());
    assert!(piped.stderr.is_empty(), "{}", String::from_utf8_lossy(&piped.stderr));
}

/// `append` reading a terminal says that it waits for input (issue 11), and ends at Ctrl-D.
#[test]
fn append_reading_a_terminal_says_it_waits_for_input() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let ledger = dir.path().join("ledger");
    assert!(Command::new(bin()).arg("--ledger").arg(&ledger).arg("init").output().expect("init").status.success());
    // The terminal gets Ctrl-D (end of input) a moment after the command starts.
    let shell = format!(
        "(sleep 1; printf '\\004') | script -qec '{} --ledger {} append --actor clerk' /dev/null",
        bin().display(),
        ledger.display()
    );
    let out = Command::new("sh").args(["-c", &shell]).output().expect("run script");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("reading events (JSON Lines) from the terminal; end with Ctrl-D"), "{shown}");
    assert!(shown.contains("the input holds no events"), "{shown}");
}
