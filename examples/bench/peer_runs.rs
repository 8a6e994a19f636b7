//! The peers' side of the benchmark: `bench sqlite-chain ...` and `bench raw-sled ...` run as
//! child processes of this same binary, each timed and measured on its own.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use crate::runner::{disk_bytes, fresh_dir, kv_line, peer_rate, Run, Runner};
use crate::Res;

#[derive(Default)]
pub struct Peers {
    pub sq_load: Option<f64>,
    pub sq_verify: Option<f64>,
    pub sq_replay: Option<f64>,
    pub sq_load_rss: Option<f64>,
    pub sq_verify_rss: Option<f64>,
    pub sq_replay_rss: Option<f64>,
    pub sq_disk: Option<f64>,
    pub sq_load_cores: Option<f64>,
    pub sq_verify_cores: Option<f64>,
    pub sq_totals: Option<BTreeMap<String, String>>,
    /// The chain head printed by `load` and recomputed by `verify` (they must agree).
    pub sq_heads: Option<(String, String)>,
    pub raw_load_cores: Option<f64>,
    pub raw_scan_cores: Option<f64>,
    pub raw_load: Option<f64>,
    pub raw_insert: Option<f64>,
    pub raw_scan: Option<f64>,
    pub raw_load_rss: Option<f64>,
    pub raw_insert_rss: Option<f64>,
    pub raw_scan_rss: Option<f64>,
    pub raw_disk: Option<f64>,
    pub raw_insert_disk: Option<f64>,
    /// The chain head of `raw-sled scan` (the same chain as sqlite-chain's).
    pub raw_head: Option<String>,
}

/// Which peers run.
pub struct PeerChoice {
    pub sqlite: bool,
    pub raw_sled: bool,
}

fn head_of(run: &Run, op: &str) -> Res<String> {
    let kv = kv_line(&run.stdout, &format!("{op}:"))?;
    kv.get("head").cloned().ok_or_else(|| format!("{op}: no head= in the peer's output").into())
}

pub fn run_peers(r: &mut Runner, exe: &Path, dir: &Path, events: &Path, n: f64, choice: &PeerChoice) -> Res<Peers> {
    let mut p = Peers::default();
    if choice.sqlite {
        run_sqlite(r, exe, dir, events, n, &mut p)?;
    }
    if choice.raw_sled {
        run_raw_sled(r, exe, dir, events, n, &mut p)?;
    }
    Ok(p)
}

fn run_sqlite(r: &mut Runner, exe: &Path, dir: &Path, events: &Path, n: f64, p: &mut Peers) -> Res<()> {
    eprintln!("sqlite-chain:");
    let sq_dir = dir.join("sqlite-chain");
    fresh_dir(&sq_dir)?;
    let db = sq_dir.join("chain.db");
    let peer = |op: &'static str| -> [&OsStr; 3] { ["sqlite-chain".as_ref(), op.as_ref(), db.as_os_str()] };
    let load_args = [peer("load").as_slice(), &[events.as_os_str()]].concat();
    let run = r.run("sqlite-chain load", exe, &load_args, true, None)?;
    let load_head = head_of(&run, "load")?;
    p.sq_load = Some(peer_rate(&run, "load")?);
    p.sq_load_rss = run.rss_mib();
    p.sq_load_cores = run.cores();
    p.sq_disk = Some(disk_bytes(&sq_dir)?.0 as f64 / n);
    let run = r.run("sqlite-chain verify", exe, &peer("verify"), true, None)?;
    p.sq_heads = Some((load_head, head_of(&run, "verify")?));
    p.sq_verify = Some(peer_rate(&run, "verify")?);
    p.sq_verify_rss = run.rss_mib();
    p.sq_verify_cores = run.cores();
    let run = r.run("sqlite-chain replay", exe, &peer("replay"), true, None)?;
    p.sq_replay = Some(peer_rate(&run, "replay")?);
    p.sq_replay_rss = run.rss_mib();
    p.sq_totals = kv_line(&run.stdout, "totals:").ok();
    fs::remove_dir_all(&sq_dir)?;
    Ok(())
}

fn run_raw_sled(r: &mut Runner, exe: &Path, dir: &Path, events: &Path, n: f64, p: &mut Peers) -> Res<()> {
    eprintln!("raw-sled:");
    let batch_dir = dir.join("raw-sled-batch");
    let insert_dir = dir.join("raw-sled-insert");
    fresh_dir(&batch_dir)?;
    fresh_dir(&insert_dir)?;
    let raw = |op: &'static str, store: &Path| -> Vec<std::ffi::OsString> {
        let mut v = vec!["raw-sled".into(), op.into(), store.as_os_str().to_os_string()];
        if op.starts_with("load") {
            v.push(events.as_os_str().to_os_string());
        }
        v
    };
    let run = r.run("raw-sled load", exe, &os_refs(&raw("load", &batch_dir)), true, None)?;
    p.raw_load = Some(peer_rate(&run, "load")?);
    p.raw_load_rss = run.rss_mib();
    p.raw_load_cores = run.cores();
    p.raw_disk = Some(disk_bytes(&batch_dir)?.0 as f64 / n);
    let run = r.run("raw-sled load-insert", exe, &os_refs(&raw("load-insert", &insert_dir)), true, None)?;
    p.raw_insert = Some(peer_rate(&run, "load-insert")?);
    p.raw_insert_rss = run.rss_mib();
    p.raw_insert_disk = Some(disk_bytes(&insert_dir)?.0 as f64 / n);
    fs::remove_dir_all(&insert_dir)?;
    let run = r.run("raw-sled scan", exe, &os_refs(&raw("scan", &batch_dir)), true, None)?;
    p.raw_scan = Some(peer_rate(&run, "scan")?);
    p.raw_scan_rss = run.rss_mib();
    p.raw_scan_cores = run.cores();
    p.raw_head = Some(head_of(&run, "scan")?);
    fs::remove_dir_all(&batch_dir)?;
    Ok(())
}

fn os_refs(v: &[std::ffi::OsString]) -> Vec<&OsStr> {
    v.iter().map(|s| s.as_os_str()).collect()
}
