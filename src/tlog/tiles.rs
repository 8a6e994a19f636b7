//! C2SP tiled transparency logs (<https://c2sp.org/tlog-tiles>): which tiles a tree has,
//! their paths, their contents, and reading tree nodes back from them; plus the linear
//! "stored hash" order of `golang.org/x/mod/sumdb/tlog`.
//!
//! # Tiles
//!
//! A tile is 256 consecutive node hashes of one tree level that is a multiple of 8. Tile `N`
//! at tile level `L` holds nodes `(8L, 256N + i)` for `i` in `0..W`: at `L = 0` leaf hashes,
//! above that the roots of the full tiles of the level below. A full tile has `W = 256`
//! (8,192 bytes); the rightmost tile of a level may be partial, `W = floor(s / 256^L) mod 256`
//! for tree size `s` (`1..=255`); an empty tile does not exist. The node `(8L + k, j)` for
//! `k < 8` is the root of `2^k` consecutive hashes of the tile that holds node `(8L, j << k)`.
//!
//! Paths, relative to the log's prefix:
//!
//! ```text
//! tile/<L>/<N>[.p/<W>]        hash tile; L decimal 0..=63, W decimal 1..=255 (partial only)
//! tile/entries/<N>[.p/<W>]    entry bundle of the leaves of level-0 tile N
//! ```
//!
//! `<N>` is the index in 3-digit groups, all but the last prefixed by `x`: 1234067 is
//! `x001/x234/067`, 5 is `005`. Parsing accepts exactly the paths [`Tile::path`] writes.
//!
//! An entry bundle is its entries in order, each a big-endian `u16` length and the entry
//! bytes; an entry is therefore at most [`ENTRY_BYTES_MAX`] bytes.
//!
//! # Trust
//!
//! Tiles from a server are not authenticated by themselves. Whatever is computed from them
//! (a root, a proof) is trusted only after it is verified against a signed checkpoint.

use std::collections::HashMap;

use super::merkle::{Hash, NodeSource, Sha256, TreeHasher};

/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile (`2^TILE_HEIGHT`).
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Highest tile level of a path.
pub const TILE_LEVEL_MAX: u8 = 63;
/// Bytes of a hash in a tile.
pub const HASH_BYTES: usize = 32;
/// Largest entry an entry bundle can hold, in bytes (its length is a `u16`).
pub const ENTRY_BYTES_MAX: usize = u16::MAX as usize;
/// Longest tile path parsed, in bytes (longer than any valid one).
pub const TILE_PATH_BYTES_MAX: usize = 64;

const INDEX_GROUP: u64 = 1000;

/// Why a tile, path or bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The path is not one [`Tile::path`] writes.
    #[error("not a tile path: {0:?}")]
    BadPath(String),
    /// A tile with a width outside `1..=256`.
    #[error("tile width {0} is not in 1..=256")]
    BadWidth(u64),
    /// The tile data has the wrong length for its width.
    #[error("tile data has {got} bytes, expected {expected}")]
    DataLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes offered.
        got: usize,
    },
    /// A node that is not (entirely) inside the tree or the tile.
    #[error("node at level {level}, index {index} is not in {context}")]
    NodeOutside {
        /// Level of the node.
        level: u8,
        /// Index of the node.
        index: u64,
        /// Where it was looked for.
        context: &'static str,
    },
    /// An entry longer than [`ENTRY_BYTES_MAX`].
    #[error("entry {index} has {bytes} bytes, more than {ENTRY_BYTES_MAX}")]
    EntryTooLong {
        /// Its position in the bundle.
        index: usize,
        /// Its length.
        bytes: usize,
    },
    /// An entry bundle that does not split into exactly its width of entries.
    #[error("entry bundle malformed: {0}")]
    BadBundle(&'static str),
    /// Reading a tile failed.
    #[error("reading {path}: {message}")]
    Read {
        /// The tile's path.
        path: String,
        /// The reader's error.
        message: String,
    },
}

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileLevel {
    /// Node hashes of tree level `8 * L`.
    Hashes(u8),
    /// Entries (the leaves of the level-0 tile of the same index).
    Entries,
}

/// One tile: level, index within the level, width (256 when full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Hash level or entries.
    pub level: TileLevel,
    /// Index within the level.
    pub index: u64,
    /// Number of hashes or entries, `1..=256`.
    pub width: u16,
}

impl Tile {
    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile's path below the log's prefix.
    pub fn path(&self) -> String {
        let level = match self.level {
            TileLevel::Hashes(level) => level.to_string(),
            TileLevel::Entries => "entries".to_owned(),
        };
        let partial = if self.is_full() { String::new() } else { format!(".p/{}", self.width) };
        format!("tile/{level}/{}{partial}", encode_index(self.index))
    }

    /// Parses a path that [`Tile::path`] writes, and only such a path.
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let bad = || TileError::BadPath(path.chars().take(TILE_PATH_BYTES_MAX).collect());
        if path.len() > TILE_PATH_BYTES_MAX {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (level, rest) = rest.split_once('/').ok_or_else(bad)?;
        let level = match level {
            "entries" => TileLevel::Entries,
            digits => TileLevel::Hashes(parse_decimal(digits, u64::from(TILE_LEVEL_MAX)).ok_or_else(bad)? as u8),
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => (index, parse_decimal(width, TILE_WIDTH - 1).filter(|&w| w > 0).ok_or_else(bad)?),
            None => (rest, TILE_WIDTH),
        };
        let tile = Tile { level, index: parse_index(index).ok_or_else(bad)?, width: width as u16 };
        if tile.path() != path {
            return Err(bad());
        }
        Ok(tile)
    }
}

/// A decimal number in `0..=max` without sign or leading zero.
fn parse_decimal(digits: &str, max: u64) -> Option<u64> {
    let canonical = !digits.is_empty()
        && digits.len() <= 20
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    digits.parse().ok().filter(|&n| canonical && n <= max)
}

/// `x001/x234/067` for 1234067.
pub fn encode_index(index: u64) -> String {
    let mut groups = vec![format!("{:03}", index % INDEX_GROUP)];
    let mut rest = index / INDEX_GROUP;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % INDEX_GROUP));
        rest /= INDEX_GROUP;
    }
    groups.reverse();
    groups.join("/")
}

/// The inverse of [`encode_index`] on its canonical output (checked by the caller).
fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut index: u64 = 0;
    for group in leading.iter().map(|g| g.strip_prefix('x')).chain([Some(*last)]) {
        let group = group.filter(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))?;
        let value: u64 = group.parse().ok()?;
        index = index.checked_mul(INDEX_GROUP)?.checked_add(value)?;
    }
    Some(index)
}

/// Hashes of tree level `8 * tile_level` in a tree of `size` leaves.
fn level_width(size: u64, tile_level: u32) -> u64 {
    size.checked_shr(TILE_HEIGHT * tile_level).unwrap_or(0)
}

/// The tiles that a tree of `new_size` has and a tree of `old_size` does not have (or has
/// narrower): the hash tiles to write when the tree grows, partial ones included, level by
/// level (as `NewTiles` of `golang.org/x/mod/sumdb/tlog`). `new_tiles(0, s)` is every tile of
/// size `s`.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<Tile> {
    new_tiles_with_height(TILE_HEIGHT, old_size, new_size)
        .into_iter()
        .map(|(level, index, width)| Tile { level: TileLevel::Hashes(level), index, width: width as u16 })
        .collect()
}

/// The entry bundles that a tree of `new_size` has and a tree of `old_size` does not have (or
/// has narrower).
pub fn new_entry_bundles(old_size: u64, new_size: u64) -> Vec<Tile> {
    new_tiles_with_height(TILE_HEIGHT, old_size, new_size)
        .into_iter()
        .filter(|&(level, _, _)| level == 0)
        .map(|(_, index, width)| Tile { level: TileLevel::Entries, index, width: width as u16 })
        .collect()
}

/// `NewTiles` for tiles of `height` levels: (tile level, index, width).
fn new_tiles_with_height(height: u32, old_size: u64, new_size: u64) -> Vec<(u8, u64, u64)> {
    let mut tiles = Vec::new();
    let full = 1u64 << height;
    for level in 0..=TILE_LEVEL_MAX {
        let shift = height * u32::from(level);
        let new_n = new_size.checked_shr(shift).unwrap_or(0);
        if new_n == 0 {
            break;
        }
        let old_n = old_size.checked_shr(shift).unwrap_or(0);
        if old_n >= new_n {
            continue;
        }
        for index in (old_n >> height)..(new_n >> height) {
            tiles.push((level, index, full));
        }
        let index = new_n >> height;
        let width = new_n - (index << height);
        if width > 0 {
            tiles.push((level, index, width));
        }
    }
    tiles
}

/// The hash tile of a tree of `size` leaves that holds node `(level, index)`, and the range of
/// its hashes (positions within the tile) whose subtree root the node is.
pub fn tile_for_node(level: u8, index: u64, size: u64) -> Result<(Tile, std::ops::Range<u64>), TileError> {
    let outside = |context| TileError::NodeOutside { level, index, context };
    let end = index.checked_add(1).and_then(|i| i.checked_mul(1u64.checked_shl(u32::from(level))?));
    if end.is_none_or(|end| end > size) {
        return Err(outside("the tree"));
    }
    let tile_level = u32::from(level) / TILE_HEIGHT;
    let k = u32::from(level) % TILE_HEIGHT;
    let first = index << k; // first node of level 8L covered, fits: (index+1) << level <= size
    let tile_index = first >> TILE_HEIGHT;
    let hashes_at_level = level_width(size, tile_level);
    let width = (hashes_at_level - (tile_index << TILE_HEIGHT)).min(TILE_WIDTH);
    let start = first - (tile_index << TILE_HEIGHT);
    let tile = Tile { level: TileLevel::Hashes(tile_level as u8), index: tile_index, width: width as u16 };
    Ok((tile, start..start + (1 << k)))
}

/// Node `(level, index)` from the data of `tile` (which must be the tile
/// [`tile_for_node`] names for it, or a wider one of the same level and index).
pub fn node_from_tile(tile: &Tile, data: &[u8], level: u8, index: u64) -> Result<Hash, TileError> {
    check_tile_data(tile, data)?;
    let outside = TileError::NodeOutside { level, index, context: "the tile" };
    let tile_level = u32::from(level) / TILE_HEIGHT;
    let k = u32::from(level) % TILE_HEIGHT;
    let first = index.checked_shl(k).filter(|f| f >> k == index).ok_or(outside.clone())?;
    let inside = tile.level == TileLevel::Hashes(tile_level as u8)
        && first >> TILE_HEIGHT == tile.index
        && (first % TILE_WIDTH) + (1 << k) <= u64::from(tile.width);
    if !inside {
        return Err(outside);
    }
    let start = (first % TILE_WIDTH) as usize * HASH_BYTES;
    Ok(subtree_root(&data[start..start + (HASH_BYTES << k)]))
}

/// The root of a power-of-two run of concatenated hashes.
fn subtree_root(data: &[u8]) -> Hash {
    if data.len() <= HASH_BYTES {
        let mut hash = [0; HASH_BYTES];
        hash.copy_from_slice(&data[..HASH_BYTES]);
        return hash;
    }
    let (left, right) = data.split_at(data.len() / 2);
    Sha256::hash_children(&subtree_root(left), &subtree_root(right))
}

/// Checks that a hash tile's data is exactly `width` hashes.
pub fn check_tile_data(tile: &Tile, data: &[u8]) -> Result<(), TileError> {
    if tile.width == 0 || u64::from(tile.width) > TILE_WIDTH {
        return Err(TileError::BadWidth(u64::from(tile.width)));
    }
    let expected = usize::from(tile.width) * HASH_BYTES;
    if data.len() != expected {
        return Err(TileError::DataLength { expected, got: data.len() });
    }
    Ok(())
}

/// The contents of hash tile `tile`: its nodes read from `source`, concatenated.
pub fn tile_data<S: NodeSource<Sha256>>(source: &mut S, tile: &Tile) -> Result<Vec<u8>, TileError> {
    let TileLevel::Hashes(tile_level) = tile.level else {
        return Err(TileError::BadPath(tile.path()));
    };
    let level = u32::from(tile_level) * TILE_HEIGHT;
    let first = tile.index.checked_mul(TILE_WIDTH).ok_or(TileError::BadPath(tile.path()))?;
    let mut data = Vec::with_capacity(usize::from(tile.width) * HASH_BYTES);
    for i in 0..u64::from(tile.width) {
        let hash = source
            .node(level as u8, first + i)
            .map_err(|e| TileError::Read { path: tile.path(), message: e.to_string() })?;
        data.extend_from_slice(&hash);
    }
    Ok(data)
}

/// An entry bundle: each entry as a big-endian `u16` length and its bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.is_empty() || entries.len() as u64 > TILE_WIDTH {
        return Err(TileError::BadWidth(entries.len() as u64));
    }
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong { index, bytes: entry.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// The entries of an entry bundle that must hold exactly `width` of them, with no bytes left
/// over.
pub fn decode_entry_bundle(data: &[u8], width: u16) -> Result<Vec<&[u8]>, TileError> {
    if width == 0 || u64::from(width) > TILE_WIDTH {
        return Err(TileError::BadWidth(u64::from(width)));
    }
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = data;
    while !rest.is_empty() {
        let [hi, lo, tail @ ..] = rest else {
            return Err(TileError::BadBundle("a length prefix is cut short"));
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if tail.len() < len {
            return Err(TileError::BadBundle("an entry is cut short"));
        }
        if entries.len() == usize::from(width) {
            return Err(TileError::BadBundle("more entries than the width"));
        }
        entries.push(&tail[..len]);
        rest = &tail[len..];
    }
    if entries.len() != usize::from(width) {
        return Err(TileError::BadBundle("fewer entries than the width"));
    }
    Ok(entries)
}

/// Where a [`TileNodeSource`] gets tiles: a directory, an HTTP server, a store.
pub trait TileReader {
    /// Why a tile could not be read.
    type Error: std::fmt::Display;
    /// The data of `tile` (for a partial tile, exactly that partial tile).
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, Self::Error>;
}

/// Tree nodes read from the tiles of a tree of a given size, each tile read once. Use it as
/// the [`NodeSource`] of [`super::merkle`]'s root and proof functions: a proof then costs
/// `O(log n)` tile reads.
pub struct TileNodeSource<R: TileReader> {
    reader: R,
    size: u64,
    tiles: HashMap<Tile, Vec<u8>>,
}

impl<R: TileReader> TileNodeSource<R> {
    /// Nodes of the tree of `size` leaves, from `reader`.
    pub fn new(reader: R, size: u64) -> Self {
        Self { reader, size, tiles: HashMap::new() }
    }

    /// Tiles read so far.
    pub fn tiles_read(&self) -> usize {
        self.tiles.len()
    }

    fn tile(&mut self, tile: &Tile) -> Result<&[u8], TileError> {
        if !self.tiles.contains_key(tile) {
            let data = self
                .reader
                .read_tile(tile)
                .map_err(|e| TileError::Read { path: tile.path(), message: e.to_string() })?;
            check_tile_data(tile, &data)?;
            self.tiles.insert(*tile, data);
        }
        self.tiles.get(tile).map(Vec::as_slice).ok_or_else(|| TileError::BadPath(tile.path()))
    }
}

impl<R: TileReader> NodeSource<Sha256> for TileNodeSource<R> {
    type Error = TileError;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, TileError> {
        let (tile, _) = tile_for_node(level, index, self.size)?;
        let data = self.tile(&tile)?;
        node_from_tile(&tile, data, level, index)
    }
}

/// Position of node `(level, n)` in the linear order in which a log that stores every node
/// appends them (`StoredHashIndex` of `golang.org/x/mod/sumdb/tlog`): leaf `n`'s hash follows
/// the nodes completed by leaf `n - 1`, and the nodes that leaf `n` completes follow it, lowest
/// first. `None` past `u64`.
pub fn stored_hash_index(level: u8, n: u64) -> Option<u64> {
    let mut n = n;
    for _ in 0..level {
        n = n.checked_mul(2)?.checked_add(1)?;
    }
    let mut index: u64 = 0;
    while n > 0 {
        index = index.checked_add(n)?;
        n >>= 1;
    }
    index.checked_add(u64::from(level))
}

/// The node `(level, n)` at stored position `index` (`SplitStoredHashIndex`).
pub fn split_stored_hash_index(index: u64) -> Option<(u8, u64)> {
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n)?;
    loop {
        // Leaf n + 1's hash follows leaf n's and the trailing_ones(n) nodes leaf n completes.
        let next = index_n.checked_add(1)?.checked_add(u64::from(n.trailing_ones()))?;
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    let level = u8::try_from(index - index_n).ok()?;
    Some((level, n.checked_shr(u32::from(level))?))
}

/// Number of stored nodes of a tree of `size` leaves (`StoredHashCount`).
pub fn stored_hash_count(size: u64) -> Option<u64> {
    if size == 0 {
        return Some(0);
    }
    let last = size - 1;
    stored_hash_index(0, last)?.checked_add(1 + u64::from(last.trailing_ones()))
}

/// The nodes to store when leaf `n` (with hash `leaf_hash`) is appended, in stored order: the
/// leaf hash, then the root of each subtree it completes, lowest first; their positions are
/// `stored_hash_index(0, n)` onwards. Reads one left sibling per completed subtree.
pub fn stored_hashes<S: NodeSource<Sha256>>(n: u64, leaf_hash: Hash, source: &mut S) -> Result<Vec<Hash>, TileError> {
    let completed = n.trailing_ones();
    let mut hashes = vec![leaf_hash];
    let mut hash = leaf_hash;
    for level in 0..completed {
        let sibling = (n >> level) - 1;
        let left = source
            .node(level as u8, sibling)
            .map_err(|e| TileError::Read { path: format!("node {level}/{sibling}"), message: e.to_string() })?;
        hash = Sha256::hash_children(&left, &hash);
        hashes.push(hash);
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::merkle::{self, MemoryTree};

    fn tree(size: u64) -> MemoryTree<Sha256> {
        MemoryTree::from_entries((0..size).map(|i| format!("leaf {i}")))
    }

    /// Tiles held in memory, written from a tree by `tile_data`.
    struct MemoryTiles(HashMap<Tile, Vec<u8>>);

    impl TileReader for MemoryTiles {
        type Error = String;
        fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, String> {
            self.0.get(tile).cloned().ok_or_else(|| format!("no tile {}", tile.path()))
        }
    }

    fn publish(tree: &mut MemoryTree<Sha256>) -> MemoryTiles {
        let size = tree.size();
        let tiles = new_tiles(0, size).into_iter().map(|t| (t, tile_data(tree, &t).unwrap()));
        MemoryTiles(tiles.collect())
    }

    /// golang.org/x/mod/sumdb/tlog tile_test.go TestNewTilesForSize (tiles of height 10).
    #[test]
    fn go_new_tiles_counts() {
        let cases = [
            (1, 1, 0),
            (100, 101, 1),
            (1023, 1025, 3),
            (1024, 1030, 1),
            (1030, 2000, 1),
            (1030, 10000, 10),
            (49516517, 49516586, 3),
        ];
        for (old, new, want) in cases {
            assert_eq!(new_tiles_with_height(10, old, new).len(), want, "{old}..{new}");
        }
    }

    /// golang.org/x/mod/sumdb/tlog tlog_test.go TestSplitStoredHashIndex.
    #[test]
    fn go_split_stored_hash_index() {
        for level in 0..10 {
            for n in 0..100 {
                let index = stored_hash_index(level, n).unwrap();
                assert_eq!(split_stored_hash_index(index), Some((level, n)));
            }
        }
    }

    /// golang.org/x/mod/sumdb/tlog TestTree, for the stored-hash order: appending leaf by leaf,
    /// the hashes land at their stored positions and are the tree's nodes.
    #[test]
    fn stored_hashes_follow_the_tree() {
        let mut memory = MemoryTree::<Sha256>::new();
        let mut stored: Vec<Hash> = Vec::new();
        for n in 0..300u64 {
            let leaf = Sha256::hash_leaf(format!("leaf {n}").as_bytes());
            let hashes = stored_hashes(n, leaf, &mut memory).unwrap();
            assert_eq!(stored_hash_index(0, n), Some(stored.len() as u64));
            stored.extend(hashes);
            memory.push_leaf_hash(leaf);
            assert_eq!(stored_hash_count(n + 1), Some(stored.len() as u64));
        }
        for (index, hash) in stored.iter().enumerate() {
            let (level, n) = split_stored_hash_index(index as u64).unwrap();
            assert_eq!(memory.node(level, n).unwrap(), *hash, "stored hash {index}");
        }
    }

    #[test]
    fn every_node_reads_back_from_tiles() {
        for size in [1, 255, 256, 257, 511, 512, 785, 65536 + 300] {
            let mut tree = tree(size);
            let tiles = publish(&mut tree);
            let mut source = TileNodeSource::new(tiles, size);
            for level in 0..=17u8 {
                let count = size >> level;
                let step = (count / 97).max(1);
                for index in (0..count).step_by(step as usize).chain(count.checked_sub(1)) {
                    let want = merkle::NodeSource::node(&mut tree, level, index).unwrap();
                    assert_eq!(source.node(level, index).unwrap(), want, "size {size} node {level}/{index}");
                }
                assert!(source.node(level, count).is_err(), "past the tree");
            }
        }
    }

    #[test]
    fn proofs_from_tiles_equal_proofs_from_memory() {
        let size = 70_000;
        let mut tree = tree(size);
        let root = tree.root();
        let tiles = publish(&mut tree);
        for index in [0, 1, 255, 256, 65_535, 65_536, 69_999] {
            let mut source = TileNodeSource::new(MemoryTiles(tiles.0.clone()), size);
            let proof = merkle::prove_inclusion::<Sha256, _>(&mut source, index, size).unwrap();
            assert!(source.tiles_read() <= 6, "{} tiles", source.tiles_read());
            assert_eq!(proof, merkle::prove_inclusion::<Sha256, _>(&mut tree, index, size).unwrap());
            let leaf = Sha256::hash_leaf(format!("leaf {index}").as_bytes());
            merkle::verify_inclusion::<Sha256>(index, size, &leaf, &proof, &root).unwrap();
        }
        let mut source = TileNodeSource::new(tiles, size);
        assert_eq!(merkle::root::<Sha256, _>(&mut source, size).unwrap(), root);
        let proof = merkle::prove_consistency::<Sha256, _>(&mut source, 12_345, size).unwrap();
        assert_eq!(proof, merkle::prove_consistency::<Sha256, _>(&mut tree, 12_345, size).unwrap());
    }

    #[test]
    fn level_one_hashes_are_roots_of_full_level_zero_tiles() {
        let mut tree = tree(512);
        let tiles = publish(&mut tree);
        let level0 = &tiles.0[&Tile { level: TileLevel::Hashes(0), index: 1, width: 256 }];
        let level1 = &tiles.0[&Tile { level: TileLevel::Hashes(1), index: 0, width: 2 }];
        assert_eq!(subtree_root(level0).as_slice(), &level1[32..64]);
    }

    #[test]
    fn tiles_of_the_wrong_size_are_refused() {
        let tile = Tile { level: TileLevel::Hashes(0), index: 0, width: 3 };
        assert!(matches!(node_from_tile(&tile, &[0; 95], 0, 0), Err(TileError::DataLength { .. })));
        assert!(matches!(node_from_tile(&tile, &[0; 96], 0, 3), Err(TileError::NodeOutside { .. })));
        assert!(matches!(node_from_tile(&tile, &[0; 96], 2, 0), Err(TileError::NodeOutside { .. })));
        assert!(matches!(node_from_tile(&tile, &[0; 96], 8, 0), Err(TileError::NodeOutside { .. })));
        let bad = Tile { width: 0, ..tile };
        assert!(matches!(node_from_tile(&bad, &[], 0, 0), Err(TileError::BadWidth(0))));
        assert!(tile_for_node(63, 1, u64::MAX).is_err());
        assert!(tile_for_node(0, u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_malformations() {
        let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), Vec::new(), vec![7; 300]];
        let data = encode_entry_bundle(&entries).unwrap();
        assert_eq!(&data[..3], &[0, 1, b'a']);
        assert_eq!(decode_entry_bundle(&data, 3).unwrap(), entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(decode_entry_bundle(&data, 2).is_err());
        assert!(decode_entry_bundle(&data, 4).is_err());
        assert!(decode_entry_bundle(&data[..data.len() - 1], 3).is_err());
        let mut longer = data.clone();
        longer.push(0);
        assert!(decode_entry_bundle(&longer, 3).is_err());
        assert!(decode_entry_bundle(&data, 0).is_err());
        assert!(matches!(
            encode_entry_bundle(&[vec![0; ENTRY_BYTES_MAX + 1]]),
            Err(TileError::EntryTooLong { index: 0, .. })
        ));
        assert!(encode_entry_bundle(&[vec![0; ENTRY_BYTES_MAX]]).is_ok());
        assert!(encode_entry_bundle::<Vec<u8>>(&[]).is_err());
    }

    #[test]
    fn entry_bundles_follow_level_zero_tiles() {
        let bundles = new_entry_bundles(200, 70_000);
        assert_eq!(bundles.first().map(Tile::path).as_deref(), Some("tile/entries/000"));
        assert_eq!(bundles.last().map(Tile::path).as_deref(), Some("tile/entries/273.p/112"));
        assert_eq!(bundles.len(), 274);
    }
}
