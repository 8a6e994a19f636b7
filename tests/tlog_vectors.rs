//! Published test vectors for `quotaledger::tlog`: the RFC 6962 inclusion and consistency
//! probes of transparency-dev/merkle (`tests/vectors/`, see its README), the signed notes and
//! keys of the C2SP signed-note spec and of golang.org/x/mod/sumdb/note, the checkpoint of the
//! C2SP tlog-checkpoint spec and the tile paths of C2SP tlog-tiles and
//! golang.org/x/mod/sumdb/tlog.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use quotaledger::tlog::merkle::{self, Hash, MemoryTree, Sha256, TreeHasher};
use serde::Deserialize;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/transparency-dev");

/// The one vector whose expectation we do not share: it expects a consistency check between
/// two trees of size 1 to accept two equal 12-byte "roots". Every hash here is a 32-byte
/// SHA-256 digest; a hash of any other length is refused before anything is compared.
const DEVIATIONS: &[&str] = &["consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"];

/// The reference leaves of the RFC 6962 vectors; the happy-path probes are proofs in the
/// trees of their first 1 to 8 entries.
const LEAVES: [&str; 8] =
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InclusionProbe {
    leaf_idx: u64,
    tree_size: u64,
    root: Option<String>,
    leaf_hash: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyProbe {
    size1: u64,
    size2: u64,
    root1: Option<String>,
    root2: Option<String>,
    proof: Option<Vec<String>>,
    desc: String,
    #[serde(rename = "wantErr")]
    want_err: bool,
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
}

fn probes<T: serde::de::DeserializeOwned>(kind: &str) -> Vec<(String, T)> {
    let mut files = Vec::new();
    json_files(&Path::new(VECTORS).join(kind), &mut files);
    files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(VECTORS).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let probe = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, probe)
        })
        .collect()
}

fn bytes(b64: &Option<String>) -> Vec<u8> {
    let text = b64.as_deref().unwrap_or("");
    base64::engine::general_purpose::STANDARD.decode(text).expect("vector base64")
}

/// A hash as a verifier receives it: 32 bytes or refused.
fn hash(b64: &Option<String>) -> Result<Hash, String> {
    Sha256::hash_from_slice(&bytes(b64)).map_err(|e| e.to_string())
}

fn proof(hashes: &Option<Vec<String>>) -> Result<Vec<Hash>, String> {
    hashes.iter().flatten().map(|h| hash(&Some(h.clone()))).collect()
}

fn check_inclusion(p: &InclusionProbe) -> Result<(), String> {
    let (leaf, root, proof) = (hash(&p.leaf_hash)?, hash(&p.root)?, proof(&p.proof)?);
    merkle::verify_inclusion::<Sha256>(p.leaf_idx, p.tree_size, &leaf, &proof, &root).map_err(|e| e.to_string())
}

fn check_consistency(p: &ConsistencyProbe) -> Result<(), String> {
    let (root1, root2, proof) = (hash(&p.root1)?, hash(&p.root2)?, proof(&p.proof)?);
    merkle::verify_consistency::<Sha256>(p.size1, p.size2, &proof, &root1, &root2).map_err(|e| e.to_string())
}

/// Checks every probe's expectation; returns (accepted, rejected) counts.
fn run<T>(
    probes: &[(String, T)],
    check: impl Fn(&T) -> Result<(), String>,
    want_err: impl Fn(&T) -> bool,
    desc: impl Fn(&T) -> &str,
) -> (usize, usize) {
    let mut wrong = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for (name, probe) in probes {
        let got = check(probe);
        let want_err = want_err(probe) || DEVIATIONS.contains(&name.as_str());
        match (&got, want_err) {
            (Ok(()), false) => accepted += 1,
            (Err(_), true) => rejected += 1,
            (Ok(()), true) => wrong.push(format!("{name} ({}): accepted, want rejected", desc(probe))),
            (Err(e), false) => wrong.push(format!("{name} ({}): rejected ({e}), want accepted", desc(probe))),
        }
    }
    assert!(wrong.is_empty(), "{} vectors disagree:\n{}", wrong.len(), wrong.join("\n"));
    (accepted, rejected)
}

#[test]
fn transparency_dev_inclusion_vectors() {
    let probes = probes::<InclusionProbe>("inclusion");
    let (ok, bad) = run(&probes, check_inclusion, |p| p.want_err, |p| &p.desc);
    eprintln!("inclusion vectors: {ok} valid accepted, {bad} invalid rejected");
    assert_eq!((ok, bad), (6, 92));
}

#[test]
fn transparency_dev_consistency_vectors() {
    let probes = probes::<ConsistencyProbe>("consistency");
    let (ok, bad) = run(&probes, check_consistency, |p| p.want_err, |p| &p.desc);
    eprintln!("consistency vectors: {ok} valid accepted, {bad} invalid rejected");
    assert_eq!((ok, bad), (5, 93));
}

/// The deviation is exactly the one named, and only because of the hash length.
#[test]
fn the_only_deviation_is_a_root_that_is_not_32_bytes() {
    for (name, probe) in probes::<ConsistencyProbe>("consistency") {
        let lengths_ok = hash(&probe.root1).is_ok() && hash(&probe.root2).is_ok();
        if DEVIATIONS.contains(&name.as_str()) {
            assert!(!probe.want_err && !lengths_ok, "{name}");
        }
    }
}

/// Our prover produces exactly the published proofs of every happy-path vector.
#[test]
fn generated_proofs_equal_the_published_ones() {
    let leaves: Vec<Vec<u8>> = LEAVES.iter().map(|l| hex_decode(l)).collect();
    let mut tree = MemoryTree::<Sha256>::from_entries(&leaves);
    let mut compared = 0;
    for (name, p) in probes::<InclusionProbe>("inclusion") {
        if p.desc == "happy path" && p.tree_size <= 8 && !name.contains("single-entry") {
            let want = proof(&p.proof).unwrap();
            assert_eq!(
                merkle::prove_inclusion::<Sha256, _>(&mut tree, p.leaf_idx, p.tree_size).unwrap(),
                want,
                "{name}"
            );
            compared += 1;
        }
    }
    for (name, p) in probes::<ConsistencyProbe>("consistency") {
        if p.desc == "happy path" {
            let want = proof(&p.proof).unwrap();
            assert_eq!(merkle::prove_consistency::<Sha256, _>(&mut tree, p.size1, p.size2).unwrap(), want, "{name}");
            compared += 1;
        }
    }
    assert_eq!(compared, 10);
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// Signed notes: C2SP signed-note and golang.org/x/mod/sumdb/note (note_test.go).

mod notes {
    use quotaledger::tlog::note::{self, NoteError, SignerKey, VerifierKey};

    /// c2sp.org/signed-note, "Verifier keys", "Example".
    const C2SP_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const C2SP_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    /// c2sp.org/signed-note, the opening example (its key is not published: parse only).
    const C2SP_QUASIMODO: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

    // golang.org/x/mod/sumdb/note/note_test.go
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> VerifierKey {
        VerifierKey::parse(PETER_VKEY).unwrap()
    }
    fn enoch() -> VerifierKey {
        VerifierKey::parse(ENOCH_VKEY).unwrap()
    }

    #[test]
    fn c2sp_example_verifies() {
        let key = VerifierKey::parse(C2SP_VKEY).unwrap();
        assert_eq!(key.key_id(), 0x530d903a);
        assert_eq!(key.to_string(), C2SP_VKEY);
        let opened = note::open(C2SP_NOTE.as_bytes(), &[key]).unwrap();
        assert_eq!(opened.text, "This is an example message.\n");
        assert_eq!(opened.verified.len(), 1);
    }

    #[test]
    fn c2sp_opening_example_parses() {
        let parsed = note::Note::parse(C2SP_QUASIMODO.as_bytes()).unwrap();
        assert_eq!(parsed.signatures.len(), 1);
        assert_eq!(parsed.signatures[0].name, "quasimodo.example/salvatore");
        assert_eq!(parsed.to_text(), C2SP_QUASIMODO);
        assert!(parsed.text.ends_with("sera.\n") && parsed.text.contains(":\n\ned"));
        let err = note::open(C2SP_QUASIMODO.as_bytes(), &[peter()]).unwrap_err();
        assert_eq!(err, NoteError::NoVerifiedSignature { unverified: 1 });
    }

    #[test]
    fn go_keys_parse_and_round_trip() {
        assert_eq!(peter().key_id(), 0xc74f20a3);
        assert_eq!(peter().to_string(), PETER_VKEY);
        assert_eq!(enoch().key_id(), 0xaf0cfe78);
        let signer = SignerKey::parse(PETER_SKEY).unwrap();
        assert_eq!(signer.key_id(), 0xc74f20a3);
        assert_eq!(signer.verifier().unwrap(), peter());
        assert_eq!(signer.to_secret_string(), PETER_SKEY);
        assert!(!format!("{signer:?}").contains("AYEK"));
    }

    /// TestNewVerifier and TestNewSigner: every proper substring and every single-byte
    /// increment of a key is refused.
    #[test]
    fn go_key_manglings_are_refused() {
        for (key, parse) in [
            (PETER_VKEY, (|k: &str| VerifierKey::parse(k).is_ok()) as fn(&str) -> bool),
            (PETER_SKEY, |k: &str| SignerKey::parse(k).is_ok()),
        ] {
            let b = key.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if (i, j) != (0, b.len()) {
                        let sub = String::from_utf8_lossy(&b[i..j]);
                        assert!(!parse(&sub), "substring {sub:?} accepted");
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] = m[i].wrapping_add(1);
                let m = String::from_utf8_lossy(&m);
                assert!(!parse(&m), "mangled {m:?} accepted");
            }
        }
        // Wrong-length key and unknown algorithm, each with its key hash adjusted.
        assert!(
            VerifierKey::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==").is_err()
        );
        assert_eq!(
            VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::UnsupportedAlgorithm(0x65))
        );
    }

    /// TestSign: the exact signed note, byte for byte.
    #[test]
    fn go_sign_reproduces_the_signature() {
        let signer = SignerKey::parse(PETER_SKEY).unwrap();
        let signed = note::sign(TEXT, &[&signer]).unwrap();
        assert_eq!(signed, format!("{TEXT}\n{PETER_SIG}"));
        assert_eq!(note::sign("abc", &[&signer]), Err(NoteError::BadText));
    }

    /// TestOpen.
    #[test]
    fn go_open() {
        let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let n = note::open(both.as_bytes(), &[peter()]).unwrap();
        assert_eq!(n.text, TEXT);
        assert_eq!((n.verified.len(), n.unverified.len()), (1, 1));
        assert_eq!((n.verified[0].name.as_str(), n.unverified[0].key_id), ("PeterNeumann", 0xaf0cfe78));

        let n = note::open(both.as_bytes(), &[peter(), enoch()]).unwrap();
        assert_eq!((n.verified.len(), n.unverified.len()), (2, 0));

        assert_eq!(note::open(both.as_bytes(), &[]), Err(NoteError::NoVerifiedSignature { unverified: 2 }));

        let enoch_only = format!("{TEXT}\n{ENOCH_SIG}");
        assert!(matches!(
            note::open(enoch_only.as_bytes(), &[enoch(), peter(), enoch()]),
            Err(NoteError::AmbiguousKey { .. })
        ));
        let peter_only = format!("{TEXT}\n{PETER_SIG}");
        note::open(peter_only.as_bytes(), &[enoch(), peter(), enoch()]).unwrap();

        let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        assert_eq!(note::open(many.as_bytes(), &[peter()]), Err(NoteError::TooManySignatures { max: 100 }));
        assert_eq!(note::open(many.as_bytes(), &[]), Err(NoteError::TooManySignatures { max: 100 }));

        // The sig string is "— " (4 bytes) then ASCII: byte 60 is inside the base64.
        let invalid = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert!(matches!(note::open(invalid.as_bytes(), &[peter()]), Err(NoteError::InvalidSignature { .. })));

        let dup =
            format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        let n = note::open(dup.as_bytes(), &[peter()]).unwrap();
        assert_eq!((n.verified.len(), n.unverified.len()), (1, 2));

        let bad_msgs = [
            TEXT.to_string(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        ];
        for msg in &bad_msgs {
            assert!(note::open(msg.as_bytes(), &[peter()]).is_err(), "{msg:?}");
        }
        let mut not_utf8 = vec![0xff];
        not_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
        assert_eq!(note::open(&not_utf8, &[peter()]), Err(NoteError::NotUtf8));

        // A signature under another name or key ID is someone else's: not verified.
        let misnamed = peter_only.replace("PeterNeumann", "CarmenSandiego");
        assert!(matches!(note::open(misnamed.as_bytes(), &[peter()]), Err(NoteError::NoVerifiedSignature { .. })));
        let wrong_id = peter_only.replace("x08g", "xxxx");
        assert!(matches!(note::open(wrong_id.as_bytes(), &[peter()]), Err(NoteError::NoVerifiedSignature { .. })));
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: C2SP tlog-checkpoint (and the same checkpoint cosigned, from tlog-cosignature).

mod checkpoints {
    use quotaledger::tlog::checkpoint::Checkpoint;
    use quotaledger::tlog::note::{self, NoteError};

    const TEXT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const LOG_SIG: &str = "\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
    const COSIG: &str = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

    #[test]
    fn spec_example_parses_and_formats_exactly() {
        let c = Checkpoint::parse(TEXT).unwrap();
        assert_eq!((c.origin.as_str(), c.size), ("example.com/behind-the-sofa", 20852163));
        assert_eq!(c.root[..4], [0x0a, 0xc5, 0x18, 0x6a]);
        assert!(c.extensions.is_empty());
        assert_eq!(c.to_text(), TEXT);
    }

    #[test]
    fn spec_examples_are_valid_signed_notes() {
        for sigs in [LOG_SIG.to_owned(), format!("{LOG_SIG}{COSIG}")] {
            let msg = format!("{TEXT}\n{sigs}");
            let parsed = note::Note::parse(msg.as_bytes()).unwrap();
            assert_eq!(parsed.text, TEXT);
            assert_eq!(parsed.to_text(), msg);
            assert_eq!(parsed.signatures[0].key_id.to_be_bytes()[0], 0x03);
            // Without the log's key, nothing is verified, so the note is not accepted.
            assert!(matches!(note::open(msg.as_bytes(), &[]), Err(NoteError::NoVerifiedSignature { .. })));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tiles: C2SP tlog-tiles and golang.org/x/mod/sumdb/tlog (tlog_test.go tilePaths).

mod tiles {
    use quotaledger::tlog::tiles::{self, Tile, TileLevel};

    fn hashes(level: u8, index: u64, width: u16) -> Tile {
        Tile { level: TileLevel::Hashes(level), index, width }
    }

    #[test]
    fn c2sp_index_encoding() {
        assert_eq!(tiles::encode_index(1234067), "x001/x234/067");
        assert_eq!(hashes(0, 1234067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(Tile::parse_path("tile/0/x001/x234/067"), Ok(hashes(0, 1234067, 256)));
    }

    /// "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    /// level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
    /// 17, and one partial level 2 tile of width 1"; "a tree of size 256 will be represented
    /// by a full level 0 tile and a partial level 1 tile of width 1".
    #[test]
    fn c2sp_tiles_of_a_tree() {
        let all = tiles::new_tiles(0, 70_000);
        let full0 = all.iter().filter(|t| t.level == TileLevel::Hashes(0) && t.is_full()).count();
        assert_eq!(full0, 273);
        let rest: Vec<String> =
            all.iter().filter(|t| !(t.level == TileLevel::Hashes(0) && t.is_full())).map(Tile::path).collect();
        assert_eq!(rest, ["tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"]);
        let paths: Vec<String> = tiles::new_tiles(0, 256).iter().map(Tile::path).collect();
        assert_eq!(paths, ["tile/0/000", "tile/1/000.p/1"]);
    }

    /// Go's tilePaths with the tile height dropped from the path (C2SP tiles are all 8 high;
    /// Go's "data" level is C2SP's "entries").
    #[test]
    fn go_tile_paths() {
        let valid = [
            ("tile/0/001", hashes(0, 1, 256)),
            ("tile/0/001.p/5", hashes(0, 1, 5)),
            ("tile/5/x123/x456/078", hashes(5, 123456078, 256)),
            ("tile/5/x123/x456/078.p/2", hashes(5, 123456078, 2)),
            ("tile/0/x003/x057/500", hashes(0, 3057500, 256)),
            ("tile/entries/x003/x057/500", Tile { level: TileLevel::Entries, index: 3057500, width: 256 }),
        ];
        for (path, tile) in valid {
            assert_eq!(tile.path(), path);
            assert_eq!(Tile::parse_path(path), Ok(tile), "{path}");
        }
        for path in ["tile/5/123/456/078", "tile/-1/123/456/078", "tile/data/x003/x057/500"] {
            assert!(Tile::parse_path(path).is_err(), "{path}");
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        let bad = [
            "tile/0/x000/001",
            "tile/0/1",
            "tile/0/0001",
            "tile/00/001",
            "tile/64/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/05",
            "tile/0/001.p/",
            "tile/0/x001",
            "tile/0/001/",
            "/tile/0/001",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/entries/001.p/+5",
            "tile/0/x1/001",
            "",
        ];
        for path in bad {
            assert!(Tile::parse_path(path).is_err(), "{path}");
        }
        assert!(Tile::parse_path("tile/63/x018/x446/x744/x073/x709/x551/615").is_ok());
    }
}
