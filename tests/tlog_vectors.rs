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
