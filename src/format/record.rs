//! The stored record: wire types, versioned, with their conversions to and from domain facts.
//!
//! Field order and variant order here ARE the format (see README "Ledger format"): never
//! reorder, never insert. Format 1 records ([`RecordV1`]) are what every ledger held before
//! format 2 ([`RecordV2`]: `recorded_at`, `late_reason`, flags) and still decode; new records
//! are written as format 2. New event, context and rule variants are appended at the end of
//! their enums, so a format 1 record's bytes mean what they always meant; a format 1 record
//! holding a variant added with format 2 is refused. [`Record`] is either, dispatched on the
//! first byte.

use super::codec;
use super::codec::DecodeError;
use super::FORMAT_VERSION;
use crate::domain::{rules, Context, Day, Deny, Event, Fact, Gates, Released, Rule, Stamp, Timestamp};
use crate::limits::RECORD_BYTES_MAX;
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
    /// Hash of the previous record (32 zero bytes for seq 0): the last 32 bytes of the
    /// encoding, written and read as they are by `codec::encode_linked` / `decode_linked`.
    #[serde(skip)]
    pub prev: [u8; 32],
}

/// The record format written since format 2.
pub const RECORD_FORMAT_V2: u8 = 2;

/// Flag bit of [`RecordV2::flags`]: accepted beyond the future margin with `--allow-future`.
pub const FLAG_ALLOW_FUTURE: u8 = 1;

/// One record as stored and hashed, format 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordV2 {
    /// Always [`RECORD_FORMAT_V2`].
    pub format: u8,
    /// Position in the ledger, from 0, without gaps.
    pub seq: u64,
    /// Effective time: seconds since the Unix epoch.
    pub at_secs: i64,
    /// Effective time: nanoseconds within the second.
    pub at_nanos: u32,
    /// The ledger's clock when appended, in whole seconds since the Unix epoch (a clock reading
    /// needs no more, and the nanoseconds would cost four bytes a record).
    pub recorded_at_secs: i64,
    /// Who recorded the event.
    pub actor: String,
    /// Idempotency key.
    pub key: Option<String>,
    /// Why a late entry is dated before the facts recorded before it.
    pub late_reason: Option<String>,
    /// Bit 0: [`FLAG_ALLOW_FUTURE`]; the other bits are zero.
    pub flags: u8,
    /// The event.
    pub event: WireEvent,
    /// What the rules resolved for it.
    pub context: WireContext,
    /// Hash of the previous record (32 zero bytes for seq 0): the last 32 bytes of the
    /// encoding, written and read as they are by `codec::encode_linked` / `decode_linked`.
    #[serde(skip)]
    pub prev: [u8; 32],
}

/// A record of either format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Format 1.
    V1(RecordV1),
    /// Format 2.
    V2(RecordV2),
}

impl Record {
    /// Decodes canonical record bytes of either format (the first byte says which).
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        match bytes.first() {
            Some(&FORMAT_VERSION) => codec::decode_linked(bytes, RECORD_BYTES_MAX).map(Record::V1),
            Some(&RECORD_FORMAT_V2) => codec::decode_linked(bytes, RECORD_BYTES_MAX).map(Record::V2),
            Some(&other) => Err(DecodeError::Version(other)),
            None => Err(DecodeError::Bincode("empty record".into())),
        }
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Record::V1(r) => codec::encode_linked(r, out),
            Record::V2(r) => codec::encode_linked(r, out),
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// The record for `fact` at `seq`, linked to `prev`: always format 2.
    pub fn from_fact(seq: u64, prev: [u8; 32], fact: Fact) -> Record {
        Record::V2(RecordV2::from_fact(seq, prev, fact))
    }

    /// Its seq.
    pub fn seq(&self) -> u64 {
        match self {
            Record::V1(r) => r.seq,
            Record::V2(r) => r.seq,
        }
    }

    /// The hash it links to.
    pub fn prev(&self) -> [u8; 32] {
        match self {
            Record::V1(r) => r.prev,
            Record::V2(r) => r.prev,
        }
    }

    /// Its event on the wire.
    pub fn event(&self) -> &WireEvent {
        match self {
            Record::V1(r) => &r.event,
            Record::V2(r) => &r.event,
        }
    }

    /// Mutable fields, for tools that forge records in tests: (seq, event, context, prev).
    pub fn parts_mut(&mut self) -> (&mut u64, &mut WireEvent, &mut WireContext, &mut [u8; 32]) {
        match self {
            Record::V1(r) => (&mut r.seq, &mut r.event, &mut r.context, &mut r.prev),
            Record::V2(r) => (&mut r.seq, &mut r.event, &mut r.context, &mut r.prev),
        }
    }

    /// The domain fact, after checking every limit the input side checks.
    pub fn into_fact(self) -> Result<Fact, DecodeError> {
        match self {
            Record::V1(r) => r.into_fact(),
            Record::V2(r) => r.into_fact(),
        }
    }

    /// [`Record::into_fact`] on a copy.
    pub fn to_fact(&self) -> Result<Fact, DecodeError> {
        self.clone().into_fact()
    }
}

impl codec::Linked for RecordV2 {
    fn link(&self) -> &[u8; 32] {
        &self.prev
    }
    fn set_link(&mut self, link: [u8; 32]) {
        self.prev = link;
    }
}

impl codec::Linked for RecordV1 {
    fn link(&self) -> &[u8; 32] {
        &self.prev
    }
    fn set_link(&mut self, link: [u8; 32]) {
        self.prev = link;
    }
}

impl RecordV2 {
    /// The wire record for `fact` at `seq`, linked to `prev`.
    pub fn from_fact(seq: u64, prev: [u8; 32], fact: Fact) -> RecordV2 {
        let recorded = fact.stamp.recorded_at.unwrap_or(fact.stamp.at);
        RecordV2 {
            format: RECORD_FORMAT_V2,
            seq,
            at_secs: fact.stamp.at.secs,
            at_nanos: fact.stamp.at.nanos,
            recorded_at_secs: recorded.secs,
            actor: fact.stamp.actor,
            key: fact.stamp.key,
            late_reason: fact.stamp.late_reason,
            flags: if fact.stamp.allow_future { FLAG_ALLOW_FUTURE } else { 0 },
            event: WireEvent::from(fact.event),
            context: WireContext::from(fact.context),
            prev,
        }
    }

    /// The domain fact, after checking every limit the input side checks.
    pub fn into_fact(self) -> Result<Fact, DecodeError> {
        let bad = DecodeError::Invalid;
        if self.format != RECORD_FORMAT_V2 {
            return Err(DecodeError::Version(self.format));
        }
        if self.flags & !FLAG_ALLOW_FUTURE != 0 {
            return Err(bad(format!("unknown flags {:#04x}", self.flags)));
        }
        let at = valid_time(self.at_secs, self.at_nanos, "at")?;
        let recorded_at = valid_time(self.recorded_at_secs, 0, "recorded_at")?;
        let stamp = Stamp {
            at,
            actor: self.actor,
            key: self.key,
            late_reason: self.late_reason,
            recorded_at: Some(recorded_at),
            allow_future: self.flags & FLAG_ALLOW_FUTURE != 0,
        };
        let fact = Fact { stamp, event: self.event.into_event()?, context: self.context.into_context()? };
        check_limits(&fact).map_err(bad)?;
        Ok(fact)
    }
}

fn valid_time(secs: i64, nanos: u32, what: &str) -> Result<Timestamp, DecodeError> {
    let t = Timestamp { secs, nanos };
    if !t.is_valid() {
        return Err(DecodeError::Invalid(format!("{what} {secs}.{nanos} is out of range")));
    }
    Ok(t)
}

/// A condition rule on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum WireRule {
    BundleRatio {
        domestic: u64,
        per: u64,
    },
    MaxPerOrder {
        units: u64,
    },
    EndUse {
        text: String,
    },
    Reporting {
        text: String,
    },
    /// Added with format 2.
    MaxShipments {
        count: u64,
    },
}

impl From<Rule> for WireRule {
    fn from(r: Rule) -> WireRule {
        match r {
            Rule::BundleRatio { domestic, per } => WireRule::BundleRatio { domestic, per },
            Rule::MaxPerOrder { units } => WireRule::MaxPerOrder { units },
            Rule::EndUse { text } => WireRule::EndUse { text },
            Rule::Reporting { text } => WireRule::Reporting { text },
            Rule::MaxShipments { count } => WireRule::MaxShipments { count },
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
            WireRule::MaxShipments { count } => Rule::MaxShipments { count },
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
    // --- added with format 2 ---
    /// An order naming more than one license, or held: `OrderPlaced` otherwise.
    OrderPlacedGated {
        order: String,
        licenses: Vec<String>,
        quantity: u64,
        domestic_quantity: u64,
        supplier: String,
        hold: bool,
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
        deny_state_backed: bool,
        deny_sectors: Vec<String>,
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
    Refused {
        line: u64,
        event: String,
        rule: String,
        message: String,
    },
}

impl codec::Wire for WireEvent {}

/// The resolved context on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum WireContext {
    None,
    Shipment {
        license: String,
    },
    Cancellation {
        license: String,
        quantity_returned: u64,
    },
    // --- added with format 2 ---
    /// A shipment on an order naming more than one license.
    ShipmentGated {
        licenses: Vec<String>,
    },
    /// A cancellation of an order naming more than one license, or held.
    CancellationGated {
        licenses: Vec<String>,
        quantity_returned: u64,
        held: bool,
    },
    Held,
    /// `(order, rule)` for each release; `licenses`: every license of the settled orders.
    Resolved {
        opened: Vec<String>,
        released: Vec<(String, String)>,
        licenses: Vec<String>,
    },
    Correction {
        licenses: Vec<String>,
        order: String,
        previous: u64,
    },
}

impl From<Context> for WireContext {
    fn from(c: Context) -> WireContext {
        match c {
            Context::None => WireContext::None,
            Context::Shipment { licenses: Gates(mut l) } if l.len() == 1 => {
                WireContext::Shipment { license: l.pop().unwrap_or_default() }
            }
            Context::Shipment { licenses } => WireContext::ShipmentGated { licenses: licenses.0 },
            Context::Cancellation { licenses: Gates(mut l), quantity_returned, held: false } if l.len() == 1 => {
                WireContext::Cancellation { license: l.pop().unwrap_or_default(), quantity_returned }
            }
            Context::Cancellation { licenses, quantity_returned, held } => {
                WireContext::CancellationGated { licenses: licenses.0, quantity_returned, held }
            }
            Context::Held => WireContext::Held,
            Context::Resolved { opened, released, licenses } => {
                let released = released.into_iter().map(|r| (r.order, r.rule)).collect();
                WireContext::Resolved { opened, released, licenses }
            }
            Context::Correction { licenses, order, previous } => {
                WireContext::Correction { licenses: licenses.0, order, previous }
            }
        }
    }
}

impl WireContext {
    /// The domain context; refuses a gated form that the plain one would encode (one value,
    /// one encoding) and ids or rule names outside their limits.
    pub fn into_context(self) -> Result<Context, DecodeError> {
        let bad = |m: &str| DecodeError::Invalid(format!("context: {m}"));
        let ids = |field: &'static str, ids: &[String]| {
            ids.iter().try_for_each(|id| rules::id(field, id).map_err(|r| DecodeError::Invalid(r.message)))
        };
        Ok(match self {
            WireContext::None => Context::None,
            WireContext::Shipment { license } | WireContext::Cancellation { license, .. } if license.is_empty() => {
                return Err(bad("empty license"))
            }
            WireContext::Shipment { license } => {
                ids("context.license", std::slice::from_ref(&license))?;
                Context::Shipment { licenses: Gates(vec![license]) }
            }
            WireContext::Cancellation { license, quantity_returned } => {
                ids("context.license", std::slice::from_ref(&license))?;
                Context::Cancellation { licenses: Gates(vec![license]), quantity_returned, held: false }
            }
            WireContext::ShipmentGated { licenses } => {
                if licenses.len() < 2 {
                    return Err(bad("a gated shipment names at least two licenses"));
                }
                ids("context.licenses", &licenses)?;
                Context::Shipment { licenses: Gates(licenses) }
            }
            WireContext::CancellationGated { licenses, quantity_returned, held } => {
                if licenses.is_empty() || (licenses.len() == 1 && !held) {
                    return Err(bad("a gated cancellation names two licenses or is held"));
                }
                ids("context.licenses", &licenses)?;
                Context::Cancellation { licenses: Gates(licenses), quantity_returned, held }
            }
            WireContext::Held => Context::Held,
            WireContext::Resolved { opened, released, licenses } => {
                ids("context.opened", &opened)?;
                ids("context.licenses", &licenses)?;
                let released: Vec<Released> =
                    released.into_iter().map(|(order, rule)| Released { order, rule }).collect();
                for r in &released {
                    rules::id("context.released", &r.order).map_err(|e| DecodeError::Invalid(e.message))?;
                    rules::text("context.rule", &r.rule).map_err(|e| DecodeError::Invalid(e.message))?;
                }
                Context::Resolved { opened, released, licenses }
            }
            WireContext::Correction { licenses, order, previous } => {
                if licenses.is_empty() {
                    return Err(bad("a correction names its order's licenses"));
                }
                ids("context.licenses", &licenses)?;
                rules::id("context.order", &order).map_err(|e| DecodeError::Invalid(e.message))?;
                Context::Correction { licenses: Gates(licenses), order, previous }
            }
        })
    }

    /// Whether format 1 records may hold it.
    fn in_format_1(&self) -> bool {
        matches!(self, WireContext::None | WireContext::Shipment { .. } | WireContext::Cancellation { .. })
    }
}

impl WireEvent {
    /// Whether format 1 records may hold it.
    fn in_format_1(&self) -> bool {
        let new_rule = matches!(self, WireEvent::ConditionAdded { rule: WireRule::MaxShipments { .. }, .. });
        !new_rule
            && !matches!(
                self,
                WireEvent::OrderPlacedGated { .. }
                    | WireEvent::RoundOpened { .. }
                    | WireEvent::RoundClosed { .. }
                    | WireEvent::PolicySet { .. }
                    | WireEvent::PolicyLifted { .. }
                    | WireEvent::ExemptionGranted { .. }
                    | WireEvent::CapSet { .. }
                    | WireEvent::ShipmentCorrected { .. }
                    | WireEvent::Refused { .. }
            )
    }
}

impl RecordV1 {
    /// The format 1 record for `fact` at `seq`, linked to `prev` (for tests and tools: the
    /// ledger writes format 2). Drops what format 1 cannot hold (recorded_at, late_reason).
    pub fn from_fact(seq: u64, prev: [u8; 32], fact: Fact) -> RecordV1 {
        RecordV1 {
            format: FORMAT_VERSION,
            seq,
            at_secs: fact.stamp.at.secs,
            at_nanos: fact.stamp.at.nanos,
            actor: fact.stamp.actor,
            key: fact.stamp.key,
            event: WireEvent::from(fact.event),
            context: WireContext::from(fact.context),
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
        if !self.event.in_format_1() || !self.context.in_format_1() {
            return Err(bad("a format 1 record holds a variant added with format 2".into()));
        }
        let at = valid_time(self.at_secs, self.at_nanos, "at")?;
        let stamp = Stamp::new(at, self.actor, self.key);
        let fact = Fact { stamp, event: self.event.into_event()?, context: self.context.into_context()? };
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
            Event::OrderPlaced {
                order,
                licenses: Gates(mut l),
                quantity,
                domestic_quantity,
                supplier,
                hold: false,
            } if l.len() == 1 => {
                let license = l.pop().unwrap_or_default();
                WireEvent::OrderPlaced { order, license, quantity, domestic_quantity, supplier }
            }
            Event::OrderPlaced { order, licenses, quantity, domestic_quantity, supplier, hold } => {
                WireEvent::OrderPlacedGated { order, licenses: licenses.0, quantity, domestic_quantity, supplier, hold }
            }
            Event::OrderCancelled { order, reason } => WireEvent::OrderCancelled { order, reason },
            Event::ShipmentRecorded { order, quantity } => WireEvent::ShipmentRecorded { order, quantity },
            Event::QuotaAmended { license, quantity, reason } => WireEvent::QuotaAmended { license, quantity, reason },
            Event::LicenseSuspended { license, reason } => WireEvent::LicenseSuspended { license, reason },
            Event::LicenseReinstated { license, reason } => WireEvent::LicenseReinstated { license, reason },
            Event::LicenseRevoked { license, reason } => WireEvent::LicenseRevoked { license, reason },
            Event::RoundOpened { authority, round, product, ceiling } => {
                WireEvent::RoundOpened { authority, round, product, ceiling }
            }
            Event::RoundClosed { authority, round } => WireEvent::RoundClosed { authority, round },
            Event::PolicySet { policy, authority, product, deny, reason } => WireEvent::PolicySet {
                policy,
                authority,
                product,
                deny_state_backed: deny.state_backed,
                deny_sectors: deny.sectors,
                reason,
            },
            Event::PolicyLifted { policy, reason } => WireEvent::PolicyLifted { policy, reason },
            Event::ExemptionGranted { policy, party, reason } => WireEvent::ExemptionGranted { policy, party, reason },
            Event::CapSet { authority, product, per_party } => WireEvent::CapSet { authority, product, per_party },
            Event::ShipmentCorrected { refers_to, quantity, reason, approved_by } => {
                WireEvent::ShipmentCorrected { refers_to, quantity, reason, approved_by }
            }
            Event::Refused { line, event, rule, message } => WireEvent::Refused { line, event, rule, message },
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
            WireEvent::OrderPlaced { order, license, quantity, domestic_quantity, supplier } => Event::OrderPlaced {
                order,
                licenses: Gates(vec![license]),
                quantity,
                domestic_quantity,
                supplier,
                hold: false,
            },
            WireEvent::OrderPlacedGated { order, licenses, quantity, domestic_quantity, supplier, hold } => {
                if licenses.len() == 1 && !hold {
                    // `OrderPlaced` encodes this one: one value, one encoding.
                    return Err(DecodeError::NotCanonical);
                }
                Event::OrderPlaced { order, licenses: Gates(licenses), quantity, domestic_quantity, supplier, hold }
            }
            WireEvent::OrderCancelled { order, reason } => Event::OrderCancelled { order, reason },
            WireEvent::ShipmentRecorded { order, quantity } => Event::ShipmentRecorded { order, quantity },
            WireEvent::QuotaAmended { license, quantity, reason } => Event::QuotaAmended { license, quantity, reason },
            WireEvent::LicenseSuspended { license, reason } => Event::LicenseSuspended { license, reason },
            WireEvent::LicenseReinstated { license, reason } => Event::LicenseReinstated { license, reason },
            WireEvent::LicenseRevoked { license, reason } => Event::LicenseRevoked { license, reason },
            WireEvent::RoundOpened { authority, round, product, ceiling } => {
                Event::RoundOpened { authority, round, product, ceiling }
            }
            WireEvent::RoundClosed { authority, round } => Event::RoundClosed { authority, round },
            WireEvent::PolicySet { policy, authority, product, deny_state_backed, deny_sectors, reason } => {
                let deny = Deny { state_backed: deny_state_backed, sectors: deny_sectors };
                Event::PolicySet { policy, authority, product, deny, reason }
            }
            WireEvent::PolicyLifted { policy, reason } => Event::PolicyLifted { policy, reason },
            WireEvent::ExemptionGranted { policy, party, reason } => Event::ExemptionGranted { policy, party, reason },
            WireEvent::CapSet { authority, product, per_party } => Event::CapSet { authority, product, per_party },
            WireEvent::ShipmentCorrected { refers_to, quantity, reason, approved_by } => {
                Event::ShipmentCorrected { refers_to, quantity, reason, approved_by }
            }
            WireEvent::Refused { line, event, rule, message } => Event::Refused { line, event, rule, message },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let bytes = Record::V1(record.clone()).encode();
        let back = Record::decode(&bytes).expect("decodes");
        assert_eq!(back, Record::V1(record.clone()));
        let Record::V1(back) = back else { unreachable!("format 1 bytes decode as format 1") };
        assert!(back.into_fact().is_ok(), "an older record is still a valid fact");
    }
}
