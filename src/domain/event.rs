//! Events: past-tense facts about parties, licenses, conditions and orders.

use super::time::{Day, Timestamp};
use serde::Serialize;

/// Who recorded a fact, when, and under which idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Business time of the fact (UTC); never earlier than the fact before it.
    pub at: Timestamp,
    /// Who recorded it.
    pub actor: String,
    /// Idempotency key: the same key with the same event is skipped, with another refused.
    pub key: Option<String>,
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
        license: String,
        quantity: u64,
        domestic_quantity: u64,
        supplier: String,
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
}

/// What the rules resolved when they accepted an event, stored with it so that replaying the
/// quota never needs the order index: the license an order event touched and what a
/// cancellation returned to the quota.
/// Serializes as `{"kind": "none" | "shipment" | "cancellation", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Context {
    /// The event names everything it touches.
    None,
    /// A shipment on an order of `license`.
    Shipment { license: String },
    /// A cancellation on an order of `license`, returning its unshipped quantity.
    Cancellation { license: String, quantity_returned: u64 },
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
        }
    }

    /// The id the event is about (party, license or order), for messages and filters.
    pub fn subject(&self) -> &str {
        match self {
            Event::PartyRegistered { party, .. } | Event::PartyRestricted { party, .. } => party,
            Event::OrderPlaced { order, .. }
            | Event::OrderCancelled { order, .. }
            | Event::ShipmentRecorded { order, .. } => order,
            Event::LicenseGranted { license, .. }
            | Event::ConditionAdded { license, .. }
            | Event::ConditionFinalized { license, .. }
            | Event::ConditionWithdrawn { license, .. }
            | Event::QuotaAmended { license, .. }
            | Event::LicenseSuspended { license, .. }
            | Event::LicenseReinstated { license, .. }
            | Event::LicenseRevoked { license, .. } => license,
        }
    }

    /// The license the event names directly, if any.
    pub fn license(&self) -> Option<&str> {
        match self {
            Event::PartyRegistered { .. }
            | Event::PartyRestricted { .. }
            | Event::OrderCancelled { .. }
            | Event::ShipmentRecorded { .. } => None,
            Event::OrderPlaced { license, .. } => Some(license),
            other => Some(other.subject()),
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
    /// The license this fact touched: named by the event or resolved from its order.
    pub fn license(&self) -> Option<&str> {
        match &self.context {
            Context::Shipment { license } | Context::Cancellation { license, .. } => Some(license),
            Context::None => self.event.license(),
        }
    }
}
