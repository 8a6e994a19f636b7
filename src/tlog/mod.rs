//! Transparency-log formats and proofs (issue 10), pure and storage-independent: the Merkle
//! tree of RFC 9162 section 2.1 with its inclusion and consistency proofs, C2SP signed notes,
//! checkpoints and tiles. Nothing here does I/O, reads a clock or knows the ledger's store;
//! the store answers [`merkle::NodeSource`] (node hashes) or [`tiles::TileReader`] (tiles),
//! and the CLI reads and writes the texts and bytes defined here.
//!
//! # What each file owns
//!
//! - [`merkle`]: the tree hash with the hash function a parameter ([`merkle::TreeHasher`],
//!   [`merkle::Sha256`]); roots, `PATH` and `PROOF` generation from a [`merkle::NodeSource`];
//!   the verification algorithms of RFC 9162 2.1.3.2 and 2.1.4.2; an in-memory tree.
//! - [`note`]: C2SP signed notes with Ed25519: verifier and signer keys in the
//!   `golang.org/x/mod/sumdb/note` text forms, signing, strict parsing, verification.
//! - [`checkpoint`]: C2SP tlog-checkpoint: the tree head text, signed and opened as a note.
//! - [`tiles`]: C2SP tlog-tiles: tile paths, which tiles a tree has, tile contents, entry
//!   bundles, nodes read back from tiles, and the stored-hash order of `sumdb/tlog`.
//!
//! # How quotaledger uses them (issue 10)
//!
//! The entry of record `seq` is its canonical record bytes (the `bytes` of `export`); leaf
//! `seq` of the tree is `SHA-256(0x00 || bytes)`. A checkpoint's origin is the log's name and
//! its signer key name; its extension lines carry the BLAKE3 head hash and the quota-state
//! root. The BLAKE3 chain is unchanged.
//!
//! # Invariants
//!
//! - Architecture Invariant: `tlog` imports nothing of the ledger (`store`, `format`,
//!   `domain`, `ledger`, `cli`); the ledger depends on it, never the reverse.
//! - Invariant: every verifier fails closed: a proof, note, key, checkpoint or tile is
//!   accepted only if every check passed; any input it cannot fully check is an error, never
//!   a default. A proof is accepted only with exactly the number of hashes its sizes imply.
//! - Invariant: every parser is strict and canonical: each accepted text or byte string has
//!   exactly one spelling (no leading zeros, canonical base64 with zero padding bits, exact
//!   lengths, no trailing bytes), so formatting what was parsed gives the input back.
//! - Invariant: no input can make this module panic; all sizes are bounded by named limits
//!   (`*_MAX`, with units) checked before the work they bound, and index arithmetic is
//!   checked.
//! - Invariant: errors are typed (`thiserror`), one enum per file.
//!
//! # Standards, and where they are tested
//!
//! RFC 9162 section 2.1 (`tests/tlog_vectors.rs`: the transparency-dev/merkle inclusion and
//! consistency vectors in `tests/vectors/`), c2sp.org/signed-note (its examples and
//! `sumdb/note`'s `note_test.go` keys and notes), c2sp.org/tlog-checkpoint (its example),
//! c2sp.org/tlog-tiles (its examples and `sumdb/tlog`'s tile tests). Property tests of every
//! single mutation being rejected are in `tests/tlog_properties.rs`.

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod tiles;
