//! The ledger's side of issue 10: the Merkle tree kept up with the chain (catch-up, rebuild),
//! read by readers without a lock, and `verify`'s checks of the stored tree and of every
//! stored checkpoint against the records.

use super::{IntegrityError, Ledger, LedgerError, Records};
use crate::audit::claims::{claims_of, Claims};
use crate::domain::QuotaState;
use crate::format::chain;
use crate::store::checkpoints::{self, StoredCheckpoint};
use crate::store::tree::{Edge, StoredHashes, TreeReader};
use crate::tlog::checkpoint::{open_checkpoint, Checkpoint};
use crate::tlog::merkle::{Hash, Sha256, TreeHasher};
use crate::tlog::note::VerifierKey;
use std::path::Path;

impl Ledger {
    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The canonical bytes of committed record `seq`, found by block headers (a few
    /// milliseconds at any size; see `store::locate`).
    pub fn record_bytes(&self, seq: u64) -> Result<Vec<u8>, LedgerError> {
        if seq >= self.head.records {
            return Err(LedgerError::Empty(format!("record {seq} is past the head ({} records)", self.head.records)));
        }
        Ok(crate::store::locate::record_bytes(self.disk.as_ref(), &self.layout.segments(), &self.layout.tree(), seq)?)
    }

    /// Extends the block index `prove` finds records by over the committed blocks (writers).
    pub fn index_blocks(&self) -> Result<u64, LedgerError> {
        if self.writer.is_none() {
            return Err(LedgerError::Empty("indexing blocks needs a writer".into()));
        }
        let (segments, tree) = (self.layout.segments(), self.layout.tree());
        Ok(crate::store::locate::index_blocks(self.disk.as_ref(), &segments, &tree, self.head.records)?)
    }

    /// The published Merkle tree (`None` if no writer of this version has opened the ledger
    /// yet). Readers take no lock; the tree may cover more records than this handle's head.
    pub fn tree(&self) -> Result<Option<TreeReader>, LedgerError> {
        Ok(TreeReader::open(&self.layout.tree())?)
    }

    /// The tree's size and root, and the claims of the head, for a checkpoint of the head
    /// (writers only: their tree is caught up with the head).
    pub fn head_claims(&self) -> Result<(u64, Hash, Claims), LedgerError> {
        let writer = self.writer.as_ref().ok_or_else(|| LedgerError::Empty("checkpoints need a writer".into()))?;
        let tree = writer.tree_ref();
        if tree.size() != self.head.records {
            return Err(IntegrityError::Tree {
                seq: Some(tree.size().min(self.head.records)),
                what: format!("the tree has {} leaves, the chain {} records", tree.size(), self.head.records),
            }
            .into());
        }
        let state = self.state()?;
        Ok((tree.size(), tree.root(), claims_of(&state, self.head.last_hash)))
    }

    /// Brings the tree up to the head from the chain (a writer that opens; a rebuild).
    pub(super) fn catch_up_tree(&mut self) -> Result<(), LedgerError> {
        let have = self.writer.as_ref().map_or(self.head.records, |w| w.tree_ref().size());
        let off = std::env::var_os(crate::store::tree::TREE_OFF_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        if have >= self.head.records || off {
            return Ok(());
        }
        let records = Records::hashed(self, have, self.head.records)?;
        let writer = self.writer.as_mut().expect("checked above");
        for r in records {
            writer.tree().push(&r?.bytes)?;
        }
        writer.publish_tree()?;
        Ok(())
    }

    /// Starts the tree over and rebuilds it from the chain.
    pub(super) fn rebuild_tree(&mut self) -> Result<(), LedgerError> {
        self.writer.as_mut().expect("reindex needs a writer").reset_tree()?;
        self.catch_up_tree()
    }

    /// The tree and checkpoint checks `verify` runs alongside its replay.
    pub(super) fn tree_check(&self, records: u64) -> Result<TreeCheck, LedgerError> {
        let stored = match self.tree()? {
            Some(tree) => {
                let covered = tree.size().min(records);
                let root = (tree.size() == covered).then_some(tree.manifest_root());
                Some(StoredTree { hashes: tree.stored_prefix(covered)?, covered, root })
            }
            None => None,
        };
        let mut pending = Vec::new();
        let dir = self.layout.checkpoints();
        for id in checkpoints::list(&dir)?.into_iter().filter(|c| c.size <= records) {
            pending.push(open_stored(&dir, id)?);
        }
        pending.reverse();
        let mut check = TreeCheck { edge: Edge::default(), stored, pending, checkpoints: 0 };
        check.compare_checkpoints(&QuotaState::default(), &chain::GENESIS_PREV)?;
        Ok(check)
    }
}

/// A stored checkpoint opened with its stored verifier key.
struct OpenedCheckpoint {
    id: StoredCheckpoint,
    checkpoint: Checkpoint,
    claims: Claims,
}

fn open_stored(dir: &Path, id: StoredCheckpoint) -> Result<OpenedCheckpoint, IntegrityError> {
    let bad = |what: String| IntegrityError::Checkpoint { size: id.size, what };
    let (note, vkey) = checkpoints::read(dir, id).map_err(|e| bad(e.to_string()))?;
    let key = VerifierKey::parse(&vkey).map_err(|e| bad(format!("its verifier key: {e}")))?;
    if key.key_id() != id.key_id {
        return Err(bad(format!("its file names key {:08x}, its key file holds {:08x}", id.key_id, key.key_id())));
    }
    let opened = open_checkpoint(&note, key.name(), &key).map_err(|e| bad(e.to_string()))?;
    if opened.checkpoint.size != id.size {
        return Err(bad(format!("its file name says size {}, it signs size {}", id.size, opened.checkpoint.size)));
    }
    let claims = Claims::parse(&opened.checkpoint.extensions).map_err(|e| bad(e.to_string()))?;
    Ok(OpenedCheckpoint { id, checkpoint: opened.checkpoint, claims })
}

/// The stored tree's hashes still to compare.
struct StoredTree {
    hashes: StoredHashes,
    /// Leaves compared (the stored tree's size, or the head if that is smaller).
    covered: u64,
    /// The manifest's root, when the manifest covers exactly `covered` leaves.
    root: Option<Hash>,
}

/// `verify`'s tree check: the tree recomputed from the records, compared node by node with
/// the stored one, and with every stored checkpoint at its size (root, head hash, state root).
pub(super) struct TreeCheck {
    edge: Edge,
    stored: Option<StoredTree>,
    /// Checkpoints still to check, the smallest size last.
    pending: Vec<OpenedCheckpoint>,
    checkpoints: u64,
}

impl TreeCheck {
    /// One record, after the state applied it: its canonical bytes and hash.
    pub(super) fn record(&mut self, bytes: &[u8], hash: &[u8; 32], state: &QuotaState) -> Result<(), IntegrityError> {
        let seq = self.edge.size();
        let hashes = self
            .edge
            .push(Sha256::hash_leaf(bytes))
            .map_err(|e| IntegrityError::Tree { seq: Some(seq), what: e.to_string() })?;
        if let Some(stored) = self.stored.as_mut().filter(|s| seq < s.covered) {
            for hash in hashes {
                let found = stored
                    .hashes
                    .next_hash()
                    .map_err(|e| IntegrityError::Tree { seq: Some(seq), what: e.to_string() })?;
                if found != Some(hash) {
                    return Err(IntegrityError::Tree {
                        seq: Some(seq),
                        what: "the stored tree differs from the tree of the records".into(),
                    });
                }
            }
            if seq + 1 == stored.covered && stored.root.is_some_and(|root| root != self.edge.root()) {
                return Err(IntegrityError::Tree { seq: Some(seq), what: "the tree manifest's root differs".into() });
            }
        }
        self.compare_checkpoints(state, hash)
    }

    /// Checks every pending checkpoint of the current size.
    fn compare_checkpoints(&mut self, state: &QuotaState, head: &[u8; 32]) -> Result<(), IntegrityError> {
        while self.pending.last().is_some_and(|c| c.id.size == self.edge.size()) {
            let c = self.pending.pop().expect("checked by the loop condition");
            let bad = |what: &str| IntegrityError::Checkpoint { size: c.id.size, what: what.to_owned() };
            if c.checkpoint.root != self.edge.root() {
                return Err(bad("its root is not the root of the records' tree"));
            }
            if c.claims.head != *head {
                return Err(bad("its head hash is not the hash of its last record"));
            }
            if c.claims != claims_of(state, *head) {
                return Err(bad("its quota-state root is not the root of the replayed state"));
            }
            self.checkpoints += 1;
        }
        Ok(())
    }

    /// After the last record: `(leaves of the stored tree compared, checkpoints checked)`.
    pub(super) fn finish(self) -> Result<(u64, u64), IntegrityError> {
        if let Some(c) = self.pending.last() {
            return Err(IntegrityError::Checkpoint { size: c.id.size, what: "the chain ends before its size".into() });
        }
        Ok((self.stored.map_or(0, |s| s.covered), self.checkpoints))
    }
}
