//! quotaledger: an event-sourced, hash-chained audit ledger for licensed quotas.
//!
//! Governments grant licenses with hard quotas and conditions; companies place orders against
//! them. Every fact is an event appended to a BLAKE3 hash chain; the quota state is a projection
//! of the events; every event is checked against the state before it is appended.
//!
//! # Code map
//!
//! - [`domain`]: events ([`domain::event`]), the quota projection ([`domain::quota`]), the
//!   rules that accept or refuse an event ([`domain::rules`]: "where is an order checked against
//!   quota?"), order rows ([`domain::order`]) and business time ([`domain::time`]).
//! - [`format`]: the ledger format: wire types ([`format::record`], [`format::snapshot`]), the
//!   canonical encoding ([`format::codec`]), block framing ([`format::block`]) and the hash
//!   chain ([`format::chain`]). The README's "Ledger format" section is its spec.
//! - [`jsonl`]: the JSON Lines input format: strict parsing with line numbers and limits.
//! - [`limits`]: every size limit, with compile-time checks of how they relate.
//! - [`store`]: the sled adapter: directory layout, lock, keys, atomic commit, fsync.
//! - [`index`]: the command-side index (order rows, idempotency keys) in hash buckets, loaded
//!   on demand by an append.
//! - [`ledger`]: the facade: open, append (rules + encode + hash + commit), verify, read records,
//!   state at the head or as of a point.
//! - [`tlog`]: transparency-log formats and proofs, pure: the RFC 9162 Merkle tree with
//!   inclusion and consistency proofs ([`tlog::merkle`]: "where is a proof checked?"), C2SP
//!   signed notes with Ed25519 keys ([`tlog::note`]), checkpoints ([`tlog::checkpoint`]) and
//!   tiles ([`tlog::tiles`]). It knows nothing of the store; the store answers its
//!   `NodeSource` / `TileReader` traits.
//! - [`audit`] (issue 10): what a checkpoint claims ([`audit::claims`]: head hash, quota-state
//!   tree), keys ([`audit::keys`]), checkpoints, proofs and bundles with their offline checks
//!   ([`audit::proofs`]: "where is a proof document checked?"), the tlog-tiles directory
//!   ([`audit::publish`]) and the auditing client ([`audit::client`]). The tree itself is
//!   derived data of the store ([`store::tree`]; records found for proofs by
//!   [`store::locate`]); checkpoints are kept by [`store::checkpoints`]; `verify` checks both
//!   (`ledger/audit.rs`).
//! - [`cli`]: clap arguments, human and JSON output, the demo. `src/main.rs` is main -> run ->
//!   ExitCode.
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
//! - Architecture Invariant: one `append` call is all or nothing: it becomes visible in one sled
//!   batch that moves the head; a refusal or crash leaves the head and every committed record as
//!   they were. A failed write poisons the store for the rest of the process.
//! - Architecture Invariant: snapshots and index buckets are derived data; `verify` trusts only
//!   the records: it recomputes the snapshots and the index and re-checks every record against
//!   the rules, so an edit of derived data cannot smuggle a record past them.
//! - Architecture Invariant: blocks beyond the head exist only under a staging marker for that
//!   head; nothing else may remove or ignore them.
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
pub mod jsonl;
pub mod ledger;
pub mod limits;
pub mod store;
pub mod tlog;
