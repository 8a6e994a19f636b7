//! C2SP transparency log checkpoints (<https://c2sp.org/tlog-checkpoint>): the signed tree
//! head, as the text of a [signed note](super::note).
//!
//! # Format
//!
//! ```text
//! <origin>\n                 the log's identity, non-empty
//! <tree size>\n              ASCII decimal, no leading zero (the empty tree is "0")
//! <base64(root hash)>\n      the RFC 6962 root of the tree of that size, 32 bytes
//! <extension line>\n ...     optional, each non-empty, opaque
//! ```
//!
//! Parsing is strict, so each checkpoint has exactly one text: every line ends in a newline
//! and none is empty; the size has no sign, no leading zero and fits a `u64`; the root is
//! canonical standard base64 of exactly 32 bytes; no control characters (as in any note).
//! [`Checkpoint::to_text`] writes that one text; `parse(to_text(c)) == c` and, for any text
//! that parses, `to_text(parse(t)) == t`.
//!
//! # Signing and opening
//!
//! [`Checkpoint::sign`] signs with a key whose name is the origin (the spec's SHOULD, a MUST
//! here). [`open_checkpoint`] accepts a checkpoint only if it is a valid signed note with a
//! valid signature by the given verifier key (others' signatures are ignored, as the
//! signed-note spec requires) and its origin is the one the caller expects.
//!
//! # Limits
//!
//! [`ORIGIN_BYTES_MAX`], [`TREE_SIZE_DIGITS_MAX`], [`EXTENSION_LINES_MAX`] and
//! [`EXTENSION_LINE_BYTES_MAX`], on top of the note limits.

use base64::Engine as _;

use super::merkle::{self, Hash, Sha256, VerifyError};
use super::note::{self, NoteError, SignerKey, VerifiedNote, VerifierKey};

/// Longest origin line, in bytes.
pub const ORIGIN_BYTES_MAX: usize = 512;
/// Most digits of a tree size (`u64::MAX` has 20).
pub const TREE_SIZE_DIGITS_MAX: usize = 20;
/// Most extension lines.
pub const EXTENSION_LINES_MAX: usize = 16;
/// Longest extension line, in bytes.
pub const EXTENSION_LINE_BYTES_MAX: usize = 1024;
/// Length of a base64 root hash line (32 bytes, padded).
pub const ROOT_BASE64_CHARS: usize = 44;

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note around it is invalid or not signed by the key.
    #[error("signed note: {0}")]
    Note(#[from] NoteError),
    /// The text does not end in a newline, has an empty line or fewer than three lines.
    #[error("a checkpoint is three or more non-empty lines, each ending in a newline")]
    Lines,
    /// The origin line is empty or longer than [`ORIGIN_BYTES_MAX`].
    #[error("the origin line must have 1 to {ORIGIN_BYTES_MAX} bytes")]
    Origin,
    /// The tree size is not a canonical decimal `u64`.
    #[error("the tree size is not a decimal number without leading zeros that fits 64 bits")]
    Size,
    /// The root hash is not canonical base64 of 32 bytes.
    #[error("the root hash is not canonical base64 of 32 bytes")]
    Root,
    /// Too many extension lines, or one too long or empty.
    #[error("at most {EXTENSION_LINES_MAX} extension lines of 1 to {EXTENSION_LINE_BYTES_MAX} bytes")]
    Extension,
    /// A proof against the checkpoint does not verify.
    #[error("proof: {0}")]
    Proof(#[from] VerifyError),
    /// A consistency proof between checkpoints of two different logs.
    #[error("the checkpoints are of different logs ({0:?} and {1:?})")]
    OriginsDiffer(String, String),
    /// The checkpoint is of another log than the one expected.
    #[error("the checkpoint's origin is {got:?}, expected {expected:?}")]
    WrongOrigin {
        /// The origin expected.
        expected: String,
        /// The origin found.
        got: String,
    },
}

/// A tree head: origin, tree size, root hash and extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root of the tree of `size` leaves.
    pub root: Hash,
    /// Extension lines, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint, checked as [`Checkpoint::parse`] would check its text.
    pub fn new(origin: &str, size: u64, root: Hash, extensions: Vec<String>) -> Result<Self, CheckpointError> {
        let checkpoint = Self { origin: origin.to_owned(), size, root, extensions };
        checkpoint.check()?;
        Ok(checkpoint)
    }

    /// Checks that the text of this checkpoint parses back to it (no field smuggles a newline
    /// or breaks a limit).
    pub fn check(&self) -> Result<(), CheckpointError> {
        if Self::parse(&self.to_text())? == *self {
            Ok(())
        } else {
            Err(CheckpointError::Lines)
        }
    }

    /// Parses checkpoint text (a note's text) strictly.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        note::check_note_chars(text.as_bytes())?;
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Lines)?;
        let lines: Vec<&str> = body.splitn(4 + EXTENSION_LINES_MAX, '\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::Lines);
        };
        if lines.iter().any(|line| line.is_empty()) {
            return Err(CheckpointError::Lines);
        }
        Ok(Self {
            origin: parse_origin(origin)?.to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
            extensions: parse_extensions(extensions)?,
        })
    }

    /// The checkpoint's text: origin, size, root and extension lines, each ending in `\n`.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            base64::engine::general_purpose::STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// The signed checkpoint (a signed note) by `signer`, whose name must be the origin.
    pub fn sign(&self, signer: &SignerKey) -> Result<String, CheckpointError> {
        if signer.name() != self.origin {
            return Err(CheckpointError::WrongOrigin { expected: signer.name().to_owned(), got: self.origin.clone() });
        }
        self.check()?;
        Ok(note::sign(&self.to_text(), &[signer])?)
    }

    /// Checks that `leaf_hash` is leaf `index` of the tree this checkpoint signs. The tree
    /// size and root come from the checkpoint only: an RFC 9162 inclusion proof alone does
    /// not bind the tree size (the proof of leaf 0 in a tree of 5 also fits "a tree of 6"
    /// with the same root), the signature over size and root does.
    pub fn verify_inclusion(&self, index: u64, leaf_hash: &Hash, proof: &[Hash]) -> Result<(), CheckpointError> {
        Ok(merkle::verify_inclusion::<Sha256>(index, self.size, leaf_hash, proof, &self.root)?)
    }

    /// Checks that this checkpoint's tree is a prefix of `newer`'s, both of the same log.
    /// Equal sizes need equal roots and an empty proof (two roots for one size are a fork).
    pub fn verify_consistency(&self, newer: &Checkpoint, proof: &[Hash]) -> Result<(), CheckpointError> {
        if self.origin != newer.origin {
            return Err(CheckpointError::OriginsDiffer(self.origin.clone(), newer.origin.clone()));
        }
        Ok(merkle::verify_consistency::<Sha256>(self.size, newer.size, proof, &self.root, &newer.root)?)
    }
}

fn parse_origin(line: &str) -> Result<&str, CheckpointError> {
    if line.is_empty() || line.len() > ORIGIN_BYTES_MAX {
        return Err(CheckpointError::Origin);
    }
    Ok(line)
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let canonical = !line.is_empty()
        && line.len() <= TREE_SIZE_DIGITS_MAX
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(CheckpointError::Size);
    }
    line.parse().map_err(|_| CheckpointError::Size)
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    if line.len() != ROOT_BASE64_CHARS {
        return Err(CheckpointError::Root);
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(line).map_err(|_| CheckpointError::Root)?;
    Hash::try_from(bytes.as_slice()).map_err(|_| CheckpointError::Root)
}

fn parse_extensions(lines: &[&str]) -> Result<Vec<String>, CheckpointError> {
    let too_long = |line: &&str| line.len() > EXTENSION_LINE_BYTES_MAX;
    if lines.len() > EXTENSION_LINES_MAX || lines.iter().any(too_long) {
        return Err(CheckpointError::Extension);
    }
    Ok(lines.iter().map(|line| (*line).to_owned()).collect())
}

/// A checkpoint whose signature by the expected key has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The tree head.
    pub checkpoint: Checkpoint,
    /// The note it came in: text, the verified signature, others' signatures.
    pub note: VerifiedNote,
}

/// Opens a signed checkpoint of the log `origin`: a valid signature by `key` and the expected
/// origin, or an error.
pub fn open_checkpoint(msg: &[u8], origin: &str, key: &VerifierKey) -> Result<SignedCheckpoint, CheckpointError> {
    let note = note::open(msg, std::slice::from_ref(key))?;
    let checkpoint = Checkpoint::parse(&note.text)?;
    if checkpoint.origin != origin {
        return Err(CheckpointError::WrongOrigin { expected: origin.to_owned(), got: checkpoint.origin });
    }
    Ok(SignedCheckpoint { checkpoint, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_B64: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    fn signer(name: &str) -> SignerKey {
        SignerKey::from_seed(name, &[9; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint::new("example.com/log", 7, [3; 32], vec!["ext one".into()]).unwrap()
    }

    #[test]
    fn text_round_trips() {
        let c = checkpoint();
        assert_eq!(Checkpoint::parse(&c.to_text()).unwrap(), c);
        let empty = Checkpoint::new("o", 0, [0; 32], vec![]).unwrap();
        assert!(empty.to_text().starts_with("o\n0\n"));
    }

    #[test]
    fn malformed_text_is_refused() {
        let cases = [
            format!("o\n1\n{ROOT_B64}"),
            format!("o\n1\n{ROOT_B64}\n\n"),
            format!("o\n1\n{ROOT_B64}\n\next\n"),
            format!("\n1\n{ROOT_B64}\n"),
            format!("o\n01\n{ROOT_B64}\n"),
            format!("o\n+1\n{ROOT_B64}\n"),
            format!("o\n-1\n{ROOT_B64}\n"),
            format!("o\n 1\n{ROOT_B64}\n"),
            format!("o\n\n{ROOT_B64}\n"),
            format!("o\n18446744073709551616\n{ROOT_B64}\n"),
            format!("o\n1\n{}\n", ROOT_B64.trim_end_matches('=')),
            format!("o\n1\n{}\n", ROOT_B64.replace("2I=", "2J=")),
            "o\n1\nAAAA\n".to_owned(),
            format!("o\n1\n{ROOT_B64}AAAA\n"),
            format!("o\r\n1\n{ROOT_B64}\n"),
            format!("o\n1\n{ROOT_B64}\n{}", "e\n".repeat(EXTENSION_LINES_MAX + 1)),
            format!("o\n1\n{ROOT_B64}\n{}\n", "e".repeat(EXTENSION_LINE_BYTES_MAX + 1)),
            format!("{}\n1\n{ROOT_B64}\n", "o".repeat(ORIGIN_BYTES_MAX + 1)),
            "o\n1\n".to_owned(),
            String::new(),
        ];
        for case in &cases {
            assert!(Checkpoint::parse(case).is_err(), "{case:?}");
        }
        assert!(Checkpoint::parse("o\n18446744073709551615\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n").is_ok());
    }

    #[test]
    fn fields_cannot_smuggle_lines() {
        let origin = format!("o\n7\n{ROOT_B64}");
        assert_eq!(Checkpoint::new(&origin, 5, [1; 32], vec![]), Err(CheckpointError::Lines));
        let ext = vec!["a\nb".to_owned()];
        assert_eq!(Checkpoint::new("o", 5, [1; 32], ext.clone()), Err(CheckpointError::Lines));
        let forged = Checkpoint { origin: "o".into(), size: 5, root: [1; 32], extensions: ext };
        assert!(forged.sign(&SignerKey::from_seed("o", &[1; 32]).unwrap()).is_err());
    }

    #[test]
    fn sign_and_open() {
        let key = signer("example.com/log");
        let msg = checkpoint().sign(&key).unwrap();
        let verifier = key.verifier().unwrap();
        let opened = open_checkpoint(msg.as_bytes(), "example.com/log", &verifier).unwrap();
        assert_eq!(opened.checkpoint, checkpoint());
    }

    #[test]
    fn wrong_origin_or_key_is_refused() {
        let key = signer("example.com/log");
        assert!(matches!(checkpoint().sign(&signer("other")), Err(CheckpointError::WrongOrigin { .. })));
        let msg = checkpoint().sign(&key).unwrap();
        let verifier = key.verifier().unwrap();
        assert!(matches!(
            open_checkpoint(msg.as_bytes(), "example.com/other", &verifier),
            Err(CheckpointError::WrongOrigin { .. })
        ));
        let stranger = SignerKey::from_seed("example.com/log", &[8; 32]).unwrap().verifier().unwrap();
        assert!(matches!(
            open_checkpoint(msg.as_bytes(), "example.com/log", &stranger),
            Err(CheckpointError::Note(NoteError::NoVerifiedSignature { .. }))
        ));
        // A note signed by the right key whose text is not a checkpoint.
        let not_checkpoint = note::sign("example.com/log\nhello\n", &[&key]).unwrap();
        assert_eq!(
            open_checkpoint(not_checkpoint.as_bytes(), "example.com/log", &verifier),
            Err(CheckpointError::Lines)
        );
    }

    #[test]
    fn proofs_are_checked_against_the_signed_size_and_root() {
        use crate::tlog::merkle::{MemoryTree, TreeHasher};
        let mut tree = MemoryTree::<Sha256>::from_entries(["a", "b", "c", "d", "e"]);
        let older_tree = MemoryTree::<Sha256>::from_entries(["a", "b", "c"]);
        let newer = Checkpoint::new("o", 5, tree.root(), vec![]).unwrap();
        let older = Checkpoint::new("o", 3, older_tree.root(), vec![]).unwrap();
        let proof = merkle::prove_inclusion::<Sha256, _>(&mut tree, 2, 5).unwrap();
        newer.verify_inclusion(2, &Sha256::hash_leaf(b"c"), &proof).unwrap();
        assert!(newer.verify_inclusion(1, &Sha256::hash_leaf(b"c"), &proof).is_err());
        let proof = merkle::prove_consistency::<Sha256, _>(&mut tree, 3, 5).unwrap();
        older.verify_consistency(&newer, &proof).unwrap();
        assert!(newer.verify_consistency(&older, &proof).is_err());
        let other_log = Checkpoint { origin: "p".into(), ..newer.clone() };
        assert!(matches!(older.verify_consistency(&other_log, &proof), Err(CheckpointError::OriginsDiffer(..))));
        let fork = Checkpoint { root: [0; 32], ..newer.clone() };
        assert!(newer.verify_consistency(&fork, &[]).is_err());
    }
}
