//! The Merkle tree over the records (issue 10), derived data under `PATH/tree/`:
//!
//! ```text
//! PATH/tree/hashes     every node hash of the tree at level 8 (`STORED_LEVEL_MIN`, the roots
//!                      of 256-leaf tiles) and above, 32 bytes each, in the stored-hash order of
//!                      golang.org/x/mod/sumdb/tlog (`tlog::tiles::stored_hash_index`) applied
//!                      to the tree whose leaves are the level-8 nodes
//! PATH/tree/MANIFEST   `format::tree::TreeManifest`: the leaves whose hashes are valid, the
//!                      root of that tree, and its right edge below level 8
//! ```
//!
//! Leaf `seq` is `SHA-256(0x00 || canonical bytes of record seq)`. Node `(level, index)` with
//! `level >= 8` is one `pread` at `32 * stored_hash_index(level - 8, index)`; a node below
//! level 8 is recomputed from the at most 256 records of its tile (one range read of the
//! segments, cached per tile): a proof at any size reads `O(log n)` nodes and one tile of
//! records. Not storing the lowest 8 levels saves 63.75 of the 64 bytes a record cost.
//!
//! The writer ([`TreeWriter`]) appends hashes beyond the valid length while an append runs
//! (buffered, without holding the records), and after the chain's commit point moved it
//! `fdatasync`s the file and replaces `MANIFEST` (temporary file and rename). Readers
//! ([`TreeReader`]) read `MANIFEST` first and then only the hashes it covers, without a lock.
//! When a writer opens, bytes beyond the manifest's length (an append that died) are cut; a
//! manifest that is missing, damaged, ahead of the chain or whose right edge does not give its
//! root makes the tree start over, empty; the ledger then catches it up from the chain.

use super::disk::{create_dir, FILE_MODE};
use super::snapshots::{remove_temporaries, write_atomically};
use super::StoreError;
use crate::format::codec::DecodeError;
use crate::format::tree::{TreeManifest, STORED_LEVEL_MIN, TREE_FORMAT, TREE_MANIFEST_BYTES};
use crate::tlog::merkle::{Hash, MissingNode, NodeSource, Sha256, TreeHasher};
use crate::tlog::tiles::{stored_hash_count, stored_hash_index, stored_hashes, TileError};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Directory of the tree inside a ledger.
pub const TREE_DIR: &str = "tree";
/// The stored-hash file.
pub const HASHES_FILE: &str = "hashes";
/// The manifest naming the valid prefix.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Bytes of hashes an append buffers before writing them out.
pub const TREE_WRITE_BUFFER_BYTES: usize = 1024 * 1024;
/// Bytes of hashes the hashing thread writes between two `fdatasync`s: the tree's bytes
/// reach the disk while the append goes on, so that the sync before the manifest is short.
pub const TREE_SYNC_BYTES: u64 = 16 * 1024 * 1024;
/// Environment variable that makes a writer leave the tree alone (the benchmark's switch for
/// measuring what the tree costs an append; the next writer without it catches the tree up).
pub const TREE_OFF_ENV: &str = "QLEDGER_TREE_OFF";

/// Whether [`TREE_OFF_ENV`] is set to anything but empty or `0`.
pub fn tree_off_by_env() -> bool {
    std::env::var_os(TREE_OFF_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}
/// Records handed to the hashing thread at a time.
pub const TREE_BATCH_RECORDS: usize = 1024;
/// Batches queued for the hashing thread before the append waits for it. With the one being
/// filled and the one being hashed, an append holds at most this many + 2 batches (about
/// 220 KiB each for 200-byte records), and reuses them: the hashing thread hands each back.
pub const TREE_BATCHES_IN_FLIGHT: usize = 4;
/// Bytes a reader reads at a time (one page, kept for the next node nearby).
pub const TREE_READ_PAGE_BYTES: usize = 4096;
/// Bytes of one stored hash.
pub const NODE_BYTES: u64 = 32;
/// Tree levels a `u64` size can have.
const LEVELS: usize = 64;

/// Leaves of one tile: the records a node below [`STORED_LEVEL_MIN`] is recomputed from.
pub const TILE_LEAVES: u64 = 1 << STORED_LEVEL_MIN;

/// Bytes of the stored hashes of a tree of `size` leaves (its nodes at level 8 and above).
pub fn hashes_len(size: u64) -> Result<u64, StoreError> {
    stored_hash_count(size >> STORED_LEVEL_MIN)
        .and_then(|n| n.checked_mul(NODE_BYTES))
        .ok_or_else(|| StoreError::Damaged { seq: None, what: format!("a tree of {size} leaves is too large") })
}

/// The right edge of a tree: for each set bit `l` of the size, node `(l, (size >> l) - 1)`,
/// the complete subtrees whose left siblings every later leaf needs. Enough to append a
/// leaf and to compute the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    size: u64,
    nodes: [Hash; LEVELS],
}

impl Default for Edge {
    fn default() -> Self {
        Edge { size: 0, nodes: [[0; 32]; LEVELS] }
    }
}

impl Edge {
    /// The edge of the tree of `size` leaves, read from `source`.
    pub fn load<S: NodeSource<Sha256>>(source: &mut S, size: u64) -> Result<Edge, S::Error> {
        let mut edge = Edge { size, ..Edge::default() };
        for level in 0..LEVELS {
            if (size >> level) & 1 == 1 {
                edge.nodes[level] = source.node(level as u8, (size >> level) - 1)?;
            }
        }
        Ok(edge)
    }

    /// Leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The edge's nodes below [`STORED_LEVEL_MIN`], as the manifest keeps them.
    pub fn low_edge(&self) -> [Hash; STORED_LEVEL_MIN as usize] {
        let mut low = [[0; 32]; STORED_LEVEL_MIN as usize];
        low.copy_from_slice(&self.nodes[..STORED_LEVEL_MIN as usize]);
        low
    }

    /// The manifest of this edge's tree.
    pub fn manifest(&self) -> TreeManifest {
        TreeManifest { size: self.size, root: self.root(), low_edge: self.low_edge() }
    }

    /// The root: the edge's subtrees folded from the right.
    pub fn root(&self) -> Hash {
        let mut root: Option<Hash> = None;
        for (level, node) in self.nodes.iter().enumerate() {
            if (self.size >> level) & 1 == 1 {
                root = Some(match root {
                    None => *node,
                    Some(right) => Sha256::hash_children(node, &right),
                });
            }
        }
        root.unwrap_or_else(Sha256::empty_root)
    }

    /// Appends a leaf by its hash; returns the hashes to store for it (the leaf, then the
    /// roots of the subtrees it completes, lowest first).
    pub fn push(&mut self, leaf: Hash) -> Result<Vec<Hash>, TileError> {
        let hashes = stored_hashes(self.size, leaf, self)?;
        let top = hashes.len() - 1;
        // Levels below `top` are no longer on the edge: cleared, so equal edges compare equal.
        self.nodes[..top].fill([0; 32]);
        self.nodes[top] = hashes[top];
        self.size += 1;
        Ok(hashes)
    }
}

impl NodeSource<Sha256> for Edge {
    type Error = MissingNode;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        let l = usize::from(level);
        let width = self.size.checked_shr(u32::from(level)).unwrap_or(0);
        if l < LEVELS && width & 1 == 1 && index == width - 1 {
            Ok(self.nodes[l])
        } else {
            Err(MissingNode { level, index })
        }
    }
}

/// Reads the manifest: `None` if there is none, or if it is of an older format (a tree that
/// stored every level: derived data the next writer rebuilds; until then there is no tree of
/// this version, as before any writer of this version opened the ledger).
pub fn read_manifest(dir: &Path) -> Result<Option<TreeManifest>, StoreError> {
    let path = dir.join(MANIFEST_FILE);
    match fs::read(&path) {
        Ok(bytes) => match TreeManifest::decode(&bytes) {
            Ok(m) => Ok(Some(m)),
            Err(DecodeError::Version(v)) if v < TREE_FORMAT => Ok(None),
            Err(e) => Err(StoreError::Damaged { seq: None, what: format!("{}: {e}", path.display()) }),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("reading", &path, e)),
    }
}

fn write_manifest(dir: &Path, m: &TreeManifest) -> Result<(), StoreError> {
    let bytes: [u8; TREE_MANIFEST_BYTES] = m.encode();
    write_atomically(&dir.join(MANIFEST_FILE), &bytes)
}

fn open_hashes(path: &Path, write: bool) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .create(write)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| StoreError::io("opening", path, e))
}

/// Maintains the tree for the writer (who holds the ledger's lock). Records' bytes are
/// gathered in batches of [`TREE_BATCH_RECORDS`] and hashed on a thread of their own while
/// the append goes on (a bulk append keeps one core busy; the tree takes the other's spare
/// time); an append that never fills a batch hashes inline when it publishes.
#[derive(Debug)]
pub struct TreeWriter {
    dir: PathBuf,
    path: PathBuf,
    file: Arc<File>,
    committed: Edge,
    /// Bytes of hashes of the committed tree.
    committed_len: u64,
    /// Leaves pushed, published or not.
    pushed: u64,
    batch: Batch,
    worker: Option<Worker>,
    /// `QLEDGER_TREE_OFF` is set: pushes and publications do nothing.
    off: bool,
}

/// Records to hash: their bytes, concatenated, and where each ends.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// The hashing thread of one append.
#[derive(Debug)]
struct Worker {
    tx: SyncSender<Batch>,
    /// Batches the thread hashed, emptied, for reuse (never more than are in flight).
    done: Receiver<Batch>,
    handle: JoinHandle<Result<Hasher, StoreError>>,
}

/// Hashes leaves onto an edge and writes the stored hashes beyond the valid length.
#[derive(Debug)]
struct Hasher {
    edge: Edge,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    at: u64,
    /// Bytes written since the last `fdatasync`.
    unsynced: u64,
    file: Arc<File>,
    path: PathBuf,
}

impl Hasher {
    fn hash(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let mut start = 0;
        for &end in &batch.ends {
            let leaf = Sha256::hash_leaf(&batch.bytes[start..end]);
            start = end;
            let hashes = self.edge.push(leaf).map_err(|e| StoreError::Damaged { seq: None, what: e.to_string() })?;
            for hash in hashes.iter().skip(usize::from(STORED_LEVEL_MIN)) {
                self.buf.extend_from_slice(hash);
            }
            if self.buf.len() >= TREE_WRITE_BUFFER_BYTES {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all_at(&self.buf, self.at).map_err(|e| StoreError::io("writing", &self.path, e))?;
        self.at += self.buf.len() as u64;
        self.unsynced += self.buf.len() as u64;
        self.buf.clear();
        if self.unsynced >= TREE_SYNC_BYTES {
            self.file.sync_data().map_err(|e| StoreError::io("syncing", &self.path, e))?;
            self.unsynced = 0;
        }
        Ok(())
    }
}

impl TreeWriter {
    /// Opens the tree of a ledger whose chain has `records` records: the manifest's prefix if
    /// it is sound, else an empty tree; bytes beyond the valid prefix are cut.
    pub fn open(dir: &Path, records: u64) -> Result<TreeWriter, StoreError> {
        create_dir(dir).map_err(|e| StoreError::io("creating", dir, e))?;
        remove_temporaries(dir)?;
        let path = dir.join(HASHES_FILE);
        let file = open_hashes(&path, true)?;
        let committed = match sound_prefix(dir, &path, &file, records)? {
            Some(edge) => edge,
            None => {
                write_manifest(dir, &TreeManifest::empty(Sha256::empty_root()))?;
                Edge::default()
            }
        };
        let committed_len = hashes_len(committed.size)?;
        file.set_len(committed_len).map_err(|e| StoreError::io("truncating", &path, e))?;
        Ok(TreeWriter {
            dir: dir.to_path_buf(),
            path,
            file: Arc::new(file),
            committed,
            committed_len,
            pushed: committed.size,
            batch: Batch::default(),
            worker: None,
            off: tree_off_by_env(),
        })
    }

    /// Leaves of the published tree.
    pub fn size(&self) -> u64 {
        self.committed.size
    }

    /// Root of the published tree.
    pub fn root(&self) -> Hash {
        self.committed.root()
    }

    /// Leaves including those of the running append.
    pub fn pending_size(&self) -> u64 {
        self.pushed
    }

    /// Appends the leaf of one record, given its canonical bytes.
    pub fn push(&mut self, entry: &[u8]) -> Result<(), StoreError> {
        if self.off {
            return Ok(());
        }
        self.batch.bytes.extend_from_slice(entry);
        self.batch.ends.push(self.batch.bytes.len());
        self.pushed += 1;
        if self.batch.ends.len() >= TREE_BATCH_RECORDS {
            self.send()?;
        }
        Ok(())
    }

    fn hasher(&self) -> Hasher {
        Hasher {
            edge: self.committed,
            buf: Vec::with_capacity(TREE_WRITE_BUFFER_BYTES + LEVELS * 32),
            at: self.committed_len,
            unsynced: 0,
            file: self.file.clone(),
            path: self.path.clone(),
        }
    }

    /// Hands the batch to the hashing thread, starting it if need be.
    fn send(&mut self) -> Result<(), StoreError> {
        if self.worker.is_none() {
            let (tx, rx) = sync_channel::<Batch>(TREE_BATCHES_IN_FLIGHT);
            let (done_tx, done) = sync_channel::<Batch>(TREE_BATCHES_IN_FLIGHT + 2);
            let mut hasher = self.hasher();
            let handle = std::thread::Builder::new()
                .name("qledger-tree".into())
                .spawn(move || {
                    for mut batch in rx {
                        hasher.hash(&batch)?;
                        batch.bytes.clear();
                        batch.ends.clear();
                        // Full only if the append stopped taking them back: then let it go.
                        let _ = done_tx.try_send(batch);
                    }
                    Ok(hasher)
                })
                .map_err(|e| StoreError::io("starting the tree thread for", &self.path, e))?;
            self.worker = Some(Worker { tx, done, handle });
        }
        let worker = self.worker.as_ref().expect("started above");
        let next = worker.done.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        if worker.tx.send(batch).is_err() {
            // The thread stopped on an error: report it (and never go on without the batch).
            let stopped = StoreError::Damaged { seq: None, what: "the tree thread stopped early".into() };
            return Err(self.finish().err().unwrap_or(stopped));
        }
        Ok(())
    }

    /// Every pushed leaf hashed and written: the hasher, from the thread or inline.
    fn finish(&mut self) -> Result<Hasher, StoreError> {
        let batch = std::mem::take(&mut self.batch);
        let mut hasher = match self.worker.take() {
            Some(Worker { tx, handle, .. }) => {
                let sent = batch.ends.is_empty() || tx.send(batch).is_ok();
                drop(tx);
                let joined = handle
                    .join()
                    .map_err(|_| StoreError::Damaged { seq: None, what: "the tree thread panicked".into() })??;
                if !sent {
                    return Err(StoreError::Damaged { seq: None, what: "the tree thread stopped early".into() });
                }
                joined
            }
            None => {
                let mut hasher = self.hasher();
                hasher.hash(&batch)?;
                hasher
            }
        };
        hasher.flush()?;
        Ok(hasher)
    }

    /// Publishes the pending leaves, which must be the chain's `records` committed records:
    /// hashes written and synced, then the manifest replaced.
    pub fn publish(&mut self, records: u64) -> Result<(), StoreError> {
        if self.off {
            return Ok(());
        }
        if self.pushed != records {
            return Err(StoreError::Damaged {
                seq: Some(self.pushed.min(records)),
                what: format!("the tree has {} leaves, the chain {records} records", self.pushed),
            });
        }
        let hasher = self.finish()?;
        self.file.sync_data().map_err(|e| StoreError::io("syncing", &self.path, e))?;
        write_manifest(&self.dir, &hasher.edge.manifest())?;
        self.committed = hasher.edge;
        self.committed_len = hasher.at;
        super::writer::fault_point("tree-written");
        Ok(())
    }

    /// Forgets the leaves of a refused append (hashes it wrote beyond the valid length are
    /// overwritten by the next append or cut by the next writer).
    pub fn abort(&mut self) {
        if let Some(Worker { tx, handle, .. }) = self.worker.take() {
            drop(tx);
            // Its result is what is being thrown away.
            let _ = handle.join();
        }
        self.batch = Batch::default();
        self.pushed = self.committed.size;
    }

    /// Starts over, empty (for a rebuild from the chain): the manifest first, so that a
    /// reader never reads hashes the manifest does not cover.
    pub fn reset(&mut self) -> Result<(), StoreError> {
        self.abort();
        write_manifest(&self.dir, &TreeManifest::empty(Sha256::empty_root()))?;
        self.file.set_len(0).map_err(|e| StoreError::io("truncating", &self.path, e))?;
        self.committed = Edge::default();
        self.committed_len = 0;
        self.pushed = 0;
        Ok(())
    }
}

/// The published prefix, if the manifest is there, decodes, is not ahead of the chain, the
/// file holds its hashes, and its right edge gives its root.
fn sound_prefix(dir: &Path, path: &Path, file: &File, records: u64) -> Result<Option<Edge>, StoreError> {
    let Ok(Some(m)) = read_manifest(dir) else { return Ok(None) };
    let len = file.metadata().map_err(|e| StoreError::io("reading", path, e))?.len();
    if m.size > records || len < hashes_len(m.size)? {
        return Ok(None);
    }
    let nodes = FileNodes { file, path, size: m.size, reads: 0, page: Vec::new(), page_at: 0 };
    match Edge::load(&mut ManifestEdge { low_edge: &m.low_edge, size: m.size, nodes }, m.size) {
        Ok(edge) if edge.root() == m.root => Ok(Some(edge)),
        _ => Ok(None),
    }
}

/// The right edge of a stored tree: below [`STORED_LEVEL_MIN`] from the manifest, above it
/// from the file.
struct ManifestEdge<'a> {
    low_edge: &'a [Hash; STORED_LEVEL_MIN as usize],
    size: u64,
    nodes: FileNodes<'a>,
}

impl NodeSource<Sha256> for ManifestEdge<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if level >= STORED_LEVEL_MIN {
            return self.nodes.node(level, index);
        }
        let width = self.size >> level;
        if width & 1 == 1 && index == width - 1 {
            return Ok(self.low_edge[usize::from(level)]);
        }
        Err(StoreError::Damaged { seq: None, what: format!("tree node {level}/{index} is not on the right edge") })
    }
}

/// The end of the leaves under node `(level, index)`, if it fits a `u64`.
fn leaves_end(level: u8, index: u64) -> Option<u64> {
    index.checked_add(1)?.checked_mul(1u64.checked_shl(u32::from(level))?)
}

/// Nodes read from a stored-hash file with `pread`, one page kept (levels 8 and above).
#[derive(Debug)]
struct FileNodes<'a> {
    file: &'a File,
    path: &'a Path,
    size: u64,
    reads: u64,
    page: Vec<u8>,
    page_at: u64,
}

impl FileNodes<'_> {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let outside = || StoreError::Damaged {
            seq: None,
            what: format!("tree node {level}/{index} is not in the stored tree of {} leaves", self.size),
        };
        if level < STORED_LEVEL_MIN || leaves_end(level, index).is_none_or(|end| end > self.size) {
            return Err(outside());
        }
        let offset = stored_hash_index(level - STORED_LEVEL_MIN, index)
            .and_then(|i| i.checked_mul(NODE_BYTES))
            .ok_or_else(outside)?;
        self.read_hash(offset)
    }

    fn read_hash(&mut self, offset: u64) -> Result<Hash, StoreError> {
        let cached = offset >= self.page_at && offset + NODE_BYTES <= self.page_at + self.page.len() as u64;
        if !cached {
            let page_at = offset - offset % TREE_READ_PAGE_BYTES as u64;
            let valid = hashes_len(self.size)?;
            let len = (valid.saturating_sub(page_at)).min(TREE_READ_PAGE_BYTES as u64) as usize;
            self.page.resize(len, 0);
            self.file.read_exact_at(&mut self.page, page_at).map_err(|e| StoreError::io("reading", self.path, e))?;
            self.page_at = page_at;
            self.reads += 1;
        }
        let start = (offset - self.page_at) as usize;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(self.page.get(start..start + 32).ok_or_else(|| StoreError::Damaged {
            seq: None,
            what: format!("{} is shorter than its manifest says", self.path.display()),
        })?);
        Ok(hash)
    }
}

impl NodeSource<Sha256> for FileNodes<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        FileNodes::node(self, level, index)
    }
}

/// The leaf hashes of records `first..end` (committed records, read from the segments), pushed
/// onto the vector: where a reader recomputes the nodes below [`STORED_LEVEL_MIN`].
pub struct LeafSource(pub Box<ReadLeaves>);

/// Pushes the leaf hashes of records `first..end` onto the vector.
pub type ReadLeaves = dyn FnMut(u64, u64, &mut Vec<Hash>) -> Result<(), StoreError>;

impl std::fmt::Debug for LeafSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeafSource")
    }
}

/// One tile's nodes below [`STORED_LEVEL_MIN`], recomputed from its records: `levels[l]` holds
/// the complete nodes of level `l` from the tile's first.
#[derive(Debug)]
struct TileNodes {
    tile: u64,
    levels: Vec<Vec<Hash>>,
}

/// The published tree, for readers: no lock, only the prefix the manifest covers.
#[derive(Debug)]
pub struct TreeReader {
    file: File,
    path: PathBuf,
    manifest: TreeManifest,
    reads: u64,
    page: Vec<u8>,
    page_at: u64,
    leaves: LeafSource,
    /// The tiles recomputed last, the most recent first: a proof needs at most two (its
    /// leaf's and the unfinished one at the right edge).
    tiles: Vec<TileNodes>,
}

/// Tiles of recomputed nodes a reader keeps.
const TILES_CACHED: usize = 2;

impl TreeReader {
    /// Opens the tree in `dir` (`PATH/tree`): `None` if no writer of this version has published
    /// one yet. `leaves` reads the records' leaf hashes for the levels not stored.
    pub fn open(dir: &Path, leaves: LeafSource) -> Result<Option<TreeReader>, StoreError> {
        let Some(manifest) = read_manifest(dir)? else { return Ok(None) };
        let path = dir.join(HASHES_FILE);
        let file = match open_hashes(&path, false) {
            Ok(f) => f,
            Err(_) if manifest.size == 0 => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata().map_err(|e| StoreError::io("reading", &path, e))?.len();
        if len < hashes_len(manifest.size)? {
            return Err(StoreError::Damaged {
                seq: None,
                what: format!("{} holds {len} bytes, its manifest covers {} leaves", path.display(), manifest.size),
            });
        }
        Ok(Some(TreeReader { file, path, manifest, reads: 0, page: Vec::new(), page_at: 0, leaves, tiles: Vec::new() }))
    }

    /// Leaves the published tree covers.
    pub fn size(&self) -> u64 {
        self.manifest.size
    }

    /// The root the manifest records.
    pub fn manifest_root(&self) -> Hash {
        self.manifest.root
    }

    /// `pread`s of stored hashes made so far (each reads at most [`TREE_READ_PAGE_BYTES`]),
    /// plus one for each tile of records read.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Node `(level, index)` below [`STORED_LEVEL_MIN`], from its tile's records.
    fn low_node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let size = self.manifest.size;
        let outside = || StoreError::Damaged {
            seq: None,
            what: format!("tree node {level}/{index} is not in the stored tree of {size} leaves"),
        };
        let end = leaves_end(level, index).filter(|&end| end <= size).ok_or_else(outside)?;
        let tile = (end - 1) / TILE_LEAVES;
        match self.tiles.iter().position(|t| t.tile == tile) {
            Some(i) => self.tiles[..=i].rotate_right(1),
            None => {
                let nodes = self.tile_nodes(tile)?;
                self.tiles.truncate(TILES_CACHED - 1);
                self.tiles.insert(0, nodes);
            }
        }
        let t = &self.tiles[0];
        let first = (tile * TILE_LEAVES) >> level;
        t.levels[usize::from(level)].get((index - first) as usize).copied().ok_or_else(outside)
    }

    /// The nodes below [`STORED_LEVEL_MIN`] of `tile`, from its records up to the tree's size.
    fn tile_nodes(&mut self, tile: u64) -> Result<TileNodes, StoreError> {
        let first = tile * TILE_LEAVES;
        let end = (first + TILE_LEAVES).min(self.manifest.size);
        let mut leaves = Vec::with_capacity(TILE_LEAVES as usize);
        (self.leaves.0)(first, end, &mut leaves)?;
        self.reads += 1;
        if leaves.len() as u64 != end - first {
            return Err(StoreError::Damaged {
                seq: Some(first),
                what: format!("records {first}..{end} gave {} leaves", leaves.len()),
            });
        }
        let mut levels = vec![leaves];
        for l in 1..usize::from(STORED_LEVEL_MIN) {
            let next = levels[l - 1].chunks_exact(2).map(|p| Sha256::hash_children(&p[0], &p[1])).collect();
            levels.push(next);
        }
        Ok(TileNodes { tile, levels })
    }

    /// The stored hashes of the first `size` leaves, in stored order, read sequentially.
    pub fn stored_prefix(&self, size: u64) -> Result<StoredHashes, StoreError> {
        let size = size.min(self.manifest.size);
        let file = self.file.try_clone().map_err(|e| StoreError::io("opening", &self.path, e))?;
        Ok(StoredHashes {
            reader: io::BufReader::with_capacity(1 << 20, file),
            left: hashes_len(size)? / NODE_BYTES,
            path: self.path.clone(),
        })
    }
}

impl NodeSource<Sha256> for TreeReader {
    type Error = StoreError;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if level < STORED_LEVEL_MIN {
            return self.low_node(level, index);
        }
        let mut nodes = FileNodes {
            file: &self.file,
            path: &self.path,
            size: self.manifest.size,
            reads: self.reads,
            page: std::mem::take(&mut self.page),
            page_at: self.page_at,
        };
        let hash = nodes.node(level, index);
        self.reads = nodes.reads;
        self.page_at = nodes.page_at;
        self.page = nodes.page;
        hash
    }
}

/// Stored hashes read in order (see [`TreeReader::stored_prefix`]).
#[derive(Debug)]
pub struct StoredHashes {
    reader: io::BufReader<File>,
    left: u64,
    path: PathBuf,
}

impl StoredHashes {
    /// The next stored hash, `None` after the last.
    pub fn next_hash(&mut self) -> Result<Option<Hash>, StoreError> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut hash = [0u8; 32];
        io::Read::read_exact(&mut self.reader, &mut hash).map_err(|e| StoreError::io("reading", &self.path, e))?;
        self.left -= 1;
        Ok(Some(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::merkle::{self, MemoryTree};

    fn entry(i: u64) -> Vec<u8> {
        format!("record {i}").into_bytes()
    }

    /// A tree of the first `n` entries, published, in `tmp`'s tree directory.
    fn published(tmp: &tempfile::TempDir, n: u64) -> (PathBuf, TreeWriter) {
        let dir = tmp.path().join(TREE_DIR);
        let mut w = TreeWriter::open(&dir, 0).unwrap();
        for i in 0..n {
            w.push(&entry(i)).unwrap();
        }
        w.publish(n).unwrap();
        (dir, w)
    }

    /// The leaves of the test's entries, counting the tiles asked for.
    fn leaves(asked: std::rc::Rc<std::cell::Cell<u64>>) -> LeafSource {
        LeafSource(Box::new(move |first, end, out| {
            asked.set(asked.get() + 1);
            out.extend((first..end).map(|i| Sha256::hash_leaf(&entry(i))));
            Ok(())
        }))
    }

    #[test]
    fn the_edge_follows_a_memory_tree() {
        let mut edge = Edge::default();
        let mut memory = MemoryTree::<Sha256>::new();
        for i in 0..600 {
            assert_eq!(edge.root(), memory.root(), "size {i}");
            let leaf = Sha256::hash_leaf(&entry(i));
            edge.push(leaf).unwrap();
            memory.push_leaf_hash(leaf);
        }
        let size = memory.size();
        assert_eq!(Edge::load(&mut memory, size).unwrap(), edge);
    }

    #[test]
    fn written_published_and_read_back_with_log_n_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(TREE_DIR);
        let mut w = TreeWriter::open(&dir, 0).unwrap();
        let mut memory = MemoryTree::<Sha256>::new();
        let n = 70_000u64;
        for i in 0..n {
            w.push(&entry(i)).unwrap();
            memory.push_leaf_hash(Sha256::hash_leaf(&entry(i)));
        }
        w.publish(n).unwrap();
        assert_eq!(w.root(), memory.root());
        // Only levels 8 and up are stored: a quarter of a node per 256 leaves, about.
        let stored = fs::metadata(dir.join(HASHES_FILE)).unwrap().len();
        assert_eq!(stored, hashes_len(n).unwrap());
        assert!(stored < n / 4, "{stored} bytes for {n} leaves");
        let asked = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut r = TreeReader::open(&dir, leaves(asked.clone())).unwrap().unwrap();
        assert_eq!(r.size(), n);
        for index in [0, 1, 255, 4097, 69_999] {
            let (before, tiles) = (r.reads(), asked.get());
            let proof = merkle::prove_inclusion::<Sha256, _>(&mut r, index, n).unwrap();
            assert!(r.reads() - before <= 2 * 17, "{} reads", r.reads() - before);
            assert!(asked.get() - tiles <= 2, "the leaf's tile and the right edge's at most");
            assert_eq!(proof, merkle::prove_inclusion::<Sha256, _>(&mut memory, index, n).unwrap());
        }
        for (old, new) in [(1, n), (255, 257), (4097, 69_999), (69_000, n)] {
            let proof = merkle::prove_consistency::<Sha256, _>(&mut r, old, new).unwrap();
            assert_eq!(proof, merkle::prove_consistency::<Sha256, _>(&mut memory, old, new).unwrap());
        }
        assert_eq!(merkle::root::<Sha256, _>(&mut r, 12_345).unwrap(), {
            let mut m = MemoryTree::<Sha256>::from_entries((0..12_345).map(entry));
            merkle::root::<Sha256, _>(&mut m, 12_345).unwrap()
        });
    }

    #[test]
    fn a_refused_append_is_forgotten_and_a_torn_tail_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, mut w) = published(&tmp, 10);
        let root10 = w.root();
        for i in 10..40_000 {
            w.push(&entry(i)).unwrap();
        }
        w.abort();
        assert_eq!(w.pending_size(), 10);
        drop(w);
        // Hashes of a refused or interrupted append beyond the valid length.
        let f = OpenOptions::new().append(true).open(dir.join(HASHES_FILE)).unwrap();
        f.write_all_at(&[0xee; 100], hashes_len(10).unwrap()).unwrap();
        assert!(fs::metadata(dir.join(HASHES_FILE)).unwrap().len() > hashes_len(10).unwrap());
        let w = TreeWriter::open(&dir, 10).unwrap();
        assert_eq!((w.size(), w.root()), (10, root10));
        assert_eq!(fs::metadata(dir.join(HASHES_FILE)).unwrap().len(), hashes_len(10).unwrap());
        // A manifest ahead of the chain, or a damaged file, starts over.
        assert_eq!(TreeWriter::open(&dir, 9).unwrap().size(), 0);
    }

    #[test]
    fn a_damaged_edge_starts_the_tree_over() {
        let tmp = tempfile::tempdir().unwrap();
        let n = 3 * TILE_LEAVES + 5;
        let (dir, w) = published(&tmp, n);
        drop(w);
        assert_eq!(TreeWriter::open(&dir, n).unwrap().size(), n);
        // The edge's stored node at level 8 (the third tile's root)...
        let f = OpenOptions::new().write(true).open(dir.join(HASHES_FILE)).unwrap();
        let tile_root = stored_hash_index(0, 2).unwrap() * NODE_BYTES;
        f.write_all_at(&[0xff; 32], tile_root).unwrap();
        assert_eq!(TreeWriter::open(&dir, n).unwrap().size(), 0);
        // ... and the low edge in the manifest.
        let tmp = tempfile::tempdir().unwrap();
        let (dir, w) = published(&tmp, n);
        drop(w);
        let mut m = read_manifest(&dir).unwrap().unwrap();
        m.low_edge[0] = [0xff; 32];
        write_manifest(&dir, &m).unwrap();
        assert_eq!(TreeWriter::open(&dir, n).unwrap().size(), 0);
    }

    #[test]
    fn a_format_1_tree_is_no_tree_and_the_writer_starts_over() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, w) = published(&tmp, 300);
        drop(w);
        let mut old = vec![0u8; 72];
        old[0..8].copy_from_slice(b"qledtree");
        old[8] = 1;
        write_atomically(&dir.join(MANIFEST_FILE), &old).unwrap();
        let asked = std::rc::Rc::new(std::cell::Cell::new(0));
        assert!(TreeReader::open(&dir, leaves(asked)).unwrap().is_none());
        assert_eq!(TreeWriter::open(&dir, 300).unwrap().size(), 0);
        assert_eq!(fs::metadata(dir.join(HASHES_FILE)).unwrap().len(), 0);
    }
}
