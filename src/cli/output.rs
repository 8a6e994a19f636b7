//! Human and JSON output. The JSON shapes are documented in the README and stable.
//!
//! Every field from the ledger that human output shows goes through [`super::terminal::escape`]
//! (`esc`), so no id or text can act on the terminal. Sums over licenses are u128: a total
//! never wraps or panics, even over a ledger older than the rule that keeps totals in u64.

use super::terminal::escape as esc;
use super::ui::{self, Paint};
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

mod state_text;

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
    let appended = Paint::Green.out(&format!("appended {}", ui::count(r.appended, "event")));
    let skipped = ui::thousands(r.skipped.len() as u64);
    match r.head.last_seq() {
        Some(seq) => writeln!(out, "{appended} ({skipped} skipped); head seq {seq} hash {}", hex(&r.head.last_hash))?,
        None => writeln!(out, "{appended} ({skipped} skipped); the ledger is empty")?,
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
    let ok = Paint::Green.out("ok:");
    write!(out, "{ok} {} in {} verified", ui::count(r.records, "record"), ui::count(r.blocks, "block"))?;
    if r.rules {
        if r.index_records == r.head.records {
            let entries = ui::count_of(r.index_entries, "index entry", "index entries");
            write!(out, ", every record within the rules, {entries} match a rebuild")?;
        } else {
            write!(
                out,
                ", every record within the rules; the stored index covers {} of {} (the next append catches it up)",
                ui::thousands(r.index_records),
                ui::count(r.head.records, "record")
            )?;
        }
    }
    let snapshots = ui::count(r.snapshots, "snapshot");
    write!(out, ", {snapshots} {} a fresh replay", if r.snapshots == 1 { "matches" } else { "match" })?;
    if r.rules {
        let (leaves, checkpoints) = (ui::count(r.tree_leaves, "record"), ui::count(r.checkpoints, "signed checkpoint"));
        write!(out, ", the Merkle tree of {leaves} and {checkpoints} match the records")?;
    }
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
            Some(seq) => writeln!(out, "seq {seq} records {} hash {}", ui::thousands(h.records), hex(&h.last_hash))?,
            None => writeln!(out, "empty ledger: 0 records")?,
        }
    }
    Ok(())
}

fn rule_json(r: &Rule) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

pub(crate) fn rule_text(r: &Rule) -> String {
    match r {
        Rule::BundleRatio { domestic, per } => {
            format!("bundle {} domestic per {}", ui::thousands(*domestic), ui::thousands(*per))
        }
        Rule::MaxPerOrder { units } => format!("max {} per order", ui::thousands(*units)),
        Rule::EndUse { text } => format!("end use: {}", esc(text)),
        Rule::Reporting { text } => format!("reporting: {}", esc(text)),
        Rule::MaxShipments { count } => format!("max {} shipments", ui::thousands(*count)),
    }
}

pub(crate) fn condition_status(c: &Condition) -> &'static str {
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
    /// The totals of each authority (an order on two gates counts once in each).
    totals_by_authority: Vec<AuthorityTotals<'a>>,
    #[serde(flatten)]
    licensing: super::licensing::LicensingJson,
}

#[derive(Serialize)]
struct AuthorityTotals<'a> {
    authority: &'a str,
    licenses: u64,
    #[serde(flatten)]
    sums: Sums,
}

#[derive(Serialize)]
struct AsOfJson {
    seq: Option<u64>,
    records: u64,
    at: Option<String>,
    /// Records read but left out, dated after the time asked for (late entries recorded later
    /// are in; what came after them in ledger order but is dated later is out).
    left_out: u64,
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

/// How a listing is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Tables and lines for people.
    Text,
    /// JSON (stable shapes, documented in the README).
    Json,
    /// CSV with a header line.
    Csv,
}

impl Format {
    /// From the `--json` and `--csv` flags (clap keeps them exclusive).
    pub fn of(json: bool, csv: bool) -> Format {
        match (json, csv) {
            (true, _) => Format::Json,
            (false, true) => Format::Csv,
            (false, false) => Format::Text,
        }
    }
}

/// The `state --license/--party` filters.
#[derive(Clone, Copy, Debug, Default)]
pub struct StateFilter<'a> {
    /// Only this license.
    pub license: Option<&'a str>,
    /// Only this party and its licenses.
    pub party: Option<&'a str>,
}

/// What `state` shows: the licenses and parties the filters keep, with the parties' sums.
pub(crate) struct StateView<'s> {
    pub(crate) licenses: Vec<(&'s String, &'s License)>,
    pub(crate) parties: Vec<(&'s String, &'s Party, Sums)>,
    pub(crate) totals: Sums,
}

impl<'s> StateView<'s> {
    /// The licenses shown, summed per authority: `(authority, licenses, sums)`, by authority.
    pub(crate) fn by_authority(&self) -> Vec<(&'s str, u64, Sums)> {
        let mut groups: std::collections::BTreeMap<&'s str, Vec<&'s License>> = std::collections::BTreeMap::new();
        for (_, l) in &self.licenses {
            groups.entry(l.authority.as_str()).or_default().push(l);
        }
        groups.into_iter().map(|(a, ls)| (a, ls.len() as u64, Sums::of(ls))).collect()
    }

    fn of(s: &'s QuotaState, license: Option<&str>, party: Option<&str>) -> Result<StateView<'s>> {
        if let Some(l) = license {
            if !s.licenses.contains_key(l) {
                let hint = crate::suggest::hint(l, s.licenses.keys().map(String::as_str));
                return Err(NotFound(format!("--license: no license {l} in the state{hint}")).into());
            }
        }
        if let Some(p) = party {
            if !s.parties.contains_key(p) {
                let hint = crate::suggest::hint(p, s.parties.keys().map(String::as_str));
                return Err(NotFound(format!("--party: no party {p} in the state{hint}")).into());
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
    filter: &StateFilter<'_>,
    format: Format,
) -> Result<()> {
    let view = StateView::of(s, filter.license, filter.party)?;
    let as_of = AsOfJson {
        seq: s.records.checked_sub(1),
        records: s.records,
        at: s.last_at.map(|t| t.to_string()),
        left_out: s.passed_over,
    };
    match format {
        Format::Text => {
            state_text::render(out, &view, (as_of.seq, s.last_at, s.passed_over, ledger.head().records))?;
            super::licensing::sections(out, s, filter.party)?;
            Ok(())
        }
        Format::Csv => state_text::csv(out, &view),
        Format::Json => state_json(out, ledger, (s, filter.party), &view, as_of),
    }
}

fn state_json(
    out: &mut dyn Write,
    ledger: &Ledger,
    (s, party): (&QuotaState, Option<&str>),
    view: &StateView<'_>,
    as_of: AsOfJson,
) -> Result<()> {
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
        totals_by_authority: view
            .by_authority()
            .into_iter()
            .map(|(authority, licenses, sums)| AuthorityTotals { authority, licenses, sums })
            .collect(),
        licensing: super::licensing::LicensingJson::of(s, party),
        as_of,
    };
    serde_json::to_writer(&mut *out, &v)?;
    writeln!(out)?;
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

/// Which records `log` shows and how.
#[derive(Clone, Copy, Debug)]
pub struct LogShape {
    /// The first seq read.
    pub from: u64,
    /// At most this many records (with `reverse`, the last ones).
    pub limit: Option<u64>,
    /// Newest first (the matching records, at most `limit`, are held in memory).
    pub reverse: bool,
    /// Text, JSON Lines or CSV.
    pub format: Format,
}

/// `log` output: one row (or JSON object, or CSV line) per record.
pub fn log(out: &mut dyn Write, ledger: &Ledger, f: &Filter, shape: &LogShape) -> Result<()> {
    // Licensees never change, so the head state maps any license to its party.
    let head_state = if f.party.is_some() { Some(ledger.state()?) } else { None };
    let mut printer = LogPrinter::new(shape.format);
    let mut newest: std::collections::VecDeque<StoredRecord> = std::collections::VecDeque::new();
    let mut shown = 0u64;
    for item in ledger.records(shape.from)? {
        if !shape.reverse && shape.limit.is_some_and(|n| shown >= n) {
            break;
        }
        let r = item?;
        if !log_matches(f, head_state.as_ref(), &r) {
            continue;
        }
        shown += 1;
        if shape.reverse {
            if shape.limit.is_some_and(|n| newest.len() as u64 >= n) {
                newest.pop_front();
            }
            if shape.limit != Some(0) {
                newest.push_back(r);
            }
        } else {
            printer.row(out, &r)?;
        }
    }
    for r in newest.iter().rev() {
        printer.row(out, r)?;
    }
    printer.finish(out)
}

fn log_matches(f: &Filter, head_state: Option<&QuotaState>, r: &StoredRecord) -> bool {
    if f.license.as_deref().is_some_and(|l| !r.fact.touches(l)) {
        return false;
    }
    if f.order.as_deref().is_some_and(|o| !r.fact.concerns_order(o)) {
        return false;
    }
    if f.late && !r.fact.stamp.is_late() {
        return false;
    }
    if let (Some(p), Some(s)) = (f.party.as_deref(), head_state) {
        let direct = matches!(&r.fact.event,
            Event::PartyRegistered { party, .. } | Event::PartyRestricted { party, .. }
            | Event::ExemptionGranted { party, .. } if party == p);
        let via_license = r.fact.licenses_touched().iter().any(|l| s.licenses.get(*l).is_some_and(|l| l.licensee == p));
        let granted = matches!(&r.fact.event, Event::LicenseGranted { licensee, .. } if licensee == p);
        return direct || via_license || granted;
    }
    true
}

/// Prints `log` rows in one of the formats.
struct LogPrinter {
    format: Format,
    table: ui::TableStream,
    csv_started: bool,
}

impl LogPrinter {
    /// Hex digits of the hash in the text table: enough to be unique, and accepted as a prefix
    /// by `verify --expect-head`; JSON and CSV carry all 64.
    const HASH_DIGITS: usize = 16;

    fn new(format: Format) -> LogPrinter {
        let table = ui::TableStream::new(&["SEQ", "AT", "TYPE", "SUBJECT", "HASH"], &[0], &[]);
        LogPrinter { format, table, csv_started: false }
    }

    fn row(&mut self, out: &mut dyn Write, r: &StoredRecord) -> Result<()> {
        let e = &r.fact.event;
        match self.format {
            Format::Json => log_line(out, r)?,
            Format::Csv => {
                if !self.csv_started {
                    self.csv_started = true;
                    out.write_all(
                        ui::csv_line(&["seq", "at", "actor", "key", "type", "subject", "license", "hash"]).as_bytes(),
                    )?;
                }
                let (seq, at, hash) = (r.seq.to_string(), r.fact.stamp.at.to_string(), hex(&r.hash));
                let key = r.fact.stamp.key.as_deref().unwrap_or("");
                let license = r.fact.license().unwrap_or("");
                let subject = e.subject();
                let fields = [&seq, &at, r.fact.stamp.actor.as_str(), key, e.type_name(), &subject, license, &hash];
                out.write_all(ui::csv_line(&fields).as_bytes())?;
            }
            Format::Text => {
                let hash = hex(&r.hash);
                let short = hash.get(..Self::HASH_DIGITS).unwrap_or(&hash);
                let subject = e.subject();
                let subject = match &r.fact.stamp.late_reason {
                    Some(reason) => format!("{} LATE (recorded {}): {}", esc(&subject), recorded(r), esc(reason)),
                    None => esc(&subject).into_owned(),
                };
                let row = vec![
                    ui::cell(r.seq, None),
                    ui::cell(ui::time_s(r.fact.stamp.at), None),
                    ui::cell(e.type_name(), None),
                    ui::cell(subject, None),
                    ui::cell(short, Some(Paint::Dim)),
                ];
                self.table.push(out, row)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> Result<()> {
        if self.format == Format::Text {
            self.table.flush(out)?;
        }
        Ok(())
    }
}

fn log_line(out: &mut dyn Write, r: &StoredRecord) -> Result<()> {
    let e = &r.fact.event;
    let v = json!({
        "seq": r.seq, "at": r.fact.stamp.at, "actor": r.fact.stamp.actor, "key": r.fact.stamp.key,
        "type": e.type_name(), "subject": e.subject(), "license": r.fact.license(), "hash": hex(&r.hash),
        "recorded_at": r.fact.stamp.recorded_at, "late_reason": r.fact.stamp.late_reason,
        "allow_future": r.fact.stamp.allow_future,
    });
    writeln!(out, "{v}")?;
    Ok(())
}

/// When a record was recorded, to the second (`?` for format 1 records, which kept no clock).
fn recorded(r: &StoredRecord) -> String {
    r.fact.stamp.recorded_at.map_or("?".to_string(), ui::time_s)
}

/// Which events `replay` shows and how.
#[derive(Clone, Copy, Debug)]
pub struct ReplayShape {
    /// The first seq shown.
    pub from: u64,
    /// The last seq, or time, shown.
    pub to: Option<AsOf>,
    /// At most this many events.
    pub limit: Option<u64>,
    /// JSON Lines instead of a table.
    pub json: bool,
}

type Side = Option<(u64, crate::domain::LicenseStatus, u64)>;

/// `replay` output: each event with its effect on the license it touched.
pub fn replay(out: &mut dyn Write, ledger: &Ledger, license: Option<&str>, shape: &ReplayShape) -> Result<()> {
    let mut state = match shape.from.checked_sub(1) {
        None => QuotaState::default(),
        Some(before) => ledger.state_as_of(AsOf::Seq(before))?,
    };
    let total = ledger.head().records.saturating_sub(state.records);
    let bar = super::progress::Progress::new("replaying", Some(total), "records");
    let mut table = ui::TableStream::new(&["SEQ", "AT", "TYPE", "SUBJECT", "EFFECT"], &[0], &[4]);
    let mut shown = 0u64;
    for item in ledger.records(state.records)? {
        let r = item?;
        bar.inc(1);
        match shape.to {
            Some(AsOf::Seq(n)) if r.seq > n => break,
            Some(AsOf::Time(t)) if r.fact.stamp.at > t => break,
            _ => {}
        }
        if shape.limit.is_some_and(|n| shown >= n) {
            break;
        }
        let touched = r.fact.license().map(str::to_string);
        let side = |s: &QuotaState| -> Side {
            touched.as_deref().and_then(|l| s.licenses.get(l)).map(|l| (l.remaining(), l.status, l.shipped))
        };
        let before = side(&state);
        let gates_before = super::licensing::Disclosure::gates_before(&state, &r.fact);
        state.apply(&r.fact);
        if license.is_some_and(|l| !r.fact.touches(l)) {
            continue;
        }
        shown += 1;
        let after = side(&state);
        let disclosure = super::licensing::Disclosure::of(gates_before, &state, &r.fact);
        if shape.json {
            replay_json(out, &r, touched.as_deref(), (before, after), &disclosure)?;
            continue;
        }
        let effect = touched.as_deref().map(|l| effect_text(&esc(l), &r.fact.event, before, after)).unwrap_or_default();
        let more = disclosure.text();
        let effect = match (effect.is_empty(), more.is_empty()) {
            (_, true) => effect,
            (true, false) => more,
            (false, false) => format!("{effect} | {more}"),
        };
        let e = &r.fact.event;
        let row = vec![
            ui::cell(r.seq, None),
            ui::cell(ui::time_s(r.fact.stamp.at), None),
            ui::cell(e.type_name(), None),
            ui::cell(esc(&e.subject()), None),
            ui::cell(effect, None),
        ];
        table.push(out, row)?;
    }
    drop(bar);
    if !shape.json {
        table.flush(out)?;
    }
    Ok(())
}

fn replay_json(
    out: &mut dyn Write,
    r: &StoredRecord,
    touched: Option<&str>,
    (before, after): (Side, Side),
    disclosure: &super::licensing::Disclosure,
) -> Result<()> {
    let side = |x: Side| x.map(|(rem, st, sh)| json!({ "remaining": rem, "status": status_name(st), "shipped": sh }));
    let v = json!({
        "seq": r.seq, "at": r.fact.stamp.at, "actor": r.fact.stamp.actor, "event": r.fact.event,
        "license": touched, "before": side(before), "after": side(after),
        "recorded_at": r.fact.stamp.recorded_at, "disclosure": disclosure.json(),
    });
    writeln!(out, "{v}")?;
    Ok(())
}

/// What an event did to license `l`: `CN-IMP-2026-0001 remaining 150,000 -> 110,000`.
fn effect_text(l: &str, event: &Event, before: Side, after: Side) -> String {
    let n = ui::thousands;
    let Some(a) = after else { return String::new() };
    let Some(b) = before else { return format!("{l} granted: remaining {}", n(a.0)) };
    let mut effect = String::new();
    if b.0 != a.0 {
        effect = format!("{l} remaining {} -> {}", n(b.0), n(a.0));
    }
    if b.2 != a.2 {
        effect = format!("{l} shipped {} -> {}", n(b.2), n(a.2));
    }
    if b.1 != a.1 {
        effect = format!("{l} {} -> {}", status_name(b.1), status_name(a.1));
    }
    if !effect.is_empty() {
        return effect;
    }
    match event {
        Event::ConditionAdded { condition, is_final, .. } => {
            let status = if *is_final { "final" } else { "pending" };
            format!("{l} condition {} {status}", esc(condition))
        }
        Event::ConditionFinalized { condition, .. } => format!("{l} condition {} pending -> final", esc(condition)),
        Event::ConditionWithdrawn { condition, .. } => format!("{l} condition {} withdrawn", esc(condition)),
        _ => format!("{l} remaining {}", n(a.0)),
    }
}

/// `export`: every record as one JSON line.
pub fn export(out: &mut dyn Write, ledger: &Ledger) -> Result<()> {
    let bar = super::progress::Progress::new("exporting", Some(ledger.head().records), "records");
    for item in ledger.records(0)? {
        let r = item?;
        bar.inc(1);
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
