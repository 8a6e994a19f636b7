//! What a quotaledger checkpoint claims beyond the C2SP tree head, in its extension lines,
//! and the quota-state tree one of them commits to. Pure.
//!
//! ```text
//! qledger-head <hex, 64 lowercase digits>        BLAKE3 hash of record size - 1 (zeros if empty)
//! qledger-state <licenses> <base64 root>         the quota-state tree: its size and RFC 6962 root
//! ```
//!
//! The quota-state tree after `n` records: one leaf per license, its `LicenseRowV1` canonical
//! bytes, in ascending order of license id (bytewise), hashed as every RFC 6962 tree
//! (`SHA-256(0x00 || row)`, `SHA-256(0x01 || left || right)`).

use crate::domain::QuotaState;
use crate::format::chain;
use crate::format::license_row::LicenseRowV1;
use crate::tlog::merkle::{self, Hash, MemoryTree, Sha256, TreeHasher};
use base64::Engine as _;

/// Extension line keyword of the head record hash.
pub const HEAD_LINE: &str = "qledger-head";
/// Extension line keyword of the quota-state tree.
pub const STATE_LINE: &str = "qledger-state";

/// A checkpoint's extension lines did not parse as quotaledger's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the checkpoint's extension lines are not `{HEAD_LINE} HEX` and `{STATE_LINE} N BASE64`: {0}")]
pub struct ClaimsError(pub &'static str);

/// The head hash and quota-state tree a checkpoint signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    /// BLAKE3 hash of the last record of the tree (zeros for the empty tree).
    pub head: [u8; 32],
    /// Licenses in the quota-state tree.
    pub state_size: u64,
    /// Root of the quota-state tree.
    pub state_root: Hash,
}

impl Claims {
    /// The extension lines, in order.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!("{HEAD_LINE} {}", chain::hex(&self.head)),
            format!("{STATE_LINE} {} {}", self.state_size, b64(&self.state_root)),
        ]
    }

    /// Parses exactly the two lines [`Claims::lines`] writes, in that order.
    pub fn parse(extensions: &[String]) -> Result<Claims, ClaimsError> {
        let [head, state] = extensions else { return Err(ClaimsError("expected exactly two lines")) };
        let head = head.strip_prefix(HEAD_LINE).and_then(|h| h.strip_prefix(' ')).ok_or(ClaimsError("head line"))?;
        let head = parse_hex32(head).ok_or(ClaimsError("head hash"))?;
        let state =
            state.strip_prefix(STATE_LINE).and_then(|s| s.strip_prefix(' ')).ok_or(ClaimsError("state line"))?;
        let (size, root) = state.split_once(' ').ok_or(ClaimsError("state line"))?;
        let state_size = parse_decimal(size).ok_or(ClaimsError("state tree size"))?;
        let state_root = parse_b64_hash(root).ok_or(ClaimsError("state tree root"))?;
        let claims = Claims { head, state_size, state_root };
        if claims.lines() != extensions {
            return Err(ClaimsError("not in canonical form"));
        }
        Ok(claims)
    }
}

/// The quota-state tree of a state: the license rows in id order and their Merkle tree.
#[derive(Debug, Clone)]
pub struct StateTree {
    rows: Vec<(String, Vec<u8>)>,
    tree: MemoryTree<Sha256>,
}

impl StateTree {
    /// The tree of every license of `state`.
    pub fn of(state: &QuotaState) -> StateTree {
        // BTreeMap<String, _> iterates in bytewise order of the ids.
        let rows: Vec<(String, Vec<u8>)> =
            state.licenses.iter().map(|(id, l)| (id.clone(), LicenseRowV1::from_license(id, l).encode())).collect();
        let tree = MemoryTree::from_entries(rows.iter().map(|(_, bytes)| bytes));
        StateTree { rows, tree }
    }

    /// Licenses (leaves).
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// License `id`'s position, row bytes and inclusion proof, if it is in the state.
    pub fn prove(&mut self, id: &str) -> Option<(u64, Vec<u8>, Vec<Hash>)> {
        let index = self.rows.binary_search_by(|(row_id, _)| row_id.as_str().cmp(id)).ok()?;
        let size = self.tree.size();
        let proof = merkle::prove_inclusion::<Sha256, _>(&mut self.tree, index as u64, size).ok()?;
        Some((index as u64, self.rows[index].1.clone(), proof))
    }
}

/// The claims of the state after the records that end in `head`.
pub fn claims_of(state: &QuotaState, head: [u8; 32]) -> Claims {
    let tree = StateTree::of(state);
    Claims { head, state_size: tree.size(), state_root: tree.root() }
}

/// Standard base64 with padding (the encoding of hashes in checkpoints and proofs).
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A SHA-256 hash in canonical standard base64 (44 characters).
pub fn parse_b64_hash(text: &str) -> Option<Hash> {
    if text.len() != 44 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    let hash = Sha256::hash_from_slice(&bytes).ok()?;
    (b64(&hash) == text).then_some(hash)
}

/// 64 lowercase hex digits.
pub fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = parse_hex(text, 32)?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok().filter(|_| text.len() == 64)
}

/// Lowercase hex of at most `max_bytes` bytes (checked before decoding).
pub fn parse_hex(text: &str, max_bytes: usize) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() / 2 > max_bytes {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    text.as_bytes().chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

/// A decimal `u64` without sign or leading zero.
pub fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.len() <= 20
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    text.parse().ok().filter(|_| canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip_and_refuse_other_spellings() {
        let c = Claims { head: [0xab; 32], state_size: 3, state_root: [7; 32] };
        assert_eq!(Claims::parse(&c.lines()), Ok(c));
        let lines = c.lines();
        let variants = [
            vec![lines[0].clone()],
            vec![lines[1].clone(), lines[0].clone()],
            vec![lines[0].to_uppercase(), lines[1].clone()],
            vec![lines[0].clone(), lines[1].replace(" 3 ", " 03 ")],
            vec![lines[0].clone(), lines[1].replace(" 3 ", "  3 ")],
            vec![lines[0].clone(), lines[1].clone(), "x".into()],
            vec![format!("{} ", lines[0]), lines[1].clone()],
        ];
        for v in variants {
            assert!(Claims::parse(&v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn hex_and_decimal_are_strict() {
        assert_eq!(parse_hex("00ff", 2), Some(vec![0, 255]));
        assert_eq!(parse_hex("00FF", 2), None);
        assert_eq!(parse_hex("0", 2), None);
        assert_eq!(parse_hex("000000", 2), None);
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("01"), None);
        assert_eq!(parse_decimal("+1"), None);
        assert_eq!(parse_decimal("18446744073709551616"), None);
    }
}
