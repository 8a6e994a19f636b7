//! The benchmark's event generator: a port of `gen_events.py` (the generator the benchmark used
//! before it moved into the repository) that writes, for the same count and seed, the same bytes.
//!
//! It draws from [`py_random::PyRandom`], a faithful port of CPython's `random.Random`, in the
//! order the Python script draws, and writes each event as `json.dumps(ev, separators=(",",
//! ":"))` would: keys in insertion order, `at`, `actor` and `key` last. `tests/bench_generator.rs`
//! pins the output by its BLAKE3 hash for a few (seed, count) pairs.
//!
//! What the stream is (from the script's docstring): N events valid under the ledger's rules,
//! inside the conservative reading of every rule that could be read two ways: `at` never goes
//! backwards and starts at 2026-01-01T00:00:00Z; an order's `at` lies in `[valid_from,
//! valid_until)`; cancellations, shipments and amendments touch only active licenses of
//! unrestricted licensees; a quota is never amended below what is committed; every order has
//! `domestic_quantity >= 1`; idempotency keys are never reused. Every prefix of the stream is
//! itself valid, so the stream is simply cut after N events.

pub mod check;
pub mod py_random;

use py_random::PyRandom;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

/// The seed `gen_events.py` uses when given none.
pub const DEFAULT_SEED: u64 = 20_260_101;
/// 2026-01-01T00:00:00Z, the `at` of the first event.
pub const START_SECS: i64 = 1_767_225_600;
/// The `at` of the first event, as written.
pub const START_ISO: &str = "2026-01-01T00:00:00Z";
const DAY_SECS: i64 = 86_400;
/// Lines buffered before a write (the script joins 4096 lines per write).
const LINES_PER_WRITE: usize = 4096;

/// Unrestricted parties: id, name, sector.
const PARTY_NAMES: [(&str, &str, &str); 30] = [
    ("bytedance", "ByteDance Ltd.", "internet"),
    ("alibaba", "Alibaba Group Holding Ltd.", "internet"),
    ("tencent", "Tencent Holdings Ltd.", "internet"),
    ("baidu", "Baidu Inc.", "internet"),
    ("meituan", "Meituan", "internet"),
    ("jd", "JD.com Inc.", "retail"),
    ("kuaishou", "Kuaishou Technology", "internet"),
    ("xiaomi", "Xiaomi Corp.", "electronics"),
    ("netease", "NetEase Inc.", "internet"),
    ("pinduoduo", "PDD Holdings", "retail"),
    ("iflytek", "iFlytek Co. Ltd.", "ai"),
    ("sensetime", "SenseTime Group", "ai"),
    ("zhipu", "Zhipu AI", "ai"),
    ("moonshot", "Moonshot AI", "ai"),
    ("minimax", "MiniMax", "ai"),
    ("deepseek", "DeepSeek", "ai"),
    ("stepfun", "StepFun", "ai"),
    ("baichuan", "Baichuan Intelligence", "ai"),
    ("kingsoft-cloud", "Kingsoft Cloud", "cloud"),
    ("ucloud", "UCloud Technology", "cloud"),
    ("gds", "GDS Holdings", "datacenter"),
    ("vnet", "VNET Group", "datacenter"),
    ("chindata", "Chindata Group", "datacenter"),
    ("inspur", "Inspur Electronic Information", "servers"),
    ("lenovo", "Lenovo Group", "servers"),
    ("h3c", "New H3C Technologies", "servers"),
    ("byd", "BYD Co. Ltd.", "automotive"),
    ("nio", "NIO Inc.", "automotive"),
    ("xpeng", "XPeng Inc.", "automotive"),
    ("li-auto", "Li Auto Inc.", "automotive"),
];
/// Parties restricted at setup: id, name, sector, reason.
const RESTRICTED_NAMES: [(&str, &str, &str, &str); 6] = [
    ("china-mobile", "China Mobile Ltd.", "telecom", "state-backed telecom operator"),
    ("china-telecom", "China Telecom Corp.", "telecom", "state-backed telecom operator"),
    ("china-unicom", "China Unicom", "telecom", "state-backed telecom operator"),
    ("cetc", "China Electronics Technology Group", "defence", "state-owned defence conglomerate"),
    ("norinco", "China North Industries Group", "defence", "state-owned defence conglomerate"),
    ("sugon", "Sugon Information Industry", "servers", "entity-listed supercomputer maker"),
];
/// Every party: the unrestricted ones, then the restricted ones (a party is its index here).
const PARTY_COUNT: usize = PARTY_NAMES.len() + RESTRICTED_NAMES.len();
const ACTORS: [&str; 5] = ["ops-ingest", "alice@mofcom", "bob@customs", "svc-erp-gateway", "carol@compliance"];
const TEXTS_END_USE: [&str; 2] =
    ["data-centre inference and training only; no re-export", "commercial cloud services only; no military end use"];
const TEXTS_REPORTING: [&str; 2] =
    ["quarterly end-use report to the licensing authority", "monthly shipment report with serial numbers"];
const CANCEL_REASONS: [&str; 3] = [
    "customer withdrew purchase order",
    "duplicate order entered by mistake",
    "supplier could not allocate units this quarter",
];
const AMEND_REASONS: [&str; 3] =
    ["additional allocation approved in review", "allocation reduced after audit", "quota rebalanced across licensees"];
const SUSPEND_REASONS: [&str; 2] = ["end-use report overdue", "pending compliance inspection"];
const REINSTATE_REASONS: [&str; 2] = ["end-use report received", "inspection passed"];

/// Writes the first `events` events of the stream for `seed` to `out`, as `gen_events.py
/// events --seed seed` does; returns the number of lines written.
pub fn generate<W: Write>(events: u64, seed: u64, out: W) -> io::Result<u64> {
    let mut gen = Gen::new(events, seed, out);
    if events > 0 {
        if let Err(Stop::Io(e)) = gen.setup().and_then(|()| gen.main_phase()) {
            return Err(e);
        }
    }
    gen.flush()?;
    gen.out.flush()?;
    Ok(gen.count)
}

/// Why the generator stopped: the count was reached (the script's `Done`) or a write failed.
enum Stop {
    Done,
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

type Step<T = ()> = Result<T, Stop>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum LicState {
    Active,
    Suspended,
    Revoked,
}

struct Lic {
    id: String,
    party: usize,
    quantity: i64,
    valid_from_secs: i64,
    valid_until_secs: i64,
    state: LicState,
    /// Numbers of the conditions added pending and not yet finalized, oldest first.
    pending: Vec<u32>,
    /// A final-to-be bundle ratio (domestic, per).
    ratio: Option<(i64, i64)>,
    max_per_order: Option<i64>,
    gross: i64,
    returned: i64,
    next_condition: u32,
    hit_zero: bool,
}

impl Lic {
    fn remaining(&self) -> i64 {
        self.quantity - self.gross + self.returned
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deferred {
    Reinstate,
    Finalize,
}

/// A deferred action: due when `count` reaches `due_count`; `tie` orders equal counts.
type Scheduled = Reverse<(u64, u64, Deferred, usize)>;

struct Gen<W: Write> {
    events: u64,
    rng: PyRandom,
    out: W,
    buf: Vec<u8>,
    buffered_lines: usize,
    count: u64,
    t_secs: i64,
    day: i64,
    actor: &'static str,
    /// The script's first `tick()` is a no-op that only sets the actor.
    first_tick_done: bool,
    /// Unrestricted parties, in the order they were registered.
    parties: Vec<usize>,
    restricted: [bool; PARTY_COUNT],
    has_license: [bool; PARTY_COUNT],
    lics: Vec<Lic>,
    next_lic: u64,
    dirty: bool,
    eligible_cache: Vec<usize>,
    sched: BinaryHeap<Scheduled>,
    sched_tie: u64,
    /// Orders, by number (slot 0 unused): license, quantity, shipped.
    order_lic: Vec<u32>,
    order_qty: Vec<i64>,
    order_shipped: Vec<i64>,
    /// Orders neither cancelled nor fully shipped, and the position of each in `open`.
    open: Vec<usize>,
    open_pos: Vec<usize>,
    revoke_at: Option<u64>,
    restrict_at: Option<u64>,
    iso_cache: (i64, String),
}

impl<W: Write> Gen<W> {
    fn new(events: u64, seed: u64, out: W) -> Gen<W> {
        let one_off_at = |fraction: f64| (events >= 20_000).then_some((events as f64 * fraction) as u64);
        Gen {
            events,
            rng: PyRandom::new(seed),
            out,
            buf: Vec::with_capacity(1 << 20),
            buffered_lines: 0,
            count: 0,
            t_secs: START_SECS,
            day: START_SECS / DAY_SECS,
            actor: ACTORS[0],
            first_tick_done: false,
            parties: Vec::new(),
            restricted: [false; PARTY_COUNT],
            has_license: [false; PARTY_COUNT],
            lics: Vec::new(),
            next_lic: 1,
            dirty: true,
            eligible_cache: Vec::new(),
            sched: BinaryHeap::new(),
            sched_tie: 0,
            order_lic: vec![0],
            order_qty: vec![0],
            order_shipped: vec![0],
            open: Vec::new(),
            open_pos: vec![usize::MAX],
            revoke_at: one_off_at(0.4),
            restrict_at: one_off_at(0.6),
            iso_cache: (i64::MIN, String::new()),
        }
    }

    // -- output -----------------------------------------------------------------------------

    /// Writes one event (an object left open by [`Obj`]); a `keyed` event gets an idempotency
    /// key in UUID shape drawn from the generator. Stops once `events` lines are written.
    fn emit(&mut self, ev: Obj, keyed: bool) -> Step {
        let mut line = ev.0;
        let at = self.iso(self.t_secs).to_string();
        json_str_field(&mut line, "at", &at);
        json_str_field(&mut line, "actor", self.actor);
        if keyed {
            let h = format!("{:032x}", self.rng.getrandbits(128));
            let key = format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]);
            json_str_field(&mut line, "key", &key);
        }
        line.push('}');
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        self.buffered_lines += 1;
        self.count += 1;
        if self.buffered_lines >= LINES_PER_WRITE {
            self.flush()?;
        }
        if self.count >= self.events {
            return Err(Stop::Done);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.buffered_lines = 0;
        Ok(())
    }

    fn iso(&mut self, secs: i64) -> &str {
        if self.iso_cache.0 != secs {
            self.iso_cache = (secs, iso_utc(secs));
        }
        &self.iso_cache.1
    }

    /// Advances business time by 0..=2 s and picks the actor of the next event.
    fn tick(&mut self) {
        if !self.first_tick_done {
            self.first_tick_done = true;
            self.actor = ACTORS[0];
            return;
        }
        self.t_secs += self.rng.randint(0, 2);
        let day = self.t_secs.div_euclid(DAY_SECS);
        if day != self.day {
            self.day = day;
            self.dirty = true; // validity windows open and close at midnight
        }
        self.actor = ACTORS[self.rng.index(ACTORS.len())];
    }

    fn schedule(&mut self, delay: i64, kind: Deferred, lic: usize) {
        self.sched_tie += 1;
        self.sched.push(Reverse((self.count + delay as u64, self.sched_tie, kind, lic)));
    }

    // -- licenses ---------------------------------------------------------------------------

    fn eligible(&mut self) -> &[usize] {
        if self.dirty {
            let t = self.t_secs;
            let restricted = &self.restricted;
            self.eligible_cache = (0..self.lics.len())
                .filter(|&i| {
                    let l = &self.lics[i];
                    l.state == LicState::Active
                        && !restricted[l.party]
                        && l.pending.is_empty()
                        && l.valid_from_secs <= t
                        && t < l.valid_until_secs
                        && l.remaining() > 0
                })
                .collect();
            self.dirty = false;
        }
        &self.eligible_cache
    }

    fn active_ok(&self, lic: usize) -> bool {
        let l = &self.lics[lic];
        l.state == LicState::Active && !self.restricted[l.party]
    }

    fn grant(&mut self, party: usize, quantity: i64, valid_from_secs: i64, with_pending: bool) -> Step<usize> {
        let id = format!("CN-IMP-2026-{:04}", self.next_lic);
        self.next_lic += 1;
        let valid_until_secs = valid_from_secs + 364 * DAY_SECS;
        let lic = self.lics.len();
        self.lics.push(Lic {
            id: id.clone(),
            party,
            quantity,
            valid_from_secs,
            valid_until_secs,
            state: LicState::Active,
            pending: Vec::new(),
            ratio: None,
            max_per_order: None,
            gross: 0,
            returned: 0,
            next_condition: 1,
            hit_zero: false,
        });
        self.has_license[party] = true;
        self.dirty = true;
        self.tick();
        let round = if self.count < 1000 { 1 } else { 2 };
        let ev = Obj::new("license_granted")
            .str("license", &id)
            .str("authority", "CN-MOFCOM")
            .str("licensee", party_id(party))
            .str("product", "H200")
            .int("quantity", quantity)
            .str("valid_from", &date_utc(valid_from_secs))
            .str("valid_until", &date_utc(valid_until_secs))
            .int("round", round);
        self.emit(ev, false)?;
        self.grant_conditions(lic, with_pending)?;
        Ok(lic)
    }

    /// Bundle ratio and max-per-order are added pending (finalized later); end use and
    /// reporting final.
    fn grant_conditions(&mut self, lic: usize, with_pending: bool) -> Step {
        if self.rng.random() < 0.8 {
            let per = self.rng.choice(&[3, 4, 5]);
            let domestic = if per > 3 { self.rng.choice(&[1, 1, 2]) } else { 1 };
            let rule = Obj::kind("bundle_ratio").int("domestic", domestic).int("per", per);
            self.add_condition(lic, rule, !with_pending)?;
            self.lics[lic].ratio = Some((domestic, per));
        }
        if self.rng.random() < 0.9 {
            let units = self.rng.choice(&[500, 1000, 2000, 5000]);
            self.add_condition(lic, Obj::kind("max_per_order").int("units", units), !with_pending)?;
            self.lics[lic].max_per_order = Some(units);
        }
        if self.rng.random() < 0.5 {
            let text = self.rng.choice(&TEXTS_END_USE);
            self.add_condition(lic, Obj::kind("end_use").str("text", text), true)?;
        }
        if self.rng.random() < 0.3 {
            let text = self.rng.choice(&TEXTS_REPORTING);
            self.add_condition(lic, Obj::kind("reporting").str("text", text), true)?;
        }
        Ok(())
    }

    fn add_condition(&mut self, lic: usize, rule: Obj, is_final: bool) -> Step {
        let l = &mut self.lics[lic];
        let number = l.next_condition;
        l.next_condition += 1;
        if !is_final {
            l.pending.push(number);
            self.dirty = true;
        }
        self.tick();
        let ev = Obj::new("condition_added")
            .str("license", &self.lics[lic].id)
            .str("condition", &format!("C{number}"))
            .obj("rule", rule)
            .bool("final", is_final);
        self.emit(ev, false)
    }

    fn finalize_all(&mut self, lic: usize) -> Step {
        while let Some(&number) = self.lics[lic].pending.first() {
            self.tick();
            self.lics[lic].pending.remove(0);
            self.dirty = true;
            let ev = Obj::new("condition_finalized")
                .str("license", &self.lics[lic].id)
                .str("condition", &format!("C{number}"));
            self.emit(ev, true)?;
        }
        Ok(())
    }

    // -- setup ------------------------------------------------------------------------------

    fn setup(&mut self) -> Step {
        let n_parties = (PARTY_NAMES.len() as u64).min(self.events / 2000).max(4) as usize;
        let n_restricted = RESTRICTED_NAMES.len().min(n_parties / 5).max(1);
        let mut regs: Vec<usize> = (0..n_parties).collect();
        regs.extend((0..n_restricted).map(|i| PARTY_NAMES.len() + i));
        self.rng.shuffle(&mut regs);
        for party in regs {
            self.tick();
            let state_backed = party >= PARTY_NAMES.len();
            let (id, name, sector) = party_row(party);
            let ev = Obj::new("party_registered")
                .str("party", id)
                .str("name", name)
                .str("country", "CN")
                .bool("state_backed", state_backed)
                .str("sector", sector);
            self.emit(ev, false)?;
            if !state_backed {
                self.parties.push(party);
            }
        }
        for (i, (id, _, _, reason)) in RESTRICTED_NAMES.iter().enumerate().take(n_restricted) {
            self.tick();
            self.restricted[PARTY_NAMES.len() + i] = true;
            self.emit(Obj::new("party_restricted").str("party", id).str("reason", reason), true)?;
        }
        self.setup_licenses()
    }

    /// 1-2 licenses per unrestricted party; a few small quotas that run out and get topped up;
    /// a few that only become valid a few days in. Then every pending condition is finalized.
    fn setup_licenses(&mut self) -> Step {
        for party in self.parties.clone() {
            let licenses = if self.rng.random() < 0.55 { 1 } else { 2 };
            for _ in 0..licenses {
                let quantity = if self.rng.random() < 0.1 {
                    self.rng.randrange_step(20_000, 100_001, 1000)
                } else {
                    self.rng.randrange_step(2_000_000, 10_000_001, 1000)
                };
                let valid_from_secs =
                    if self.rng.random() < 0.8 { START_SECS } else { START_SECS + self.rng.randint(1, 8) * DAY_SECS };
                self.grant(party, quantity, valid_from_secs, true)?;
            }
        }
        let mut order: Vec<usize> = (0..self.lics.len()).collect();
        self.rng.shuffle(&mut order);
        for lic in order {
            self.finalize_all(lic)?;
        }
        Ok(())
    }

    // -- main phase -------------------------------------------------------------------------

    fn place_order(&mut self) -> Step {
        if self.eligible().is_empty() {
            // everything exhausted, expired or suspended: a new approval round
            let party = self.parties[self.rng.index(self.parties.len())];
            let day0 = self.t_secs.div_euclid(DAY_SECS) * DAY_SECS;
            let quantity = self.rng.randrange_step(2_000_000, 10_000_001, 1000);
            self.grant(party, quantity, day0, false)?;
            return Ok(());
        }
        let pick = self.rng.index(self.eligible_cache.len());
        let lic = self.eligible_cache[pick];
        let quantity = self.order_quantity(lic);
        let domestic = self.domestic_quantity(lic, quantity);
        let number = self.order_lic.len();
        self.order_lic.push(lic as u32);
        self.order_qty.push(quantity);
        self.order_shipped.push(0);
        self.open_pos.push(self.open.len());
        self.open.push(number);
        let l = &mut self.lics[lic];
        l.gross += quantity;
        if l.remaining() == 0 {
            l.hit_zero = true;
            self.dirty = true;
        }
        let ev = Obj::new("order_placed")
            .str("order", &format!("O-{number}"))
            .str("license", &self.lics[lic].id)
            .int("quantity", quantity)
            .int("domestic_quantity", domestic)
            .str("supplier", "nvidia");
        self.emit(ev, true)
    }

    fn order_quantity(&mut self, lic: usize) -> i64 {
        let l = &self.lics[lic];
        let remaining = l.remaining();
        let cap = l.max_per_order.map_or(remaining, |units| remaining.min(units));
        let r = self.rng.random();
        if r < 0.01 && cap <= 5000 {
            cap // boundary: exactly max_per_order or exactly the remaining quota
        } else {
            cap.min(self.rng.expovariate(1.0 / 300.0) as i64 + 1)
        }
    }

    fn domestic_quantity(&mut self, lic: usize, quantity: i64) -> i64 {
        let need = match self.lics[lic].ratio {
            Some((domestic, per)) => ceil_div(quantity * domestic, per),
            None => 1,
        };
        let domestic =
            if self.rng.random() < 0.3 { need } else { need + self.rng.randint(0, 1.max(quantity.div_euclid(10))) };
        domestic.max(1)
    }

    fn close_order(&mut self, number: usize) {
        let i = self.open_pos[number];
        if let Some(last) = self.open.pop() {
            if last != number {
                self.open[i] = last;
                self.open_pos[last] = i;
            }
        }
        self.open_pos[number] = usize::MAX;
    }

    fn pick_open(&mut self) -> Option<usize> {
        for _ in 0..4 {
            if self.open.is_empty() {
                return None;
            }
            let number = self.open[self.rng.index(self.open.len())];
            if self.active_ok(self.order_lic[number] as usize) {
                return Some(number);
            }
        }
        None
    }

    fn ship(&mut self) -> Step {
        let Some(number) = self.pick_open() else {
            return self.place_order();
        };
        let unshipped = self.order_qty[number] - self.order_shipped[number];
        let quantity = if self.rng.random() < 0.6 { unshipped } else { self.rng.randint(1, unshipped) };
        self.order_shipped[number] += quantity;
        if self.order_shipped[number] == self.order_qty[number] {
            self.close_order(number);
        }
        let ev = Obj::new("shipment_recorded").str("order", &format!("O-{number}")).int("quantity", quantity);
        self.emit(ev, true)
    }

    fn cancel(&mut self) -> Step {
        let Some(number) = self.pick_open() else {
            return self.place_order();
        };
        let unshipped = self.order_qty[number] - self.order_shipped[number];
        let l = &mut self.lics[self.order_lic[number] as usize];
        l.returned += unshipped;
        if l.hit_zero {
            l.hit_zero = false;
            self.dirty = true;
        }
        self.close_order(number);
        let reason = self.rng.choice(&CANCEL_REASONS);
        self.emit(Obj::new("order_cancelled").str("order", &format!("O-{number}")).str("reason", reason), true)
    }

    fn amend(&mut self) -> Step {
        let lic = self.rng.index(self.lics.len());
        if !self.active_ok(lic) {
            return self.place_order();
        }
        let raise = self.rng.random() < 0.8;
        let l = &self.lics[lic];
        let (quantity, committed, hit_zero) = (l.quantity, l.gross - l.returned, l.hit_zero);
        let new = if raise || hit_zero {
            quantity + self.rng.randrange_step(50_000, 500_001, 1000)
        } else {
            // committed = ordered - returned by cancellation = quantity - remaining: the larger
            // of the two readings of "ordered minus cancelled", hence the conservative one
            let floor = committed.max(1);
            let lowered = floor.max(quantity - self.rng.randrange_step(10_000, 200_001, 1000));
            if self.rng.random() < 0.2 {
                floor // boundary: exactly down to what was ordered
            } else {
                lowered
            }
        };
        let l = &mut self.lics[lic];
        l.quantity = new;
        l.hit_zero = l.remaining() == 0;
        self.dirty = true;
        let reason = self.rng.choice(&AMEND_REASONS);
        let ev =
            Obj::new("quota_amended").str("license", &self.lics[lic].id).int("quantity", new).str("reason", reason);
        self.emit(ev, true)
    }

    fn suspend(&mut self) -> Step {
        let lic = self.rng.index(self.lics.len());
        if !self.active_ok(lic) {
            return self.place_order();
        }
        self.lics[lic].state = LicState::Suspended;
        self.dirty = true;
        let delay = self.rng.randint(200, 5000);
        self.schedule(delay, Deferred::Reinstate, lic);
        let reason = self.rng.choice(&SUSPEND_REASONS);
        self.emit(Obj::new("license_suspended").str("license", &self.lics[lic].id).str("reason", reason), true)
    }

    fn run_scheduled(&mut self) -> Step {
        let Some(Reverse((_, _, kind, lic))) = self.sched.pop() else {
            return self.place_order();
        };
        match kind {
            Deferred::Reinstate if self.lics[lic].state == LicState::Suspended => {
                self.lics[lic].state = LicState::Active;
                self.dirty = true;
                let reason = self.rng.choice(&REINSTATE_REASONS);
                let ev = Obj::new("license_reinstated").str("license", &self.lics[lic].id).str("reason", reason);
                self.emit(ev, true)
            }
            Deferred::Finalize if !self.lics[lic].pending.is_empty() => self.finalize_all(lic),
            _ => self.place_order(),
        }
    }

    /// The one revocation (at 40% of the stream) and the one late restriction (at 60%), for
    /// streams of at least 20,000 events. Returns whether an event was written.
    fn one_off(&mut self) -> Step<bool> {
        if self.revoke_at.is_some_and(|at| self.count >= at) {
            self.revoke_at = None;
            let candidates: Vec<usize> = (0..self.lics.len()).filter(|&i| self.active_ok(i)).collect();
            if !candidates.is_empty() {
                let lic = candidates[self.rng.index(candidates.len())];
                self.lics[lic].state = LicState::Revoked;
                self.dirty = true;
                let ev = Obj::new("license_revoked")
                    .str("license", &self.lics[lic].id)
                    .str("reason", "licensee breached the no-re-export condition");
                self.emit(ev, false)?;
                return Ok(true);
            }
        }
        if self.restrict_at.is_some_and(|at| self.count >= at) {
            self.restrict_at = None;
            let candidates: Vec<usize> = self.parties.iter().copied().filter(|&p| self.has_license[p]).collect();
            if candidates.len() > 2 {
                let party = candidates[self.rng.index(candidates.len())];
                self.parties.retain(|&p| p != party);
                self.restricted[party] = true;
                self.dirty = true;
                let ev = Obj::new("party_restricted")
                    .str("party", party_id(party))
                    .str("reason", "added to the state-backed buyers list");
                self.emit(ev, false)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A new license mid-stream; its conditions stay pending for a while (orders blocked).
    fn new_round(&mut self) -> Step {
        let party = self.parties[self.rng.index(self.parties.len())];
        let day0 = self.t_secs.div_euclid(DAY_SECS) * DAY_SECS;
        let quantity = self.rng.randrange_step(2_000_000, 10_000_001, 1000);
        let lic = self.grant(party, quantity, day0, true)?;
        if !self.lics[lic].pending.is_empty() {
            let delay = self.rng.randint(100, 2000);
            self.schedule(delay, Deferred::Finalize, lic);
        }
        Ok(())
    }

    fn main_phase(&mut self) -> Step {
        loop {
            self.tick();
            if self.sched.peek().is_some_and(|Reverse((due, ..))| *due <= self.count) {
                self.run_scheduled()?;
                continue;
            }
            if self.one_off()? {
                continue;
            }
            let r = self.rng.random();
            if r < 0.80 {
                self.place_order()?;
            } else if r < 0.92 {
                self.ship()?;
            } else if r < 0.95 {
                self.cancel()?;
            } else if r < 0.952 {
                self.amend()?;
            } else if r < 0.9525 {
                self.suspend()?;
            } else if r < 0.95253 {
                self.new_round()?;
            } else {
                self.place_order()?;
            }
        }
    }
}

fn party_row(party: usize) -> (&'static str, &'static str, &'static str) {
    match PARTY_NAMES.get(party) {
        Some(&(id, name, sector)) => (id, name, sector),
        None => {
            let (id, name, sector, _) = RESTRICTED_NAMES[party - PARTY_NAMES.len()];
            (id, name, sector)
        }
    }
}

fn party_id(party: usize) -> &'static str {
    party_row(party).0
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

// -- JSON, as `json.dumps(ev, separators=(",", ":"))` writes it -----------------------------

/// A JSON object being written, left open for more fields.
struct Obj(String);

impl Obj {
    fn new(event_type: &str) -> Obj {
        Obj(String::with_capacity(256)).first_field("type", event_type)
    }

    fn kind(rule_kind: &str) -> Obj {
        Obj(String::with_capacity(64)).first_field("kind", rule_kind)
    }

    fn first_field(mut self, key: &str, value: &str) -> Obj {
        self.0.push('{');
        json_string(&mut self.0, key);
        self.0.push(':');
        json_string(&mut self.0, value);
        self
    }

    fn str(mut self, key: &str, value: &str) -> Obj {
        json_str_field(&mut self.0, key, value);
        self
    }

    fn int(self, key: &str, value: i64) -> Obj {
        self.raw(key, &value.to_string())
    }

    fn bool(self, key: &str, value: bool) -> Obj {
        self.raw(key, if value { "true" } else { "false" })
    }

    fn obj(self, key: &str, mut value: Obj) -> Obj {
        value.0.push('}');
        self.raw(key, &value.0)
    }

    fn raw(mut self, key: &str, value: &str) -> Obj {
        self.0.push(',');
        json_string(&mut self.0, key);
        self.0.push(':');
        self.0.push_str(value);
        self
    }
}

fn json_str_field(out: &mut String, key: &str, value: &str) {
    out.push(',');
    json_string(out, key);
    out.push(':');
    json_string(out, value);
}

/// A JSON string with `ensure_ascii`: `\"`, `\\`, the short escapes, other control characters
/// and everything beyond ASCII as `\uXXXX` (UTF-16 units).
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

// -- time, as `time.strftime(..., time.gmtime(ts))` writes it --------------------------------

/// `%Y-%m-%dT%H:%M:%SZ` in UTC.
fn iso_utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY_SECS));
    let in_day = secs.rem_euclid(DAY_SECS);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", in_day / 3600, in_day / 60 % 60, in_day % 60)
}

/// `%Y-%m-%d` in UTC.
fn date_utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY_SECS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
