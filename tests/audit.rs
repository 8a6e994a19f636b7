//! Issue 10 through the binary: keygen, checkpoint, prove, check-proof, bundle, check-bundle,
//! publish and audit; every mutation of a proof, checkpoint, signature, key, size, index or
//! bundle rejected (property tests on the library's offline checks); hostile inputs exit 1 or
//! 3 with one line; an audit over http on 127.0.0.1 catching a rollback and a fork; over https
//! on 127.0.0.1 (a CA and certificates made by the test): trusted with `--ca-file`, refused
//! without it, with another CA's file or for another host name, a bad `--ca-file` exit 1, and
//! no redirect followed; `verify` catching a tampered tree or checkpoint; a tree that lags
//! after a crash caught up.

mod qa_util;

use proptest::prelude::*;
use qa_util::{ok, orders, preamble, run, run_cmd, write, Out, TIMEOUT};
use quotaledger::audit::proofs;
use quotaledger::tlog::note::VerifierKey;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

const LICENSE: &str = "L-AUDIT-1";

/// The canonical row of license CN-IMP-2026-0001 after the H200 story (`examples/h200.jsonl`):
/// the golden vector of `LicenseRowV1`. Since the story of issue 9: ordered 40000 (`fb 409c`),
/// shipped 30000 (`fb 3075`, the late shipment included), remaining 110000, and a third
/// condition C3, `max_shipments` 12 (rule variant 4: `04 0c`), final.
const H200_ROW_GOLDEN: &str = "0110434e2d494d502d323032362d30303031096279746564616e636509434e2d4d4f46434f4d044832303001fbf29ffbcaa200fcf0490200fb409cfb3075fcb0ad010003024331000103010243320235646174612d63656e74726520696e666572656e636520616e6420747261696e696e67206f6e6c793b206e6f2072652d6578706f727401024333040c01";

fn qledger(args: &[&str], state: &Path) -> Out {
    let mut c = Command::new(qa_util::bin());
    c.args(args).env_remove("QLEDGER_LEDGER").env("XDG_STATE_HOME", state).env_remove("RUST_BACKTRACE");
    run_cmd(c, None, TIMEOUT, &format!("qledger {args:?}"))
}

fn keygen(dir: &Path, name: &str, file: &str) -> (PathBuf, String) {
    let path = dir.join(file);
    let out = qledger(&["keygen", "--name", name, "--out", path.to_str().unwrap()], dir);
    assert_eq!(out.code, Some(0), "keygen: {}", out.stderr);
    (path, out.text().trim_end().to_owned())
}

/// A ledger of `n` orders on LICENSE (plus its party and grant), checkpointed with `key`.
fn ledger_with(dir: &Path, name: &str, prefix: &str, n: u64, key: &Path) -> PathBuf {
    let ledger = dir.join(name);
    let input = dir.join(format!("{name}.jsonl"));
    write(&input, format!("{}{}", preamble("p-audit", LICENSE), orders(prefix, LICENSE, 0, n, 0)));
    ok(&ledger, &["append", "--create", input.to_str().unwrap()]);
    ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    ledger
}

fn append_more(ledger: &Path, prefix: &str, from: u64, n: u64) {
    let input = ledger.with_extension(format!("{prefix}{from}.jsonl"));
    write(&input, orders(prefix, LICENSE, from, n, from));
    ok(ledger, &["append", "--create", input.to_str().unwrap()]);
}

fn check(file: &Path, vkey: &str, state: &Path) -> Out {
    qledger(&["check-proof", file.to_str().unwrap(), "--key", vkey], state)
}

fn save(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    write(&p, text);
    p
}

#[test]
fn keygen_writes_an_owner_only_key_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, vkey) = keygen(tmp.path(), "example.org/log", "k.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(VerifierKey::parse(&vkey).is_ok(), "{vkey}");
    let before = std::fs::read(&key).unwrap();
    let again = qledger(&["keygen", "--name", "example.org/log", "--out", key.to_str().unwrap()], tmp.path());
    assert_eq!(again.code, Some(1));
    again.assert_one_line_error("keygen over an existing file");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let bad = qledger(&["keygen", "--name", "has space", "--out", tmp.path().join("x").to_str().unwrap()], tmp.path());
    assert_eq!(bad.code, Some(1));
    // A signer key others can read is refused.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ledger = tmp.path().join("l");
    write(&tmp.path().join("e.jsonl"), preamble("p", "L"));
    ok(&ledger, &["append", "--create", tmp.path().join("e.jsonl").to_str().unwrap()]);
    let out = run(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}

#[test]
fn checkpoints_proofs_and_bundles_round_trip_and_wrong_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, vkey) = keygen(dir, "example.org/log", "k.key");
    let ledger = ledger_with(dir, "a", "a", 300, &key);
    append_more(&ledger, "a", 300, 400);
    ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    let size = |n: u64| n.to_string();
    for (seq, at) in [(0u64, None), (5, Some(302)), (301, None), (701, None), (255, Some(302))] {
        let mut args = vec!["prove".to_owned(), "--seq".into(), seq.to_string()];
        if let Some(s) = at {
            args.extend(["--size".to_owned(), size(s)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let p = save(dir, "p.json", &ok(&ledger, &args));
        let out = check(&p, &vkey, dir);
        assert_eq!(out.code, Some(0), "seq {seq}: {}", out.stderr);
        assert!(out.text().contains(&format!("record {seq} is in the tree")), "{}", out.text());
    }
    let c = save(dir, "c.json", &ok(&ledger, &["prove", "--from", "302", "--to", "702"]));
    assert_eq!(check(&c, &vkey, dir).code, Some(0));
    let l = save(dir, "l.json", &ok(&ledger, &["prove", "--license", LICENSE]));
    let out = check(&l, &vkey, dir);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.text().contains("ordered 700"), "{}", out.text());
    let bundle = dir.join("b.json");
    ok(&ledger, &["bundle", "--license", LICENSE, "--out", bundle.to_str().unwrap()]);
    let out = qledger(&["check-bundle", bundle.to_str().unwrap(), "--key", &vkey], dir);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.text().contains("701 records of license"), "{}", out.text());

    // The same name with another key, and the right key under another name: both exit 3.
    let (_, stranger) = keygen(dir, "example.org/log", "k2.key");
    let (_, other_origin) = keygen(dir, "example.org/other", "k3.key");
    for wrong in [&stranger, &other_origin] {
        for file in [&l, &c] {
            let out = check(file, wrong, dir);
            assert_eq!(out.code, Some(3), "{wrong}: {}", out.stderr);
            out.assert_one_line_error("wrong key");
        }
        let out = qledger(&["check-bundle", bundle.to_str().unwrap(), "--key", wrong], dir);
        assert_eq!(out.code, Some(3));
    }
    // A verifier key file works as well as its text.
    let vfile = save(dir, "v.pub", &format!("{vkey}\n"));
    assert_eq!(check(&l, vfile.to_str().unwrap(), dir).code, Some(0));

    let v: serde_json::Value = serde_json::from_str(&ok(&ledger, &["verify", "--json"])).unwrap();
    assert_eq!((v["checkpoints"].as_u64(), v["tree_leaves"].as_u64()), (Some(2), Some(702)));

    // `prove` finds every record, in every block, byte for byte: by the block index the
    // checkpoints extended, by a walk of block headers without it, and despite a garbage index.
    let reader = quotaledger::ledger::Ledger::open_read(&ledger).unwrap();
    let index = ledger.join("tree/blocks");
    assert_eq!(std::fs::metadata(&index).unwrap().len() % 24, 0);
    let all: Vec<_> = reader.records(0).unwrap().map(Result::unwrap).collect();
    for index_state in ["built", "missing", "garbage", "lying"] {
        match index_state {
            "missing" => std::fs::remove_file(&index).unwrap(),
            "garbage" => write(&index, (0..24 * 40).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>()),
            "lying" => {
                // Entries in segment 0 at offsets where no block starts, or naming wrong seqs.
                let entries: Vec<u8> = [(0u64, 0u64, 100u64), (5, 0, 32), (300, 0, 7), (600, 0, 1 << 40)]
                    .iter()
                    .flat_map(|(a, b, c)| [a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes()].concat())
                    .collect();
                write(&index, entries);
            }
            _ => {}
        }
        for r in &all {
            assert_eq!(reader.record_bytes(r.seq).unwrap(), r.bytes, "seq {} with the index {index_state}", r.seq);
        }
    }
    assert!(reader.record_bytes(702).is_err());
}

#[test]
fn the_license_row_is_frozen_by_a_golden_vector() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, vkey) = keygen(tmp.path(), "example.org/h200", "k.key");
    let ledger = tmp.path().join("h200");
    let story = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/h200.jsonl");
    ok(&ledger, &["append", "--create", story]);
    ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&ledger, &["prove", "--license", "CN-IMP-2026-0001"])).unwrap();
    assert_eq!(doc["row"].as_str(), Some(H200_ROW_GOLDEN));
    let p = save(tmp.path(), "l.json", &doc.to_string());
    assert_eq!(check(&p, &vkey, tmp.path()).code, Some(0));
}

/// Proof documents of a small ledger, made once for the property tests.
struct Docs {
    vkey: VerifierKey,
    proofs: Vec<Vec<u8>>,
    bundle: Vec<u8>,
}

fn docs() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (key, vkey) = keygen(dir, "example.org/props", "k.key");
        let ledger = ledger_with(dir, "a", "a", 20, &key);
        append_more(&ledger, "a", 20, 9);
        ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
        let proofs = [
            vec!["prove", "--seq", "7", "--size", "22"],
            vec!["prove", "--seq", "30"],
            vec!["prove", "--from", "22", "--to", "31"],
            vec!["prove", "--license", LICENSE],
        ]
        .iter()
        .map(|args| ok(&ledger, args).trim_end().as_bytes().to_vec())
        .collect();
        let file = dir.join("b.json");
        ok(&ledger, &["bundle", "--license", LICENSE, "--out", file.to_str().unwrap()]);
        Docs { vkey: VerifierKey::parse(&vkey).unwrap(), proofs, bundle: std::fs::read(file).unwrap() }
    })
}

#[test]
fn the_documents_of_the_property_tests_check() {
    let d = docs();
    for p in &d.proofs {
        proofs::check_proof(p, &d.vkey).unwrap();
    }
    proofs::check_bundle(&d.bundle, &d.vkey).unwrap();
}

/// How many values and arrays [`mutate_json`] can pick from.
fn count_values(v: &serde_json::Value) -> u64 {
    match v {
        serde_json::Value::Object(map) => map.values().map(count_values).sum(),
        serde_json::Value::Array(items) => 1 + items.iter().map(count_values).sum::<u64>(),
        _ => 1,
    }
}

/// Mutates the `pick`th value or array of a JSON document (depth first).
fn mutate_json(v: &mut serde_json::Value, pick: &mut u64, seed: u64) -> bool {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (_, child) in map.iter_mut() {
                if mutate_json(child, pick, seed) {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => {
            if *pick == 0 {
                match seed % 3 {
                    0 if !items.is_empty() => {
                        items.remove((seed / 3) as usize % items.len());
                    }
                    1 if items.len() > 1 => {
                        let last = items.len() - 1;
                        items.swap(0, last);
                    }
                    _ => items.push(items.first().cloned().unwrap_or(Value::String("AAAA".into()))),
                }
                if items.len() > 1 && seed % 3 == 1 && items[0] == items[items.len() - 1] {
                    items.push(Value::Null);
                }
                return true;
            }
            *pick -= 1;
            for child in items.iter_mut() {
                if mutate_json(child, pick, seed) {
                    return true;
                }
            }
            false
        }
        Value::Number(n) if *pick == 0 => {
            let x = n.as_u64().unwrap_or(0);
            *v = Value::from(if seed.is_multiple_of(2) { x.wrapping_add(1 + seed % 5) } else { x.wrapping_sub(1) });
            true
        }
        Value::String(s) if *pick == 0 => {
            let mut bytes = s.clone().into_bytes();
            if bytes.is_empty() {
                bytes.push(b'a');
            } else {
                let i = (seed as usize) % bytes.len();
                bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            }
            *s = String::from_utf8_lossy(&bytes).into_owned();
            true
        }
        _ => {
            *pick = pick.saturating_sub(1);
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any single byte of a proof document changed: rejected, never accepted, never a panic.
    #[test]
    fn every_byte_mutation_of_a_proof_is_rejected(which in 0usize..4, at in any::<usize>(), byte in any::<u8>()) {
        let d = docs();
        let mut doc = d.proofs[which].clone();
        let i = at % doc.len();
        prop_assume!(doc[i] != byte);
        doc[i] = byte;
        prop_assert!(proofs::check_proof(&doc, &d.vkey).is_err(), "accepted with byte {i} = {byte}");
    }

    /// Any value of a proof document (a size, an index, a hash, the entry, the row, the
    /// checkpoint text, the signature) changed, or a proof hash dropped, swapped or added.
    #[test]
    fn every_field_mutation_of_a_proof_is_rejected(which in 0usize..4, pick in 0u64..64, seed in any::<u64>()) {
        let d = docs();
        let mut v: serde_json::Value = serde_json::from_slice(&d.proofs[which]).unwrap();
        let mut p = pick % count_values(&v);
        prop_assert!(mutate_json(&mut v, &mut p, seed));
        let doc = serde_json::to_vec(&v).unwrap();
        prop_assume!(doc != d.proofs[which]);
        prop_assert!(proofs::check_proof(&doc, &d.vkey).is_err(), "accepted: {}", String::from_utf8_lossy(&doc));
    }

    /// The same for bundles, byte by byte and value by value.
    #[test]
    fn every_mutation_of_a_bundle_is_rejected(at in any::<usize>(), byte in any::<u8>(), pick in 0u64..400, seed in any::<u64>()) {
        let d = docs();
        let mut doc = d.bundle.clone();
        let i = at % doc.len();
        if doc[i] != byte {
            doc[i] = byte;
            prop_assert!(proofs::check_bundle(&doc, &d.vkey).is_err(), "accepted with byte {i} = {byte}");
        }
        let mut v: serde_json::Value = serde_json::from_slice(&d.bundle).unwrap();
        let mut p = pick % count_values(&v);
        if mutate_json(&mut v, &mut p, seed) {
            let doc = serde_json::to_vec(&v).unwrap();
            if doc != d.bundle {
                prop_assert!(proofs::check_bundle(&doc, &d.vkey).is_err(), "accepted: {}", String::from_utf8_lossy(&doc));
            }
        }
    }

    /// Any byte of the verifier key changed: refused or another key, which verifies nothing.
    #[test]
    fn every_mutation_of_the_key_is_rejected(at in any::<usize>(), byte in any::<u8>()) {
        let d = docs();
        let mut key = d.vkey.to_string().into_bytes();
        let i = at % key.len();
        prop_assume!(key[i] != byte);
        key[i] = byte;
        if let Ok(k) = VerifierKey::parse(&String::from_utf8_lossy(&key)) {
            for p in &d.proofs {
                prop_assert!(proofs::check_proof(p, &k).is_err());
            }
        }
    }
}

#[test]
fn hostile_documents_exit_1_or_3_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = docs();
    let vkey = d.vkey.to_string();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge_proof = format!(
        r#"{{"kind":"inclusion","seq":0,"tree_size":1,"entry":"00","leaf_hash":"","proof":[{}],"checkpoint":""}}"#,
        vec![r#""AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=""#; 100_000].join(",")
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("binary", (0..=255u8).cycle().take(5000).collect()),
        ("not json", b"hello".to_vec()),
        ("deep nesting", deep.into_bytes()),
        ("unknown kind", br#"{"kind":"x"}"#.to_vec()),
        ("wrong types", br#"{"kind":"inclusion","seq":"1"}"#.to_vec()),
        ("huge number", br#"{"kind":"inclusion","seq":1e999}"#.to_vec()),
        ("long proof", huge_proof.into_bytes()),
        ("bundle as proof", d.bundle.clone()),
        ("invalid utf-8", b"{\"kind\":\"\xff\"}".to_vec()),
    ];
    for (what, bytes) in &cases {
        let f = dir.join("doc");
        write(&f, bytes);
        for cmd in ["check-proof", "check-bundle"] {
            if *what == "bundle as proof" && cmd == "check-bundle" {
                continue;
            }
            let out = qledger(&[cmd, f.to_str().unwrap(), "--key", &vkey], dir);
            assert!(matches!(out.code, Some(1) | Some(3)), "{cmd} {what}: {:?} {}", out.code, out.stderr);
            out.assert_one_line_error(what);
        }
    }
    for key in ["", "not-a-key", "a+00000000+AAAA", &"x".repeat(100_000)] {
        let f = dir.join("doc");
        write(&f, &d.proofs[0]);
        let out = qledger(&["check-proof", f.to_str().unwrap(), "--key", key], dir);
        assert_eq!(out.code, Some(1), "key {key:.20}: {}", out.stderr);
        out.assert_one_line_error("bad key");
    }
    // A directory whose checkpoint or tiles are garbage.
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("tile/0/000.p")).unwrap();
    for checkpoint in [b"garbage".to_vec(), vec![0xff; 100_000], Vec::new()] {
        write(&site.join("checkpoint"), &checkpoint);
        let out = qledger(&["audit", site.to_str().unwrap(), "--key", &vkey], dir);
        assert!(matches!(out.code, Some(1) | Some(3)), "{:?} {}", out.code, out.stderr);
        out.assert_one_line_error("garbage checkpoint");
    }
}

/// A static web server on 127.0.0.1 serving a directory that the test can switch, over http or
/// (with a rustls server config) https; it can also answer every request with a redirect, or
/// some with `503`.
struct Server {
    addr: SocketAddr,
    https: bool,
    root: Arc<Mutex<PathBuf>>,
    answers: Arc<Mutex<Answers>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: &Path) -> Server {
        Server::start_with(root, None)
    }

    fn start_tls(root: &Path, tls: Arc<rustls::ServerConfig>) -> Server {
        Server::start_with(root, Some(tls))
    }

    fn start_with(root: &Path, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let https = tls.is_some();
        let root = Arc::new(Mutex::new(root.to_path_buf()));
        let answers = Arc::new(Mutex::new(Answers::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, a, s) = (root.clone(), answers.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                    let dir = r.lock().unwrap().clone();
                    let answers = a.lock().unwrap().clone();
                    let _ = match &tls {
                        None => serve_one(stream, &dir, &answers),
                        Some(config) => serve_tls(stream, config, &dir, &answers),
                    };
                }
            }
        });
        Server { addr, https, root, answers, stop, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("{}://{}/log", if self.https { "https" } else { "http" }, self.addr)
    }

    fn serve(&self, root: &Path) {
        *self.root.lock().unwrap() = root.to_path_buf();
    }

    /// Answers every request with a redirect to `prefix` + the path asked.
    fn redirect_to(&self, prefix: &str) {
        self.answers.lock().unwrap().redirect = Some(prefix.to_owned());
    }

    /// Answers `503` to every request whose path contains `part` (a server that is down).
    fn unavailable(&self, part: Option<&str>) {
        self.answers.lock().unwrap().unavailable = part.map(str::to_owned);
    }
}

/// How the server answers besides serving files.
#[derive(Clone, Default)]
struct Answers {
    /// Every request is answered `301` to this prefix followed by the path asked.
    redirect: Option<String>,
    /// Requests whose path contains this are answered `503`.
    unavailable: Option<String>,
}

fn serve_tls(
    tcp: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    root: &Path,
    answers: &Answers,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    serve_one(&mut tls, root, answers)?;
    tls.conn.send_close_notify();
    tls.flush()
}

fn serve_one<S: Read + Write>(mut stream: S, root: &Path, answers: &Answers) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    drop(reader);
    let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
    if let Some(to) = &answers.redirect {
        let head = "HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\nConnection: close";
        return write!(stream, "{head}\r\nLocation: {to}{path}\r\n\r\n");
    }
    if answers.unavailable.as_ref().is_some_and(|part| path.contains(part.as_str())) {
        return write!(stream, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let file = path.strip_prefix("/log/").filter(|p| !p.contains("..")).map(|p| root.join(p));
    match file.and_then(|f| std::fs::read(f).ok()) {
        Some(body) => {
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            stream.write_all(&body)
        }
        None => write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn audit_over_http_follows_the_log_and_catches_a_rollback_and_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("state");
    let (key, vkey) = keygen(dir, "example.org/audited", "k.key");
    let ledger = ledger_with(dir, "a", "a", 300, &key);
    let site = dir.join("site");
    ok(&ledger, &["publish", site.to_str().unwrap()]);
    let old_site = dir.join("old-site");
    qa_util::copy_dir(&site, &old_site);
    let server = Server::start(&site);
    let audit = |full: bool| {
        let mut args = vec!["audit".to_owned(), server.url(), "--key".into(), vkey.clone()];
        if full {
            args.push("--full".into());
        }
        qledger(&args.iter().map(String::as_str).collect::<Vec<_>>(), &state)
    };
    let out = audit(true);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.text().contains("size 302") && out.text().contains("302 entries re-hashed"), "{}", out.text());

    append_more(&ledger, "a", 300, 500);
    ok(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]);
    let published = ok(&ledger, &["publish", site.to_str().unwrap()]);
    assert!(published.contains("was 302"), "{published}");
    let out = audit(true);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.text().contains("consistent with size 302"), "{}", out.text());

    // A server that goes down during `--full`'s re-hash (entry bundles, then hash tiles after
    // the root was checked) is unreachable (exit 4), not a misbehaving log (exit 3).
    for part in ["/tile/0/000", "/tile/entries/"] {
        server.unavailable(Some(part));
        let out = audit(true);
        assert_eq!(out.code, Some(4), "{part}: {}", out.stderr);
        out.assert_one_line_error("a server down mid-audit");
        assert!(out.stderr.contains("503"), "{}", out.stderr);
    }
    server.unavailable(None);

    // Rollback: the server shows the older tree again.
    server.serve(&old_site);
    let out = audit(false);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    out.assert_one_line_error("rollback");
    assert!(out.stderr.contains("rollback"), "{}", out.stderr);
    assert_eq!(out.text().matches("example.org/audited\n").count(), 2, "both checkpoints: {}", out.text());

    // Fork: another history signed by the same key, of the same size and of a larger one.
    for (name, n) in [("fork-same", 800), ("fork-larger", 900)] {
        let fork = ledger_with(dir, name, "b", n, &key);
        let fork_site = dir.join(format!("{name}-site"));
        ok(&fork, &["publish", fork_site.to_str().unwrap()]);
        server.serve(&fork_site);
        let out = audit(false);
        assert_eq!(out.code, Some(3), "{name}: {}", out.stderr);
        assert!(out.stderr.contains("fork"), "{name}: {}", out.stderr);
        assert_eq!(out.text().matches("example.org/audited\n").count(), 2, "{name}: {}", out.text());
    }
    // The honest log still audits.
    server.serve(&site);
    assert_eq!(audit(false).code, Some(0));
    // A tile that lies about a hash: the tiles no longer give the signed root.
    let tile = site.join("tile/0/000");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[40] ^= 1;
    write(&tile, &bytes);
    let out = audit(true);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("tile/0/000"), "{}", out.stderr);
}

/// `out` failed with exit `code` and one line of stderr holding `problem`.
fn assert_fails(out: &Out, code: i32, problem: &str) {
    assert_eq!(out.code, Some(code), "{problem}: {}", out.stderr);
    out.assert_one_line_error(problem);
    assert!(out.stderr.contains(problem), "{problem}: {}", out.stderr);
}

/// A CA made at test time: its certificate (PEM) and the issuer that signs server certificates.
struct TestCa {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn test_ca(name: &str) -> TestCa {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    TestCa { pem: cert.pem(), issuer: rcgen::Issuer::new(params, key) }
}

/// An https server's config: a certificate for `host` (a name or an IP address) from `ca`.
fn tls_config(ca: &TestCa, host: &str) -> Arc<rustls::ServerConfig> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    Arc::new(config)
}

/// What each https test starts from: a ledger of 302 records checkpointed and published to
/// `site`, the log's CA and its PEM file (`ca.pem`), and the auditor's state directory.
struct TlsLog {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    vkey: String,
    ledger: PathBuf,
    site: PathBuf,
    ca: TestCa,
    ca_file: PathBuf,
    state: PathBuf,
}

impl TlsLog {
    fn new() -> TlsLog {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let (key, vkey) = keygen(&dir, "example.org/tls", "k.key");
        let ledger = ledger_with(&dir, "a", "a", 300, &key);
        let site = dir.join("site");
        ok(&ledger, &["publish", site.to_str().unwrap()]);
        let ca = test_ca("qledger test CA");
        let ca_file = save(&dir, "ca.pem", &ca.pem);
        let state = dir.join("state");
        TlsLog { _tmp: tmp, dir, key, vkey, ledger, site, ca, ca_file, state }
    }

    /// An https server of `site` with a certificate for `host` from the log's CA.
    fn serve_https(&self, host: &str) -> Server {
        Server::start_tls(&self.site, tls_config(&self.ca, host))
    }

    /// `audit URL --key V` and `more` arguments.
    fn audit(&self, url: &str, more: &[&str]) -> Out {
        let mut args = vec!["audit", url, "--key", &self.vkey];
        args.extend_from_slice(more);
        qledger(&args, &self.state)
    }

    /// `audit URL --key V --ca-file ca.pem --full`.
    fn audit_trusting_ca(&self, url: &str) -> Out {
        self.audit(url, &["--ca-file", self.ca_file.to_str().unwrap(), "--full"])
    }

    /// Whether an audit kept a checkpoint (it does only after verifying one).
    fn kept_a_checkpoint(&self) -> bool {
        std::fs::read_dir(self.state.join("qledger/audit")).is_ok_and(|mut d| d.next().is_some())
    }
}

#[test]
fn audit_over_https_trusting_the_ca_file_follows_the_log_and_catches_a_rollback() {
    let log = TlsLog::new();
    let old_site = log.dir.join("old-site");
    qa_util::copy_dir(&log.site, &old_site);
    let server = log.serve_https("127.0.0.1");
    assert!(server.url().starts_with("https://127.0.0.1:"), "{}", server.url());
    let out = log.audit_trusting_ca(&server.url());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.text().contains("size 302") && out.text().contains("302 entries re-hashed"), "{}", out.text());

    append_more(&log.ledger, "a", 300, 500);
    ok(&log.ledger, &["checkpoint", "--key", log.key.to_str().unwrap()]);
    ok(&log.ledger, &["publish", log.site.to_str().unwrap()]);
    let out = log.audit_trusting_ca(&server.url());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.text().contains("size 802 ") && out.text().contains("consistent with size 302"), "{}", out.text());

    server.serve(&old_site);
    let out = log.audit_trusting_ca(&server.url());
    assert_fails(&out, 3, "rollback: the log shows a tree of 302 records after one of 802");
}

#[test]
fn audit_over_https_without_the_ca_file_fails_on_the_unknown_issuer() {
    let log = TlsLog::new();
    let server = log.serve_https("127.0.0.1");
    let out = log.audit(&server.url(), &["--full"]);
    assert_fails(&out, 4, "invalid peer certificate: UnknownIssuer (a log whose certificate is from your own CA: give");
    assert!(!log.kept_a_checkpoint());
    // The same server passes with the CA: the failure was the certificate's.
    assert_eq!(log.audit_trusting_ca(&server.url()).code, Some(0));
}

#[test]
fn audit_over_https_with_another_cas_file_fails_even_under_the_same_ca_name() {
    let log = TlsLog::new();
    let server = log.serve_https("127.0.0.1");
    // Another CA; and another CA's key under the log's CA's name (its signature gives it away).
    for (name, problem) in [("another test CA", "UnknownIssuer"), ("qledger test CA", "BadSignature")] {
        let other = save(&log.dir, "other-ca.pem", &test_ca(name).pem);
        let out = log.audit(&server.url(), &["--ca-file", other.to_str().unwrap()]);
        assert_fails(&out, 4, &format!("invalid peer certificate: {problem}"));
        assert!(!log.kept_a_checkpoint());
    }
}

#[test]
fn audit_over_https_of_a_certificate_for_another_host_name_fails() {
    let log = TlsLog::new();
    let server = log.serve_https("log.example.org");
    let out = log.audit_trusting_ca(&server.url());
    assert_fails(
        &out,
        4,
        r#"certificate not valid for name "127.0.0.1"; certificate is only valid for DnsName("log.example.org")"#,
    );
    assert!(!log.kept_a_checkpoint());
}

#[test]
fn a_bad_ca_file_is_bad_input_named_in_one_line() {
    let log = TlsLog::new();
    let server = log.serve_https("127.0.0.1");
    let file = |name: &str, text: &str| save(&log.dir, name, text).to_str().unwrap().to_owned();
    let limit = quotaledger::audit::client::CA_FILE_BYTES_MAX as usize;
    // The right CA after a comment that takes the file one byte past the limit.
    let padding = format!("{}\n", "#".repeat(limit - log.ca.pem.len()));
    let key_only = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let cases = [
        ("missing", log.dir.join("no-such.pem").to_str().unwrap().to_owned(), "No such file"),
        ("a directory", log.dir.to_str().unwrap().to_owned(), "directory"),
        ("too large", file("large.pem", &format!("{padding}{}", log.ca.pem)), "larger than 1048576 bytes"),
        ("empty", file("empty.pem", ""), "no PEM certificate"),
        ("a verifier key", file("v.pem", &log.vkey), "no PEM certificate"),
        ("a private key only", file("key.pem", &key_only), "no PEM certificate"),
        (
            "not base64",
            file("b64.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            "not PEM: a section is not base64",
        ),
        ("unterminated", file("cut.pem", &log.ca.pem[..log.ca.pem.len() / 2]), "not PEM: a section has no END line"),
        (
            "not X.509",
            file("junk.pem", "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"),
            "certificate 1 is not a usable X.509 certificate: BadEncoding",
        ),
    ];
    for (what, path, problem) in &cases {
        let out = log.audit(&server.url(), &["--ca-file", path]);
        assert!(out.stderr.contains(&format!("--ca-file {path}: ")), "{what}: {}", out.stderr);
        assert_fails(&out, 1, problem);
    }
    // One byte less and the same file is trusted: the limit, not the content, refused it.
    let at_limit = file("limit.pem", &format!("{}{}", &padding[1..], log.ca.pem));
    assert_eq!(std::fs::metadata(&at_limit).unwrap().len(), limit as u64);
    let out = log.audit(&server.url(), &["--ca-file", &at_limit]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // A CA file for a source that is not https: the user thinks TLS is checked; it is not.
    let plain = Server::start(&log.site);
    let ca = log.ca_file.to_str().unwrap();
    for source in [plain.url(), log.site.to_str().unwrap().to_owned()] {
        let out = log.audit(&source, &["--ca-file", ca]);
        assert_fails(&out, 1, "--ca-file is for an https:// SOURCE");
    }
}

#[test]
fn audit_follows_no_redirect_so_https_is_never_downgraded_to_http() {
    let log = TlsLog::new();
    let tls = tls_config(&log.ca, "127.0.0.1");
    // Each target serves the honest log: following the redirect would pass the audit.
    let plain = Server::start(&log.site);
    let other_https = Server::start_tls(&log.site, tls.clone());
    assert_eq!(log.audit(&plain.url(), &[]).code, Some(0));
    assert_eq!(log.audit_trusting_ca(&other_https.url()).code, Some(0));
    let server = Server::start_tls(&log.site, tls);
    for target in [&plain, &other_https] {
        server.redirect_to(target.url().trim_end_matches("/log"));
        let out = log.audit_trusting_ca(&server.url());
        assert_fails(
            &out,
            4,
            &format!("HTTP 301 redirect to {}/checkpoint refused: audit follows no redirect", target.url()),
        );
    }
}

#[test]
fn verify_catches_a_tampered_tree_or_checkpoint_and_a_lagging_tree_is_caught_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, _) = keygen(dir, "example.org/tamper", "k.key");
    let ledger = ledger_with(dir, "a", "a", 40, &key);
    ok(&ledger, &["verify"]);
    let good = dir.join("good");
    qa_util::copy_dir(&ledger, &good);

    // 40 records: no tile is complete, so the tree is all in the manifest's right edge.
    assert_eq!(std::fs::metadata(ledger.join("tree/hashes")).unwrap().len(), 0);
    let manifest = ledger.join("tree/MANIFEST");
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[100] ^= 1;
    write(&manifest, &bytes);
    let out = run(&ledger, &["verify"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    out.assert_one_line_error("tampered tree");

    let cp_dir = good.join("checkpoints");
    let cp = std::fs::read_dir(&cp_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "checkpoint"));
    let cp = cp.unwrap();
    let text = std::fs::read_to_string(&cp).unwrap().replacen("\n42\n", "\n41\n", 1);
    let mut perms = std::fs::metadata(&cp).unwrap().permissions();
    perms.set_mode(0o600);
    std::fs::set_permissions(&cp, perms).unwrap();
    write(&cp, text);
    let out = run(&good, &["verify"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("checkpoint of size 42"), "{}", out.stderr);

    // A ledger larger than one batch of the threaded tree check: a node flipped near its end.
    let big = ledger_with(dir, "big", "g", 9_000, &key);
    ok(&big, &["verify"]);
    let hashes = big.join("tree/hashes");
    let mut bytes = std::fs::read(&hashes).unwrap();
    let at = bytes.len() - 1000;
    bytes[at] ^= 1;
    write(&hashes, &bytes);
    let out = run(&big, &["verify"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("Merkle tree"), "{}", out.stderr);

    // A crash after the commit point, before the tree was published: the next writer catches
    // the tree up from the chain.
    let lag = dir.join("lag");
    let input = dir.join("lag.jsonl");
    write(&input, format!("{}{}", preamble("p", "L"), orders("c", "L", 0, 10, 0)));
    let mut c = qa_util::command(&lag, &["append", "--create", input.to_str().unwrap()]);
    c.env("QLEDGER_FAULT_AT", "snapshots-written");
    let out = run_cmd(c, None, TIMEOUT, "append killed");
    assert_ne!(out.code, Some(0));
    let tree_size = std::fs::read(lag.join("tree/MANIFEST")).map(|b| b[16]).unwrap_or(0);
    assert_eq!(tree_size, 0, "the tree was not published before the crash");
    ok(&lag, &["checkpoint", "--key", key.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&ok(&lag, &["verify", "--json"])).unwrap();
    assert_eq!((v["tree_leaves"].as_u64(), v["checkpoints"].as_u64()), (Some(12), Some(1)));
    // A deleted tree is rebuilt by the next writer, and reindex rebuilds it too.
    std::fs::remove_dir_all(lag.join("tree")).unwrap();
    ok(&lag, &["reindex"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&lag, &["verify", "--json"])).unwrap();
    assert_eq!(v["tree_leaves"].as_u64(), Some(12));
}

#[test]
fn a_proof_whose_tile_spans_two_segments_reads_records_from_both() {
    // Nodes below level 8 are recomputed from their tile's records (tree format 2); a tile
    // whose records lie in two segment files is read across the file boundary.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, vkey) = keygen(dir, "example.org/split", "k.key");
    let ledger = ledger_with(dir, "a", "a", 1500, &key);
    let spans = qa_util::segments::Segments::read(&ledger).block_spans();
    let b = spans.iter().map(|s| s.0).find(|&b| b % 256 != 0).expect("a block starting inside a tile");
    let mut segs = qa_util::segments::Segments::read(&ledger);
    segs.split(b);
    segs.write(qa_util::segments::Fix::NOTHING);
    qa_util::segments::commit_to(&ledger, &segs);
    assert!(qa_util::segments::segment_path(&ledger, b).exists(), "record {b} starts a segment");
    for seq in [b - (b % 256), b - 1, b, (b | 255).min(1501)] {
        let p = save(dir, "p.json", &ok(&ledger, &["prove", "--seq", &seq.to_string()]));
        let out = check(&p, &vkey, dir);
        assert_eq!(out.code, Some(0), "seq {seq}: {}", out.stderr);
        assert!(out.text().contains(&format!("record {seq} is in the tree")), "{}", out.text());
    }
    ok(&ledger, &["verify"]);
}
