//! Command-line arguments (clap derive).

use super::examples;
use super::ui::ColorChoice;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// qledger: an append-only, hash-chained audit ledger for licensed quotas.
#[derive(Debug, Parser)]
#[command(name = "qledger", version, about, long_about = None, after_help = examples::TOP)]
pub struct Cli {
    /// Ledger directory [default: $QLEDGER_LEDGER, else ./ledger; for `demo`, a fresh temporary
    /// directory: demo never reads $QLEDGER_LEDGER]
    // Not clap's `env`: `demo` must tell a path given on its command line from the variable.
    #[arg(long, global = true, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// Writers: wait up to SECONDS for another writer to finish (default: fail at once, exit 4); readers never wait
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_wait)]
    pub wait: Option<f64>,
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// No progress bars or notes on stderr (errors are still printed)
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// What to do (without one, a short overview is printed).
    #[command(subcommand)]
    pub command: Option<Command>,
}

fn parse_wait(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 86400")),
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an empty ledger (the only command besides `append --create` that creates one)
    #[command(after_help = examples::INIT)]
    Init {
        /// How far ahead of the clock an event's `at` may lie, in seconds (default 86400, one
        /// day); fixed once the ledger holds records
        #[arg(long, value_name = "SECS")]
        future_margin: Option<u32>,
    },
    /// Rebuild the derived data (index, sled metadata, snapshots) from the chain
    #[command(after_help = examples::REINDEX)]
    Reindex,
    /// Append JSONL events, all or nothing; prints how many were appended and the new head
    #[command(after_help = examples::APPEND, after_long_help = crate::jsonl::event_types_help())]
    Append {
        /// JSON Lines file, or - for standard input (the default)
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
        /// Actor for events without "actor" (default: $QLEDGER_ACTOR, else $USER; without any,
        /// such an event is refused)
        #[arg(long)]
        actor: Option<String>,
        /// Create the ledger if the path has none (otherwise only `init` creates one)
        #[arg(long)]
        create: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
        /// Accept events dated further ahead of this machine's clock than the ledger's margin
        /// (one day)
        #[arg(long)]
        allow_future: bool,
        /// Append each refused event (or unreadable line) as a `refused` record with its line,
        /// rule and message, instead of refusing the whole input; the other events are appended
        #[arg(long)]
        record_refusals: bool,
        /// Check the input and show the verdict and the effect of every event; write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Recompute every hash and link; check the head and the snapshots
    #[command(after_help = examples::VERIFY)]
    Verify {
        /// Also check that a record with this hash is on the chain (exit 3 if not); a unique
        /// prefix of at least 8 hex digits will do
        #[arg(long, value_name = "HEX")]
        expect_head: Option<String>,
        /// Check hashes, links, head and snapshots only, not the rules, the index, the Merkle
        /// tree and the checkpoints (memory stays bounded on very large ledgers)
        #[arg(long)]
        chain_only: bool,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Quota state at the head, or after a seq, a time or the end of a UTC date
    #[command(after_help = examples::STATE)]
    State {
        /// SEQ (after that record), an RFC 3339 TIME (after every record at or before it), or a
        /// DATE YYYY-MM-DD (the end of that UTC day: after every record of that day)
        #[arg(long, value_name = "SEQ|TIME|DATE")]
        as_of: Option<String>,
        /// Only this license
        #[arg(long)]
        license: Option<String>,
        /// Only this party and its licenses
        #[arg(long)]
        party: Option<String>,
        /// Only what had been recorded by TIME (the ledger's clock, `recorded_at`); combines
        /// with --as-of: what the ledger said at TIME about the point --as-of names
        #[arg(long, value_name = "TIME")]
        known_at: Option<String>,
        /// Recompute from the first record, using no persisted snapshot
        #[arg(long)]
        full_replay: bool,
        /// Print JSON
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV: one row per license, party and the total, with a `section` column
        #[arg(long)]
        csv: bool,
    },
    /// List records with seq, at, type and hash
    #[command(after_help = examples::LOG)]
    Log {
        /// Only events touching this license
        #[arg(long)]
        license: Option<String>,
        /// Only events on this order
        #[arg(long)]
        order: Option<String>,
        /// Only events about this party or its licenses
        #[arg(long)]
        party: Option<String>,
        /// Start at this seq
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// At most N records (with --reverse, the last N)
        #[arg(long, short = 'n', value_name = "N")]
        limit: Option<u64>,
        /// Only late entries (dated before facts recorded earlier; they carry a late_reason)
        #[arg(long)]
        late: bool,
        /// Newest first
        #[arg(long)]
        reverse: bool,
        /// Print JSON Lines
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV with a header line
        #[arg(long)]
        csv: bool,
    },
    /// Walk the history in order, each event with its effect on the quota it touched
    #[command(after_help = examples::REPLAY)]
    Replay {
        /// Only events touching this license
        #[arg(long)]
        license: Option<String>,
        /// Start at this seq
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// Stop after this seq, after the last record at or before this TIME, or at the end of
        /// this UTC DATE (YYYY-MM-DD)
        #[arg(long, value_name = "SEQ|TIME|DATE")]
        to: Option<String>,
        /// At most N events
        #[arg(long, short = 'n', value_name = "N")]
        limit: Option<u64>,
        /// Print JSON Lines
        #[arg(long)]
        json: bool,
    },
    /// Last seq, record count and head hash
    #[command(after_help = examples::HEAD)]
    Head {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Every record as JSON Lines, with its canonical bytes in hex
    #[command(after_help = examples::EXPORT)]
    Export {
        /// Write to FILE instead of standard output (outside the ledger directory; a new owner-only
        /// file renamed over FILE when complete)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// One self-contained HTML page: quotas by round, headroom, orders and shipments over time,
    /// conditions, the verification result and the head
    #[command(after_help = examples::REPORT)]
    Report {
        /// Write the page to FILE (outside the ledger directory; a new owner-only file renamed
        /// over FILE when complete), or to standard output with -
        #[arg(long, value_name = "FILE|-")]
        out: PathBuf,
    },
    /// Build the H200 story in a fresh ledger, verify it, replay it and print the quota state
    #[command(after_help = examples::DEMO)]
    Demo,
    /// Print a shell completion script (bash, zsh, fish, powershell) to standard output
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print a JSON Schema (draft 2020-12) of one input line, for editors and other programs
    #[command(after_help = examples::SCHEMA)]
    Schema,
    /// Print the man page (roff) to standard output
    #[command(after_help = examples::MAN)]
    Man,
    /// The audit commands (issue 10): keygen, checkpoint, prove, check-proof, bundle,
    /// check-bundle, publish, audit.
    #[command(flatten)]
    Audit(super::audit::AuditCommand),
    /// One typed command per event type (`register`, `grant`, `order`, `condition add`, ...).
    #[command(flatten)]
    Event(super::typed::EventCommand),
}
