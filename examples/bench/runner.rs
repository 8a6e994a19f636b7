//! Child processes, timed, with their peak RSS; and the file helpers of the benchmark.

use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Res;

pub const TIME_BIN: &str = "/usr/bin/time";

pub struct Run {
    pub secs: f64,
    pub rss_kib: Option<u64>,
    /// User + system CPU seconds (with `/usr/bin/time` only).
    pub cpu_secs: Option<f64>,
    pub stdout: String,
}

impl Run {
    pub fn rss_mib(&self) -> Option<f64> {
        self.rss_kib.map(|k| k as f64 / 1024.0)
    }

    /// CPU seconds per wall second: how many cores the process kept busy.
    pub fn cores(&self) -> Option<f64> {
        self.cpu_secs.map(|c| c / self.secs)
    }
}

/// Runs `prog args`, stdout to `out` (or a log file that is read back), stderr to a log file.
/// Fails loudly, with the child's stderr, when the child fails.
pub struct Runner {
    pub logs: PathBuf,
    pub use_time_bin: bool,
    pub counter: usize,
}

impl Runner {
    pub fn run(&mut self, label: &str, prog: &Path, args: &[&OsStr], rss: bool, out: Option<&Path>) -> Res<Run> {
        self.counter += 1;
        let stem = format!("{:02}-{}", self.counter, label.replace([' ', '/'], "_"));
        let out_path = out.map(Path::to_path_buf).unwrap_or_else(|| self.logs.join(format!("{stem}.out")));
        let err_path = self.logs.join(format!("{stem}.err"));
        let time_path = self.logs.join(format!("{stem}.time"));
        let mut cmd;
        if rss && self.use_time_bin {
            cmd = Command::new(TIME_BIN);
            cmd.arg("-f").arg("rss_kib=%M user=%U sys=%S").arg("-o").arg(&time_path).arg(prog).args(args);
        } else {
            cmd = Command::new(prog);
            cmd.args(args);
        }
        cmd.stdin(Stdio::null()).stdout(File::create(&out_path)?).stderr(File::create(&err_path)?);
        let t0 = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("{label}: cannot start {}: {e}", prog.display()))?;
        let mut polled_kib = None;
        let status = if rss && !self.use_time_bin {
            let status_file = format!("/proc/{}/status", child.id());
            loop {
                if let Some(st) = child.try_wait()? {
                    break st;
                }
                if let Some(k) = fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm_kib) {
                    polled_kib = Some(polled_kib.map_or(k, |p: u64| p.max(k)));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            child.wait()?
        };
        let secs = t0.elapsed().as_secs_f64();
        if !status.success() {
            let err = fs::read_to_string(&err_path).unwrap_or_default();
            let shown: String = args.iter().map(|a| format!(" {}", a.to_string_lossy())).collect();
            return Err(format!("{label} failed ({status}): {}{shown}\n{err}", prog.display()).into());
        }
        let (rss_kib, cpu_secs) = if !rss {
            (None, None)
        } else if self.use_time_bin {
            // /usr/bin/time writes "Command exited with non-zero status" lines before ours.
            let t = fs::read_to_string(&time_path)?;
            let kv = kv_line(&t, "rss_kib=").map_err(|e| format!("{label}: {e}"))?;
            (Some(num(&kv, "rss_kib")? as u64), Some(num(&kv, "user")? + num(&kv, "sys")?))
        } else {
            (polled_kib, None)
        };
        let stdout = if out.is_some() { String::new() } else { fs::read_to_string(&out_path)? };
        let rss_note = rss_kib.map(|k| format!(", peak RSS {:.1} MiB", k as f64 / 1024.0)).unwrap_or_default();
        eprintln!("  {label}: {secs:.3} s{rss_note}");
        Ok(Run { secs, rss_kib, cpu_secs, stdout })
    }
}

pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `key=value` pairs of the first line starting with `prefix`.
pub fn kv_line(text: &str, prefix: &str) -> Res<BTreeMap<String, String>> {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .ok_or_else(|| format!("no line starting with {prefix:?} in output:\n{text}"))?;
    Ok(line.split_whitespace().filter_map(|t| t.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

pub fn num(map: &BTreeMap<String, String>, key: &str) -> Res<f64> {
    let v = map.get(key).ok_or_else(|| format!("no {key}= in {map:?}"))?;
    Ok(v.parse()?)
}

pub fn peer_rate(run: &Run, op: &str) -> Res<f64> {
    num(&kv_line(&run.stdout, &format!("{op}:"))?, "events_per_s")
}

/// Sum of file sizes (apparent) and of allocated bytes under `dir`.
pub fn disk_bytes(dir: &Path) -> Res<(u64, u64)> {
    let (mut len, mut alloc) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let md = entry.metadata()?;
            if md.is_dir() {
                stack.push(entry.path());
            } else {
                len += md.len();
                alloc += md.blocks() * 512;
            }
        }
    }
    Ok((len, alloc))
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

pub fn cargo_build(label: &str, args: &[&OsStr]) -> Res<()> {
    eprintln!("building {label} ...");
    let t0 = Instant::now();
    let status = Command::new(cargo()).args(args).stdin(Stdio::null()).status()?;
    if !status.success() {
        return Err(format!("building {label} failed ({status})").into());
    }
    eprintln!("  built {label} in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// The `at` of the file's last line, moved half a second later (so an event stamped with it is
/// later than everything in the file).
pub fn later_than_last_at(file: &Path) -> Res<String> {
    let mut f = File::open(file)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = String::new();
    f.read_to_string(&mut tail)?;
    let last = tail.lines().rev().find(|l| !l.trim().is_empty()).ok_or("empty events file")?;
    let v: Value = serde_json::from_str(last)?;
    let at = v.get("at").and_then(Value::as_str).ok_or("the last event has no \"at\"")?;
    match at.strip_suffix('Z') {
        Some(base) if !base.contains('.') => Ok(format!("{base}.5Z")),
        _ => Ok(at.to_string()),
    }
}

pub fn split_file(file: &Path, k: u64, out_dir: &Path) -> Res<Vec<PathBuf>> {
    fresh_dir(out_dir)?;
    let reader = BufReader::with_capacity(1 << 20, File::open(file)?);
    let mut parts = Vec::new();
    let mut w: Option<BufWriter<File>> = None;
    let mut in_part = 0u64;
    for line in reader.split(b'\n') {
        let line = line?;
        if w.is_none() || in_part == k {
            if let Some(mut old) = w.take() {
                old.flush()?;
            }
            let p = out_dir.join(format!("part-{:04}.jsonl", parts.len()));
            w = Some(BufWriter::with_capacity(1 << 20, File::create(&p)?));
            parts.push(p);
            in_part = 0;
        }
        let out = w.as_mut().ok_or("no part open")?;
        out.write_all(&line)?;
        out.write_all(b"\n")?;
        in_part += 1;
    }
    if let Some(mut old) = w.take() {
        old.flush()?;
    }
    Ok(parts)
}

pub fn fresh_dir(d: &Path) -> Res<()> {
    if d.exists() {
        fs::remove_dir_all(d)?;
    }
    fs::create_dir_all(d)?;
    Ok(())
}
