//! The rules: may this event be appended to this state? This is where an order is checked
//! against its license's remaining quota, status, validity, conditions and bundle ratio.
//!
//! `check` is pure. It sees the quota projection and, for order events, the order row the event
//! names (looked up by the caller from its order index); it returns what it resolved (the
//! [`Context`] stored with the fact) or a [`Refusal`] naming the field and the rule.

use super::event::{Context, Event, Rule, Stamp};
use super::order::OrderRow;
use super::quota::{ConditionStatus, License, LicenseStatus, QuotaState};
use crate::limits::{ID_BYTES_MAX, TEXT_BYTES_MAX};
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
}

impl Reason {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidId => "invalid_id",
            Reason::InvalidText => "invalid_text",
            Reason::NotPositive => "not_positive",
            Reason::Overflow => "overflow",
            Reason::InvalidValidity => "invalid_validity",
            Reason::TimeWentBackwards => "time_went_backwards",
            Reason::DuplicateId => "duplicate_id",
            Reason::UnknownParty => "unknown_party",
            Reason::UnknownLicense => "unknown_license",
            Reason::UnknownCondition => "unknown_condition",
            Reason::UnknownOrder => "unknown_order",
            Reason::PartyRestricted => "party_restricted",
            Reason::PartyAlreadyRestricted => "party_already_restricted",
            Reason::LicenseNotActive => "license_not_active",
            Reason::OutsideValidity => "outside_validity",
            Reason::PendingCondition => "pending_condition",
            Reason::ConditionNotPending => "condition_not_pending",
            Reason::ConditionAlreadyWithdrawn => "condition_already_withdrawn",
            Reason::ExceedsRemaining => "exceeds_remaining",
            Reason::ExceedsMaxPerOrder => "exceeds_max_per_order",
            Reason::BundleShort => "bundle_short",
            Reason::OrderNotOpen => "order_not_open",
            Reason::OrderCancelled => "order_cancelled",
            Reason::ExceedsOrdered => "exceeds_ordered",
            Reason::BelowCommitted => "below_committed",
            Reason::InvalidTransition => "invalid_transition",
            Reason::KeyReused => "key_reused",
            Reason::AtInFuture => "at_in_future",
            Reason::TotalOverflow => "total_overflow",
            Reason::ConfusableParty => "confusable_party",
        }
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

/// Checks `event` (stamped `stamp`) against `state`. `order` is the row of the order the event
/// names, if that order exists (for `order_placed`, an existing row means a duplicate id).
pub fn check(state: &QuotaState, order: Option<&OrderRow>, stamp: &Stamp, event: &Event) -> Result<Context, Refusal> {
    check_fields(stamp, event)?;
    check_against_state(state, order, stamp, event)
}

/// [`check`] without [`check_fields`]: for a caller that has checked the fields already.
pub(super) fn check_against_state(
    state: &QuotaState,
    order: Option<&OrderRow>,
    stamp: &Stamp,
    event: &Event,
) -> Result<Context, Refusal> {
    if let Some(last) = state.last_at {
        if stamp.at < last {
            return refuse(
                Reason::TimeWentBackwards,
                "at",
                format!("at {} is earlier than the ledger's last at {last}", stamp.at),
            );
        }
    }
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
        Event::LicenseGranted { license, licensee, quantity, valid_from, valid_until, round, .. } => {
            if state.licenses.contains_key(license) {
                return refuse(Reason::DuplicateId, "license", format!("license {license} is already granted"));
            }
            let p = party_ref(state, "licensee", licensee)?;
            if p.restricted {
                return refuse(
                    Reason::PartyRestricted,
                    "licensee",
                    format!("licensee {licensee} is restricted and may be granted no license"),
                );
            }
            positive("quantity", *quantity)?;
            positive("round", *round)?;
            if valid_until < valid_from {
                return refuse(
                    Reason::InvalidValidity,
                    "valid_until",
                    format!("valid_until {valid_until} is before valid_from {valid_from}"),
                );
            }
        }
        Event::ConditionAdded { license, condition, rule, .. } => {
            let l = license_ref(state, license)?;
            not_revoked(license, l)?;
            if l.condition(condition).is_some() {
                return refuse(
                    Reason::DuplicateId,
                    "condition",
                    format!("condition {condition} already exists on {license}"),
                );
            }
            match rule {
                Rule::BundleRatio { domestic, per } => {
                    positive("rule.domestic", *domestic)?;
                    positive("rule.per", *per)?;
                }
                Rule::MaxPerOrder { units } => positive("rule.units", *units)?,
                Rule::EndUse { .. } | Rule::Reporting { .. } => {}
            }
        }
        Event::ConditionFinalized { license, condition } => {
            let l = license_ref(state, license)?;
            not_revoked(license, l)?;
            let c = condition_ref(l, license, condition)?;
            if c.status != ConditionStatus::Pending {
                return refuse(
                    Reason::ConditionNotPending,
                    "condition",
                    format!("condition {condition} on {license} is not pending"),
                );
            }
        }
        Event::ConditionWithdrawn { license, condition, .. } => {
            let l = license_ref(state, license)?;
            not_revoked(license, l)?;
            let c = condition_ref(l, license, condition)?;
            if c.status == ConditionStatus::Withdrawn {
                return refuse(
                    Reason::ConditionAlreadyWithdrawn,
                    "condition",
                    format!("condition {condition} on {license} is already withdrawn"),
                );
            }
        }
        Event::OrderPlaced { order: id, license, quantity, domestic_quantity, .. } => {
            if order.is_some() {
                return refuse(Reason::DuplicateId, "order", format!("order {id} is already placed"));
            }
            positive("quantity", *quantity)?;
            positive("domestic_quantity", *domestic_quantity)?;
            let l = license_ref(state, license)?;
            if state.parties.get(&l.licensee).is_some_and(|p| p.restricted) {
                return refuse(
                    Reason::PartyRestricted,
                    "license",
                    format!("licensee {} of {license} is restricted and may place no order", l.licensee),
                );
            }
            active(license, l)?;
            let day = stamp.at.day();
            if day < l.valid_from || day > l.valid_until {
                return refuse(
                    Reason::OutsideValidity,
                    "at",
                    format!(
                        "at {} is outside the validity {}..={} of {license}",
                        stamp.at, l.valid_from, l.valid_until
                    ),
                );
            }
            if let Some(c) = l.conditions.iter().find(|c| c.status == ConditionStatus::Pending) {
                return refuse(
                    Reason::PendingCondition,
                    "license",
                    format!("condition {} on {license} is not final yet", c.id),
                );
            }
            let remaining = l.remaining();
            if *quantity > remaining {
                return refuse(
                    Reason::ExceedsRemaining,
                    "quantity",
                    format!("quantity {quantity} exceeds remaining {remaining} on {license}"),
                );
            }
            for c in l.conditions.iter().filter(|c| c.status == ConditionStatus::Final) {
                match c.rule {
                    Rule::BundleRatio { domestic, per } => {
                        let need = bundle_required(*quantity, domestic, per);
                        if u128::from(*domestic_quantity) < need {
                            return refuse(
                                Reason::BundleShort,
                                "domestic_quantity",
                                format!(
                                    "domestic_quantity {domestic_quantity} is below the {need} that condition {} \
                                     ({domestic} domestic per {per}) requires for {quantity}",
                                    c.id
                                ),
                            );
                        }
                    }
                    Rule::MaxPerOrder { units } => {
                        if *quantity > units {
                            return refuse(
                                Reason::ExceedsMaxPerOrder,
                                "quantity",
                                format!("quantity {quantity} exceeds max_per_order {units} of condition {}", c.id),
                            );
                        }
                    }
                    Rule::EndUse { .. } | Rule::Reporting { .. } => {}
                }
            }
            // `quantity <= remaining` keeps `ordered + quantity <= quota`: the sum cannot wrap.
        }
        Event::OrderCancelled { order: id, .. } => {
            let row = order_ref(order, id)?;
            if !row.is_open() {
                return refuse(
                    Reason::OrderNotOpen,
                    "order",
                    format!("order {id} is not open (cancelled or fully shipped)"),
                );
            }
            return Ok(Context::Cancellation { license: row.license.clone(), quantity_returned: row.unshipped() });
        }
        Event::ShipmentRecorded { order: id, quantity } => {
            positive("quantity", *quantity)?;
            let row = order_ref(order, id)?;
            if row.cancelled {
                return refuse(Reason::OrderCancelled, "order", format!("order {id} is cancelled"));
            }
            let l = license_ref(state, &row.license)?;
            active(&row.license, l)?;
            match row.shipped.checked_add(*quantity) {
                Some(total) if total <= row.quantity => {}
                _ => {
                    return refuse(
                        Reason::ExceedsOrdered,
                        "quantity",
                        format!(
                            "shipping {quantity} more would exceed order {id}: {} of {} already shipped",
                            row.shipped, row.quantity
                        ),
                    )
                }
            }
            if l.shipped.checked_add(*quantity).is_none() {
                return refuse(
                    Reason::Overflow,
                    "quantity",
                    format!("shipped total on {} would overflow u64", row.license),
                );
            }
            return Ok(Context::Shipment { license: row.license.clone() });
        }
        Event::QuotaAmended { license, quantity, .. } => {
            positive("quantity", *quantity)?;
            let l = license_ref(state, license)?;
            not_revoked(license, l)?;
            let committed = l.ordered();
            if *quantity < committed {
                return refuse(
                    Reason::BelowCommitted,
                    "quantity",
                    format!("new quota {quantity} is below the {committed} already ordered on {license}"),
                );
            }
        }
        Event::LicenseSuspended { license, .. } => transition(state, license, LicenseStatus::Active, "suspend")?,
        Event::LicenseReinstated { license, .. } => transition(state, license, LicenseStatus::Suspended, "reinstate")?,
        Event::LicenseRevoked { license, .. } => {
            let l = license_ref(state, license)?;
            not_revoked(license, l)?;
        }
    }
    Ok(Context::None)
}

/// `ceil(quantity * domestic / per)`, in u128 so that it cannot overflow.
pub fn bundle_required(quantity: u64, domestic: u64, per: u64) -> u128 {
    let per = u128::from(per.max(1));
    (u128::from(quantity) * u128::from(domestic)).div_ceil(per)
}

fn positive(field: &'static str, value: u64) -> Result<(), Refusal> {
    if value == 0 {
        return refuse(Reason::NotPositive, field, format!("{field} must be a whole number > 0, got 0"));
    }
    Ok(())
}

fn party_ref<'s>(state: &'s QuotaState, field: &'static str, id: &str) -> Result<&'s super::quota::Party, Refusal> {
    match state.parties.get(id) {
        Some(p) => Ok(p),
        None => refuse(Reason::UnknownParty, field, format!("{field} {id} is not a registered party")),
    }
}

fn license_ref<'s>(state: &'s QuotaState, id: &str) -> Result<&'s License, Refusal> {
    match state.licenses.get(id) {
        Some(l) => Ok(l),
        None => refuse(Reason::UnknownLicense, "license", format!("license {id} does not exist")),
    }
}

fn condition_ref<'l>(l: &'l License, license: &str, id: &str) -> Result<&'l super::quota::Condition, Refusal> {
    match l.condition(id) {
        Some(c) => Ok(c),
        None => refuse(Reason::UnknownCondition, "condition", format!("condition {id} does not exist on {license}")),
    }
}

fn order_ref<'o>(order: Option<&'o OrderRow>, id: &str) -> Result<&'o OrderRow, Refusal> {
    match order {
        Some(o) => Ok(o),
        None => refuse(Reason::UnknownOrder, "order", format!("order {id} does not exist")),
    }
}

fn active(id: &str, l: &License) -> Result<(), Refusal> {
    if l.status != LicenseStatus::Active {
        return refuse(Reason::LicenseNotActive, "license", format!("license {id} is {}", status_name(l.status)));
    }
    Ok(())
}

fn not_revoked(id: &str, l: &License) -> Result<(), Refusal> {
    if l.status == LicenseStatus::Revoked {
        return refuse(Reason::LicenseNotActive, "license", format!("license {id} is revoked"));
    }
    Ok(())
}

fn transition(state: &QuotaState, id: &str, from: LicenseStatus, verb: &str) -> Result<(), Refusal> {
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
pub fn each_field<'a>(
    stamp: &'a Stamp,
    event: &'a Event,
    f: &mut dyn FnMut(Field<'a>) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    let new = |name, value: &'a String| Field::Id { name, value, introduced: true };
    let known = |name, value: &'a String| Field::Id { name, value, introduced: false };
    let text = |name, value: &'a String| Field::Text { name, value };
    f(text("actor", &stamp.actor))?;
    if let Some(k) = &stamp.key {
        f(new("key", k))?;
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
        Event::OrderPlaced { order, license, supplier, .. } => {
            f(new("order", order))?;
            f(known("license", license))?;
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
    }
    Ok(())
}

/// Checks every id and text of an event against its limits (also run on decode, so these are
/// the limits every stored record meets; input is held to more, in `admission`).
pub fn check_fields(stamp: &Stamp, event: &Event) -> Result<(), Refusal> {
    each_field(stamp, event, &mut |field| match field {
        Field::Id { name, value, .. } => id(name, value),
        Field::Text { name, value } => text(name, value),
    })
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
    // ASCII fast path: ids are nearly always ASCII, and chars() costs more than bytes.
    let bad = if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    } else {
        value.chars().any(|c| c.is_whitespace() || c.is_control())
    };
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
    let bad = if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    };
    if bad {
        return refuse(Reason::InvalidText, field, format!("{field} must not contain control characters"));
    }
    Ok(())
}
