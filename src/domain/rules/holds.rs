//! Settling conditions: finalizing or withdrawing one, and re-checking the orders it held.

use super::orders::{buyer_may_order, gate_allows, gates, Draft};
use super::{condition_ref, license_ref, not_revoked, refuse, Reason, Refusal};
use crate::domain::event::{Context, Released};
use crate::domain::quota::{ConditionStatus, HeldOrder, License, QuotaState};

/// `condition_finalized` (a pending condition) or `condition_withdrawn` (one not withdrawn).
/// When it leaves its license with no pending condition, every order held on the license is
/// re-checked, in placement order, against the final rules: opened, or released with the rule
/// it fails. An order also held by another license's pending condition stays held.
pub(super) fn check_settled(
    state: &QuotaState,
    license: &str,
    condition: &str,
    finalizing: bool,
) -> Result<Context, Refusal> {
    let l = license_ref(state, license)?;
    not_revoked(license, l)?;
    let c = condition_ref(l, license, condition)?;
    if finalizing && c.status != ConditionStatus::Pending {
        return refuse(
            Reason::ConditionNotPending,
            "condition",
            format!("condition {condition} on {license} is not pending"),
        );
    }
    if !finalizing && c.status == ConditionStatus::Withdrawn {
        return refuse(
            Reason::ConditionAlreadyWithdrawn,
            "condition",
            format!("condition {condition} on {license} is already withdrawn"),
        );
    }
    let mut after = l.clone();
    if let Some(c) = after.conditions.iter_mut().find(|c| c.id == condition) {
        c.status = if finalizing { ConditionStatus::Final } else { ConditionStatus::Withdrawn };
    }
    if after.pending().is_some() {
        return Ok(Context::None);
    }
    Ok(resolve_held(state, license, &after))
}

/// The held orders on `license` (whose conditions are now `after`), opened or released.
fn resolve_held(state: &QuotaState, license: &str, after: &License) -> Context {
    let mut held: Vec<(&String, &HeldOrder)> =
        state.held.iter().filter(|(_, h)| h.licenses.contains(license)).collect();
    held.sort_by_key(|(_, h)| h.seq);
    let (mut opened, mut released, mut licenses) = (Vec::new(), Vec::new(), Vec::<String>::new());
    for (order, h) in held {
        for l in h.licenses.iter() {
            if !licenses.iter().any(|x| x == l) {
                licenses.push(l.to_string());
            }
        }
        match recheck(state, license, after, h) {
            None => {}
            Some(Ok(())) => opened.push(order.clone()),
            Some(Err(r)) => released.push(Released { order: order.clone(), rule: r.reason.as_str().to_string() }),
        }
    }
    if opened.is_empty() && released.is_empty() {
        return Context::None;
    }
    Context::Resolved { opened, released, licenses }
}

/// `None`: still held by another license's pending condition; else the final verdict.
fn recheck(state: &QuotaState, license: &str, after: &License, h: &HeldOrder) -> Option<Result<(), Refusal>> {
    let d = Draft {
        licenses: &h.licenses,
        quantity: h.quantity,
        domestic_quantity: h.domestic_quantity,
        supplier: &h.supplier,
        at: h.at,
    };
    let (buyer, gates) = match gates(state, &d) {
        Ok(g) => g,
        Err(r) => return Some(Err(r)),
    };
    let gates: Vec<(&str, &License)> =
        gates.into_iter().map(|(id, l)| if id == license { (id, after) } else { (id, l) }).collect();
    if gates.iter().any(|(_, l)| l.pending().is_some()) {
        return None;
    }
    let verdict = buyer_may_order(state, buyer, &gates)
        .and_then(|()| gates.iter().try_for_each(|&(id, l)| gate_allows(id, l, &d)));
    Some(verdict)
}

/// `license_revoked`: a license not yet revoked. Every order held on it is released (rule
/// `license_not_active`), returning its reservation on every gate: no condition can be settled
/// on a revoked license, so nothing would ever open it.
pub(super) fn check_revoked(state: &QuotaState, license: &str) -> Result<Context, Refusal> {
    let l = license_ref(state, license)?;
    not_revoked(license, l)?;
    let mut held: Vec<(&String, &HeldOrder)> =
        state.held.iter().filter(|(_, h)| h.licenses.contains(license)).collect();
    if held.is_empty() {
        return Ok(Context::None);
    }
    held.sort_by_key(|(_, h)| h.seq);
    let mut licenses: Vec<String> = Vec::new();
    for l in held.iter().flat_map(|(_, h)| h.licenses.iter()) {
        if !licenses.iter().any(|x| x == l) {
            licenses.push(l.to_string());
        }
    }
    let rule = Reason::LicenseNotActive.as_str().to_string();
    let released = held.into_iter().map(|(order, _)| Released { order: order.clone(), rule: rule.clone() }).collect();
    Ok(Context::Resolved { opened: Vec::new(), released, licenses })
}
