//! The writer: holds `LOCK`, recovers, appends blocks, moves the commit point, then updates
//! the derived data (index, sled, snapshots). The commit protocol, step by step (each step is
//! a named fault point, see [`fault_point`]):
//!
//! 1. blocks are written beyond the committed length (`blocks-written`);
//! 2. every segment written is `fdatasync`ed, and the segments directory `fsync`ed if a
//!    segment was created (`segments-synced`);
//! 3. the commit point moves: one `HEAD` slot written and `fdatasync`ed (`head-synced`);
//!    the append is now durable and is reported as done;
//! 4. the index memtable is written as a run, the manifest stored in sled and published
//!    (`index-written`); 5. the quota snapshots are written (`snapshots-written`).
//!
//! A crash before 3 leaves the old commit point: the next writer keeps the blocks if they
//! form whole appends (syncing them first: a kill before step 2 leaves whole blocks in the
//! page cache that a power loss would still take) or cuts them.
//! A crash after 3 leaves derived data behind the chain: the next writer catches it up.

use super::disk::Disk;
use super::head::{read_head, HeadWriter};
use super::index::{publish_manifest, read_manifest, Index, ManifestV1};
use super::meta::Meta;
use super::recovery::{check_commit_point, recover, Recovered};
use super::segment::SegmentWriter;
use super::tree::TreeWriter;
use super::{ensure_space, lock_for_writing, snapshots, Layout, OpenMode, StoreError};
use crate::format::codec;
use crate::format::head::HeadSlot;
use std::fs::{self, File};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Environment variable naming a fault point at which the process aborts (tests aim kill -9
/// at each step of the commit protocol with it).
pub const FAULT_ENV: &str = "QLEDGER_FAULT_AT";

/// Aborts the process (like a kill -9: no destructors, no flush) if `QLEDGER_FAULT_AT` names
/// this point.
pub fn fault_point(name: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    if AT.get_or_init(|| std::env::var(FAULT_ENV).ok()).as_deref() == Some(name) {
        std::process::abort();
    }
}

/// An open ledger, locked for writing.
pub struct Writer {
    layout: Layout,
    _lock: File,
    head: HeadWriter,
    segments: SegmentWriter,
    index: Index,
    meta: Meta,
    tree: TreeWriter,
    poisoned: bool,
    /// What recovery did on open.
    pub recovered: Recovered,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("dir", &self.layout.dir).field("head", &self.head.slot()).finish()
    }
}

impl Writer {
    /// Opens (creating if `mode` says so) and locks the ledger at `dir`, recovers what lies
    /// beyond the commit point, and opens the derived data (an index that does not match is
    /// started over, empty; the caller catches it up from the chain).
    pub fn open(dir: &Path, mode: OpenMode, wait: Option<Duration>, disk: Arc<dyn Disk>) -> Result<Writer, StoreError> {
        let lock = lock_for_writing(dir, mode, wait, disk.as_ref())?;
        let layout = Layout::new(dir);
        let slot = read_head(disk.as_ref(), dir)?;
        check_commit_point(disk.clone(), &layout.segments(), &slot)?;
        let mut head = HeadWriter::open(disk.as_ref(), dir, slot)?;
        let recovered = recover(disk.as_ref(), dir, &layout.segments(), &mut head)?;
        let slot = head.slot();
        let segments = SegmentWriter::open(disk.clone(), &layout.segments(), slot.segment_first_seq, slot.segment_len)?;
        for sub in [layout.index(), layout.snapshots()] {
            super::disk::create_dir(&sub).map_err(|e| StoreError::io("creating", &sub, e))?;
        }
        snapshots::remove_temporaries(&layout.snapshots())?;
        snapshots::remove_temporaries(&layout.index())?;
        let (meta, _) = Meta::open(&layout.meta())?;
        let index = open_index(&layout.index(), &meta, slot.records)?;
        // Readers go by index/MANIFEST. A writer killed between storing a manifest in sled and
        // publishing it left one naming older runs: republish before removing them.
        if read_manifest(&layout.index())?.and_then(Result::ok).as_ref() != Some(index.manifest()) {
            publish_manifest(&layout.index(), index.manifest())?;
        }
        index.remove_unlisted()?;
        let tree = TreeWriter::open(&layout.tree(), slot.records)?;
        Ok(Writer { layout, _lock: lock, head, segments, index, meta, tree, poisoned: false, recovered })
    }

    /// The commit point.
    pub fn head(&self) -> HeadSlot {
        self.head.slot()
    }

    /// The ledger's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The index, for lookups and updates by the running append.
    pub fn index(&mut self) -> &mut Index {
        &mut self.index
    }

    /// The index, read-only.
    pub fn index_ref(&self) -> &Index {
        &self.index
    }

    fn guard<T>(&mut self, f: impl FnOnce(&mut Writer) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        self.poisoned = true;
        let r = f(self)?;
        self.poisoned = false;
        Ok(r)
    }

    /// The index and a sink for blocks, to be used from two threads by one append.
    pub fn split(&mut self) -> (&mut Index, BlockSink<'_>) {
        let sink = BlockSink {
            segments: &mut self.segments,
            tree: &mut self.tree,
            dir: self.layout.segments(),
            poisoned: &mut self.poisoned,
        };
        (&mut self.index, sink)
    }

    /// Writes blocks beyond the committed length (invisible to readers until a commit).
    pub fn write_blocks(&mut self, blocks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let bytes: u64 = blocks.iter().map(|(_, b)| b.len() as u64).sum();
        ensure_space(&self.layout.segments(), bytes)?;
        self.guard(|w| {
            for (first, b) in blocks {
                w.segments.write_block(b, *first)?;
            }
            Ok(())
        })
    }

    /// Makes the written blocks durable and moves the commit point to `records` ending in
    /// `last_hash` (steps 2 and 3 of the protocol).
    pub fn commit(&mut self, records: u64, last_hash: [u8; 32]) -> Result<(), StoreError> {
        fault_point("blocks-written");
        self.guard(|w| {
            w.segments.sync()?;
            fault_point("segments-synced");
            let end = w.segments.end();
            w.head.commit(records, last_hash, end)?;
            w.segments.mark_committed();
            fault_point("head-synced");
            Ok(())
        })
    }

    /// Removes what a refused append wrote beyond the committed length, and its index changes.
    pub fn roll_back(&mut self) -> Result<(), StoreError> {
        self.index.abort();
        self.tree.abort();
        self.guard(|w| w.segments.roll_back())
    }

    /// Steps 4 and 5: the index joins the commit, then the snapshots are written.
    pub fn update_derived(&mut self, head_snapshot: &[u8], periodic: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let records = self.head.slot().records;
        self.guard(|w| {
            let manifest = w.index.seal(records)?;
            w.store_manifest(&manifest, false)?;
            fault_point("index-written");
            for (n, bytes) in periodic {
                snapshots::write_periodic(&w.layout.snapshots(), *n, bytes)?;
            }
            snapshots::write_head(&w.layout.snapshots(), head_snapshot)?;
            fault_point("snapshots-written");
            let k = w.index.merge_count();
            if k > 0 {
                let (manifest, old) = w.index.merge_newest(k)?;
                w.store_manifest(&manifest, true)?;
                for path in old {
                    let _ = fs::remove_file(path);
                }
            }
            Ok(())
        })
    }

    /// The Merkle tree (issue 10): leaves are pushed by the running append.
    pub fn tree(&mut self) -> &mut TreeWriter {
        &mut self.tree
    }

    /// The Merkle tree, read-only.
    pub fn tree_ref(&self) -> &TreeWriter {
        &self.tree
    }

    /// Publishes the tree's pending leaves after the commit point moved (derived data, like
    /// steps 4 and 5; fault point `tree-written`).
    pub fn publish_tree(&mut self) -> Result<(), StoreError> {
        let records = self.head.slot().records;
        self.guard(|w| w.tree.publish(records))
    }

    /// Starts the tree over, empty (for a rebuild from the chain).
    pub fn reset_tree(&mut self) -> Result<(), StoreError> {
        self.tree.abort();
        self.guard(|w| w.tree.reset())
    }

    fn store_manifest(&self, m: &ManifestV1, durable: bool) -> Result<(), StoreError> {
        self.meta.set_manifest(&codec::encode(m), durable)?;
        publish_manifest(&self.layout.index(), m)
    }

    /// Starts the index over, empty (for a rebuild from the chain).
    pub fn reset_index(&mut self) -> Result<(), StoreError> {
        self.index.abort();
        let next_run = self.index.manifest().next_run;
        let fresh = ManifestV1 { records: 0, runs: Vec::new(), next_run };
        self.store_manifest(&fresh, true)?;
        self.index = Index::open(&self.layout.index(), fresh)?;
        self.index.remove_unlisted()
    }
}

/// Writes blocks beyond the committed length for an append running on another thread.
pub struct BlockSink<'a> {
    segments: &'a mut SegmentWriter,
    /// The Merkle tree (issue 10), which takes each record's canonical bytes.
    tree: &'a mut TreeWriter,
    dir: std::path::PathBuf,
    poisoned: &'a mut bool,
}

impl BlockSink<'_> {
    /// Appends the Merkle tree leaf of one record, given its canonical bytes (issue 10).
    pub fn push_leaf(&mut self, record: &[u8]) -> Result<(), StoreError> {
        self.tree.push(record)
    }

    /// Writes one block whose first record has `first_seq`, after checking for space.
    pub fn write_block(&mut self, bytes: &[u8], first_seq: u64) -> Result<(), StoreError> {
        if *self.poisoned {
            return Err(StoreError::Poisoned);
        }
        ensure_space(&self.dir, bytes.len() as u64)?;
        *self.poisoned = true;
        self.segments.write_block(bytes, first_seq)?;
        *self.poisoned = false;
        Ok(())
    }
}

/// Opens the index the sled manifest names, or an empty one if that is missing, damaged, or
/// ahead of the chain.
fn open_index(dir: &Path, meta: &Meta, records: u64) -> Result<Index, StoreError> {
    let stored = meta.manifest()?.and_then(|b| ManifestV1::decode(&b).ok());
    let next_run = stored.as_ref().map_or(0, |m| m.next_run);
    if let Some(m) = stored.filter(|m| m.records <= records) {
        if let Ok(index) = Index::open(dir, m) {
            return Ok(index);
        }
    }
    Index::open(dir, ManifestV1 { records: 0, runs: Vec::new(), next_run })
}
