//! The generator's checker: a port of `gen_events.py --check FILE`. It replays the rules as
//! written plus the generator's conservative choices over a JSONL file, independently of
//! quotaledger, and reports the same four lines as the script (so the two can be diffed) and
//! the final totals, which the benchmark compares with `qledger state --json`.
//!
//! Memory: one entry per party, license, order and idempotency key; orders and keys are held by
//! a 128-bit BLAKE3 digest of their id, not the id itself (about 130 MB at 1M events and 1.3 GB
//! at 10M; the benchmark runs the checker as a child process that exits before anything is
//! measured).

use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::START_ISO;

/// The final totals over all licenses, as the script's `totals:` line prints them.
struct Totals {
    licenses: u64,
    licensed: i128,
    /// Gross: every order's quantity, cancellations not deducted.
    ordered: i128,
    /// What cancellations returned to the quota.
    returned: i128,
    shipped: i128,
    remaining: i128,
    /// What revoked licenses had left when revoked (part of `remaining`, as the script counts
    /// it; qledger counts it in no total).
    revoked_unused: i128,
}

/// A valid file's report: the script's four output lines (the last one the totals).
pub struct Report {
    pub lines: Vec<String>,
}

/// Why a file did not check out: the script's `INVALID: line N: ...`, or a read error.
#[derive(Debug)]
pub enum CheckError {
    Invalid(String),
    Io(io::Error),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Invalid(msg) => write!(f, "INVALID: {msg}"),
            CheckError::Io(e) => write!(f, "cannot read the events file: {e}"),
        }
    }
}

impl std::error::Error for CheckError {}

/// Checks the JSONL file at `path` as `gen_events.py --check` does.
pub fn check_file(path: &Path) -> Result<Report, CheckError> {
    let file = File::open(path).map_err(CheckError::Io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut checker = Checker::default();
    let mut raw = Vec::with_capacity(4096);
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw).map_err(CheckError::Io)? == 0 {
            break;
        }
        checker.lineno += 1;
        checker.line(&raw).map_err(|msg| CheckError::Invalid(format!("line {}: {msg}", checker.lineno)))?;
    }
    checker.report().map_err(CheckError::Invalid)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LicState {
    Active,
    Suspended,
    Revoked,
}

impl LicState {
    fn as_str(self) -> &'static str {
        match self {
            LicState::Active => "active",
            LicState::Suspended => "suspended",
            LicState::Revoked => "revoked",
        }
    }
}

enum Rule {
    BundleRatio { domestic: i128, per: i128 },
    MaxPerOrder { units: i128 },
    Text,
}

struct Cond {
    id: String,
    rule: Rule,
    is_final: bool,
    withdrawn: bool,
}

struct Lic {
    party: String,
    quantity: i128,
    valid_from: String,
    valid_until: String,
    state: LicState,
    conds: Vec<Cond>,
    gross: i128,
    returned: i128,
    shipped: i128,
}

/// 24 bytes: quantities beyond i64 are refused (qledger refuses them beyond u64 too).
struct Order {
    lic: u32,
    cancelled: bool,
    quantity: i64,
    shipped: i64,
}

type Digest = [u8; 16];
type Checked = Result<(), String>;

#[derive(Default)]
struct Checker {
    /// Party id -> restricted.
    parties: HashMap<String, bool>,
    lic_index: HashMap<String, usize>,
    lics: Vec<Lic>,
    orders: HashMap<Digest, Order>,
    keys: HashSet<Digest>,
    counts: BTreeMap<String, u64>,
    last_at: Option<String>,
    bytes: u64,
    min_len: Option<u64>,
    max_len: u64,
    lineno: u64,
}

fn need(cond: bool, msg: impl FnOnce() -> String) -> Checked {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn digest(bytes: &[u8]) -> Digest {
    let mut d = [0u8; 16];
    d.copy_from_slice(&blake3::hash(bytes).as_bytes()[..16]);
    d
}

/// Python's `repr` of a JSON value, for messages.
fn repr(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "None".into(),
        Some(Value::String(s)) => format!("'{s}'"),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Bool(false)) => "False".into(),
        Some(other) => other.to_string(),
    }
}

/// `isinstance(v, int)` in Python, where `True` is 1.
fn py_int(v: Option<&Value>) -> Option<i128> {
    match v? {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    }
}

fn str_field<'a>(ev: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    ev.get(field).and_then(Value::as_str)
}

/// `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$` (ASCII digits).
fn is_at(s: &str) -> bool {
    shape_matches(s, b"dddd-dd-ddTdd:dd:ddZ")
}

/// `^\d{4}-\d\d-\d\d$` (ASCII digits).
fn is_date(s: &str) -> bool {
    shape_matches(s, b"dddd-dd-dd")
}

fn shape_matches(s: &str, shape: &[u8]) -> bool {
    s.len() == shape.len()
        && s.bytes().zip(shape).all(|(c, &want)| if want == b'd' { c.is_ascii_digit() } else { c == want })
}

impl Checker {
    fn line(&mut self, raw: &[u8]) -> Checked {
        need(raw.ends_with(b"\n"), || "line not newline-terminated".into())?;
        let len = raw.len() as u64 - 1;
        self.bytes += raw.len() as u64;
        self.min_len = Some(self.min_len.map_or(len, |m| m.min(len)));
        self.max_len = self.max_len.max(len);
        let value: Value = serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(ev) = value else {
            return Err("not a JSON object".into());
        };
        let ty = match ev.get("type") {
            Some(Value::String(s)) => s.clone(),
            other => repr(other),
        };
        *self.counts.entry(ty.clone()).or_insert(0) += 1;
        let day = self.stamp(&ev)?;
        self.event(&ty, &ev, &day)
    }

    /// `at`, `actor` and `key`; returns the date of `at`.
    fn stamp(&mut self, ev: &Map<String, Value>) -> Result<String, String> {
        let at = match str_field(ev, "at") {
            Some(at) if is_at(at) => at.to_string(),
            _ => return Err(format!("bad at {}", repr(ev.get("at")))),
        };
        match &self.last_at {
            None => need(at == START_ISO, || format!("first at must be {START_ISO}, got {at}"))?,
            Some(last) => need(at >= *last, || format!("at goes backwards: {at} < {last}"))?,
        }
        need(str_field(ev, "actor").is_some_and(|a| !a.is_empty()), || "missing actor".into())?;
        if let Some(key) = ev.get("key") {
            let fresh = self.keys.insert(digest(key.to_string().as_bytes()));
            need(fresh, || format!("idempotency key reused (conservative) {}", repr(Some(key))))?;
        }
        let day = at[..10].to_string();
        self.last_at = Some(at);
        Ok(day)
    }

    fn event(&mut self, ty: &str, ev: &Map<String, Value>, day: &str) -> Checked {
        match ty {
            "party_registered" => self.party_registered(ev),
            "party_restricted" => self.party_restricted(ev),
            "license_granted" => self.license_granted(ev),
            "condition_added" => self.condition_added(ev),
            "condition_finalized" => self.condition_finalized(ev),
            "condition_withdrawn" => self.condition_withdrawn(ev),
            "order_placed" => self.order_placed(ev, day),
            "order_cancelled" => self.order_cancelled(ev),
            "shipment_recorded" => self.shipment_recorded(ev),
            "quota_amended" => self.quota_amended(ev),
            "license_suspended" => self.set_state(ev, "suspend", |s| s == LicState::Active, LicState::Suspended),
            "license_reinstated" => self.set_state(ev, "reinstate", |s| s == LicState::Suspended, LicState::Active),
            "license_revoked" => self.revoke(ev),
            _ => Err(format!("unknown type {}", repr(ev.get("type")))),
        }
    }

    fn pos_int(ev: &Map<String, Value>, field: &str) -> Result<i128, String> {
        let v = ev.get(field);
        match v {
            Some(Value::Number(_)) => match py_int(v) {
                Some(n) if n > 0 => Ok(n),
                _ => Err(format!("{field} must be an integer > 0, got {}", repr(v))),
            },
            _ => Err(format!("{field} must be an integer > 0, got {}", repr(v))),
        }
    }

    fn lic_ref(&self, ev: &Map<String, Value>) -> Result<usize, String> {
        let found = str_field(ev, "license").and_then(|id| self.lic_index.get(id));
        found.copied().ok_or_else(|| format!("unknown license {}", repr(ev.get("license"))))
    }

    fn order_ref(&self, ev: &Map<String, Value>) -> Result<Digest, String> {
        let found = str_field(ev, "order").map(|id| digest(id.as_bytes())).filter(|d| self.orders.contains_key(d));
        found.ok_or_else(|| format!("unknown order {}", repr(ev.get("order"))))
    }

    /// Active, and its licensee not restricted.
    fn lic_usable(&self, lic: usize) -> bool {
        let l = &self.lics[lic];
        l.state == LicState::Active && !self.parties.get(&l.party).copied().unwrap_or(false)
    }

    fn party_registered(&mut self, ev: &Map<String, Value>) -> Checked {
        let party = str_field(ev, "party").filter(|p| !p.is_empty()).ok_or("party id missing")?;
        need(!self.parties.contains_key(party), || format!("duplicate party '{party}'"))?;
        for field in ["name", "country", "sector"] {
            need(str_field(ev, field).is_some(), || format!("{field} missing"))?;
        }
        need(matches!(ev.get("state_backed"), Some(Value::Bool(_))), || "state_backed missing".into())?;
        self.parties.insert(party.to_string(), false);
        Ok(())
    }

    fn party_restricted(&mut self, ev: &Map<String, Value>) -> Checked {
        let restricted = str_field(ev, "party").and_then(|p| self.parties.get_mut(p));
        let restricted = restricted.ok_or_else(|| format!("unknown party {}", repr(ev.get("party"))))?;
        need(!*restricted, || "party already restricted (conservative)".into())?;
        *restricted = true;
        Ok(())
    }

    fn license_granted(&mut self, ev: &Map<String, Value>) -> Checked {
        let id = str_field(ev, "license").filter(|l| !l.is_empty()).ok_or("license id missing")?;
        need(!self.lic_index.contains_key(id), || format!("duplicate license '{id}'"))?;
        let party = str_field(ev, "licensee").filter(|p| self.parties.contains_key(*p));
        let party = party.ok_or_else(|| format!("unknown licensee {}", repr(ev.get("licensee"))))?;
        need(!self.parties[party], || format!("license granted to restricted party '{party}'"))?;
        let quantity = Self::pos_int(ev, "quantity")?;
        let valid_from = str_field(ev, "valid_from").filter(|d| is_date(d)).ok_or("bad valid_from")?;
        let valid_until = str_field(ev, "valid_until").filter(|d| is_date(d)).ok_or("bad valid_until")?;
        need(valid_until >= valid_from, || "valid_until < valid_from".into())?;
        for field in ["authority", "product"] {
            need(str_field(ev, field).is_some(), || format!("{field} missing"))?;
        }
        self.lic_index.insert(id.to_string(), self.lics.len());
        self.lics.push(Lic {
            party: party.to_string(),
            quantity,
            valid_from: valid_from.to_string(),
            valid_until: valid_until.to_string(),
            state: LicState::Active,
            conds: Vec::new(),
            gross: 0,
            returned: 0,
            shipped: 0,
        });
        Ok(())
    }

    fn condition_added(&mut self, ev: &Map<String, Value>) -> Checked {
        let lic = self.lic_ref(ev)?;
        let id = str_field(ev, "condition").filter(|c| !c.is_empty()).ok_or("condition id missing")?;
        need(!self.lics[lic].conds.iter().any(|c| c.id == id), || format!("duplicate condition '{id}'"))?;
        let rule = match ev.get("rule") {
            Some(Value::Object(rule)) => parse_rule(rule)?,
            _ => return Err("rule missing".into()),
        };
        let Some(Value::Bool(is_final)) = ev.get("final") else {
            return Err("final missing".into());
        };
        self.lics[lic].conds.push(Cond { id: id.to_string(), rule, is_final: *is_final, withdrawn: false });
        Ok(())
    }

    fn cond_ref(&mut self, ev: &Map<String, Value>) -> Result<&mut Cond, String> {
        let lic = self.lic_ref(ev)?;
        let id = str_field(ev, "condition");
        let found = self.lics[lic].conds.iter_mut().find(|c| Some(c.id.as_str()) == id);
        found.ok_or_else(|| format!("unknown condition {}", repr(ev.get("condition"))))
    }

    fn condition_finalized(&mut self, ev: &Map<String, Value>) -> Checked {
        let cond = self.cond_ref(ev)?;
        need(!cond.is_final && !cond.withdrawn, || "condition not pending (conservative)".into())?;
        cond.is_final = true;
        Ok(())
    }

    fn condition_withdrawn(&mut self, ev: &Map<String, Value>) -> Checked {
        let cond = self.cond_ref(ev)?;
        need(!cond.withdrawn, || "condition already withdrawn".into())?;
        cond.withdrawn = true;
        Ok(())
    }

    fn order_placed(&mut self, ev: &Map<String, Value>, day: &str) -> Checked {
        let id = str_field(ev, "order").filter(|o| !o.is_empty()).ok_or("order id missing")?;
        let key = digest(id.as_bytes());
        need(!self.orders.contains_key(&key), || format!("duplicate order '{id}'"))?;
        let lic = self.lic_ref(ev)?;
        let l = &self.lics[lic];
        let lic_id = str_field(ev, "license").unwrap_or_default();
        need(l.state == LicState::Active, || format!("license {lic_id} is {}", l.state.as_str()))?;
        need(!self.parties[&l.party], || "order on a license of restricted party".into())?;
        need(l.valid_from.as_str() <= day && day < l.valid_until.as_str(), || {
            format!("at {day} outside validity [{}, {}) (conservative)", l.valid_from, l.valid_until)
        })?;
        let quantity = Self::pos_int(ev, "quantity")?;
        let domestic = py_int(ev.get("domestic_quantity")).filter(|d| *d >= 1);
        let domestic = domestic.ok_or("domestic_quantity must be an integer >= 1 (conservative)")?;
        need(str_field(ev, "supplier").is_some(), || "supplier missing".into())?;
        let remaining = l.quantity - l.gross + l.returned;
        need(quantity <= remaining, || format!("quantity {quantity} > remaining {remaining}"))?;
        check_conditions(&l.conds, lic_id, quantity, domestic)?;
        let order_quantity = i64::try_from(quantity).map_err(|_| format!("quantity {quantity} is too large"))?;
        let lic_number = u32::try_from(lic).map_err(|_| "too many licenses")?;
        self.lics[lic].gross += quantity;
        self.orders.insert(key, Order { lic: lic_number, quantity: order_quantity, shipped: 0, cancelled: false });
        Ok(())
    }

    fn order_cancelled(&mut self, ev: &Map<String, Value>) -> Checked {
        let key = self.order_ref(ev)?;
        let o = &self.orders[&key];
        need(!o.cancelled, || "order already cancelled".into())?;
        need(o.shipped < o.quantity, || "order fully shipped".into())?;
        need(self.lic_usable(o.lic as usize), || "cancel on inactive license (conservative)".into())?;
        let (lic, unshipped) = (o.lic as usize, o.quantity - o.shipped);
        self.lics[lic].returned += i128::from(unshipped);
        if let Some(o) = self.orders.get_mut(&key) {
            o.cancelled = true;
        }
        Ok(())
    }

    fn shipment_recorded(&mut self, ev: &Map<String, Value>) -> Checked {
        let key = self.order_ref(ev)?;
        let quantity = Self::pos_int(ev, "quantity")?;
        let o = &self.orders[&key];
        need(!o.cancelled, || "shipment on cancelled order".into())?;
        need(i128::from(o.shipped) + quantity <= i128::from(o.quantity), || {
            format!("shipped {} + {quantity} > ordered {}", o.shipped, o.quantity)
        })?;
        need(self.lic_usable(o.lic as usize), || "shipment on inactive license (conservative)".into())?;
        let lic = o.lic as usize;
        if let Some(o) = self.orders.get_mut(&key) {
            o.shipped += quantity as i64; // <= o.quantity, checked above
        }
        self.lics[lic].shipped += quantity;
        Ok(())
    }

    fn quota_amended(&mut self, ev: &Map<String, Value>) -> Checked {
        let lic = self.lic_ref(ev)?;
        let quantity = Self::pos_int(ev, "quantity")?;
        let committed = self.lics[lic].gross - self.lics[lic].returned;
        need(quantity >= committed, || format!("new quota {quantity} < committed {committed}"))?;
        need(self.lic_usable(lic), || "amendment on inactive license (conservative)".into())?;
        self.lics[lic].quantity = quantity;
        Ok(())
    }

    fn set_state(
        &mut self,
        ev: &Map<String, Value>,
        verb: &str,
        allowed: fn(LicState) -> bool,
        to: LicState,
    ) -> Checked {
        let lic = self.lic_ref(ev)?;
        let state = self.lics[lic].state;
        need(allowed(state), || format!("{verb}: license is {}", state.as_str()))?;
        self.lics[lic].state = to;
        Ok(())
    }

    fn revoke(&mut self, ev: &Map<String, Value>) -> Checked {
        let lic = self.lic_ref(ev)?;
        need(self.lics[lic].state != LicState::Revoked, || "revoke: already revoked".into())?;
        self.lics[lic].state = LicState::Revoked;
        Ok(())
    }

    fn report(&self) -> Result<Report, String> {
        let totals = self.totals()?;
        let lines = self.lineno;
        let avg_len = (self.bytes - lines) as f64 / lines.max(1) as f64;
        let types: Vec<String> = self.counts.iter().map(|(t, n)| format!("{t}={n}")).collect();
        let restricted = self.parties.values().filter(|r| **r).count();
        let t = &totals;
        need(t.remaining == t.licensed - (t.ordered - t.returned), || "remaining != licensed - net ordered".into())?;
        Ok(Report {
            lines: vec![
                format!(
                    "OK: {lines} events valid, {} bytes, line length min/avg/max = {}/{avg_len:.1}/{}, last at {}",
                    self.bytes,
                    self.min_len.unwrap_or(0),
                    self.max_len,
                    self.last_at.as_deref().unwrap_or("None")
                ),
                format!("types: {}", types.join(" ")),
                format!(
                    "parties={} restricted={restricted} licenses={} orders={}",
                    self.parties.len(),
                    self.lics.len(),
                    self.orders.len()
                ),
                format!(
                    "totals: licenses={} licensed={} ordered={} returned={} shipped={} remaining={}",
                    t.licenses, t.licensed, t.ordered, t.returned, t.shipped, t.remaining
                ),
                // Not in the script's output: what revoked licenses had left, which no total of
                // qledger counts as remaining (issue 11).
                format!("revoked: unused={}", t.revoked_unused),
            ],
        })
    }

    fn totals(&self) -> Result<Totals, String> {
        let mut t = Totals {
            licenses: self.lics.len() as u64,
            licensed: 0,
            ordered: 0,
            returned: 0,
            shipped: 0,
            remaining: 0,
            revoked_unused: 0,
        };
        for (id, &i) in &self.lic_index {
            let l = &self.lics[i];
            let remaining = l.quantity - l.gross + l.returned;
            need(remaining >= 0, || format!("license {id} remaining {remaining} < 0"))?;
            t.licensed += l.quantity;
            t.ordered += l.gross;
            t.returned += l.returned;
            t.shipped += l.shipped;
            t.remaining += remaining;
            if l.state == LicState::Revoked {
                t.revoked_unused += remaining;
            }
        }
        Ok(t)
    }
}

fn parse_rule(rule: &Map<String, Value>) -> Result<Rule, String> {
    match rule.get("kind").and_then(Value::as_str) {
        Some("bundle_ratio") => match (py_int(rule.get("domestic")), py_int(rule.get("per"))) {
            (Some(domestic), Some(per)) if domestic > 0 && per > 0 => Ok(Rule::BundleRatio { domestic, per }),
            _ => Err("bad bundle_ratio".into()),
        },
        Some("max_per_order") => match py_int(rule.get("units")) {
            Some(units) if units > 0 => Ok(Rule::MaxPerOrder { units }),
            _ => Err("bad max_per_order".into()),
        },
        Some("end_use" | "reporting") => match rule.get("text") {
            Some(Value::String(_)) => Ok(Rule::Text),
            _ => Err("text missing".into()),
        },
        _ => Err(format!("unknown rule kind {}", repr(rule.get("kind")))),
    }
}

/// Every condition not withdrawn must be final and respected.
fn check_conditions(conds: &[Cond], lic_id: &str, quantity: i128, domestic: i128) -> Checked {
    for c in conds.iter().filter(|c| !c.withdrawn) {
        need(c.is_final, || format!("pending condition {} on {lic_id}", c.id))?;
        match c.rule {
            Rule::BundleRatio { domestic: d, per } => {
                let required = -((-quantity * d).div_euclid(per));
                need(domestic >= required, || {
                    format!("domestic_quantity {domestic} < {required} required by {}", c.id)
                })?;
            }
            Rule::MaxPerOrder { units } => {
                need(quantity <= units, || format!("quantity {quantity} > max_per_order {units}"))?;
            }
            Rule::Text => {}
        }
    }
    Ok(())
}
