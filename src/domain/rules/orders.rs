//! Rules on orders: placement through every gate (or a hold), cancellation, shipment and
//! shipment correction.

use super::{active, bundle_required, license_ref, order_ref, positive, refuse, Lookup, Reason, Refusal};
use crate::domain::event::{Context, Event, Gates, Rule, Stamp};
use crate::domain::order::{OrderRow, OrderStatus};
use crate::domain::quota::{License, QuotaState};
use crate::domain::time::Timestamp;

/// An order as the gate rules see it, at placement or when a hold is settled.
pub(super) struct Draft<'a> {
    pub licenses: &'a Gates,
    pub quantity: u64,
    pub domestic_quantity: u64,
    pub supplier: &'a str,
    pub at: Timestamp,
}

/// The buyer and every gate as (license id, license), first gate first.
pub(super) type BuyerAndGates<'s> = (&'s str, Vec<(&'s str, &'s License)>);

/// The buyer (the licensee of the first license) and every gate's license, checked to belong
/// to the order: one product, each further gate the buyer's or the supplier's.
pub(super) fn gates<'s>(state: &'s QuotaState, d: &Draft<'_>) -> Result<BuyerAndGates<'s>, Refusal> {
    let mut out = Vec::with_capacity(d.licenses.0.len());
    for id in d.licenses.iter() {
        let Some((id, l)) = state.licenses.get_key_value(id) else {
            return refuse(Reason::UnknownLicense, "license", format!("license {id} does not exist"));
        };
        out.push((id.as_str(), l));
    }
    let (first_id, first) = out[0];
    let buyer = first.licensee.as_str();
    for &(id, l) in &out[1..] {
        if l.product != first.product {
            return refuse(
                Reason::ProductMismatch,
                "licenses",
                format!("{id} is for {}, but {first_id} is for {}", l.product, first.product),
            );
        }
        if l.licensee != buyer && l.licensee != d.supplier {
            return refuse(
                Reason::LicenseNotForOrder,
                "licenses",
                format!(
                    "{id} is licensed to {}, neither the buyer {buyer} nor the supplier {}",
                    l.licensee, d.supplier
                ),
            );
        }
    }
    Ok((buyer, out))
}

/// The buyer may order: not restricted, denied by no policy of any gate's authority.
pub(super) fn buyer_may_order(state: &QuotaState, buyer: &str, gates: &[(&str, &License)]) -> Result<(), Refusal> {
    if state.parties.get(buyer).is_some_and(|p| p.restricted) {
        return refuse(
            Reason::PartyRestricted,
            "license",
            format!("licensee {buyer} of {} is restricted and may place no order", gates[0].0),
        );
    }
    for (id, l) in gates {
        if let Some(policy) = state.denying_policy(buyer, &l.authority, &l.product) {
            return refuse(
                Reason::PolicyDenied,
                "license",
                format!("policy {policy} denies {buyer} orders on {id} ({} {})", l.authority, l.product),
            );
        }
    }
    Ok(())
}

/// One gate allows the order on its own, pending conditions aside: active, the order's date
/// in its validity, its final conditions met.
pub(super) fn gate_allows(id: &str, l: &License, d: &Draft<'_>) -> Result<(), Refusal> {
    active(id, l)?;
    within_validity(id, l, d.at)?;
    if d.at < l.granted_at {
        // Only a late entry can be dated so: it may not reach back before the grant.
        return refuse(
            Reason::TimeWentBackwards,
            "at",
            format!("at {} is before {id} was granted ({})", d.at, l.granted_at),
        );
    }
    for c in l.finals() {
        match c.rule {
            Rule::BundleRatio { domestic, per } => {
                let need = bundle_required(d.quantity, domestic, per);
                if u128::from(d.domestic_quantity) < need {
                    return refuse(
                        Reason::BundleShort,
                        "domestic_quantity",
                        format!(
                            "domestic_quantity {} is below the {need} that condition {} ({domestic} domestic per \
                             {per}) on {id} requires for {}",
                            d.domestic_quantity, c.id, d.quantity
                        ),
                    );
                }
            }
            Rule::MaxPerOrder { units } if d.quantity > units => {
                return refuse(
                    Reason::ExceedsMaxPerOrder,
                    "quantity",
                    format!("quantity {} exceeds max_per_order {units} of condition {} on {id}", d.quantity, c.id),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

fn within_validity(id: &str, l: &License, at: Timestamp) -> Result<(), Refusal> {
    let day = at.day();
    if day < l.valid_from || day > l.valid_until {
        return refuse(
            Reason::OutsideValidity,
            "at",
            format!("at {at} is outside the validity {}..={} of {id}", l.valid_from, l.valid_until),
        );
    }
    Ok(())
}

/// `order_placed`: a new id, through every gate. With `hold`, pending conditions hold the
/// order (it reserves its quantity) instead of refusing it.
pub(super) fn check_placed(
    state: &QuotaState,
    existing: Option<&OrderRow>,
    stamp: &Stamp,
    event: &Event,
) -> Result<Context, Refusal> {
    let Event::OrderPlaced { order, licenses, quantity, domestic_quantity, supplier, hold } = event else {
        return Ok(Context::None);
    };
    if existing.is_some() {
        return refuse(Reason::DuplicateId, "order", format!("order {order} is already placed"));
    }
    positive("quantity", *quantity)?;
    let d = Draft { licenses, quantity: *quantity, domestic_quantity: *domestic_quantity, supplier, at: stamp.at };
    let (buyer, gates) = gates(state, &d)?;
    buyer_may_order(state, buyer, &gates)?;
    let mut held = false;
    for &(id, l) in &gates {
        gate_allows(id, l, &d)?;
        if let Some(c) = l.pending() {
            if !*hold {
                return refuse(
                    Reason::PendingCondition,
                    "license",
                    format!("condition {} on {id} is not final yet (\"hold\": true would hold the order)", c.id),
                );
            }
            held = true;
        }
    }
    // The binding gate is the one with the least remaining; `quantity <= remaining` on every
    // gate keeps `ordered + quantity <= quota`: no sum can wrap.
    if let Some(&(id, l)) = gates.iter().min_by_key(|(_, l)| l.remaining()) {
        let remaining = l.remaining();
        if *quantity > remaining {
            return refuse(
                Reason::ExceedsRemaining,
                "quantity",
                format!("quantity {quantity} exceeds remaining {remaining} on {id}"),
            );
        }
    }
    Ok(if held { Context::Held } else { Context::None })
}

/// A late entry on an order is not dated before the order was placed.
fn not_before_placement(row: &OrderRow, id: &str, stamp: &Stamp) -> Result<(), Refusal> {
    match row.placed_at {
        Some(placed) if stamp.at < placed => refuse(
            Reason::TimeWentBackwards,
            "at",
            format!("at {} is before order {id} was placed ({placed})", stamp.at),
        ),
        _ => Ok(()),
    }
}

/// `order_cancelled`: an open order returns its unshipped units, a held one its reservation.
pub(super) fn check_cancelled(order: Option<&OrderRow>, stamp: &Stamp, id: &str) -> Result<Context, Refusal> {
    let row = order_ref(order, id)?;
    not_before_placement(row, id, stamp)?;
    if row.status == OrderStatus::Held {
        return Ok(Context::Cancellation {
            licenses: row.licenses.clone(),
            quantity_returned: row.quantity,
            held: true,
        });
    }
    if !row.is_open() {
        return refuse(
            Reason::OrderNotOpen,
            "order",
            format!("order {id} is not open (cancelled, released or fully shipped)"),
        );
    }
    Ok(Context::Cancellation { licenses: row.licenses.clone(), quantity_returned: row.unshipped(), held: false })
}

/// `shipment_recorded`: on an open order, within what was ordered, on every gate active, in
/// its validity and under its shipment limit.
pub(super) fn check_shipment(
    state: &QuotaState,
    order: Option<&OrderRow>,
    stamp: &Stamp,
    id: &str,
    quantity: u64,
) -> Result<Context, Refusal> {
    positive("quantity", quantity)?;
    let row = order_ref(order, id)?;
    shippable(row, id)?;
    not_before_placement(row, id, stamp)?;
    for lid in row.licenses.iter() {
        let l = license_ref(state, lid)?;
        active(lid, l)?;
        within_validity(lid, l, stamp.at)?;
        if let Some(allowed) = l.shipments_allowed() {
            if l.shipments >= allowed {
                return refuse(
                    Reason::ExceedsMaxShipments,
                    "order",
                    format!("{lid} allows {allowed} shipments and has had {}", l.shipments),
                );
            }
        }
    }
    // What the order allows comes before the licenses' totals (as before gates existed): a
    // shipment beyond its order is refused as such, even where the total would also overflow.
    match row.shipped.checked_add(quantity) {
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
    for lid in row.licenses.iter() {
        shipped_fits(lid, license_ref(state, lid)?, 0, quantity)?;
    }
    Ok(Context::Shipment { licenses: row.licenses.clone() })
}

fn shippable(row: &OrderRow, id: &str) -> Result<(), Refusal> {
    match row.status {
        OrderStatus::Cancelled => refuse(Reason::OrderCancelled, "order", format!("order {id} is cancelled")),
        OrderStatus::Held => refuse(Reason::OrderHeld, "order", format!("order {id} is held: it cannot be shipped")),
        OrderStatus::Released => refuse(Reason::OrderNotOpen, "order", format!("order {id} was released")),
        OrderStatus::Open => Ok(()),
    }
}

fn shipped_fits(id: &str, l: &License, less: u64, more: u64) -> Result<(), Refusal> {
    if l.shipped.saturating_sub(less).checked_add(more).is_none() {
        return refuse(Reason::Overflow, "quantity", format!("shipped total on {id} would overflow u64"));
    }
    Ok(())
}

/// `shipment_corrected`: four eyes; a shipment (or a correction) not yet corrected; its order
/// not cancelled; shipped never above ordered.
pub(super) fn check_correction(
    state: &QuotaState,
    lookup: Lookup<'_>,
    stamp: &Stamp,
    event: &Event,
) -> Result<Context, Refusal> {
    let Event::ShipmentCorrected { refers_to, quantity, approved_by, .. } = event else {
        return Ok(Context::None);
    };
    if *approved_by == stamp.actor {
        return refuse(
            Reason::SameApprover,
            "approved_by",
            format!("approved_by {approved_by} is the actor: a correction needs a second person"),
        );
    }
    let (order, previous) = corrected_shipment(lookup, *refers_to)?;
    if let Some(shipped_at) = lookup.target.and_then(|t| t.at).filter(|t| stamp.at < *t) {
        return refuse(
            Reason::TimeWentBackwards,
            "at",
            format!("at {} is before the shipment it corrects (seq {refers_to}, at {shipped_at})", stamp.at),
        );
    }
    let row = order_ref(lookup.order, order)?;
    if row.cancelled() {
        return refuse(Reason::OrderCancelled, "refers_to", format!("order {order} is cancelled"));
    }
    let shipped = u128::from(row.shipped) - u128::from(previous.min(row.shipped)) + u128::from(*quantity);
    if shipped > u128::from(row.quantity) {
        return refuse(
            Reason::ExceedsOrdered,
            "quantity",
            format!("order {order} would have {shipped} shipped of {} ordered", row.quantity),
        );
    }
    for lid in row.licenses.iter() {
        shipped_fits(lid, license_ref(state, lid)?, previous, *quantity)?;
    }
    Ok(Context::Correction { licenses: row.licenses.clone(), order: order.to_string(), previous })
}

/// The order and units of the shipment at `refers_to`, if it may be corrected.
fn corrected_shipment(lookup: Lookup<'_>, refers_to: u64) -> Result<(&str, u64), Refusal> {
    let Some(target) = lookup.target else {
        return refuse(Reason::UnknownRecord, "refers_to", format!("there is no record at seq {refers_to}"));
    };
    let Some((order, units)) = &target.shipment else {
        return refuse(Reason::NotAShipment, "refers_to", format!("seq {refers_to} is not a shipment"));
    };
    if let Some(by) = target.corrected_by {
        return refuse(
            Reason::AlreadyCorrected,
            "refers_to",
            format!("seq {refers_to} was already corrected at seq {by}: correct that record instead"),
        );
    }
    Ok((order, *units))
}
