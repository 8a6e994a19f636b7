//! The ledger's side of issue 10: the Merkle tree kept up with the chain (catch-up, rebuild),
//! read by readers without a lock, and `verify`'s checks of the stored tree and of every
//! stored checkpoint against the records.

use super::{IntegrityError, Ledger, LedgerError, Records};
use crate::audit::claims::{claims_of, Claims};
use crate::domain::QuotaState;
use crate::format::chain;
use crate::format::tree::STORED_LEVEL_MIN;
use crate::store::checkpoints::{self, StoredCheckpoint};
use crate::store::locate;
use crate::store::tree::{Edge, LeafSource, StoredHashes, TreeReader};
use crate::tlog::checkpoint::{open_checkpoint, Checkpoint};
use crate::tlog::merkle::{Hash, Sha256, TreeHasher};
use crate::tlog::note::VerifierKey;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

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
        let (disk, segments, tree) = (self.disk.clone(), self.layout.segments(), self.layout.tree());
        let leaves = LeafSource(Box::new(move |first, end, out| {
            locate::for_each_record(disk.as_ref(), &segments, &tree, first, end, &mut |bytes| {
                out.push(Sha256::hash_leaf(bytes))
            })
        }));
        Ok(TreeReader::open(&self.layout.tree(), leaves)?)
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
        let off = crate::store::tree::tree_off_by_env();
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

    /// The tree and checkpoint checks `verify` runs alongside its replay (`enabled` false:
    /// none, for `verify --chain-only`).
    pub(super) fn tree_check(&self, records: u64, enabled: bool) -> Result<TreeCheck, LedgerError> {
        if !enabled {
            return Ok(TreeCheck {
                pending: Vec::new(),
                records: 0,
                batch: CheckBatch::default(),
                tree: TreeWork { edge: Edge::default(), stored: None, checkpoints: 0 },
                worker: None,
                enabled,
            });
        }
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
        let mut check = TreeCheck {
            pending,
            records: 0,
            batch: CheckBatch::default(),
            tree: TreeWork { edge: Edge::default(), stored, checkpoints: 0 },
            worker: None,
            enabled,
        };
        check.claims_due(&QuotaState::default(), &chain::GENESIS_PREV);
        let batch = std::mem::take(&mut check.batch);
        check.tree.run(&batch)?;
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

/// Records handed to the tree-checking thread at a time.
const CHECK_BATCH_RECORDS: usize = 4096;
/// Batches queued for the tree-checking thread.
const CHECK_BATCHES_IN_FLIGHT: usize = 4;

/// Records' canonical bytes, and the checkpoints due after some of them with the claims the
/// replay computed for them.
#[derive(Default)]
struct CheckBatch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// `(records after which it is due, the checkpoint, the claims of the replay)`.
    due: Vec<(u64, OpenedCheckpoint, Claims)>,
}

/// The tree recomputed from the records, compared node by node with the stored one, and at
/// each checkpoint's size with its root and claims: on a thread of its own.
struct TreeWork {
    edge: Edge,
    stored: Option<StoredTree>,
    checkpoints: u64,
}

impl TreeWork {
    fn run(&mut self, batch: &CheckBatch) -> Result<(), IntegrityError> {
        let mut due = batch.due.iter().peekable();
        let mut start = 0;
        for &end in &batch.ends {
            self.leaf(&batch.bytes[start..end])?;
            start = end;
            while let Some((_, c, claims)) = due.next_if(|d| d.0 == self.edge.size()) {
                self.compare(c, claims)?;
            }
        }
        for (_, c, claims) in due {
            self.compare(c, claims)?;
        }
        Ok(())
    }

    fn leaf(&mut self, bytes: &[u8]) -> Result<(), IntegrityError> {
        let seq = self.edge.size();
        let tree_error = |what: String| IntegrityError::Tree { seq: Some(seq), what };
        let hashes = self.edge.push(Sha256::hash_leaf(bytes)).map_err(|e| tree_error(e.to_string()))?;
        let Some(stored) = self.stored.as_mut().filter(|s| seq < s.covered) else { return Ok(()) };
        for hash in hashes.into_iter().skip(usize::from(STORED_LEVEL_MIN)) {
            if stored.hashes.next_hash().map_err(|e| tree_error(e.to_string()))? != Some(hash) {
                return Err(tree_error("the stored tree differs from the tree of the records".into()));
            }
        }
        if seq + 1 == stored.covered && stored.root.is_some_and(|root| root != self.edge.root()) {
            return Err(tree_error("the tree manifest's root differs".into()));
        }
        Ok(())
    }

    fn compare(&mut self, c: &OpenedCheckpoint, claims: &Claims) -> Result<(), IntegrityError> {
        let bad = |what: &str| IntegrityError::Checkpoint { size: c.id.size, what: what.to_owned() };
        if c.id.size != self.edge.size() {
            return Err(bad("the chain ends before its size"));
        }
        if c.checkpoint.root != self.edge.root() {
            return Err(bad("its root is not the root of the records' tree"));
        }
        if c.claims.head != claims.head {
            return Err(bad("its head hash is not the hash of its last record"));
        }
        if c.claims != *claims {
            return Err(bad("its quota-state root is not the root of the replayed state"));
        }
        self.checkpoints += 1;
        Ok(())
    }
}

/// `verify`'s tree check: the replay side gathers records and computes the claims due at each
/// checkpoint; a thread recomputes the tree and compares (as an append hashes its tree).
pub(super) struct TreeCheck {
    /// Checkpoints still due, the smallest size last.
    pending: Vec<OpenedCheckpoint>,
    records: u64,
    batch: CheckBatch,
    /// The work, until a thread takes it.
    tree: TreeWork,
    worker: Option<CheckWorker>,
    /// False for `verify --chain-only`: records are not looked at.
    enabled: bool,
}

/// The tree-checking thread: where batches go, and what it hands back.
type CheckWorker = (SyncSender<CheckBatch>, JoinHandle<Result<TreeWork, IntegrityError>>);

impl TreeCheck {
    /// Whether the tree is checked (`record` wants each record's canonical bytes).
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// One record, after the state applied it: its canonical bytes and hash.
    pub(super) fn record(&mut self, bytes: &[u8], hash: &[u8; 32], state: &QuotaState) -> Result<(), IntegrityError> {
        if !self.enabled {
            return Ok(());
        }
        self.batch.bytes.extend_from_slice(bytes);
        self.batch.ends.push(self.batch.bytes.len());
        self.records += 1;
        self.claims_due(state, hash);
        if self.batch.ends.len() >= CHECK_BATCH_RECORDS {
            self.send()?;
        }
        Ok(())
    }

    /// The claims of the replay for every checkpoint due at the current size.
    fn claims_due(&mut self, state: &QuotaState, head: &[u8; 32]) {
        while self.pending.last().is_some_and(|c| c.id.size == self.records) {
            let c = self.pending.pop().expect("checked by the loop condition");
            self.batch.due.push((self.records, c, claims_of(state, *head)));
        }
    }

    fn send(&mut self) -> Result<(), IntegrityError> {
        let batch = std::mem::take(&mut self.batch);
        if self.worker.is_none() {
            let (tx, rx) = sync_channel::<CheckBatch>(CHECK_BATCHES_IN_FLIGHT);
            let mut work =
                std::mem::replace(&mut self.tree, TreeWork { edge: Edge::default(), stored: None, checkpoints: 0 });
            let handle = std::thread::spawn(move || {
                for batch in rx {
                    work.run(&batch)?;
                }
                Ok(work)
            });
            self.worker = Some((tx, handle));
        }
        let sent = self.worker.as_ref().is_some_and(|(tx, _)| tx.send(batch).is_ok());
        if !sent {
            // The thread stopped on an integrity failure: report it now (and never go on
            // without the batch).
            self.join()?;
            return Err(IntegrityError::Tree { seq: None, what: "the tree check stopped early".into() });
        }
        Ok(())
    }

    fn join(&mut self) -> Result<(), IntegrityError> {
        if let Some((tx, handle)) = self.worker.take() {
            drop(tx);
            self.tree = handle
                .join()
                .map_err(|_| IntegrityError::Tree { seq: None, what: "the tree check panicked".into() })??;
        }
        Ok(())
    }

    /// After the last record: `(leaves of the stored tree compared, checkpoints checked)`.
    pub(super) fn finish(&mut self) -> Result<(u64, u64), IntegrityError> {
        let batch = std::mem::take(&mut self.batch);
        match self.worker.as_ref() {
            // A failed send means the thread stopped on a failure, which `join` reports.
            Some((tx, _)) => {
                let _ = tx.send(batch);
            }
            None => self.tree.run(&batch)?,
        }
        self.join()?;
        if let Some(c) = self.pending.last() {
            return Err(IntegrityError::Checkpoint { size: c.id.size, what: "the chain ends before its size".into() });
        }
        Ok((self.tree.stored.as_ref().map_or(0, |s| s.covered), self.tree.checkpoints))
    }
}
