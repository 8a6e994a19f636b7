//! Signed checkpoints of a ledger, the proof documents `prove` and `bundle` print, and their
//! offline checks (`check-proof`, `check-bundle`).
//!
//! # Documents (JSON, one object; unknown fields refused)
//!
//! Tree hashes are standard base64 (as in checkpoints); record and row bytes are lowercase hex
//! (as `export`'s `bytes`); `checkpoint` fields hold a signed note (C2SP tlog-checkpoint).
//!
//! ```text
//! {"kind":"inclusion","seq":N,"tree_size":M,"entry":HEX,"leaf_hash":B64,"proof":[B64...],"checkpoint":NOTE}
//! {"kind":"consistency","old_size":A,"new_size":B,"proof":[B64...],"old_checkpoint":NOTE,"new_checkpoint":NOTE}
//! {"kind":"license","license":L,"tree_size":M,"row":HEX,"index":I,"state_size":K,"proof":[B64...],"checkpoint":NOTE}
//! {"kind":"bundle","license":L,"tree_size":M,"checkpoint":NOTE,
//!  "records":[{"seq":N,"entry":HEX,"proof":[B64...]}...],
//!  "state":{"row":HEX,"index":I,"state_size":K,"proof":[B64...]}}
//! ```
//!
//! # What a check proves
//!
//! Every check first opens the checkpoint with the verifier key the user gives (origin = the
//! key's name) and parses its claims ([`super::claims`]); sizes in the document must equal the
//! signed ones. An inclusion proof then proves that `entry` is record `seq` of the signed tree
//! (RFC 9162 2.1.3.2), that it is a canonical record with that seq, and, for the last record,
//! that its BLAKE3 hash is the signed head. A consistency proof proves the older tree is a
//! prefix of the newer (2.1.4.2). A license proof proves the row is leaf `index` of the signed
//! quota-state tree. A bundle proves each record, the row, and that replaying the records
//! gives exactly that row: a record touching the license that changed its state cannot be
//! left out.

use super::claims::{b64, claims_of, parse_b64_hash, parse_hex, Claims, StateTree};
use super::AuditError;
use crate::domain::{Fact, QuotaState};
use crate::format::chain;
use crate::format::license_row::{LicenseRowV1, LICENSE_ROW_BYTES_MAX};
use crate::format::record::Record;
use crate::ledger::{AsOf, IntegrityError, Ledger, Records};
use crate::limits::RECORD_BYTES_MAX;
use crate::store::checkpoints::{self, StoredCheckpoint};
use crate::store::tree::TreeReader;
use crate::store::{Layout, StoreError};
use crate::tlog::checkpoint::{open_checkpoint, Checkpoint};
use crate::tlog::merkle::CONSISTENCY_PROOF_HASHES_MAX;
use crate::tlog::merkle::{self, Hash, NodeSource, ProveError, Sha256, TreeHasher, INCLUSION_PROOF_HASHES_MAX};
use crate::tlog::note::{SignerKey, VerifierKey};
use serde::{Deserialize, Serialize};

/// Largest proof document `check-proof` reads, in bytes.
pub const PROOF_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Largest bundle `check-bundle` reads, in bytes.
pub const BUNDLE_FILE_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// `kind` of an inclusion proof.
pub const KIND_INCLUSION: &str = "inclusion";
/// `kind` of a consistency proof.
pub const KIND_CONSISTENCY: &str = "consistency";
/// `kind` of a license-state proof.
pub const KIND_LICENSE: &str = "license";
/// `kind` of an evidence bundle.
pub const KIND_BUNDLE: &str = "bundle";

/// Record `seq` is in the tree of a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct InclusionProof {
    pub kind: String,
    pub seq: u64,
    pub tree_size: u64,
    pub entry: String,
    pub leaf_hash: String,
    pub proof: Vec<String>,
    pub checkpoint: String,
}

/// The tree of one signed checkpoint is a prefix of another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ConsistencyProof {
    pub kind: String,
    pub old_size: u64,
    pub new_size: u64,
    pub proof: Vec<String>,
    pub old_checkpoint: String,
    pub new_checkpoint: String,
}

/// A license's row in the quota-state tree of a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LicenseProof {
    pub kind: String,
    pub license: String,
    pub tree_size: u64,
    pub row: String,
    pub index: u64,
    pub state_size: u64,
    pub proof: Vec<String>,
    pub checkpoint: String,
}

/// Every record touching a license, each with its inclusion proof, and its state proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Bundle {
    pub kind: String,
    pub license: String,
    pub tree_size: u64,
    pub checkpoint: String,
    pub records: Vec<BundleRecord>,
    pub state: StateProof,
}

/// One record of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BundleRecord {
    pub seq: u64,
    pub entry: String,
    pub proof: Vec<String>,
}

/// A license row and its path in the quota-state tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StateProof {
    pub row: String,
    pub index: u64,
    pub state_size: u64,
    pub proof: Vec<String>,
}

/// A stored checkpoint, opened with its stored key.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Its name in `PATH/checkpoints/`.
    pub id: StoredCheckpoint,
    /// The signed note.
    pub note: String,
    /// The tree head.
    pub checkpoint: Checkpoint,
    /// Its claims.
    pub claims: Claims,
}

// ---------------------------------------------------------------------------------------------
// The ledger side: signing and proving.

/// Signs a checkpoint of the head of a ledger opened for writing, and stores it (with its
/// verifier key) under `PATH/checkpoints/`. Returns the signed note and whether it is new.
pub fn checkpoint(ledger: &Ledger, signer: &SignerKey) -> Result<(String, bool), AuditError> {
    let (size, root, claims) = ledger.head_claims()?;
    ledger.index_blocks()?;
    let bad = |e: &dyn std::fmt::Display| AuditError::Input(format!("checkpoint: {e}"));
    let note =
        Checkpoint::new(signer.name(), size, root, claims.lines()).and_then(|c| c.sign(signer)).map_err(|e| bad(&e))?;
    let vkey = signer.verifier().map_err(|e| bad(&e))?.to_string();
    let id = StoredCheckpoint { size, key_id: signer.key_id() };
    let new = checkpoints::store(&Layout::new(ledger.dir()).checkpoints(), id, &note, &vkey)?;
    Ok((note, new))
}

/// The stored checkpoint of `size` (default: the largest), preferring key `key_id`.
pub fn stored_checkpoint(ledger: &Ledger, size: Option<u64>, key_id: Option<u32>) -> Result<Signed, AuditError> {
    let dir = Layout::new(ledger.dir()).checkpoints();
    let all = checkpoints::list(&dir)?;
    let of_size: Vec<StoredCheckpoint> = all.into_iter().filter(|c| size.is_none_or(|s| c.size == s)).collect();
    let id = key_id.and_then(|k| of_size.iter().rev().find(|c| c.key_id == k)).or(of_size.last()).copied().ok_or_else(
        || {
            AuditError::Input(match size {
                Some(s) => {
                    format!("no checkpoint of size {s} is stored (run `qledger checkpoint --key KEYFILE` at that size)")
                }
                None => "no checkpoint is stored yet (run `qledger checkpoint --key KEYFILE`)".to_owned(),
            })
        },
    )?;
    let bad = |what: String| AuditError::Ledger(IntegrityError::Checkpoint { size: id.size, what }.into());
    let (note, vkey) = checkpoints::read(&dir, id)?;
    let key = VerifierKey::parse(&vkey).map_err(|e| bad(format!("its stored verifier key: {e}")))?;
    let opened = open_checkpoint(&note, key.name(), &key).map_err(|e| bad(e.to_string()))?;
    let claims = Claims::parse(&opened.checkpoint.extensions).map_err(|e| bad(e.to_string()))?;
    let note = String::from_utf8(note).map_err(|_| bad("not UTF-8".into()))?;
    Ok(Signed { id, note, checkpoint: opened.checkpoint, claims })
}

/// The published tree, covering at least `size` leaves, its root at `size` checked.
pub(crate) fn tree_for(ledger: &Ledger, signed: &Signed) -> Result<TreeReader, AuditError> {
    let size = signed.checkpoint.size;
    let mut tree = ledger.tree()?.ok_or_else(|| {
        AuditError::Input(
            "the ledger has no Merkle tree yet: any writer command (`qledger checkpoint`) builds it".into(),
        )
    })?;
    if tree.size() < size {
        return Err(AuditError::Input(format!(
            "the Merkle tree covers {} records, the checkpoint {size}: any writer command catches it up",
            tree.size()
        )));
    }
    let root = merkle::root::<Sha256, _>(&mut tree, size).map_err(prove_error)?;
    if root != signed.checkpoint.root {
        return Err(tree_damage(None, format!("its root at size {size} is not the checkpoint's")));
    }
    Ok(tree)
}

fn tree_damage(seq: Option<u64>, what: String) -> AuditError {
    AuditError::Ledger(IntegrityError::Tree { seq, what }.into())
}

fn prove_error(e: ProveError<StoreError>) -> AuditError {
    match e {
        ProveError::Read { source, .. } => AuditError::Store(source),
        other => AuditError::Input(other.to_string()),
    }
}

fn b64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| b64(h)).collect()
}

/// The canonical bytes of record `seq`.
fn entry(ledger: &Ledger, seq: u64) -> Result<Vec<u8>, AuditError> {
    if seq >= ledger.head().records {
        return Err(AuditError::Input(format!("record {seq} is past this reader's head; retry")));
    }
    Ok(ledger.record_bytes(seq)?)
}

/// `prove --seq N [--size M]`.
pub fn prove_inclusion(ledger: &Ledger, seq: u64, size: Option<u64>) -> Result<InclusionProof, AuditError> {
    let signed = stored_checkpoint(ledger, size, None)?;
    let tree_size = signed.checkpoint.size;
    if seq >= tree_size {
        return Err(AuditError::Input(format!("--seq {seq} is not in the tree of size {tree_size}")));
    }
    let mut tree = tree_for(ledger, &signed)?;
    let proof = merkle::prove_inclusion::<Sha256, _>(&mut tree, seq, tree_size).map_err(prove_error)?;
    let leaf = tree.node(0, seq)?;
    let entry = entry(ledger, seq)?;
    if Sha256::hash_leaf(&entry) != leaf {
        return Err(tree_damage(Some(seq), "the stored leaf is not the hash of the record".into()));
    }
    Ok(InclusionProof {
        kind: KIND_INCLUSION.into(),
        seq,
        tree_size,
        entry: chain::hex(&entry),
        leaf_hash: b64(&leaf),
        proof: b64_all(&proof),
        checkpoint: signed.note,
    })
}

/// `prove --from A --to B`.
pub fn prove_consistency(ledger: &Ledger, from: u64, to: u64) -> Result<ConsistencyProof, AuditError> {
    if from == 0 || from > to {
        return Err(AuditError::Input(format!("--from {from} --to {to}: needs 0 < FROM <= TO")));
    }
    let new = stored_checkpoint(ledger, Some(to), None)?;
    let old = stored_checkpoint(ledger, Some(from), Some(new.id.key_id))?;
    if old.checkpoint.origin != new.checkpoint.origin {
        return Err(AuditError::Input(format!(
            "the checkpoints of sizes {from} and {to} are of different origins ({} and {})",
            old.checkpoint.origin, new.checkpoint.origin
        )));
    }
    let mut tree = tree_for(ledger, &new)?;
    let proof = if from == to {
        Vec::new()
    } else {
        merkle::prove_consistency::<Sha256, _>(&mut tree, from, to).map_err(prove_error)?
    };
    Ok(ConsistencyProof {
        kind: KIND_CONSISTENCY.into(),
        old_size: from,
        new_size: to,
        proof: b64_all(&proof),
        old_checkpoint: old.note,
        new_checkpoint: new.note,
    })
}

/// The quota state after the first `records` records.
fn state_at(ledger: &Ledger, records: u64) -> Result<QuotaState, AuditError> {
    match records.checked_sub(1) {
        None => Ok(QuotaState::default()),
        Some(_) if records > ledger.head().records => {
            Err(AuditError::Input(format!("size {records} is past this reader's head; retry")))
        }
        Some(last) => Ok(ledger.state_as_of(AsOf::Seq(last))?),
    }
}

/// License `license`'s row and path in the quota-state tree the checkpoint signs.
fn state_proof(ledger: &Ledger, signed: &Signed, license: &str) -> Result<StateProof, AuditError> {
    let size = signed.checkpoint.size;
    let state = state_at(ledger, size)?;
    let mut tree = StateTree::of(&state);
    if claims_of(&state, signed.claims.head) != signed.claims {
        return Err(AuditError::Ledger(
            IntegrityError::Checkpoint { size, what: "its quota-state root is not the root of the state".into() }
                .into(),
        ));
    }
    let (index, row, proof) = tree
        .prove(license)
        .ok_or_else(|| AuditError::Input(format!("no license {license} in the state after {size} records")))?;
    Ok(StateProof { row: chain::hex(&row), index, state_size: tree.size(), proof: b64_all(&proof) })
}

/// `prove --license L [--size M]`.
pub fn prove_license(ledger: &Ledger, license: &str, size: Option<u64>) -> Result<LicenseProof, AuditError> {
    let signed = stored_checkpoint(ledger, size, None)?;
    let s = state_proof(ledger, &signed, license)?;
    Ok(LicenseProof {
        kind: KIND_LICENSE.into(),
        license: license.to_owned(),
        tree_size: signed.checkpoint.size,
        row: s.row,
        index: s.index,
        state_size: s.state_size,
        proof: s.proof,
        checkpoint: signed.note,
    })
}

/// `bundle --license L`: against the latest checkpoint (or the one of `size`).
pub fn bundle(ledger: &Ledger, license: &str, size: Option<u64>) -> Result<Bundle, AuditError> {
    let signed = stored_checkpoint(ledger, size, None)?;
    let tree_size = signed.checkpoint.size;
    let state = state_proof(ledger, &signed, license)?;
    let mut tree = tree_for(ledger, &signed)?;
    let mut records = Vec::new();
    for r in Records::hashed(ledger, 0, tree_size.min(ledger.head().records))? {
        let r = r?;
        if r.fact.touches(license) {
            let proof = merkle::prove_inclusion::<Sha256, _>(&mut tree, r.seq, tree_size).map_err(prove_error)?;
            records.push(BundleRecord { seq: r.seq, entry: chain::hex(&r.bytes), proof: b64_all(&proof) });
        }
    }
    Ok(Bundle {
        kind: KIND_BUNDLE.into(),
        license: license.to_owned(),
        tree_size,
        checkpoint: signed.note,
        records,
        state,
    })
}

// ---------------------------------------------------------------------------------------------
// The offline side: checking documents with a verifier key and nothing else.

/// What a checked proof proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Record `seq` of the tree of `size` leaves of log `origin`.
    Inclusion {
        /// The log.
        origin: String,
        /// The signed tree size.
        size: u64,
        /// The record's seq.
        seq: u64,
        /// Its fact.
        fact: Fact,
        /// Its BLAKE3 hash.
        hash: [u8; 32],
    },
    /// The tree of `old` leaves is a prefix of the tree of `new` leaves.
    Consistency {
        /// The log.
        origin: String,
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The license's row in the state after `size` records.
    License {
        /// The log.
        origin: String,
        /// The signed tree size.
        size: u64,
        /// The proven row.
        row: LicenseRowV1,
    },
}

/// What a checked bundle proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBundle {
    /// The log.
    pub origin: String,
    /// The signed tree size.
    pub size: u64,
    /// The license.
    pub license: String,
    /// Its records: seq and fact.
    pub records: Vec<(u64, Fact)>,
    /// Its proven row.
    pub row: LicenseRowV1,
}

fn rejected(what: impl std::fmt::Display) -> AuditError {
    AuditError::Rejected(what.to_string())
}

/// Parses a document of the expected shape.
fn parse_doc<T: for<'de> Deserialize<'de>>(doc: &[u8], max: u64, what: &str) -> Result<T, AuditError> {
    if doc.len() as u64 > max {
        return Err(AuditError::Input(format!("the {what} has {} bytes, more than {max}", doc.len())));
    }
    serde_json::from_slice(doc).map_err(|e| AuditError::Input(format!("not a {what}: {e}")))
}

/// Opens a signed checkpoint with the user's key (origin = the key's name).
fn open(note: &str, key: &VerifierKey) -> Result<(Checkpoint, Claims), AuditError> {
    let opened = open_checkpoint(note.as_bytes(), key.name(), key).map_err(|e| rejected(format!("checkpoint: {e}")))?;
    let claims = Claims::parse(&opened.checkpoint.extensions).map_err(|e| rejected(format!("checkpoint: {e}")))?;
    Ok((opened.checkpoint, claims))
}

fn hashes(list: &[String], max: usize) -> Result<Vec<Hash>, AuditError> {
    if list.len() > max {
        return Err(rejected(format!("a proof of {} hashes is longer than any valid one ({max})", list.len())));
    }
    list.iter()
        .enumerate()
        .map(|(i, h)| parse_b64_hash(h).ok_or_else(|| rejected(format!("proof hash {i} is not base64 of 32 bytes"))))
        .collect()
}

fn same_size(field: &str, claimed: u64, signed: u64) -> Result<(), AuditError> {
    if claimed == signed {
        Ok(())
    } else {
        Err(rejected(format!("{field} {claimed} is not the signed size {signed}")))
    }
}

/// `check-proof`: checks a proof document offline.
pub fn check_proof(doc: &[u8], key: &VerifierKey) -> Result<Checked, AuditError> {
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    let kind: Kind = parse_doc(doc, PROOF_FILE_BYTES_MAX, "proof document")?;
    match kind.kind.as_str() {
        KIND_INCLUSION => check_inclusion(&parse_doc(doc, PROOF_FILE_BYTES_MAX, "inclusion proof")?, key),
        KIND_CONSISTENCY => check_consistency(&parse_doc(doc, PROOF_FILE_BYTES_MAX, "consistency proof")?, key),
        KIND_LICENSE => check_license(&parse_doc(doc, PROOF_FILE_BYTES_MAX, "license proof")?, key),
        KIND_BUNDLE => Err(AuditError::Input("this is a bundle: check it with `qledger check-bundle`".into())),
        other => Err(AuditError::Input(format!("unknown proof kind {:?}", other.chars().take(32).collect::<String>()))),
    }
}

/// Checks one record's inclusion in a signed tree: returns its fact and BLAKE3 hash.
fn check_entry(
    cp: &Checkpoint,
    claims: &Claims,
    seq: u64,
    entry_hex: &str,
    proof: &[String],
) -> Result<(Fact, [u8; 32], Hash), AuditError> {
    let entry = parse_hex(entry_hex, RECORD_BYTES_MAX)
        .ok_or_else(|| rejected(format!("record {seq}: entry is not hex of a record")))?;
    let leaf = Sha256::hash_leaf(&entry);
    let proof = hashes(proof, INCLUSION_PROOF_HASHES_MAX)?;
    cp.verify_inclusion(seq, &leaf, &proof).map_err(|e| rejected(format!("record {seq}: inclusion: {e}")))?;
    let record = Record::decode(&entry)
        .map_err(|e| rejected(format!("record {seq}: the entry is not a canonical record: {e}")))?;
    if record.seq() != seq {
        return Err(rejected(format!("the entry at {seq} is record {}", record.seq())));
    }
    let hash = chain::record_hash(&entry);
    if seq + 1 == cp.size && hash != claims.head {
        return Err(rejected(format!(
            "record {seq} is the last of the signed tree, but its hash is not the signed head"
        )));
    }
    let fact = record.into_fact().map_err(|e| rejected(format!("record {seq}: {e}")))?;
    Ok((fact, hash, leaf))
}

fn check_inclusion(d: &InclusionProof, key: &VerifierKey) -> Result<Checked, AuditError> {
    let (cp, claims) = open(&d.checkpoint, key)?;
    same_size("tree_size", d.tree_size, cp.size)?;
    let (fact, hash, leaf) = check_entry(&cp, &claims, d.seq, &d.entry, &d.proof)?;
    if parse_b64_hash(&d.leaf_hash) != Some(leaf) {
        return Err(rejected("leaf_hash is not the leaf hash of the entry"));
    }
    Ok(Checked::Inclusion { origin: cp.origin, size: cp.size, seq: d.seq, fact, hash })
}

fn check_consistency(d: &ConsistencyProof, key: &VerifierKey) -> Result<Checked, AuditError> {
    let (old, _) = open(&d.old_checkpoint, key)?;
    let (new, _) = open(&d.new_checkpoint, key)?;
    same_size("old_size", d.old_size, old.size)?;
    same_size("new_size", d.new_size, new.size)?;
    let proof = hashes(&d.proof, CONSISTENCY_PROOF_HASHES_MAX)?;
    old.verify_consistency(&new, &proof).map_err(|e| rejected(format!("consistency: {e}")))?;
    Ok(Checked::Consistency { origin: new.origin, old: old.size, new: new.size })
}

/// Checks a license row and its path against the signed quota-state root.
fn check_state(license: &str, s: &StateProof, claims: &Claims) -> Result<LicenseRowV1, AuditError> {
    same_size("state_size", s.state_size, claims.state_size)?;
    let bytes = parse_hex(&s.row, LICENSE_ROW_BYTES_MAX).ok_or_else(|| rejected("row is not hex of a license row"))?;
    let row = LicenseRowV1::decode(&bytes).map_err(|e| rejected(format!("row: {e}")))?;
    if row.license != license {
        return Err(rejected(format!("the row is of license {:?}, not {license:?}", row.license)));
    }
    let proof = hashes(&s.proof, INCLUSION_PROOF_HASHES_MAX)?;
    merkle::verify_inclusion::<Sha256>(
        s.index,
        claims.state_size,
        &Sha256::hash_leaf(&bytes),
        &proof,
        &claims.state_root,
    )
    .map_err(|e| rejected(format!("license state: {e}")))?;
    Ok(row)
}

fn check_license(d: &LicenseProof, key: &VerifierKey) -> Result<Checked, AuditError> {
    let (cp, claims) = open(&d.checkpoint, key)?;
    same_size("tree_size", d.tree_size, cp.size)?;
    let s = StateProof { row: d.row.clone(), index: d.index, state_size: d.state_size, proof: d.proof.clone() };
    let row = check_state(&d.license, &s, &claims)?;
    Ok(Checked::License { origin: cp.origin, size: cp.size, row })
}

/// `check-bundle`: checks an evidence bundle offline.
pub fn check_bundle(doc: &[u8], key: &VerifierKey) -> Result<CheckedBundle, AuditError> {
    let b: Bundle = parse_doc(doc, BUNDLE_FILE_BYTES_MAX, "bundle")?;
    if b.kind != KIND_BUNDLE {
        return Err(AuditError::Input(format!(
            "not a bundle (kind {:?})",
            b.kind.chars().take(32).collect::<String>()
        )));
    }
    let (cp, claims) = open(&b.checkpoint, key)?;
    same_size("tree_size", b.tree_size, cp.size)?;
    let row = check_state(&b.license, &b.state, &claims)?;
    let mut replay = QuotaState::default();
    let mut records = Vec::with_capacity(b.records.len());
    let mut next = 0u64;
    for r in &b.records {
        if r.seq < next {
            return Err(rejected(format!("record {} is out of order or repeated", r.seq)));
        }
        let (fact, _, _) = check_entry(&cp, &claims, r.seq, &r.entry, &r.proof)?;
        if !fact.touches(&b.license) {
            return Err(rejected(format!("record {} does not touch license {}", r.seq, b.license)));
        }
        replay.apply(&fact);
        records.push((r.seq, fact));
        next = r.seq + 1;
    }
    let replayed = replay.licenses.get(&b.license).map(|l| LicenseRowV1::from_license(&b.license, l));
    if replayed.as_ref() != Some(&row) {
        return Err(rejected(format!(
            "the bundle's records do not give license {}'s signed state: a record touching it is missing",
            b.license
        )));
    }
    Ok(CheckedBundle { origin: cp.origin, size: cp.size, license: b.license, records, row })
}
