//! The report's view model: every number the page shows, computed once from the ledger.
//!
//! [`Builder`] is pure: it replays facts (the domain's own `QuotaState::apply`) and keeps, per
//! authority, what each fact changed on the effective day it is dated (a late entry counts on
//! its own day, not after the records before it); [`build`] feeds it the ledger's records and
//! adds the verification.
//!
//! Totals are per authority, never summed across authorities: an order draws on one license of
//! each gate it passes (the buyer's CN import license and the supplier's US export license), so
//! a sum over every license would count it once per gate, while each authority's own sum counts
//! it once. Sums are u128 (day deltas i128), so no total of u64 quantities can wrap, even over
//! a forged ledger.

use crate::domain::{ConditionStatus, Day, Fact, License, LicenseStatus, QuotaState, Rule, Timestamp};
use crate::ledger::{Depth, Head, Ledger, LedgerError, VerifyReport};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many late entries are listed (the count is always shown).
pub const LATE_LISTED_MAX: usize = 200;

/// Granted, ordered (net of cancellations), shipped and remaining units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantities {
    /// The quota (after amendments).
    pub granted: u128,
    /// Ordered, net of what cancellations and releases returned (held orders included).
    pub ordered: u128,
    /// Shipped.
    pub shipped: u128,
    /// Granted minus ordered (nothing on a revoked license).
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

/// An opened approval round, as `qledger state` shows it (`QuotaState::rounds`, `round_usage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundInfo {
    /// Most units its licenses may be granted in all.
    pub ceiling: u64,
    /// Whether licenses may still be granted in it.
    pub open: bool,
    /// Units granted in it (after amendments; revoked licenses' quantities included).
    pub granted: u64,
    /// Units ordered on its licenses.
    pub ordered: u64,
    /// Units shipped on its licenses.
    pub shipped: u64,
    /// `ceiling - granted`: what is left to grant.
    pub left: u64,
}

/// A group of licenses of one authority and product: one opened round (`round` and `info`),
/// licenses under a round number the authority never opened (`round` only), or, for an
/// authority that opened no round for the product (an export gate), all its licenses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundView {
    /// Granting authority.
    pub authority: String,
    /// Licensed product.
    pub product: String,
    /// The round number, if the authority opened rounds for the product.
    pub round: Option<u64>,
    /// The round's ceiling and usage, if that round was opened.
    pub info: Option<RoundInfo>,
    /// Its licenses, by id.
    pub licenses: Vec<LicenseView>,
    /// Sums over its licenses.
    pub totals: Quantities,
}

/// A party's headroom for one product, as `qledger state` computes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headroom {
    /// The product.
    pub product: String,
    /// The party's own active licenses for it (any authority).
    pub active_licenses: u64,
    /// Remaining on those licenses.
    pub own_remaining: u128,
    /// What it can order: `QuotaState::headroom`, the minimum over every gate an order passes.
    pub can_order: u64,
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

/// Cumulative totals of one authority's licenses at the end of one effective day (UTC) on
/// which they changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayPoint {
    /// The day.
    pub day: Day,
    /// Quota granted (after amendments).
    pub granted: u128,
    /// Ordered, net of cancellations and releases.
    pub ordered: u128,
    /// Shipped.
    pub shipped: u128,
}

/// One authority: its totals and its timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityView {
    /// The authority.
    pub authority: String,
    /// Its licenses.
    pub licenses: u64,
    /// Sums over its licenses.
    pub totals: Quantities,
    /// Its cumulative totals by effective day, ascending.
    pub timeline: Vec<DayPoint>,
}

/// A policy with the parties it catches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyView {
    /// Policy id.
    pub id: String,
    /// Authority whose licenses it governs.
    pub authority: String,
    /// Product it governs.
    pub product: String,
    /// Denies every state-backed party.
    pub state_backed: bool,
    /// Denies every party of these sectors.
    pub sectors: Vec<String>,
    /// Lifted: denies nobody.
    pub lifted: bool,
    /// Registered parties it catches (exempted or not), by id.
    pub caught: Vec<String>,
    /// Parties exempted from it, by id.
    pub exempted: Vec<String>,
}

/// A per-party cap and what each party holds under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapView {
    /// Authority.
    pub authority: String,
    /// Product.
    pub product: String,
    /// Most units one party may be granted.
    pub per_party: u64,
    /// (party, units it holds), parties holding something, by id.
    pub holdings: Vec<(String, u64)>,
}

/// An order held until its licenses' pending conditions are settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldView {
    /// Order id.
    pub order: String,
    /// When it was placed.
    pub at: Timestamp,
    /// The licenses it draws on.
    pub licenses: Vec<String>,
    /// Units reserved.
    pub quantity: u64,
}

/// A late entry: a record dated before records already in the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateView {
    /// Its seq.
    pub seq: u64,
    /// Its effective time.
    pub at: Timestamp,
    /// The ledger's clock when it was appended (absent on format-1 records).
    pub recorded_at: Option<Timestamp>,
    /// Event type.
    pub kind: &'static str,
    /// What it is about.
    pub subject: String,
    /// Why it is late.
    pub reason: String,
}

/// Everything the report shows.
#[derive(Debug)]
pub struct ReportModel {
    /// The head the report was made at.
    pub head: Head,
    /// Latest effective time of the records.
    pub last_at: Option<Timestamp>,
    /// Earliest and latest effective day of the records: the timeline's span.
    pub span: Option<(Day, Day)>,
    /// Totals and timeline per authority, by authority.
    pub authorities: Vec<AuthorityView>,
    /// Licenses grouped by authority, product and round, in that order.
    pub rounds: Vec<RoundView>,
    /// Every party, by id.
    pub parties: Vec<PartyView>,
    /// Policies, by id.
    pub policies: Vec<PolicyView>,
    /// Caps, by authority and product.
    pub caps: Vec<CapView>,
    /// Held orders, by id.
    pub held: Vec<HeldView>,
    /// The first [`LATE_LISTED_MAX`] late entries, by seq.
    pub late: Vec<LateView>,
    /// Late entries in all.
    pub late_total: u64,
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

/// What one effective day changed on one authority's licenses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Delta {
    granted: i128,
    ordered: i128,
    shipped: i128,
}

/// The replay behind the model: the quota state, per-day changes per authority, late entries.
#[derive(Debug, Default)]
pub struct Builder {
    state: QuotaState,
    /// authority -> effective day -> what the facts dated that day changed.
    deltas: BTreeMap<String, BTreeMap<Day, Delta>>,
    span: Option<(Day, Day)>,
    late: Vec<LateView>,
}

impl Builder {
    /// Applies one fact (the next record): the state moves as the domain says, and the day the
    /// fact is dated gets what it changed on every license it touched (every gate of an order).
    pub fn apply(&mut self, fact: &Fact) {
        let seq = self.state.records;
        let touched: BTreeSet<String> = fact.licenses_touched().into_iter().map(str::to_string).collect();
        let before: Vec<Quantities> = touched.iter().map(|l| self.quantities(l)).collect();
        self.state.apply(fact);
        let day = fact.stamp.at.day();
        self.span = Some(self.span.map_or((day, day), |(first, last)| (first.min(day), last.max(day))));
        for (id, before) in touched.iter().zip(before) {
            let Some(l) = self.state.licenses.get(id) else { continue };
            let after = Quantities::of(l);
            let diff = |a: u128, b: u128| {
                i128::try_from(a).unwrap_or(i128::MAX).saturating_sub(i128::try_from(b).unwrap_or(i128::MAX))
            };
            let d = self.deltas.entry(l.authority.clone()).or_default().entry(day).or_default();
            d.granted = d.granted.saturating_add(diff(after.granted, before.granted));
            d.ordered = d.ordered.saturating_add(diff(after.ordered, before.ordered));
            d.shipped = d.shipped.saturating_add(diff(after.shipped, before.shipped));
        }
        if let Some(reason) = &fact.stamp.late_reason {
            if self.late.len() < LATE_LISTED_MAX {
                self.late.push(LateView {
                    seq,
                    at: fact.stamp.at,
                    recorded_at: fact.stamp.recorded_at,
                    kind: fact.event.type_name(),
                    subject: fact.event.subject().into_owned(),
                    reason: reason.clone(),
                });
            }
        }
    }

    fn quantities(&self, license: &str) -> Quantities {
        self.state.licenses.get(license).map(Quantities::of).unwrap_or_default()
    }

    /// The model at this point, with the head and the verification result.
    pub fn finish(self, head: Head, verification: Result<VerifyReport, LedgerError>) -> ReportModel {
        let s = &self.state;
        ReportModel {
            head,
            last_at: s.last_at,
            span: self.span,
            authorities: authorities(s, &self.deltas),
            rounds: rounds(s),
            parties: parties(s),
            policies: policies(s),
            caps: caps(s),
            held: s
                .held
                .iter()
                .map(|(id, h)| HeldView {
                    order: id.clone(),
                    at: h.at,
                    licenses: h.licenses.iter().map(str::to_string).collect(),
                    quantity: h.quantity,
                })
                .collect(),
            late: self.late,
            late_total: s.late_entries,
            verification,
        }
    }
}

/// Running totals in day order; a day whose changes cancel out has no point.
fn timeline(days: &BTreeMap<Day, Delta>) -> Vec<DayPoint> {
    let mut running = Delta::default();
    let mut points = Vec::new();
    let level = |v: i128| u128::try_from(v).unwrap_or(0);
    for (day, d) in days {
        if *d == Delta::default() {
            continue;
        }
        running.granted = running.granted.saturating_add(d.granted);
        running.ordered = running.ordered.saturating_add(d.ordered);
        running.shipped = running.shipped.saturating_add(d.shipped);
        points.push(DayPoint {
            day: *day,
            granted: level(running.granted),
            ordered: level(running.ordered),
            shipped: level(running.shipped),
        });
    }
    points
}

fn authorities(state: &QuotaState, deltas: &BTreeMap<String, BTreeMap<Day, Delta>>) -> Vec<AuthorityView> {
    let mut by: BTreeMap<&str, AuthorityView> = BTreeMap::new();
    for l in state.licenses.values() {
        let a = by.entry(&l.authority).or_insert_with(|| AuthorityView {
            authority: l.authority.clone(),
            licenses: 0,
            totals: Quantities::default(),
            timeline: deltas.get(&l.authority).map(timeline).unwrap_or_default(),
        });
        a.licenses += 1;
        a.totals.add(Quantities::of(l));
    }
    by.into_values().collect()
}

fn rounds(state: &QuotaState) -> Vec<RoundView> {
    let mut groups: BTreeMap<(&str, &str, Option<u64>), RoundView> = BTreeMap::new();
    let group = |authority: &str, product: &str, round: Option<u64>| RoundView {
        authority: authority.to_string(),
        product: product.to_string(),
        round,
        info: round.and_then(|n| {
            let r = state.rounds.get(&(authority.to_string(), n)).filter(|r| r.product == product)?;
            let u = state.round_usage(authority, n)?;
            Some(RoundInfo {
                ceiling: r.ceiling,
                open: r.open,
                granted: u.granted,
                ordered: u.ordered,
                shipped: u.shipped,
                left: u.left,
            })
        }),
        licenses: Vec::new(),
        totals: Quantities::default(),
    };
    // Every opened round, with or without licenses.
    for ((authority, n), r) in &state.rounds {
        groups.entry((authority, &r.product, Some(*n))).or_insert_with(|| group(authority, &r.product, Some(*n)));
    }
    for (id, l) in &state.licenses {
        let round = state.has_rounds(&l.authority, &l.product).then_some(l.round);
        let g =
            groups.entry((&l.authority, &l.product, round)).or_insert_with(|| group(&l.authority, &l.product, round));
        g.totals.add(Quantities::of(l));
        g.licenses.push(license_view(id, l));
    }
    groups.into_values().collect()
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
    // (licensee, product) -> (active licenses, remaining on them).
    let mut own: BTreeMap<(&str, &str), (u64, u128)> = BTreeMap::new();
    for l in state.licenses.values().filter(|l| l.status == LicenseStatus::Active) {
        let o = own.entry((&l.licensee, &l.product)).or_default();
        o.0 += 1;
        o.1 += u128::from(l.remaining());
    }
    state
        .parties
        .iter()
        .map(|(id, p)| PartyView {
            id: id.clone(),
            name: p.name.clone(),
            state_backed: p.state_backed,
            restricted: p.restricted,
            headroom: state
                .headroom(id)
                .into_iter()
                .map(|(product, can_order)| {
                    let (active_licenses, own_remaining) =
                        own.get(&(id.as_str(), product.as_str())).copied().unwrap_or_default();
                    Headroom { product, active_licenses, own_remaining, can_order }
                })
                .collect(),
        })
        .collect()
}

fn policies(state: &QuotaState) -> Vec<PolicyView> {
    state
        .policies
        .iter()
        .map(|(id, p)| PolicyView {
            id: id.clone(),
            authority: p.authority.clone(),
            product: p.product.clone(),
            state_backed: p.deny.state_backed,
            sectors: p.deny.sectors.clone(),
            lifted: p.lifted,
            caught: state.caught_by(p).map(str::to_string).collect(),
            exempted: p.exemptions.iter().cloned().collect(),
        })
        .collect()
}

fn caps(state: &QuotaState) -> Vec<CapView> {
    state
        .caps
        .iter()
        .map(|((authority, product), per_party)| CapView {
            authority: authority.clone(),
            product: product.clone(),
            per_party: *per_party,
            holdings: state
                .holdings
                .iter()
                .filter(|((_, a, p), h)| a == authority && p == product && **h > 0)
                .map(|((party, _, _), h)| (party.clone(), *h))
                .collect(),
        })
        .collect()
}
