//! Events: past-tense facts about parties, licenses, conditions, orders, rounds, policies and
//! caps.
//!
//! [`EVENT_TYPES`] is the one table of event types: the input parser, `append --help` and the
//! type names derive from it.

use super::time::{Day, Timestamp};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Who recorded a fact, when, and under which idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Effective (business) time of the fact (UTC). Never earlier than a fact before it, unless
    /// `late_reason` says why (a late entry).
    pub at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// Idempotency key: the same key with the same event is skipped, with another refused.
    pub key: Option<String>,
    /// Why this entry is dated before facts already recorded (a late entry).
    pub late_reason: Option<String>,
    /// The ledger's clock when the fact was appended, never going backwards. `None` on records
    /// of format 1, written before the ledger kept it; set by the ledger, never by input.
    pub recorded_at: Option<Timestamp>,
    /// The fact lay further ahead of the clock than the ledger's margin, and the append said
    /// `--allow-future`. Set by the ledger, never by input.
    pub allow_future: bool,
}

impl Stamp {
    /// A stamp for input: no late reason, not yet recorded.
    pub fn new(at: Timestamp, actor: impl Into<String>, key: Option<String>) -> Stamp {
        Stamp { at, actor: actor.into(), key, late_reason: None, recorded_at: None, allow_future: false }
    }

    /// Whether this is a late entry.
    pub fn is_late(&self) -> bool {
        self.late_reason.is_some()
    }
}

/// A condition's rule. Serializes in the JSON input shape (`{"kind": "bundle_ratio", ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Rule {
    /// Each order carries at least `ceil(quantity * domestic / per)` domestic units.
    BundleRatio { domestic: u64, per: u64 },
    /// No order larger than `units`.
    MaxPerOrder { units: u64 },
    /// A declared end use (recorded, not checked).
    EndUse { text: String },
    /// A reporting duty (recorded, not checked).
    Reporting { text: String },
    /// No more than `count` shipments on the license (a multi-use license's clearances).
    MaxShipments { count: u64 },
}

/// The licenses (gates) an order draws on: the buyer's license first, then any further gate
/// (an export license of the buyer or of the supplier). Serializes as `"license": ID` when
/// there is one (the shape of every order before gates existed) and as `"licenses": [...]`
/// otherwise; flattened into its event.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Gates(pub Vec<String>);

impl Gates {
    /// One license.
    pub fn one(license: impl Into<String>) -> Gates {
        Gates(vec![license.into()])
    }

    /// The buyer's license (the first).
    pub fn first(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    /// Every license, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether `license` is one of them.
    pub fn contains(&self, license: &str) -> bool {
        self.0.iter().any(|l| l == license)
    }
}

impl Serialize for Gates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        match self.0.as_slice() {
            [one] => m.serialize_entry("license", one)?,
            many => m.serialize_entry("licenses", many)?,
        }
        m.end()
    }
}

/// Which buyers a policy denies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deny {
    /// Every state-backed party.
    pub state_backed: bool,
    /// Every party whose sector is one of these.
    pub sectors: Vec<String>,
}

impl Deny {
    /// Whether a party with these attributes is caught. Sectors are free texts typed by
    /// clerks: they match without regard to case or surrounding spaces, so that a party
    /// registered in sector "Telecom " is not let through by a policy on "telecom".
    pub fn catches(&self, state_backed: bool, sector: &str) -> bool {
        let norm = |s: &str| s.trim().to_lowercase();
        (self.state_backed && state_backed) || self.sectors.iter().any(|s| norm(s) == norm(sector))
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One fact, as a user writes it. Serializes in the JSON input shape, tagged by `"type"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Event {
    PartyRegistered {
        party: String,
        name: String,
        country: String,
        state_backed: bool,
        sector: String,
    },
    PartyRestricted {
        party: String,
        reason: String,
    },
    LicenseGranted {
        license: String,
        authority: String,
        licensee: String,
        product: String,
        quantity: u64,
        valid_from: Day,
        valid_until: Day,
        round: u64,
    },
    ConditionAdded {
        license: String,
        condition: String,
        rule: Rule,
        #[serde(rename = "final")]
        is_final: bool,
    },
    ConditionFinalized {
        license: String,
        condition: String,
    },
    ConditionWithdrawn {
        license: String,
        condition: String,
        reason: String,
    },
    OrderPlaced {
        order: String,
        #[serde(flatten)]
        licenses: Gates,
        quantity: u64,
        domestic_quantity: u64,
        supplier: String,
        /// Hold the order (reserving its quantity) while a license has pending conditions,
        /// instead of refusing it.
        #[serde(skip_serializing_if = "is_false")]
        hold: bool,
    },
    OrderCancelled {
        order: String,
        reason: String,
    },
    ShipmentRecorded {
        order: String,
        quantity: u64,
    },
    QuotaAmended {
        license: String,
        quantity: u64,
        reason: String,
    },
    LicenseSuspended {
        license: String,
        reason: String,
    },
    LicenseReinstated {
        license: String,
        reason: String,
    },
    LicenseRevoked {
        license: String,
        reason: String,
    },
    RoundOpened {
        authority: String,
        round: u64,
        product: String,
        ceiling: u64,
    },
    RoundClosed {
        authority: String,
        round: u64,
    },
    PolicySet {
        policy: String,
        authority: String,
        product: String,
        deny: Deny,
        reason: String,
    },
    PolicyLifted {
        policy: String,
        reason: String,
    },
    ExemptionGranted {
        policy: String,
        party: String,
        reason: String,
    },
    CapSet {
        authority: String,
        product: String,
        per_party: u64,
    },
    ShipmentCorrected {
        refers_to: u64,
        quantity: u64,
        reason: String,
        approved_by: String,
    },
    /// An event the rules or the input checks refused, kept by `append --record-refusals`.
    /// Changes no quota.
    Refused {
        line: u64,
        /// The input line as given (cut at [`crate::limits::REFUSED_LINE_BYTES_MAX`] bytes).
        event: String,
        rule: String,
        message: String,
    },
}

/// One event type: its JSON name and its fields (besides `type`, `at`, `actor`, `key` and
/// `late_reason`, which every event may carry), required ones first. The table the input
/// parser and `append --help` derive from.
#[derive(Clone, Copy, Debug)]
pub struct EventType {
    /// The `"type"` value.
    pub name: &'static str,
    /// Required fields.
    pub required: &'static [&'static str],
    /// Optional fields.
    pub optional: &'static [&'static str],
}

/// Every event type a user may append (`refused` is written by the ledger only).
pub const EVENT_TYPES: &[EventType] = &[
    EventType {
        name: "party_registered",
        required: &["party", "name", "country", "state_backed", "sector"],
        optional: &["confusable_ok"],
    },
    EventType { name: "party_restricted", required: &["party", "reason"], optional: &[] },
    EventType {
        name: "license_granted",
        required: &["license", "authority", "licensee", "product", "quantity", "valid_from", "valid_until"],
        optional: &["round"],
    },
    EventType { name: "condition_added", required: &["license", "condition", "rule"], optional: &["final"] },
    EventType { name: "condition_finalized", required: &["license", "condition"], optional: &[] },
    EventType { name: "condition_withdrawn", required: &["license", "condition", "reason"], optional: &[] },
    EventType {
        name: "order_placed",
        required: &["order", "license|licenses", "quantity", "supplier"],
        optional: &["domestic_quantity", "hold"],
    },
    EventType { name: "order_cancelled", required: &["order", "reason"], optional: &[] },
    EventType { name: "shipment_recorded", required: &["order", "quantity"], optional: &[] },
    EventType { name: "quota_amended", required: &["license", "quantity", "reason"], optional: &[] },
    EventType { name: "license_suspended", required: &["license", "reason"], optional: &[] },
    EventType { name: "license_reinstated", required: &["license", "reason"], optional: &[] },
    EventType { name: "license_revoked", required: &["license", "reason"], optional: &[] },
    EventType { name: "round_opened", required: &["authority", "round", "product", "ceiling"], optional: &[] },
    EventType { name: "round_closed", required: &["authority", "round"], optional: &[] },
    EventType { name: "policy_set", required: &["policy", "authority", "product", "deny", "reason"], optional: &[] },
    EventType { name: "policy_lifted", required: &["policy", "reason"], optional: &[] },
    EventType { name: "exemption_granted", required: &["policy", "party", "reason"], optional: &[] },
    EventType { name: "cap_set", required: &["authority", "product", "per_party"], optional: &[] },
    EventType {
        name: "shipment_corrected",
        required: &["refers_to", "quantity", "reason", "approved_by"],
        optional: &[],
    },
];

/// The type of an event named `name`, if a user may append one.
pub fn event_type(name: &str) -> Option<&'static EventType> {
    EVENT_TYPES.iter().find(|t| t.name == name)
}

/// An order that a finalization released: its id and the rule it failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Released {
    /// The order.
    pub order: String,
    /// The rule it failed (a [`super::rules::Reason`] name).
    pub rule: String,
}

/// What the rules resolved when they accepted an event, stored with it so that replaying the
/// quota never needs the order index.
/// Serializes as `{"kind": "none" | "shipment" | "cancellation" | "held" | "resolved" |
/// "correction", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Context {
    /// The event names everything it touches.
    None,
    /// A shipment on an open order drawing on these licenses.
    Shipment {
        #[serde(flatten)]
        licenses: Gates,
    },
    /// A cancellation of an order drawing on these licenses, returning its unshipped
    /// quantity; `held`: the order was held, and its reservation ends.
    Cancellation {
        #[serde(flatten)]
        licenses: Gates,
        quantity_returned: u64,
        #[serde(skip_serializing_if = "is_false")]
        held: bool,
    },
    /// An `order_placed` with `hold` on a license with pending conditions: recorded as held,
    /// reserving its quantity.
    Held,
    /// A finalization or withdrawal that left its license with no pending condition: the held
    /// orders it re-checked, in placement order, opened or released, and every license those
    /// orders draw on (in first-seen order), whose reservations it settled.
    Resolved { opened: Vec<String>, released: Vec<Released>, licenses: Vec<String> },
    /// A shipment correction on `order` (drawing on these licenses): the corrected shipment
    /// had `previous` units.
    Correction {
        #[serde(flatten)]
        licenses: Gates,
        order: String,
        previous: u64,
    },
}

/// An accepted event with its stamp and resolved context: what a record stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// When, who, which key.
    pub stamp: Stamp,
    /// The event.
    pub event: Event,
    /// What the rules resolved.
    pub context: Context,
}

impl Event {
    /// The snake_case type name used in the JSON input.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::PartyRegistered { .. } => "party_registered",
            Event::PartyRestricted { .. } => "party_restricted",
            Event::LicenseGranted { .. } => "license_granted",
            Event::ConditionAdded { .. } => "condition_added",
            Event::ConditionFinalized { .. } => "condition_finalized",
            Event::ConditionWithdrawn { .. } => "condition_withdrawn",
            Event::OrderPlaced { .. } => "order_placed",
            Event::OrderCancelled { .. } => "order_cancelled",
            Event::ShipmentRecorded { .. } => "shipment_recorded",
            Event::QuotaAmended { .. } => "quota_amended",
            Event::LicenseSuspended { .. } => "license_suspended",
            Event::LicenseReinstated { .. } => "license_reinstated",
            Event::LicenseRevoked { .. } => "license_revoked",
            Event::RoundOpened { .. } => "round_opened",
            Event::RoundClosed { .. } => "round_closed",
            Event::PolicySet { .. } => "policy_set",
            Event::PolicyLifted { .. } => "policy_lifted",
            Event::ExemptionGranted { .. } => "exemption_granted",
            Event::CapSet { .. } => "cap_set",
            Event::ShipmentCorrected { .. } => "shipment_corrected",
            Event::Refused { .. } => "refused",
        }
    }

    /// What the event is about (party, license, order, authority, policy or corrected seq),
    /// for messages and listings.
    pub fn subject(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        if let Some(order) = self.order() {
            return Borrowed(order);
        }
        if let Some(license) = self.license() {
            return Borrowed(license);
        }
        match self {
            Event::PartyRegistered { party, .. } | Event::PartyRestricted { party, .. } => Borrowed(party),
            Event::RoundOpened { authority, round, .. } | Event::RoundClosed { authority, round } => {
                Owned(format!("{authority}/{round}"))
            }
            Event::PolicySet { policy, .. }
            | Event::PolicyLifted { policy, .. }
            | Event::ExemptionGranted { policy, .. } => Borrowed(policy),
            Event::CapSet { authority, product, .. } => Owned(format!("{authority}/{product}")),
            Event::ShipmentCorrected { refers_to, .. } => Owned(format!("seq {refers_to}")),
            Event::Refused { line, .. } => Owned(format!("line {line}")),
            // Orders and licenses are named above.
            _ => Borrowed(""),
        }
    }

    /// The license the event names directly, if any (an order's first license).
    pub fn license(&self) -> Option<&str> {
        match self {
            Event::LicenseGranted { license, .. }
            | Event::ConditionAdded { license, .. }
            | Event::ConditionFinalized { license, .. }
            | Event::ConditionWithdrawn { license, .. }
            | Event::QuotaAmended { license, .. }
            | Event::LicenseSuspended { license, .. }
            | Event::LicenseReinstated { license, .. }
            | Event::LicenseRevoked { license, .. } => Some(license),
            Event::OrderPlaced { licenses, .. } => Some(licenses.first()),
            _ => None,
        }
    }

    /// The order the event names, if any.
    pub fn order(&self) -> Option<&str> {
        match self {
            Event::OrderPlaced { order, .. }
            | Event::OrderCancelled { order, .. }
            | Event::ShipmentRecorded { order, .. } => Some(order),
            _ => None,
        }
    }
}

impl Fact {
    /// The first license this fact touched: named by the event or resolved from its order.
    pub fn license(&self) -> Option<&str> {
        match &self.context {
            Context::Shipment { licenses }
            | Context::Cancellation { licenses, .. }
            | Context::Correction { licenses, .. } => Some(licenses.first()),
            _ => self.event.license(),
        }
    }

    /// Every license this fact touched: every gate of an order, the licenses whose held
    /// orders a settled condition opened or released, or the license the event names.
    pub fn licenses_touched(&self) -> Vec<&str> {
        let mut out: Vec<&str> = match (&self.context, &self.event) {
            (Context::Shipment { licenses } | Context::Cancellation { licenses, .. }, _)
            | (Context::Correction { licenses, .. }, _)
            | (_, Event::OrderPlaced { licenses, .. }) => licenses.iter().collect(),
            _ => self.event.license().into_iter().collect(),
        };
        if let Context::Resolved { licenses, .. } = &self.context {
            out.extend(licenses.iter().map(String::as_str).filter(|l| Some(*l) != self.event.license()));
        }
        out
    }

    /// Whether this fact touched `license` (as [`Fact::licenses_touched`], without building the
    /// list: `log --license` and `replay --license` ask it of every record).
    pub fn touches(&self, license: &str) -> bool {
        let gates = match (&self.context, &self.event) {
            (Context::Shipment { licenses } | Context::Cancellation { licenses, .. }, _)
            | (Context::Correction { licenses, .. }, _)
            | (_, Event::OrderPlaced { licenses, .. }) => licenses.contains(license),
            _ => self.event.license() == Some(license),
        };
        gates || matches!(&self.context, Context::Resolved { licenses, .. } if licenses.iter().any(|l| l == license))
    }

    /// Whether this fact concerns order `order`: placed, cancelled, shipped or corrected it, or
    /// settled it when it was held.
    pub fn concerns_order(&self, order: &str) -> bool {
        match &self.context {
            Context::Resolved { opened, released, .. } => {
                opened.iter().any(|o| o == order) || released.iter().any(|r| r.order == order)
            }
            _ => self.order() == Some(order),
        }
    }

    /// The order this fact changed, named by the event or resolved (a correction).
    pub fn order(&self) -> Option<&str> {
        match &self.context {
            Context::Correction { order, .. } => Some(order),
            _ => self.event.order(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_with_one_license_serializes_as_before_gates_existed() {
        let e = Event::OrderPlaced {
            order: "O1".into(),
            licenses: Gates::one("L1"),
            quantity: 5,
            domestic_quantity: 0,
            supplier: "nvidia".into(),
            hold: false,
        };
        let json = serde_json::to_string(&e).expect("serializes");
        drop(e);
        assert_eq!(
            json,
            r#"{"type":"order_placed","order":"O1","license":"L1","quantity":5,"domestic_quantity":0,"supplier":"nvidia"}"#
        );
        let two = Event::OrderPlaced {
            order: "O1".into(),
            licenses: Gates(vec!["L1".into(), "L2".into()]),
            quantity: 5,
            domestic_quantity: 0,
            supplier: "nvidia".into(),
            hold: true,
        };
        let json = serde_json::to_string(&two).expect("serializes");
        assert!(json.contains(r#""licenses":["L1","L2"]"#) && json.contains(r#""hold":true"#), "{json}");
    }

    #[test]
    fn every_appendable_type_is_in_the_table_once() {
        let mut names: Vec<_> = EVENT_TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVENT_TYPES.len());
        assert!(event_type("refused").is_none(), "refused records are written by the ledger only");
    }
}
