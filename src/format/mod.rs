//! The ledger format: wire types, canonical encoding, block framing and the hash chain. Pure:
//! bytes in, bytes out, testable without a store.
//!
//! Architecture Invariant: only `format::codec` calls bincode; the wire types here are separate
//! from the domain types, so a refactor of the domain cannot change a stored byte unnoticed
//! (the golden vectors in `tests/golden.rs` would fail).

pub mod chain;
pub mod codec;
pub mod head;
pub mod index_run;
pub mod license_row;
pub mod record;
pub mod segment;
pub mod snapshot;
pub mod tree;

/// The format version written in every record, block, head and snapshot.
pub const FORMAT_VERSION: u8 = 1;

pub use codec::DecodeError;
