//! The JSON Lines input format: one event per line, tagged by `"type"`, snake_case fields.
//!
//! Parsing is strict: unknown fields, fields that belong to another event type, duplicate
//! keys, wrong types, numbers outside u64 and lines over [`LINE_BYTES_MAX`] are refused with the
//! line number and the field. Semantic rules (ids exist, quota left, ...) are not checked
//! here but in `domain::rules`.

use crate::domain::{Day, Event, InputFlags, Rule, Stamp, Timestamp};
use crate::limits::LINE_BYTES_MAX;
use serde::Deserialize;
use std::fmt;
use std::io::{self, BufRead};

/// A line that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// 1-based line number.
    pub line: u64,
    /// The field concerned, if one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: field `{field}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// One parsed input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    /// 1-based line number.
    pub line: u64,
    /// Stamp (defaults filled in).
    pub stamp: Stamp,
    /// The event.
    pub event: Event,
    /// What the line says about itself (`confusable_ok`); not stored.
    pub flags: InputFlags,
}

/// What to fill in when a line has no `at` or `actor`.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Used when `at` is absent (the caller's clock).
    pub at: Timestamp,
    /// Used when `actor` is absent; empty when the caller has none (no `--actor`,
    /// `$QLEDGER_ACTOR` or `$USER`): a line without `actor` is then refused.
    pub actor: String,
}

/// Why a line without `actor` is refused when the caller has no default actor.
pub const ACTOR_MISSING: &str =
    "missing, and no default: give \"actor\" on the line, pass --actor NAME, or set $QLEDGER_ACTOR";

/// Every event type of the input and its fields (`?` marks an optional one), besides `type`
/// and the [`COMMON_FIELDS`]. The parser takes each type's allowed fields from here, and
/// `append --help` lists this table.
pub const EVENT_TYPES: &[(&str, &[&str])] = &[
    ("party_registered", &["party", "name", "country", "state_backed", "sector", "confusable_ok?"]),
    ("party_restricted", &["party", "reason"]),
    (
        "license_granted",
        &["license", "authority", "licensee", "product", "quantity", "valid_from", "valid_until", "round?"],
    ),
    ("condition_added", &["license", "condition", "rule", "final?"]),
    ("condition_finalized", &["license", "condition"]),
    ("condition_withdrawn", &["license", "condition", "reason"]),
    ("order_placed", &["order", "license", "quantity", "domestic_quantity", "supplier"]),
    ("order_cancelled", &["order", "reason"]),
    ("shipment_recorded", &["order", "quantity"]),
    ("quota_amended", &["license", "quantity", "reason"]),
    ("license_suspended", &["license", "reason"]),
    ("license_reinstated", &["license", "reason"]),
    ("license_revoked", &["license", "reason"]),
];

/// Fields every event may carry (all optional).
pub const COMMON_FIELDS: &[&str] = &["at?", "actor?", "key?"];

/// The rule kinds of `condition_added` and their fields.
pub const RULE_KINDS: &[(&str, &[&str])] = &[
    ("bundle_ratio", &["domestic", "per"]),
    ("max_per_order", &["units"]),
    ("end_use", &["text"]),
    ("reporting", &["text"]),
];

/// The fields of an event type (`?` marks an optional one), if the type exists.
pub fn event_fields(ty: &str) -> Option<&'static [&'static str]> {
    EVENT_TYPES.iter().find(|(name, _)| *name == ty).map(|(_, fields)| *fields)
}

/// `append --help`'s list of event types and their fields, from [`EVENT_TYPES`].
pub fn event_types_help() -> String {
    let mut s = String::from("Event types (one JSON object per line; `?` marks an optional field):\n");
    for (name, fields) in EVENT_TYPES {
        s.push_str(&format!("  {name:<20} {}\n", fields.join(", ")));
    }
    s.push_str(&format!("  every event may carry: {}\n", COMMON_FIELDS.join(", ")));
    let kinds: Vec<String> = RULE_KINDS.iter().map(|(k, f)| format!("{k} {{{}}}", f.join(", "))).collect();
    s.push_str(&format!("  rule kinds: {}\n", kinds.join(", ")));
    s.push_str("  e.g. {\"type\":\"shipment_recorded\",\"order\":\"O-1\",\"quantity\":10000}\n\n");
    s.push_str(crate::cli::examples::APPEND);
    s
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(rename = "type")]
    #[serde(default, deserialize_with = "present")]
    ty: Option<String>,
    #[serde(default, deserialize_with = "present")]
    at: Option<String>,
    #[serde(default, deserialize_with = "present")]
    actor: Option<String>,
    #[serde(default, deserialize_with = "present")]
    key: Option<String>,
    #[serde(default, deserialize_with = "present")]
    party: Option<String>,
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    country: Option<String>,
    #[serde(default, deserialize_with = "present")]
    state_backed: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    sector: Option<String>,
    #[serde(default, deserialize_with = "present")]
    reason: Option<String>,
    #[serde(default, deserialize_with = "present")]
    license: Option<String>,
    #[serde(default, deserialize_with = "present")]
    authority: Option<String>,
    #[serde(default, deserialize_with = "present")]
    licensee: Option<String>,
    #[serde(default, deserialize_with = "present")]
    product: Option<String>,
    #[serde(default, deserialize_with = "present")]
    quantity: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    valid_from: Option<String>,
    #[serde(default, deserialize_with = "present")]
    valid_until: Option<String>,
    #[serde(default, deserialize_with = "present")]
    round: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    condition: Option<String>,
    #[serde(default, deserialize_with = "present")]
    rule: Option<RawRule>,
    #[serde(rename = "final")]
    #[serde(default, deserialize_with = "present")]
    is_final: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    order: Option<String>,
    #[serde(default, deserialize_with = "present")]
    domestic_quantity: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    supplier: Option<String>,
    #[serde(default, deserialize_with = "present")]
    confusable_ok: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, deserialize_with = "present")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "present")]
    domestic: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    per: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    units: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    text: Option<String>,
}

/// A field that is present must hold a value: `null` is refused (as the wrong type), never
/// read as absent, so `"at": null` cannot silently mean "now".
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Parses one line (without its newline).
pub fn parse_line(line_no: u64, bytes: &[u8], defaults: &Defaults) -> Result<InputEvent, InputError> {
    let err =
        |field: Option<&str>, message: String| InputError { line: line_no, field: field.map(str::to_string), message };
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(err(None, format!("not valid UTF-8 (at byte {})", e.valid_up_to())));
    }
    let raw: RawEvent = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(_) => return Err(describe_json_error(line_no, bytes)),
    };
    let ty = raw.ty.as_deref().ok_or_else(|| err(Some("type"), "missing".to_string()))?;
    let fields = FieldTable::of(&raw);
    let Some(allowed) = event_fields(ty) else {
        let shown: String = ty.chars().take(64).collect();
        let hint = crate::suggest::hint(ty, EVENT_TYPES.iter().map(|(name, _)| *name));
        return Err(err(Some("type"), format!("unknown event type {shown:?}{hint}")));
    };
    if let Some(extra) = fields.present().find(|f| !allowed.iter().any(|a| a.trim_end_matches('?') == *f)) {
        let own = allowed.iter().map(|a| a.trim_end_matches('?')).collect::<Vec<_>>().join(", ");
        let a = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        return Err(err(Some(extra), format!("does not belong to {a} {ty} event (its fields: {own})")));
    }
    let need_s = |v: Option<String>, f: &str| v.ok_or_else(|| err(Some(f), format!("missing (required by {ty})")));
    let need_u = |v: Option<u64>, f: &str| v.ok_or_else(|| err(Some(f), format!("missing (required by {ty})")));
    let day = |v: Option<String>, f: &str| {
        let s = need_s(v, f)?;
        Day::parse(&s).map_err(|m| err(Some(f), m))
    };
    let at = match raw.at {
        Some(s) => Timestamp::parse(&s).map_err(|m| err(Some("at"), m))?,
        None => defaults.at,
    };
    let actor = match raw.actor {
        Some(actor) => actor,
        None if defaults.actor.is_empty() => return Err(err(Some("actor"), ACTOR_MISSING.to_string())),
        None => defaults.actor.clone(),
    };
    let stamp = Stamp { at, actor, key: raw.key };
    let event = match ty {
        "party_registered" => Event::PartyRegistered {
            party: need_s(raw.party, "party")?,
            name: need_s(raw.name, "name")?,
            country: need_s(raw.country, "country")?,
            state_backed: raw.state_backed.ok_or_else(|| err(Some("state_backed"), "missing".into()))?,
            sector: need_s(raw.sector, "sector")?,
        },
        "party_restricted" => {
            Event::PartyRestricted { party: need_s(raw.party, "party")?, reason: need_s(raw.reason, "reason")? }
        }
        "license_granted" => Event::LicenseGranted {
            license: need_s(raw.license, "license")?,
            authority: need_s(raw.authority, "authority")?,
            licensee: need_s(raw.licensee, "licensee")?,
            product: need_s(raw.product, "product")?,
            quantity: need_u(raw.quantity, "quantity")?,
            valid_from: day(raw.valid_from, "valid_from")?,
            valid_until: day(raw.valid_until, "valid_until")?,
            // The first approval round unless said otherwise.
            round: raw.round.unwrap_or(1),
        },
        "condition_added" => {
            let r = raw.rule.ok_or_else(|| err(Some("rule"), format!("missing (required by {ty})")))?;
            Event::ConditionAdded {
                license: need_s(raw.license, "license")?,
                condition: need_s(raw.condition, "condition")?,
                rule: parse_rule(line_no, r)?,
                // Conditions are pending until said final: the safe reading for orders.
                is_final: raw.is_final.unwrap_or(false),
            }
        }
        "condition_finalized" => Event::ConditionFinalized {
            license: need_s(raw.license, "license")?,
            condition: need_s(raw.condition, "condition")?,
        },
        "condition_withdrawn" => Event::ConditionWithdrawn {
            license: need_s(raw.license, "license")?,
            condition: need_s(raw.condition, "condition")?,
            reason: need_s(raw.reason, "reason")?,
        },
        "order_placed" => Event::OrderPlaced {
            order: need_s(raw.order, "order")?,
            license: need_s(raw.license, "license")?,
            quantity: need_u(raw.quantity, "quantity")?,
            domestic_quantity: need_u(raw.domestic_quantity, "domestic_quantity")?,
            supplier: need_s(raw.supplier, "supplier")?,
        },
        "order_cancelled" => {
            Event::OrderCancelled { order: need_s(raw.order, "order")?, reason: need_s(raw.reason, "reason")? }
        }
        "shipment_recorded" => {
            Event::ShipmentRecorded { order: need_s(raw.order, "order")?, quantity: need_u(raw.quantity, "quantity")? }
        }
        "quota_amended" => Event::QuotaAmended {
            license: need_s(raw.license, "license")?,
            quantity: need_u(raw.quantity, "quantity")?,
            reason: need_s(raw.reason, "reason")?,
        },
        "license_suspended" => {
            Event::LicenseSuspended { license: need_s(raw.license, "license")?, reason: need_s(raw.reason, "reason")? }
        }
        "license_reinstated" => {
            Event::LicenseReinstated { license: need_s(raw.license, "license")?, reason: need_s(raw.reason, "reason")? }
        }
        _ => Event::LicenseRevoked { license: need_s(raw.license, "license")?, reason: need_s(raw.reason, "reason")? },
    };
    let flags = InputFlags { confusable_ok: raw.confusable_ok.unwrap_or(false) };
    Ok(InputEvent { line: line_no, stamp, event, flags })
}

fn parse_rule(line_no: u64, r: RawRule) -> Result<Rule, InputError> {
    let err = |field: &str, message: String| InputError { line: line_no, field: Some(field.to_string()), message };
    let kind = r.kind.as_deref().ok_or_else(|| err("rule.kind", "missing".into()))?;
    let present = [
        ("domestic", r.domestic.is_some()),
        ("per", r.per.is_some()),
        ("units", r.units.is_some()),
        ("text", r.text.is_some()),
    ];
    let allowed: &[&str] = match kind {
        "bundle_ratio" => &["domestic", "per"],
        "max_per_order" => &["units"],
        "end_use" | "reporting" => &["text"],
        other => {
            let shown: String = other.chars().take(64).collect();
            let hint = crate::suggest::hint(other, RULE_KINDS.iter().map(|(k, _)| *k));
            return Err(err("rule.kind", format!("unknown rule kind {shown:?}{hint}")));
        }
    };
    if let Some((extra, _)) = present.iter().find(|(f, p)| *p && !allowed.contains(f)) {
        return Err(err(&format!("rule.{extra}"), format!("does not belong to a {kind} rule")));
    }
    let need_u =
        |v: Option<u64>, f: &str| v.ok_or_else(|| err(&format!("rule.{f}"), format!("missing (required by {kind})")));
    let need_s = |v: Option<String>| v.ok_or_else(|| err("rule.text", format!("missing (required by {kind})")));
    Ok(match kind {
        "bundle_ratio" => Rule::BundleRatio { domestic: need_u(r.domestic, "domestic")?, per: need_u(r.per, "per")? },
        "max_per_order" => Rule::MaxPerOrder { units: need_u(r.units, "units")? },
        "end_use" => Rule::EndUse { text: need_s(r.text)? },
        _ => Rule::Reporting { text: need_s(r.text)? },
    })
}

/// Which fields a raw event carries, by their JSON names.
struct FieldTable([(&'static str, bool); 21]);

impl FieldTable {
    fn of(r: &RawEvent) -> FieldTable {
        FieldTable([
            ("party", r.party.is_some()),
            ("name", r.name.is_some()),
            ("country", r.country.is_some()),
            ("state_backed", r.state_backed.is_some()),
            ("sector", r.sector.is_some()),
            ("reason", r.reason.is_some()),
            ("license", r.license.is_some()),
            ("authority", r.authority.is_some()),
            ("licensee", r.licensee.is_some()),
            ("product", r.product.is_some()),
            ("quantity", r.quantity.is_some()),
            ("valid_from", r.valid_from.is_some()),
            ("valid_until", r.valid_until.is_some()),
            ("round", r.round.is_some()),
            ("condition", r.condition.is_some()),
            ("rule", r.rule.is_some()),
            ("final", r.is_final.is_some()),
            ("order", r.order.is_some()),
            ("domestic_quantity", r.domestic_quantity.is_some()),
            ("supplier", r.supplier.is_some()),
            ("confusable_ok", r.confusable_ok.is_some()),
        ])
    }

    fn present(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().filter(|(_, p)| *p).map(|(f, _)| *f)
    }
}

/// Re-parses a line that failed, with the path of the failing field, for a precise message.
/// Only the error path pays for this. A syntax error names the column (the line is the input
/// line); an unknown field names the nearest known one.
fn describe_json_error(line_no: u64, bytes: &[u8]) -> InputError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<RawEvent, _> = serde_path_to_error::deserialize(&mut de);
    let (path, e) = match result {
        Ok(_) => return InputError { line: line_no, field: None, message: "not a JSON object".into() },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    let mut message = e.to_string();
    // serde_json appends " at line L column C"; the line is always 1 within one input line.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    // "unknown field `x`, expected one of ..." lists every field: keep the first clause.
    if message.starts_with("unknown field") {
        if let Some(i) = message.find(", expected") {
            message.truncate(i);
        }
        message.push_str(&unknown_field_hint(&path));
    }
    let syntax = matches!(e.classify(), serde_json::error::Category::Eof | serde_json::error::Category::Syntax);
    let message = match e.classify() {
        serde_json::error::Category::Eof => format!("column {}: truncated JSON: {message}", e.column()),
        serde_json::error::Category::Syntax => format!("column {}: malformed JSON: {message}", e.column()),
        _ => format!("column {}: {message}", e.column()),
    };
    // A syntax error has no field (serde_path_to_error says `?` or `.`).
    let no_field = syntax || path == "." || path == "?" || path.is_empty();
    InputError { line: line_no, field: if no_field { None } else { Some(path) }, message }
}

/// `" (did you mean `quantity`?)"` for an unknown field at `path` (`quantty`, `rule.unit`).
fn unknown_field_hint(path: &str) -> String {
    let (in_rule, name) = match path.strip_prefix("rule.") {
        Some(name) => (true, name),
        None => (false, path),
    };
    let mut known: Vec<&str> = Vec::new();
    if in_rule {
        known.push("kind");
        known.extend(RULE_KINDS.iter().flat_map(|(_, f)| f.iter().copied()));
    } else {
        known.push("type");
        known.extend(COMMON_FIELDS.iter().chain(EVENT_TYPES.iter().flat_map(|(_, f)| f.iter())).copied());
    }
    crate::suggest::hint(name, known.into_iter().map(|f| f.trim_end_matches('?')))
}

/// The UTF-8 byte order mark, skipped at the start of the input (and only there).
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads JSON Lines from `reader`, refusing lines over [`LINE_BYTES_MAX`] without buffering
/// them. Blank lines are skipped (they still count for line numbers); a UTF-8 byte order mark
/// at the start of the input is skipped.
pub struct LineReader<R> {
    reader: R,
    line_no: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(reader: R) -> LineReader<R> {
        LineReader { reader, line_no: 0, buf: Vec::with_capacity(1024), done: false }
    }

    /// The next non-blank line and its number; `Ok(None)` at the end.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, LineError> {
        loop {
            if self.done {
                return Ok(None);
            }
            self.buf.clear();
            self.line_no += 1;
            let mut too_long = false;
            loop {
                let chunk = match self.reader.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(LineError::Io(e)),
                };
                if chunk.is_empty() {
                    self.done = true;
                    break;
                }
                let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (i, true),
                    None => (chunk.len(), false),
                };
                if !too_long {
                    if self.buf.len() + take > LINE_BYTES_MAX {
                        too_long = true;
                    } else {
                        self.buf.extend_from_slice(&chunk[..take]);
                    }
                }
                self.reader.consume(take + usize::from(end));
                if end {
                    break;
                }
            }
            if too_long {
                return Err(LineError::TooLong { line: self.line_no });
            }
            if self.line_no == 1 && self.buf.starts_with(UTF8_BOM) {
                // Editors on Windows start UTF-8 files with a byte order mark; it is not data.
                self.buf.drain(..UTF8_BOM.len());
            }
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some((self.line_no, &self.buf)));
        }
    }
}

/// Why a line could not be read.
#[derive(Debug)]
pub enum LineError {
    /// Reading failed.
    Io(io::Error),
    /// The line exceeds [`LINE_BYTES_MAX`].
    TooLong {
        /// 1-based line number.
        line: u64,
    },
}

impl LineError {
    /// As an input error (a line that is too long) or an I/O error message.
    pub fn into_input_error(self, line_fallback: u64) -> InputError {
        match self {
            LineError::TooLong { line } => InputError {
                line,
                field: None,
                message: format!("line is longer than the limit of {LINE_BYTES_MAX} bytes"),
            },
            LineError::Io(e) => InputError { line: line_fallback, field: None, message: format!("read error: {e}") },
        }
    }
}
