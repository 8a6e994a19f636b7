//! A reader during a writer's bulk append: the writer loads the whole input into a fresh
//! ledger (the same append calls as the timed bulk append), and while it runs, `qledger head`,
//! `state` and `verify --chain-only` run one after the other as separate processes, each with
//! `--json`, never with `--wait`. Reported: how many readers succeeded, whether each successful
//! reader saw a committed prefix (a head, in records and hash, that this very ledger had after
//! one of the writer's append calls, or the empty ledger: read back from its records once the
//! writer is done, since every record keeps the clock it was appended at, so another load of
//! the same input has other hashes), and how much slower the writer was than the
//! same load into a fresh ledger with no reader, run just before it (so both see the same
//! machine). A reader that fails (today: exit 4, "in use") is counted, not fatal.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::ours::Qledger;
use crate::Res;

/// Pause between two reader processes.
const READER_PAUSE: Duration = Duration::from_millis(100);
/// The writer waits this long for the ledger's lock (readers of today's store take it too).
const WRITER_WAIT_SECS: &str = "600";
const READERS: [(&str, &[&str]); 3] = [
    ("head", &["head", "--json"]),
    ("state", &["state", "--json"]),
    ("verify --chain-only", &["verify", "--chain-only", "--json"]),
];

/// One reader process.
pub struct ReaderRun {
    pub op: &'static str,
    pub code: Option<i32>,
    pub secs: f64,
    /// Whether what it printed is a committed prefix (None if it failed).
    pub committed: Option<bool>,
    /// The head it printed: records and hash.
    seen: Option<(u64, String)>,
    /// The first line of its stderr, if it failed.
    pub error: String,
}

pub struct RwResult {
    pub writer_ok: bool,
    pub writer_error: String,
    pub writer_secs: f64,
    /// The same load with no reader beside it.
    pub alone_secs: f64,
    /// Whether the writer's ledger ended with as many records as the undisturbed one.
    pub same_head: bool,
    pub readers: Vec<ReaderRun>,
}

impl RwResult {
    pub fn readers_ok(&self) -> usize {
        self.readers.iter().filter(|r| r.code == Some(0)).count()
    }

    pub fn all_committed(&self) -> bool {
        self.readers.iter().all(|r| r.committed != Some(false))
    }

    /// Exit codes of the readers and how often each occurred, e.g. "head exit 4 × 12".
    pub fn exit_summary(&self) -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in &self.readers {
            let code = r.code.map_or("killed".to_string(), |c| format!("exit {c}"));
            *counts.entry(format!("{} {code}", r.op)).or_insert(0) += 1;
        }
        counts.iter().map(|(c, n)| format!("{c} × {n}")).collect::<Vec<_>>().join(", ")
    }

    /// How much longer the writer took with readers than alone (0.1 = 10% slower).
    pub fn slowdown(&self) -> f64 {
        self.writer_secs / self.alone_secs - 1.0
    }

    pub fn max_reader_secs(&self) -> Option<f64> {
        self.readers.iter().map(|r| r.secs).max_by(f64::total_cmp)
    }
}

/// The writer: each chunk as one `qledger append` call, in order; stops at the first failure.
fn write_all(bin: PathBuf, ledger: PathBuf, chunks: Vec<PathBuf>, err_log: PathBuf) -> Res<(bool, f64)> {
    let t0 = Instant::now();
    for chunk in &chunks {
        let status = Command::new(&bin)
            .arg("--ledger")
            .arg(&ledger)
            .args(["--wait", WRITER_WAIT_SECS, "append", "--create"])
            .arg(chunk)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&err_log)?)
            .status()?;
        if !status.success() {
            return Ok((false, t0.elapsed().as_secs_f64()));
        }
    }
    Ok((true, t0.elapsed().as_secs_f64()))
}

fn read_once(bin: &Path, ledger: &Path, op: &'static str, args: &[&str]) -> Res<ReaderRun> {
    let t0 = Instant::now();
    let out = Command::new(bin).arg("--ledger").arg(ledger).args(args).stdin(Stdio::null()).output()?;
    let secs = t0.elapsed().as_secs_f64();
    let code = out.status.code();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr.lines().next().unwrap_or_default().to_string();
    let (committed, seen) = if out.status.success() {
        let view = Qledger::head_of(&String::from_utf8_lossy(&out.stdout));
        (Some(view.is_ok()), view.ok())
    } else {
        (None, None)
    };
    Ok(ReaderRun { op, code, secs, committed, seen, error })
}

/// A fresh, initialized (empty) ledger at `ledger`.
fn fresh_ledger(q: &Qledger, ledger: &Path) -> Res<()> {
    if ledger.exists() {
        fs::remove_dir_all(ledger)?;
    }
    let init = Command::new(&q.bin).arg("--ledger").arg(ledger).arg("init").stdout(Stdio::null()).status()?;
    if !init.success() {
        return Err(format!("qledger init of {} failed ({init})", ledger.display()).into());
    }
    Ok(())
}

/// The writer alone on a fresh ledger: its wall time.
fn write_alone(q: &Qledger, dir: &Path, chunks: &[PathBuf]) -> Res<f64> {
    let ledger = dir.join("qledger-alone");
    fresh_ledger(q, &ledger)?;
    let err_log = dir.join("logs").join("rw-alone.err");
    let (ok, secs) = write_all(q.bin.clone(), ledger.clone(), chunks.to_vec(), err_log)?;
    fs::remove_dir_all(&ledger)?;
    if !ok {
        return Err("the bulk append with no reader beside it failed (logs/rw-alone.err)".into());
    }
    eprintln!("  writer alone: {secs:.3} s");
    Ok(secs)
}

/// Readers, one after the other with a pause, until the writer is done.
fn read_until_done<T>(bin: &Path, ledger: &Path, writer: &thread::JoinHandle<T>) -> Res<Vec<ReaderRun>> {
    let mut readers = Vec::new();
    for (op, args) in READERS.iter().cycle() {
        if writer.is_finished() {
            break;
        }
        let run = read_once(bin, ledger, op, args)?;
        let code = run.code.map_or("killed".into(), |c| format!("exit {c}"));
        eprintln!("  reader {op}: {code} in {:.3} s {}", run.secs, run.error);
        readers.push(run);
        thread::sleep(READER_PAUSE);
    }
    Ok(readers)
}

/// Runs the writer alone, then again on a fresh ledger in `dir` with readers until it is done.
pub fn reader_during_writer(
    q: &Qledger,
    dir: &Path,
    chunks: &[PathBuf],
    committed: &BTreeMap<u64, String>,
) -> Res<RwResult> {
    let alone_secs = write_alone(q, dir, chunks)?;
    let ledger = dir.join("qledger-rw");
    fresh_ledger(q, &ledger)?;
    let err_log = dir.join("logs").join("rw-writer.err");
    let (bin, led, parts, log) = (q.bin.clone(), ledger.clone(), chunks.to_vec(), err_log.clone());
    let writer = thread::spawn(move || write_all(bin, led, parts, log).map_err(|e| e.to_string()));
    let mut readers = read_until_done(&q.bin, &ledger, &writer)?;
    let (writer_ok, writer_secs) = writer.join().map_err(|_| "the writer thread panicked")??;
    let writer_error = fs::read_to_string(&err_log)?.lines().next().unwrap_or_default().to_string();
    let head = Command::new(&q.bin).arg("--ledger").arg(&ledger).args(["head", "--json"]).output()?;
    let final_head = Qledger::head_of(&String::from_utf8_lossy(&head.stdout)).ok();
    let last = committed.keys().next_back().copied();
    let prefixes = committed_heads(q, &ledger, committed.keys().copied())?;
    for r in &mut readers {
        if let Some(seen) = &r.seen {
            r.committed = Some(prefixes.get(&seen.0) == Some(&seen.1));
        }
    }
    fs::remove_dir_all(&ledger)?;
    eprintln!("  writer with readers: {writer_secs:.3} s");
    Ok(RwResult {
        writer_ok,
        writer_error,
        writer_secs,
        alone_secs,
        same_head: final_head.is_some_and(|(records, _)| Some(records) == last),
        readers,
    })
}

/// The head `ledger` had at each of `counts` records (the writer's call boundaries; 0 is the
/// empty ledger, all-zero hash), read from its records.
fn committed_heads(q: &Qledger, ledger: &Path, counts: impl Iterator<Item = u64>) -> Res<BTreeMap<u64, String>> {
    let out = Command::new(&q.bin).arg("--ledger").arg(ledger).args(["log", "--json"]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut hashes: BTreeMap<u64, String> = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let (Some(seq), Some(hash)) = (v["seq"].as_u64(), v["hash"].as_str()) else { continue };
        hashes.insert(seq + 1, hash.to_string());
    }
    hashes.insert(0, "0".repeat(64));
    Ok(counts.chain([0]).filter_map(|n| hashes.get(&n).map(|h| (n, h.clone()))).collect())
}
