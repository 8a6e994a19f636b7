//! The stored record: a wire type, versioned, with its conversions to and from domain facts.
//!
//! Field order and variant order here ARE the format (see README "Ledger format"): never
//! reorder, never insert; a change is a new format version.

use super::codec::DecodeError;
use super::FORMAT_VERSION;
use crate::domain::{rules, Context, Day, Event, Fact, Rule, Stamp, Timestamp};
use serde::{Deserialize, Serialize};

/// One record as stored and hashed (its canonical bincode bytes are what the hash covers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordV1 {
    /// Always [`FORMAT_VERSION`].
    pub format: u8,
    /// Position in the ledger, from 0, without gaps.
    pub seq: u64,
    /// Business time: seconds since the Unix epoch.
    pub at_secs: i64,
    /// Business time: nanoseconds within the second.
    pub at_nanos: u32,
    /// Who recorded the event.
    pub actor: String,
    /// Idempotency key.
    pub key: Option<String>,
    /// The event.
    pub event: WireEvent,
    /// What the rules resolved for it.
    pub context: WireContext,
    /// Hash of the previous record (32 zero bytes for seq 0).
    pub prev: [u8; 32],
}

/// A condition rule on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum WireRule {
    BundleRatio { domestic: u64, per: u64 },
    MaxPerOrder { units: u64 },
    EndUse { text: String },
    Reporting { text: String },
}

impl From<Rule> for WireRule {
    fn from(r: Rule) -> WireRule {
        match r {
            Rule::BundleRatio { domestic, per } => WireRule::BundleRatio { domestic, per },
            Rule::MaxPerOrder { units } => WireRule::MaxPerOrder { units },
            Rule::EndUse { text } => WireRule::EndUse { text },
            Rule::Reporting { text } => WireRule::Reporting { text },
        }
    }
}

impl From<WireRule> for Rule {
    fn from(r: WireRule) -> Rule {
        match r {
            WireRule::BundleRatio { domestic, per } => Rule::BundleRatio { domestic, per },
            WireRule::MaxPerOrder { units } => Rule::MaxPerOrder { units },
            WireRule::EndUse { text } => Rule::EndUse { text },
            WireRule::Reporting { text } => Rule::Reporting { text },
        }
    }
}

/// An event on the wire; dates are days since 1970-01-01.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum WireEvent {
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
        valid_from: i32,
        valid_until: i32,
        round: u64,
    },
    ConditionAdded {
        license: String,
        condition: String,
        rule: WireRule,
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

/// The resolved context on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum WireContext {
    None,
    Shipment { license: String },
    Cancellation { license: String, quantity_returned: u64 },
}

impl RecordV1 {
    /// The wire record for `fact` at `seq`, linked to `prev`.
    pub fn from_fact(seq: u64, prev: [u8; 32], fact: Fact) -> RecordV1 {
        RecordV1 {
            format: FORMAT_VERSION,
            seq,
            at_secs: fact.stamp.at.secs,
            at_nanos: fact.stamp.at.nanos,
            actor: fact.stamp.actor,
            key: fact.stamp.key,
            event: WireEvent::from(fact.event),
            context: match fact.context {
                Context::None => WireContext::None,
                Context::Shipment { license } => WireContext::Shipment { license },
                Context::Cancellation { license, quantity_returned } => {
                    WireContext::Cancellation { license, quantity_returned }
                }
            },
            prev,
        }
    }

    /// The domain fact, after checking every limit the input side checks.
    pub fn to_fact(&self) -> Result<Fact, DecodeError> {
        self.clone().into_fact()
    }

    /// [`RecordV1::to_fact`], moving the strings instead of copying them.
    pub fn into_fact(self) -> Result<Fact, DecodeError> {
        let bad = DecodeError::Invalid;
        if self.format != FORMAT_VERSION {
            return Err(DecodeError::Version(self.format));
        }
        let at = Timestamp { secs: self.at_secs, nanos: self.at_nanos };
        if !at.is_valid() {
            return Err(bad(format!("at {}.{} is out of range", self.at_secs, self.at_nanos)));
        }
        let stamp = Stamp { at, actor: self.actor, key: self.key };
        let event = self.event.into_event()?;
        let context = match self.context {
            WireContext::None => Context::None,
            WireContext::Shipment { license } => {
                rules::id("context.license", &license).map_err(|r| bad(r.message))?;
                Context::Shipment { license }
            }
            WireContext::Cancellation { license, quantity_returned } => {
                rules::id("context.license", &license).map_err(|r| bad(r.message))?;
                Context::Cancellation { license, quantity_returned }
            }
        };
        let fact = Fact { stamp, event, context };
        check_limits(&fact).map_err(bad)?;
        Ok(fact)
    }
}

/// Checks ids, texts and dates of a decoded fact against the limits input is held to.
fn check_limits(fact: &Fact) -> Result<(), String> {
    rules::check_fields(&fact.stamp, &fact.event).map_err(|r| r.message)?;
    if let Event::LicenseGranted { valid_from, valid_until, .. } = &fact.event {
        if !valid_from.is_valid() || !valid_until.is_valid() {
            return Err("license validity dates out of range".to_string());
        }
    }
    Ok(())
}

impl From<Event> for WireEvent {
    fn from(e: Event) -> WireEvent {
        match e {
            Event::PartyRegistered { party, name, country, state_backed, sector } => {
                WireEvent::PartyRegistered { party, name, country, state_backed, sector }
            }
            Event::PartyRestricted { party, reason } => WireEvent::PartyRestricted { party, reason },
            Event::LicenseGranted {
                license,
                authority,
                licensee,
                product,
                quantity,
                valid_from,
                valid_until,
                round,
            } => WireEvent::LicenseGranted {
                license,
                authority,
                licensee,
                product,
                quantity,
                valid_from: valid_from.0,
                valid_until: valid_until.0,
                round,
            },
            Event::ConditionAdded { license, condition, rule, is_final } => {
                WireEvent::ConditionAdded { license, condition, rule: WireRule::from(rule), is_final }
            }
            Event::ConditionFinalized { license, condition } => WireEvent::ConditionFinalized { license, condition },
            Event::ConditionWithdrawn { license, condition, reason } => {
                WireEvent::ConditionWithdrawn { license, condition, reason }
            }
            Event::OrderPlaced { order, license, quantity, domestic_quantity, supplier } => {
                WireEvent::OrderPlaced { order, license, quantity, domestic_quantity, supplier }
            }
            Event::OrderCancelled { order, reason } => WireEvent::OrderCancelled { order, reason },
            Event::ShipmentRecorded { order, quantity } => WireEvent::ShipmentRecorded { order, quantity },
            Event::QuotaAmended { license, quantity, reason } => WireEvent::QuotaAmended { license, quantity, reason },
            Event::LicenseSuspended { license, reason } => WireEvent::LicenseSuspended { license, reason },
            Event::LicenseReinstated { license, reason } => WireEvent::LicenseReinstated { license, reason },
            Event::LicenseRevoked { license, reason } => WireEvent::LicenseRevoked { license, reason },
        }
    }
}

impl WireEvent {
    /// The domain event; fails on out-of-range dates.
    pub fn into_event(self) -> Result<Event, DecodeError> {
        let day = |d: i32| {
            let day = Day(d);
            if day.is_valid() {
                Ok(day)
            } else {
                Err(DecodeError::Invalid(format!("day {d} is out of range")))
            }
        };
        Ok(match self {
            WireEvent::PartyRegistered { party, name, country, state_backed, sector } => {
                Event::PartyRegistered { party, name, country, state_backed, sector }
            }
            WireEvent::PartyRestricted { party, reason } => Event::PartyRestricted { party, reason },
            WireEvent::LicenseGranted {
                license,
                authority,
                licensee,
                product,
                quantity,
                valid_from,
                valid_until,
                round,
            } => Event::LicenseGranted {
                license,
                authority,
                licensee,
                product,
                quantity,
                valid_from: day(valid_from)?,
                valid_until: day(valid_until)?,
                round,
            },
            WireEvent::ConditionAdded { license, condition, rule, is_final } => {
                Event::ConditionAdded { license, condition, rule: Rule::from(rule), is_final }
            }
            WireEvent::ConditionFinalized { license, condition } => Event::ConditionFinalized { license, condition },
            WireEvent::ConditionWithdrawn { license, condition, reason } => {
                Event::ConditionWithdrawn { license, condition, reason }
            }
            WireEvent::OrderPlaced { order, license, quantity, domestic_quantity, supplier } => {
                Event::OrderPlaced { order, license, quantity, domestic_quantity, supplier }
            }
            WireEvent::OrderCancelled { order, reason } => Event::OrderCancelled { order, reason },
            WireEvent::ShipmentRecorded { order, quantity } => Event::ShipmentRecorded { order, quantity },
            WireEvent::QuotaAmended { license, quantity, reason } => Event::QuotaAmended { license, quantity, reason },
            WireEvent::LicenseSuspended { license, reason } => Event::LicenseSuspended { license, reason },
            WireEvent::LicenseReinstated { license, reason } => Event::LicenseReinstated { license, reason },
            WireEvent::LicenseRevoked { license, reason } => Event::LicenseRevoked { license, reason },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::codec;
    use crate::limits::RECORD_BYTES_MAX;

    /// Input now refuses non-ASCII ids and invisible characters in texts (`domain::admission`);
    /// stored records keep the limits every version wrote under, so older ledgers still read.
    #[test]
    fn records_an_older_version_wrote_still_decode() {
        let record = RecordV1 {
            format: FORMAT_VERSION,
            seq: 0,
            at_secs: 1_768_356_000,
            at_nanos: 0,
            actor: "clerk\u{2028}".into(),
            key: Some("clé".into()),
            event: WireEvent::PartyRegistered {
                party: "bytedаnce".into(),
                name: "Evil\u{202e}Co\u{200b}".into(),
                country: "CN".into(),
                state_backed: false,
                sector: "\u{2066}internet\u{2069}".into(),
            },
            context: WireContext::None,
            prev: [0; 32],
        };
        let bytes = codec::encode(&record);
        let back: RecordV1 = codec::decode(&bytes, RECORD_BYTES_MAX).expect("decodes");
        assert_eq!(back, record);
        assert!(back.into_fact().is_ok(), "an older record is still a valid fact");
    }
}
