//! The Merkle tree manifest (`PATH/tree/MANIFEST`, README "Storage"): how many leaves the
//! stored-hash file `PATH/tree/hashes` holds for sure, the root of that tree, and the right
//! edge of its last, unfinished tile (the nodes below [`STORED_LEVEL_MIN`] are not stored).
//!
//! ```text
//! "qledtree" | format u8 = 2 | 7 zero bytes | size u64 LE | root [32]
//!   | low edge: 8 x [32] | checksum [16]
//! ```
//!
//! Low-edge slot `l` (0..8) holds node `(l, (size >> l) - 1)` when bit `l` of `size` is set,
//! zeros otherwise. The checksum is the first 16 bytes of `BLAKE3-derive_key(
//! TREE_MANIFEST_CONTEXT, bytes 0..CHECKSUM_AT)`. Format 1 (no low edge; `tree/hashes` held
//! every level) is recognised by [`TreeManifest::decode`] as [`DecodeError::Version`]: the
//! tree is derived data, and a writer rebuilds it. Pure: bytes in, bytes out.

use super::codec::DecodeError;

/// Magic of a tree manifest.
pub const TREE_MANIFEST_MAGIC: &[u8; 8] = b"qledtree";
/// Format of the tree manifest and of `tree/hashes` this version writes.
pub const TREE_FORMAT: u8 = 2;
/// BLAKE3 `derive_key` context of a tree manifest's checksum.
pub const TREE_MANIFEST_CONTEXT: &str = "quotaledger 2026-11-30 tree manifest v2";
/// The lowest tree level `tree/hashes` stores: the levels below it (one 256-leaf tile, the
/// tlog-tiles tile height) are recomputed from the records when a proof needs them.
pub const STORED_LEVEL_MIN: u8 = 8;
/// Length of a tree manifest, in bytes.
pub const TREE_MANIFEST_BYTES: usize = 56 + 32 * STORED_LEVEL_MIN as usize + 16;
const CHECKSUM_AT: usize = TREE_MANIFEST_BYTES - 16;

/// The committed prefix of the stored Merkle tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeManifest {
    /// Leaves (records) the tree covers.
    pub size: u64,
    /// RFC 6962 SHA-256 root of the tree of `size` leaves.
    pub root: [u8; 32],
    /// Slot `l`: node `(l, (size >> l) - 1)` if bit `l` of `size` is set, else zeros.
    pub low_edge: [[u8; 32]; STORED_LEVEL_MIN as usize],
}

impl TreeManifest {
    /// The manifest of the empty tree, whose root is `empty_root`.
    pub fn empty(empty_root: [u8; 32]) -> TreeManifest {
        TreeManifest { size: 0, root: empty_root, low_edge: [[0; 32]; STORED_LEVEL_MIN as usize] }
    }

    /// The manifest's bytes.
    pub fn encode(&self) -> [u8; TREE_MANIFEST_BYTES] {
        let mut b = [0u8; TREE_MANIFEST_BYTES];
        b[0..8].copy_from_slice(TREE_MANIFEST_MAGIC);
        b[8] = TREE_FORMAT;
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b[24..56].copy_from_slice(&self.root);
        for (l, node) in self.low_edge.iter().enumerate() {
            b[56 + 32 * l..88 + 32 * l].copy_from_slice(node);
        }
        let sum = checksum(&b[..CHECKSUM_AT]);
        b[CHECKSUM_AT..].copy_from_slice(&sum);
        b
    }

    /// Decodes a manifest, checking magic, version, zero bytes, length, checksum, and that the
    /// low edge's slots of unset bits are zero.
    pub fn decode(b: &[u8]) -> Result<TreeManifest, DecodeError> {
        let bad = |what: &str| DecodeError::Framing(format!("tree manifest: {what}"));
        if b.len() < 16 || &b[0..8] != TREE_MANIFEST_MAGIC || b[9..16] != [0; 7] {
            return Err(bad("not a tree manifest"));
        }
        if b[8] != TREE_FORMAT {
            return Err(DecodeError::Version(b[8]));
        }
        if b.len() != TREE_MANIFEST_BYTES {
            return Err(bad("not a tree manifest"));
        }
        if checksum(&b[..CHECKSUM_AT]) != b[CHECKSUM_AT..] {
            return Err(bad("checksum mismatch"));
        }
        let mut size = [0u8; 8];
        size.copy_from_slice(&b[16..24]);
        let size = u64::from_le_bytes(size);
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[24..56]);
        let mut low_edge = [[0u8; 32]; STORED_LEVEL_MIN as usize];
        for (l, node) in low_edge.iter_mut().enumerate() {
            node.copy_from_slice(&b[56 + 32 * l..88 + 32 * l]);
            if (size >> l) & 1 == 0 && *node != [0; 32] {
                return Err(bad("a low-edge slot of an unset bit is not zero"));
            }
        }
        Ok(TreeManifest { size, root, low_edge })
    }
}

fn checksum(bytes: &[u8]) -> [u8; 16] {
    let mut h = blake3::Hasher::new_derive_key(TREE_MANIFEST_CONTEXT);
    h.update(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> TreeManifest {
        // 1_000_003 = ...0100_0011: slots 0, 1 and 6 are set.
        let mut low_edge = [[0u8; 32]; STORED_LEVEL_MIN as usize];
        for l in [0, 1, 6] {
            low_edge[l] = [l as u8 + 1; 32];
        }
        TreeManifest { size: 1_000_003, root: [7; 32], low_edge }
    }

    #[test]
    fn round_trips_and_refuses_every_flipped_bit() {
        let m = manifest();
        let bytes = m.encode();
        assert_eq!(TreeManifest::decode(&bytes), Ok(m));
        for i in 0..bytes.len() * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            assert!(TreeManifest::decode(&b).is_err(), "bit {i}");
        }
        assert!(TreeManifest::decode(&bytes[..TREE_MANIFEST_BYTES - 1]).is_err());
    }

    #[test]
    fn a_low_edge_slot_of_an_unset_bit_is_refused_even_with_its_checksum() {
        let mut m = manifest();
        m.low_edge[2] = [9; 32];
        assert!(TreeManifest::decode(&m.encode()).is_err());
    }

    #[test]
    fn a_format_1_manifest_is_an_older_version() {
        let mut b = vec![0u8; 72];
        b[0..8].copy_from_slice(TREE_MANIFEST_MAGIC);
        b[8] = 1;
        assert_eq!(TreeManifest::decode(&b), Err(DecodeError::Version(1)));
    }
}
