//! Merkle tree hashing, proofs and proof verification of RFC 9162 section 2.1 (the tree of
//! RFC 6962 section 2.1), with the hash function a parameter.
//!
//! # The tree
//!
//! For a hash function `HASH` and an ordered list of `n` entries `D[n] = {d(0), ..., d(n-1)}`,
//! the Merkle Tree Hash is
//!
//! ```text
//! MTH({})       = HASH()                                   the empty tree
//! MTH({d(0)})   = HASH(0x00 || d(0))                       a leaf
//! MTH(D[n])     = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])) for n > 1, k the largest power of
//!                                                          two smaller than n
//! ```
//!
//! [`TreeHasher`] is that `HASH`; [`Sha256`] is the one quotaledger and every C2SP format
//! use. A *node* `(level, index)` is the hash of the complete subtree over the `2^level`
//! leaves `[index * 2^level, (index + 1) * 2^level)`; level 0 nodes are leaf hashes. Every
//! other hash of a tree (the root of a size that is not a power of two, the sibling of a
//! path at the right edge) is computed from nodes by [`NodeSource`] readers here, so a
//! store needs to keep nothing but nodes (or tiles of them, see [`super::tiles`]).
//!
//! # Proofs
//!
//! - [`prove_inclusion`] is `PATH(m, D[n])` of RFC 9162 2.1.3.1: the hashes that lead from
//!   leaf `m` to the root of the tree of size `n`, at most `ceil(log2 n)` of them
//!   ([`inclusion_proof_len`] gives the exact number).
//! - [`prove_consistency`] is `PROOF(m, D[n])` of RFC 9162 2.1.4.1: the hashes that show the
//!   tree of size `m` is a prefix of the tree of size `n`, at most `ceil(log2 n) + 1` of them
//!   (the `+ 1` is the standard's: `PROOF(3, D[5])` has 4 hashes; [`consistency_proof_len`]
//!   gives the exact number).
//!
//! Generation reads `O(log n)` nodes from a [`NodeSource`].
//!
//! # Verification
//!
//! [`verify_inclusion`] and [`verify_consistency`] are the algorithms of RFC 9162 2.1.3.2 and
//! 2.1.4.2, step for step, preceded by checks that fail early with a precise error: the index
//! is in the tree, the sizes are ordered, the first size is not 0, the proof has exactly the
//! length the sizes imply. A proof is accepted only if every step succeeds and the computed
//! root(s) equal the expected one(s) byte for byte. Equal sizes are consistent only with an
//! empty proof and equal roots; a consistency proof from the empty tree is refused (it proves
//! nothing, RFC 9162 requires `0 < m`). Every hash is of the hasher's fixed type, so a hash of
//! the wrong length cannot reach these functions: decode with [`TreeHasher::hash_from_slice`].

use std::fmt::Debug;

/// Prefix byte of a leaf hash: `HASH(0x00 || entry)`.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix byte of an interior node hash: `HASH(0x01 || left || right)`.
pub const NODE_PREFIX: u8 = 0x01;
/// Most hashes in an inclusion proof for any tree size representable in a `u64`
/// (`ceil(log2(2^64 - 1))`); a longer proof is refused before any hashing.
pub const INCLUSION_PROOF_HASHES_MAX: usize = 64;
/// Most hashes in a consistency proof for any tree size representable in a `u64`
/// (`ceil(log2 n) + 1`); a longer proof is refused before any hashing.
pub const CONSISTENCY_PROOF_HASHES_MAX: usize = 65;

/// A hash function for RFC 9162 Merkle trees. Implement [`TreeHasher::digest`]; the leaf,
/// node and empty-tree hashes follow from it.
pub trait TreeHasher {
    /// A digest: fixed length, compared byte for byte.
    type Hash: Copy + Eq + Debug + AsRef<[u8]> + for<'a> TryFrom<&'a [u8]>;
    /// Length of a digest in bytes.
    const HASH_BYTES: usize;

    /// `HASH(parts[0] || parts[1] || ...)`.
    fn digest(parts: &[&[u8]]) -> Self::Hash;

    /// `MTH({}) = HASH()`, the root of the empty tree.
    fn empty_root() -> Self::Hash {
        Self::digest(&[])
    }

    /// `HASH(0x00 || entry)`, the hash of a leaf.
    fn hash_leaf(entry: &[u8]) -> Self::Hash {
        Self::digest(&[&[LEAF_PREFIX], entry])
    }

    /// `HASH(0x01 || left || right)`, the hash of an interior node.
    fn hash_children(left: &Self::Hash, right: &Self::Hash) -> Self::Hash {
        Self::digest(&[&[NODE_PREFIX], left.as_ref(), right.as_ref()])
    }

    /// A digest from untrusted bytes: exactly [`TreeHasher::HASH_BYTES`] of them.
    fn hash_from_slice(bytes: &[u8]) -> Result<Self::Hash, HashLengthError> {
        Self::Hash::try_from(bytes).map_err(|_| HashLengthError { expected: Self::HASH_BYTES, got: bytes.len() })
    }
}

/// A byte string offered as a digest has the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a hash has {got} bytes, expected {expected}")]
pub struct HashLengthError {
    /// The hasher's digest length.
    pub expected: usize,
    /// The length offered.
    pub got: usize,
}

/// SHA-256 (FIPS 180-4), the hash of RFC 6962, C2SP tlog-checkpoint and tlog-tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

impl TreeHasher for Sha256 {
    type Hash = Hash;
    const HASH_BYTES: usize = 32;

    fn digest(parts: &[&[u8]]) -> Hash {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }
}

/// Where proof generation reads the hashes of complete subtrees.
///
/// `node(level, index)` is the hash of the complete subtree over the leaves
/// `[index << level, (index + 1) << level)`, for `level` in `0..64`. The generators below ask
/// only for nodes that lie entirely inside the tree they prove, `O(log n)` of them per proof.
pub trait NodeSource<H: TreeHasher> {
    /// Why a node could not be read.
    type Error: std::error::Error + 'static;

    /// The hash of complete subtree `(level, index)`.
    fn node(&mut self, level: u8, index: u64) -> Result<H::Hash, Self::Error>;
}

/// A proof or root was asked of a tree that does not hold it, or a node could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E: std::error::Error + 'static> {
    /// Inclusion of a leaf past the end of the tree.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from 0 (meaningless) or from a larger tree to a smaller one.
    #[error("no consistency proof from size {size1} to size {size2} (needs 0 < size1 <= size2)")]
    BadSizes {
        /// The first (older) tree size.
        size1: u64,
        /// The second (newer) tree size.
        size2: u64,
    },
    /// The source failed.
    #[error("reading node at level {level}, index {index}: {source}")]
    Read {
        /// Level of the node.
        level: u8,
        /// Index of the node within its level.
        index: u64,
        /// The source's error.
        #[source]
        source: E,
    },
}

/// Why a proof was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Inclusion of a leaf past the end of the tree (this includes every leaf of the empty
    /// tree).
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index claimed.
        index: u64,
        /// The tree size claimed.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("first tree size {size1} is larger than second tree size {size2}")]
    SizesOutOfOrder {
        /// The first (older) tree size.
        size1: u64,
        /// The second (newer) tree size.
        size2: u64,
    },
    /// A consistency proof from the empty tree proves nothing and is refused.
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyFirstTree,
    /// The proof does not have the number of hashes the sizes and index imply.
    #[error("the proof has {got} hashes, expected {expected}")]
    WrongProofLength {
        /// Hashes expected.
        expected: usize,
        /// Hashes offered.
        got: usize,
    },
    /// The root computed from the proof is not the one claimed.
    #[error("the proof leads to another root")]
    RootMismatch,
    /// The first-tree root computed from a consistency proof is not the one claimed.
    #[error("the proof leads to another root of the first tree")]
    FirstRootMismatch,
    /// The algorithm of RFC 9162 ran out of tree before the proof ended, or the reverse.
    #[error("the proof does not fit the tree sizes")]
    Malformed,
}

/// The root of the tree of the first `size` leaves of `source` (`MTH(D[size])`).
pub fn root<H: TreeHasher, S: NodeSource<H>>(source: &mut S, size: u64) -> Result<H::Hash, ProveError<S::Error>> {
    if size == 0 {
        return Ok(H::empty_root());
    }
    range_hash::<H, S>(source, 0, size)
}

/// `PATH(index, D[size])`: the inclusion proof of leaf `index` in the tree of size `size`,
/// deepest sibling first.
pub fn prove_inclusion<H: TreeHasher, S: NodeSource<H>>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<H::Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProveError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(inclusion_proof_len(index, size));
    path::<H, S>(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// `PROOF(size1, D[size2])`: the consistency proof from the tree of size `size1` to the tree of
/// size `size2` (empty if the sizes are equal).
pub fn prove_consistency<H: TreeHasher, S: NodeSource<H>>(
    source: &mut S,
    size1: u64,
    size2: u64,
) -> Result<Vec<H::Hash>, ProveError<S::Error>> {
    if size1 == 0 || size1 > size2 {
        return Err(ProveError::BadSizes { size1, size2 });
    }
    let mut proof = Vec::with_capacity(consistency_proof_len(size1, size2));
    subproof::<H, S>(source, size1, 0, size2, true, &mut proof)?;
    Ok(proof)
}

/// Number of hashes in `PATH(index, D[size])` (0 if `index >= size`): one per level where
/// the paths to `index` and to `size - 1` have diverged, plus one per left sibling above.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Number of hashes in `PROOF(size1, D[size2])` (0 unless `0 < size1 < size2`).
pub fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    if size1 == 0 || size1 >= size2 {
        return 0;
    }
    // The recursion of RFC 9162 2.1.4.1, counting instead of hashing.
    let (mut m, mut n, mut complete, mut len) = (size1, size2, true, 0);
    while m != n {
        let k = largest_power_of_two_below(n);
        len += 1;
        if m <= k {
            n = k;
        } else {
            m -= k;
            n -= k;
            complete = false;
        }
    }
    len + usize::from(!complete)
}

/// Checks that `leaf_hash` is leaf `index` of the tree of size `size` with root `root`
/// (RFC 9162 2.1.3.2).
pub fn verify_inclusion<H: TreeHasher>(
    index: u64,
    size: u64,
    leaf_hash: &H::Hash,
    proof: &[H::Hash],
    root: &H::Hash,
) -> Result<(), VerifyError> {
    if root_from_inclusion_proof::<H>(index, size, leaf_hash, proof)? == *root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch)
    }
}

/// The root that `proof` leads to from leaf `index` with hash `leaf_hash` in a tree of size
/// `size` (RFC 9162 2.1.3.2 steps 1 to 4). Trust it only after comparing it with a root
/// known by other means; [`verify_inclusion`] does that.
pub fn root_from_inclusion_proof<H: TreeHasher>(
    index: u64,
    size: u64,
    leaf_hash: &H::Hash,
    proof: &[H::Hash],
) -> Result<H::Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    check_length(proof.len(), inclusion_proof_len(index, size))?;
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(VerifyError::Malformed);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = H::hash_children(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = H::hash_children(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::Malformed);
    }
    Ok(r)
}

/// Checks that the tree of size `size1` with root `root1` is a prefix of the tree of size
/// `size2` with root `root2` (RFC 9162 2.1.4.2; equal sizes need an empty proof and equal
/// roots).
pub fn verify_consistency<H: TreeHasher>(
    size1: u64,
    size2: u64,
    proof: &[H::Hash],
    root1: &H::Hash,
    root2: &H::Hash,
) -> Result<(), VerifyError> {
    if size1 > size2 {
        return Err(VerifyError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 {
        return Err(VerifyError::EmptyFirstTree);
    }
    if size1 == size2 {
        check_length(proof.len(), 0)?;
        return if root1 == root2 { Ok(()) } else { Err(VerifyError::RootMismatch) };
    }
    check_length(proof.len(), consistency_proof_len(size1, size2))?;
    let (fr, sr) = consistency_roots::<H>(size1, size2, proof, root1)?;
    if fr != *root1 {
        return Err(VerifyError::FirstRootMismatch);
    }
    if sr != *root2 {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 2.1.4.2 steps 1 to 6 for `0 < size1 < size2`: the first and second roots the
/// proof leads to.
fn consistency_roots<H: TreeHasher>(
    size1: u64,
    size2: u64,
    proof: &[H::Hash],
    root1: &H::Hash,
) -> Result<(H::Hash, H::Hash), VerifyError> {
    // Step 2: a first tree that is a complete subtree is its own first proof element.
    let (first, rest): (&H::Hash, &[H::Hash]) =
        if size1.is_power_of_two() { (root1, proof) } else { proof.split_first().ok_or(VerifyError::Malformed)? };
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(VerifyError::Malformed);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = H::hash_children(c, &fr);
            sr = H::hash_children(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = H::hash_children(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::Malformed);
    }
    Ok((fr, sr))
}

fn check_length(got: usize, expected: usize) -> Result<(), VerifyError> {
    if got == expected {
        Ok(())
    } else {
        Err(VerifyError::WrongProofLength { expected, got })
    }
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

fn read<H: TreeHasher, S: NodeSource<H>>(
    source: &mut S,
    level: u8,
    index: u64,
) -> Result<H::Hash, ProveError<S::Error>> {
    source.node(level, index).map_err(|source| ProveError::Read { level, index, source })
}

/// `MTH(D[lo:hi])` for a subtree the RFC recursion produces (`lo` a multiple of the largest
/// power of two not above `hi - lo`, `hi > lo`): its complete subtrees from the left, largest
/// first, folded from the right.
fn range_hash<H: TreeHasher, S: NodeSource<H>>(
    source: &mut S,
    lo: u64,
    hi: u64,
) -> Result<H::Hash, ProveError<S::Error>> {
    let mut nodes = Vec::with_capacity((hi - lo).count_ones() as usize);
    let mut start = lo;
    while start < hi {
        let level = (hi - start).ilog2().min(start.trailing_zeros());
        nodes.push(read::<H, S>(source, level as u8, start >> level)?);
        start += 1 << level;
    }
    let mut iter = nodes.iter().rev();
    let last = iter.next().copied().unwrap_or_else(H::empty_root);
    Ok(iter.fold(last, |acc, left| H::hash_children(left, &acc)))
}

/// `PATH(m, D[lo:hi])`, appended to `out`.
fn path<H: TreeHasher, S: NodeSource<H>>(
    source: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<H::Hash>,
) -> Result<(), ProveError<S::Error>> {
    if hi - lo <= 1 {
        return Ok(());
    }
    let mid = lo + largest_power_of_two_below(hi - lo);
    if m < mid {
        path::<H, S>(source, m, lo, mid, out)?;
        out.push(range_hash::<H, S>(source, mid, hi)?);
    } else {
        path::<H, S>(source, m, mid, hi, out)?;
        out.push(range_hash::<H, S>(source, lo, mid)?);
    }
    Ok(())
}

/// `SUBPROOF(m - lo, D[lo:hi], complete)`, appended to `out`; `m` is absolute.
fn subproof<H: TreeHasher, S: NodeSource<H>>(
    source: &mut S,
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    out: &mut Vec<H::Hash>,
) -> Result<(), ProveError<S::Error>> {
    if m == hi {
        if !complete {
            out.push(range_hash::<H, S>(source, lo, hi)?);
        }
        return Ok(());
    }
    let mid = lo + largest_power_of_two_below(hi - lo);
    if m <= mid {
        subproof::<H, S>(source, m, lo, mid, complete, out)?;
        out.push(range_hash::<H, S>(source, mid, hi)?);
    } else {
        subproof::<H, S>(source, m, mid, hi, false, out)?;
        out.push(range_hash::<H, S>(source, lo, mid)?);
    }
    Ok(())
}

/// A tree held in memory: every node of every complete subtree, level by level. For tests,
/// and for trees built whole at once (such as a tree over the quota state at a checkpoint).
#[derive(Debug, Clone)]
pub struct MemoryTree<H: TreeHasher> {
    /// `levels[l][i]` is node `(l, i)`.
    levels: Vec<Vec<H::Hash>>,
}

impl<H: TreeHasher> Default for MemoryTree<H> {
    fn default() -> Self {
        Self { levels: Vec::new() }
    }
}

impl<H: TreeHasher> MemoryTree<H> {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of the given entries, in order.
    pub fn from_entries<E: AsRef<[u8]>>(entries: impl IntoIterator<Item = E>) -> Self {
        let mut tree = Self::new();
        for entry in entries {
            tree.push_leaf_hash(H::hash_leaf(entry.as_ref()));
        }
        tree
    }

    /// Appends a leaf by its hash, completing the subtrees it closes.
    pub fn push_leaf_hash(&mut self, leaf_hash: H::Hash) {
        let mut hash = leaf_hash;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            if nodes.len() % 2 == 1 {
                return;
            }
            hash = H::hash_children(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// The root of the whole tree: the last node of every level whose bit is set in the size
    /// (the complete subtrees of the right edge), folded from the right.
    pub fn root(&self) -> H::Hash {
        let size = self.size();
        let mut root: Option<H::Hash> = None;
        for (level, nodes) in self.levels.iter().enumerate() {
            let Some(node) = nodes.last().filter(|_| (size >> level) & 1 == 1) else {
                continue;
            };
            root = Some(match root {
                None => *node,
                Some(right) => H::hash_children(node, &right),
            });
        }
        root.unwrap_or_else(H::empty_root)
    }
}

/// A node that a [`MemoryTree`] does not hold (outside the tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node at level {level}, index {index} is not in the tree")]
pub struct MissingNode {
    /// Level asked for.
    pub level: u8,
    /// Index asked for.
    pub index: u64,
}

impl<H: TreeHasher> NodeSource<H> for MemoryTree<H> {
    type Error = MissingNode;

    fn node(&mut self, level: u8, index: u64) -> Result<H::Hash, MissingNode> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of the RFC 6962 reference vectors (certificate-transparency, transparency-dev
    /// `cmd/proofgen`), and the roots of their first 1 to 8 leaves.
    const LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// MTH straight from its definition.
    fn naive_root<H: TreeHasher>(entries: &[Vec<u8>]) -> H::Hash {
        match entries.len() {
            0 => H::empty_root(),
            1 => H::hash_leaf(&entries[0]),
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                H::hash_children(&naive_root::<H>(&entries[..k]), &naive_root::<H>(&entries[k..]))
            }
        }
    }

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
    }

    #[test]
    fn empty_tree_is_the_hash_of_nothing() {
        assert_eq!(
            Sha256::empty_root().to_vec(),
            unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(MemoryTree::<Sha256>::new().root(), Sha256::empty_root());
    }

    #[test]
    fn reference_roots() {
        let leaves: Vec<Vec<u8>> = LEAVES.iter().map(|l| unhex(l)).collect();
        for (n, want) in ROOTS.iter().enumerate() {
            let mut tree = MemoryTree::<Sha256>::from_entries(&leaves[..=n]);
            assert_eq!(tree.root().to_vec(), unhex(want), "root of {} leaves", n + 1);
            let size = tree.size();
            assert_eq!(root::<Sha256, _>(&mut tree, size).unwrap().to_vec(), unhex(want));
        }
    }

    /// The tree code is generic over the hash: BLAKE3 in place of SHA-256 gives the same
    /// structure.
    struct Blake3;
    impl TreeHasher for Blake3 {
        type Hash = [u8; 32];
        const HASH_BYTES: usize = 32;
        fn digest(parts: &[&[u8]]) -> [u8; 32] {
            let mut hasher = blake3::Hasher::new();
            for part in parts {
                hasher.update(part);
            }
            *hasher.finalize().as_bytes()
        }
    }

    fn check_all_proofs<H: TreeHasher>(max: usize) {
        let all = entries(max);
        for n in 0..=max {
            let mut tree = MemoryTree::<H>::from_entries(&all[..n]);
            let root_n = tree.root();
            assert_eq!(root_n, naive_root::<H>(&all[..n]), "root of {n}");
            let size = n as u64;
            let ceil_log2 = if n <= 1 { 0 } else { (size - 1).ilog2() as usize + 1 };
            for m in 0..size {
                let proof = prove_inclusion::<H, _>(&mut tree, m, size).unwrap();
                assert!(proof.len() <= ceil_log2, "inclusion {m} in {n}: {}", proof.len());
                assert_eq!(proof.len(), inclusion_proof_len(m, size));
                let leaf = H::hash_leaf(&all[m as usize]);
                verify_inclusion::<H>(m, size, &leaf, &proof, &root_n).unwrap();
            }
            for m in 1..=size {
                let proof = prove_consistency::<H, _>(&mut tree, m, size).unwrap();
                assert!(proof.len() <= ceil_log2 + 1, "consistency {m} to {n}: {}", proof.len());
                assert_eq!(proof.len(), consistency_proof_len(m, size));
                let root_m = naive_root::<H>(&all[..m as usize]);
                verify_consistency::<H>(m, size, &proof, &root_m, &root_n).unwrap();
            }
        }
    }

    #[test]
    fn every_proof_of_small_trees_verifies_sha256() {
        check_all_proofs::<Sha256>(70);
    }

    #[test]
    fn every_proof_of_small_trees_verifies_blake3() {
        check_all_proofs::<Blake3>(20);
    }

    #[test]
    fn consistency_proofs_can_be_one_longer_than_log2() {
        assert_eq!(consistency_proof_len(3, 5), 4);
        let max = (2..=1024u64)
            .flat_map(|n| (1..n).map(move |m| (m, n)))
            .all(|(m, n)| consistency_proof_len(m, n) <= (n - 1).ilog2() as usize + 2);
        assert!(max);
    }

    #[test]
    fn proof_lengths_for_huge_trees_stay_within_the_limits() {
        let n = u64::MAX;
        assert_eq!(inclusion_proof_len(0, n), INCLUSION_PROOF_HASHES_MAX);
        assert!(inclusion_proof_len(n - 1, n) <= INCLUSION_PROOF_HASHES_MAX);
        assert!(consistency_proof_len(3, n) <= CONSISTENCY_PROOF_HASHES_MAX);
        assert!(consistency_proof_len(n - 1, n) <= CONSISTENCY_PROOF_HASHES_MAX);
    }

    #[test]
    fn proof_requests_outside_the_tree_are_refused() {
        let mut tree = MemoryTree::<Sha256>::from_entries(entries(5));
        assert!(matches!(prove_inclusion::<Sha256, _>(&mut tree, 5, 5), Err(ProveError::IndexOutOfRange { .. })));
        assert!(matches!(prove_consistency::<Sha256, _>(&mut tree, 0, 5), Err(ProveError::BadSizes { .. })));
        assert!(matches!(prove_consistency::<Sha256, _>(&mut tree, 6, 5), Err(ProveError::BadSizes { .. })));
        // Nodes past what the source holds are a read error, not a panic.
        assert!(matches!(prove_inclusion::<Sha256, _>(&mut tree, 3, 9), Err(ProveError::Read { .. })));
    }

    #[test]
    fn hashes_of_the_wrong_length_are_refused() {
        assert_eq!(Sha256::hash_from_slice(&[0; 31]), Err(HashLengthError { expected: 32, got: 31 }));
        assert!(Sha256::hash_from_slice(&[0; 32]).is_ok());
    }

    /// RFC 9162 inclusion proofs do not bind the tree size by themselves: the path of leaf 0
    /// is the same computation in trees of 5 and 6 leaves. What binds the size is the signed
    /// checkpoint that pairs it with the root (`Checkpoint::verify_inclusion`).
    #[test]
    fn bare_inclusion_proofs_do_not_bind_the_tree_size() {
        let mut tree = MemoryTree::<Sha256>::from_entries(entries(5));
        let root5 = tree.root();
        let proof = prove_inclusion::<Sha256, _>(&mut tree, 0, 5).unwrap();
        let leaf = Sha256::hash_leaf(&entries(1)[0]);
        assert_eq!(verify_inclusion::<Sha256>(0, 6, &leaf, &proof, &root5), Ok(()));
        assert!(verify_inclusion::<Sha256>(0, 10, &leaf, &proof, &root5).is_err());
    }
}
