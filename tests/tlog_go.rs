//! The README's "Auditing" walkthrough, run: Go's own transparency-log code
//! (`golang.org/x/mod/sumdb/note` and `tlog`, through `examples/tlog-go`) checks a log written
//! by `qledger publish` of 302 records (a full and a partial tile at level 0, a partial one at
//! level 1), and fails on a flipped byte in a hash tile or an entry bundle, a flipped bit in the
//! checkpoint's signature, an edited checkpoint, a checkpoint signed by the key that lies, a
//! wrong key, a record outside the tree and an old checkpoint of another history. And the
//! README's Python snippet, verbatim, checks `qledger prove --seq` documents and fails on a
//! flipped or extra hash, a flipped entry or a seq outside the tree; the signature recipe of
//! its last comment, followed with ed25519-dalek, verifies a checkpoint.
//!
//! The Go tests need Go and Debian's x/mod (`apt-get install golang-go
//! golang-golang-x-mod-dev`; `.ci/run` installs them): without them they fail, unless
//! `QLEDGER_SKIP_GO=1`. The Python tests need `python3` (its standard library only).

mod qa_util;

use base64::Engine as _;
use qa_util::{ok, orders, preamble, run_cmd, write, Out, Rng, TIMEOUT};
use quotaledger::tlog::note::{self, SignerKey};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian's golang-golang-x-mod-dev puts golang.org/x/mod: the GOPATH of the README.
const GOPATH: &str = "/usr/share/gocode";
const ORIGIN: &str = "example.org/tlog-go";
const LICENSE: &str = "L-TLOG-GO";
/// Records of the published tree: a full level-0 tile (256) and a partial one (46).
const SIZE: u64 = 302;
/// Records of the older checkpoint kept for the consistency check.
const OLD_SIZE: u64 = 102;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `go` with the environment of the README's command: GOPATH mode on Debian's packages, no
/// module download, the build cache under target/tmp.
fn go_command() -> Command {
    let mut c = Command::new("go");
    c.env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build"))
        .env_remove("GOFLAGS")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Whether Go and x/mod are here. False only with QLEDGER_SKIP_GO=1: without it, a missing
/// one fails the test, naming what to install.
fn have_go() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        let go = go_command().arg("version").output().is_ok_and(|o| o.status.success());
        let x_mod = Path::new(GOPATH).join("src/golang.org/x/mod/sumdb/tlog").is_dir();
        if go && x_mod {
            return true;
        }
        let skip = std::env::var("QLEDGER_SKIP_GO").is_ok_and(|v| v == "1");
        assert!(
            skip,
            "the Go walkthrough needs {}, not found here: install them (`apt-get install golang-go \
             golang-golang-x-mod-dev`, as .ci/run does), or set QLEDGER_SKIP_GO=1 to skip these tests",
            match (go, x_mod) {
                (false, false) => "`go` and golang.org/x/mod under /usr/share/gocode",
                (false, true) => "`go`",
                _ => "golang.org/x/mod under /usr/share/gocode",
            }
        );
        eprintln!("tlog_go: no Go or x/mod; QLEDGER_SKIP_GO=1: the Go tests are skipped");
        false
    })
}

/// A published log for a Go test; None when the Go tests are skipped (see [`have_go`]).
fn go_log() -> Option<Log> {
    have_go().then(Log::new)
}

/// `examples/tlog-go` built once for the tests that run it many times.
fn tlog_go() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tlog-go").join("tlog-go");
        let mut c = go_command();
        c.args(["build", "-o"]).arg(&bin).arg("./examples/tlog-go");
        let out = run_cmd(c, None, TIMEOUT, "go build ./examples/tlog-go");
        assert_eq!(out.code, Some(0), "go build: {}", out.stderr);
        bin
    })
}

/// A published log of SIZE records, its verifier key, and a checkpoint of OLD_SIZE records
/// published before.
struct Log {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ledger: PathBuf,
    site: PathBuf,
    key: PathBuf,
    vkey: String,
    vkey_file: PathBuf,
    old_checkpoint: PathBuf,
    checkpoint: String,
}

fn qledger(args: &[&str], dir: &Path) -> String {
    let mut c = Command::new(qa_util::bin());
    c.args(args).env_remove("QLEDGER_LEDGER").env("XDG_STATE_HOME", dir.join("state")).env_remove("RUST_BACKTRACE");
    let out = run_cmd(c, None, TIMEOUT, &format!("qledger {args:?}"));
    assert_eq!(out.code, Some(0), "qledger {args:?}: {}", out.stderr);
    out.text()
}

/// A ledger `name` of `n` records on LICENSE (a party, a grant, orders `prefix`...), signed
/// with `key` and published into `site`; returns the ledger and the published checkpoint.
fn publish(dir: &Path, name: &str, prefix: &str, n: u64, key: &Path, site: &Path) -> (PathBuf, String) {
    let ledger = dir.join(name);
    let input = dir.join(format!("{name}.jsonl"));
    write(&input, format!("{}{}", preamble("p-go", LICENSE), orders(prefix, LICENSE, 0, n - 2, 0)));
    ok(&ledger, &["append", "--create", input.to_str().unwrap()]);
    let checkpoint = ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    ok(&ledger, &["publish", site.to_str().unwrap()]);
    (ledger, checkpoint)
}

impl Log {
    fn new() -> Log {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let key = dir.join("k.key");
        let vkey = qledger(&["keygen", "--name", ORIGIN, "--out", key.to_str().unwrap()], &dir).trim_end().to_owned();
        let vkey_file = dir.join("k.vkey");
        write(&vkey_file, format!("{vkey}\n"));
        let site = dir.join("site");
        let (ledger, _) = publish(&dir, "ledger", "a", OLD_SIZE, &key, &site);
        let old_checkpoint = dir.join("old.checkpoint");
        std::fs::copy(site.join("checkpoint"), &old_checkpoint).unwrap();
        let more = dir.join("more.jsonl");
        write(&more, orders("a", LICENSE, OLD_SIZE - 2, SIZE - OLD_SIZE, OLD_SIZE - 2));
        ok(&ledger, &["append", more.to_str().unwrap()]);
        let checkpoint = ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
        ok(&ledger, &["publish", site.to_str().unwrap()]);
        assert_eq!(checkpoint.lines().nth(1), Some(SIZE.to_string().as_str()), "{checkpoint}");
        Log { _tmp: tmp, dir, ledger, site, key, vkey, vkey_file, old_checkpoint, checkpoint }
    }

    /// The signed root, as `qledger checkpoint` printed it.
    fn root(&self) -> &str {
        self.checkpoint.lines().nth(2).unwrap()
    }

    /// tlog-go on a copy of the published directory with `file` replaced by `bytes`.
    fn check_spoilt(&self, file: &str, bytes: impl AsRef<[u8]>, index: u64) -> Out {
        let site = self.dir.join("spoilt");
        qa_util::copy_dir(&self.site, &site);
        write(&site.join(file), bytes);
        let out = check(&site, &self.vkey, index, None);
        std::fs::remove_dir_all(&site).unwrap();
        out
    }

    /// The `entry` (hex) of `qledger prove --seq seq`.
    fn entry(&self, seq: u64) -> String {
        prove(self, seq)["entry"].as_str().unwrap().to_owned()
    }
}

/// Runs the built `examples/tlog-go` on `site`.
fn check(site: &Path, vkey: &str, index: u64, old: Option<&Path>) -> Out {
    let mut c = Command::new(tlog_go());
    c.arg(site).arg(vkey).arg(index.to_string());
    c.args(old);
    run_cmd(c, None, TIMEOUT, "tlog-go")
}

/// Asserts that tlog-go failed: exit 1 and one line saying so on stderr.
fn assert_fails(out: &Out, what: &str) {
    assert_eq!(out.code, Some(1), "{what}: tlog-go must fail\nstdout: {}\nstderr: {}", out.text(), out.stderr);
    assert!(out.stderr.starts_with("tlog-go: FAILED: ") && out.stderr.lines().count() == 1, "{what}: {}", out.stderr);
}

/// Asserts that tlog-go failed, and that its message contains `says`.
fn assert_fails_saying(out: &Out, what: &str, says: &str) {
    assert_fails(out, what);
    assert!(out.stderr.contains(says), "{what}: the message must say {says:?}: {}", out.stderr);
}

/// `bytes` with bit `bit` of byte `at` flipped.
fn flipped(bytes: &[u8], at: usize, bit: u32) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 1 << bit;
    b
}

/// Asserts that tlog-go, proving record `index`, fails with a random bit flipped in byte `at`
/// of the published `file`, for each of `also` and the first, middle, last and a random byte.
fn assert_flips_fail(log: &Log, rng: &mut Rng, file: &str, also: &[usize], index: u64) {
    let bytes = std::fs::read(log.site.join(file)).unwrap();
    let len = bytes.len();
    for &at in also.iter().chain(&[0, len / 2, len - 1, rng.below(len as u64) as usize]) {
        let out = log.check_spoilt(file, flipped(&bytes, at, rng.below(8) as u32), index);
        assert_fails(&out, &format!("{file} byte {at} flipped"));
    }
}

#[test]
fn go_tlog_verifies_a_published_log_with_a_full_and_a_partial_tile() {
    let Some(log) = go_log() else { return };
    // The README's command, verbatim: `go run` from the repository root, record 5 (in the full
    // tile and bundle), with the older checkpoint; the verifier key as a file.
    let mut c = go_command();
    c.args(["run", "./examples/tlog-go"]).arg(&log.site).arg(&log.vkey_file).arg("5").arg(&log.old_checkpoint);
    let out = run_cmd(c, None, TIMEOUT, "go run ./examples/tlog-go");
    assert_eq!(out.code, Some(0), "go run: {}\n{}", out.stderr, out.text());
    let text = out.text();
    let root = log.root();
    let old = std::fs::read_to_string(&log.old_checkpoint).unwrap();
    let old_root = old.lines().nth(2).unwrap();
    for line in [
        format!("checkpoint: origin {ORIGIN}, size {SIZE}, root {root}, signed by {ORIGIN}"),
        format!("extension: {}", log.checkpoint.lines().nth(3).unwrap()),
        "tiles: give the signed root".to_owned(),
        "bundle tile/entries/000: 256 entries, each matching its leaf hash in the tiles".to_owned(),
        format!("record 5: {} bytes", log.entry(5).len() / 2),
        format!("entry: {}", log.entry(5)),
        format!("consistent: the tree of size {OLD_SIZE} (root {old_root}) is a prefix of the tree of size {SIZE}"),
        "hash tiles read, each authenticated: tile/1/000.p/1, tile/0/001.p/46, tile/0/000".to_owned(),
    ] {
        assert!(text.lines().any(|l| l.starts_with(&line)), "no line {line:?} in:\n{text}");
    }
    // The last record, in the partial tile and bundle; the verifier key as text.
    let last = SIZE - 1;
    let out = check(&log.site, &log.vkey, last, None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = out.text();
    assert!(text.contains(&format!("size {SIZE}, root {root}")), "{text}");
    assert!(text.contains("bundle tile/entries/001.p/46: 46 entries, each matching"), "{text}");
    assert!(text.contains(&format!("entry: {}\n", log.entry(last))), "{text}");
    assert!(!text.contains("consistent"), "{text}");
}

#[test]
fn go_tlog_fails_on_a_flipped_byte_in_a_hash_tile() {
    let Some(log) = go_log() else { return };
    let mut rng = Rng::new(qa_util::seed("tlog_go hash tiles"));
    // Record 5's proof reads all three tiles of the tree (tile/0/000.p/102 is the old tree's).
    for tile in ["tile/0/000", "tile/0/001.p/46", "tile/1/000.p/1"] {
        assert_flips_fail(&log, &mut rng, tile, &[], 5);
    }
}

#[test]
fn go_tlog_fails_on_a_flipped_byte_in_an_entry_bundle() {
    let Some(log) = go_log() else { return };
    let mut rng = Rng::new(qa_util::seed("tlog_go entry bundles"));
    for (bundle, index) in [("tile/entries/000", 5), ("tile/entries/001.p/46", SIZE - 1)] {
        // Also the first entry's length and its first byte.
        assert_flips_fail(&log, &mut rng, bundle, &[1, 2], index);
    }
}

#[test]
fn go_tlog_fails_on_a_flipped_bit_in_the_checkpoint_signature() {
    let Some(log) = go_log() else { return };
    let mut rng = Rng::new(qa_util::seed("tlog_go signature"));
    let text = std::fs::read_to_string(log.site.join("checkpoint")).unwrap();
    let (body, signature_line) = text.split_once("\n\n").unwrap();
    let prefix = format!("— {ORIGIN} ");
    let signature = B64.decode(signature_line.trim_end().strip_prefix(&prefix).unwrap()).unwrap();
    assert_eq!(signature.len(), 4 + 64, "key ID and Ed25519 signature");
    // The key ID (then no signature by the key), the signature's first, last and any byte.
    for at in [0, 4, 67, 4 + rng.below(64) as usize] {
        let spoilt = flipped(&signature, at, rng.below(8) as u32);
        let out = log.check_spoilt("checkpoint", format!("{body}\n\n{prefix}{}\n", B64.encode(spoilt)), 5);
        assert_fails(&out, &format!("signature byte {at} flipped"));
    }
}

#[test]
fn go_tlog_fails_on_an_edited_checkpoint() {
    let Some(log) = go_log() else { return };
    let text = std::fs::read_to_string(log.site.join("checkpoint")).unwrap();
    let other_root = B64.encode([7u8; 32]);
    for (what, edited) in [
        ("another size", text.replacen(&format!("\n{SIZE}\n"), &format!("\n{}\n", SIZE - 1), 1)),
        ("another root", text.replacen(log.root(), &other_root, 1)),
        ("an extension line dropped", text.replacen(&format!("{}\n", text.lines().nth(4).unwrap()), "", 1)),
    ] {
        assert_ne!(edited, text, "{what}");
        assert_fails(&log.check_spoilt("checkpoint", edited, 5), what);
    }
}

#[test]
fn go_tlog_fails_on_a_checkpoint_signed_by_the_key_that_lies() {
    let Some(log) = go_log() else { return };
    // Bodies signed by the log's own key, so that only the Go program's parsing of the body
    // and its check of the tiles can refuse them.
    let signer = SignerKey::parse(std::fs::read_to_string(&log.key).unwrap().trim_end()).unwrap();
    let body = log.checkpoint.split_once("\n\n").unwrap().0.to_owned() + "\n";
    let other_root = B64.encode([7u8; 32]);
    for (what, edited, failure) in [
        ("the body as signed", body.clone(), None),
        ("another origin", body.replacen(ORIGIN, "example.org/other", 1), Some("origin")),
        ("another size", body.replacen(&format!("\n{SIZE}\n"), &format!("\n{}\n", SIZE - 1), 1), Some("root")),
        ("a size with a leading zero", body.replacen(&format!("\n{SIZE}\n"), &format!("\n0{SIZE}\n"), 1), Some("size")),
        ("another root", body.replacen(log.root(), &other_root, 1), Some("root")),
        ("no root line", body.replacen(&format!("{}\n", log.root()), "", 1), Some("root")),
    ] {
        let out = log.check_spoilt("checkpoint", note::sign(&edited, &[&signer]).unwrap(), 5);
        match failure {
            None => assert_eq!(out.code, Some(0), "{what}: {}", out.stderr),
            Some(failure) => assert_fails_saying(&out, what, failure),
        }
    }
}

#[test]
fn go_tlog_fails_with_a_wrong_key() {
    let Some(log) = go_log() else { return };
    let keygen = |name: &str, file: &str| {
        let path = log.dir.join(file);
        qledger(&["keygen", "--name", name, "--out", path.to_str().unwrap()], &log.dir).trim_end().to_owned()
    };
    let same_name = keygen(ORIGIN, "same-name.key");
    let other_name = keygen("example.org/other", "other-name.key");
    for (what, vkey) in [("another key of the same name", same_name), ("a key of another name", other_name)] {
        assert_fails_saying(&check(&log.site, &vkey, 5, None), what, "no valid signature");
    }
    // The right key's name and ID with another public key: the ID is not that key's.
    let [name, id, _] = log.vkey.splitn(3, '+').collect::<Vec<_>>()[..] else { panic!("{}", log.vkey) };
    let other_public = format!("{name}+{id}+{}", B64.encode([[1u8].as_slice(), &[9u8; 32]].concat()));
    let out = check(&log.site, &other_public, 5, None);
    assert_fails_saying(&out, "another public key under the key's ID", "verifier key");
    assert_fails(&check(&log.site, "not a key", 5, None), "not a verifier key");
    // The signer key file itself is not a verifier key.
    assert_fails(&check(&log.site, log.key.to_str().unwrap(), 5, None), "the signer key");
}

#[test]
fn go_tlog_fails_on_a_record_outside_the_tree() {
    let Some(log) = go_log() else { return };
    assert_eq!(check(&log.site, &log.vkey, SIZE - 1, None).code, Some(0));
    assert_fails(&check(&log.site, &log.vkey, SIZE, None), "record SIZE");
}

#[test]
fn go_tlog_fails_on_an_old_checkpoint_of_another_history() {
    let Some(log) = go_log() else { return };
    assert_eq!(check(&log.site, &log.vkey, 5, Some(&log.old_checkpoint)).code, Some(0));
    // Another history signed by the same key: a fork of the old size, and a larger tree
    // (a rollback, seen from it).
    for (name, n, failure) in [("fork", OLD_SIZE, "fork"), ("larger", SIZE + 10, "rollback")] {
        let fork_site = log.dir.join(format!("{name}-site"));
        publish(&log.dir, name, "b", n, &log.key, &fork_site);
        let out = check(&log.site, &log.vkey, 5, Some(&fork_site.join("checkpoint")));
        assert_fails_saying(&out, name, failure);
    }
}

#[test]
fn go_tile_paths_are_the_c2sp_paths() {
    if !have_go() {
        return;
    }
    let mut c = go_command();
    c.args(["vet", "./examples/tlog-go"]);
    let out = run_cmd(c, None, TIMEOUT, "go vet");
    assert_eq!(out.code, Some(0), "go vet: {}", out.stderr);
    let mut c = go_command();
    c.args(["test", "-count=1", "-v", "./examples/tlog-go"]);
    let out = run_cmd(c, None, TIMEOUT, "go test");
    assert_eq!(out.code, Some(0), "go test: {}\n{}", out.stderr, out.text());
    assert!(out.text().contains("--- PASS: TestC2SPPath"), "{}", out.text());
}

// ---- the README's Python snippet ----

/// The ```python block of the README's "Auditing" section, verbatim.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("\n## Auditing\n").expect("an Auditing section")..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
    let start = section.find("```python\n").expect("a python block in Auditing") + "```python\n".len();
    let len = section[start..].find("\n```\n").expect("the end of the python block") + 1;
    section[start..start + len].to_owned()
}

/// Runs the snippet with `p.json` holding `proof`.
fn python(dir: &Path, proof: &serde_json::Value) -> Out {
    let script = dir.join("check.py");
    write(&script, readme_snippet());
    write(&dir.join("p.json"), proof.to_string());
    assert!(
        Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success()),
        "the README's Python snippet is run with `python3`, which was not found: install it \
         (`apt-get install python3`, as .ci/run does)"
    );
    let mut c = Command::new("python3");
    c.arg("-I").arg(&script).current_dir(dir);
    run_cmd(c, None, TIMEOUT, "python3 check.py")
}

fn prove(log: &Log, seq: u64) -> serde_json::Value {
    serde_json::from_str(&ok(&log.ledger, &["prove", "--seq", &seq.to_string()])).unwrap()
}

fn assert_python_fails(out: &Out, what: &str) {
    assert_eq!(out.code, Some(1), "{what}: the snippet must fail\n{}", out.stderr);
    assert!(out.stderr.contains("AssertionError"), "{what}: an assertion must fail: {}", out.stderr);
}

/// Edge seqs of the tree of SIZE: the first, ends of the full tile, the partial tile, the last
/// (whose path climbs past the right edge).
const SEQS: [u64; 8] = [0, 1, 5, 127, 255, 256, 300, SIZE - 1];

#[test]
fn readme_python_snippet_checks_prove_documents() {
    let log = Log::new();
    for seq in SEQS {
        let out = python(&log.dir, &prove(&log, seq));
        assert_eq!(out.code, Some(0), "seq {seq}: {}", out.stderr);
    }
}

/// The recipe of the snippet's last comment, followed to the letter with ed25519-dalek.
fn signature_checks_as_the_snippet_says(checkpoint: &str, vkey: &str) -> bool {
    let (body, signature_line) = checkpoint.split_once("\n\n").unwrap();
    let message = format!("{body}\n");
    let origin = body.lines().next().unwrap();
    let signature = B64.decode(signature_line.trim_end().strip_prefix(&format!("— {origin} ")).unwrap()).unwrap();
    let public = B64.decode(vkey.splitn(3, '+').nth(2).unwrap()).unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(public[1..].try_into().unwrap()).unwrap();
    let signature = ed25519_dalek::Signature::from_bytes(signature[4..].try_into().unwrap());
    key.verify_strict(message.as_bytes(), &signature).is_ok()
}

#[test]
fn readme_signature_recipe_verifies_the_checkpoint_and_not_an_edited_one() {
    let log = Log::new();
    let checkpoint = prove(&log, 5)["checkpoint"].as_str().unwrap().to_owned();
    assert!(signature_checks_as_the_snippet_says(&checkpoint, &log.vkey), "{checkpoint}");
    let edited = checkpoint.replacen(&format!("\n{SIZE}\n"), &format!("\n{}\n", SIZE + 1), 1);
    assert_ne!(edited, checkpoint);
    assert!(!signature_checks_as_the_snippet_says(&edited, &log.vkey), "an edited size must not verify");
}

#[test]
fn readme_python_snippet_fails_on_a_flipped_or_extra_hash_or_a_flipped_entry() {
    let log = Log::new();
    let mut rng = Rng::new(qa_util::seed("tlog_go python"));
    for seq in SEQS {
        let proof = prove(&log, seq);
        let hashes = proof["proof"].as_array().unwrap().clone();
        for (i, hash) in hashes.iter().enumerate() {
            let bytes = B64.decode(hash.as_str().unwrap()).unwrap();
            let mut spoilt = proof.clone();
            spoilt["proof"][i] = B64.encode(flipped(&bytes, rng.below(32) as usize, rng.below(8) as u32)).into();
            assert_python_fails(&python(&log.dir, &spoilt), &format!("seq {seq}, proof hash {i} flipped"));
        }
        // One hash too many: RFC 9162 stops at the root (`sn` is 0 before the proof ends).
        let mut spoilt = proof.clone();
        spoilt["proof"].as_array_mut().unwrap().push(hashes[0].clone());
        let out = python(&log.dir, &spoilt);
        assert_python_fails(&out, &format!("seq {seq}, a hash appended"));
        assert!(out.stderr.contains("assert sn > 0"), "seq {seq}: {}", out.stderr);
        let entry = hex_decode(proof["entry"].as_str().unwrap());
        let mut spoilt = proof.clone();
        spoilt["entry"] = hex_encode(&flipped(&entry, rng.below(entry.len() as u64) as usize, 0)).into();
        assert_python_fails(&python(&log.dir, &spoilt), &format!("seq {seq}, entry flipped"));
    }
}

#[test]
fn readme_python_snippet_refuses_a_seq_outside_the_tree() {
    // RFC 9162's check `leaf_index < tree_size`: without it, record 0's proof in a tree of 302
    // also "proves" seq 512 (the path takes the same turns for 0 and 512), and so on.
    let log = Log::new();
    for (seq, claimed) in [(0, 512), (1, 1025), (5, 2053)] {
        let mut spoilt = prove(&log, seq);
        spoilt["seq"] = claimed.into();
        let out = python(&log.dir, &spoilt);
        assert_python_fails(&out, &format!("record {seq} claimed as {claimed}"));
        assert!(out.stderr.contains(r#"0 <= d["seq"] < size"#), "{}", out.stderr);
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
