//! The benchmark of issue 3: quotaledger against its two peers, on one generated input, in one run.
//!
//! ```text
//! cargo run --release --example bench -- --events 1000000 [--keep DIR] [--skip-peers] [--seed S]
//!     [--append-chunk K]
//! ```
//!
//! `--append-chunk K` loads the file in calls of K events each (for N above the number of events
//! one `append` call accepts); by default the whole file is one `qledger append` call.
//!
//! 1. generates N events with `../shared/bench/gen_events.py N` and checks them with `--check`;
//! 2. builds the release `qledger` and the two peers (`sqlite-chain`, `raw-sled`, each with its
//!    own lock file, into `target/peers`);
//! 3. runs every command as a child process, timing its wall clock and reading its peak RSS
//!    (`/usr/bin/time -f %M` if present, else by polling `VmHWM` in `/proc/PID/status`);
//! 4. checks that `qledger state --json` totals equal the checker's totals (exits 1 if not);
//! 5. prints one Markdown table: each figure for quotaledger and the peers, the ratios, the target
//!    from issue 3 and PASS/FAIL.
//!
//! Progress goes to stderr, the table to stdout. Ratios are quotaledger ÷ peer. Peers print their
//! own `events_per_s=` (timed inside the process, open included); quotaledger's rates are the
//! wall clock of the whole `qledger` process (startup, open and durable close included), so they
//! are slightly pessimistic for quotaledger. Memory targets are stated for 10M events; at smaller
//! N the PASS/FAIL shows where the run stands against the same bound.
//!
//! Working files go to `--keep DIR` (kept) or to a temporary directory (removed at the end).

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const TIME_BIN: &str = "/usr/bin/time";
/// Runs of each millisecond-scale measurement; the median is reported.
const REPEATS: usize = 5;
/// Issue 3 bounds.
const RSS_MAX_MB: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;
const STATE_HEAD_MAX_MS: f64 = 50.0;

struct Opts {
    events: u64,
    seed: Option<u64>,
    keep: Option<PathBuf>,
    skip_peers: bool,
    /// Events per `qledger append` call for the bulk load (default: the whole file in one call).
    append_chunk: Option<u64>,
}

fn usage() -> String {
    "usage: cargo run --release --example bench -- --events N [--keep DIR] [--skip-peers] [--seed S] \
     [--append-chunk K]"
        .to_string()
}

fn parse_opts() -> Res<Opts> {
    let mut o = Opts { events: 100_000, seed: None, keep: None, skip_peers: false, append_chunk: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{}", usage()));
        match a.as_str() {
            "--events" => o.events = value("--events")?.replace('_', "").parse()?,
            "--seed" => o.seed = Some(value("--seed")?.parse()?),
            "--keep" => o.keep = Some(PathBuf::from(value("--keep")?)),
            "--skip-peers" => o.skip_peers = true,
            "--append-chunk" => o.append_chunk = Some(value("--append-chunk")?.replace('_', "").parse()?),
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{}", usage()).into()),
        }
    }
    if o.events < 10 {
        return Err("--events must be at least 10".into());
    }
    Ok(o)
}

/// One finished child process.
struct Run {
    secs: f64,
    rss_kib: Option<u64>,
    /// User + system CPU seconds (with `/usr/bin/time` only).
    cpu_secs: Option<f64>,
    stdout: String,
}

impl Run {
    fn rss_mib(&self) -> Option<f64> {
        self.rss_kib.map(|k| k as f64 / 1024.0)
    }

    /// CPU seconds per wall second: how many cores the process kept busy.
    fn cores(&self) -> Option<f64> {
        self.cpu_secs.map(|c| c / self.secs)
    }
}

/// Runs `prog args`, stdout to `out` (or a log file that is read back), stderr to a log file.
/// Fails loudly, with the child's stderr, when the child fails.
struct Runner {
    logs: PathBuf,
    use_time_bin: bool,
    counter: usize,
}

impl Runner {
    fn run(&mut self, label: &str, prog: &Path, args: &[&OsStr], rss: bool, out: Option<&Path>) -> Res<Run> {
        self.counter += 1;
        let stem = format!("{:02}-{}", self.counter, label.replace([' ', '/'], "_"));
        let out_path = out.map(Path::to_path_buf).unwrap_or_else(|| self.logs.join(format!("{stem}.out")));
        let err_path = self.logs.join(format!("{stem}.err"));
        let time_path = self.logs.join(format!("{stem}.time"));
        let mut cmd;
        if rss && self.use_time_bin {
            cmd = Command::new(TIME_BIN);
            cmd.arg("-f").arg("rss_kib=%M user=%U sys=%S").arg("-o").arg(&time_path).arg(prog).args(args);
        } else {
            cmd = Command::new(prog);
            cmd.args(args);
        }
        cmd.stdin(Stdio::null()).stdout(File::create(&out_path)?).stderr(File::create(&err_path)?);
        let t0 = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("{label}: cannot start {}: {e}", prog.display()))?;
        let mut polled_kib = None;
        let status = if rss && !self.use_time_bin {
            let status_file = format!("/proc/{}/status", child.id());
            loop {
                if let Some(st) = child.try_wait()? {
                    break st;
                }
                if let Some(k) = fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm_kib) {
                    polled_kib = Some(polled_kib.map_or(k, |p: u64| p.max(k)));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            child.wait()?
        };
        let secs = t0.elapsed().as_secs_f64();
        if !status.success() {
            let err = fs::read_to_string(&err_path).unwrap_or_default();
            let shown: String = args.iter().map(|a| format!(" {}", a.to_string_lossy())).collect();
            return Err(format!("{label} failed ({status}): {}{shown}\n{err}", prog.display()).into());
        }
        let (rss_kib, cpu_secs) = if !rss {
            (None, None)
        } else if self.use_time_bin {
            // /usr/bin/time writes "Command exited with non-zero status" lines before ours.
            let t = fs::read_to_string(&time_path)?;
            let kv = kv_line(&t, "rss_kib=").map_err(|e| format!("{label}: {e}"))?;
            (Some(num(&kv, "rss_kib")? as u64), Some(num(&kv, "user")? + num(&kv, "sys")?))
        } else {
            (polled_kib, None)
        };
        let stdout = if out.is_some() { String::new() } else { fs::read_to_string(&out_path)? };
        let rss_note = rss_kib.map(|k| format!(", peak RSS {:.1} MiB", k as f64 / 1024.0)).unwrap_or_default();
        eprintln!("  {label}: {secs:.3} s{rss_note}");
        Ok(Run { secs, rss_kib, cpu_secs, stdout })
    }
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `key=value` pairs of the first line starting with `prefix`.
fn kv_line(text: &str, prefix: &str) -> Res<BTreeMap<String, String>> {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .ok_or_else(|| format!("no line starting with {prefix:?} in output:\n{text}"))?;
    Ok(line.split_whitespace().filter_map(|t| t.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn num(map: &BTreeMap<String, String>, key: &str) -> Res<f64> {
    let v = map.get(key).ok_or_else(|| format!("no {key}= in {map:?}"))?;
    Ok(v.parse()?)
}

fn peer_rate(run: &Run, op: &str) -> Res<f64> {
    num(&kv_line(&run.stdout, &format!("{op}:"))?, "events_per_s")
}

/// Sum of file sizes (apparent) and of allocated bytes under `dir`.
fn disk_bytes(dir: &Path) -> Res<(u64, u64)> {
    let (mut len, mut alloc) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let md = entry.metadata()?;
            if md.is_dir() {
                stack.push(entry.path());
            } else {
                len += md.len();
                alloc += md.blocks() * 512;
            }
        }
    }
    Ok((len, alloc))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

fn build(label: &str, args: &[&OsStr]) -> Res<()> {
    eprintln!("building {label} ...");
    let t0 = Instant::now();
    let status = Command::new(cargo()).args(args).stdin(Stdio::null()).status()?;
    if !status.success() {
        return Err(format!("building {label} failed ({status})").into());
    }
    eprintln!("  built {label} in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// The `at` of the file's last line, moved half a second later (so an event stamped with it is
/// later than everything in the file).
fn later_than_last_at(file: &Path) -> Res<String> {
    let mut f = File::open(file)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = String::new();
    f.read_to_string(&mut tail)?;
    let last = tail.lines().rev().find(|l| !l.trim().is_empty()).ok_or("empty events file")?;
    let v: Value = serde_json::from_str(last)?;
    let at = v.get("at").and_then(Value::as_str).ok_or("the last event has no \"at\"")?;
    match at.strip_suffix('Z') {
        Some(base) if !base.contains('.') => Ok(format!("{base}.5Z")),
        _ => Ok(at.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting

fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn ms(secs: f64) -> String {
    let m = secs * 1e3;
    if m >= 100.0 {
        format!("{m:.0} ms")
    } else {
        format!("{m:.1} ms")
    }
}

fn mib(v: f64) -> String {
    if v >= 1024.0 {
        format!("{:.2} GiB", v / 1024.0)
    } else {
        format!("{v:.1} MiB")
    }
}

fn ratio(ours: Option<f64>, peer: Option<f64>) -> String {
    match (ours, peer) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}

fn verdict(ok: Option<bool>) -> String {
    match ok {
        Some(true) => "PASS".to_string(),
        Some(false) => "**FAIL**".to_string(),
        None => "n/a".to_string(),
    }
}

#[derive(Default)]
struct Row {
    figure: String,
    ours: String,
    sqlite: String,
    raw: String,
    vs_sqlite: String,
    vs_raw: String,
    target: String,
    result: String,
}

fn print_table(rows: &[Row]) {
    let header = ["figure", "quotaledger", "sqlite-chain", "raw-sled", "÷ sqlite", "÷ raw-sled", "target", "result"];
    let cells: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.as_str(),
                r.ours.as_str(),
                r.sqlite.as_str(),
                r.raw.as_str(),
                r.vs_sqlite.as_str(),
                r.vs_raw.as_str(),
                r.target.as_str(),
                r.result.as_str(),
            ]
        })
        .collect();
    let mut w = header.map(|h| h.chars().count());
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let line = |c: &[&str; 8]| {
        let mut s = String::from("|");
        for (i, v) in c.iter().enumerate() {
            let pad = w[i] - v.chars().count();
            if i == 0 || i >= 6 {
                s.push_str(&format!(" {v}{} |", " ".repeat(pad)));
            } else {
                s.push_str(&format!(" {}{v} |", " ".repeat(pad)));
            }
        }
        s
    };
    println!("{}", line(&header));
    let mut sep = String::from("|");
    for (i, n) in w.iter().enumerate() {
        if i == 0 || i >= 6 {
            sep.push_str(&format!("{}|", "-".repeat(n + 2)));
        } else {
            sep.push_str(&format!("{}:|", "-".repeat(n + 1)));
        }
    }
    println!("{sep}");
    for c in &cells {
        println!("{}", line(c));
    }
}

// ---------------------------------------------------------------------------------------------
// The run

#[derive(Default)]
struct Peers {
    sq_load: Option<f64>,
    sq_verify: Option<f64>,
    sq_replay: Option<f64>,
    sq_load_rss: Option<f64>,
    sq_verify_rss: Option<f64>,
    sq_replay_rss: Option<f64>,
    sq_disk: Option<f64>,
    sq_load_cores: Option<f64>,
    sq_verify_cores: Option<f64>,
    sq_totals: Option<BTreeMap<String, String>>,
    raw_load_cores: Option<f64>,
    raw_scan_cores: Option<f64>,
    raw_load: Option<f64>,
    raw_insert: Option<f64>,
    raw_scan: Option<f64>,
    raw_load_rss: Option<f64>,
    raw_insert_rss: Option<f64>,
    raw_scan_rss: Option<f64>,
    raw_disk: Option<f64>,
    raw_insert_disk: Option<f64>,
}

fn run_peers(r: &mut Runner, shared: &Path, target_peers: &Path, dir: &Path, events: &Path, n: f64) -> Res<Peers> {
    for peer in ["sqlite-chain", "raw-sled"] {
        let manifest = shared.join(peer).join("Cargo.toml");
        build(
            peer,
            &[
                "build".as_ref(),
                "--release".as_ref(),
                "--locked".as_ref(),
                "--manifest-path".as_ref(),
                manifest.as_os_str(),
                "--target-dir".as_ref(),
                target_peers.as_os_str(),
            ],
        )?;
    }
    let sqlite = target_peers.join("release/sqlite-chain");
    let raw = target_peers.join("release/raw-sled");
    let mut p = Peers::default();

    eprintln!("sqlite-chain:");
    let sq_dir = dir.join("sqlite-chain");
    fresh_dir(&sq_dir)?;
    let db = sq_dir.join("chain.db");
    let ev = events.as_os_str();
    let run = r.run("sqlite-chain load", &sqlite, &["load".as_ref(), db.as_os_str(), ev], true, None)?;
    p.sq_load = Some(peer_rate(&run, "load")?);
    p.sq_load_rss = run.rss_mib();
    p.sq_load_cores = run.cores();
    p.sq_disk = Some(disk_bytes(&sq_dir)?.0 as f64 / n);
    let run = r.run("sqlite-chain verify", &sqlite, &["verify".as_ref(), db.as_os_str()], true, None)?;
    p.sq_verify = Some(peer_rate(&run, "verify")?);
    p.sq_verify_rss = run.rss_mib();
    p.sq_verify_cores = run.cores();
    let run = r.run("sqlite-chain replay", &sqlite, &["replay".as_ref(), db.as_os_str()], true, None)?;
    p.sq_replay = Some(peer_rate(&run, "replay")?);
    p.sq_replay_rss = run.rss_mib();
    p.sq_totals = kv_line(&run.stdout, "totals:").ok();

    eprintln!("raw-sled:");
    let batch_dir = dir.join("raw-sled-batch");
    let insert_dir = dir.join("raw-sled-insert");
    fresh_dir(&batch_dir)?;
    fresh_dir(&insert_dir)?;
    let run = r.run("raw-sled load", &raw, &["load".as_ref(), batch_dir.as_os_str(), ev], true, None)?;
    p.raw_load = Some(peer_rate(&run, "load")?);
    p.raw_load_rss = run.rss_mib();
    p.raw_load_cores = run.cores();
    p.raw_disk = Some(disk_bytes(&batch_dir)?.0 as f64 / n);
    let run = r.run("raw-sled load-insert", &raw, &["load-insert".as_ref(), insert_dir.as_os_str(), ev], true, None)?;
    p.raw_insert = Some(peer_rate(&run, "load-insert")?);
    p.raw_insert_rss = run.rss_mib();
    p.raw_insert_disk = Some(disk_bytes(&insert_dir)?.0 as f64 / n);
    let run = r.run("raw-sled scan", &raw, &["scan".as_ref(), batch_dir.as_os_str()], true, None)?;
    p.raw_scan = Some(peer_rate(&run, "scan")?);
    p.raw_scan_rss = run.rss_mib();
    p.raw_scan_cores = run.cores();
    // The scanned store is not needed any more; the disk figures are taken.
    let _ = fs::remove_dir_all(&insert_dir);
    Ok(p)
}

/// Splits a JSONL file into files of `k` lines each, in `out_dir`.
fn split_file(file: &Path, k: u64, out_dir: &Path) -> Res<Vec<PathBuf>> {
    use std::io::{BufRead, BufReader, BufWriter, Write};
    fresh_dir(out_dir)?;
    let reader = BufReader::with_capacity(1 << 20, File::open(file)?);
    let mut parts = Vec::new();
    let mut w: Option<BufWriter<File>> = None;
    let mut in_part = 0u64;
    for line in reader.split(b'\n') {
        let line = line?;
        if w.is_none() || in_part == k {
            if let Some(mut old) = w.take() {
                old.flush()?;
            }
            let p = out_dir.join(format!("part-{:04}.jsonl", parts.len()));
            w = Some(BufWriter::with_capacity(1 << 20, File::create(&p)?));
            parts.push(p);
            in_part = 0;
        }
        let out = w.as_mut().ok_or("no part open")?;
        out.write_all(&line)?;
        out.write_all(b"\n")?;
        in_part += 1;
    }
    if let Some(mut old) = w.take() {
        old.flush()?;
    }
    Ok(parts)
}

fn fresh_dir(d: &Path) -> Res<()> {
    if d.exists() {
        fs::remove_dir_all(d)?;
    }
    fs::create_dir_all(d)?;
    Ok(())
}

fn totals_of_state(v: &Value) -> Res<BTreeMap<String, u64>> {
    let t = v.get("totals").and_then(Value::as_object).ok_or("state --json has no \"totals\" object")?;
    t.iter().map(|(k, v)| Ok((k.clone(), v.as_u64().ok_or_else(|| format!("totals.{k} is not a u64: {v}"))?))).collect()
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("\nbench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Res<ExitCode> {
    let opts = parse_opts()?;
    let n_events = opts.events;
    let n = n_events as f64;
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest.join("../shared/bench");
    let gen = shared.join("gen_events.py");
    if !gen.exists() {
        return Err(format!("{} not found", gen.display()).into());
    }
    let dir = match &opts.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("qledger-bench-{}", std::process::id())),
    };
    fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let result = bench(&opts, n_events, n, &manifest, &shared, &gen, &dir);
    if opts.keep.is_none() {
        let _ = fs::remove_dir_all(&dir);
    } else {
        eprintln!("working files kept in {}", dir.display());
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn bench(opts: &Opts, n_events: u64, n: f64, manifest: &Path, shared: &Path, gen: &Path, dir: &Path) -> Res<ExitCode> {
    let logs = dir.join("logs");
    fresh_dir(&logs)?;
    let use_time_bin = Path::new(TIME_BIN).exists()
        && Command::new(TIME_BIN)
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    let mut r = Runner { logs, use_time_bin, counter: 0 };
    eprintln!(
        "bench: {n_events} events in {}; peak RSS via {}",
        dir.display(),
        if use_time_bin { "/usr/bin/time" } else { "polling VmHWM" }
    );

    // 1. Input, generated and checked.
    let events = dir.join("events.jsonl");
    eprintln!("generating {n_events} events ...");
    let mut gen_args: Vec<OsString> = vec![gen.into(), n_events.to_string().into()];
    if let Some(s) = opts.seed {
        gen_args.push("--seed".into());
        gen_args.push(s.to_string().into());
    }
    let gen_refs: Vec<&OsStr> = gen_args.iter().map(OsString::as_os_str).collect();
    r.run("gen_events.py", Path::new("python3"), &gen_refs, false, Some(&events))?;
    let check = r.run(
        "gen_events.py --check",
        Path::new("python3"),
        &[gen.as_os_str(), "--check".as_ref(), events.as_os_str()],
        false,
        None,
    )?;
    let expected: BTreeMap<String, u64> =
        kv_line(&check.stdout, "totals:")?.into_iter().map(|(k, v)| Ok((k, v.parse::<u64>()?))).collect::<Res<_>>()?;
    let ok_line = check.stdout.lines().next().unwrap_or("").to_string();
    eprintln!("  {ok_line}");
    let input_bytes = fs::metadata(&events)?.len();

    // 2. Binaries.
    let manifest_toml = manifest.join("Cargo.toml");
    build(
        "qledger",
        &[
            "build".as_ref(),
            "--release".as_ref(),
            "--bin".as_ref(),
            "qledger".as_ref(),
            "--manifest-path".as_ref(),
            manifest_toml.as_os_str(),
        ],
    )?;
    // This example runs from <target>/release/examples/bench; qledger sits in <target>/release.
    let exe = std::env::current_exe()?;
    let qledger = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("qledger"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| manifest.join("target/release/qledger"));
    if !qledger.exists() {
        return Err(format!("no qledger binary at {}", qledger.display()).into());
    }

    // 3. quotaledger.
    eprintln!("quotaledger ({}):", qledger.display());
    let ledger = dir.join("qledger");
    if ledger.exists() {
        fs::remove_dir_all(&ledger)?;
    }
    let l_flag: [&OsStr; 2] = ["--ledger".as_ref(), ledger.as_os_str()];
    let q = |rest: &[&'static str]| -> Vec<&OsStr> {
        let mut v: Vec<&OsStr> = l_flag.to_vec();
        v.extend(rest.iter().map(|s| OsStr::new(*s)));
        v
    };
    let chunks = match opts.append_chunk {
        Some(k) if k > 0 && k < n_events => split_file(&events, k, &dir.join("chunks"))?,
        _ => vec![events.clone()],
    };
    let mut append = Run { secs: 0.0, rss_kib: None, cpu_secs: None, stdout: String::new() };
    for (i, chunk) in chunks.iter().enumerate() {
        let mut append_args = l_flag.to_vec();
        append_args.extend(["append".as_ref(), chunk.as_os_str()]);
        let label = if chunks.len() == 1 {
            "qledger append (bulk)".to_string()
        } else {
            format!("qledger append (bulk, call {})", i + 1)
        };
        let run = r
            .run(&label, &qledger, &append_args, true, None)
            .map_err(|e| format!("{e}\n(if one append call takes a bounded number of events, try --append-chunk K)"))?;
        append.secs += run.secs;
        append.rss_kib = append.rss_kib.max(run.rss_kib);
        append.cpu_secs = match (append.cpu_secs, run.cpu_secs) {
            (a, Some(b)) => Some(a.unwrap_or(0.0) + b),
            (a, None) => a,
        };
    }
    let audit = audit_rows(&mut r, &qledger, dir, &chunks, n_events)?;
    if chunks.len() > 1 {
        let _ = fs::remove_dir_all(dir.join("chunks"));
    }
    let (disk_len, disk_alloc) = disk_bytes(&ledger)?;

    let head_run = r.run("qledger head", &qledger, &q(&["head", "--json"]), false, None)?;
    let head: Value = serde_json::from_str(head_run.stdout.trim())?;
    let records = head.get("records").and_then(Value::as_u64).ok_or("head --json has no records")?;
    if records != n_events {
        return Err(format!("the ledger holds {records} records after appending {n_events} events").into());
    }

    // `verify --chain-only` does what the peers' verify does (hashes and links, plus our head
    // and snapshots); plain `verify` also re-checks every record against the rules.
    let verify = r.run("qledger verify --chain-only", &qledger, &q(&["verify", "--chain-only"]), true, None)?;
    let verify_rules = r.run("qledger verify (rules)", &qledger, &q(&["verify"]), true, None)?;

    // State at the head: totals checked against the checker, then timed.
    let state_run = r.run("qledger state --json", &qledger, &q(&["state", "--json"]), true, None)?;
    let state: Value = serde_json::from_str(&state_run.stdout)?;
    let ours = totals_of_state(&state)?;
    // Our `ordered` is net of cancellations (what counts against the quota); the checker prints
    // ordered (gross) and returned separately.
    let want = |k: &str| expected.get(k).copied().ok_or_else(|| format!("checker printed no {k}="));
    let pairs = [
        ("licensed", want("licensed")?),
        ("ordered", want("ordered")?.checked_sub(want("returned")?).ok_or("checker: returned > ordered")?),
        ("shipped", want("shipped")?),
        ("remaining", want("remaining")?),
    ];
    let mut mismatches = Vec::new();
    for (k, v) in pairs {
        match ours.get(k) {
            Some(got) if *got == v => {}
            got => mismatches.push(format!("totals.{k}: qledger {got:?}, checker {v}")),
        }
    }
    if !mismatches.is_empty() {
        return Err(format!(
            "TOTALS MISMATCH between `qledger state --json` and `gen_events.py --check`:\n  {}\n  checker: {}",
            mismatches.join("\n  "),
            kv_line(&check.stdout, "totals:").map(|m| format!("{m:?}")).unwrap_or_default()
        )
        .into());
    }
    eprintln!("  totals match the checker: {ours:?}");
    let mut head_times = Vec::new();
    for i in 0..REPEATS {
        head_times
            .push(r.run(&format!("qledger state (head) #{i}"), &qledger, &q(&["state", "--json"]), false, None)?.secs);
    }
    let state_head = median(head_times);

    let near_end = (n_events - 2).to_string();
    let mid = (n_events / 2).to_string();
    let as_of_args = |seq: &str| -> Vec<OsString> {
        let mut v: Vec<OsString> = l_flag.iter().map(|s| s.to_os_string()).collect();
        v.extend(["state", "--as-of", seq, "--json"].map(OsString::from));
        v
    };
    let near_end_args = as_of_args(&near_end);
    let mid_args = as_of_args(&mid);
    let near_end_args: Vec<&OsStr> = near_end_args.iter().map(OsString::as_os_str).collect();
    let mid_args: Vec<&OsStr> = mid_args.iter().map(OsString::as_os_str).collect();
    let as_of_end = r.run("qledger state --as-of N-2", &qledger, &near_end_args, true, None)?;
    let as_of_mid = r.run("qledger state --as-of N/2", &qledger, &mid_args, true, None)?;

    let null = Path::new("/dev/null");
    let replay =
        r.run("qledger state --full-replay", &qledger, &q(&["state", "--full-replay", "--json"]), true, Some(null))?;
    let export_path = dir.join("export.jsonl");
    let mut export_args = l_flag.to_vec();
    export_args.extend(["export".as_ref(), "--out".as_ref(), export_path.as_os_str()]);
    let export = r.run("qledger export", &qledger, &export_args, true, None)?;
    let _ = fs::remove_file(&export_path);

    // One-event appends: on the loaded ledger and on a fresh (init-only) ledger, interleaved.
    let at = later_than_last_at(&events)?;
    let empty = dir.join("qledger-empty");
    let (mut loaded_times, mut empty_times) = (Vec::new(), Vec::new());
    for i in 0..REPEATS {
        let one = dir.join(format!("one-{i}.jsonl"));
        let line = serde_json::json!({
            "type": "party_registered", "party": format!("bench-party-{}-{i}", std::process::id()),
            "name": "Bench Party", "country": "CN", "state_backed": false, "sector": "bench",
            "at": at, "actor": "bench",
        });
        fs::write(&one, format!("{line}\n"))?;
        let mut args = l_flag.to_vec();
        args.extend(["append".as_ref(), one.as_os_str()]);
        loaded_times.push(r.run(&format!("qledger append 1 (loaded) #{i}"), &qledger, &args, false, None)?.secs);
        if empty.exists() {
            fs::remove_dir_all(&empty)?;
        }
        let e_flag: [&OsStr; 2] = ["--ledger".as_ref(), empty.as_os_str()];
        let mut init = e_flag.to_vec();
        init.push("init".as_ref());
        r.run(&format!("qledger init (empty) #{i}"), &qledger, &init, false, None)?;
        let mut args = e_flag.to_vec();
        args.extend(["append".as_ref(), one.as_os_str()]);
        empty_times.push(r.run(&format!("qledger append 1 (empty) #{i}"), &qledger, &args, false, None)?.secs);
    }
    let _ = fs::remove_dir_all(&empty);
    let one_loaded = median(loaded_times);
    let one_empty = median(empty_times);
    // The ledger still verifies after the one-event appends.
    r.run("qledger verify (after 1-event appends)", &qledger, &q(&["verify"]), false, None)?;

    // 4. Peers.
    let peers = if opts.skip_peers {
        Peers::default()
    } else {
        run_peers(&mut r, shared, &manifest.join("target/peers"), dir, &events, n)?
    };

    // 5. The table.
    let mut rows: Vec<Row> = Vec::new();
    let ql_append = n / append.secs;
    let raw_best_load = match (peers.raw_load, peers.raw_insert) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let raw_best_label = match (peers.raw_load, peers.raw_insert) {
        (Some(a), Some(b)) if b > a => format!("{} (insert; batch {})", rate(b), rate(a)),
        (Some(a), Some(b)) => format!("{} (batch; insert {})", rate(a), rate(b)),
        _ => "–".into(),
    };
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map(f).unwrap_or_else(|| "–".into());
    rows.push(Row {
        figure: if chunks.len() == 1 {
            "bulk append, events/s (one append call)".to_string()
        } else {
            format!("bulk append, events/s ({} append calls)", chunks.len())
        },
        ours: rate(ql_append),
        sqlite: opt(peers.sq_load, rate),
        raw: raw_best_label,
        vs_sqlite: ratio(Some(ql_append), peers.sq_load),
        vs_raw: ratio(Some(ql_append), raw_best_load),
        target: "≥ 2× sqlite and ≥ 5× raw-sled (best of batch/insert)".into(),
        result: verdict(match (peers.sq_load, raw_best_load) {
            (Some(s), Some(w)) => Some(ql_append >= 2.0 * s && ql_append >= 5.0 * w),
            _ => None,
        }),
    });
    let ql_verify = n / verify.secs;
    rows.push(Row {
        figure: "verify --chain-only, events/s (raw-sled: scan + BLAKE3)".into(),
        ours: rate(ql_verify),
        sqlite: opt(peers.sq_verify, rate),
        raw: opt(peers.raw_scan, rate),
        vs_sqlite: ratio(Some(ql_verify), peers.sq_verify),
        vs_raw: ratio(Some(ql_verify), peers.raw_scan),
        target: "≥ 2× sqlite".into(),
        result: verdict(peers.sq_verify.map(|s| ql_verify >= 2.0 * s)),
    });
    rows.push(Row {
        figure: "verify with rules and index rebuild (default), events/s".into(),
        ours: rate(n / verify_rules.secs),
        ..info_row()
    });
    let ql_replay = n / replay.secs;
    rows.push(Row {
        figure: "state by full replay from genesis, events/s (`state --full-replay`)".into(),
        ours: rate(ql_replay),
        sqlite: opt(peers.sq_replay, rate),
        raw: "–".into(),
        vs_sqlite: ratio(Some(ql_replay), peers.sq_replay),
        vs_raw: "–".into(),
        target: "state by full replay ≥ 5× sqlite".into(),
        result: verdict(peers.sq_replay.map(|s| ql_replay >= 5.0 * s)),
    });
    let ql_export = n / export.secs;
    rows.push(Row { figure: "export --out FILE, events/s".into(), ours: rate(ql_export), ..info_row() });
    let cores = |v: Option<f64>| v.map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into());
    rows.push(Row {
        figure: "bulk append: cores busy (CPU s ÷ wall s)".into(),
        ours: cores(append.cores()),
        sqlite: cores(peers.sq_load_cores),
        raw: cores(peers.raw_load_cores),
        ..info_row()
    });
    rows.push(Row {
        figure: "verify: cores busy (CPU s ÷ wall s)".into(),
        ours: cores(verify.cores()),
        sqlite: cores(peers.sq_verify_cores),
        raw: cores(peers.raw_scan_cores),
        ..info_row()
    });
    rows.push(Row {
        figure: format!("state at the head, median of {REPEATS} (whole process)"),
        ours: ms(state_head),
        target: format!("< {STATE_HEAD_MAX_MS:.0} ms (at 10M)"),
        result: verdict(Some(state_head * 1e3 < STATE_HEAD_MAX_MS)),
        ..info_row()
    });
    rows.push(Row {
        figure: format!("state --as-of seq {near_end} (from nearest snapshot)"),
        ours: ms(as_of_end.secs),
        ..info_row()
    });
    rows.push(Row {
        figure: format!("state --as-of seq {mid} (from nearest snapshot)"),
        ours: ms(as_of_mid.secs),
        ..info_row()
    });
    rows.push(Row {
        figure: format!("append 1 event, loaded ledger ({n_events}), median of {REPEATS}"),
        ours: ms(one_loaded),
        ..info_row()
    });
    rows.push(Row {
        figure: format!("append 1 event, empty ledger, median of {REPEATS}"),
        ours: ms(one_empty),
        ..info_row()
    });
    rows.push(Row {
        figure: "append 1 event: loaded ÷ empty".into(),
        ours: format!("{:.2}×", one_loaded / one_empty),
        target: "≤ 1.5×".into(),
        result: verdict(Some(one_loaded / one_empty <= 1.5)),
        ..info_row()
    });
    let rss_row = |figure: &str, ours: Option<f64>, sqlite: Option<f64>, raw: Option<f64>| Row {
        figure: figure.into(),
        ours: opt(ours, mib),
        sqlite: opt(sqlite, mib),
        raw: opt(raw, mib),
        vs_sqlite: ratio(ours, sqlite),
        vs_raw: ratio(ours, raw),
        target: format!("< {RSS_MAX_MB:.0} MB = {:.1} MiB (at 10M)", RSS_MAX_MB * 1e6 / MIB),
        // The issue says MB; read as decimal megabytes, the stricter reading.
        result: verdict(ours.map(|m| m * MIB < RSS_MAX_MB * 1e6)),
    };
    rows.push(rss_row(
        "peak RSS, bulk append (raw-sled: batch load)",
        append.rss_mib(),
        peers.sq_load_rss,
        peers.raw_load_rss,
    ));
    rows.push(rss_row(
        "peak RSS, verify --chain-only (raw-sled: scan)",
        verify.rss_mib(),
        peers.sq_verify_rss,
        peers.raw_scan_rss,
    ));
    rows.push(rss_row("peak RSS, verify with rules (default)", verify_rules.rss_mib(), None, None));
    rows.push(rss_row("peak RSS, state at the head", state_run.rss_mib(), None, None));
    rows.push(rss_row(&format!("peak RSS, state --as-of seq {mid}"), as_of_mid.rss_mib(), None, None));
    rows.push(rss_row("peak RSS, state --full-replay (sqlite: replay)", replay.rss_mib(), peers.sq_replay_rss, None));
    rows.push(rss_row("peak RSS, export", export.rss_mib(), None, None));
    if peers.raw_insert_rss.is_some() {
        rows.push(Row {
            figure: "peak RSS, raw-sled load-insert".into(),
            raw: opt(peers.raw_insert_rss, mib),
            ..info_row()
        });
    }
    let ql_disk = disk_len as f64 / n;
    rows.push(Row {
        figure: "disk bytes per event (file sizes; raw-sled: batch load)".into(),
        ours: format!("{ql_disk:.0}"),
        sqlite: opt(peers.sq_disk, |v| format!("{v:.0}")),
        raw: opt(peers.raw_disk, |v| format!("{v:.0}")),
        vs_sqlite: ratio(Some(ql_disk), peers.sq_disk),
        vs_raw: ratio(Some(ql_disk), peers.raw_disk),
        target: "≤ sqlite".into(),
        result: verdict(peers.sq_disk.map(|s| ql_disk <= s)),
    });
    rows.push(Row {
        figure: "disk bytes per event, allocated (du)".into(),
        ours: format!("{:.0}", disk_alloc as f64 / n),
        ..info_row()
    });
    if let Some(d) = peers.raw_insert_disk {
        rows.push(Row {
            figure: "disk bytes per event, raw-sled load-insert".into(),
            raw: format!("{d:.0}"),
            ..info_row()
        });
    }

    let date = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output().ok();
    let date = date.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(0);
    println!();
    println!(
        "quotaledger bench, {date}, {cores} cores: {n_events} events from gen_events.py ({input_bytes} bytes, {:.0} B/line)",
        input_bytes as f64 / n
    );
    let df = Command::new("df").arg("-h").arg(dir).output().ok();
    let df = df.map(|o| String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap_or("").to_string());
    println!("working directory {} on: {}", dir.display(), df.unwrap_or_default());
    println!("checker: {ok_line}");
    if let Some(t) = &peers.sq_totals {
        let same = ["licensed", "ordered", "returned", "shipped", "remaining"]
            .iter()
            .all(|k| t.get(*k).and_then(|v| v.parse::<u64>().ok()) == expected.get(*k).copied());
        println!("sqlite-chain replay totals {} the checker's", if same { "equal" } else { "DIFFER FROM" });
    }
    println!(
        "totals (qledger state = checker): licensed={} ordered(net)={} shipped={} remaining={}",
        ours["licensed"], ours["ordered"], ours["shipped"], ours["remaining"]
    );
    rows.extend(audit);
    println!();
    print_table(&rows);
    println!();
    println!(
        "quotaledger rates are whole-process wall clock; peer rates are the peers' own events_per_s. \
         Ratios are quotaledger ÷ peer. Memory targets are stated for 10M events."
    );
    Ok(ExitCode::SUCCESS)
}

fn info_row() -> Row {
    Row {
        ours: "–".into(),
        sqlite: "–".into(),
        raw: "–".into(),
        vs_sqlite: "–".into(),
        vs_raw: "–".into(),
        target: "–".into(),
        result: "–".into(),
        ..Row::default()
    }
}

/// Issue 10: what the Merkle tree costs a bulk append (the same input appended again with the
/// tree and without it, `QLEDGER_TREE_OFF=1`, interleaved, best of the rounds), what a
/// checkpoint costs, and `prove --seq` on this ledger against the same on 1,000 records.
fn audit_rows(r: &mut Runner, qledger: &Path, dir: &Path, chunks: &[PathBuf], n_events: u64) -> Res<Vec<Row>> {
    let rounds = if n_events > 2_000_000 { 1 } else { 2 };
    let (tree_ledger, plain) = (dir.join("qledger-tree"), dir.join("qledger-notree"));
    let (mut with, mut without) = (f64::MAX, f64::MAX);
    for round in 0..rounds {
        for (ledger, off) in [(&tree_ledger, false), (&plain, true)] {
            if ledger.exists() {
                fs::remove_dir_all(ledger)?;
            }
            let mut secs = 0.0;
            for chunk in chunks {
                let env: &OsStr = if off { "QLEDGER_TREE_OFF=1".as_ref() } else { "QLEDGER_TREE_OFF=0".as_ref() };
                let args = [
                    env,
                    qledger.as_os_str(),
                    "--ledger".as_ref(),
                    ledger.as_os_str(),
                    "append".as_ref(),
                    chunk.as_os_str(),
                ];
                let label = format!("qledger append (bulk, tree {}) #{round}", if off { "off" } else { "on" });
                secs += r.run(&label, Path::new("env"), &args, false, None)?.secs;
            }
            let best = if off { &mut without } else { &mut with };
            *best = best.min(secs);
        }
    }
    let _ = fs::remove_dir_all(&plain);

    let key = dir.join("bench.key");
    let _ = fs::remove_file(&key);
    let keygen =
        ["keygen".as_ref(), "--name".as_ref(), "bench.example/quotaledger".as_ref(), "--out".as_ref(), key.as_os_str()];
    r.run("qledger keygen", qledger, &keygen, false, None)?;
    let checkpoint = |r: &mut Runner, ledger: &Path, label: &str| -> Res<f64> {
        let args = ["--ledger".as_ref(), ledger.as_os_str(), "checkpoint".as_ref(), "--key".as_ref(), key.as_os_str()];
        Ok(r.run(label, qledger, &args, false, None)?.secs)
    };
    let checkpoint_secs = checkpoint(r, &tree_ledger, "qledger checkpoint (bulk ledger)")?;

    let small = dir.join("qledger-1k");
    if small.exists() {
        fs::remove_dir_all(&small)?;
    }
    let first = chunks.first().ok_or("no input")?;
    let lines: Vec<String> =
        std::io::BufRead::lines(std::io::BufReader::new(File::open(first)?)).take(1000).collect::<Result<_, _>>()?;
    let small_input = dir.join("events-1k.jsonl");
    fs::write(&small_input, lines.join("\n") + "\n")?;
    r.run(
        "qledger append (1k)",
        qledger,
        &["--ledger".as_ref(), small.as_os_str(), "append".as_ref(), small_input.as_os_str()],
        false,
        None,
    )?;
    checkpoint(r, &small, "qledger checkpoint (1k)")?;

    let prove = |r: &mut Runner, ledger: &Path, n: u64, label: &str| -> Res<f64> {
        let mut times = Vec::new();
        for i in 0..REPEATS as u64 {
            let seq = (i * 7_919 + n / 3) % n;
            let seq = seq.to_string();
            let args = ["--ledger".as_ref(), ledger.as_os_str(), "prove".as_ref(), "--seq".as_ref(), seq.as_ref()];
            times.push(r.run(&format!("{label} #{i}"), qledger, &args, false, None)?.secs);
        }
        Ok(median(times))
    };
    let prove_n = prove(r, &tree_ledger, n_events, "qledger prove --seq (bulk ledger)")?;
    let prove_1k = prove(r, &small, 1000, "qledger prove --seq (1k)")?;
    let _ = fs::remove_dir_all(&tree_ledger);
    let _ = fs::remove_dir_all(&small);
    let _ = fs::remove_file(&small_input);

    let cost = with / without;
    let prove_ratio = prove_n / prove_1k;
    Ok(vec![
        Row {
            figure: format!("bulk append: Merkle tree on ÷ off (QLEDGER_TREE_OFF=1), best of {rounds}"),
            ours: format!("{cost:.2}×"),
            target: "≤ 1.10×".into(),
            result: verdict(Some(cost <= 1.10)),
            ..info_row()
        },
        Row {
            figure: format!("checkpoint at {n_events} records (sign, index blocks)"),
            ours: ms(checkpoint_secs),
            ..info_row()
        },
        Row {
            figure: format!("prove --seq at {n_events} records, median of {REPEATS}"),
            ours: ms(prove_n),
            ..info_row()
        },
        Row { figure: format!("prove --seq at 1000 records, median of {REPEATS}"), ours: ms(prove_1k), ..info_row() },
        Row {
            figure: "prove --seq: this size ÷ 1000 records".into(),
            ours: format!("{prove_ratio:.2}×"),
            target: "≤ 1.5× (at 10M)".into(),
            result: verdict(Some(prove_ratio <= 1.5)),
            ..info_row()
        },
    ])
}
