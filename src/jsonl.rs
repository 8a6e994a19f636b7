//! The JSON Lines input format: one event per line, tagged by `"type"`, snake_case fields.
//!
//! Parsing is strict: unknown fields, fields that belong to another event type, duplicate
//! keys, wrong types, numbers outside u64 and lines over [`LINE_BYTES_MAX`] are refused with the
//! line number and the field. Semantic rules (ids exist, quota left, ...) are not checked
//! here but in `domain::rules`.

use crate::domain::event::EventType;
use crate::domain::EVENT_TYPES;
use crate::domain::{Day, Deny, Event, Gates, InputFlags, Rule, Stamp, Timestamp};
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
    /// The line as read (lossy UTF-8), for a `refused` record; `None` if it was not read.
    pub raw: Option<String>,
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

/// Fields every event may carry (all optional).
pub const COMMON_FIELDS: &[&str] = &["at?", "actor?", "key?", "late_reason?"];

/// The rule kinds of `condition_added` and their fields.
pub const RULE_KINDS: &[(&str, &[&str])] = &[
    ("bundle_ratio", &["domestic", "per"]),
    ("max_per_order", &["units"]),
    ("end_use", &["text"]),
    ("reporting", &["text"]),
    ("max_shipments", &["count"]),
];

/// The fields of one event type, from the domain's table: required ones, then the optional
/// ones marked `?` (`license|licenses`: one of the two).
pub fn fields_of(t: &EventType) -> Vec<String> {
    t.required.iter().map(|f| f.to_string()).chain(t.optional.iter().map(|f| format!("{f}?"))).collect()
}

/// Every event type a user may append with its fields ([`fields_of`]), from
/// [`crate::domain::EVENT_TYPES`], the one table the parser and `append --help` derive from.
pub fn event_types() -> Vec<(&'static str, Vec<String>)> {
    EVENT_TYPES.iter().map(|t| (t.name, fields_of(t))).collect()
}

/// `append --help`'s list of event types and their fields, from [`EVENT_TYPES`].
pub fn event_types_help() -> String {
    let mut s = String::from("Event types (one JSON object per line; `?` marks an optional field):\n");
    for (name, fields) in event_types() {
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
    #[serde(default, deserialize_with = "present")]
    licenses: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    hold: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    ceiling: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    policy: Option<String>,
    #[serde(default, deserialize_with = "present")]
    deny: Option<RawDeny>,
    #[serde(default, deserialize_with = "present")]
    per_party: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    refers_to: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    approved_by: Option<String>,
    #[serde(default, deserialize_with = "present")]
    late_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeny {
    #[serde(default, deserialize_with = "present")]
    state_backed: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    sectors: Option<Vec<String>>,
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
    #[serde(default, deserialize_with = "present")]
    count: Option<u64>,
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

/// Parses one line (without its newline). An error keeps the line (lossy UTF-8) in `raw`.
pub fn parse_line(line_no: u64, bytes: &[u8], defaults: &Defaults) -> Result<InputEvent, InputError> {
    parse_line_inner(line_no, bytes, defaults).map_err(|mut e| {
        e.raw = Some(String::from_utf8_lossy(bytes).into_owned());
        e
    })
}

fn parse_line_inner(line_no: u64, bytes: &[u8], defaults: &Defaults) -> Result<InputEvent, InputError> {
    let err = |field: Option<&str>, message: String| InputError {
        line: line_no,
        field: field.map(str::to_string),
        message,
        raw: None,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return Err(err(None, format!("not valid UTF-8 (at byte {})", e.valid_up_to()))),
    };
    // From the checked text: serde_json then skips checking each string's UTF-8 again.
    let mut raw: RawEvent = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(_) => return Err(describe_json_error(line_no, bytes)),
    };
    let ty = raw.ty.take().ok_or_else(|| err(Some("type"), "missing".to_string()))?;
    let Some((event_type, allowed_fields)) = typed_fields(&ty) else {
        let shown: String = ty.chars().take(64).collect();
        let hint = crate::suggest::hint(&ty, EVENT_TYPES.iter().map(|t| t.name));
        return Err(err(Some("type"), format!("unknown event type {shown:?}{hint}")));
    };
    if let Some(extra) = FieldTable::of(&raw).first_outside(allowed_fields) {
        let own = fields_of(event_type).join(", ");
        let a = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        return Err(err(Some(extra), format!("does not belong to {a} {ty} event (its fields: {own})")));
    }
    let at = match &raw.at {
        Some(s) => Timestamp::parse(s).map_err(|m| err(Some("at"), m))?,
        None => defaults.at,
    };
    let actor = match raw.actor.take() {
        Some(actor) => actor,
        None if defaults.actor.is_empty() => return Err(err(Some("actor"), ACTOR_MISSING.to_string())),
        None => defaults.actor.clone(),
    };
    let mut stamp = Stamp::new(at, actor, raw.key.take());
    stamp.late_reason = raw.late_reason.take();
    let flags = InputFlags { confusable_ok: raw.confusable_ok.unwrap_or(false) };
    let fields = Fields { line_no, ty: &ty };
    let event = match fields.core_event(&mut raw)? {
        Some(event) => event,
        None => fields.licensing_event(&mut raw)?,
    };
    Ok(InputEvent { line: line_no, stamp, event, flags })
}

/// Takes the fields of one parsed line, naming the line, the field and the event type in
/// every error.
struct Fields<'t> {
    line_no: u64,
    ty: &'t str,
}

impl Fields<'_> {
    fn err(&self, field: &str, message: String) -> InputError {
        InputError { line: self.line_no, field: Some(field.to_string()), message, raw: None }
    }

    fn s(&self, v: &mut Option<String>, f: &str) -> Result<String, InputError> {
        v.take().ok_or_else(|| self.err(f, format!("missing (required by {})", self.ty)))
    }

    fn u(&self, v: Option<u64>, f: &str) -> Result<u64, InputError> {
        v.ok_or_else(|| self.err(f, format!("missing (required by {})", self.ty)))
    }

    fn day(&self, v: &mut Option<String>, f: &str) -> Result<Day, InputError> {
        let s = self.s(v, f)?;
        Day::parse(&s).map_err(|m| self.err(f, m))
    }

    /// The event types of the core ledger; `None` for the licensing ones.
    fn core_event(&self, raw: &mut RawEvent) -> Result<Option<Event>, InputError> {
        Ok(Some(match self.ty {
            "party_registered" => Event::PartyRegistered {
                party: self.s(&mut raw.party, "party")?,
                name: self.s(&mut raw.name, "name")?,
                country: self.s(&mut raw.country, "country")?,
                state_backed: raw.state_backed.ok_or_else(|| self.err("state_backed", "missing".into()))?,
                sector: self.s(&mut raw.sector, "sector")?,
            },
            "party_restricted" => Event::PartyRestricted {
                party: self.s(&mut raw.party, "party")?,
                reason: self.s(&mut raw.reason, "reason")?,
            },
            "license_granted" => Event::LicenseGranted {
                license: self.s(&mut raw.license, "license")?,
                authority: self.s(&mut raw.authority, "authority")?,
                licensee: self.s(&mut raw.licensee, "licensee")?,
                product: self.s(&mut raw.product, "product")?,
                quantity: self.u(raw.quantity, "quantity")?,
                valid_from: self.day(&mut raw.valid_from, "valid_from")?,
                valid_until: self.day(&mut raw.valid_until, "valid_until")?,
                // The first approval round unless said otherwise.
                round: raw.round.unwrap_or(1),
            },
            "condition_added" => {
                let r =
                    raw.rule.take().ok_or_else(|| self.err("rule", format!("missing (required by {})", self.ty)))?;
                Event::ConditionAdded {
                    license: self.s(&mut raw.license, "license")?,
                    condition: self.s(&mut raw.condition, "condition")?,
                    rule: parse_rule(self.line_no, r)?,
                    // Conditions are pending until said final: the safe reading for orders.
                    is_final: raw.is_final.unwrap_or(false),
                }
            }
            "condition_finalized" => Event::ConditionFinalized {
                license: self.s(&mut raw.license, "license")?,
                condition: self.s(&mut raw.condition, "condition")?,
            },
            "condition_withdrawn" => Event::ConditionWithdrawn {
                license: self.s(&mut raw.license, "license")?,
                condition: self.s(&mut raw.condition, "condition")?,
                reason: self.s(&mut raw.reason, "reason")?,
            },
            "order_placed" => self.order(raw)?,
            "order_cancelled" => Event::OrderCancelled {
                order: self.s(&mut raw.order, "order")?,
                reason: self.s(&mut raw.reason, "reason")?,
            },
            "shipment_recorded" => Event::ShipmentRecorded {
                order: self.s(&mut raw.order, "order")?,
                quantity: self.u(raw.quantity, "quantity")?,
            },
            "quota_amended" => Event::QuotaAmended {
                license: self.s(&mut raw.license, "license")?,
                quantity: self.u(raw.quantity, "quantity")?,
                reason: self.s(&mut raw.reason, "reason")?,
            },
            "license_suspended" | "license_reinstated" | "license_revoked" => self.license_status(raw)?,
            _ => return Ok(None),
        }))
    }

    fn license_status(&self, raw: &mut RawEvent) -> Result<Event, InputError> {
        let license = self.s(&mut raw.license, "license")?;
        let reason = self.s(&mut raw.reason, "reason")?;
        Ok(match self.ty {
            "license_suspended" => Event::LicenseSuspended { license, reason },
            "license_reinstated" => Event::LicenseReinstated { license, reason },
            _ => Event::LicenseRevoked { license, reason },
        })
    }

    /// `order_placed`: `license` or `licenses` (exactly one of the two); `domestic_quantity`
    /// 0 when absent (a bundle rule then refuses it); `hold` false when absent.
    fn order(&self, raw: &mut RawEvent) -> Result<Event, InputError> {
        let licenses = match (raw.license.take(), raw.licenses.take()) {
            (Some(one), None) => Gates(vec![one]),
            (None, Some(many)) if !many.is_empty() => Gates(many),
            (None, Some(_)) => return Err(self.err("licenses", "must name at least one license".into())),
            (Some(_), Some(_)) => return Err(self.err("licenses", "give either license or licenses, not both".into())),
            (None, None) => {
                return Err(self.err("license", "missing (required by order_placed: license or licenses)".into()))
            }
        };
        Ok(Event::OrderPlaced {
            order: self.s(&mut raw.order, "order")?,
            licenses,
            quantity: self.u(raw.quantity, "quantity")?,
            domestic_quantity: raw.domestic_quantity.unwrap_or(0),
            supplier: self.s(&mut raw.supplier, "supplier")?,
            hold: raw.hold.unwrap_or(false),
        })
    }

    /// The event types of the licensing world: rounds, policies, caps, corrections.
    fn licensing_event(&self, raw: &mut RawEvent) -> Result<Event, InputError> {
        Ok(match self.ty {
            "round_opened" => Event::RoundOpened {
                authority: self.s(&mut raw.authority, "authority")?,
                round: self.u(raw.round, "round")?,
                product: self.s(&mut raw.product, "product")?,
                ceiling: self.u(raw.ceiling, "ceiling")?,
            },
            "round_closed" => Event::RoundClosed {
                authority: self.s(&mut raw.authority, "authority")?,
                round: self.u(raw.round, "round")?,
            },
            "policy_set" => {
                let d = raw.deny.take().ok_or_else(|| self.err("deny", "missing (required by policy_set)".into()))?;
                Event::PolicySet {
                    policy: self.s(&mut raw.policy, "policy")?,
                    authority: self.s(&mut raw.authority, "authority")?,
                    product: self.s(&mut raw.product, "product")?,
                    deny: Deny {
                        state_backed: d.state_backed.unwrap_or(false),
                        sectors: d.sectors.unwrap_or_default(),
                    },
                    reason: self.s(&mut raw.reason, "reason")?,
                }
            }
            "policy_lifted" => Event::PolicyLifted {
                policy: self.s(&mut raw.policy, "policy")?,
                reason: self.s(&mut raw.reason, "reason")?,
            },
            "exemption_granted" => Event::ExemptionGranted {
                policy: self.s(&mut raw.policy, "policy")?,
                party: self.s(&mut raw.party, "party")?,
                reason: self.s(&mut raw.reason, "reason")?,
            },
            "cap_set" => Event::CapSet {
                authority: self.s(&mut raw.authority, "authority")?,
                product: self.s(&mut raw.product, "product")?,
                per_party: self.u(raw.per_party, "per_party")?,
            },
            _ => Event::ShipmentCorrected {
                refers_to: self.u(raw.refers_to, "refers_to")?,
                quantity: self.u(raw.quantity, "quantity")?,
                reason: self.s(&mut raw.reason, "reason")?,
                approved_by: self.s(&mut raw.approved_by, "approved_by")?,
            },
        })
    }
}

fn parse_rule(line_no: u64, r: RawRule) -> Result<Rule, InputError> {
    let err =
        |field: &str, message: String| InputError { line: line_no, field: Some(field.to_string()), message, raw: None };
    let kind = r.kind.as_deref().ok_or_else(|| err("rule.kind", "missing".into()))?;
    let present = [
        ("domestic", r.domestic.is_some()),
        ("per", r.per.is_some()),
        ("units", r.units.is_some()),
        ("text", r.text.is_some()),
        ("count", r.count.is_some()),
    ];
    let allowed: &[&str] = match kind {
        "bundle_ratio" => &["domestic", "per"],
        "max_per_order" => &["units"],
        "end_use" | "reporting" => &["text"],
        "max_shipments" => &["count"],
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
        "max_shipments" => Rule::MaxShipments { count: need_u(r.count, "count")? },
        _ => Rule::Reporting { text: need_s(r.text)? },
    })
}

/// The JSON names of [`FieldTable`]'s fields, in its order.
const FIELD_NAMES: [&str; 29] = [
    "party",
    "name",
    "country",
    "state_backed",
    "sector",
    "reason",
    "license",
    "authority",
    "licensee",
    "product",
    "quantity",
    "valid_from",
    "valid_until",
    "round",
    "condition",
    "rule",
    "final",
    "order",
    "domestic_quantity",
    "supplier",
    "confusable_ok",
    "licenses",
    "hold",
    "ceiling",
    "policy",
    "deny",
    "per_party",
    "refers_to",
    "approved_by",
];

const _: () = assert!(FIELD_NAMES.len() <= u32::BITS as usize, "a FieldTable is one u32");

/// Which fields a raw event carries: bit `i` for [`FIELD_NAMES`]`[i]`.
struct FieldTable(u32);

impl FieldTable {
    fn of(r: &RawEvent) -> FieldTable {
        let present = [
            r.party.is_some(),
            r.name.is_some(),
            r.country.is_some(),
            r.state_backed.is_some(),
            r.sector.is_some(),
            r.reason.is_some(),
            r.license.is_some(),
            r.authority.is_some(),
            r.licensee.is_some(),
            r.product.is_some(),
            r.quantity.is_some(),
            r.valid_from.is_some(),
            r.valid_until.is_some(),
            r.round.is_some(),
            r.condition.is_some(),
            r.rule.is_some(),
            r.is_final.is_some(),
            r.order.is_some(),
            r.domestic_quantity.is_some(),
            r.supplier.is_some(),
            r.confusable_ok.is_some(),
            r.licenses.is_some(),
            r.hold.is_some(),
            r.ceiling.is_some(),
            r.policy.is_some(),
            r.deny.is_some(),
            r.per_party.is_some(),
            r.refers_to.is_some(),
            r.approved_by.is_some(),
        ];
        FieldTable(present.iter().enumerate().fold(0, |bits, (i, &p)| bits | (u32::from(p) << i)))
    }

    /// The first field present (in [`FIELD_NAMES`]' order) that `allowed` does not hold.
    fn first_outside(&self, allowed: u32) -> Option<&'static str> {
        let extra = self.0 & !allowed;
        (extra != 0).then(|| FIELD_NAMES[extra.trailing_zeros() as usize])
    }
}

/// The event type named `ty` and the fields it allows, as [`FieldTable`] bits: worked out once
/// per type from [`EVENT_TYPES`] (matching each present field against the type's names for
/// every line took about 7% of the parse thread's instructions).
fn typed_fields(ty: &str) -> Option<(&'static EventType, u32)> {
    static TYPES: std::sync::OnceLock<Vec<(&'static EventType, u32)>> = std::sync::OnceLock::new();
    let types = TYPES.get_or_init(|| {
        EVENT_TYPES
            .iter()
            .map(|t| {
                let allowed =
                    |f: &str| t.required.iter().chain(t.optional).any(|a| *a == f || a.split('|').any(|p| p == f));
                let bits = FIELD_NAMES.iter().enumerate().filter(|(_, f)| allowed(f)).fold(0, |b, (i, _)| b | (1 << i));
                (t, bits)
            })
            .collect()
    });
    types.iter().find(|(t, _)| t.name == ty).copied()
}

/// Re-parses a line that failed, with the path of the failing field, for a precise message.
/// Only the error path pays for this. A syntax error names the column (the line is the input
/// line); an unknown field names the nearest known one.
fn describe_json_error(line_no: u64, bytes: &[u8]) -> InputError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<RawEvent, _> = serde_path_to_error::deserialize(&mut de);
    let (path, e) = match result {
        Ok(_) => return InputError { line: line_no, field: None, message: "not a JSON object".into(), raw: None },
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
    InputError { line: line_no, field: if no_field { None } else { Some(path) }, message, raw: None }
}

/// `" (did you mean `quantity`?)"` for an unknown field at `path` (`quantty`, `rule.unit`).
fn unknown_field_hint(path: &str) -> String {
    let (in_rule, name) = match path.strip_prefix("rule.") {
        Some(name) => (true, name),
        None => (false, path),
    };
    let mut known: Vec<String> = Vec::new();
    if in_rule {
        known.push("kind".into());
        known.extend(RULE_KINDS.iter().flat_map(|(_, f)| f.iter().map(|f| f.to_string())));
    } else {
        known.push("type".into());
        known.extend(COMMON_FIELDS.iter().map(|f| f.to_string()));
        known.extend(event_types().into_iter().flat_map(|(_, f)| f));
    }
    let known: Vec<String> =
        known.iter().flat_map(|f| f.trim_end_matches('?').split('|').map(str::to_string).collect::<Vec<_>>()).collect();
    crate::suggest::hint(name, known.iter().map(String::as_str))
}

/// The UTF-8 byte order mark, skipped at the start of the input (and only there).
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads JSON Lines from `reader`, refusing lines over [`LINE_BYTES_MAX`] without buffering
/// them. Blank lines are skipped (they still count for line numbers); a UTF-8 byte order mark
/// at the start of the input is skipped.
pub struct LineReader<R> {
    reader: R,
    line_no: u64,
    /// A line that lay across the end of the reader's buffer, copied together.
    buf: Vec<u8>,
    /// Bytes of the reader's buffer handed out as the last line, consumed on the next call.
    lent: usize,
    done: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(reader: R) -> LineReader<R> {
        LineReader { reader, line_no: 0, buf: Vec::with_capacity(1024), lent: 0, done: false }
    }

    /// The next non-blank line and its number; `Ok(None)` at the end.
    ///
    /// A line that lies whole in the reader's buffer is handed out from there, without a copy
    /// (copying every line took a tenth of the parse thread's time in a bulk append), and
    /// found with `memchr`.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, LineError> {
        loop {
            self.reader.consume(std::mem::take(&mut self.lent));
            if self.done {
                return Ok(None);
            }
            self.line_no += 1;
            let whole = match self.whole_line()? {
                Some(w) => w,
                None => match self.copied_line()? {
                    Some(true) => return Ok(Some((self.line_no, &self.buf))),
                    Some(false) => continue,
                    None => return Err(LineError::TooLong { line: self.line_no }),
                },
            };
            let (start, end, len) = whole;
            self.lent = len + 1;
            if len > LINE_BYTES_MAX {
                return Err(LineError::TooLong { line: self.line_no });
            }
            if start == end {
                continue;
            }
            let chunk = fill_buf(&mut self.reader)?;
            return Ok(Some((self.line_no, &chunk[start..end])));
        }
    }

    /// If the next line lies whole in the reader's buffer (ended by a newline there): where
    /// its content lies in the buffer, `start..end` (empty if blank), and its length before
    /// the newline. Nothing is consumed.
    fn whole_line(&mut self) -> Result<Option<(usize, usize, usize)>, LineError> {
        let first = self.line_no == 1;
        let chunk = fill_buf(&mut self.reader)?;
        let Some(len) = memchr::memchr(b'\n', chunk) else { return Ok(None) };
        let raw = &chunk[..len];
        // Editors on Windows start UTF-8 files with a byte order mark; it is not data.
        let start = if first && raw.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
        let end = len - usize::from(raw[start..].ends_with(b"\r"));
        if raw[start..end].iter().all(u8::is_ascii_whitespace) {
            return Ok(Some((0, 0, len)));
        }
        Ok(Some((start, end, len)))
    }

    /// The next line copied into `buf`, read across the reader's buffer refills: `Some(true)`
    /// if it holds something, `Some(false)` if blank, `None` if too long (skipped to its end).
    fn copied_line(&mut self) -> Result<Option<bool>, LineError> {
        self.buf.clear();
        let mut too_long = false;
        loop {
            let chunk = fill_buf(&mut self.reader)?;
            if chunk.is_empty() {
                self.done = true;
                break;
            }
            let (take, end) = match memchr::memchr(b'\n', chunk) {
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
            return Ok(None);
        }
        if self.line_no == 1 && self.buf.starts_with(UTF8_BOM) {
            self.buf.drain(..UTF8_BOM.len());
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(!self.buf.iter().all(u8::is_ascii_whitespace)))
    }
}

/// The reader's buffered bytes, refilled if empty; interrupted reads are retried.
fn fill_buf<R: BufRead>(reader: &mut R) -> Result<&[u8], LineError> {
    loop {
        match reader.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LineError::Io(e)),
        }
    }
    // Filled: asked again, it hands out the same bytes (returned from inside the loop, the
    // borrow would outlive it).
    reader.fill_buf().map_err(LineError::Io)
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
                raw: None,
            },
            LineError::Io(e) => {
                InputError { line: line_fallback, field: None, message: format!("read error: {e}"), raw: None }
            }
        }
    }
}
