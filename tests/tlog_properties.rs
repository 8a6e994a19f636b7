//! Property tests of `quotaledger::tlog`: every generated proof verifies; every single
//! mutation of a proof hash, the index, the leaf, a root, a proof's length, a signed
//! checkpoint byte, a signature byte, the key or the origin is rejected, never accepted (the
//! class of bug of immudb GHSA-672p-m5jq-mrh8); hostile input never panics a parser or
//! verifier.
//!
//! Tree sizes are not bound by an RFC 9162 proof alone (see
//! `merkle::tests::bare_inclusion_proofs_do_not_bind_the_tree_size`); they are bound by the
//! signed checkpoint, so size mutations are tested there: any other size in a signed
//! checkpoint is rejected.

use base64::Engine as _;
use proptest::prelude::*;
use quotaledger::tlog::checkpoint::{self, Checkpoint};
use quotaledger::tlog::merkle::{self, Hash, MemoryTree, Sha256, TreeHasher};
use quotaledger::tlog::note::{self, Note, SignerKey, VerifierKey};
use quotaledger::tlog::tiles::{self, Tile, TileNodeSource, TileReader};

const SIZE_MAX: u64 = 160;

fn entry(i: u64) -> Vec<u8> {
    format!("record {i}").into_bytes()
}

fn tree(size: u64) -> MemoryTree<Sha256> {
    MemoryTree::from_entries((0..size).map(entry))
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[(bit / 8) % 32] ^= 1 << (bit % 8);
    out
}

/// Every proof of the same length but one: each element removed, a copy of each inserted
/// after it, one hash appended and one prepended.
fn length_mutations(proof: &[Hash], extra: Hash) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        let mut removed = proof.to_vec();
        removed.remove(i);
        out.push(removed);
        let mut doubled = proof.to_vec();
        doubled.insert(i, proof[i]);
        out.push(doubled);
    }
    let mut appended = proof.to_vec();
    appended.push(extra);
    out.push(appended);
    let mut prepended = vec![extra];
    prepended.extend_from_slice(proof);
    out.push(prepended);
    out
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn inclusion_proofs_verify_and_every_mutation_is_rejected(
        size in 1..=SIZE_MAX,
        index_seed in any::<u64>(),
        other_index in any::<u64>(),
        bit in 0usize..256,
    ) {
        let mut tree = tree(size);
        let root = tree.root();
        let index = index_seed % size;
        let leaf = Sha256::hash_leaf(&entry(index));
        let proof = merkle::prove_inclusion::<Sha256, _>(&mut tree, index, size).unwrap();
        let ceil_log2 = if size == 1 { 0 } else { (size - 1).ilog2() as usize + 1 };
        prop_assert!(proof.len() <= ceil_log2);
        let verify = |i: u64, leaf: &Hash, proof: &[Hash], root: &Hash| {
            merkle::verify_inclusion::<Sha256>(i, size, leaf, proof, root)
        };
        prop_assert_eq!(verify(index, &leaf, &proof, &root), Ok(()));

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify(index, &leaf, &bad, &root).is_err(), "hash {} flipped", i);
        }
        for bad in length_mutations(&proof, root) {
            prop_assert!(verify(index, &leaf, &bad, &root).is_err());
        }
        for other in [other_index, other_index % size, index ^ 1, index.wrapping_add(1), index.wrapping_sub(1)] {
            if other != index {
                prop_assert!(verify(other, &leaf, &proof, &root).is_err(), "index {}", other);
            }
        }
        prop_assert!(verify(index, &flip(&leaf, bit), &proof, &root).is_err());
        prop_assert!(verify(index, &leaf, &proof, &flip(&root, bit)).is_err());
        let neighbour = Sha256::hash_leaf(&entry(index ^ 1));
        if index ^ 1 < size {
            prop_assert!(verify(index, &neighbour, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_every_mutation_is_rejected(
        size2 in 1..=SIZE_MAX,
        size1_seed in any::<u64>(),
        bit in 0usize..256,
    ) {
        let size1 = size1_seed % size2 + 1;
        let mut tree = tree(size2);
        let root2 = tree.root();
        let root1 = self::tree(size1).root();
        let proof = merkle::prove_consistency::<Sha256, _>(&mut tree, size1, size2).unwrap();
        let ceil_log2 = if size2 == 1 { 0 } else { (size2 - 1).ilog2() as usize + 1 };
        prop_assert!(proof.len() <= ceil_log2 + 1);
        let verify = |proof: &[Hash], r1: &Hash, r2: &Hash| {
            merkle::verify_consistency::<Sha256>(size1, size2, proof, r1, r2)
        };
        prop_assert_eq!(verify(&proof, &root1, &root2), Ok(()));

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify(&bad, &root1, &root2).is_err(), "hash {} flipped", i);
        }
        for bad in length_mutations(&proof, root1) {
            prop_assert!(verify(&bad, &root1, &root2).is_err());
        }
        prop_assert!(verify(&proof, &flip(&root1, bit), &root2).is_err());
        prop_assert!(verify(&proof, &root1, &flip(&root2, bit)).is_err());
        if size1 != size2 {
            prop_assert!(verify(&proof, &root2, &root1).is_err());
            prop_assert!(merkle::verify_consistency::<Sha256>(size2, size1, &proof, &root2, &root1).is_err());
        }
        prop_assert!(merkle::verify_consistency::<Sha256>(0, size2, &proof, &root1, &root2).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Signed checkpoints.

const ORIGIN: &str = "quotaledger.example/h200";

fn signer(seed: u8) -> SignerKey {
    SignerKey::from_seed(ORIGIN, &[seed; 32]).unwrap()
}

fn signed_checkpoint(size: u64, root: Hash, extensions: Vec<String>, key: &SignerKey) -> (Checkpoint, String) {
    let c = Checkpoint::new(ORIGIN, size, root, extensions).unwrap();
    let msg = c.sign(key).unwrap();
    (c, msg)
}

fn extension() -> impl Strategy<Value = String> {
    "[a-z0-9 /+=]{1,40}".prop_filter("non-empty", |s| !s.is_empty())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn every_byte_of_a_signed_checkpoint_is_bound(
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in prop::collection::vec(extension(), 0..3),
        xor in 1u8..=255,
    ) {
        let key = signer(1);
        let verifier = key.verifier().unwrap();
        let (c, msg) = signed_checkpoint(size, root, extensions, &key);
        let opened = checkpoint::open_checkpoint(msg.as_bytes(), ORIGIN, &verifier).unwrap();
        prop_assert_eq!(&opened.checkpoint, &c);
        let bytes = msg.as_bytes();
        for i in 0..bytes.len() {
            let mut bad = bytes.to_vec();
            bad[i] ^= xor;
            prop_assert!(
                checkpoint::open_checkpoint(&bad, ORIGIN, &verifier).is_err(),
                "byte {} ^ {:#04x} accepted", i, xor
            );
        }
    }

    #[test]
    fn another_size_root_origin_key_or_signature_is_rejected(
        size in any::<u64>(),
        other_size in any::<u64>(),
        root in any::<[u8; 32]>(),
        bit in 0usize..256,
        sig_bit in 0usize..(64 * 8),
        seed in 2u8..=255,
    ) {
        let key = signer(1);
        let verifier = key.verifier().unwrap();
        let (c, msg) = signed_checkpoint(size, root, vec![], &key);
        let open = |m: &str, origin: &str, v: &VerifierKey| checkpoint::open_checkpoint(m.as_bytes(), origin, v);
        let signature_lines = &msg[c.to_text().len()..];

        // Another size or root under the same signature.
        for changed in [
            Checkpoint { size: other_size, ..c.clone() },
            Checkpoint { root: flip(&root, bit), ..c.clone() },
        ] {
            if changed != c {
                let forged = format!("{}{}", changed.to_text(), signature_lines);
                prop_assert!(open(&forged, ORIGIN, &verifier).is_err());
            }
        }
        // One bit of the signature itself (not of its base64).
        let note = Note::parse(msg.as_bytes()).unwrap();
        let mut sig = note.signatures[0].clone();
        sig.bytes[sig_bit / 8] ^= 1 << (sig_bit % 8);
        let forged = format!("{}\n{}", note.text, sig.line());
        prop_assert!(open(&forged, ORIGIN, &verifier).is_err());
        // Another origin expected, another key of the same name, a mangled key.
        prop_assert!(open(&msg, "quotaledger.example/h201", &verifier).is_err());
        prop_assert!(open(&msg, ORIGIN, &signer(seed).verifier().unwrap()).is_err());
        let vkey = verifier.to_string();
        for i in 0..vkey.len() {
            let mut bytes = vkey.clone().into_bytes();
            bytes[i] = bytes[i].wrapping_add(1);
            let mangled = String::from_utf8_lossy(&bytes);
            if let Ok(other) = VerifierKey::parse(&mangled) {
                prop_assert!(open(&msg, ORIGIN, &other).is_err(), "key {} accepted", mangled);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input: nothing panics.

/// Strings over the alphabet of the formats, so that parsers get past their first checks.
fn format_text() -> impl Strategy<Value = String> {
    "[a-z0-9A-Z/+=.\n \u{2014}x-]{0,200}"
}

struct RandomTiles(Vec<u8>);

impl TileReader for RandomTiles {
    type Error = String;
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, String> {
        if self.0.first().is_some_and(|b| b % 7 == 0) {
            return Err("unavailable".into());
        }
        let wanted = usize::from(tile.width) * 32;
        Ok(self.0.iter().copied().cycle().take(wanted + usize::from(self.0.len().is_multiple_of(3))).collect())
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), text in format_text()) {
        let _ = Note::parse(&bytes);
        let _ = Note::parse(text.as_bytes());
        let key = signer(1).verifier().unwrap();
        let _ = note::open(&bytes, std::slice::from_ref(&key));
        let _ = note::open(text.as_bytes(), std::slice::from_ref(&key));
        let _ = checkpoint::open_checkpoint(text.as_bytes(), ORIGIN, &key);
        let _ = Checkpoint::parse(&text);
        let _ = Checkpoint::parse(&String::from_utf8_lossy(&bytes));
        let _ = VerifierKey::parse(&text);
        let _ = SignerKey::parse(&text);
        let _ = SignerKey::parse(&format!("PRIVATE+KEY+{text}"));
        let _ = Tile::parse_path(&text);
        let _ = Tile::parse_path(&format!("tile/{text}"));
        let _ = tiles::decode_entry_bundle(&bytes, (bytes.len() % 300) as u16);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let _ = Checkpoint::parse(&format!("o\n1\n{b64}\n"));
        let _ = VerifierKey::parse(&format!("o+00000000+{b64}"));
        let _ = Note::parse(format!("a\n\n\u{2014} k {b64}\n").as_bytes());
    }

    #[test]
    fn verifiers_never_panic(
        index in any::<u64>(),
        size1 in any::<u64>(),
        size2 in any::<u64>(),
        small in 0u64..300,
        proof in prop::collection::vec(any::<[u8; 32]>(), 0..70),
        leaf in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
    ) {
        for (i, s1, s2) in [(index, size1, size2), (small, small, size2), (index % 300, small, small + index % 5)] {
            let _ = merkle::verify_inclusion::<Sha256>(i, s1, &leaf, &proof, &root);
            let _ = merkle::verify_consistency::<Sha256>(s1, s2, &proof, &leaf, &root);
            let _ = merkle::inclusion_proof_len(i, s1);
            let _ = merkle::consistency_proof_len(s1, s2);
        }
    }

    #[test]
    fn tile_arithmetic_never_panics(
        level in any::<u8>(),
        index in any::<u64>(),
        size in any::<u64>(),
        small_size in 0u64..100_000,
        data in prop::collection::vec(any::<u8>(), 0..600),
        width in any::<u16>(),
    ) {
        let _ = tiles::tile_for_node(level, index, size);
        let _ = tiles::tile_for_node(level % 20, index % 100_000, small_size);
        let tile = Tile { level: tiles::TileLevel::Hashes(level % 64), index: index % 1000, width };
        let _ = tiles::node_from_tile(&tile, &data, level, index);
        let _ = tiles::stored_hash_index(level, index);
        let _ = tiles::split_stored_hash_index(index);
        let _ = tiles::stored_hash_count(index);
        let _ = tiles::new_tiles(size.min(small_size), small_size);
        let mut source = TileNodeSource::new(RandomTiles(data), small_size);
        let _ = merkle::NodeSource::<Sha256>::node(&mut source, level % 24, index % 100_000);
        let _ = merkle::prove_inclusion::<Sha256, _>(&mut source, index % (small_size + 1), small_size);
        let _ = merkle::prove_consistency::<Sha256, _>(&mut source, index % (small_size + 1), small_size);
        let mut memory = tree(small_size % 40);
        let _ = merkle::prove_inclusion::<Sha256, _>(&mut memory, index, size);
        let _ = merkle::prove_consistency::<Sha256, _>(&mut memory, index, size);
        let _ = merkle::root::<Sha256, _>(&mut memory, size);
    }
}
