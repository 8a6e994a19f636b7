//! The quota projection: parties and licenses with their running totals, rebuilt from facts.
//!
//! `apply` is infallible and total: the rules have already accepted every fact it sees. It uses
//! saturating arithmetic so that even a forged (re-hashed) ledger cannot make it panic.

use super::event::{Context, Event, Fact, Rule};
use super::time::{Day, Timestamp};
use std::collections::BTreeMap;

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
    /// Added, not final: blocks every order on its license.
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
    /// Units committed against the quota: ordered, net of what cancellations returned. Kept
    /// net (not as a gross sum minus returns) so that no amount of order and cancel churn can
    /// overflow it: it never exceeds `quantity`.
    pub ordered: u64,
    /// Units shipped.
    pub shipped: u64,
    /// First valid day.
    pub valid_from: Day,
    /// Last valid day (inclusive).
    pub valid_until: Day,
    /// Conditions in the order they were added.
    pub conditions: Vec<Condition>,
}

impl License {
    /// Ordered net of what cancellations returned: the units committed against the quota.
    pub fn ordered(&self) -> u64 {
        self.ordered
    }

    /// `quantity - ordered`.
    pub fn remaining(&self) -> u64 {
        self.quantity.saturating_sub(self.ordered())
    }

    /// The condition with this id.
    pub fn condition(&self, id: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.id == id)
    }

    fn condition_mut(&mut self, id: &str) -> Option<&mut Condition> {
        self.conditions.iter_mut().find(|c| c.id == id)
    }
}

/// The quota state after some prefix of the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaState {
    /// Number of facts applied (= the next record's seq).
    pub records: u64,
    /// Business time of the last fact applied.
    pub last_at: Option<Timestamp>,
    /// Parties by id.
    pub parties: BTreeMap<String, Party>,
    /// Licenses by id.
    pub licenses: BTreeMap<String, License>,
}

impl QuotaState {
    /// Applies one accepted fact.
    pub fn apply(&mut self, fact: &Fact) {
        self.records += 1;
        self.last_at = Some(fact.stamp.at);
        match &fact.event {
            Event::PartyRegistered { party, name, country, state_backed, sector } => {
                self.parties.insert(
                    party.clone(),
                    Party {
                        name: name.clone(),
                        country: country.clone(),
                        state_backed: *state_backed,
                        sector: sector.clone(),
                        restricted: false,
                    },
                );
            }
            Event::PartyRestricted { party, .. } => {
                if let Some(p) = self.parties.get_mut(party) {
                    p.restricted = true;
                }
            }
            Event::LicenseGranted {
                license,
                authority,
                licensee,
                product,
                quantity,
                valid_from,
                valid_until,
                round,
            } => {
                self.licenses.insert(
                    license.clone(),
                    License {
                        authority: authority.clone(),
                        licensee: licensee.clone(),
                        product: product.clone(),
                        round: *round,
                        status: LicenseStatus::Active,
                        quantity: *quantity,
                        ordered: 0,
                        shipped: 0,
                        valid_from: *valid_from,
                        valid_until: *valid_until,
                        conditions: Vec::new(),
                    },
                );
            }
            Event::ConditionAdded { license, condition, rule, is_final } => {
                if let Some(l) = self.licenses.get_mut(license) {
                    let status = if *is_final { ConditionStatus::Final } else { ConditionStatus::Pending };
                    l.conditions.push(Condition { id: condition.clone(), rule: rule.clone(), status });
                }
            }
            Event::ConditionFinalized { license, condition } => {
                self.set_condition(license, condition, ConditionStatus::Final)
            }
            Event::ConditionWithdrawn { license, condition, .. } => {
                self.set_condition(license, condition, ConditionStatus::Withdrawn)
            }
            Event::OrderPlaced { license, quantity, .. } => {
                if let Some(l) = self.licenses.get_mut(license) {
                    l.ordered = l.ordered.saturating_add(*quantity);
                }
            }
            Event::OrderCancelled { .. } => {
                if let Context::Cancellation { license, quantity_returned } = &fact.context {
                    if let Some(l) = self.licenses.get_mut(license) {
                        l.ordered = l.ordered.saturating_sub(*quantity_returned);
                    }
                }
            }
            Event::ShipmentRecorded { quantity, .. } => {
                if let Context::Shipment { license } = &fact.context {
                    if let Some(l) = self.licenses.get_mut(license) {
                        l.shipped = l.shipped.saturating_add(*quantity);
                    }
                }
            }
            Event::QuotaAmended { license, quantity, .. } => {
                if let Some(l) = self.licenses.get_mut(license) {
                    l.quantity = *quantity;
                }
            }
            Event::LicenseSuspended { license, .. } => self.set_status(license, LicenseStatus::Suspended),
            Event::LicenseReinstated { license, .. } => self.set_status(license, LicenseStatus::Active),
            Event::LicenseRevoked { license, .. } => self.set_status(license, LicenseStatus::Revoked),
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
