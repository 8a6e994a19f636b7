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

/// The order the demo shows being refused: 30,000 H200 with 5,000 domestic chips, where the
/// final 1-per-3 bundle condition asks for 10,000.
pub const REFUSED_ORDER: &str = r#"{"type":"order_placed","at":"2026-04-02T06:00:00Z","actor":"buyer@bytedance","order":"O-BD-3","license":"CN-IMP-2026-0001","quantity":30000,"domestic_quantity":5000,"supplier":"nvidia"}"#;

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
    let report = super::append_from(&mut ledger, STORY_JSONL.as_bytes(), &defaults, AppendOptions::default())?;
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

    writeln!(out, "\n== 5. an order missing its domestic bundle is refused, and nothing is appended")?;
    let before = ledger.head();
    match super::append_from(&mut ledger, REFUSED_ORDER.as_bytes(), &defaults, AppendOptions::default()) {
        Ok(_) => bail!("the demo's refused order was accepted: the bundle rule is broken"),
        Err(e) => writeln!(out, "refused: {e}")?,
    }
    let after = ledger.head();
    if before != after {
        bail!("the head moved after a refused append");
    }
    writeln!(out, "head unchanged: {} records, hash {}", after.records, crate::format::chain::hex(&after.last_hash))?;
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
