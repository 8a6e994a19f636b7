//! Canonical encoding: the only place bincode is called.
//!
//! Configuration (frozen, see README "Ledger format"): bincode 2.0.1 `standard()`: little-endian,
//! variable-length integers (u64 < 251 in one byte; 251/252/253 prefix a u16/u32/u64; signed
//! integers zig-zag first), strings and sequences as a varint length then the items, `Option` as
//! a 0/1 byte, enums as a varint variant index, fixed arrays as their bytes without a length.
//!
//! Decoding is strict: it must consume every byte, and re-encoding the value must give the same
//! bytes back. bincode alone accepts trailing bytes and over-long varints; the ledger does not,
//! so one value has exactly one encoding and one hash.

use bincode::config::{Configuration, LittleEndian, Varint};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

type Config = Configuration<LittleEndian, Varint, bincode::config::NoLimit>;

const CONFIG: Config = bincode::config::standard();

/// Why stored bytes could not be turned back into a value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// bincode refused the bytes.
    #[error("undecodable: {0}")]
    Bincode(String),
    /// The value ended before the bytes did.
    #[error("{trailing} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left over.
        trailing: usize,
    },
    /// The bytes decode, but are not the canonical encoding of what they decode to.
    #[error("not in canonical form")]
    NotCanonical,
    /// More bytes than the limit for this kind of value.
    #[error("{len} bytes exceed the limit of {max}")]
    TooLarge {
        /// Actual size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Written by another format version.
    #[error("format version {0} is not supported (this build reads version {v})", v = super::FORMAT_VERSION)]
    Version(u8),
    /// Decodes, but breaks a limit or a range.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A block's framing is broken.
    #[error("broken block framing: {0}")]
    Framing(String),
}

/// A wire type whose every field goes through serde: what [`encode`] and [`decode`] take.
///
/// The records are not: they end in the 32-byte hash they link to, which serde would write and
/// read as 32 one-byte elements (measured: more instructions than all the rest of a record), so
/// it is outside serde (`#[serde(skip)]`) and [`encode_linked`] / [`decode_linked`] append and
/// split it as raw bytes. The encoding is the same; a record cannot be passed where its link
/// would be dropped, because it is not `Wire`.
pub trait Wire: Serialize + DeserializeOwned {}

/// A record: a wire type whose serde fields are followed by its link, 32 raw bytes.
pub trait Linked: Serialize + DeserializeOwned {
    /// The hash it links to.
    fn link(&self) -> &[u8; LINK_BYTES];
    /// Sets the hash it links to.
    fn set_link(&mut self, link: [u8; LINK_BYTES]);
}

/// Bytes of a record's link, at the end of its encoding.
pub const LINK_BYTES: usize = 32;

impl Wire for u64 {}
impl Wire for [u8; 32] {}

/// Appends the canonical encoding of `value` to `out`.
pub fn encode_into<T: Wire>(value: &T, out: &mut Vec<u8>) {
    encode_fields(value, out);
}

/// The canonical encoding of `value`.
pub fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of a record to `out`: its serde fields, then its link.
pub fn encode_linked<T: Linked>(value: &T, out: &mut Vec<u8>) {
    encode_fields(value, out);
    out.extend_from_slice(value.link());
}

fn encode_fields<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    // bincode's serde encoder fails only on sequences of unknown length and on custom errors;
    // the wire types have neither, and a Vec writer cannot fail.
    bincode::serde::encode_into_std_write(value, out, CONFIG).expect("wire types always encode into a Vec");
}

/// Decodes `bytes` as exactly one canonical `T` of at most `len_max` bytes.
pub fn decode<T: Wire>(bytes: &[u8], len_max: usize) -> Result<T, DecodeError> {
    decode_fields(bytes, len_max)
}

/// Decodes `bytes` as exactly one canonical record of at most `len_max` bytes: its serde
/// fields, then its link (any 32 bytes are a canonical link).
pub fn decode_linked<T: Linked>(bytes: &[u8], len_max: usize) -> Result<T, DecodeError> {
    if bytes.len() > len_max {
        return Err(DecodeError::TooLarge { len: bytes.len(), max: len_max });
    }
    let Some(fields_len) = bytes.len().checked_sub(LINK_BYTES) else {
        return Err(DecodeError::Bincode(format!("{} bytes cannot hold a record and its link", bytes.len())));
    };
    let (fields, link) = bytes.split_at(fields_len);
    let mut value: T = decode_fields(fields, len_max)?;
    let mut l = [0u8; LINK_BYTES];
    l.copy_from_slice(link);
    value.set_link(l);
    Ok(value)
}

fn decode_fields<T: DeserializeOwned + Serialize>(bytes: &[u8], len_max: usize) -> Result<T, DecodeError> {
    if bytes.len() > len_max {
        return Err(DecodeError::TooLarge { len: bytes.len(), max: len_max });
    }
    // A bincode limit bounds every allocation a hostile length prefix could ask for.
    let config = CONFIG.with_limit::<{ crate::limits::SNAPSHOT_BYTES_MAX }>();
    let (value, used): (T, usize) =
        bincode::serde::decode_from_slice(bytes, config).map_err(|e| DecodeError::Bincode(e.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes { trailing: bytes.len() - used });
    }
    // Re-encode against the input instead of into a buffer: no allocation, stops at the first
    // differing byte.
    let mut same = SameBytes { expected: bytes };
    let equal = bincode::serde::encode_into_writer(&value, &mut same, CONFIG).is_ok() && same.expected.is_empty();
    if !equal {
        return Err(DecodeError::NotCanonical);
    }
    Ok(value)
}

/// A bincode writer that succeeds only while what is written repeats `expected`.
struct SameBytes<'a> {
    expected: &'a [u8],
}

impl bincode::enc::write::Writer for SameBytes<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        match self.expected.strip_prefix(bytes) {
            Some(rest) => {
                self.expected = rest;
                Ok(())
            }
            None => Err(bincode::error::EncodeError::Other("not the canonical encoding")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value with a link, as the records have.
    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Linked2 {
        n: u64,
        #[serde(skip)]
        link: [u8; LINK_BYTES],
    }

    impl Linked for Linked2 {
        fn link(&self) -> &[u8; LINK_BYTES] {
            &self.link
        }
        fn set_link(&mut self, link: [u8; LINK_BYTES]) {
            self.link = link;
        }
    }

    #[test]
    fn a_linked_value_is_its_fields_then_its_link_and_shorter_bytes_are_refused() {
        let v = Linked2 { n: 300, link: [7; LINK_BYTES] };
        let mut bytes = Vec::new();
        encode_linked(&v, &mut bytes);
        assert_eq!(bytes[..3], [251, 44, 1], "the fields come first, as serde writes them");
        assert_eq!(bytes[3..], [7; LINK_BYTES], "then the link, raw");
        assert_eq!(decode_linked::<Linked2>(&bytes, 64), Ok(v));
        for len in 0..bytes.len() {
            assert!(decode_linked::<Linked2>(&bytes[..len], 64).is_err(), "{len} bytes");
        }
        assert!(matches!(decode_linked::<Linked2>(&bytes, 34), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn trailing_bytes_and_overlong_varints_are_refused() {
        let bytes = encode(&7u64);
        assert_eq!(bytes, vec![7]);
        assert_eq!(decode::<u64>(&bytes, 16), Ok(7));
        assert_eq!(decode::<u64>(&[7, 0], 16), Err(DecodeError::TrailingBytes { trailing: 1 }));
        // 7 written as a u16 (prefix 251) decodes in bincode but is not canonical.
        assert_eq!(decode::<u64>(&[251, 7, 0], 16), Err(DecodeError::NotCanonical));
        assert!(matches!(decode::<u64>(&[1, 2, 3], 2), Err(DecodeError::TooLarge { .. })));
    }
}
