//! quotaledger: an event-sourced, hash-chained audit ledger for licensed quotas.
//!
//! Governments grant licenses with hard quotas and conditions; companies place orders against
//! them. Every fact is an event appended to a BLAKE3 hash chain; the quota state is a projection
//! of the events; every event is checked against the state before it is appended.
//!
//! # Code map
//!
//! - [`domain`]: events ([`domain::event`], with `EVENT_TYPES`, the one table of appendable
//!   types the parser and help derive from), the quota projection ([`domain::quota`]: licenses,
//!   rounds, policies, caps, held orders, headroom), the rules that accept or refuse an event
//!   ([`domain::rules`]: "where is an order checked against quota?"; grants, rounds, policies
//!   and caps in `rules/grants.rs`, orders through every gate, shipments and corrections in
//!   `rules/orders.rs`, settling conditions and held orders in `rules/holds.rs`), what `append`
//!   checks beyond them ([`domain::admission`]: the clock's margin,
//!   input-only limits on ids and texts, u64 totals, lookalike parties), order rows
//!   ([`domain::order`]) and business time ([`domain::time`]).
//! - [`format`](mod@format): the ledger format, pure (bytes in, bytes out): wire types
//!   ([`format::record`], [`format::snapshot`]), the canonical encoding ([`format::codec`]),
//!   the hash chain ([`format::chain`]), and the framing of every file: segments and blocks
//!   ([`format::segment`]), the commit point ([`format::head`]), index runs
//!   ([`format::index_run`]). The README's "Ledger format" and "Storage" sections are its spec.
//! - [`jsonl`]: the JSON Lines input format: strict parsing with line numbers and limits.
//! - [`limits`]: every size limit, with compile-time checks of how they relate.
//! - [`suggest`]: "did you mean ...?" for names that were not found (event types, fields, ids).
//! - [`store`]: every file and sled call: directory layout, creation and lock
//!   ([`store`]), the file layer under the chain with a simulated disk for tests
//!   ([`store::disk`]), segment files ([`store::segment`]), the commit point
//!   ([`store::head`]), the commit protocol and its fault points ([`store::writer`]: "what
//!   happens on a crash between two steps?"), recovery of what lies beyond the commit point
//!   ([`store::recovery`]), the per-event index as an LSM tree of run files
//!   ([`store::index`]: the running append's runs written and merged on a builder thread,
//!   each asked through an in-memory blocked Bloom filter, [`store::run_filter`]; every filter
//!   of a run, stored or in memory, at most [`limits::RUN_FILTER_BYTES_MAX`], and all an
//!   index holds at most [`limits::INDEX_FILTER_BYTES_MAX`]), snapshot files
//!   ([`store::snapshots`]) and sled, the writer's metadata ([`store::meta`]).
//! - [`ledger`]: the facade: open to read or to write, append (`ledger::append`: rules +
//!   encode + hash + commit), the one reader loop (`read`: blocks read on one thread and decoded
//!   on every core, in order), verify (`verify`), state at the
//!   head or as of a point, reindex.
//! - [`tlog`]: transparency-log formats and proofs, pure: the RFC 9162 Merkle tree with
//!   inclusion and consistency proofs ([`tlog::merkle`]: "where is a proof checked?"), C2SP
//!   signed notes with Ed25519 keys ([`tlog::note`]), checkpoints ([`tlog::checkpoint`]) and
//!   tiles ([`tlog::tiles`]). It knows nothing of the store; the store answers its
//!   `NodeSource` / `TileReader` traits.
//! - [`audit`] (issue 10): what a checkpoint claims ([`audit::claims`]: head hash, quota-state
//!   tree), keys ([`audit::keys`]), checkpoints, proofs and bundles with their offline checks
//!   ([`audit::proofs`]: "where is a proof document checked?"), the tlog-tiles directory
//!   ([`audit::publish`]) and the auditing client ([`audit::client`]). The tree itself is
//!   derived data of the store ([`store::tree`]: levels 8 and up stored, the lower ones
//!   recomputed from a tile's records, which [`store::locate`] finds); checkpoints are kept
//!   by [`store::checkpoints`]; `verify` checks both (`ledger/audit.rs`).
//! - [`report`] (issue 11): `qledger report`, one self-contained HTML page of a ledger: a view
//!   model built by replaying the records and verifying ([`report::model`]: "where do the
//!   report's numbers come from?"), rendered as HTML ([`report::html`]: "where is a ledger
//!   string escaped for the page?") with inline SVG ([`report::chart`]). It writes no file: the
//!   CLI writes the page through the same exclusive-create path as `export --out`.
//! - [`cli`]: clap arguments ([`cli::args`]; the `--help` examples and the overview in
//!   [`cli::examples`], run by `tests/help_examples.rs`), human, CSV and JSON output
//!   ([`cli::output`]; the licensing sections of `state` and `replay`'s disclosure in
//!   [`cli::licensing`]; typed commands per event type and `--dry-run` in [`cli::typed`];
//!   `state`'s text as one function per section in `output/state_text.rs`),
//!   how human output looks ([`cli::ui`]: colour, tables by comfy-table, thousands separators,
//!   plurals), progress on stderr ([`cli::progress`]), the demo, where output goes
//!   ([`cli::sink`]: stdout and `export --out` files, failed writes as storage errors) and
//!   terminal escaping ([`cli::terminal`]). `src/main.rs` is main -> run -> ExitCode.
//!
//! # Architecture invariants
//!
//! - Architecture Invariant: `domain` does no I/O, reads no clock and knows nothing of storage;
//!   `QuotaState::apply` is infallible and cannot panic, even on a forged ledger.
//! - Architecture Invariant: only `store` imports sled; only `format::codec` calls bincode.
//! - Architecture Invariant: the stored types (`format::record`, `format::snapshot`) are wire
//!   types, separate from domain types; their field and variant order is the format, frozen by
//!   golden vectors in `tests/golden.rs`.
//! - Architecture Invariant: a record decodes only if it consumes all of its bytes and
//!   re-encodes to the same bytes, and passes the same limits as input (checked both ways).
//!   Records of format 1 and 2 live in one chain (`format::record::Record` dispatches on the
//!   first byte); new records are format 2; new enum variants are only ever appended.
//! - Architecture Invariant: the rules see only the projection and what the caller looked up
//!   (`rules::Lookup`: the order's row, the record a correction refers to); everything they
//!   resolve that replay needs (the gates of a shipment, what a cancellation returned, which
//!   held orders a condition opened or released) is stored in the record's context, so
//!   `QuotaState::apply` never needs the index.
//! - Architecture Invariant: the segment files and `HEAD` are the single source of truth; the
//!   index, sled and the snapshots are derived, rebuilt from them (`qledger reindex`, and a
//!   writer's catch-up when it opens), and nothing needed to open a ledger lives only in sled.
//! - Architecture Invariant: one `append` call is all or nothing: its blocks are written beyond
//!   the committed length and synced, then one `HEAD` slot moves the commit point over them; a
//!   refusal or crash leaves the commit point and every committed byte as they were. Nothing
//!   below the committed length is ever removed or rewritten. A failed write poisons the writer
//!   for the rest of the process.
//! - Architecture Invariant: readers take no lock and write nothing in the ledger: they read
//!   `HEAD` once and then only the committed prefix it names. Only a writer, holding `LOCK`,
//!   opens sled.
//! - Architecture Invariant: `verify` re-checks every record against `domain::rules`, never
//!   against `domain::admission`: admission depends on what a record does not hold (the clock,
//!   a flag of the call or of the line) or holds input to more than older versions did, so
//!   every record an older version accepted still decodes and verifies.
//! - Architecture Invariant: snapshots and index runs are derived data; `verify` trusts only
//!   the records: it recomputes the snapshots and the index and re-checks every record against
//!   the rules, so an edit of derived data cannot smuggle a record past them.
//! - Deliberate repetition: `domain::Event` and `format::record::WireEvent` list the same
//!   variants, with conversions both ways; that is the price of a wire type the domain cannot
//!   change by accident.
//! - Architecture Invariant: `tlog` does no I/O and imports nothing of the ledger; its
//!   verifiers fail closed and its parsers accept one spelling of each value.
//! - Architecture Invariant: `cli` decides nothing about quotas; errors are typed in the library
//!   (`thiserror`), `anyhow` only adds context in the binary.

#![warn(missing_docs)]

pub mod audit;
pub mod cli;
pub mod domain;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod jsonl;
pub mod ledger;
pub mod limits;
pub mod report;
pub mod store;
pub mod suggest;
pub mod tlog;
