//! The benchmark of issues 3 and 7: quotaledger against its peers, on one generated input, in one
//! run, with nothing from outside the repository.
//!
//! ```text
//! cargo run --release --example bench -- --events 1000000 [--seed S] [--keep DIR]
//!     [--skip-peers] [--raw-sled | --no-raw-sled] [--append-chunk K]
//! ```
//!
//! 1. generates N events (`bench gen N --seed S`, a byte-identical port of the Python generator
//!    the benchmark used before, `gen/`) into a file, and checks them with the port of its
//!    checker (`bench check FILE`), which replays the rules and prints the final totals;
//! 2. builds the release `qledger`;
//! 3. runs every command as a child process, timing its wall clock and reading its peak RSS
//!    (`/usr/bin/time -f %M` if present, else by polling `VmHWM` in `/proc/PID/status`): the bulk
//!    append, both verifies, `state` (at the head, as of a seq, by full replay), `log`, `replay`,
//!    `export`, and a one-event `append`; `state` and the one-event append also on a ledger of the
//!    first 1,000 events;
//! 4. checks that `qledger state --json` totals equal the checker's totals (exits 1 if not);
//! 5. runs the peers (`peers/`) on the same file, as child processes of this binary:
//!    `sqlite-chain` (a hash-chained table on SQLite) and `raw-sled` (sled 0.34.7 with one key per
//!    event; by default only up to 2,000,000 events, as its batch load holds about 1.6 GiB per
//!    million);
//! 6. reader during a writer's bulk append (`rw.rs`): the file is loaded into a fresh ledger
//!    alone, then into another while `head`, `state` and `verify --chain-only` run beside it; a
//!    reader refused with exit 4 is a FAIL in the table, not an error of the benchmark;
//! 7. prints one Markdown table: each figure for quotaledger and the peers, the ratios, the target
//!    (issue 7's unless marked) and PASS/FAIL.
//!
//! `--append-chunk K` loads the file in calls of K events each; by default the file is one
//! `qledger append` call, or calls of the most events one call accepts when N is larger
//! (`quotaledger::limits::APPEND_EVENTS_MAX`), so `--events 10000000` needs no other flag.
//!
//! Progress goes to stderr, the table to stdout. Ratios are quotaledger ÷ peer. Peers print their
//! own `events_per_s=` (timed inside the process, open included); quotaledger's rates are the
//! wall clock of the whole `qledger` process (startup, open and durable close included), so they
//! are slightly pessimistic for quotaledger. Memory targets are stated for 10M events; at smaller
//! N the PASS/FAIL shows where the run stands against the same bound.
//!
//! Working files go to `--keep DIR` (kept) or to a temporary directory (removed at the end).
//!
//! The same binary runs the pieces on their own:
//! `bench gen N [--seed S]`, `bench check FILE`, `bench sqlite-chain load DB FILE | verify DB |
//! replay DB [--per-license]`, `bench raw-sled load DIR FILE | load-insert DIR FILE | scan DIR`.

mod audit;
mod gen;
mod ours;
mod peer_runs;
mod peers;
mod rows;
mod runner;
mod rw;
mod table;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use ours::{Input, Ours, Qledger};
use peer_runs::{PeerChoice, Peers};
use runner::{cargo_build, kv_line, split_file, Runner, TIME_BIN};
use rw::RwResult;
use table::{print_table, Row};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Above this many events raw-sled is skipped unless `--raw-sled` is given (its batch load held
/// 1.6 GiB at 1M events).
const RAW_SLED_MAX_EVENTS: u64 = 2_000_000;

struct Opts {
    events: u64,
    seed: u64,
    keep: Option<PathBuf>,
    skip_peers: bool,
    raw_sled: Option<bool>,
    /// Events per `qledger append` call for the bulk load.
    append_chunk: Option<u64>,
}

impl Opts {
    fn peers(&self) -> PeerChoice {
        let raw_sled = self.raw_sled.unwrap_or(self.events <= RAW_SLED_MAX_EVENTS);
        PeerChoice { sqlite: !self.skip_peers, raw_sled: !self.skip_peers && raw_sled }
    }

    fn chunk_events(&self) -> u64 {
        let max = quotaledger::limits::APPEND_EVENTS_MAX as u64;
        match self.append_chunk {
            Some(k) if k > 0 => k.min(self.events),
            _ => self.events.min(max),
        }
    }
}

fn usage() -> String {
    "usage: cargo run --release --example bench -- --events N [--seed S] [--keep DIR] [--skip-peers] \
     [--raw-sled | --no-raw-sled] [--append-chunk K]\n\
     or: bench gen N [--seed S] | check FILE | sqlite-chain ... | raw-sled ..."
        .to_string()
}

fn parse_count(s: &str) -> Res<u64> {
    Ok(s.replace('_', "").parse()?)
}

fn parse_opts(args: &[String]) -> Res<Opts> {
    let mut o = Opts {
        events: 100_000,
        seed: gen::DEFAULT_SEED,
        keep: None,
        skip_peers: false,
        raw_sled: None,
        append_chunk: None,
    };
    let mut args = args.iter();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{}", usage()));
        match a.as_str() {
            "--events" => o.events = parse_count(value("--events")?)?,
            "--seed" => o.seed = value("--seed")?.parse()?,
            "--keep" => o.keep = Some(PathBuf::from(value("--keep")?)),
            "--skip-peers" => o.skip_peers = true,
            "--raw-sled" => o.raw_sled = Some(true),
            "--no-raw-sled" => o.raw_sled = Some(false),
            "--append-chunk" => o.append_chunk = Some(parse_count(value("--append-chunk")?)?),
            other => return Err(format!("unknown argument {other:?}\n{}", usage()).into()),
        }
    }
    if o.events < 10 {
        return Err("--events must be at least 10".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => gen_cmd(&args[1..]).map(|()| ExitCode::SUCCESS),
        Some("check") => check_cmd(&args[1..]).map(|()| ExitCode::SUCCESS),
        Some("sqlite-chain") => peers::sqlite_chain::command(&args[1..]).map(|()| ExitCode::SUCCESS),
        Some("raw-sled") => peers::raw_sled::command(&args[1..]).map(|()| ExitCode::SUCCESS),
        _ => real_main(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("\nbench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `bench gen N [--seed S]`: N events to stdout, as `gen_events.py N --seed S`.
fn gen_cmd(args: &[String]) -> Res<()> {
    let (events, seed) = match args {
        [n] => (parse_count(n)?, gen::DEFAULT_SEED),
        [n, flag, s] if flag == "--seed" => (parse_count(n)?, s.parse()?),
        _ => return Err("usage: bench gen N [--seed S]".into()),
    };
    let stdout = std::io::stdout().lock();
    match gen::generate(events, seed, stdout) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// `bench check FILE`: the checker's report, as `gen_events.py --check FILE`.
fn check_cmd(args: &[String]) -> Res<()> {
    let [file] = args else {
        return Err("usage: bench check FILE".into());
    };
    let report = gen::check::check_file(Path::new(file))?;
    for line in &report.lines {
        println!("{line}");
    }
    Ok(())
}

fn real_main(args: &[String]) -> Res<ExitCode> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", usage());
        return Ok(ExitCode::SUCCESS);
    }
    let opts = parse_opts(args)?;
    let dir = match &opts.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("qledger-bench-{}", std::process::id())),
    };
    fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let result = bench(&opts, &dir);
    if opts.keep.is_none() {
        fs::remove_dir_all(&dir)?;
    } else {
        eprintln!("working files kept in {}", dir.display());
    }
    result
}

fn new_runner(dir: &Path) -> Res<Runner> {
    let logs = dir.join("logs");
    runner::fresh_dir(&logs)?;
    let use_time_bin = Path::new(TIME_BIN).exists()
        && Command::new(TIME_BIN)
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    Ok(Runner { logs, use_time_bin, counter: 0 })
}

/// The generated input and what its checker printed.
struct Generated {
    events: PathBuf,
    bytes: u64,
    ok_line: String,
    totals: BTreeMap<String, u64>,
}

/// Step 1: `bench gen` into a file, then `bench check` on it (both child processes of this
/// binary, so neither holds the events in memory here).
fn generate_input(r: &mut Runner, exe: &Path, opts: &Opts, dir: &Path) -> Res<Generated> {
    let events = dir.join("events.jsonl");
    eprintln!("generating {} events (seed {}) ...", opts.events, opts.seed);
    let (count, seed) = (opts.events.to_string(), opts.seed.to_string());
    let gen_args: [&OsStr; 4] = ["gen".as_ref(), count.as_ref(), "--seed".as_ref(), seed.as_ref()];
    r.run("bench gen", exe, &gen_args, false, Some(&events))?;
    let check = r.run("bench check", exe, &["check".as_ref(), events.as_os_str()], false, None)?;
    let mut totals = kv_line(&check.stdout, "totals:")?
        .into_iter()
        .map(|(k, v)| Ok((k, v.parse::<u64>()?)))
        .collect::<Res<BTreeMap<String, u64>>>()?;
    for (k, v) in kv_line(&check.stdout, "revoked:")? {
        totals.insert(format!("revoked_{k}"), v.parse::<u64>()?);
    }
    let ok_line = check.stdout.lines().next().unwrap_or_default().to_string();
    eprintln!("  {ok_line}");
    Ok(Generated { bytes: fs::metadata(&events)?.len(), events, ok_line, totals })
}

/// Step 2: the release `qledger` beside this example (`<target>/release/examples/bench`).
fn build_qledger(exe: &Path) -> Res<Qledger> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let build_args: [&OsStr; 6] = [
        "build".as_ref(),
        "--release".as_ref(),
        "--bin".as_ref(),
        "qledger".as_ref(),
        "--manifest-path".as_ref(),
        manifest.as_os_str(),
    ];
    cargo_build("qledger", &build_args)?;
    let beside = exe.parent().and_then(Path::parent).map(|d| d.join("qledger")).filter(|p| p.exists());
    let bin = beside.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/qledger"));
    if !bin.exists() {
        return Err(format!("no qledger binary at {}", bin.display()).into());
    }
    Ok(Qledger { bin })
}

/// The append calls of the bulk load, and the record count after each.
fn append_chunks(opts: &Opts, events: &Path, dir: &Path) -> Res<(Vec<PathBuf>, Vec<u64>)> {
    let k = opts.chunk_events();
    let chunks = if k < opts.events { split_file(events, k, &dir.join("chunks"))? } else { vec![events.to_path_buf()] };
    let ends = (1..=chunks.len() as u64).map(|i| (i * k).min(opts.events)).collect();
    Ok((chunks, ends))
}

/// The 1-, 5- and 15-minute load averages (other processes make a run noisy).
fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn bench(opts: &Opts, dir: &Path) -> Res<ExitCode> {
    let n = opts.events as f64;
    let load_at_start = load_average();
    let exe = std::env::current_exe()?;
    let mut r = new_runner(dir)?;
    let rss_via = if r.use_time_bin { "/usr/bin/time" } else { "polling VmHWM" };
    eprintln!("bench: {} events in {}; peak RSS via {rss_via}", opts.events, dir.display());
    let input = generate_input(&mut r, &exe, opts, dir)?;
    let q = build_qledger(&exe)?;
    eprintln!("quotaledger ({}):", q.bin.display());
    let (chunks, chunk_ends) = append_chunks(opts, &input.events, dir)?;
    let ours = ours::measure(
        &q,
        &mut r,
        dir,
        &Input {
            events: &input.events,
            count: opts.events,
            chunks: &chunks,
            chunk_ends: &chunk_ends,
            checker_totals: &input.totals,
        },
    )?;
    let peers = peer_runs::run_peers(&mut r, &exe, dir, &input.events, n, &opts.peers())?;
    eprintln!("reader during a writer's bulk append:");
    let rw = rw::reader_during_writer(&q, dir, &chunks, &ours.committed)?;
    eprintln!("Merkle tree and proofs (issue 10):");
    let audit = audit::audit_rows(&mut r, &q.bin, dir, &chunks, opts.events)?;
    if chunks.len() > 1 {
        fs::remove_dir_all(dir.join("chunks"))?;
    }
    print_report(opts, dir, &input, &ours, &peers, &rw, audit);
    println!("load average at the start: {load_at_start}; at the end: {}", load_average());
    Ok(ExitCode::SUCCESS)
}

fn header_lines(opts: &Opts, dir: &Path, input: &Generated, ours: &Ours, peers: &Peers) -> Vec<String> {
    let date = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output().ok();
    let date = date.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(0);
    let df = Command::new("df").arg("-h").arg(dir).output().ok();
    let df = df.map(|o| String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap_or("").to_string());
    let n = opts.events as f64;
    let mut lines = vec![
        format!(
            "quotaledger bench, {date}, {cores} cores: {} events, seed {} ({} bytes, {:.0} B/line)",
            opts.events,
            opts.seed,
            input.bytes,
            input.bytes as f64 / n
        ),
        format!("working directory {} on: {}", dir.display(), df.unwrap_or_default()),
        format!("checker: {}", input.ok_line),
    ];
    lines.extend(peer_agreement(input, peers));
    let t = &ours.totals;
    let get = |k: &str| t.get(k).copied().unwrap_or_default();
    lines.push(format!(
        "totals (qledger state = checker): licensed={} ordered(net)={} shipped={} remaining={}",
        get("licensed"),
        get("ordered"),
        get("shipped"),
        get("remaining")
    ));
    lines
}

/// The peers' own consistency: sqlite-chain's replay totals against the checker's, its load
/// and verify heads, and raw-sled's chain head against sqlite-chain's.
fn peer_agreement(input: &Generated, peers: &Peers) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(t) = &peers.sq_totals {
        let same = ["licensed", "ordered", "returned", "shipped", "remaining"]
            .iter()
            .all(|k| t.get(*k).and_then(|v| v.parse::<u64>().ok()) == input.totals.get(*k).copied());
        lines.push(format!("sqlite-chain replay totals {} the checker's", if same { "equal" } else { "DIFFER FROM" }));
    }
    if let Some((load, verify)) = &peers.sq_heads {
        let agree = if load == verify { "equals" } else { "DIFFERS FROM" };
        lines.push(format!("sqlite-chain verify head {agree} its load head {load}"));
    }
    if let (Some(raw), Some((load, _))) = (&peers.raw_head, &peers.sq_heads) {
        lines
            .push(format!("raw-sled scan head {} sqlite-chain's", if raw == load { "equals" } else { "DIFFERS FROM" }));
    }
    lines
}

fn print_report(
    opts: &Opts,
    dir: &Path,
    input: &Generated,
    ours: &Ours,
    peers: &Peers,
    rw: &RwResult,
    audit: Vec<Row>,
) {
    let n = opts.events as f64;
    let mut rows: Vec<Row> = rows::rate_rows(n, ours, peers);
    rows.extend(rows::core_rows(ours, peers));
    rows.extend(rows::latency_rows(opts.events, ours));
    rows.extend(rows::rss_rows(ours, peers));
    rows.extend(rows::disk_rows(n, ours, peers));
    rows.extend(rows::rw_rows(rw));
    rows.extend(audit);
    println!();
    for line in header_lines(opts, dir, input, ours, peers) {
        println!("{line}");
    }
    println!();
    print_table(&rows);
    println!();
    println!(
        "reader beside a bulk append: {} readers (head, state, verify --chain-only, in turn): {}",
        rw.readers.len(),
        rw.exit_summary()
    );
    let same = if rw.same_head { "has" } else { "DOES NOT HAVE" };
    println!(
        "reader beside a bulk append: the writer took {:.3} s with readers, {:.3} s alone; its final head {same} the \
         undisturbed ledger's record count",
        rw.writer_secs, rw.alone_secs
    );
    if opts.raw_sled.is_none() && !opts.skip_peers && opts.events > RAW_SLED_MAX_EVENTS {
        println!("raw-sled skipped above {RAW_SLED_MAX_EVENTS} events (--raw-sled runs it).");
    }
    println!(
        "quotaledger rates are whole-process wall clock; peer rates are the peers' own events_per_s. \
         Ratios are quotaledger ÷ peer. Memory targets are stated for 10M events."
    );
}
