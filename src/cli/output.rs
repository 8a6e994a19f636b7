//! Human and JSON output. The JSON shapes are documented in the README and stable.
//!
//! Every field from the ledger that human output shows goes through [`super::terminal::escape`]
//! (`esc`), so no id or text can act on the terminal. Sums over licenses are u128: a total
//! never wraps or panics, even over a ledger older than the rule that keeps totals in u64.

use super::terminal::escape as esc;
use super::NotFound;
use crate::domain::quota::Condition;
use crate::domain::rules::status_name;
use crate::domain::{ConditionStatus, Event, License, Party, QuotaState, Rule};
use crate::format::chain::hex;
use crate::ledger::{AppendReport, AsOf, Head, Ledger, LedgerError, StoredRecord, VerifyReport};
use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;

fn head_json(h: &Head) -> Value {
    json!({ "seq": h.last_seq(), "records": h.records, "hash": hex(&h.last_hash) })
}

/// `append` output.
pub fn append_report(out: &mut dyn Write, r: &AppendReport, json: bool) -> Result<()> {
    if json {
        let skipped: Vec<Value> =
            r.skipped.iter().map(|(line, key, seq)| json!({ "line": line, "key": key, "seq": seq })).collect();
        let mut v = json!({ "appended": r.appended, "skipped": skipped, "head": head_json(&r.head) });
        if !r.refusals.is_empty() {
            v["refusals"] = r.refusals.iter().map(|(line, rule)| json!({ "line": line, "rule": rule })).collect();
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    for (line, key, seq) in &r.skipped {
        writeln!(out, "line {line}: skipped: key {} already recorded this event at seq {seq}", esc(key))?;
    }
    for (line, rule) in &r.refusals {
        writeln!(out, "line {line}: refused ({rule}); recorded as a refused record")?;
    }
    match r.head.last_seq() {
        Some(seq) => writeln!(
            out,
            "appended {} events ({} skipped); head seq {seq} hash {}",
            r.appended,
            r.skipped.len(),
            hex(&r.head.last_hash)
        )?,
        None => writeln!(out, "appended 0 events ({} skipped); the ledger is empty", r.skipped.len())?,
    }
    Ok(())
}

/// `append --json` failure (the one-line error still goes to stderr): what was refused and why.
pub fn append_failed(out: &mut dyn Write, e: &LedgerError) -> Result<()> {
    let error = match e {
        LedgerError::Refused { line, event_type, subject, refusal } => json!({
            "line": line, "type": event_type, "subject": subject, "field": refusal.field,
            "rule": refusal.reason.as_str(), "message": refusal.message,
        }),
        LedgerError::Input(i) => json!({ "line": i.line, "field": i.field, "rule": "bad_input", "message": i.message }),
        other => json!({ "message": other.to_string() }),
    };
    writeln!(out, "{}", json!({ "appended": 0, "error": error }))?;
    Ok(())
}

/// `verify` success.
pub fn verify_ok(out: &mut dyn Write, r: &VerifyReport, json: bool) -> Result<()> {
    if json {
        let v = json!({
            "ok": true, "records": r.records, "blocks": r.blocks, "snapshots": r.snapshots,
            "rules_checked": r.rules, "index_entries": r.index_entries,
            "index_records": r.index_records,
            "head": head_json(&r.head), "expected_head_seq": r.expected_seq,
            "tree_leaves": r.tree_leaves, "checkpoints": r.checkpoints,
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    write!(out, "ok: {} records in {} blocks verified", r.records, r.blocks)?;
    if r.rules {
        if r.index_records == r.head.records {
            write!(out, ", every record within the rules, {} index entries match a rebuild", r.index_entries)?;
        } else {
            write!(
                out,
                ", every record within the rules; the stored index covers {} of {} records (the next append catches it up)",
                r.index_records, r.head.records
            )?;
        }
    }
    write!(out, ", {} snapshots match a fresh replay", r.snapshots)?;
    write!(
        out,
        ", the Merkle tree of {} records and {} signed checkpoints match the records",
        r.tree_leaves, r.checkpoints
    )?;
    write!(out, "; head hash {}", hex(&r.head.last_hash))?;
    if let Some(seq) = r.expected_seq {
        write!(out, "; the expected head is seq {seq}")?;
    }
    writeln!(out)?;
    Ok(())
}

/// `verify --json` failure (the one-line error still goes to stderr).
pub fn verify_failed(out: &mut dyn Write, e: &LedgerError) -> Result<()> {
    let seq = match e {
        LedgerError::Integrity(i) => i.seq(),
        _ => None,
    };
    writeln!(out, "{}", json!({ "ok": false, "seq": seq, "error": e.to_string() }))?;
    Ok(())
}

/// `head` output.
pub fn head(out: &mut dyn Write, h: &Head, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", head_json(h))?;
    } else {
        match h.last_seq() {
            Some(seq) => writeln!(out, "seq {seq} records {} hash {}", h.records, hex(&h.last_hash))?,
            None => writeln!(out, "empty ledger: 0 records")?,
        }
    }
    Ok(())
}

fn rule_json(r: &Rule) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn rule_text(r: &Rule) -> String {
    match r {
        Rule::BundleRatio { domestic, per } => format!("bundle {domestic} domestic per {per}"),
        Rule::MaxPerOrder { units } => format!("max {units} per order"),
        Rule::EndUse { text } => format!("end use: {}", esc(text)),
        Rule::Reporting { text } => format!("reporting: {}", esc(text)),
        Rule::MaxShipments { count } => format!("max {count} shipments"),
    }
}

fn condition_status(c: &Condition) -> &'static str {
    match c.status {
        ConditionStatus::Pending => "pending",
        ConditionStatus::Final => "final",
        ConditionStatus::Withdrawn => "withdrawn",
    }
}

/// Units summed over licenses: u128, so no sum of u64 quantities can wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    /// Sum of the quotas.
    pub licensed: u128,
    /// Sum of the units ordered, net of cancellations.
    pub ordered: u128,
    /// Sum of the units shipped.
    pub shipped: u128,
    /// Sum of the units remaining.
    pub remaining: u128,
}

impl Sums {
    /// The sums over `licenses`.
    pub fn of<'l>(licenses: impl IntoIterator<Item = &'l License>) -> Sums {
        let mut s = Sums::default();
        for l in licenses {
            s.licensed += u128::from(l.quantity);
            s.ordered += u128::from(l.ordered());
            s.shipped += u128::from(l.shipped);
            s.remaining += u128::from(l.remaining());
        }
        s
    }
}

/// `state --json`, as documented in the README. Serialized by serde straight to text (u128
/// sums are plain JSON numbers there; `serde_json::Value` cannot hold one beyond u64).
#[derive(Serialize)]
struct StateJson<'a> {
    as_of: AsOfJson,
    head: Value,
    licenses: Vec<LicenseJson<'a>>,
    parties: Vec<PartyJson<'a>>,
    totals: Sums,
    #[serde(flatten)]
    licensing: super::licensing::LicensingJson,
}

#[derive(Serialize)]
struct AsOfJson {
    seq: Option<u64>,
    records: u64,
    at: Option<String>,
}

#[derive(Serialize)]
struct LicenseJson<'a> {
    license: &'a str,
    licensee: &'a str,
    authority: &'a str,
    product: &'a str,
    round: u64,
    status: &'static str,
    quantity: u64,
    ordered: u64,
    shipped: u64,
    remaining: u64,
    valid_from: String,
    valid_until: String,
    conditions: Vec<Value>,
    #[serde(flatten)]
    extra: super::licensing::LicenseExtra,
}

#[derive(Serialize)]
struct PartyJson<'a> {
    party: &'a str,
    name: &'a str,
    country: &'a str,
    sector: &'a str,
    state_backed: bool,
    restricted: bool,
    #[serde(flatten)]
    sums: Sums,
}

impl<'a> LicenseJson<'a> {
    fn of(id: &'a str, l: &'a License) -> LicenseJson<'a> {
        LicenseJson {
            license: id,
            licensee: &l.licensee,
            authority: &l.authority,
            product: &l.product,
            round: l.round,
            status: status_name(l.status),
            quantity: l.quantity,
            ordered: l.ordered(),
            shipped: l.shipped,
            remaining: l.remaining(),
            valid_from: l.valid_from.to_string(),
            valid_until: l.valid_until.to_string(),
            conditions: l
                .conditions
                .iter()
                .map(|c| json!({ "condition": c.id, "rule": rule_json(&c.rule), "status": condition_status(c) }))
                .collect(),
            extra: super::licensing::LicenseExtra::of(l),
        }
    }
}

/// What `state` shows: the licenses and parties the filters keep, with the parties' sums.
struct StateView<'s> {
    licenses: Vec<(&'s String, &'s License)>,
    parties: Vec<(&'s String, &'s Party, Sums)>,
    totals: Sums,
}

impl<'s> StateView<'s> {
    fn of(s: &'s QuotaState, license: Option<&str>, party: Option<&str>) -> Result<StateView<'s>> {
        if let Some(l) = license {
            if !s.licenses.contains_key(l) {
                return Err(NotFound(format!("--license: no license {l} in the state")).into());
            }
        }
        if let Some(p) = party {
            if !s.parties.contains_key(p) {
                return Err(NotFound(format!("--party: no party {p} in the state")).into());
            }
        }
        let licenses: Vec<(&String, &License)> = s
            .licenses
            .iter()
            .filter(|(id, l)| license.is_none_or(|f| f == id.as_str()) && party.is_none_or(|p| p == l.licensee))
            .collect();
        let parties = s
            .parties
            .iter()
            .filter(|(id, _)| {
                party.is_none_or(|p| p == id.as_str())
                    && license.is_none_or(|l| s.licenses.get(l).is_some_and(|x| &x.licensee == *id))
            })
            .map(|(id, p)| (id, p, Sums::of(s.licenses.values().filter(|l| &l.licensee == id))))
            .collect();
        let totals = Sums::of(licenses.iter().map(|(_, l)| *l));
        Ok(StateView { licenses, parties, totals })
    }
}

/// `state` output: licenses, parties and totals, optionally filtered.
pub fn state(
    out: &mut dyn Write,
    ledger: &Ledger,
    s: &QuotaState,
    license: Option<&str>,
    party: Option<&str>,
    json: bool,
) -> Result<()> {
    let view = StateView::of(s, license, party)?;
    let as_of = AsOfJson { seq: s.records.checked_sub(1), records: s.records, at: s.last_at.map(|t| t.to_string()) };
    if json {
        let v = StateJson {
            head: head_json(&ledger.head()),
            licenses: view.licenses.iter().map(|(id, l)| LicenseJson::of(id, l)).collect(),
            parties: view
                .parties
                .iter()
                .map(|(id, p, sums)| PartyJson {
                    party: id,
                    name: &p.name,
                    country: &p.country,
                    sector: &p.sector,
                    state_backed: p.state_backed,
                    restricted: p.restricted,
                    sums: *sums,
                })
                .collect(),
            totals: view.totals,
            licensing: super::licensing::LicensingJson::of(s, party),
            as_of,
        };
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    state_text(out, &view, &as_of)?;
    super::licensing::sections(out, s, party)?;
    Ok(())
}

fn state_text(out: &mut dyn Write, view: &StateView<'_>, as_of: &AsOfJson) -> Result<()> {
    match (as_of.seq, &as_of.at) {
        (Some(seq), Some(at)) => writeln!(out, "quota state as of seq {seq} ({at})")?,
        _ => writeln!(out, "quota state of an empty ledger")?,
    }
    writeln!(
        out,
        "{:<22} {:<14} {:<9} {:>12} {:>12} {:>12} {:>12}  {:<23}",
        "LICENSE", "LICENSEE", "STATUS", "QUANTITY", "ORDERED", "SHIPPED", "REMAINING", "VALID"
    )?;
    for (id, l) in &view.licenses {
        writeln!(
            out,
            "{:<22} {:<14} {:<9} {:>12} {:>12} {:>12} {:>12}  {}..{}",
            esc(id),
            esc(&l.licensee),
            status_name(l.status),
            l.quantity,
            l.ordered(),
            l.shipped,
            l.remaining(),
            l.valid_from,
            l.valid_until
        )?;
        for c in &l.conditions {
            writeln!(out, "    condition {} [{}] {}", esc(&c.id), condition_status(c), rule_text(&c.rule))?;
        }
        super::licensing::license_line(out, l)?;
    }
    writeln!(
        out,
        "{:<22} {:<14} {:<9} {:>12} {:>12} {:>12} {:>12}",
        "PARTY", "", "", "LICENSED", "ORDERED", "SHIPPED", "REMAINING"
    )?;
    for (id, p, sums) in &view.parties {
        let mark = if p.restricted { "restricted" } else { "" };
        writeln!(
            out,
            "{:<22} {:<14} {:<9} {:>12} {:>12} {:>12} {:>12}",
            esc(id),
            mark,
            "",
            sums.licensed,
            sums.ordered,
            sums.shipped,
            sums.remaining
        )?;
    }
    let t = view.totals;
    writeln!(
        out,
        "{:<22} {:<14} {:<9} {:>12} {:>12} {:>12} {:>12}",
        "TOTAL", "", "", t.licensed, t.ordered, t.shipped, t.remaining
    )?;
    Ok(())
}

/// Record filters for `log`.
#[derive(Debug, Default)]
pub struct Filter {
    /// Events touching this license.
    pub license: Option<String>,
    /// Events on this order.
    pub order: Option<String>,
    /// Events about this party or its licenses.
    pub party: Option<String>,
    /// Only late entries.
    pub late: bool,
}

/// `log` output: one line (or JSON object) per record.
pub fn log(out: &mut dyn Write, ledger: &Ledger, f: &Filter, from: u64, limit: Option<u64>, json: bool) -> Result<()> {
    // Licensees never change, so the head state maps any license to its party.
    let head_state = if f.party.is_some() { Some(ledger.state()?) } else { None };
    let mut shown = 0u64;
    for item in ledger.records(from)? {
        if limit.is_some_and(|n| shown >= n) {
            break;
        }
        let r = item?;
        let license = r.fact.license();
        if f.license.as_deref().is_some_and(|l| !r.fact.touches(l)) {
            continue;
        }
        if f.order.as_deref().is_some_and(|o| r.fact.order() != Some(o)) {
            continue;
        }
        if f.late && !r.fact.stamp.is_late() {
            continue;
        }
        if let (Some(p), Some(s)) = (f.party.as_deref(), &head_state) {
            let direct = matches!(&r.fact.event,
                Event::PartyRegistered { party, .. } | Event::PartyRestricted { party, .. } if party == p);
            let via_license = license.and_then(|l| s.licenses.get(l)).is_some_and(|l| l.licensee == p);
            let granted = matches!(&r.fact.event, Event::LicenseGranted { licensee, .. } if licensee == p);
            if !(direct || via_license || granted) {
                continue;
            }
        }
        shown += 1;
        log_line(out, &r, json)?;
    }
    Ok(())
}

fn log_line(out: &mut dyn Write, r: &StoredRecord, json: bool) -> Result<()> {
    let e = &r.fact.event;
    if json {
        let v = json!({
            "seq": r.seq, "at": r.fact.stamp.at, "actor": r.fact.stamp.actor, "key": r.fact.stamp.key,
            "type": e.type_name(), "subject": e.subject(), "license": r.fact.license(), "hash": hex(&r.hash),
            "recorded_at": r.fact.stamp.recorded_at, "late_reason": r.fact.stamp.late_reason,
            "allow_future": r.fact.stamp.allow_future,
        });
        writeln!(out, "{v}")?;
    } else {
        let subject = e.subject();
        let subject = esc(&subject);
        let late = match &r.fact.stamp.late_reason {
            Some(reason) => format!("  LATE (recorded {}): {}", recorded(r), esc(reason)),
            None => String::new(),
        };
        writeln!(
            out,
            "{:>8}  {}  {:<20} {:<24} {}{late}",
            r.seq,
            r.fact.stamp.at,
            e.type_name(),
            subject,
            hex(&r.hash)
        )?;
    }
    Ok(())
}

/// When a record was recorded, to the second (`?` for format 1 records, which kept no clock).
fn recorded(r: &StoredRecord) -> String {
    r.fact.stamp.recorded_at.map_or("?".to_string(), |t| crate::domain::Timestamp { nanos: 0, ..t }.to_string())
}

/// `replay` output: each event with its effect on the license it touched.
pub fn replay(
    out: &mut dyn Write,
    ledger: &Ledger,
    license: Option<&str>,
    from: u64,
    to: Option<AsOf>,
    json: bool,
) -> Result<()> {
    let mut state = match from.checked_sub(1) {
        None => QuotaState::default(),
        Some(before) => ledger.state_as_of(AsOf::Seq(before))?,
    };
    for item in ledger.records(state.records)? {
        let r = item?;
        match to {
            Some(AsOf::Seq(n)) if r.seq > n => break,
            Some(AsOf::Time(t)) if r.fact.stamp.at > t => break,
            _ => {}
        }
        let touched = r.fact.license().map(str::to_string);
        let before =
            touched.as_deref().and_then(|l| state.licenses.get(l)).map(|l| (l.remaining(), l.status, l.shipped));
        let gates_before = super::licensing::Disclosure::gates_before(&state, &r.fact);
        state.apply(&r.fact);
        if license.is_some_and(|l| !r.fact.touches(l)) {
            continue;
        }
        let disclosure = super::licensing::Disclosure::of(gates_before, &state, &r.fact);
        let after =
            touched.as_deref().and_then(|l| state.licenses.get(l)).map(|l| (l.remaining(), l.status, l.shipped));
        let e = &r.fact.event;
        if json {
            let side = |x: Option<(u64, crate::domain::LicenseStatus, u64)>| {
                x.map(|(rem, st, sh)| json!({ "remaining": rem, "status": status_name(st), "shipped": sh }))
            };
            let v = json!({
                "seq": r.seq, "at": r.fact.stamp.at, "actor": r.fact.stamp.actor, "event": e,
                "license": touched, "before": side(before), "after": side(after),
                "recorded_at": r.fact.stamp.recorded_at, "disclosure": disclosure.json(),
            });
            writeln!(out, "{v}")?;
            continue;
        }
        let mut effect = String::new();
        let touched = touched.as_deref().map(esc);
        if let (Some(l), Some(a)) = (&touched, after) {
            match before {
                None => effect = format!("{l} granted: remaining {}", a.0),
                Some(b) => {
                    if b.0 != a.0 {
                        effect = format!("{l} remaining {} -> {}", b.0, a.0);
                    }
                    if b.2 != a.2 {
                        effect = format!("{l} shipped {} -> {}", b.2, a.2);
                    }
                    if b.1 != a.1 {
                        effect = format!("{l} {} -> {}", status_name(b.1), status_name(a.1));
                    }
                    if effect.is_empty() {
                        effect = match &r.fact.event {
                            Event::ConditionAdded { condition, is_final, .. } => {
                                let status = if *is_final { "final" } else { "pending" };
                                format!("{l} condition {} {status}", esc(condition))
                            }
                            Event::ConditionFinalized { condition, .. } => {
                                format!("{l} condition {} pending -> final", esc(condition))
                            }
                            Event::ConditionWithdrawn { condition, .. } => {
                                format!("{l} condition {} withdrawn", esc(condition))
                            }
                            _ => format!("{l} remaining {}", a.0),
                        };
                    }
                }
            }
        }
        let more = disclosure.text();
        if !more.is_empty() {
            effect = if effect.is_empty() { more } else { format!("{effect} | {more}") };
        }
        let subject = e.subject();
        let subject = esc(&subject);
        writeln!(out, "{:>8}  {}  {:<20} {:<24} {}", r.seq, r.fact.stamp.at, e.type_name(), subject, effect)?;
    }
    Ok(())
}

/// `export`: every record as one JSON line.
pub fn export(out: &mut dyn Write, ledger: &Ledger) -> Result<()> {
    for item in ledger.records(0)? {
        let r = item?;
        let v = json!({
            "seq": r.seq, "at": r.fact.stamp.at, "actor": r.fact.stamp.actor, "key": r.fact.stamp.key,
            "event": r.fact.event, "context": r.fact.context, "prev": hex(&r.prev), "hash": hex(&r.hash),
            "bytes": hex(&r.bytes), "recorded_at": r.fact.stamp.recorded_at,
            "late_reason": r.fact.stamp.late_reason, "allow_future": r.fact.stamp.allow_future,
        });
        writeln!(out, "{v}")?;
    }
    Ok(())
}
