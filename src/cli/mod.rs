//! The command line: argument parsing (`args`) and output (`output`); no business logic.
//!
//! Architecture Invariant: `cli` decides nothing about quotas; it turns arguments into calls on
//! [`crate::ledger::Ledger`] and results into text or JSON.

pub mod args;
pub mod audit;
pub mod demo;
pub mod licensing;
pub mod output;
pub mod report;
pub mod sink;
pub mod terminal;
pub mod typed;

use crate::domain::Timestamp;
use crate::jsonl::{Defaults, InputError, LineError, LineReader};
use crate::ledger::{AppendOptions, AsOf, Depth, Ledger, LedgerError, Prepared};
use crate::store::{OpenMode, StoreError};
use anyhow::{Context as _, Result};
use args::{Cli, Command};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Default ledger directory when neither `--ledger` nor `QLEDGER_LEDGER` is given.
pub const DEFAULT_LEDGER: &str = "./ledger";

/// The environment variable naming the ledger directory when `--ledger` is not given.
pub const LEDGER_ENV: &str = "QLEDGER_LEDGER";

/// `--ledger PATH`, else `$QLEDGER_LEDGER` (if set and not empty), else `./ledger`.
fn resolve_ledger(flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os(LEDGER_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEDGER)),
    }
}

/// Runs one parsed command line, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode> {
    let wait = cli.wait.map(Duration::from_secs_f64);
    let ledger_path = || resolve_ledger(cli.ledger.as_deref());
    match cli.command {
        Command::Init { future_margin } => {
            let path = ledger_path();
            let mut ledger = open_writer(&path, OpenMode::CreateIfMissing, wait)?;
            if let Some(secs) = future_margin {
                ledger.set_future_margin_secs(secs)?;
            }
            let (records, margin) = (ledger.head().records, ledger.future_margin_secs()?);
            drop(ledger);
            writeln!(out, "ledger at {} holds {} records; future margin {margin} s", path.display(), records)?;
        }
        Command::Reindex => {
            let path = ledger_path();
            let mut ledger = open_writer(&path, OpenMode::MustExist, wait)?;
            let records = ledger.reindex()?;
            drop(ledger);
            writeln!(out, "rebuilt the index and the snapshots of {} from {records} records", path.display())?;
        }
        Command::Append { file, actor, json, allow_future, record_refusals, dry_run } => {
            let options = AppendOptions { allow_future, record_refusals };
            let input = open_input(file.as_deref())?;
            submit(&ledger_path(), wait, input, actor, Submit { options, dry_run, json }, out)?
        }
        Command::Event(cmd) => {
            let (mut line, flags) = cmd.line();
            flags.stamp(&mut line);
            let options = AppendOptions { allow_future: flags.allow_future, record_refusals: false };
            let how = Submit { options, dry_run: flags.dry_run, json: flags.json };
            let text = serde_json::Value::Object(line).to_string();
            let input: Box<dyn BufRead + Send> = Box::new(io::Cursor::new(text.into_bytes()));
            submit(&ledger_path(), wait, input, flags.actor.clone(), how, out)?
        }
        Command::Verify { expect_head, chain_only, json } => {
            verify(&ledger_path(), expect_head.as_deref(), chain_only, json, out)?
        }
        Command::State { as_of, license, party, known_at, full_replay, json } => {
            let ledger = Ledger::open_read(&ledger_path())?;
            let point = match as_of.as_deref() {
                None => None,
                Some(text) => Some(within_head(parse_point(text, "--as-of")?, &ledger, "--as-of")?),
            };
            let known_at = match known_at.as_deref() {
                None => None,
                Some(text) => Some(Timestamp::parse(text).map_err(|e| UsageError(format!("--known-at: {e}")))?),
            };
            let state = match (point, full_replay, known_at) {
                (point, _, Some(known)) => ledger.state_known_at(known, point)?,
                (point, true, None) => ledger.state_replayed(point)?,
                (None, false, None) => ledger.state()?,
                (Some(point), false, None) => ledger.state_as_of(point)?,
            };
            output::state(out, &ledger, &state, license.as_deref(), party.as_deref(), json)?;
        }
        Command::Log { license, order, party, from, limit, late, json } => {
            let ledger = Ledger::open_read(&ledger_path())?;
            if let Some(from) = from {
                within_head(AsOf::Seq(from), &ledger, "--from")?;
            }
            let filter = output::Filter { license, order, party, late };
            output::log(out, &ledger, &filter, from.unwrap_or(0), limit, json)?;
        }
        Command::Replay { license, from, to, json } => {
            let ledger = Ledger::open_read(&ledger_path())?;
            if let Some(from) = from {
                within_head(AsOf::Seq(from), &ledger, "--from")?;
            }
            let to = match to.as_deref() {
                None => None,
                Some(text) => Some(parse_point(text, "--to")?),
            };
            output::replay(out, &ledger, license.as_deref(), from.unwrap_or(0), to, json)?;
        }
        Command::Head { json } => {
            let ledger = Ledger::open_read(&ledger_path())?;
            output::head(out, &ledger.head(), json)?;
        }
        Command::Export { out: file } => {
            let path = ledger_path();
            let ledger = Ledger::open_read(&path)?;
            match file {
                None => output::export(out, &ledger)?,
                Some(target) => sink::export_to_file(&path, &target, |w| output::export(w, &ledger))?,
            }
        }
        Command::Report { out: target } => report::run(&ledger_path(), &target, out)?,
        // Only a path given on the command line: never $QLEDGER_LEDGER, which may name a real
        // ledger that the demo's fictional story must not enter.
        Command::Demo => return demo::run(cli.ledger.as_deref(), out),
        Command::Audit(cmd) => return audit::run(cmd, ledger_path(), wait, out),
    }
    Ok(ExitCode::SUCCESS)
}

/// How a batch of events is submitted: its options, and whether only checked.
struct Submit {
    options: AppendOptions,
    dry_run: bool,
    json: bool,
}

/// `append`, a typed command, or a dry run of either: the input is opened first (a missing
/// file must not leave a new ledger behind), and a pipe or terminal is read to its end before
/// the lock is taken: a writer holds the lock only while it checks and commits, never while it
/// waits for its input or its output.
fn submit(
    path: &Path,
    wait: Option<Duration>,
    input: Box<dyn BufRead + Send>,
    actor: Option<String>,
    how: Submit,
    out: &mut dyn Write,
) -> Result<()> {
    let mut ledger = open_writer(path, OpenMode::CreateIfMissing, wait)?;
    let defaults = Defaults {
        at: Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc()),
        actor: actor
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "unknown".into()),
    };
    if how.dry_run {
        let run = with_prepared(input, &defaults, how.options, |events| ledger.dry_run(events, how.options));
        drop(ledger);
        return match run {
            Ok(run) => typed::dry_run_report(out, &run, how.json),
            Err(e) => {
                if how.json {
                    output::append_failed(out, &e)?;
                }
                Err(e.into())
            }
        };
    }
    let result = append_from(&mut ledger, input, &defaults, how.options);
    drop(ledger);
    match result {
        Ok(report) => output::append_report(out, &report, how.json),
        Err(e) => {
            if how.json {
                output::append_failed(out, &e)?;
            }
            Err(e.into())
        }
    }
}

/// `verify`, as a reader.
fn verify(path: &Path, expect_head: Option<&str>, chain_only: bool, json: bool, out: &mut dyn Write) -> Result<()> {
    let expect = match expect_head {
        None => None,
        Some(h) => Some(
            crate::format::chain::parse_hash(h)
                .ok_or_else(|| UsageError(format!("--expect-head: {h:?} is not 64 hex digits")))?,
        ),
    };
    let ledger = Ledger::open_read(path)?;
    let depth = if chain_only { Depth::Chain } else { Depth::Rules };
    match ledger.verify_with(expect, depth) {
        Ok(report) => output::verify_ok(out, &report, json),
        Err(e) => {
            if json {
                output::verify_failed(out, &e)?;
            }
            Err(e.into())
        }
    }
}

/// Opens the ledger for writing, telling the user on stderr what recovery did.
fn open_writer(path: &Path, mode: OpenMode, wait: Option<Duration>) -> Result<Ledger, LedgerError> {
    let ledger = Ledger::open(path, mode, wait)?;
    if let Some(r) = ledger.recovered() {
        if r.records_kept > 0 {
            eprintln!(
                "qledger: note: kept {} records of an interrupted append that had reached the disk whole",
                r.records_kept
            );
        }
        if r.bytes_cut > 0 {
            eprintln!(
                "qledger: note: cut {} bytes of an interrupted append beyond the committed head; they are kept in {}",
                r.bytes_cut,
                path.join(crate::store::RECOVERED_DIR).display()
            );
        }
    }
    Ok(ledger)
}

/// The append input: a file as it is; standard input (a pipe or a terminal) copied to an
/// unlinked temporary file first, so that no lock is held while the input trickles in.
fn open_input(file: Option<&Path>) -> Result<Box<dyn BufRead + Send>> {
    let reader: Box<dyn BufRead + Send> = match file {
        Some(p) if p != Path::new("-") => {
            let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            Box::new(BufReader::with_capacity(1 << 20, f))
        }
        _ => {
            let mut spool = tempfile::tempfile().context("creating a temporary file for standard input")?;
            io::copy(&mut io::stdin().lock(), &mut spool).context("reading standard input")?;
            io::Seek::seek(&mut spool, io::SeekFrom::Start(0)).context("reading standard input back")?;
            Box::new(BufReader::with_capacity(1 << 20, spool))
        }
    };
    Ok(reader)
}

/// Streams JSONL from `reader` into one append call. A second thread reads and parses lines
/// while this one checks rules, encodes, hashes and stores: the two halves cost about the same.
pub fn append_from(
    ledger: &mut Ledger,
    reader: impl BufRead + Send,
    defaults: &Defaults,
    options: AppendOptions,
) -> Result<crate::ledger::AppendReport, LedgerError> {
    with_prepared(reader, defaults, options, |events| ledger.append_prepared_with(events, options))
}

/// Parses `reader` on a thread of its own and hands the prepared events to `consume` (the
/// append or the dry run) as they come.
fn with_prepared<T>(
    reader: impl BufRead + Send,
    defaults: &Defaults,
    options: AppendOptions,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<Prepared, InputError>>) -> T,
) -> T {
    const CHUNK_EVENTS: usize = 1024;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Prepared, InputError>>>(8);
        scope.spawn(move || parse_lines(reader, defaults, options, CHUNK_EVENTS, tx));
        consume(&mut rx.into_iter().flatten())
    })
}

/// The parse thread: lines to prepared events, sent in chunks.
fn parse_lines(
    reader: impl BufRead,
    defaults: &Defaults,
    options: AppendOptions,
    chunk_events: usize,
    tx: std::sync::mpsc::SyncSender<Vec<Result<Prepared, InputError>>>,
) {
    let mut lines = LineReader::new(reader);
    let mut last_line = 0;
    let mut chunk = Vec::with_capacity(chunk_events);
    loop {
        // A bad line ends the input, unless refusals are recorded: then only a read
        // error does (a line too long was skipped to its end by the reader).
        let (item, stop) = match lines.next_line() {
            Ok(None) => break,
            Ok(Some((n, bytes))) => {
                last_line = n;
                let item = crate::jsonl::parse_line(n, bytes, defaults).map(Prepared::new);
                let stop = item.is_err() && !options.record_refusals;
                (item, stop)
            }
            Err(e) => {
                let stop = matches!(e, LineError::Io(_)) || !options.record_refusals;
                (Err(e.into_input_error(last_line + 1)), stop)
            }
        };
        if let Err(InputError { line, .. }) = &item {
            last_line = *line;
        }
        chunk.push(item);
        if stop || chunk.len() == chunk_events {
            // A closed receiver means the append stopped early (a refusal): stop too.
            if tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(chunk_events))).is_err() || stop {
                return;
            }
        }
    }
    let _ = tx.send(chunk);
}

/// A seq must name a record of the ledger: reading after a record that does not exist is an
/// error, not the head in disguise. Times may lie anywhere.
fn within_head(point: AsOf, ledger: &Ledger, flag: &str) -> Result<AsOf, NotFound> {
    match (point, ledger.head().last_seq()) {
        (AsOf::Seq(seq), Some(last)) if seq > last => {
            Err(NotFound(format!("{flag} {seq}: the ledger's last seq is {last}")))
        }
        (AsOf::Seq(seq), None) => Err(NotFound(format!("{flag} {seq}: the ledger is empty"))),
        _ => Ok(point),
    }
}

/// `SEQ` (digits) or an RFC 3339 time.
fn parse_point(text: &str, flag: &str) -> Result<AsOf, UsageError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(AsOf::Seq).map_err(|_| UsageError(format!("{flag}: {text} is not a seq")));
    }
    Timestamp::parse(text).map(AsOf::Time).map_err(|e| UsageError(format!("{flag}: {e}")))
}

/// A usage problem found after parsing (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A filter or argument names something the ledger does not have (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

/// The exit code for an error: 1 refused or bad input, 2 usage, 3 integrity, 4 storage.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<crate::audit::AuditError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<LedgerError>() {
            return e.exit_code();
        }
        if cause.downcast_ref::<StoreError>().is_some() || cause.downcast_ref::<sink::WriteError>().is_some() {
            return 4;
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
        if cause.downcast_ref::<InputError>().is_some() || cause.downcast_ref::<NotFound>().is_some() {
            return 1;
        }
    }
    // An input file that cannot be opened is bad input; other I/O is storage.
    1
}

/// Whether the error is a closed stdout (`qledger log | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
