//! The Merkle tree manifest (`PATH/tree/MANIFEST`, README "Storage"): how many leaves the
//! stored-hash file `PATH/tree/hashes` holds for sure, and the root of that tree.
//!
//! ```text
//! "qledtree" | format u8 = 1 | 7 zero bytes | size u64 LE | root [32] | checksum [16]
//! ```
//!
//! The checksum is the first 16 bytes of `BLAKE3-derive_key(TREE_MANIFEST_CONTEXT, bytes
//! 0..56)`. Pure: bytes in, bytes out.

use super::codec::DecodeError;
use super::FORMAT_VERSION;

/// Magic of a tree manifest.
pub const TREE_MANIFEST_MAGIC: &[u8; 8] = b"qledtree";
/// BLAKE3 `derive_key` context of a tree manifest's checksum.
pub const TREE_MANIFEST_CONTEXT: &str = "quotaledger 2026-11-30 tree manifest v1";
/// Length of a tree manifest, in bytes.
pub const TREE_MANIFEST_BYTES: usize = 72;
const CHECKSUM_AT: usize = TREE_MANIFEST_BYTES - 16;

/// The committed prefix of the stored Merkle tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeManifest {
    /// Leaves (records) the tree covers.
    pub size: u64,
    /// RFC 6962 SHA-256 root of the tree of `size` leaves.
    pub root: [u8; 32],
}

impl TreeManifest {
    /// The manifest's bytes.
    pub fn encode(&self) -> [u8; TREE_MANIFEST_BYTES] {
        let mut b = [0u8; TREE_MANIFEST_BYTES];
        b[0..8].copy_from_slice(TREE_MANIFEST_MAGIC);
        b[8] = FORMAT_VERSION;
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b[24..56].copy_from_slice(&self.root);
        let sum = checksum(&b[..CHECKSUM_AT]);
        b[CHECKSUM_AT..].copy_from_slice(&sum);
        b
    }

    /// Decodes a manifest, checking magic, version, zero bytes, length and checksum.
    pub fn decode(b: &[u8]) -> Result<TreeManifest, DecodeError> {
        let bad = |what: &str| DecodeError::Framing(format!("tree manifest: {what}"));
        if b.len() != TREE_MANIFEST_BYTES || &b[0..8] != TREE_MANIFEST_MAGIC || b[9..16] != [0; 7] {
            return Err(bad("not a tree manifest"));
        }
        if b[8] != FORMAT_VERSION {
            return Err(DecodeError::Version(b[8]));
        }
        if checksum(&b[..CHECKSUM_AT]) != b[CHECKSUM_AT..] {
            return Err(bad("checksum mismatch"));
        }
        let mut size = [0u8; 8];
        size.copy_from_slice(&b[16..24]);
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[24..56]);
        Ok(TreeManifest { size: u64::from_le_bytes(size), root })
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

    #[test]
    fn round_trips_and_refuses_every_flipped_bit() {
        let m = TreeManifest { size: 1_000_003, root: [7; 32] };
        let bytes = m.encode();
        assert_eq!(TreeManifest::decode(&bytes), Ok(m));
        for i in 0..bytes.len() * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            assert!(TreeManifest::decode(&b).is_err(), "bit {i}");
        }
        assert!(TreeManifest::decode(&bytes[..71]).is_err());
    }
}
