//! Proving the ledger to an auditor who trusts nobody (issue 10), in the transparency-log
//! formats of [`crate::tlog`]:
//!
//! - [`claims`]: what a quotaledger checkpoint signs beyond the tree head (extension lines:
//!   the BLAKE3 head hash and the quota-state tree root) and the quota-state tree. Pure.
//! - [`keys`]: `keygen` and reading key files.
//! - [`proofs`]: signed checkpoints of a ledger, inclusion, consistency and license-state
//!   proofs as JSON documents, evidence bundles; and their offline checks, which need nothing
//!   but the document and a verifier key.
//! - [`publish`]: the C2SP tlog-tiles directory of a ledger.
//! - [`client`]: `audit`: a published log (directory or http(s) URL) checked against the last
//!   checkpoint this user verified, kept outside any ledger.
//!
//! Invariant: every check fails closed and names what failed in one line; a verifier gets
//! its trust anchor (the verifier key) only from the user, never from the document it checks.
//! Invariant: the ledger's records stay the single source of truth; the tree and the
//! checkpoints are checked against them by `verify`.

pub mod claims;
pub mod client;
pub mod keys;
pub mod proofs;
pub mod publish;

use crate::ledger::LedgerError;
use crate::store::StoreError;
use std::io::Read;
use std::path::Path;

/// Why an audit command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The ledger failed (its own exit code).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Storage failed (exit 4; damage is exit 3).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad input: a malformed document or key, something asked for that is not there (exit 1).
    #[error("{0}")]
    Input(String),
    /// A proof, signature or claim does not verify (exit 3).
    #[error("{0}")]
    Rejected(String),
    /// The log misbehaved: a rollback, a fork, a proof it cannot give (exit 3). The evidence
    /// (both checkpoints) is printed on stdout.
    #[error("{what}")]
    Misbehaviour {
        /// What was caught.
        what: String,
        /// The checkpoints that prove it, as text.
        evidence: String,
    },
    /// A source could not be reached or read (exit 4).
    #[error("{0}")]
    Unreachable(String),
}

impl AuditError {
    /// The documented exit code: 1 bad input, 3 integrity or verification, 4 storage.
    pub fn exit_code(&self) -> u8 {
        match self {
            AuditError::Ledger(e) => e.exit_code(),
            AuditError::Store(StoreError::Damaged { .. }) => 3,
            AuditError::Store(_) | AuditError::Unreachable(_) => 4,
            AuditError::Input(_) => 1,
            AuditError::Rejected(_) | AuditError::Misbehaviour { .. } => 3,
        }
    }
}

/// A small input file (a key, a CA file), whole: one that cannot be read or is larger than
/// `max` bytes is bad input, said by `bad`.
fn read_input_file(path: &Path, max: u64, bad: impl Fn(String) -> AuditError) -> Result<Vec<u8>, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(bad(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}
