//! The report's view model: every number the page shows, computed once from the ledger.
//!
//! [`Builder`] is pure: it replays facts (the domain's own `QuotaState::apply`) and keeps the
//! running totals per day; [`build`] feeds it the ledger's records and adds the verification.
//! Sums are u128, so no total of u64 quantities can wrap, even over a forged ledger.

use crate::domain::{ConditionStatus, Context, Day, Event, Fact, License, LicenseStatus, QuotaState, Rule, Timestamp};
use crate::ledger::{Depth, Head, Ledger, LedgerError, VerifyReport};
use std::collections::BTreeMap;

/// Granted, ordered (net of cancellations), shipped and remaining units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantities {
    /// The quota (after amendments).
    pub granted: u128,
    /// Ordered, net of what cancellations returned.
    pub ordered: u128,
    /// Shipped.
    pub shipped: u128,
    /// Granted minus ordered.
    pub remaining: u128,
}

impl Quantities {
    /// One license's quantities.
    pub fn of(l: &License) -> Quantities {
        Quantities {
            granted: l.quantity.into(),
            ordered: l.ordered().into(),
            shipped: l.shipped.into(),
            remaining: l.remaining().into(),
        }
    }

    fn add(&mut self, other: Quantities) {
        self.granted += other.granted;
        self.ordered += other.ordered;
        self.shipped += other.shipped;
        self.remaining += other.remaining;
    }
}

/// A condition on a license, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionView {
    /// Its id within the license.
    pub id: String,
    /// What it requires.
    pub rule: Rule,
    /// Pending, final or withdrawn.
    pub status: ConditionStatus,
}

/// One license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseView {
    /// License id.
    pub id: String,
    /// The party it is granted to.
    pub licensee: String,
    /// Life-cycle status.
    pub status: LicenseStatus,
    /// Its quota and totals.
    pub quantities: Quantities,
    /// First valid day.
    pub valid_from: Day,
    /// Last valid day.
    pub valid_until: Day,
    /// Its conditions, in the order they were added.
    pub conditions: Vec<ConditionView>,
}

/// The licenses of one approval round: one authority, one product, one round number. Issue 9
/// gives rounds a ceiling of their own: it belongs here, beside `totals`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundView {
    /// Granting authority.
    pub authority: String,
    /// Licensed product.
    pub product: String,
    /// Round number.
    pub round: u64,
    /// Its licenses, by id.
    pub licenses: Vec<LicenseView>,
    /// Sums over its licenses.
    pub totals: Quantities,
}

/// A party's headroom for one product: what its active licenses still allow it to order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headroom {
    /// The product.
    pub product: String,
    /// Active licenses for it.
    pub active_licenses: u64,
    /// Sum of their remaining units.
    pub remaining: u128,
}

/// A party and its headroom per product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyView {
    /// Party id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Registered as state-backed.
    pub state_backed: bool,
    /// Restricted from licenses and orders.
    pub restricted: bool,
    /// Per product it holds an active license for, by product.
    pub headroom: Vec<Headroom>,
}

/// Cumulative totals over every license at the end of one day (UTC) on which they changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayPoint {
    /// The day.
    pub day: Day,
    /// Total quota granted (after amendments).
    pub granted: u128,
    /// Total ordered, net of cancellations.
    pub ordered: u128,
    /// Total shipped.
    pub shipped: u128,
}

/// Everything the report shows.
#[derive(Debug)]
pub struct ReportModel {
    /// The head the report was made at.
    pub head: Head,
    /// Business time of the last record.
    pub last_at: Option<Timestamp>,
    /// Licenses grouped by authority, product and round, in that order.
    pub rounds: Vec<RoundView>,
    /// Every party, by id.
    pub parties: Vec<PartyView>,
    /// Cumulative totals by day, for the chart.
    pub timeline: Vec<DayPoint>,
    /// Sums over every license.
    pub totals: Quantities,
    /// What `qledger verify` says of the same ledger.
    pub verification: Result<VerifyReport, LedgerError>,
}

/// Builds the model of `ledger` at its head: replays every record, then verifies as `qledger
/// verify` does. A failed verification is part of the model; a record that cannot be read is
/// an error.
pub fn build(ledger: &Ledger) -> Result<ReportModel, LedgerError> {
    let mut builder = Builder::default();
    for record in ledger.records(0)? {
        builder.apply(&record?.fact);
    }
    let verification = ledger.verify_with(None, Depth::Rules);
    Ok(builder.finish(ledger.head(), verification))
}

/// The replay behind the model: the quota state and the changes of the totals by effective day.
#[derive(Debug, Default)]
pub struct Builder {
    state: QuotaState,
    /// The change of (granted, ordered, shipped) by effective day: a late entry's change goes
    /// to its own day, not to the day of the record before it.
    deltas: BTreeMap<Day, [i128; 3]>,
}

impl Builder {
    /// Applies one fact: the state moves as the domain says, and the totals of its day (its
    /// effective day: a late entry's change goes to the day it happened) by the change of the
    /// licenses it counts on. Granted sums every license; ordered and shipped count each order
    /// and shipment once, on the order's first license (the buyer's), though they draw on
    /// every gate.
    pub fn apply(&mut self, fact: &Fact) {
        let counted = self.counted(fact);
        let before = self.sums(&counted);
        self.state.apply(fact);
        let after = self.sums(&counted);
        let d = self.deltas.entry(fact.stamp.at.day()).or_default();
        for i in 0..3 {
            d[i] += after[i] - before[i];
        }
    }

    /// The licenses whose change `fact` is counted by, before it is applied: an order's first
    /// license, the first licenses of the held orders a finalization opened or released, else
    /// the license the event names.
    fn counted(&self, fact: &Fact) -> Vec<String> {
        let mut ids: Vec<String> = match (&fact.context, &fact.event) {
            (Context::Shipment { licenses } | Context::Cancellation { licenses, .. }, _)
            | (Context::Correction { licenses, .. }, _)
            | (_, Event::OrderPlaced { licenses, .. }) => vec![licenses.first().to_string()],
            _ => fact.event.license().map(str::to_string).into_iter().collect(),
        };
        if let Context::Resolved { opened, released, .. } = &fact.context {
            let orders = opened.iter().chain(released.iter().map(|r| &r.order));
            ids.extend(orders.filter_map(|o| self.state.held.get(o)).map(|h| h.licenses.first().to_string()));
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// (granted, ordered, shipped) summed over `licenses`.
    fn sums(&self, licenses: &[String]) -> [i128; 3] {
        let mut sum = [0i128; 3];
        for l in licenses.iter().filter_map(|id| self.state.licenses.get(id)) {
            sum[0] += i128::from(l.quantity);
            sum[1] += i128::from(l.ordered());
            sum[2] += i128::from(l.shipped);
        }
        sum
    }

    /// The cumulative totals at the end of each day on which they changed, the first day
    /// always.
    fn timeline(&self) -> Vec<DayPoint> {
        let mut running = [0i128; 3];
        let mut timeline: Vec<DayPoint> = Vec::new();
        for (day, d) in &self.deltas {
            for i in 0..3 {
                running[i] += d[i];
            }
            let total = |i: usize| u128::try_from(running[i]).unwrap_or(0);
            let point = DayPoint { day: *day, granted: total(0), ordered: total(1), shipped: total(2) };
            match timeline.last() {
                Some(last)
                    if (last.granted, last.ordered, last.shipped) == (point.granted, point.ordered, point.shipped) => {}
                _ => timeline.push(point),
            }
        }
        timeline
    }

    /// The model at this point, with the head and the verification result.
    pub fn finish(self, head: Head, verification: Result<VerifyReport, LedgerError>) -> ReportModel {
        let rounds = rounds(&self.state);
        let mut totals = Quantities::default();
        for r in &rounds {
            totals.add(r.totals);
        }
        ReportModel {
            head,
            last_at: self.state.last_at,
            parties: parties(&self.state),
            rounds,
            timeline: self.timeline(),
            totals,
            verification,
        }
    }
}

fn rounds(state: &QuotaState) -> Vec<RoundView> {
    let mut by_round: BTreeMap<(&str, &str, u64), RoundView> = BTreeMap::new();
    for (id, l) in &state.licenses {
        let round = by_round.entry((&l.authority, &l.product, l.round)).or_insert_with(|| RoundView {
            authority: l.authority.clone(),
            product: l.product.clone(),
            round: l.round,
            licenses: Vec::new(),
            totals: Quantities::default(),
        });
        round.totals.add(Quantities::of(l));
        round.licenses.push(license_view(id, l));
    }
    by_round.into_values().collect()
}

fn license_view(id: &str, l: &License) -> LicenseView {
    LicenseView {
        id: id.to_string(),
        licensee: l.licensee.clone(),
        status: l.status,
        quantities: Quantities::of(l),
        valid_from: l.valid_from,
        valid_until: l.valid_until,
        conditions: l
            .conditions
            .iter()
            .map(|c| ConditionView { id: c.id.clone(), rule: c.rule.clone(), status: c.status })
            .collect(),
    }
}

fn parties(state: &QuotaState) -> Vec<PartyView> {
    let mut headroom: BTreeMap<(&str, &str), Headroom> = BTreeMap::new();
    for l in state.licenses.values().filter(|l| l.status == LicenseStatus::Active) {
        let h = headroom.entry((&l.licensee, &l.product)).or_insert_with(|| Headroom {
            product: l.product.clone(),
            active_licenses: 0,
            remaining: 0,
        });
        h.active_licenses += 1;
        h.remaining += u128::from(l.remaining());
    }
    state
        .parties
        .iter()
        .map(|(id, p)| PartyView {
            id: id.clone(),
            name: p.name.clone(),
            state_backed: p.state_backed,
            restricted: p.restricted,
            headroom: headroom
                .range((id.as_str(), "")..)
                .take_while(|((p, _), _)| p == id)
                .map(|(_, h)| h.clone())
                .collect(),
        })
        .collect()
}
