//! The rules: may this event be appended to this state? This is where an order is checked
//! against its license's remaining quota, status, validity, conditions and bundle ratio.
//!
//! `check` is pure. It sees the quota projection and, for order events, the order row the event
//! names (looked up by the caller from its order index); it returns what it resolved (the
//! [`Context`] stored with the fact) or a [`Refusal`] naming the field and the rule.

use super::event::{Context, Event, Rule, Stamp};

mod grants;
mod holds;
mod orders;
use super::order::OrderRow;
use super::quota::{License, LicenseStatus, QuotaState};
use crate::limits::{
    ID_BYTES_MAX, ORDER_LICENSES_BYTES_MAX, ORDER_LICENSES_MAX, POLICY_SECTORS_MAX, REFUSED_LINE_BYTES_MAX,
    TEXT_BYTES_MAX,
};
use std::fmt;

/// Which rule refused an event. Stable names (`as_str`) appear in JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Reason {
    InvalidId,
    InvalidText,
    NotPositive,
    Overflow,
    InvalidValidity,
    TimeWentBackwards,
    DuplicateId,
    UnknownParty,
    UnknownLicense,
    UnknownCondition,
    UnknownOrder,
    PartyRestricted,
    PartyAlreadyRestricted,
    LicenseNotActive,
    OutsideValidity,
    PendingCondition,
    ConditionNotPending,
    ConditionAlreadyWithdrawn,
    ExceedsRemaining,
    ExceedsMaxPerOrder,
    BundleShort,
    OrderNotOpen,
    OrderCancelled,
    ExceedsOrdered,
    BelowCommitted,
    InvalidTransition,
    KeyReused,
    AtInFuture,
    TotalOverflow,
    ConfusableParty,
    RoundNotOpen,
    UnknownRound,
    ExceedsRoundCeiling,
    PolicyDenied,
    UnknownPolicy,
    PolicyNotActive,
    EmptyPolicy,
    ExceedsPartyCap,
    CapBelowHoldings,
    ProductMismatch,
    LicenseNotForOrder,
    OrderHeld,
    SameApprover,
    UnknownRecord,
    NotAShipment,
    AlreadyCorrected,
    ExceedsMaxShipments,
    TooManyLicenses,
}

/// Every reason with its stable name: the one table `as_str` and `from_name` derive from.
const REASON_NAMES: &[(Reason, &str)] = &[
    (Reason::InvalidId, "invalid_id"),
    (Reason::InvalidText, "invalid_text"),
    (Reason::NotPositive, "not_positive"),
    (Reason::Overflow, "overflow"),
    (Reason::InvalidValidity, "invalid_validity"),
    (Reason::TimeWentBackwards, "time_went_backwards"),
    (Reason::DuplicateId, "duplicate_id"),
    (Reason::UnknownParty, "unknown_party"),
    (Reason::UnknownLicense, "unknown_license"),
    (Reason::UnknownCondition, "unknown_condition"),
    (Reason::UnknownOrder, "unknown_order"),
    (Reason::PartyRestricted, "party_restricted"),
    (Reason::PartyAlreadyRestricted, "party_already_restricted"),
    (Reason::LicenseNotActive, "license_not_active"),
    (Reason::OutsideValidity, "outside_validity"),
    (Reason::PendingCondition, "pending_condition"),
    (Reason::ConditionNotPending, "condition_not_pending"),
    (Reason::ConditionAlreadyWithdrawn, "condition_already_withdrawn"),
    (Reason::ExceedsRemaining, "exceeds_remaining"),
    (Reason::ExceedsMaxPerOrder, "exceeds_max_per_order"),
    (Reason::BundleShort, "bundle_short"),
    (Reason::OrderNotOpen, "order_not_open"),
    (Reason::OrderCancelled, "order_cancelled"),
    (Reason::ExceedsOrdered, "exceeds_ordered"),
    (Reason::BelowCommitted, "below_committed"),
    (Reason::InvalidTransition, "invalid_transition"),
    (Reason::KeyReused, "key_reused"),
    (Reason::AtInFuture, "at_in_future"),
    (Reason::TotalOverflow, "total_overflow"),
    (Reason::ConfusableParty, "confusable_party"),
    (Reason::RoundNotOpen, "round_not_open"),
    (Reason::UnknownRound, "unknown_round"),
    (Reason::ExceedsRoundCeiling, "exceeds_round_ceiling"),
    (Reason::PolicyDenied, "policy_denied"),
    (Reason::UnknownPolicy, "unknown_policy"),
    (Reason::PolicyNotActive, "policy_not_active"),
    (Reason::EmptyPolicy, "empty_policy"),
    (Reason::ExceedsPartyCap, "exceeds_party_cap"),
    (Reason::CapBelowHoldings, "cap_below_holdings"),
    (Reason::ProductMismatch, "product_mismatch"),
    (Reason::LicenseNotForOrder, "license_not_for_order"),
    (Reason::OrderHeld, "order_held"),
    (Reason::SameApprover, "same_approver"),
    (Reason::UnknownRecord, "unknown_record"),
    (Reason::NotAShipment, "not_a_shipment"),
    (Reason::AlreadyCorrected, "already_corrected"),
    (Reason::ExceedsMaxShipments, "exceeds_max_shipments"),
    (Reason::TooManyLicenses, "too_many_licenses"),
];

impl Reason {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        REASON_NAMES.iter().find(|(r, _)| *r == self).map_or("unknown", |(_, n)| n)
    }

    /// Every reason, in table order.
    pub fn all() -> impl Iterator<Item = Reason> {
        REASON_NAMES.iter().map(|(r, _)| *r)
    }
}

/// Why an event was refused: the rule, the field it concerns and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule.
    pub reason: Reason,
    /// The input field the rule concerns.
    pub field: &'static str,
    /// What is wrong, with the numbers involved.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub(super) fn refuse<T>(reason: Reason, field: &'static str, message: String) -> Result<T, Refusal> {
    Err(Refusal { reason, field, message })
}

/// The record a `shipment_corrected` refers to, as the caller found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its seq.
    pub seq: u64,
    /// If it is a shipment or a shipment correction: the order and the units it (now) says.
    pub shipment: Option<(String, u64)>,
    /// Its effective time, if known.
    pub at: Option<crate::domain::Timestamp>,
    /// The seq of a correction that already corrected it.
    pub corrected_by: Option<u64>,
}

/// What the caller looked up for an event: the row of the order it names (for a correction,
/// of the order whose shipment it corrects), and the record a correction refers to (`None`:
/// no record at that seq).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lookup<'a> {
    /// The order's row, if the order exists (for `order_placed`: a duplicate id).
    pub order: Option<&'a OrderRow>,
    /// For `shipment_corrected`: the record it refers to.
    pub target: Option<&'a Target>,
}

/// Checks `event` (stamped `stamp`) against `state`. `order` is the row of the order the event
/// names, if that order exists (for `order_placed`, an existing row means a duplicate id).
pub fn check(state: &QuotaState, order: Option<&OrderRow>, stamp: &Stamp, event: &Event) -> Result<Context, Refusal> {
    check_fields(stamp, event)?;
    check_against_state(state, Lookup { order, target: None }, stamp, event)
}

/// [`check`] with a full [`Lookup`] (needed by `shipment_corrected`).
pub fn check_with(state: &QuotaState, lookup: Lookup<'_>, stamp: &Stamp, event: &Event) -> Result<Context, Refusal> {
    check_fields(stamp, event)?;
    check_against_state(state, lookup, stamp, event)
}

/// [`check`] without [`check_fields`]: for a caller that has checked the fields already.
pub(super) fn check_against_state(
    state: &QuotaState,
    lookup: Lookup<'_>,
    stamp: &Stamp,
    event: &Event,
) -> Result<Context, Refusal> {
    in_time(state, stamp)?;
    match event {
        Event::PartyRegistered { party, .. } => {
            if state.parties.contains_key(party) {
                return refuse(Reason::DuplicateId, "party", format!("party {party} is already registered"));
            }
        }
        Event::PartyRestricted { party, .. } => {
            let p = party_ref(state, "party", party)?;
            if p.restricted {
                return refuse(Reason::PartyAlreadyRestricted, "party", format!("party {party} is already restricted"));
            }
        }
        Event::LicenseGranted { .. } => grants::check_grant(state, event)?,
        Event::ConditionAdded { license, condition, rule, .. } => {
            check_condition_added(state, license, condition, rule)?
        }
        Event::ConditionFinalized { license, condition } | Event::ConditionWithdrawn { license, condition, .. } => {
            let finalizing = matches!(event, Event::ConditionFinalized { .. });
            return holds::check_settled(state, license, condition, finalizing);
        }
        Event::OrderPlaced { .. } => return orders::check_placed(state, lookup.order, stamp, event),
        Event::OrderCancelled { order: id, .. } => return orders::check_cancelled(lookup.order, stamp, id),
        Event::ShipmentRecorded { order: id, quantity } => {
            return orders::check_shipment(state, lookup.order, stamp, id, *quantity)
        }
        Event::ShipmentCorrected { .. } => return orders::check_correction(state, lookup, stamp, event),
        Event::QuotaAmended { license, quantity, .. } => grants::check_amended(state, license, *quantity)?,
        Event::LicenseSuspended { license, .. } => transition(state, license, LicenseStatus::Active, "suspend")?,
        Event::LicenseReinstated { license, .. } => transition(state, license, LicenseStatus::Suspended, "reinstate")?,
        Event::LicenseRevoked { license, .. } => return holds::check_revoked(state, license),
        Event::RoundOpened { .. } | Event::RoundClosed { .. } => grants::check_round(state, event)?,
        Event::PolicySet { .. } | Event::PolicyLifted { .. } | Event::ExemptionGranted { .. } => {
            grants::check_policy(state, event)?
        }
        Event::CapSet { authority, product, per_party } => grants::check_cap(state, authority, product, *per_party)?,
        Event::Refused { .. } => {}
    }
    Ok(Context::None)
}

/// Effective time never goes back, except for a late entry, which says why.
fn in_time(state: &QuotaState, stamp: &Stamp) -> Result<(), Refusal> {
    if let Some(last) = state.last_at {
        if stamp.at < last && !stamp.is_late() {
            return refuse(
                Reason::TimeWentBackwards,
                "at",
                format!(
                    "at {} is earlier than the ledger's last at {last}; a late entry must say why in late_reason",
                    stamp.at
                ),
            );
        }
    }
    Ok(())
}

fn check_condition_added(state: &QuotaState, license: &str, condition: &str, rule: &Rule) -> Result<(), Refusal> {
    let l = license_ref(state, license)?;
    not_revoked(license, l)?;
    if l.condition(condition).is_some() {
        return refuse(Reason::DuplicateId, "condition", format!("condition {condition} already exists on {license}"));
    }
    match rule {
        Rule::BundleRatio { domestic, per } => {
            positive("rule.domestic", *domestic)?;
            positive("rule.per", *per)
        }
        Rule::MaxPerOrder { units } => positive("rule.units", *units),
        Rule::MaxShipments { count } => positive("rule.count", *count),
        Rule::EndUse { .. } | Rule::Reporting { .. } => Ok(()),
    }
}

/// `ceil(quantity * domestic / per)`, in u128 so that it cannot overflow.
pub fn bundle_required(quantity: u64, domestic: u64, per: u64) -> u128 {
    let per = u128::from(per.max(1));
    (u128::from(quantity) * u128::from(domestic)).div_ceil(per)
}

pub(super) fn positive(field: &'static str, value: u64) -> Result<(), Refusal> {
    if value == 0 {
        return refuse(Reason::NotPositive, field, format!("{field} must be a whole number > 0, got 0"));
    }
    Ok(())
}

pub(super) fn party_ref<'s>(
    state: &'s QuotaState,
    field: &'static str,
    id: &str,
) -> Result<&'s super::quota::Party, Refusal> {
    match state.parties.get(id) {
        Some(p) => Ok(p),
        None => refuse(Reason::UnknownParty, field, format!("{field} {id} is not a registered party")),
    }
}

pub(super) fn license_ref<'s>(state: &'s QuotaState, id: &str) -> Result<&'s License, Refusal> {
    match state.licenses.get(id) {
        Some(l) => Ok(l),
        None => refuse(Reason::UnknownLicense, "license", format!("license {id} does not exist")),
    }
}

pub(super) fn condition_ref<'l>(
    l: &'l License,
    license: &str,
    id: &str,
) -> Result<&'l super::quota::Condition, Refusal> {
    match l.condition(id) {
        Some(c) => Ok(c),
        None => refuse(Reason::UnknownCondition, "condition", format!("condition {id} does not exist on {license}")),
    }
}

pub(super) fn order_ref<'o>(order: Option<&'o OrderRow>, id: &str) -> Result<&'o OrderRow, Refusal> {
    match order {
        Some(o) => Ok(o),
        None => refuse(Reason::UnknownOrder, "order", format!("order {id} does not exist")),
    }
}

pub(super) fn active(id: &str, l: &License) -> Result<(), Refusal> {
    if l.status != LicenseStatus::Active {
        return refuse(Reason::LicenseNotActive, "license", format!("license {id} is {}", status_name(l.status)));
    }
    Ok(())
}

pub(super) fn not_revoked(id: &str, l: &License) -> Result<(), Refusal> {
    if l.status == LicenseStatus::Revoked {
        return refuse(Reason::LicenseNotActive, "license", format!("license {id} is revoked"));
    }
    Ok(())
}

pub(super) fn transition(state: &QuotaState, id: &str, from: LicenseStatus, verb: &str) -> Result<(), Refusal> {
    let l = license_ref(state, id)?;
    if l.status != from {
        return refuse(
            Reason::InvalidTransition,
            "license",
            format!("cannot {verb} license {id}: it is {}", status_name(l.status)),
        );
    }
    Ok(())
}

/// The lower-case name of a status, as printed and in JSON.
pub fn status_name(s: LicenseStatus) -> &'static str {
    match s {
        LicenseStatus::Active => "active",
        LicenseStatus::Suspended => "suspended",
        LicenseStatus::Revoked => "revoked",
    }
}

/// One id or text of an event or its stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// An id. `introduced`: the event creates it (a new party, license, condition or order, or
    /// an idempotency key) rather than naming one that exists.
    Id {
        /// The input field.
        name: &'static str,
        /// Its value.
        value: &'a str,
        /// Created by this event, not a reference.
        introduced: bool,
    },
    /// A free text (names, reasons, rule texts, actor).
    Text {
        /// The input field.
        name: &'static str,
        /// Its value.
        value: &'a str,
    },
}

/// Calls `f` on every id and text of `stamp` and `event`, in input order, up to the first error.
///
/// Generic rather than `dyn`: it runs on every record decoded, and an indirect call a field
/// cost more than the check of the field.
pub fn each_field<'a, F: FnMut(Field<'a>) -> Result<(), Refusal>>(
    stamp: &'a Stamp,
    event: &'a Event,
    f: &mut F,
) -> Result<(), Refusal> {
    let new = |name, value: &'a String| Field::Id { name, value, introduced: true };
    let known = |name, value: &'a String| Field::Id { name, value, introduced: false };
    let text = |name, value: &'a String| Field::Text { name, value };
    f(text("actor", &stamp.actor))?;
    if let Some(k) = &stamp.key {
        f(new("key", k))?;
    }
    if let Some(r) = &stamp.late_reason {
        f(text("late_reason", r))?;
    }
    match event {
        Event::PartyRegistered { party, name, country, sector, .. } => {
            f(new("party", party))?;
            f(text("name", name))?;
            f(text("country", country))?;
            f(text("sector", sector))?;
        }
        Event::PartyRestricted { party, reason } => {
            f(known("party", party))?;
            f(text("reason", reason))?;
        }
        Event::LicenseGranted { license, authority, licensee, product, .. } => {
            f(new("license", license))?;
            f(text("authority", authority))?;
            f(known("licensee", licensee))?;
            f(text("product", product))?;
        }
        Event::ConditionAdded { license, condition, rule, .. } => {
            f(known("license", license))?;
            f(new("condition", condition))?;
            if let Rule::EndUse { text: t } | Rule::Reporting { text: t } = rule {
                f(text("rule.text", t))?;
            }
        }
        Event::ConditionFinalized { license, condition } => {
            f(known("license", license))?;
            f(known("condition", condition))?;
        }
        Event::ConditionWithdrawn { license, condition, reason } => {
            f(known("license", license))?;
            f(known("condition", condition))?;
            f(text("reason", reason))?;
        }
        Event::OrderPlaced { order, licenses, supplier, .. } => {
            f(new("order", order))?;
            for l in &licenses.0 {
                f(known("license", l))?;
            }
            f(text("supplier", supplier))?;
        }
        Event::OrderCancelled { order, reason } => {
            f(known("order", order))?;
            f(text("reason", reason))?;
        }
        Event::ShipmentRecorded { order, .. } => f(known("order", order))?,
        Event::QuotaAmended { license, reason, .. }
        | Event::LicenseSuspended { license, reason }
        | Event::LicenseReinstated { license, reason }
        | Event::LicenseRevoked { license, reason } => {
            f(known("license", license))?;
            f(text("reason", reason))?;
        }
        _ => licensing_fields(event, f)?,
    }
    Ok(())
}

/// [`each_field`] for the events of the licensing world: rounds, policies, caps, corrections
/// and refusals.
fn licensing_fields<'a, F: FnMut(Field<'a>) -> Result<(), Refusal>>(
    event: &'a Event,
    f: &mut F,
) -> Result<(), Refusal> {
    let known = |name, value: &'a String| Field::Id { name, value, introduced: false };
    let new = |name, value: &'a String| Field::Id { name, value, introduced: true };
    let text = |name, value: &'a String| Field::Text { name, value };
    match event {
        Event::RoundOpened { authority, product, .. } => {
            f(text("authority", authority))?;
            f(text("product", product))?;
        }
        Event::RoundClosed { authority, .. } => f(text("authority", authority))?,
        Event::CapSet { authority, product, .. } => {
            f(text("authority", authority))?;
            f(text("product", product))?;
        }
        Event::PolicySet { policy, authority, product, deny, reason } => {
            f(new("policy", policy))?;
            f(text("authority", authority))?;
            f(text("product", product))?;
            for sector in &deny.sectors {
                f(text("deny.sectors", sector))?;
            }
            f(text("reason", reason))?;
        }
        Event::PolicyLifted { policy, reason } => {
            f(known("policy", policy))?;
            f(text("reason", reason))?;
        }
        Event::ExemptionGranted { policy, party, reason } => {
            f(known("policy", policy))?;
            f(known("party", party))?;
            f(text("reason", reason))?;
        }
        Event::ShipmentCorrected { reason, approved_by, .. } => {
            f(text("reason", reason))?;
            f(text("approved_by", approved_by))?;
        }
        Event::Refused { rule, message, .. } => {
            f(text("rule", rule))?;
            f(text("message", message))?;
        }
        _ => {}
    }
    Ok(())
}

/// Checks every id and text of an event against its limits (also run on decode, so these are
/// the limits every stored record meets; input is held to more, in `admission`).
pub fn check_fields(stamp: &Stamp, event: &Event) -> Result<(), Refusal> {
    each_field(stamp, event, &mut |field| match field {
        Field::Id { name, value, .. } => id(name, value),
        Field::Text { name, value } => text(name, value),
    })?;
    check_shape(event)
}

/// The limits on an event's lists (an order's licenses, a policy's sectors) and on a refused
/// record's line.
pub fn check_shape(event: &Event) -> Result<(), Refusal> {
    match event {
        Event::OrderPlaced { licenses, .. } => order_licenses(licenses),
        Event::Refused { event, .. } => refused_line(event),
        Event::PolicySet { deny, .. } if deny.sectors.len() > POLICY_SECTORS_MAX => refuse(
            Reason::InvalidText,
            "deny.sectors",
            format!("a policy names at most {POLICY_SECTORS_MAX} sectors, got {}", deny.sectors.len()),
        ),
        _ => Ok(()),
    }
}

/// A refused record's input line: at most REFUSED_LINE_BYTES_MAX bytes, no control characters
/// (the ledger replaces them when it keeps the line).
fn refused_line(line: &str) -> Result<(), Refusal> {
    if line.len() > REFUSED_LINE_BYTES_MAX || line.chars().any(char::is_control) {
        return refuse(
            Reason::InvalidText,
            "event",
            format!("a refused line is at most {REFUSED_LINE_BYTES_MAX} bytes without control characters"),
        );
    }
    Ok(())
}

/// An order names 1..=ORDER_LICENSES_MAX distinct licenses, of at most
/// ORDER_LICENSES_BYTES_MAX bytes of ids in all (so that its index row stays small).
fn order_licenses(licenses: &super::event::Gates) -> Result<(), Refusal> {
    let n = licenses.0.len();
    if n == 0 || n > ORDER_LICENSES_MAX {
        return refuse(
            Reason::TooManyLicenses,
            "licenses",
            format!("an order names 1 to {ORDER_LICENSES_MAX} licenses, got {n}"),
        );
    }
    let bytes: usize = licenses.0.iter().map(String::len).sum();
    if n > 1 && bytes > ORDER_LICENSES_BYTES_MAX {
        return refuse(
            Reason::TooManyLicenses,
            "licenses",
            format!("an order's license ids take at most {ORDER_LICENSES_BYTES_MAX} bytes in all, got {bytes}"),
        );
    }
    if let Some(dup) = licenses.0.iter().enumerate().find(|(i, l)| licenses.0[..*i].contains(l)) {
        return refuse(Reason::DuplicateId, "licenses", format!("license {} is named twice", dup.1));
    }
    Ok(())
}

/// Ids: 1..=ID_BYTES_MAX bytes, no whitespace or control characters.
pub fn id(field: &'static str, value: &str) -> Result<(), Refusal> {
    if value.is_empty() || value.len() > ID_BYTES_MAX {
        return refuse(
            Reason::InvalidId,
            field,
            format!("{field} must be 1 to {ID_BYTES_MAX} bytes long, got {}", value.len()),
        );
    }
    // Fast path: ids are nearly always printable ASCII, and chars() costs more than bytes.
    let bad = !bytes_within(value, b'!', b'~') && value.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return refuse(Reason::InvalidId, field, format!("{field} must not contain whitespace or control characters"));
    }
    Ok(())
}

/// Texts: 1..=TEXT_BYTES_MAX bytes, no control characters.
pub fn text(field: &'static str, value: &str) -> Result<(), Refusal> {
    if value.is_empty() || value.len() > TEXT_BYTES_MAX {
        return refuse(
            Reason::InvalidText,
            field,
            format!("{field} must be 1 to {TEXT_BYTES_MAX} bytes long, got {}", value.len()),
        );
    }
    let bad = !bytes_within(value, b' ', b'~') && value.chars().any(char::is_control);
    if bad {
        return refuse(Reason::InvalidText, field, format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// Whether every byte of `value` lies in `lo..=hi` (ASCII bounds): one pass without an early
/// exit, which the compiler vectorises. The fast path of the checks of ids and texts: when it
/// holds, no character is whitespace, a control or outside ASCII.
pub(crate) fn bytes_within(value: &str, lo: u8, hi: u8) -> bool {
    value.bytes().fold(true, |within, b| within & (lo <= b) & (b <= hi))
}
