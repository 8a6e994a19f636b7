//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, compatible with
//! `golang.org/x/mod/sumdb/note`.
//!
//! # Format
//!
//! ```text
//! <text: one or more lines, each ending in "\n"; empty lines allowed>
//! <one empty line>
//! — <key name> <base64(key ID (4 bytes, big-endian) || signature)>\n   (one or more)
//! ```
//!
//! - The whole note is valid UTF-8 with no character below U+0020 other than newline.
//! - The text ends at the *last* empty line of the note; everything after it is signature
//!   lines, each starting with em dash (U+2014) and a space.
//! - A key name is non-empty and contains no Unicode white space and no `+`.
//! - Base64 is the standard alphabet with padding (RFC 4648 section 4), canonical: padding
//!   required and unused bits zero, so each signature has exactly one spelling.
//! - Signature type `0x01` is Ed25519 (RFC 8032) over the text bytes (final newline included,
//!   the separating empty line not). Its key ID is
//!   `SHA-256(name || 0x0A || 0x01 || public key)[:4]`.
//!
//! # Keys
//!
//! - Verifier key: `<name>+<hex(key ID), 8 lowercase digits>+<base64(0x01 || public key)>`.
//! - Signer key: `PRIVATE+KEY+<name>+<hex(key ID)>+<base64(0x01 || 32-byte seed)>`.
//!
//! Parsing a key checks every part, the algorithm byte, the key length and that the key ID is
//! the one computed from the name and public key; a verifier key that is a small-order
//! (weak) Ed25519 point is refused.
//!
//! # Opening a note
//!
//! [`open`] parses strictly and then, for each signature line: a signature whose (name, key
//! ID) matches no known key is kept as unverified and otherwise ignored; one that matches
//! two known keys is an error (ambiguous); one that matches one known key must verify
//! (Ed25519 `verify_strict`: canonical `S`, no small-order `R` or `A`), else the whole note is
//! rejected. A note with no verified signature is rejected. Repeated signatures are reported
//! once.
//!
//! # Limits
//!
//! [`NOTE_BYTES_MAX`], [`NOTE_TEXT_LINES_MAX`], [`NOTE_SIGNATURES_MAX`],
//! [`KEY_NAME_BYTES_MAX`] and [`SIGNATURE_BYTES_MAX`] bound what a hostile note can make a
//! parser do; each is checked before the work it bounds.

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use super::merkle::{Sha256, TreeHasher};

/// Largest signed note accepted, in bytes (text and signature lines together).
pub const NOTE_BYTES_MAX: usize = 64 * 1024;
/// Most lines in a note's text.
pub const NOTE_TEXT_LINES_MAX: usize = 1024;
/// Most signature lines in a note (the spec requires accepting at least 16; Go's
/// `sumdb/note` accepts 100).
pub const NOTE_SIGNATURES_MAX: usize = 100;
/// Longest key name, in bytes.
pub const KEY_NAME_BYTES_MAX: usize = 512;
/// Longest decoded signature (key ID included), in bytes: room for post-quantum signatures of
/// other keys, which are carried unverified.
pub const SIGNATURE_BYTES_MAX: usize = 4 + 8 * 1024;
/// Signature type byte of Ed25519.
pub const ALG_ED25519: u8 = 0x01;
/// Length of an Ed25519 public key or seed, in bytes.
pub const ED25519_KEY_BYTES: usize = 32;

const SIGNATURE_PREFIX: &str = "\u{2014} ";
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";
const KEY_ID_HEX_DIGITS: usize = 8;
const ED25519_SIGNATURE_BYTES: usize = 64;

/// Why a note, key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`NOTE_BYTES_MAX`].
    #[error("the note has {bytes} bytes, more than {max}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("the note is not valid UTF-8")]
    NotUtf8,
    /// A control character other than newline.
    #[error("control character U+{code:04X} at byte {offset}")]
    ControlCharacter {
        /// Its code point.
        code: u32,
        /// Its byte offset in the note.
        offset: usize,
    },
    /// No empty line separates text and signatures, or nothing follows it.
    #[error("no empty line followed by signature lines")]
    NoSignatures,
    /// The text has more than [`NOTE_TEXT_LINES_MAX`] lines.
    #[error("the text has more than {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// The note has more than [`NOTE_SIGNATURES_MAX`] signature lines.
    #[error("the note has more than {max} signatures")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A signature line is malformed.
    #[error("signature line {line}: {reason}")]
    BadSignatureLine {
        /// 1-based number among the signature lines.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key name is empty, too long, or has white space or `+`.
    #[error("invalid key name")]
    BadKeyName,
    /// Text to sign is empty or does not end in a newline.
    #[error("the text to sign must be non-empty and end in a newline")]
    BadText,
    /// A verifier or signer key is malformed.
    #[error("malformed {kind} key: {reason}")]
    BadKey {
        /// `verifier` or `signer`.
        kind: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key's signature type is not Ed25519.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// A key's ID is not the one computed from its name and public key.
    #[error("key ID {claimed:08x} does not match the key (computed {computed:08x})")]
    KeyIdMismatch {
        /// The ID written in the key.
        claimed: u32,
        /// The ID computed.
        computed: u32,
    },
    /// The verifier key is a small-order point, which would verify forged signatures.
    #[error("weak (small-order) Ed25519 public key")]
    WeakKey,
    /// A signature by a known key does not verify.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// Two known keys share a name and key ID.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// A note to sign with no signer key.
    #[error("no signer key")]
    NoSigner,
    /// No signature is by a known key.
    #[error("no signature by a known key ({unverified} by unknown keys)")]
    NoVerifiedSignature {
        /// Signatures by unknown keys.
        unverified: usize,
    },
}

/// The key ID of the signed-note spec: `SHA-256(name || 0x0A || alg || public key)[:4]`,
/// big-endian.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let digest = Sha256::digest(&[name.as_bytes(), b"\n", &[alg], public_key]);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Checks a key name: non-empty, at most [`KEY_NAME_BYTES_MAX`] bytes, no Unicode white space,
/// no `+`, no control character.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let bad = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.len() > KEY_NAME_BYTES_MAX || name.contains(bad) {
        return Err(NoteError::BadKeyName);
    }
    Ok(())
}

/// Checks that `bytes` is UTF-8 without control characters other than newline.
pub fn check_note_chars(bytes: &[u8]) -> Result<&str, NoteError> {
    let text = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
    match text.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((offset, c)) => Err(NoteError::ControlCharacter { code: u32::from(c), offset }),
        None => Ok(text),
    }
}

/// Checks note text for signing: allowed characters, ends in a newline, at most
/// [`NOTE_TEXT_LINES_MAX`] lines.
pub fn check_text(text: &str) -> Result<(), NoteError> {
    check_note_chars(text.as_bytes())?;
    if !text.ends_with('\n') {
        return Err(NoteError::BadText);
    }
    if text.matches('\n').count() > NOTE_TEXT_LINES_MAX {
        return Err(NoteError::TooManyLines { max: NOTE_TEXT_LINES_MAX });
    }
    Ok(())
}

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

/// Decodes canonical standard base64 of at most `max` decoded bytes (checked before decoding).
fn decode_b64(text: &str, max: usize) -> Option<Vec<u8>> {
    if text.len() > max.div_ceil(3) * 4 {
        return None;
    }
    b64().decode(text).ok()
}

/// Parses exactly eight lowercase hex digits.
fn parse_key_id_hex(hex: &str) -> Option<u32> {
    let lower = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if hex.len() != KEY_ID_HEX_DIGITS || !hex.bytes().all(|b| lower(&b)) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Splits `name+hex+base64` (the base64 may itself contain `+`) and checks name and hex.
fn split_key<'a>(text: &'a str, kind: &'static str) -> Result<(&'a str, u32, Vec<u8>), NoteError> {
    let bad = |reason| NoteError::BadKey { kind, reason };
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hex), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+keyid+key"));
    };
    check_key_name(name)?;
    let id = parse_key_id_hex(hex).ok_or(bad("key ID is not 8 lowercase hex digits"))?;
    let key = decode_b64(key64, 1 + ED25519_KEY_BYTES).ok_or(bad("key is not canonical base64"))?;
    match key.split_first() {
        None => Err(bad("empty key")),
        Some((&ALG_ED25519, rest)) if rest.len() == ED25519_KEY_BYTES => Ok((name, id, key)),
        Some((&ALG_ED25519, _)) => Err(bad("an Ed25519 key has 32 bytes")),
        Some((&alg, _)) => Err(NoteError::UnsupportedAlgorithm(alg)),
    }
}

fn key_bytes(key: &[u8]) -> [u8; ED25519_KEY_BYTES] {
    let mut out = [0; ED25519_KEY_BYTES];
    out.copy_from_slice(&key[1..=ED25519_KEY_BYTES]);
    out
}

fn check_id(claimed: u32, name: &str, public: &VerifyingKey) -> Result<(), NoteError> {
    let computed = key_id(name, ALG_ED25519, public.as_bytes());
    if claimed == computed {
        Ok(())
    } else {
        Err(NoteError::KeyIdMismatch { claimed, computed })
    }
}

/// An Ed25519 verifier key: name, key ID and public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    public: VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, claimed, key) = split_key(vkey, "verifier")?;
        let public = VerifyingKey::from_bytes(&key_bytes(&key))
            .map_err(|_| NoteError::BadKey { kind: "verifier", reason: "not an Ed25519 point" })?;
        check_id(claimed, name, &public)?;
        Self::new(name, public)
    }

    /// The verifier key of `name` and an Ed25519 public key.
    pub fn new(name: &str, public: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if public.is_weak() {
            return Err(NoteError::WeakKey);
        }
        let id = key_id(name, ALG_ED25519, public.as_bytes());
        Ok(Self { name: name.to_owned(), id, public })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// Whether `signature` (without key ID) is this key's Ed25519 signature of `text`.
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; ED25519_SIGNATURE_BYTES]>::try_from(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.public.verify_strict(text, &signature).is_ok()
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(self.public.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, b64().encode(key))
    }
}

/// An Ed25519 signer key: name, key ID and secret seed. Its `Debug` shows no secret; the
/// seed is wiped from memory when the key is dropped.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    id: u32,
    secret: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerKey({}+{:08x})", self.name, self.id)
    }
}

impl SignerKey {
    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>`; the key ID
    /// must be that of the public key derived from the seed.
    pub fn parse(skey: &str) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(NoteError::BadKey { kind: "signer", reason: "expected PRIVATE+KEY+name+keyid+key" })?;
        let (name, claimed, key) = split_key(rest, "signer")?;
        let signer = Self::from_seed(name, &key_bytes(&key))?;
        check_id(claimed, name, &signer.secret.verifying_key())?;
        Ok(signer)
    }

    /// The signer key of `name` and a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; ED25519_KEY_BYTES]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let secret = SigningKey::from_bytes(seed);
        let id = key_id(name, ALG_ED25519, secret.verifying_key().as_bytes());
        Ok(Self { name: name.to_owned(), id, secret })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> Result<VerifierKey, NoteError> {
        VerifierKey::new(&self.name, self.secret.verifying_key())
    }

    /// The signer key in its text form, secret included: write it only where the secret
    /// belongs (a file of mode 0600).
    pub fn to_secret_string(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(self.secret.as_bytes());
        let text = format!("{SIGNER_KEY_PREFIX}{}+{:08x}+{}", self.name, self.id, b64().encode(&key));
        key.fill(0);
        text
    }

    /// This key's signature line for `text`.
    pub fn sign(&self, text: &str) -> Signature {
        Signature {
            name: self.name.clone(),
            key_id: self.id,
            bytes: self.secret.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }
}

/// One signature line: key name, key ID and signature bytes (without the key ID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// The signature, key ID excluded.
    pub bytes: Vec<u8>,
}

impl Signature {
    /// `— <name> <base64(key ID || signature)>\n`.
    pub fn line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.bytes);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, b64().encode(raw))
    }

    fn parse(line: &str, number: usize) -> Result<Self, NoteError> {
        let bad = |reason| NoteError::BadSignatureLine { line: number, reason };
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or(bad("does not start with an em dash and a space"))?;
        let (name, sig64) = rest.split_once(' ').ok_or(bad("no space after the key name"))?;
        check_key_name(name).map_err(|_| bad("invalid key name"))?;
        let raw = decode_b64(sig64, SIGNATURE_BYTES_MAX).ok_or(bad("not canonical base64 or too long"))?;
        if raw.len() < 5 {
            return Err(bad("shorter than a key ID and one byte"));
        }
        let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        Ok(Self { name: name.to_owned(), key_id, bytes: raw[4..].to_vec() })
    }
}

/// A syntactically valid signed note, signatures not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The text, final newline included.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<Signature>,
}

impl Note {
    /// Parses a signed note strictly (see the module documentation), verifying nothing.
    pub fn parse(msg: &[u8]) -> Result<Self, NoteError> {
        if msg.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge { bytes: msg.len(), max: NOTE_BYTES_MAX });
        }
        let msg = check_note_chars(msg)?;
        let split = msg.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::NoSignatures);
        }
        check_text(text)?;
        let lines: Vec<&str> = sigs.split_terminator('\n').collect();
        if lines.len() > NOTE_SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures { max: NOTE_SIGNATURES_MAX });
        }
        let signatures =
            lines.iter().enumerate().map(|(i, line)| Signature::parse(line, i + 1)).collect::<Result<_, _>>()?;
        Ok(Self { text: text.to_owned(), signatures })
    }

    /// The note as bytes: text, empty line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.text);
        for signature in &self.signatures {
            out.push_str(&signature.line());
        }
        out
    }
}

/// A note with at least one signature verified by a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The text, final newline included.
    pub text: String,
    /// Signatures verified by known keys, each once, in note order.
    pub verified: Vec<Signature>,
    /// Signatures by unknown keys (not verified), each once, in note order.
    pub unverified: Vec<Signature>,
}

/// Parses `msg` and verifies its signatures against `known` (see the module documentation).
pub fn open(msg: &[u8], known: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    let note = Note::parse(msg)?;
    let mut verified: Vec<Signature> = Vec::new();
    let mut unverified: Vec<Signature> = Vec::new();
    for signature in note.signatures {
        let matching: Vec<&VerifierKey> =
            known.iter().filter(|k| k.name == signature.name && k.id == signature.key_id).collect();
        match matching.as_slice() {
            [] if unverified.contains(&signature) => {}
            [] => unverified.push(signature),
            [key] => {
                if !key.verify(note.text.as_bytes(), &signature.bytes) {
                    return Err(NoteError::InvalidSignature { name: signature.name, key_id: signature.key_id });
                }
                let seen = |v: &Signature| v.name == signature.name && v.key_id == signature.key_id;
                if !verified.iter().any(seen) {
                    verified.push(signature);
                }
            }
            _ => return Err(NoteError::AmbiguousKey { name: signature.name, key_id: signature.key_id }),
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature { unverified: unverified.len() });
    }
    Ok(VerifiedNote { text: note.text, verified, unverified })
}

/// Signs `text` with every signer: the signed note as text.
pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::NoSigner);
    }
    if signers.len() > NOTE_SIGNATURES_MAX {
        return Err(NoteError::TooManySignatures { max: NOTE_SIGNATURES_MAX });
    }
    let note = Note { text: text.to_owned(), signatures: signers.iter().map(|s| s.sign(text)).collect() };
    let out = note.to_text();
    if out.len() > NOTE_BYTES_MAX {
        return Err(NoteError::TooLarge { bytes: out.len(), max: NOTE_BYTES_MAX });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> SignerKey {
        SignerKey::from_seed("example.com/log", &[7; 32]).unwrap()
    }

    fn signed(text: &str) -> String {
        sign(text, &[&signer()]).unwrap()
    }

    #[test]
    fn sign_then_open_round_trips() {
        let msg = signed("hello\n\nworld\n");
        let opened = open(msg.as_bytes(), &[signer().verifier().unwrap()]).unwrap();
        assert_eq!(opened.text, "hello\n\nworld\n");
        assert_eq!(Note::parse(msg.as_bytes()).unwrap().to_text(), msg);
    }

    #[test]
    fn limits_are_enforced_before_the_work() {
        let big = "a".repeat(NOTE_BYTES_MAX + 1);
        assert!(matches!(Note::parse(big.as_bytes()), Err(NoteError::TooLarge { .. })));
        let lines = "a\n".repeat(NOTE_TEXT_LINES_MAX + 1);
        assert!(matches!(check_text(&lines), Err(NoteError::TooManyLines { .. })));
        let msg = format!("{lines}\n{}", signer().sign(&lines).line());
        assert!(matches!(Note::parse(msg.as_bytes()), Err(NoteError::TooManyLines { .. })));
        let name = "n".repeat(KEY_NAME_BYTES_MAX + 1);
        assert_eq!(check_key_name(&name), Err(NoteError::BadKeyName));
        let long_sig = format!("a\n\n\u{2014} k {}\n", "A".repeat(12_000));
        assert!(matches!(Note::parse(long_sig.as_bytes()), Err(NoteError::BadSignatureLine { .. })));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let good = signed("a\n");
        let sig64 = good.rsplit(' ').next().unwrap().trim_end().to_owned();
        let cases = [
            format!("a\n\n\u{2014} k\u{a0}x {sig64}\n"),
            format!("a\n\n\u{2014} k+x {sig64}\n"),
            format!("a\n\n\u{2014}  {sig64}\n"),
            format!("a\n\n- example.com/log {sig64}\n"),
            format!("a\n\n\u{2014} example.com/log {sig64} \n"),
            format!("a\n\n\u{2014} example.com/log {}\n", sig64.trim_end_matches('=')),
            "a\n\n\u{2014} example.com/log AAAAAA==\n".to_owned(),
            format!("a\r\n\n\u{2014} example.com/log {sig64}\n"),
            format!("a\t\n\n\u{2014} example.com/log {sig64}\n"),
            "a\n\n".to_owned(),
            String::new(),
        ];
        for case in &cases {
            assert!(Note::parse(case.as_bytes()).is_err(), "{case:?}");
        }
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        // "AAAAAB==" has non-zero unused bits: Go's lenient decoder reads it as "AAAAAA==".
        let msg = "a\n\n\u{2014} k AAAAAB==\n";
        assert!(Note::parse(msg.as_bytes()).is_err());
    }

    #[test]
    fn weak_and_bad_keys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(VerifierKey::new("k", weak), Err(NoteError::WeakKey));
        assert!(SignerKey::from_seed("bad name", &[1; 32]).is_err());
        assert!(SignerKey::parse("PRIVATE+KEY+k+0000000G+AQ==").is_err());
    }

    #[test]
    fn signatures_of_other_lengths_do_not_verify() {
        let key = signer().verifier().unwrap();
        assert!(!key.verify(b"a\n", &[0; 63]));
        assert!(!key.verify(b"a\n", &[0; 65]));
    }

    #[test]
    fn signing_needs_a_signer_and_good_text() {
        assert_eq!(sign("a\n", &[]), Err(NoteError::NoSigner));
        assert_eq!(sign("", &[&signer()]), Err(NoteError::BadText));
        assert!(matches!(sign("a\u{1}\n", &[&signer()]), Err(NoteError::ControlCharacter { .. })));
    }
}
