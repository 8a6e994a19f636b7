//! Rules on what authorities decide: grants and amendments (within rounds, caps and
//! policies), rounds, policies and caps.

use super::{license_ref, not_revoked, party_ref, positive, refuse, Reason, Refusal};
use crate::domain::event::Event;
use crate::domain::quota::{License, QuotaState};

/// `license_granted`: a new id to a registered, unrestricted party that no policy denies;
/// positive quantity and round; a sane validity; within its round and the party's cap.
pub(super) fn check_grant(state: &QuotaState, event: &Event) -> Result<(), Refusal> {
    let Event::LicenseGranted { license, authority, licensee, product, quantity, valid_from, valid_until, round } =
        event
    else {
        return Ok(());
    };
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
    if let Some(policy) = state.denying_policy(licensee, authority, product) {
        return refuse(
            Reason::PolicyDenied,
            "licensee",
            format!("policy {policy} denies {licensee} licenses of {authority} for {product}"),
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
    if state.has_rounds(authority, product) {
        round_open(state, authority, *round, product)?;
    }
    let new = License {
        authority: authority.clone(),
        licensee: licensee.clone(),
        product: product.clone(),
        round: *round,
        ..placeholder()
    };
    within_round_and_cap(state, &new, 0, *quantity)
}

/// A license with nothing in it: the shape `within_round_and_cap` reads for a new grant.
fn placeholder() -> License {
    License {
        authority: String::new(),
        licensee: String::new(),
        product: String::new(),
        round: 0,
        status: crate::domain::LicenseStatus::Active,
        quantity: 0,
        ordered: 0,
        held: 0,
        shipped: 0,
        shipments: 0,
        valid_from: crate::domain::Day(0),
        valid_until: crate::domain::Day(0),
        granted_at: crate::domain::Timestamp::default(),
        conditions: Vec::new(),
    }
}

fn round_open(state: &QuotaState, authority: &str, round: u64, product: &str) -> Result<(), Refusal> {
    match state.rounds.get(&(authority.to_string(), round)) {
        Some(r) if r.product == product && r.open => Ok(()),
        Some(r) if r.product == product => {
            refuse(Reason::RoundNotOpen, "round", format!("round {round} of {authority} for {product} is closed"))
        }
        _ => refuse(
            Reason::RoundNotOpen,
            "round",
            format!("{authority} has opened rounds for {product}, but not round {round}: name an open round"),
        ),
    }
}

/// Moving `l` from `old` to `new` units keeps its round under its ceiling and its licensee
/// under the cap of its authority and product.
fn within_round_and_cap(state: &QuotaState, l: &License, old: u64, new: u64) -> Result<(), Refusal> {
    let grow = new.saturating_sub(old);
    if grow == 0 {
        return Ok(());
    }
    if let Some(r) = state.round_of(l) {
        if grow > r.left() {
            return refuse(
                Reason::ExceedsRoundCeiling,
                "quantity",
                format!(
                    "{grow} more units would exceed the ceiling {} of round {} of {}: {} granted, {} left",
                    r.ceiling,
                    l.round,
                    l.authority,
                    r.granted,
                    r.left()
                ),
            );
        }
    }
    if let Some(&cap) = state.caps.get(&(l.authority.clone(), l.product.clone())) {
        let held = state.holding(&l.licensee, &l.authority, &l.product);
        let after = u128::from(held) - u128::from(old.min(held)) + u128::from(new);
        if after > u128::from(cap) {
            return refuse(
                Reason::ExceedsPartyCap,
                "quantity",
                format!(
                    "{} would hold {after} units of {} from {}, over the per-party cap {cap} ({held} held)",
                    l.licensee, l.product, l.authority
                ),
            );
        }
    }
    Ok(())
}

/// `quota_amended`: positive, not below what is committed, within round and cap.
pub(super) fn check_amended(state: &QuotaState, license: &str, quantity: u64) -> Result<(), Refusal> {
    positive("quantity", quantity)?;
    let l = license_ref(state, license)?;
    not_revoked(license, l)?;
    let committed = l.ordered();
    if quantity < committed {
        return refuse(
            Reason::BelowCommitted,
            "quantity",
            format!("new quota {quantity} is below the {committed} already ordered on {license}"),
        );
    }
    within_round_and_cap(state, l, l.quantity, quantity)
}

/// `round_opened`: a new (authority, round), a positive ceiling above what licenses already
/// granted under that number hold. `round_closed`: an open round.
pub(super) fn check_round(state: &QuotaState, event: &Event) -> Result<(), Refusal> {
    match event {
        Event::RoundOpened { authority, round, product, ceiling } => {
            positive("round", *round)?;
            positive("ceiling", *ceiling)?;
            if state.rounds.contains_key(&(authority.clone(), *round)) {
                return refuse(Reason::DuplicateId, "round", format!("round {round} of {authority} is already opened"));
            }
            let granted = state
                .licenses
                .values()
                .filter(|l| &l.authority == authority && l.round == *round && &l.product == product)
                .fold(0u128, |sum, l| sum + u128::from(l.quantity));
            if granted > u128::from(*ceiling) {
                return refuse(
                    Reason::ExceedsRoundCeiling,
                    "ceiling",
                    format!("licenses of round {round} of {authority} for {product} already hold {granted} units"),
                );
            }
            Ok(())
        }
        Event::RoundClosed { authority, round } => match state.rounds.get(&(authority.clone(), *round)) {
            None => refuse(Reason::UnknownRound, "round", format!("round {round} of {authority} was never opened")),
            Some(r) if !r.open => {
                refuse(Reason::RoundNotOpen, "round", format!("round {round} of {authority} is closed"))
            }
            Some(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `policy_set`: a new id that denies someone; `policy_lifted`: a policy in force;
/// `exemption_granted`: a policy in force and a registered party not yet exempted.
pub(super) fn check_policy(state: &QuotaState, event: &Event) -> Result<(), Refusal> {
    match event {
        Event::PolicySet { policy, deny, .. } => {
            if state.policies.contains_key(policy) {
                return refuse(Reason::DuplicateId, "policy", format!("policy {policy} is already set"));
            }
            if !deny.state_backed && deny.sectors.is_empty() {
                return refuse(
                    Reason::EmptyPolicy,
                    "deny",
                    "deny must name state_backed: true or at least one sector".to_string(),
                );
            }
            Ok(())
        }
        Event::PolicyLifted { policy, .. } => policy_in_force(state, policy).map(|_| ()),
        Event::ExemptionGranted { policy, party, .. } => {
            let p = policy_in_force(state, policy)?;
            party_ref(state, "party", party)?;
            if p.exemptions.contains(party) {
                return refuse(Reason::DuplicateId, "party", format!("{party} is already exempted from {policy}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn policy_in_force<'s>(state: &'s QuotaState, policy: &str) -> Result<&'s crate::domain::quota::Policy, Refusal> {
    match state.policies.get(policy) {
        None => refuse(Reason::UnknownPolicy, "policy", format!("policy {policy} does not exist")),
        Some(p) if p.lifted => refuse(Reason::PolicyNotActive, "policy", format!("policy {policy} is lifted")),
        Some(p) => Ok(p),
    }
}

/// `cap_set`: positive, and not below what any party already holds.
pub(super) fn check_cap(state: &QuotaState, authority: &str, product: &str, per_party: u64) -> Result<(), Refusal> {
    positive("per_party", per_party)?;
    let over = state
        .holdings
        .iter()
        .filter(|((_, a, p), held)| a == authority && p == product && **held > per_party)
        .max_by_key(|(_, held)| **held);
    if let Some(((party, _, _), held)) = over {
        return refuse(
            Reason::CapBelowHoldings,
            "per_party",
            format!("cap {per_party} is below the {held} units {party} already holds of {product} from {authority}"),
        );
    }
    Ok(())
}
