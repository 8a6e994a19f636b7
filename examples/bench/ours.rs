//! quotaledger's side of the benchmark: every figure is one `qledger` process (or the median of
//! `REPEATS`), driven through its command line as a user would.

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::runner::{disk_bytes, later_than_last_at, median, Run, Runner};
use crate::Res;

/// Runs of each millisecond-scale measurement; the median is reported. A figure of a few
/// milliseconds moves by as much from one run to the next on a shared machine, and two of them
/// make a bar's ratio, so nine.
pub const REPEATS: usize = 9;
/// The small ledger that `state` and a one-event `append` on the big one are compared with.
pub const SMALL_LEDGER_EVENTS: u64 = 1000;

/// The `qledger` binary and how to call it on a ledger.
pub struct Qledger {
    pub bin: PathBuf,
}

impl Qledger {
    pub fn args(ledger: &Path, rest: &[&OsStr]) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["--ledger".into(), ledger.into()];
        v.extend(rest.iter().map(|s| s.to_os_string()));
        v
    }

    pub fn run(&self, r: &mut Runner, label: &str, ledger: &Path, rest: &[&str], rss: bool) -> Res<Run> {
        let rest: Vec<&OsStr> = rest.iter().map(OsStr::new).collect();
        self.run_os(r, label, ledger, &rest, rss, None)
    }

    pub fn run_os(
        &self,
        r: &mut Runner,
        label: &str,
        ledger: &Path,
        rest: &[&OsStr],
        rss: bool,
        out: Option<&Path>,
    ) -> Res<Run> {
        let args = Qledger::args(ledger, rest);
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        r.run(label, &self.bin, &args, rss, out)
    }

    /// The `head` object of `head --json`, `state --json` or `verify --json` output: (records,
    /// hash).
    pub fn head_of(json: &str) -> Res<(u64, String)> {
        let v: Value = serde_json::from_str(json.trim())?;
        let head = v.get("head").unwrap_or(&v);
        let records = head.get("records").and_then(Value::as_u64).ok_or("no head.records in the output")?;
        let hash = head.get("hash").and_then(Value::as_str).ok_or("no head.hash in the output")?;
        Ok((records, hash.to_string()))
    }
}

/// Everything measured on quotaledger.
pub struct Ours {
    pub append: Run,
    pub append_calls: usize,
    pub disk_len: u64,
    pub disk_alloc: u64,
    pub reads: Reads,
    pub totals: BTreeMap<String, u64>,
    pub state_head_secs: f64,
    pub state_head_small_secs: f64,
    pub one_loaded_secs: f64,
    pub one_empty_secs: f64,
    pub one_small_secs: f64,
    /// (records, head hash) after each append call of the bulk load, and (0, zeros) before.
    pub committed: BTreeMap<u64, String>,
}

/// The read commands on the loaded ledger, each one process with its peak RSS.
pub struct Reads {
    pub verify_chain: Run,
    pub verify_rules: Run,
    pub state: Run,
    pub near_end: u64,
    pub mid: u64,
    pub as_of_end: Run,
    pub as_of_mid: Run,
    pub full_replay: Run,
    pub log: Run,
    pub replay: Run,
    pub export: Run,
}

/// `verify` both ways, `state` (head, as of two seqs, full replay), `log`, `replay`, `export`.
fn read_commands(q: &Qledger, r: &mut Runner, ledger: &Path, dir: &Path, count: u64) -> Res<Reads> {
    // `verify --chain-only` does what the peers' verify does (hashes and links, plus our head
    // and snapshots); plain `verify` also re-checks every record against the rules.
    let verify_chain = q.run(r, "qledger verify --chain-only", ledger, &["verify", "--chain-only"], true)?;
    let verify_rules = q.run(r, "qledger verify (rules)", ledger, &["verify"], true)?;
    let state = q.run(r, "qledger state --json", ledger, &["state", "--json"], true)?;
    let (near_end, mid) = (count - 2, count / 2);
    let (end_seq, mid_seq) = (near_end.to_string(), mid.to_string());
    let as_of_end = q.run(r, "qledger state --as-of N-2", ledger, &["state", "--as-of", &end_seq, "--json"], true)?;
    let as_of_mid = q.run(r, "qledger state --as-of N/2", ledger, &["state", "--as-of", &mid_seq, "--json"], true)?;
    let null = Some(Path::new("/dev/null"));
    let os = |a: &[&'static str]| -> Vec<&'static OsStr> { a.iter().map(|s| OsStr::new(*s)).collect() };
    let full_replay =
        q.run_os(r, "qledger state --full-replay", ledger, &os(&["state", "--full-replay", "--json"]), true, null)?;
    let log = q.run_os(r, "qledger log --json", ledger, &os(&["log", "--json"]), true, null)?;
    let replay = q.run_os(r, "qledger replay --json", ledger, &os(&["replay", "--json"]), true, null)?;
    let export_path = dir.join("export.jsonl");
    let export_args: [&OsStr; 3] = ["export".as_ref(), "--out".as_ref(), export_path.as_os_str()];
    let export = q.run_os(r, "qledger export", ledger, &export_args, true, None)?;
    fs::remove_file(&export_path)?;
    Ok(Reads {
        verify_chain,
        verify_rules,
        state,
        near_end,
        mid,
        as_of_end,
        as_of_mid,
        full_replay,
        log,
        replay,
        export,
    })
}

/// Appends the chunks, one `qledger append` call each; the result sums their times and CPU and
/// keeps the largest peak RSS.
pub fn bulk_append(q: &Qledger, r: &mut Runner, ledger: &Path, chunks: &[PathBuf]) -> Res<Run> {
    let mut total = Run { secs: 0.0, rss_kib: None, cpu_secs: None, stdout: String::new() };
    for (i, chunk) in chunks.iter().enumerate() {
        let label = if chunks.len() == 1 {
            "qledger append (bulk)".to_string()
        } else {
            format!("qledger append (bulk, call {})", i + 1)
        };
        let run =
            q.run_os(r, &label, ledger, &["append".as_ref(), "--create".as_ref(), chunk.as_os_str()], true, None)?;
        total.secs += run.secs;
        total.rss_kib = total.rss_kib.max(run.rss_kib);
        total.cpu_secs = match (total.cpu_secs, run.cpu_secs) {
            (a, Some(b)) => Some(a.unwrap_or(0.0) + b),
            (a, None) => a,
        };
    }
    Ok(total)
}

/// The head after each append call: the prefixes a reader may see while the ledger is loaded.
fn committed_prefixes(q: &Qledger, r: &mut Runner, ledger: &Path, chunk_ends: &[u64]) -> Res<BTreeMap<u64, String>> {
    let mut prefixes = BTreeMap::from([(0, "0".repeat(64))]);
    for &records in chunk_ends {
        let from = (records - 1).to_string();
        let run = q.run(
            r,
            &format!("qledger log --from {from}"),
            ledger,
            &["log", "--from", &from, "--limit", "1", "--json"],
            false,
        )?;
        let v: Value = serde_json::from_str(run.stdout.trim())?;
        let hash = v.get("hash").and_then(Value::as_str).ok_or("log --json has no hash")?;
        prefixes.insert(records, hash.to_string());
    }
    Ok(prefixes)
}

/// Median wall times of `state --json` at the head of `ledger` and of `small`, run in turn, so
/// that a moment of load elsewhere on the machine falls on both alike (their ratio is a bar).
fn state_head_medians(q: &Qledger, r: &mut Runner, ledger: &Path, small: &Path) -> Res<(f64, f64)> {
    let (mut times, mut small_times) = (Vec::new(), Vec::new());
    for i in 0..REPEATS {
        times.push(q.run(r, &format!("qledger state (head) #{i}"), ledger, &["state", "--json"], false)?.secs);
        let which = format!("qledger state (head, 1k ledger) #{i}");
        small_times.push(q.run(r, &which, small, &["state", "--json"], false)?.secs);
    }
    Ok((median(times), median(small_times)))
}

/// Copies the first `lines` lines of `from` to `to`.
pub fn copy_first_lines(from: &Path, to: &Path, lines: u64) -> Res<()> {
    let mut reader = BufReader::new(File::open(from)?);
    let mut out = BufWriter::new(File::create(to)?);
    let mut line = Vec::new();
    for _ in 0..lines {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(())
}

/// The ledger of the first `SMALL_LEDGER_EVENTS` events of the input.
fn small_ledger(q: &Qledger, r: &mut Runner, dir: &Path, events: &Path) -> Res<PathBuf> {
    let ledger = dir.join("qledger-1k");
    if ledger.exists() {
        fs::remove_dir_all(&ledger)?;
    }
    let head = dir.join("first-1k.jsonl");
    copy_first_lines(events, &head, SMALL_LEDGER_EVENTS)?;
    q.run_os(
        r,
        "qledger append (1k ledger)",
        &ledger,
        &["append".as_ref(), "--create".as_ref(), head.as_os_str()],
        false,
        None,
    )?;
    fs::remove_file(&head)?;
    Ok(ledger)
}

/// Median wall times of a one-event append on the loaded ledger, on a fresh (init-only) ledger
/// and on the 1k-event ledger, interleaved.
fn one_event_appends(
    q: &Qledger,
    r: &mut Runner,
    dir: &Path,
    events: &Path,
    loaded: &Path,
    small: &Path,
) -> Res<(f64, f64, f64)> {
    let at = later_than_last_at(events)?;
    let empty = dir.join("qledger-empty");
    let (mut loaded_times, mut empty_times, mut small_times) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..REPEATS {
        let one = dir.join(format!("one-{i}.jsonl"));
        let line = serde_json::json!({
            "type": "party_registered", "party": format!("bench-party-{}-{i}", std::process::id()),
            "name": format!("Bench Party {i}"), "country": "CN", "state_backed": false, "sector": "bench",
            "at": at, "actor": "bench",
        });
        fs::write(&one, format!("{line}\n"))?;
        let append: [&OsStr; 2] = ["append".as_ref(), one.as_os_str()];
        loaded_times.push(q.run_os(r, &format!("qledger append 1 (loaded) #{i}"), loaded, &append, false, None)?.secs);
        small_times.push(q.run_os(r, &format!("qledger append 1 (1k) #{i}"), small, &append, false, None)?.secs);
        if empty.exists() {
            fs::remove_dir_all(&empty)?;
        }
        q.run(r, &format!("qledger init (empty) #{i}"), &empty, &["init"], false)?;
        empty_times.push(q.run_os(r, &format!("qledger append 1 (empty) #{i}"), &empty, &append, false, None)?.secs);
        fs::remove_file(&one)?;
    }
    fs::remove_dir_all(&empty)?;
    Ok((median(loaded_times), median(empty_times), median(small_times)))
}

/// `qledger state --json` totals.
fn totals_of_state(json: &str) -> Res<BTreeMap<String, u64>> {
    let v: Value = serde_json::from_str(json)?;
    let t = v.get("totals").and_then(Value::as_object).ok_or("state --json has no \"totals\" object")?;
    t.iter().map(|(k, v)| Ok((k.clone(), v.as_u64().ok_or_else(|| format!("totals.{k} is not a u64: {v}"))?))).collect()
}

/// Fails unless our totals equal the checker's. Our `ordered` is net of cancellations (what
/// counts against the quota); the checker prints ordered (gross) and returned separately.
pub fn compare_totals(ours: &BTreeMap<String, u64>, checker: &BTreeMap<String, u64>) -> Res<()> {
    let want = |k: &str| checker.get(k).copied().ok_or_else(|| format!("the checker printed no {k}="));
    let pairs = [
        ("licensed", want("licensed")?),
        ("ordered", want("ordered")?.checked_sub(want("returned")?).ok_or("checker: returned > ordered")?),
        ("shipped", want("shipped")?),
        // A revoked license has nothing remaining in qledger's totals (issue 11); the script
        // counts what it had left.
        ("remaining", want("remaining")?.checked_sub(want("revoked_unused")?).ok_or("checker: revoked > remaining")?),
    ];
    let mismatches: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| ours.get(*k) != Some(v))
        .map(|(k, v)| format!("totals.{k}: qledger {:?}, checker {v}", ours.get(*k)))
        .collect();
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(format!(
        "TOTALS MISMATCH between `qledger state --json` and the checker:\n  {}\n  checker: {checker:?}",
        mismatches.join("\n  ")
    )
    .into())
}

/// Where the input is and how it is cut into append calls.
pub struct Input<'a> {
    pub events: &'a Path,
    pub count: u64,
    pub chunks: &'a [PathBuf],
    pub chunk_ends: &'a [u64],
    pub checker_totals: &'a BTreeMap<String, u64>,
}

/// Loads the input into a fresh ledger and measures every command on it.
pub fn measure(q: &Qledger, r: &mut Runner, dir: &Path, input: &Input) -> Res<Ours> {
    let ledger = dir.join("qledger");
    if ledger.exists() {
        fs::remove_dir_all(&ledger)?;
    }
    let append = bulk_append(q, r, &ledger, input.chunks)
        .map_err(|e| format!("{e}\n(if one append call takes fewer events, try --append-chunk K)"))?;
    let (disk_len, disk_alloc) = disk_bytes(&ledger)?;
    let head = q.run(r, "qledger head", &ledger, &["head", "--json"], false)?;
    let (records, _) = Qledger::head_of(&head.stdout)?;
    if records != input.count {
        return Err(format!("the ledger holds {records} records after appending {} events", input.count).into());
    }
    let committed = committed_prefixes(q, r, &ledger, input.chunk_ends)?;
    let reads = read_commands(q, r, &ledger, dir, input.count)?;
    let totals = totals_of_state(&reads.state.stdout)?;
    compare_totals(&totals, input.checker_totals)?;
    eprintln!("  totals match the checker: {totals:?}");
    let small = small_ledger(q, r, dir, input.events)?;
    let (state_head_secs, state_head_small_secs) = state_head_medians(q, r, &ledger, &small)?;
    let (one_loaded_secs, one_empty_secs, one_small_secs) =
        one_event_appends(q, r, dir, input.events, &ledger, &small)?;
    // The ledgers still verify after the one-event appends.
    q.run(r, "qledger verify (after 1-event appends)", &ledger, &["verify"], false)?;
    q.run(r, "qledger verify (1k ledger)", &small, &["verify"], false)?;
    fs::remove_dir_all(&small)?;
    Ok(Ours {
        append,
        append_calls: input.chunks.len(),
        disk_len,
        disk_alloc,
        reads,
        totals,
        state_head_secs,
        state_head_small_secs,
        one_loaded_secs,
        one_empty_secs,
        one_small_secs,
        committed,
    })
}
