//! Helpers shared by the crash, tamper, hostile-input, decoder and concurrency suites: running
//! `qledger` with a timeout, generating valid events, a seeded xorshift, soak-mode switches;
//! and, in `segments`, an insider's tools for the tamper suites (segment files, HEAD, index runs,
//! snapshots, edited and written back).
#![allow(dead_code)]

pub mod segments;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Default timeout for one `qledger` call.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the long (soak) mode was asked for with `QLEDGER_SOAK=1`.
pub fn soak_env() -> bool {
    std::env::var("QLEDGER_SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The seed: `QLEDGER_SEED` if set (to replay a failure), else one from the clock. Printed.
pub fn seed(suite: &str) -> u64 {
    let seed = match std::env::var("QLEDGER_SEED") {
        Ok(s) => s.parse().unwrap_or_else(|_| panic!("QLEDGER_SEED={s:?} is not a u64")),
        Err(_) => {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            (t.as_nanos() as u64) ^ u64::from(std::process::id()).rotate_left(32)
        }
    };
    eprintln!("{suite}: seed {seed} (replay with QLEDGER_SEED={seed})");
    seed
}

/// A tiny seeded xorshift64* generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// The `qledger` binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qledger"))
}

/// What one `qledger` call did.
#[derive(Debug)]
pub struct Out {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Out {
    /// Stdout as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts that stderr is exactly one line, with no panic or backtrace text.
    pub fn assert_one_line_error(&self, what: &str) {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: stderr must be exactly one line, got {:?}", self.stderr);
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{what}: panic text in stderr: {:?}",
            self.stderr
        );
        assert!(self.stderr.starts_with("qledger: "), "{what}: stderr {:?}", self.stderr);
    }
}

/// A `qledger` command on `ledger` with `args`, waiting up to 60 s for a ledger another test
/// thread is using (the ledger flag comes first; the env var is cleared so a developer's
/// `QLEDGER_LEDGER` cannot leak in).
pub fn command(ledger: &Path, args: &[&str]) -> Command {
    let mut c = command_nowait(ledger, &["--wait", "60"]);
    c.args(args);
    c
}

/// Like [`command`], without `--wait`: a busy ledger fails at once.
pub fn command_nowait(ledger: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--ledger").arg(ledger).args(args);
    c.env_remove("QLEDGER_LEDGER").env_remove("QLEDGER_FAULT_AT").env("USER", "tester").env_remove("RUST_BACKTRACE");
    c
}

/// Waits for `child` until `timeout`, killing it and panicking on expiry.
pub fn wait_timeout(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: no exit within {timeout:?} (hang?)");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs a prepared command to completion with `stdin` and a timeout.
pub fn run_cmd(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration, what: &str) -> Out {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn qledger");
    let feeder = stdin.map(|bytes| {
        let bytes = bytes.to_vec();
        let mut pipe = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = wait_timeout(&mut child, timeout, what);
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let stdout = t_out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Out { code: status.code(), stdout, stderr }
}

/// Runs `qledger --ledger LEDGER --wait 60 ARGS...`.
pub fn run(ledger: &Path, args: &[&str]) -> Out {
    run_cmd(command(ledger, args), None, TIMEOUT, &format!("qledger {args:?}"))
}

/// Runs `qledger --ledger LEDGER ARGS...` (no `--wait`).
pub fn run_nowait(ledger: &Path, args: &[&str]) -> Out {
    run_cmd(command_nowait(ledger, args), None, TIMEOUT, &format!("qledger {args:?}"))
}

/// The first 200 characters of `bytes`, lossily, for messages.
pub fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

/// Runs and asserts exit 0; returns stdout as text.
pub fn ok(ledger: &Path, args: &[&str]) -> String {
    let out = run(ledger, args);
    assert_eq!(out.code, Some(0), "qledger {args:?} failed: {}", out.stderr);
    out.text()
}

/// `head --json` as JSON.
pub fn head_json(ledger: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(ledger, &["head", "--json"])).expect("head --json is JSON")
}

/// Record count from `head --json`.
pub fn records(ledger: &Path) -> u64 {
    head_json(ledger)["records"].as_u64().expect("records")
}

/// Head hash from `head --json`.
pub fn head_hash(ledger: &Path) -> String {
    head_json(ledger)["hash"].as_str().expect("hash").to_string()
}

/// `export` bytes.
pub fn export(ledger: &Path) -> Vec<u8> {
    let out = run(ledger, &["export"]);
    assert_eq!(out.code, Some(0), "export failed: {}", out.stderr);
    out.stdout
}

/// Writes `text` to `path`.
pub fn write(path: &Path, text: impl AsRef<[u8]>) {
    std::fs::write(path, text).expect("write file");
}

/// A party and a license with a huge quota (valid 2026-01-01..2030-12-31), at 2026-01-10.
pub fn preamble(party: &str, license: &str) -> String {
    format!(
        concat!(
            r#"{{"type":"party_registered","at":"2026-01-10T00:00:00Z","party":"{p}","name":"Party {p}","country":"CN","state_backed":false,"sector":"internet","key":"reg-{p}"}}"#,
            "\n",
            r#"{{"type":"license_granted","at":"2026-01-10T00:00:01Z","license":"{l}","authority":"CN-MOFCOM","licensee":"{p}","product":"H200","quantity":1000000000,"valid_from":"2026-01-01","valid_until":"2030-12-31","key":"grant-{l}"}}"#,
            "\n"
        ),
        p = party,
        l = license
    )
}

/// Seconds since 2026-02-01T00:00:00Z as an RFC 3339 time (stays inside 2026..2030 for any
/// `secs` below 10^8).
pub fn at(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // 2026-02-01 plus `days`, computed with the civil-from-days algorithm.
    let base = 20_485u64; // days from 1970-01-01 to 2026-02-01
    let z = (base + days) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// One `order_placed` line: order `O-{id}` on `license`, 1 unit, key `k-{id}`, at `at(t)`.
pub fn order_line(id: &str, license: &str, t: u64) -> String {
    format!(
        r#"{{"type":"order_placed","at":"{}","order":"O-{id}","license":"{license}","quantity":1,"domestic_quantity":1,"supplier":"nvidia","key":"k-{id}"}}"#,
        at(t)
    )
}

/// `n` order lines `O-{prefix}{i}` for `i` in `from..from+n`, at times `t0 + i`.
pub fn orders(prefix: &str, license: &str, from: u64, n: u64, t0: u64) -> String {
    let mut s = String::with_capacity(n as usize * 200);
    for i in from..from + n {
        s.push_str(&order_line(&format!("{prefix}{i}"), license, t0 + i));
        s.push('\n');
    }
    s
}

/// A fresh ledger path inside a temp dir.
pub fn ledger_in(dir: &Path) -> PathBuf {
    dir.join("ledger")
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let ty = entry.file_type().expect("file type");
        let dst = to.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).expect("copy");
        }
    }
}

/// Every regular file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let ty = entry.file_type().expect("type");
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// What a file or directory looks like: enough to see any write, chmod, create or remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Mode bits.
    pub mode: u32,
    /// Modification time (s, ns).
    pub mtime: (i64, i64),
    /// Status change time (s, ns).
    pub ctime: (i64, i64),
    /// Contents (empty for a directory).
    pub bytes: Vec<u8>,
}

/// Every file and directory under `dir` (itself included), with its [`Stat`]. A directory's
/// mtime changes when an entry is created or removed in it, even one removed again.
pub fn tree_state(dir: &Path) -> BTreeMap<PathBuf, Stat> {
    use std::os::unix::fs::MetadataExt;
    let stat = |p: &Path, bytes: Vec<u8>| {
        let m = std::fs::symlink_metadata(p).expect("stat");
        Stat {
            size: m.size(),
            mode: m.mode(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            bytes,
        }
    };
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        out.insert(d.clone(), stat(&d, Vec::new()));
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let path = e.expect("entry").path();
            if std::fs::symlink_metadata(&path).expect("stat").is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.insert(path.clone(), stat(&path, bytes));
            }
        }
    }
    out
}

/// The paths that differ between two [`tree_state`]s, and how (empty if none).
pub fn tree_diff(before: &BTreeMap<PathBuf, Stat>, after: &BTreeMap<PathBuf, Stat>) -> Vec<String> {
    let mut out = Vec::new();
    for (p, a) in before {
        match after.get(p) {
            None => out.push(format!("removed {}", p.display())),
            Some(b) if b != a => {
                let what = if a.bytes != b.bytes {
                    "contents"
                } else if a.size != b.size {
                    "size"
                } else if a.mode != b.mode {
                    "mode"
                } else if a.mtime != b.mtime {
                    "mtime"
                } else {
                    "ctime"
                };
                out.push(format!("changed {} ({what})", p.display()));
            }
            Some(_) => {}
        }
    }
    for p in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("created {}", p.display()));
    }
    out
}
