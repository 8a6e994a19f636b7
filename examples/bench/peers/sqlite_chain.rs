//! sqlite-chain, the SQLite peer of the benchmark: the hash-chained JSONL audit ledger "a
//! careful engineer would build instead with SQLite". It checks no business rule, so it is a
//! lower bound on that approach's cost. Ported from the stand-alone peer the benchmark used
//! before it moved into the repository (same rusqlite line, same schema, pragmas, batching,
//! hash and output lines).
//!
//! Record hash: `blake3(prev_hash || seq as u64 little-endian || line bytes)`, seq starting at 1,
//! prev_hash of the first record = 32 zero bytes. Table
//! `events(seq INTEGER PRIMARY KEY, prev_hash BLOB, hash BLOB, body TEXT)`, WAL, synchronous=FULL.
//!
//! ```text
//! bench sqlite-chain load DB FILE               append FILE's JSONL lines, one transaction per 10,000
//! bench sqlite-chain verify DB                  recompute the chain in seq order
//! bench sqlite-chain replay DB [--per-license]  fold events into per-license quota totals
//! ```
//!
//! Each prints one `OP: events=N secs=S events_per_s=R ...` line, which the benchmark reads.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::time::Instant;

use rusqlite::{params, Connection, OpenFlags};
use serde::Deserialize;

const BATCH: u64 = 10_000;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The fields of an event that the replay needs; everything else is skipped (but still parsed,
/// so a malformed line is rejected by `load`).
#[derive(Deserialize)]
struct Ev<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow, default)]
    license: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    order: Option<Cow<'a, str>>,
    #[serde(default)]
    quantity: Option<u64>,
}

fn record_hash(prev: &[u8; 32], seq: u64, body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&seq.to_le_bytes());
    h.update(body);
    *h.finalize().as_bytes()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn open_rw(db: &str) -> Res<Connection> {
    let conn = Connection::open(db)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal_mode is {mode}, not wal").into());
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events(
             seq INTEGER PRIMARY KEY,
             prev_hash BLOB NOT NULL,
             hash BLOB NOT NULL,
             body TEXT NOT NULL)",
    )?;
    Ok(conn)
}

fn open_ro(db: &str) -> Res<Connection> {
    Ok(Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?)
}

fn trim_eol(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

/// The last seq and hash of an existing chain, or (0, zeros) for an empty one.
fn chain_tail(conn: &Connection) -> Res<(u64, [u8; 32])> {
    match conn.query_row("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
    }) {
        Ok((s, h)) => Ok((s as u64, h.as_slice().try_into()?)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok((0, [0u8; 32])),
        Err(e) => Err(e.into()),
    }
}

/// Reads the input and extends the chain, one transaction at a time.
struct Loader<'a> {
    file: &'a str,
    reader: BufReader<File>,
    buf: Vec<u8>,
    lineno: u64,
    seq: u64,
    prev: [u8; 32],
}

impl Loader<'_> {
    /// Inserts up to `BATCH` events in one transaction; returns false at the end of the input.
    fn batch(&mut self, conn: &mut Connection) -> Res<bool> {
        let tx = conn.transaction()?;
        let mut more = true;
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO events(seq, prev_hash, hash, body) VALUES (?1, ?2, ?3, ?4)")?;
            let mut n = 0;
            while n < BATCH {
                self.buf.clear();
                if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                    more = false;
                    break;
                }
                self.lineno += 1;
                let line = trim_eol(&self.buf);
                if line.is_empty() {
                    continue;
                }
                let ev: Ev = serde_json::from_slice(line)
                    .map_err(|e| format!("{}:{}: not a JSON event: {e}", self.file, self.lineno))?;
                if ev.ty.is_empty() {
                    return Err(format!("{}:{}: empty type", self.file, self.lineno).into());
                }
                let body = std::str::from_utf8(line)?;
                self.seq += 1;
                let h = record_hash(&self.prev, self.seq, line);
                stmt.execute(params![self.seq as i64, &self.prev[..], &h[..], body])?;
                self.prev = h;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(more)
    }
}

/// Loads FILE into DB; returns the `load:` line.
pub fn load(db: &str, file: &str) -> Res<String> {
    let t0 = Instant::now();
    let mut conn = open_rw(db)?;
    // continue an existing chain
    let (seq, prev) = chain_tail(&conn)?;
    let first = seq;
    let reader = BufReader::with_capacity(1 << 20, File::open(file)?);
    let mut loader = Loader { file, reader, buf: Vec::with_capacity(4096), lineno: 0, seq, prev };
    let mut commits = 1u64;
    while loader.batch(&mut conn)? {
        commits += 1;
    }
    let t_commit = t0.elapsed().as_secs_f64();
    conn.close().map_err(|(_, e)| e)?; // checkpoints the WAL into the database file
    let secs = t0.elapsed().as_secs_f64();
    let n = loader.seq - first;
    Ok(format!(
        "load: events={n} secs={secs:.3} events_per_s={:.0} commits={commits} secs_to_last_commit={t_commit:.3} head={} sqlite={}",
        n as f64 / secs,
        hex(&loader.prev),
        rusqlite::version()
    ))
}

/// Recomputes the chain of DB; returns the `verify:` line.
pub fn verify(db: &str) -> Res<String> {
    let t0 = Instant::now();
    let conn = open_ro(db)?;
    let mut stmt = conn.prepare("SELECT seq, prev_hash, hash, body FROM events ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut prev = [0u8; 32];
    let mut expect: u64 = 1;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)? as u64;
        let p = row.get_ref(1)?.as_blob()?;
        let h = row.get_ref(2)?.as_blob()?;
        let body = row.get_ref(3)?.as_bytes()?;
        if seq != expect {
            return Err(format!("chain broken: expected seq {expect}, found {seq}").into());
        }
        if p != prev {
            return Err(format!("chain broken at seq {seq}: prev_hash mismatch").into());
        }
        let want = record_hash(&prev, seq, body);
        if h != want {
            return Err(format!("chain broken at seq {seq}: hash mismatch").into());
        }
        prev = want;
        expect += 1;
    }
    let n = expect - 1;
    let secs = t0.elapsed().as_secs_f64();
    Ok(format!("verify: events={n} secs={secs:.3} events_per_s={:.0} head={}", n as f64 / secs, hex(&prev)))
}

#[derive(Default, Clone)]
struct LicTotals {
    quantity: u64,
    ordered: u64,
    returned: u64,
    shipped: u64,
}

struct OrderState {
    lic: u32,
    quantity: u64,
    shipped: u64,
    cancelled: bool,
}

/// The per-license totals folded from the events so far.
#[derive(Default)]
struct Replay {
    lic_ix: HashMap<String, u32>,
    lic_ids: Vec<String>,
    lics: Vec<LicTotals>,
    orders: HashMap<String, OrderState>,
}

fn bad(seq: i64, what: &str) -> Box<dyn std::error::Error> {
    format!("seq {seq}: {what}").into()
}

impl Replay {
    fn license(&self, seq: i64, ev: &Ev) -> Res<usize> {
        let id = ev.license.as_ref().ok_or_else(|| bad(seq, "license missing"))?;
        let i = self.lic_ix.get(id.as_ref()).ok_or_else(|| bad(seq, "unknown license"))?;
        Ok(*i as usize)
    }

    fn order(&mut self, seq: i64, ev: &Ev) -> Res<&mut OrderState> {
        let o = ev.order.as_ref().ok_or_else(|| bad(seq, "order missing"))?;
        self.orders.get_mut(o.as_ref()).ok_or_else(|| bad(seq, "unknown order"))
    }

    fn apply(&mut self, seq: i64, ev: Ev) -> Res<()> {
        let quantity = || ev.quantity.ok_or_else(|| bad(seq, "quantity missing"));
        match ev.ty.as_ref() {
            "license_granted" => {
                let id = ev.license.as_ref().ok_or_else(|| bad(seq, "license missing"))?;
                let q = quantity()?;
                self.lic_ix.insert(id.to_string(), self.lics.len() as u32);
                self.lic_ids.push(id.to_string());
                self.lics.push(LicTotals { quantity: q, ..Default::default() });
            }
            "quota_amended" => {
                let i = self.license(seq, &ev)?;
                self.lics[i].quantity = quantity()?;
            }
            "order_placed" => {
                let i = self.license(seq, &ev)?;
                let q = quantity()?;
                let o = ev.order.as_ref().ok_or_else(|| bad(seq, "order missing"))?;
                self.lics[i].ordered += q;
                let st = OrderState { lic: i as u32, quantity: q, shipped: 0, cancelled: false };
                self.orders.insert(o.to_string(), st);
            }
            "order_cancelled" => {
                let st = self.order(seq, &ev)?;
                if !st.cancelled {
                    st.cancelled = true;
                    let (lic, returned) = (st.lic as usize, st.quantity - st.shipped);
                    self.lics[lic].returned += returned;
                }
            }
            "shipment_recorded" => {
                let q = quantity()?;
                let st = self.order(seq, &ev)?;
                st.shipped += q;
                let lic = st.lic as usize;
                self.lics[lic].shipped += q;
            }
            _ => {}
        }
        Ok(())
    }

    fn totals_lines(&self, per_license: bool) -> Vec<String> {
        let mut lines = Vec::new();
        let (mut licensed, mut ordered, mut returned, mut shipped, mut remaining) = (0, 0, 0, 0, 0);
        for (id, l) in self.lic_ids.iter().zip(&self.lics) {
            let rem = (l.quantity + l.returned) as i64 - l.ordered as i64;
            if per_license {
                lines.push(format!(
                    "license {id}: quantity={} ordered={} returned={} shipped={} remaining={rem}",
                    l.quantity, l.ordered, l.returned, l.shipped
                ));
            }
            licensed += l.quantity;
            ordered += l.ordered;
            returned += l.returned;
            shipped += l.shipped;
            remaining += rem;
        }
        lines.push(format!(
            "totals: licenses={} licensed={licensed} ordered={ordered} returned={returned} shipped={shipped} remaining={remaining}",
            self.lics.len()
        ));
        lines
    }
}

/// Folds the events of DB into per-license totals; returns the `replay:` line, then (with
/// `per_license`) one line per license, then the `totals:` line.
pub fn replay(db: &str, per_license: bool) -> Res<String> {
    let t0 = Instant::now();
    let conn = open_ro(db)?;
    let mut stmt = conn.prepare("SELECT seq, body FROM events ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut state = Replay::default();
    let mut n: u64 = 0;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let body = row.get_ref(1)?.as_bytes()?;
        let ev: Ev = serde_json::from_slice(body).map_err(|e| bad(seq, &e.to_string()))?;
        n += 1;
        state.apply(seq, ev)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut lines = vec![format!(
        "replay: events={n} secs={secs:.3} events_per_s={:.0} orders={}",
        n as f64 / secs,
        state.orders.len()
    )];
    lines.extend(state.totals_lines(per_license));
    Ok(lines.join("\n"))
}

/// `bench sqlite-chain ARGS...`.
pub fn command(args: &[String]) -> Res<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match args.as_slice() {
        ["load", db, file] => load(db, file)?,
        ["verify", db] => verify(db)?,
        ["replay", db] => replay(db, false)?,
        ["replay", db, "--per-license"] => replay(db, true)?,
        _ => return Err("usage: bench sqlite-chain load DB FILE | verify DB | replay DB [--per-license]".into()),
    };
    println!("{out}");
    Ok(())
}
