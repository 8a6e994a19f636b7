//! Snapshots of the terminal output (insta): `state`, `log`, `replay`, `verify` and a refusal,
//! without and with colour. The `.snap` files under `tests/snapshots/` are the expected output;
//! review a change with `cargo insta review` (or `INSTA_UPDATE=always cargo test --test
//! cli_snapshots` and `git diff`). In CI (`CI=true`) a mismatch fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qledger"))
}

fn run(ledger: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin())
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .env_remove("QLEDGER_LEDGER")
        .env_remove("NO_COLOR")
        .env("QLEDGER_ACTOR", "clerk")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn qledger");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.unwrap_or("").as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("wait")
}

fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger");
    assert!(run(&ledger, &["demo"], None).status.success());
    (dir, ledger)
}

/// Stdout (or, for a failure, stderr), with the exit code when it is not 0.
fn shown(out: &Output) -> String {
    let code = out.status.code().unwrap_or(-1);
    if code == 0 {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        format!("exit {code}\n{}", String::from_utf8_lossy(&out.stderr))
    }
}

fn snapshot_both(name: &str, ledger: &Path, args: &[&str], stdin: Option<&str>) {
    for color in ["never", "always"] {
        let mut all = vec!["--color", color];
        all.extend_from_slice(args);
        let text = shown(&run(ledger, &all, stdin));
        if color == "never" {
            assert!(!text.contains('\x1b'), "{name}: colour with --color never");
        }
        insta::assert_snapshot!(format!("{name}_color_{color}"), text);
    }
}

#[test]
fn state_log_replay_verify_and_a_refusal() {
    let (_dir, ledger) = demo();
    snapshot_both("state", &ledger, &["state"], None);
    snapshot_both("state_party", &ledger, &["state", "--party", "bytedance", "--as-of", "2026-02-05"], None);
    snapshot_both("log", &ledger, &["log", "-n", "8"], None);
    snapshot_both("log_reverse", &ledger, &["log", "--reverse", "--license", "CN-IMP-2026-0003"], None);
    snapshot_both("replay", &ledger, &["replay"], None);
    snapshot_both("verify", &ledger, &["verify"], None);
    let over_quota = r#"{"type":"order_placed","at":"2026-04-06T06:00:00Z","order":"O-TC-2","licenses":["CN-IMP-2026-0003","US-BIS-D000001"],"quantity":50000,"domestic_quantity":16667,"supplier":"nvidia"}"#;
    snapshot_both("refusal", &ledger, &["append", "-"], Some(over_quota));
    snapshot_both("unknown_id", &ledger, &["log", "--license", "CN-IMP-2026-001"], None);
    // A real append's hash depends on the clock it was appended at: the dry run shows the same
    // verdict and effect, and writes nothing.
    let shipment = r#"{"type":"shipment_recorded","at":"2026-04-06T08:00:00Z","order":"O-BD-1","quantity":10000}"#;
    snapshot_both("append_dry_run", &ledger, &["append", "--dry-run", "-"], Some(shipment));
    let order = [
        "order",
        "--order",
        "O-BD-3",
        "--license",
        "CN-IMP-2026-0001",
        "--license",
        "US-BIS-D000001",
        "--quantity",
        "6000",
        "--domestic-quantity",
        "2000",
        "--supplier",
        "nvidia",
        "--at",
        "2026-04-06T00:00:00Z",
        "--dry-run",
    ];
    snapshot_both("order_dry_run", &ledger, &order, None);
}
