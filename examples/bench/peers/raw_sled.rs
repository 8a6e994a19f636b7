//! raw-sled, the floor of the store the ledger used when the benchmark was written (sled
//! 0.34.7: no encoding, no rules, no index). Ported from the stand-alone peer the benchmark used
//! before it moved into the repository; its `hashbench` and `fsyncbench` commands were not
//! ported (the benchmark never ran them).
//!
//! ```text
//! bench raw-sled load DIR FILE         each JSONL line as the value under its u64 big-endian seq
//!                                      key (seq from 1), one `apply_batch` per 10,000, then one
//!                                      `flush()`
//! bench raw-sled load-insert DIR FILE  the same with one `insert` per line instead of batches
//! bench raw-sled scan DIR              iterate all values in key order and BLAKE3-chain them
//!                                      (`blake3(prev || seq_le_u64 || value)`, the chain of
//!                                      sqlite-chain, so both print the same head)
//! ```
//!
//! Each prints one `OP: ... events_per_s=R` line, which the benchmark reads.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::time::Instant;

const BATCH: u64 = 10_000;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn trim_eol(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

/// Loads FILE into the sled store at DIR; returns the `load:` (or `load-insert:`) line.
pub fn load(dir: &str, file: &str, batched: bool) -> Res<String> {
    let t0 = Instant::now();
    let db = sled::open(dir)?;
    let mut seq: u64 = match db.last()? {
        Some((k, _)) => u64::from_be_bytes(k.as_ref().try_into()?),
        None => 0,
    };
    let first = seq;
    let mut reader = BufReader::with_capacity(1 << 20, File::open(file)?);
    let mut buf = Vec::with_capacity(4096);
    let mut batch = sled::Batch::default();
    let mut in_batch = 0u64;
    let mut batches = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = trim_eol(&buf);
        if line.is_empty() {
            continue;
        }
        seq += 1;
        if !batched {
            db.insert(seq.to_be_bytes(), line)?;
            continue;
        }
        batch.insert(&seq.to_be_bytes()[..], line);
        in_batch += 1;
        if in_batch == BATCH {
            db.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
            batches += 1;
        }
    }
    if in_batch > 0 {
        db.apply_batch(batch)?;
        batches += 1;
    }
    let t_applied = t0.elapsed().as_secs_f64();
    let flushed = db.flush()?;
    let t_flushed = t0.elapsed().as_secs_f64();
    drop(db);
    let secs = t0.elapsed().as_secs_f64();
    let n = seq - first;
    Ok(format!(
        "{}: events={n} secs={secs:.3} events_per_s={:.0} batches={batches} secs_applied={t_applied:.3} secs_flushed={t_flushed:.3} flush_bytes={flushed}",
        if batched { "load" } else { "load-insert" },
        n as f64 / secs
    ))
}

/// Reads every value of the store at DIR in key order and chains them; returns the `scan:` line.
pub fn scan(dir: &str) -> Res<String> {
    let t0 = Instant::now();
    let db = sled::open(dir)?;
    let t_open = t0.elapsed().as_secs_f64();
    let mut prev = [0u8; 32];
    let mut expect: u64 = 1;
    let mut bytes: u64 = 0;
    for kv in db.iter() {
        let (k, v) = kv?;
        let seq = u64::from_be_bytes(k.as_ref().try_into()?);
        if seq != expect {
            return Err(format!("expected seq {expect}, found {seq}").into());
        }
        let mut h = blake3::Hasher::new();
        h.update(&prev);
        h.update(&seq.to_le_bytes());
        h.update(&v);
        prev = *h.finalize().as_bytes();
        bytes += v.len() as u64;
        expect += 1;
    }
    let n = expect - 1;
    let secs = t0.elapsed().as_secs_f64();
    Ok(format!(
        "scan: events={n} secs={secs:.3} events_per_s={:.0} secs_open={t_open:.3} value_bytes={bytes} head={}",
        n as f64 / secs,
        hex(&prev)
    ))
}

/// `bench raw-sled ARGS...`.
pub fn command(args: &[String]) -> Res<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match args.as_slice() {
        ["load", dir, file] => load(dir, file, true)?,
        ["load-insert", dir, file] => load(dir, file, false)?,
        ["scan", dir] => scan(dir)?,
        _ => return Err("usage: bench raw-sled load DIR FILE | load-insert DIR FILE | scan DIR".into()),
    };
    println!("{out}");
    Ok(())
}
