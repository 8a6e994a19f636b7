//! The quota projection: parties, licenses, rounds, policies, caps and held orders with their
//! running totals, rebuilt from facts.
//!
//! `apply` is infallible and total: the rules have already accepted every fact it sees. It uses
//! saturating arithmetic so that even a forged (re-hashed) ledger cannot make it panic.

use super::event::{Context, Deny, Event, Fact, Gates, Rule};
use super::time::{Day, Timestamp};
use std::collections::{BTreeMap, BTreeSet};

/// A registered party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    /// Display name.
    pub name: String,
    /// Country code or name.
    pub country: String,
    /// Registered as state-backed.
    pub state_backed: bool,
    /// Business sector.
    pub sector: String,
    /// Restricted parties are granted no license and place no order.
    pub restricted: bool,
}

/// A license's life-cycle status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseStatus {
    /// Orders may be placed.
    Active,
    /// Temporarily closed to orders and shipments.
    Suspended,
    /// Closed for good.
    Revoked,
}

/// A condition's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// Added, not final: blocks every order on its license (or holds it).
    Pending,
    /// In force.
    Final,
    /// No longer applies.
    Withdrawn,
}

/// A condition on a license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Id, unique within its license.
    pub id: String,
    /// What it requires.
    pub rule: Rule,
    /// Whether it is in force.
    pub status: ConditionStatus,
}

/// A license and its running totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct License {
    /// Granting authority.
    pub authority: String,
    /// The party the license is granted to.
    pub licensee: String,
    /// Licensed product.
    pub product: String,
    /// Approval round.
    pub round: u64,
    /// Life-cycle status.
    pub status: LicenseStatus,
    /// Current quota (after amendments).
    pub quantity: u64,
    /// Units committed against the quota: ordered (held orders included), net of what
    /// cancellations and releases returned. Kept net so that no amount of order and cancel
    /// churn can overflow it: it never exceeds `quantity`.
    pub ordered: u64,
    /// The part of `ordered` reserved by held orders.
    pub held: u64,
    /// Units shipped (after corrections).
    pub shipped: u64,
    /// Shipments recorded on it (corrections do not count).
    pub shipments: u64,
    /// First valid day.
    pub valid_from: Day,
    /// Last valid day (inclusive).
    pub valid_until: Day,
    /// When it was granted (effective time): no order on it is dated earlier.
    pub granted_at: Timestamp,
    /// Conditions in the order they were added.
    pub conditions: Vec<Condition>,
}

impl License {
    /// Ordered net of what cancellations returned: the units committed against the quota.
    pub fn ordered(&self) -> u64 {
        self.ordered
    }

    /// `quantity - ordered`; nothing on a revoked license.
    pub fn remaining(&self) -> u64 {
        if self.status == LicenseStatus::Revoked {
            return 0;
        }
        self.quantity.saturating_sub(self.ordered())
    }

    /// The condition with this id.
    pub fn condition(&self, id: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.id == id)
    }

    /// The first pending condition.
    pub fn pending(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.status == ConditionStatus::Pending)
    }

    /// The conditions in force.
    pub fn finals(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| c.status == ConditionStatus::Final)
    }

    /// Shipments allowed by a final `max_shipments` condition (the smallest), if any.
    pub fn shipments_allowed(&self) -> Option<u64> {
        self.finals()
            .filter_map(|c| match c.rule {
                Rule::MaxShipments { count } => Some(count),
                _ => None,
            })
            .min()
    }

    fn condition_mut(&mut self, id: &str) -> Option<&mut Condition> {
        self.conditions.iter_mut().find(|c| c.id == id)
    }
}

/// An approval round of an authority for a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// The product it approves.
    pub product: String,
    /// Most units its licenses may be granted in all (after amendments).
    pub ceiling: u64,
    /// Whether licenses may still be granted in it.
    pub open: bool,
    /// Units granted in it: the quantities of its licenses, after amendments. A revoked
    /// license's quantity stays granted (amend it down first to return the unused part).
    pub granted: u64,
}

impl Round {
    /// `ceiling - granted`.
    pub fn left(&self) -> u64 {
        self.ceiling.saturating_sub(self.granted)
    }
}

/// A policy on classes of buyers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Authority whose licenses it governs.
    pub authority: String,
    /// Product it governs.
    pub product: String,
    /// Which buyers it denies.
    pub deny: Deny,
    /// Why.
    pub reason: String,
    /// Lifted policies deny nobody.
    pub lifted: bool,
    /// Parties exempted from it.
    pub exemptions: BTreeSet<String>,
}

/// An order held until its licenses' pending conditions are settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldOrder {
    /// Seq of the `order_placed` record (placement order).
    pub seq: u64,
    /// When it was placed (effective time).
    pub at: Timestamp,
    /// Its licenses.
    pub licenses: Gates,
    /// Units reserved.
    pub quantity: u64,
    /// Domestic units bundled.
    pub domestic_quantity: u64,
    /// The supplier it names.
    pub supplier: String,
}

/// (authority, product): the key of caps and of the products that have rounds.
pub type AuthorityProduct = (String, String);

/// The quota state after some prefix of the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaState {
    /// Number of facts applied (= the next record's seq).
    pub records: u64,
    /// Latest effective time of the facts applied (late entries lie before it).
    pub last_at: Option<Timestamp>,
    /// The ledger clock of the last fact applied that recorded one.
    pub last_recorded_at: Option<Timestamp>,
    /// Parties by id.
    pub parties: BTreeMap<String, Party>,
    /// Licenses by id.
    pub licenses: BTreeMap<String, License>,
    /// Rounds by (authority, round number).
    pub rounds: BTreeMap<(String, u64), Round>,
    /// Policies by id.
    pub policies: BTreeMap<String, Policy>,
    /// Per-party caps by (authority, product).
    pub caps: BTreeMap<AuthorityProduct, u64>,
    /// Units granted to a party by (party, authority, product), after amendments.
    pub holdings: BTreeMap<(String, String, String), u64>,
    /// Held orders by id.
    pub held: BTreeMap<String, HeldOrder>,
    /// Late entries applied.
    pub late_entries: u64,
    /// Refusals recorded.
    pub refusals: u64,
    /// Records counted in `records` but left out, being dated after the time a state of
    /// effective time was asked for (never in a stored snapshot).
    pub passed_over: u64,
}

impl QuotaState {
    /// Applies one accepted fact.
    pub fn apply(&mut self, fact: &Fact) {
        let seq = self.records;
        self.records += 1;
        self.stamp(fact);
        match &fact.event {
            Event::PartyRegistered { party, name, country, state_backed, sector } => {
                let p = Party {
                    name: name.clone(),
                    country: country.clone(),
                    state_backed: *state_backed,
                    sector: sector.clone(),
                    restricted: false,
                };
                self.parties.insert(party.clone(), p);
            }
            Event::PartyRestricted { party, .. } => {
                if let Some(p) = self.parties.get_mut(party) {
                    p.restricted = true;
                }
            }
            Event::LicenseGranted { .. } => self.grant(fact),
            Event::ConditionAdded { license, condition, rule, is_final } => {
                if let Some(l) = self.licenses.get_mut(license) {
                    let status = if *is_final { ConditionStatus::Final } else { ConditionStatus::Pending };
                    l.conditions.push(Condition { id: condition.clone(), rule: rule.clone(), status });
                }
            }
            Event::ConditionFinalized { license, condition } => {
                self.set_condition(license, condition, ConditionStatus::Final);
                self.resolve(&fact.context);
            }
            Event::ConditionWithdrawn { license, condition, .. } => {
                self.set_condition(license, condition, ConditionStatus::Withdrawn);
                self.resolve(&fact.context);
            }
            Event::OrderPlaced { .. } => self.place(seq, fact),
            Event::OrderCancelled { order, .. } => self.cancel(order, &fact.context),
            Event::ShipmentRecorded { quantity, .. } => {
                if let Context::Shipment { licenses } = &fact.context {
                    self.each_license(licenses, |l| {
                        l.shipped = l.shipped.saturating_add(*quantity);
                        l.shipments = l.shipments.saturating_add(1);
                    });
                }
            }
            Event::ShipmentCorrected { quantity, .. } => {
                if let Context::Correction { licenses, previous, .. } = &fact.context {
                    self.each_license(licenses, |l| {
                        l.shipped = l.shipped.saturating_sub(*previous).saturating_add(*quantity);
                    });
                }
            }
            Event::QuotaAmended { license, quantity, .. } => self.amend(license, *quantity),
            Event::LicenseSuspended { license, .. } => self.set_status(license, LicenseStatus::Suspended),
            Event::LicenseReinstated { license, .. } => self.set_status(license, LicenseStatus::Active),
            Event::LicenseRevoked { license, .. } => {
                self.set_status(license, LicenseStatus::Revoked);
                self.resolve(&fact.context);
            }
            Event::RoundOpened { .. } | Event::RoundClosed { .. } => self.round_event(&fact.event),
            Event::PolicySet { .. } | Event::PolicyLifted { .. } | Event::ExemptionGranted { .. } => {
                self.policy_event(&fact.event)
            }
            Event::CapSet { authority, product, per_party } => {
                self.caps.insert((authority.clone(), product.clone()), *per_party);
            }
            Event::Refused { .. } => self.refusals = self.refusals.saturating_add(1),
        }
    }

    /// Counts a record without applying it (a state of effective time that leaves out the
    /// records dated after it): `records` stays the position in the ledger.
    pub fn pass_over(&mut self) {
        self.records += 1;
        self.passed_over += 1;
    }

    fn stamp(&mut self, fact: &Fact) {
        let at = fact.stamp.at;
        self.last_at = Some(self.last_at.map_or(at, |last| last.max(at)));
        if fact.stamp.recorded_at.is_some() {
            self.last_recorded_at = fact.stamp.recorded_at;
        }
        if fact.stamp.is_late() {
            self.late_entries = self.late_entries.saturating_add(1);
        }
    }

    fn grant(&mut self, fact: &Fact) {
        let Event::LicenseGranted { license, authority, licensee, product, quantity, valid_from, valid_until, round } =
            &fact.event
        else {
            return;
        };
        let l = License {
            authority: authority.clone(),
            licensee: licensee.clone(),
            product: product.clone(),
            round: *round,
            status: LicenseStatus::Active,
            quantity: *quantity,
            ordered: 0,
            held: 0,
            shipped: 0,
            shipments: 0,
            valid_from: *valid_from,
            valid_until: *valid_until,
            granted_at: fact.stamp.at,
            conditions: Vec::new(),
        };
        self.count_granted(&l, 0, *quantity);
        self.licenses.insert(license.clone(), l);
    }

    fn amend(&mut self, license: &str, quantity: u64) {
        let Some(l) = self.licenses.get(license) else { return };
        let (old, l) = (l.quantity, l.clone());
        self.count_granted(&l, old, quantity);
        if let Some(l) = self.licenses.get_mut(license) {
            l.quantity = quantity;
        }
    }

    /// Moves `l`'s share of its round and of its licensee's holdings from `old` to `new` units.
    fn count_granted(&mut self, l: &License, old: u64, new: u64) {
        let shift = |total: &mut u64| *total = total.saturating_sub(old).saturating_add(new);
        if let Some(r) = self.round_of_mut(l) {
            shift(&mut r.granted);
        }
        let key = (l.licensee.clone(), l.authority.clone(), l.product.clone());
        shift(self.holdings.entry(key).or_insert(0));
    }

    /// The round `l` was granted in, if its authority opened one with that number for its
    /// product.
    pub fn round_of(&self, l: &License) -> Option<&Round> {
        self.rounds.get(&(l.authority.clone(), l.round)).filter(|r| r.product == l.product)
    }

    fn round_of_mut(&mut self, l: &License) -> Option<&mut Round> {
        self.rounds.get_mut(&(l.authority.clone(), l.round)).filter(|r| r.product == l.product)
    }

    /// Whether `authority` has opened any round for `product`.
    pub fn has_rounds(&self, authority: &str, product: &str) -> bool {
        self.rounds.iter().any(|((a, _), r)| a == authority && r.product == product)
    }

    fn place(&mut self, seq: u64, fact: &Fact) {
        let Event::OrderPlaced { order, licenses, quantity, domestic_quantity, supplier, .. } = &fact.event else {
            return;
        };
        let held = fact.context == Context::Held;
        self.each_license(licenses, |l| {
            l.ordered = l.ordered.saturating_add(*quantity);
            if held {
                l.held = l.held.saturating_add(*quantity);
            }
        });
        if held {
            let h = HeldOrder {
                seq,
                at: fact.stamp.at,
                licenses: licenses.clone(),
                quantity: *quantity,
                domestic_quantity: *domestic_quantity,
                supplier: supplier.clone(),
            };
            self.held.insert(order.clone(), h);
        }
    }

    fn cancel(&mut self, order: &str, context: &Context) {
        let Context::Cancellation { licenses, quantity_returned, held } = context else { return };
        self.each_license(licenses, |l| {
            l.ordered = l.ordered.saturating_sub(*quantity_returned);
            if *held {
                l.held = l.held.saturating_sub(*quantity_returned);
            }
        });
        if *held {
            self.held.remove(order);
        }
    }

    /// Opens and releases the held orders a finalization or withdrawal resolved.
    fn resolve(&mut self, context: &Context) {
        let Context::Resolved { opened, released, .. } = context else { return };
        for order in opened {
            if let Some(h) = self.held.remove(order) {
                self.each_license(&h.licenses, |l| l.held = l.held.saturating_sub(h.quantity));
            }
        }
        for r in released {
            if let Some(h) = self.held.remove(&r.order) {
                self.each_license(&h.licenses, |l| {
                    l.held = l.held.saturating_sub(h.quantity);
                    l.ordered = l.ordered.saturating_sub(h.quantity);
                });
            }
        }
    }

    fn round_event(&mut self, event: &Event) {
        match event {
            Event::RoundOpened { authority, round, product, ceiling } => {
                // Licenses granted before the round opened, under its number, count in it.
                let granted = self
                    .licenses
                    .values()
                    .filter(|l| &l.authority == authority && l.round == *round && &l.product == product)
                    .fold(0u64, |sum, l| sum.saturating_add(l.quantity));
                let r = Round { product: product.clone(), ceiling: *ceiling, open: true, granted };
                self.rounds.insert((authority.clone(), *round), r);
            }
            Event::RoundClosed { authority, round } => {
                if let Some(r) = self.rounds.get_mut(&(authority.clone(), *round)) {
                    r.open = false;
                }
            }
            _ => {}
        }
    }

    fn policy_event(&mut self, event: &Event) {
        match event {
            Event::PolicySet { policy, authority, product, deny, reason } => {
                let p = Policy {
                    authority: authority.clone(),
                    product: product.clone(),
                    deny: deny.clone(),
                    reason: reason.clone(),
                    lifted: false,
                    exemptions: BTreeSet::new(),
                };
                self.policies.insert(policy.clone(), p);
            }
            Event::PolicyLifted { policy, .. } => {
                if let Some(p) = self.policies.get_mut(policy) {
                    p.lifted = true;
                }
            }
            Event::ExemptionGranted { policy, party, .. } => {
                if let Some(p) = self.policies.get_mut(policy) {
                    p.exemptions.insert(party.clone());
                }
            }
            _ => {}
        }
    }

    /// The policy in force that denies `party` licenses or orders of `authority` for
    /// `product`, if one does.
    pub fn denying_policy(&self, party: &str, authority: &str, product: &str) -> Option<&str> {
        if self.policies.is_empty() {
            // Every order asks; most ledgers have no policy, and the party's lookup costs more.
            return None;
        }
        let p = self.parties.get(party)?;
        self.policies
            .iter()
            .find(|(_, pol)| {
                !pol.lifted
                    && pol.authority == authority
                    && pol.product == product
                    && pol.deny.catches(p.state_backed, &p.sector)
                    && !pol.exemptions.contains(party)
            })
            .map(|(id, _)| id.as_str())
    }

    /// The parties a policy catches (exempted or not), by id.
    pub fn caught_by<'s>(&'s self, policy: &'s Policy) -> impl Iterator<Item = &'s str> + 's {
        self.parties.iter().filter(|(_, p)| policy.deny.catches(p.state_backed, &p.sector)).map(|(id, _)| id.as_str())
    }

    /// Units a party holds (granted, after amendments) from `authority` for `product`.
    pub fn holding(&self, party: &str, authority: &str, product: &str) -> u64 {
        self.holdings.get(&(party.to_string(), authority.to_string(), product.to_string())).copied().unwrap_or(0)
    }

    fn each_license(&mut self, licenses: &Gates, mut f: impl FnMut(&mut License)) {
        for id in licenses.iter() {
            if let Some(l) = self.licenses.get_mut(id) {
                f(l);
            }
        }
    }

    fn set_condition(&mut self, license: &str, condition: &str, status: ConditionStatus) {
        if let Some(c) = self.licenses.get_mut(license).and_then(|l| l.condition_mut(condition)) {
            c.status = status;
        }
    }

    fn set_status(&mut self, license: &str, status: LicenseStatus) {
        if let Some(l) = self.licenses.get_mut(license) {
            l.status = status;
        }
    }
}

/// What a round's licenses hold: granted (after amendments), ordered, shipped, and what the
/// ceiling leaves to grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundUsage {
    /// Units granted in the round.
    pub granted: u64,
    /// Units ordered on its licenses (net of cancellations).
    pub ordered: u64,
    /// Units shipped on its licenses.
    pub shipped: u64,
    /// `ceiling - granted`.
    pub left: u64,
}

impl QuotaState {
    /// The usage of round `round` of `authority`.
    pub fn round_usage(&self, authority: &str, round: u64) -> Option<RoundUsage> {
        let r = self.rounds.get(&(authority.to_string(), round))?;
        let (mut ordered, mut shipped) = (0u64, 0u64);
        for l in
            self.licenses.values().filter(|l| l.authority == authority && l.round == round && l.product == r.product)
        {
            ordered = ordered.saturating_add(l.ordered);
            shipped = shipped.saturating_add(l.shipped);
        }
        Some(RoundUsage { granted: r.granted, ordered, shipped, left: r.left() })
    }

    /// What `party` can still order of each product it holds an active license for, the
    /// minimum over every gate an order of it must pass: for each authority that licensed the
    /// party, the remaining summed over the party's active licenses from it (nothing if the
    /// party is restricted or a policy of that authority denies it); for each other authority
    /// that licensed the product to anyone (an export gate held by suppliers), the most any
    /// one licensee has remaining from it (an order goes through one supplier's gate). Caps
    /// bound grants, not orders: they never bind below the licenses, so they do not appear.
    pub fn headroom(&self, party: &str) -> BTreeMap<String, u64> {
        let restricted = self.parties.get(party).is_some_and(|p| p.restricted);
        // (product, authority, licensee) -> remaining over active licenses.
        let mut sums: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
        for l in self.licenses.values().filter(|l| l.status == LicenseStatus::Active) {
            let sum = sums.entry((&l.product, &l.authority, &l.licensee)).or_insert(0);
            *sum = sum.saturating_add(l.remaining());
        }
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        let own: Vec<(&str, &str, u64)> =
            sums.iter().filter(|((_, _, who), _)| *who == party).map(|((p, a, _), s)| (*p, *a, *s)).collect();
        for &(product, authority, sum) in &own {
            let denied = restricted || self.denying_policy(party, authority, product).is_some();
            let h = out.entry(product.to_string()).or_insert(u64::MAX);
            *h = (*h).min(if denied { 0 } else { sum });
        }
        for ((product, authority, _), sum) in &sums {
            let Some(h) = out.get_mut(*product) else { continue };
            if own.iter().any(|(p, a, _)| p == product && a == authority) {
                continue;
            }
            let best = sums
                .iter()
                .filter(|((p, a, _), _)| p == product && a == authority)
                .map(|(_, s)| *s)
                .max()
                .unwrap_or(*sum);
            *h = (*h).min(best);
        }
        out
    }
}
