//! `qledger demo`: the H200 story (examples/h200.jsonl) in a fresh ledger, verified, replayed,
//! its quota state printed, and one refused order that leaves the ledger unchanged.
//!
//! The story is fiction: it goes only into a new temporary directory or into a `--ledger` path
//! given on the command line that is new or an empty ledger. It never reads `QLEDGER_LEDGER`.

use super::output;
use crate::domain::Timestamp;
use crate::jsonl::Defaults;
use crate::ledger::{AppendOptions, Ledger};
use crate::store::OpenMode;
use anyhow::{bail, Context as _, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The story, compiled in so that `demo` needs no files besides the binary.
pub const STORY_JSONL: &str = include_str!("../../examples/h200.jsonl");

/// The events the demo shows being refused, each with what it shows: an order missing its
/// domestic bundle (the final 1-per-3 condition asks for 10,000), an order over the binding
/// US export gate, and a license to a state-backed telecom operator that policy P-SOE denies.
pub const REFUSED: [(&str, &str); 3] = [
    (
        "an order missing its domestic bundle",
        r#"{"type":"order_placed","at":"2026-04-04T06:00:00Z","actor":"buyer@bytedance","order":"O-BD-3","licenses":["CN-IMP-2026-0001","US-BIS-D000001"],"quantity":30000,"domestic_quantity":5000,"supplier":"nvidia"}"#,
    ),
    (
        "an order within the buyer's license but over the US export gate",
        r#"{"type":"order_placed","at":"2026-04-04T07:00:00Z","actor":"buyer@bytedance","order":"O-BD-4","licenses":["CN-IMP-2026-0001","US-BIS-D000001"],"quantity":20000,"domestic_quantity":7000,"supplier":"nvidia"}"#,
    ),
    (
        "a license to a state-backed telecom operator",
        r#"{"type":"license_granted","at":"2026-04-04T08:00:00Z","actor":"approver@mofcom","license":"CN-IMP-2026-0006","authority":"CN-MOFCOM","licensee":"china-telecom","product":"H200","quantity":10000,"valid_from":"2026-04-04","valid_until":"2027-04-03","round":2}"#,
    ),
];

/// The demo's fictional ledger clock: the story is recorded as if on this day, so its
/// `recorded_at` values, and so its hashes, are the same on every machine.
pub const STORY_CLOCK: &str = "2026-04-05T00:00:00Z";

/// How the demo appends: at [`STORY_CLOCK`].
fn story_options() -> AppendOptions {
    AppendOptions { clock: Timestamp::parse(STORY_CLOCK).ok(), ..AppendOptions::default() }
}

/// Runs the demo in `ledger` (which must be new or empty) or in a fresh temporary directory.
pub fn run(ledger: Option<&Path>, out: &mut dyn Write) -> Result<ExitCode> {
    let dir = match ledger {
        Some(p) => p.to_path_buf(),
        None => fresh_dir()?,
    };
    let mut ledger = Ledger::open(&dir, OpenMode::CreateIfMissing, None)?;
    // The story's lines all carry their actor; "demo" fills in for any that would not.
    if ledger.head().records != 0 {
        bail!(super::NotFound(format!("demo needs a fresh ledger, and {} already holds records", dir.display())));
    }
    let defaults = Defaults { at: Timestamp::default(), actor: "demo".to_string() };
    writeln!(out, "== 1. append the H200 story (examples/h200.jsonl) into {}", dir.display())?;
    let report = super::append_from(&mut ledger, STORY_JSONL.as_bytes(), &defaults, story_options())?;
    output::append_report(out, &report, false)?;

    writeln!(out, "\n== 2. verify every hash and link")?;
    let verified = ledger.verify(Some(report.head.last_hash))?;
    output::verify_ok(out, &verified, false)?;

    writeln!(out, "\n== 3. replay the history")?;
    let everything = output::ReplayShape { from: 0, to: None, limit: None, json: false };
    output::replay(out, &ledger, None, &everything)?;

    writeln!(out, "\n== 4. quota state at the head")?;
    let state = ledger.state()?;
    output::state(out, &ledger, &state, &output::StateFilter::default(), output::Format::Text)?;

    writeln!(out, "\n== 5. refused events append nothing")?;
    for (what, line) in REFUSED {
        let before = ledger.head();
        match super::append_from(&mut ledger, line.as_bytes(), &defaults, story_options()) {
            Ok(_) => bail!("the demo's refused event ({what}) was accepted: a rule is broken"),
            Err(e) => writeln!(out, "{what}: refused: {e}")?,
        }
        if ledger.head() != before {
            bail!("the head moved after a refused append");
        }
    }
    let after = ledger.head();
    writeln!(out, "head unchanged: {} records, hash {}", after.records, crate::format::chain::hex(&after.last_hash))?;

    writeln!(out, "\n== 6. late entries, the first thing an auditor looks at")?;
    let late = output::Filter { late: true, ..output::Filter::default() };
    let shape = output::LogShape { from: 0, limit: None, reverse: false, format: output::Format::Text };
    output::log(out, &ledger, &late, &shape)?;
    writeln!(out, "\nthe ledger is kept at {}; try: qledger --ledger {} log", dir.display(), dir.display())?;
    Ok(ExitCode::SUCCESS)
}

/// A new directory with a random name under the temporary directory, kept after the demo so that
/// its ledger can be explored.
fn fresh_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let dir = tempfile::Builder::new()
        .prefix("qledger-demo-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a demo directory under {}", base.display()))?;
    Ok(dir.keep())
}
