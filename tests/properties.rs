//! Property tests:
//! (a) random valid event sequences (rounds, policies, exemptions, caps, two-gate and held
//!     orders, finalizations that open or release them, corrections and late entries among
//!     them) appended in random batches: the ledger's state equals the state kept
//!     incrementally with `apply`, at the head and as of any earlier seq or time, and `verify`
//!     passes;
//! (b) encode then decode is the identity for random records of both formats;
//! (c) flipping any single byte of an encoded record (or its hash) fails the chain check;
//! (d) output over extreme values (quantities near u64::MAX): `state` (text and JSON) of any
//!     quota state, even one no rule allows, and `state`, `log`, `replay` and `export` of a
//!     ledger of extreme values, never panic and write valid JSON with exact sums.

use proptest::prelude::*;
use quotaledger::domain::{
    check_with, ConditionStatus, Context, Day, Deny, Event, Fact, Gates, InputFlags, LicenseStatus, Lookup, OrderRow,
    OrderStatus, QuotaState, Rule, Stamp, Target, Timestamp,
};
use quotaledger::format::chain::{record_hash, ChainCursor};
use quotaledger::format::record::{Record, RecordV1, RecordV2, WireContext, WireEvent, WireRule};
use quotaledger::jsonl::InputEvent;
use quotaledger::ledger::{AsOf, Ledger};
use quotaledger::store::OpenMode;
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------------
// (a) Valid event sequences.
// ---------------------------------------------------------------------------------------------

/// The authorities of the generated world: CN grants import licenses (in rounds, under caps
/// and policies once those exist), US export licenses (a second gate of the same buyer).
const CN: &str = "CN-MOFCOM";
const US: &str = "US-BIS";
const PRODUCT: &str = "H200";

/// One step of a story, as random numbers; `interpret` turns it into an event that is valid
/// in the state the steps before it left (falling back to registering a party, which always
/// is).
#[derive(Clone, Debug)]
enum Op {
    Party(u8),
    Restrict(u32),
    Grant(u32, u32, bool),
    Condition(u32, u8, u8, u8, bool),
    Finalize(u32),
    Withdraw(u32),
    /// license, quantity, extra domestic units, second gate, hold.
    Place(u32, u32, u8, u32, bool),
    Ship(u32, u32),
    Cancel(u32),
    Amend(u32, u32),
    Suspend(u32),
    Reinstate(u32),
    Revoke(u32),
    OpenRound(u32),
    CloseRound(u32),
    Policy(u8),
    Lift(u32),
    Exempt(u32, u32),
    Cap(u32),
    Correct(u32, u32),
}

fn op() -> impl Strategy<Value = Op> {
    let n = any::<u32>;
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Party),
        1 => n().prop_map(Op::Restrict),
        5 => (n(), n(), any::<bool>()).prop_map(|(a, b, us)| Op::Grant(a, b, us)),
        // Two in three conditions are added pending: holds and releases need them.
        4 => (n(), any::<u8>(), any::<u8>(), any::<u8>(), 0u8..3)
            .prop_map(|(a, k, x, y, f)| Op::Condition(a, k, x, y, f == 0)),
        6 => n().prop_map(Op::Finalize),
        1 => n().prop_map(Op::Withdraw),
        10 => (n(), n(), any::<u8>(), n(), any::<bool>()).prop_map(|(a, b, c, d, h)| Op::Place(a, b, c, d, h)),
        5 => (n(), n()).prop_map(|(a, b)| Op::Ship(a, b)),
        2 => n().prop_map(Op::Cancel),
        2 => (n(), n()).prop_map(|(a, b)| Op::Amend(a, b)),
        1 => n().prop_map(Op::Suspend),
        1 => n().prop_map(Op::Reinstate),
        1 => n().prop_map(Op::Revoke),
        1 => n().prop_map(Op::OpenRound),
        1 => n().prop_map(Op::CloseRound),
        1 => any::<u8>().prop_map(Op::Policy),
        1 => n().prop_map(Op::Lift),
        1 => (n(), n()).prop_map(|(a, b)| Op::Exempt(a, b)),
        1 => n().prop_map(Op::Cap),
        3 => (n(), n()).prop_map(|(a, b)| Op::Correct(a, b)),
    ]
}

/// The generator's model: the projection and what the ledger keeps beside it (order rows,
/// shipments by seq, corrected seqs), and counters for fresh ids.
#[derive(Default)]
struct Model {
    state: QuotaState,
    orders: BTreeMap<String, OrderRow>,
    shipments: BTreeMap<u64, ((String, u64), Timestamp)>,
    corrected: BTreeMap<u64, u64>,
    /// Shipments recorded per license (corrections aside): an independent count.
    shipment_count: BTreeMap<String, u64>,
    next_id: u64,
}

fn pick<T: Clone>(candidates: Vec<T>, n: u32) -> Option<T> {
    if candidates.is_empty() {
        None
    } else {
        Some(candidates[n as usize % candidates.len()].clone())
    }
}

impl Model {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    fn unrestricted_parties(&self) -> Vec<String> {
        self.state.parties.iter().filter(|(_, p)| !p.restricted).map(|(id, _)| id.clone()).collect()
    }

    fn licenses_where(&self, f: impl Fn(&quotaledger::domain::License) -> bool) -> Vec<String> {
        self.state.licenses.iter().filter(|(_, l)| f(l)).map(|(id, _)| id.clone()).collect()
    }

    fn conditions_where(&self, f: impl Fn(ConditionStatus) -> bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (id, l) in &self.state.licenses {
            if l.status == LicenseStatus::Revoked {
                continue;
            }
            for c in l.conditions.iter().filter(|c| f(c.status)) {
                out.push((id.clone(), c.id.clone()));
            }
        }
        out
    }

    /// A license `buyer` may place an order on now (pending conditions aside when `hold`).
    fn gate_open(&self, id: &str, buyer: &str, hold: bool) -> bool {
        let l = &self.state.licenses[id];
        l.status == LicenseStatus::Active
            && l.remaining() > 0
            && (hold || l.pending().is_none())
            && self.state.denying_policy(buyer, &l.authority, &l.product).is_none()
    }

    /// Open orders (not fully shipped) whose every gate allows one more shipment.
    fn shippable_orders(&self) -> Vec<String> {
        let gate_ok = |id: &str| {
            let l = &self.state.licenses[id];
            l.status == LicenseStatus::Active && l.shipments_allowed().is_none_or(|n| l.shipments < n)
        };
        self.orders
            .iter()
            .filter(|(_, o)| o.is_open() && o.licenses.iter().all(gate_ok))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The open rounds of CN for the product, with what is left in them.
    fn open_rounds(&self) -> Vec<(u64, u64)> {
        let rounds = self.state.rounds.iter();
        rounds
            .filter(|((a, _), r)| a == CN && r.open && r.product == PRODUCT)
            .map(|((_, n), r)| (*n, r.left()))
            .collect()
    }

    /// Most units `licensee` may still be granted by `authority` under its cap.
    fn cap_room(&self, licensee: &str, authority: &str) -> u64 {
        match self.state.caps.get(&(authority.to_string(), PRODUCT.to_string())) {
            Some(&cap) => cap.saturating_sub(self.state.holding(licensee, authority, PRODUCT)),
            None => u64::MAX,
        }
    }

    fn interpret(&mut self, op: &Op) -> Event {
        self.try_interpret(op).unwrap_or_else(|| self.party(0))
    }

    /// A new party: private (internet), state-backed telecom or a defense firm.
    fn party(&mut self, kind: u8) -> Event {
        let party = self.fresh("p");
        let (state_backed, sector) = match kind % 4 {
            0 | 1 => (false, "internet"),
            2 => (true, "telecom"),
            _ => (false, "defense"),
        };
        // Names differ: a party whose name looks like another's is refused at append.
        Event::PartyRegistered {
            name: format!("Party {party} Ltd."),
            party,
            country: "CN".into(),
            state_backed,
            sector: sector.into(),
        }
    }

    fn try_interpret(&mut self, op: &Op) -> Option<Event> {
        let s = &self.state;
        Some(match *op {
            Op::Party(kind) => self.party(kind),
            Op::Restrict(i) => {
                Event::PartyRestricted { party: pick(self.unrestricted_parties(), i)?, reason: "restricted".into() }
            }
            Op::Grant(i, q, us) => self.grant(i, q, us)?,
            Op::Condition(i, kind, x, y, is_final) => {
                let license = pick(self.licenses_where(|l| l.status != LicenseStatus::Revoked), i)?;
                let rule = match kind % 5 {
                    0 => Rule::BundleRatio { domestic: 1 + u64::from(x % 3), per: 1 + u64::from(y % 5) },
                    1 => Rule::MaxPerOrder { units: 1 + u64::from(x) * 1_000 + u64::from(y) },
                    2 => Rule::EndUse { text: "data-centre use".into() },
                    3 => Rule::MaxShipments { count: 1 + u64::from(x % 4) },
                    _ => Rule::Reporting { text: "quarterly report".into() },
                };
                Event::ConditionAdded { license, condition: self.fresh("C"), rule, is_final }
            }
            Op::Finalize(i) => {
                let (license, condition) = pick(self.conditions_where(|c| c == ConditionStatus::Pending), i)?;
                Event::ConditionFinalized { license, condition }
            }
            Op::Withdraw(i) => {
                let (license, condition) = pick(self.conditions_where(|c| c != ConditionStatus::Withdrawn), i)?;
                Event::ConditionWithdrawn { license, condition, reason: "withdrawn".into() }
            }
            Op::Place(i, q, extra, second, hold) => self.place(i, q, extra, second, hold)?,
            Op::Ship(i, q) => {
                let order = pick(self.shippable_orders(), i)?;
                let unshipped = self.orders[&order].unshipped();
                Event::ShipmentRecorded { order, quantity: 1 + u64::from(q) % unshipped }
            }
            Op::Cancel(i) => {
                let cancellable = self.orders.iter().filter(|(_, o)| o.is_open() || o.status == OrderStatus::Held);
                let order = pick(cancellable.map(|(id, _)| id.clone()).collect(), i)?;
                Event::OrderCancelled { order, reason: "cancel".into() }
            }
            Op::Amend(i, q) => {
                let license = pick(self.licenses_where(|l| l.status != LicenseStatus::Revoked), i)?;
                let l = &s.licenses[&license];
                let left = s.round_of(l).map_or(u64::MAX, |r| r.left());
                let cap = self.cap_room(&l.licensee, &l.authority);
                let most = l.quantity.saturating_add(left.min(cap));
                let quantity = (l.ordered() + u64::from(q % 100_000)).min(most).max(l.ordered()).max(1);
                Event::QuotaAmended { license, quantity, reason: "amended".into() }
            }
            Op::Suspend(i) => Event::LicenseSuspended {
                license: pick(self.licenses_where(|l| l.status == LicenseStatus::Active), i)?,
                reason: "inspection".into(),
            },
            Op::Reinstate(i) => Event::LicenseReinstated {
                license: pick(self.licenses_where(|l| l.status == LicenseStatus::Suspended), i)?,
                reason: "passed".into(),
            },
            Op::Revoke(i) => Event::LicenseRevoked {
                license: pick(self.licenses_where(|l| l.status != LicenseStatus::Revoked), i)?,
                reason: "breach".into(),
            },
            Op::OpenRound(q) => {
                let round = (1..=4).find(|r| !s.rounds.contains_key(&(CN.to_string(), *r)))?;
                let granted: u64 = s
                    .licenses
                    .values()
                    .filter(|l| l.authority == CN && l.round == round && l.product == PRODUCT)
                    .map(|l| l.quantity)
                    .sum();
                Event::RoundOpened {
                    authority: CN.into(),
                    round,
                    product: PRODUCT.into(),
                    ceiling: granted + 1 + u64::from(q % 2_000_000),
                }
            }
            Op::CloseRound(i) => {
                let (round, _) = pick(self.open_rounds(), i)?;
                Event::RoundClosed { authority: CN.into(), round }
            }
            Op::Policy(bits) => {
                let mut sectors = Vec::new();
                if bits & 2 != 0 {
                    sectors.push("telecom".to_string());
                }
                if bits & 4 != 0 {
                    sectors.push("defense".to_string());
                }
                let deny = Deny { state_backed: bits & 1 != 0 || sectors.is_empty(), sectors };
                let policy = self.fresh("P");
                Event::PolicySet { policy, authority: CN.into(), product: PRODUCT.into(), deny, reason: "soe".into() }
            }
            Op::Lift(i) => {
                let live = s.policies.iter().filter(|(_, p)| !p.lifted).map(|(id, _)| id.clone()).collect();
                Event::PolicyLifted { policy: pick(live, i)?, reason: "lifted".into() }
            }
            Op::Exempt(i, j) => {
                let live = s.policies.iter().filter(|(_, p)| !p.lifted).map(|(id, _)| id.clone()).collect();
                let policy = pick(live, i)?;
                let p = &s.policies[&policy];
                let parties = s.parties.keys().filter(|id| !p.exemptions.contains(*id)).cloned().collect();
                Event::ExemptionGranted { policy, party: pick(parties, j)?, reason: "research".into() }
            }
            Op::Cap(q) => {
                let held = s.holdings.iter().filter(|((_, a, p), _)| a == CN && p == PRODUCT).map(|(_, h)| *h).max();
                let per_party = held.unwrap_or(0).max(1) + u64::from(q % 500_000);
                Event::CapSet { authority: CN.into(), product: PRODUCT.into(), per_party }
            }
            Op::Correct(i, q) => {
                let open = self.shipments.iter().filter(|(seq, ((order, _), _))| {
                    !self.corrected.contains_key(seq) && !self.orders[order].cancelled()
                });
                let (refers_to, (order, units)) = pick(open.map(|(s, (o, _))| (*s, o.clone())).collect(), i)?;
                let row = &self.orders[&order];
                let most = row.quantity - (row.shipped - units);
                Event::ShipmentCorrected {
                    refers_to,
                    quantity: u64::from(q) % (most + 1),
                    reason: "weighbill".into(),
                    approved_by: "officer-2".into(),
                }
            }
        })
    }

    /// A grant within the authority's open round (once it has rounds) and the licensee's cap,
    /// to a party no policy denies.
    fn grant(&mut self, i: u32, q: u32, us: bool) -> Option<Event> {
        let authority = if us { US } else { CN };
        let s = &self.state;
        let eligible: Vec<String> = self
            .unrestricted_parties()
            .into_iter()
            .filter(|p| s.denying_policy(p, authority, PRODUCT).is_none())
            .collect();
        // An export license goes to a buyer that holds an import license where there is one,
        // so that orders find a second gate.
        let buyers: Vec<String> = eligible
            .iter()
            .filter(|p| s.licenses.values().any(|l| &l.licensee == *p && l.authority == CN))
            .cloned()
            .collect();
        let licensee = pick(if us && !buyers.is_empty() { buyers } else { eligible }, i)?;
        let (round, left) = if s.has_rounds(authority, PRODUCT) {
            pick(self.open_rounds().into_iter().filter(|(_, left)| *left > 0).collect(), q)?
        } else {
            (1 + u64::from(q % 3), u64::MAX)
        };
        let most = left.min(self.cap_room(&licensee, authority)).min(1_000_000);
        if most == 0 {
            return None;
        }
        Some(Event::LicenseGranted {
            license: self.fresh(if us { "US" } else { "L" }),
            authority: authority.into(),
            licensee,
            product: PRODUCT.into(),
            quantity: 1 + u64::from(q) % most,
            valid_from: Day::parse("2026-01-01").unwrap(),
            valid_until: Day::parse("2030-12-31").unwrap(),
            round,
        })
    }

    /// An order through the buyer's license and, maybe, another license of the buyer's (its
    /// export license): within every gate's remaining and final rules; held when asked.
    fn place(&mut self, i: u32, q: u32, extra: u8, second: u32, hold: bool) -> Option<Event> {
        let s = &self.state;
        let firsts = self.licenses_where(|l| !s.parties[&l.licensee].restricted);
        let firsts: Vec<String> =
            firsts.into_iter().filter(|id| self.gate_open(id, &s.licenses[id].licensee, hold)).collect();
        let first = pick(firsts, i)?;
        let buyer = s.licenses[&first].licensee.clone();
        let mut licenses = vec![first.clone()];
        if second.is_multiple_of(2) {
            let others = self
                .licenses_where(|l| l.licensee == buyer)
                .into_iter()
                .filter(|id| *id != first && self.gate_open(id, &buyer, hold));
            if let Some(other) = pick(others.collect(), second / 2) {
                licenses.push(other);
            }
        }
        let gates: Vec<_> = licenses.iter().map(|id| &s.licenses[id]).collect();
        let finals = || gates.iter().flat_map(|l| l.finals());
        let most = finals()
            .filter_map(|c| match c.rule {
                Rule::MaxPerOrder { units } => Some(units),
                _ => None,
            })
            .chain(gates.iter().map(|l| l.remaining()))
            .fold(u64::MAX, u64::min);
        let quantity = 1 + u64::from(q) % most;
        let need = finals()
            .filter_map(|c| match c.rule {
                Rule::BundleRatio { domestic, per } => Some((quantity * domestic).div_ceil(per)),
                _ => None,
            })
            .fold(0, u64::max);
        Some(Event::OrderPlaced {
            order: self.fresh("O"),
            licenses: Gates(licenses),
            quantity,
            domestic_quantity: need + u64::from(extra % 3),
            supplier: "nvidia".into(),
            hold,
        })
    }

    /// The earliest `at` a late entry of `event` may carry: not before its order's placement,
    /// an order not before any of its licenses was granted, a correction not before the
    /// shipment it corrects.
    fn not_before(&self, event: &Event) -> Option<Timestamp> {
        match event {
            Event::OrderPlaced { licenses, .. } => {
                licenses.iter().filter_map(|l| self.state.licenses.get(l)).map(|l| l.granted_at).max()
            }
            Event::ShipmentCorrected { refers_to, .. } => self.shipments.get(refers_to).map(|(_, at)| *at),
            _ => self.orders.get(event.order()?)?.placed_at,
        }
    }

    /// Checks (it must be accepted: the generator is valid by construction) and applies.
    fn accept(&mut self, stamp: Stamp, event: Event) -> Fact {
        let seq = self.state.records;
        let target = match &event {
            Event::ShipmentCorrected { refers_to, .. } => Some(Target {
                seq: *refers_to,
                shipment: self.shipments.get(refers_to).map(|(s, _)| s.clone()),
                at: self.shipments.get(refers_to).map(|(_, at)| *at),
                corrected_by: self.corrected.get(refers_to).copied(),
            }),
            _ => None,
        };
        let order_id = match &target {
            Some(Target { shipment: Some((o, _)), .. }) => Some(o.clone()),
            _ => event.order().map(str::to_string),
        };
        let row = order_id.as_ref().and_then(|o| self.orders.get(o));
        let lookup = Lookup { order: row, target: target.as_ref() };
        let context = check_with(&self.state, lookup, &stamp, &event)
            .unwrap_or_else(|r| panic!("the generator made an invalid {}: {}", event.type_name(), r.message));
        let fact = Fact { stamp, event, context };
        let before = order_id.and_then(|o| self.orders.get(&o).cloned());
        if let Some((id, row)) = OrderRow::after(&fact, before) {
            self.orders.insert(id.to_string(), row);
        }
        if let Context::Resolved { opened, released, .. } = &fact.context {
            for (id, open) in opened.iter().map(|o| (o, true)).chain(released.iter().map(|r| (&r.order, false))) {
                let row = self.orders.remove(id).expect("a held order has a row");
                self.orders.insert(id.clone(), row.resolved(open));
            }
        }
        match (&fact.event, &fact.context) {
            (Event::ShipmentRecorded { order, quantity }, Context::Shipment { licenses }) => {
                self.shipments.insert(seq, ((order.clone(), *quantity), fact.stamp.at));
                for l in licenses.iter() {
                    *self.shipment_count.entry(l.to_string()).or_default() += 1;
                }
            }
            (Event::ShipmentCorrected { refers_to, quantity, .. }, Context::Correction { order, .. }) => {
                self.shipments.insert(seq, ((order.clone(), *quantity), fact.stamp.at));
                self.corrected.insert(*refers_to, seq);
            }
            _ => {}
        }
        self.state.apply(&fact);
        fact
    }
}

/// A valid story: its facts and the state after each one (`states[k]` after seq k).
#[derive(Debug, Clone)]
struct Story {
    facts: Vec<Fact>,
    states: Vec<QuotaState>,
    /// The order rows the generator kept, independent of the projection.
    orders: BTreeMap<String, OrderRow>,
    /// Shipments recorded per license.
    shipment_count: BTreeMap<String, u64>,
}

fn story() -> impl Strategy<Value = Story> {
    prop::collection::vec((op(), 0u32..3_600, any::<bool>(), 0u8..8), 1..100).prop_map(|steps| {
        let mut m = Model::default();
        let start = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let (mut facts, mut states) = (Vec::new(), Vec::new());
        for (i, (op, dt, keyed, late)) in steps.iter().enumerate() {
            let event = m.interpret(op);
            let last = m.state.last_at.unwrap_or(start);
            let mut stamp = Stamp::new(last, "prop", keyed.then(|| format!("key-{i}")));
            if *late == 0 {
                // A late entry (one step in eight): dated back, never before the story starts
                // nor before the order it names was placed.
                let back = Timestamp { secs: (last.secs - i64::from(*dt) * 10).max(start.secs), nanos: 0 };
                stamp.at = m.not_before(&event).map_or(back, |placed| back.max(placed));
                if stamp.at < last {
                    stamp.late_reason = Some(format!("found late ({i})"));
                }
            } else {
                // Time stands still (dt = 0) or moves forward.
                stamp.at = Timestamp { secs: last.secs + i64::from(*dt), nanos: 0 };
            }
            facts.push(m.accept(stamp, event));
            states.push(m.state.clone());
        }
        Story { facts, states, orders: m.orders, shipment_count: m.shipment_count }
    })
}

fn append(ledger: &mut Ledger, facts: &[Fact], first_line: u64) {
    let events = facts.iter().enumerate().map(|(i, f)| {
        let (stamp, event) = (f.stamp.clone(), f.event.clone());
        Ok(InputEvent { line: first_line + i as u64, stamp, event, flags: InputFlags::default() })
    });
    let report = ledger.append(events).expect("a valid batch is appended");
    assert_eq!(report.appended, facts.len() as u64);
    assert!(report.skipped.is_empty());
}

/// The state without the ledger clock's reading (`recorded_at` is the appending machine's,
/// which the model does not know).
fn unclocked(mut s: QuotaState) -> QuotaState {
    s.last_recorded_at = None;
    s
}

/// The state of effective time `t`, from the facts: every fact dated at or before `t`, late
/// entries recorded after later-dated facts included; the others passed over (counted, not
/// applied). Without late entries that is the prefix before the first fact dated after `t`.
fn state_of_time(facts: &[Fact], t: Timestamp) -> QuotaState {
    let late = facts.iter().any(|f| f.stamp.is_late());
    let mut state = QuotaState::default();
    for f in facts {
        if f.stamp.at <= t {
            state.apply(f);
        } else if late {
            state.pass_over();
        } else {
            break;
        }
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_state_equals_the_incremental_state(
        story in story(),
        batches in prop::collection::vec(1usize..25, 1..12),
        probe in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let mut ledger = Ledger::open(&path, OpenMode::CreateIfMissing, None).unwrap();
        let mut done = 0;
        let mut sizes = batches.iter().cycle();
        while done < story.facts.len() {
            let n = (*sizes.next().unwrap()).min(story.facts.len() - done);
            append(&mut ledger, &story.facts[done..done + n], 1);
            done += n;
            let last = done as u64 - 1;
            let expected = &story.states[done - 1];
            prop_assert_eq!(&unclocked(ledger.state().unwrap()), expected);
            prop_assert_eq!(&unclocked(ledger.state_as_of(AsOf::Seq(last)).unwrap()), expected);
            prop_assert_eq!(ledger.head().records, done as u64);
        }

        // As of any earlier seq, and as of that record's time.
        let k = probe.index(story.facts.len());
        prop_assert_eq!(&unclocked(ledger.state_as_of(AsOf::Seq(k as u64)).unwrap()), &story.states[k]);
        let t = story.facts[k].stamp.at;
        prop_assert_eq!(unclocked(ledger.state_as_of(AsOf::Time(t)).unwrap()), state_of_time(&story.facts, t));
        // Just before the first fact's time: nothing, or (with late entries dated earlier) them.
        let before = Timestamp { secs: story.facts[0].stamp.at.secs - 1, nanos: 0 };
        prop_assert_eq!(unclocked(ledger.state_as_of(AsOf::Time(before)).unwrap()), state_of_time(&story.facts, before));

        // An independent reference for the projection, from the order rows: each license's
        // quantity is its last grant or amendment; ordered is, over its orders, the quantity
        // of an open or held one, what was shipped of a cancelled one, nothing of a released
        // one; held is the quantity of its held orders; shipped counts corrections.
        let head_state = ledger.state().unwrap();
        let mut quantity = BTreeMap::new();
        for f in &story.facts {
            match &f.event {
                Event::LicenseGranted { license, quantity: q, .. } | Event::QuotaAmended { license, quantity: q, .. } => {
                    quantity.insert(license.clone(), *q);
                }
                _ => {}
            }
        }
        prop_assert_eq!(head_state.licenses.len(), quantity.len());
        for (id, l) in &head_state.licenses {
            let mine = story.orders.values().filter(|o| o.licenses.contains(id));
            let ordered: u64 = mine.clone().map(|o| match o.status {
                OrderStatus::Open | OrderStatus::Held => o.quantity,
                OrderStatus::Cancelled => o.shipped,
                OrderStatus::Released => 0,
            }).sum();
            let held: u64 = mine.clone().filter(|o| o.status == OrderStatus::Held).map(|o| o.quantity).sum();
            let shipped: u64 = mine.map(|o| o.shipped).sum();
            prop_assert_eq!(l.quantity, quantity[id]);
            let remaining = if l.status == LicenseStatus::Revoked { 0 } else { quantity[id] - ordered };
            prop_assert_eq!((l.ordered(), l.held, l.shipped, l.remaining()), (ordered, held, shipped, remaining));
            prop_assert_eq!(l.shipments, story.shipment_count.get(id).copied().unwrap_or(0));
        }
        // Rounds hold the quantities of their licenses, parties what they were granted.
        for ((authority, n), r) in &head_state.rounds {
            let granted: u64 = head_state.licenses.values()
                .filter(|l| &l.authority == authority && l.round == *n && l.product == r.product)
                .map(|l| l.quantity).sum();
            prop_assert_eq!(r.granted, granted);
            prop_assert!(r.granted <= r.ceiling);
        }
        for ((party, authority, product), h) in &head_state.holdings {
            let granted: u64 = head_state.licenses.values()
                .filter(|l| &l.licensee == party && &l.authority == authority && &l.product == product)
                .map(|l| l.quantity).sum();
            prop_assert_eq!(*h, granted);
            if let Some(cap) = head_state.caps.get(&(authority.clone(), product.clone())) {
                prop_assert!(h <= cap, "{} holds {} over the cap {}", party, h, cap);
            }
        }
        let held_orders: BTreeSet<&String> =
            story.orders.iter().filter(|(_, o)| o.status == OrderStatus::Held).map(|(id, _)| id).collect();
        prop_assert_eq!(head_state.held.keys().collect::<BTreeSet<_>>(), held_orders);

        // The records read back are the facts, context included, and carry the ledger clock,
        // never going backwards.
        let stored: Vec<Fact> = ledger.records(0).unwrap().map(|r| r.unwrap().fact).collect();
        let clocks: Vec<Timestamp> = stored.iter().map(|f| f.stamp.recorded_at.expect("format 2")).collect();
        prop_assert!(clocks.windows(2).all(|w| w[0] <= w[1]), "recorded_at went backwards");
        let stored: Vec<Fact> = stored
            .into_iter()
            .map(|mut f| {
                f.stamp.recorded_at = None;
                f
            })
            .collect();
        prop_assert_eq!(&stored, &story.facts);

        let head = ledger.head();
        let report = ledger.verify(Some(head.last_hash)).unwrap();
        prop_assert_eq!(report.records, story.facts.len() as u64);
        prop_assert_eq!(report.expected_seq, Some(story.facts.len() as u64 - 1));

        // And after closing and reopening.
        drop(ledger);
        let ledger = Ledger::open(&path, OpenMode::MustExist, None).unwrap();
        prop_assert_eq!(&unclocked(ledger.state().unwrap()), story.states.last().unwrap());
        prop_assert_eq!(ledger.head(), head);
    }
}

// ---------------------------------------------------------------------------------------------
// (b) and (c): random records.
// ---------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..4)
}

fn wire_rule() -> impl Strategy<Value = WireRule> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(domestic, per)| WireRule::BundleRatio { domestic, per }),
        any::<u64>().prop_map(|units| WireRule::MaxPerOrder { units }),
        text().prop_map(|text| WireRule::EndUse { text }),
        text().prop_map(|text| WireRule::Reporting { text }),
        any::<u64>().prop_map(|count| WireRule::MaxShipments { count }),
    ]
}

/// The event variants of format 1.
fn wire_event_v1() -> impl Strategy<Value = WireEvent> {
    prop_oneof![
        (text(), text(), text(), any::<bool>(), text()).prop_map(|(party, name, country, state_backed, sector)| {
            WireEvent::PartyRegistered { party, name, country, state_backed, sector }
        }),
        (text(), text()).prop_map(|(party, reason)| WireEvent::PartyRestricted { party, reason }),
        (text(), text(), text(), text(), any::<u64>(), any::<i32>(), any::<i32>(), any::<u64>()).prop_map(
            |(license, authority, licensee, product, quantity, valid_from, valid_until, round)| {
                WireEvent::LicenseGranted {
                    license,
                    authority,
                    licensee,
                    product,
                    quantity,
                    valid_from,
                    valid_until,
                    round,
                }
            }
        ),
        (text(), text(), wire_rule(), any::<bool>()).prop_map(|(license, condition, rule, is_final)| {
            WireEvent::ConditionAdded { license, condition, rule, is_final }
        }),
        (text(), text()).prop_map(|(license, condition)| WireEvent::ConditionFinalized { license, condition }),
        (text(), text(), text()).prop_map(|(license, condition, reason)| WireEvent::ConditionWithdrawn {
            license,
            condition,
            reason
        }),
        (text(), text(), any::<u64>(), any::<u64>(), text()).prop_map(
            |(order, license, quantity, domestic_quantity, supplier)| WireEvent::OrderPlaced {
                order,
                license,
                quantity,
                domestic_quantity,
                supplier
            }
        ),
        (text(), text()).prop_map(|(order, reason)| WireEvent::OrderCancelled { order, reason }),
        (text(), any::<u64>()).prop_map(|(order, quantity)| WireEvent::ShipmentRecorded { order, quantity }),
        (text(), any::<u64>(), text()).prop_map(|(license, quantity, reason)| WireEvent::QuotaAmended {
            license,
            quantity,
            reason
        }),
        (text(), text()).prop_map(|(license, reason)| WireEvent::LicenseSuspended { license, reason }),
        (text(), text()).prop_map(|(license, reason)| WireEvent::LicenseReinstated { license, reason }),
        (text(), text()).prop_map(|(license, reason)| WireEvent::LicenseRevoked { license, reason }),
    ]
}

/// The event variants added with format 2.
fn wire_event_v2() -> impl Strategy<Value = WireEvent> {
    prop_oneof![
        (text(), texts(), any::<u64>(), any::<u64>(), text(), any::<bool>()).prop_map(
            |(order, licenses, quantity, domestic_quantity, supplier, hold)| WireEvent::OrderPlacedGated {
                order,
                licenses,
                quantity,
                domestic_quantity,
                supplier,
                hold
            }
        ),
        (text(), any::<u64>(), text(), any::<u64>()).prop_map(|(authority, round, product, ceiling)| {
            WireEvent::RoundOpened { authority, round, product, ceiling }
        }),
        (text(), any::<u64>()).prop_map(|(authority, round)| WireEvent::RoundClosed { authority, round }),
        (text(), text(), text(), any::<bool>(), texts(), text()).prop_map(
            |(policy, authority, product, deny_state_backed, deny_sectors, reason)| WireEvent::PolicySet {
                policy,
                authority,
                product,
                deny_state_backed,
                deny_sectors,
                reason
            }
        ),
        (text(), text()).prop_map(|(policy, reason)| WireEvent::PolicyLifted { policy, reason }),
        (text(), text(), text()).prop_map(|(policy, party, reason)| WireEvent::ExemptionGranted {
            policy,
            party,
            reason
        }),
        (text(), text(), any::<u64>()).prop_map(|(authority, product, per_party)| WireEvent::CapSet {
            authority,
            product,
            per_party
        }),
        (any::<u64>(), any::<u64>(), text(), text()).prop_map(|(refers_to, quantity, reason, approved_by)| {
            WireEvent::ShipmentCorrected { refers_to, quantity, reason, approved_by }
        }),
        (any::<u64>(), text(), text(), text()).prop_map(|(line, event, rule, message)| WireEvent::Refused {
            line,
            event,
            rule,
            message
        }),
    ]
}

fn wire_context() -> impl Strategy<Value = WireContext> {
    prop_oneof![
        Just(WireContext::None),
        text().prop_map(|license| WireContext::Shipment { license }),
        (text(), any::<u64>())
            .prop_map(|(license, quantity_returned)| WireContext::Cancellation { license, quantity_returned }),
        texts().prop_map(|licenses| WireContext::ShipmentGated { licenses }),
        (texts(), any::<u64>(), any::<bool>()).prop_map(|(licenses, quantity_returned, held)| {
            WireContext::CancellationGated { licenses, quantity_returned, held }
        }),
        Just(WireContext::Held),
        (texts(), prop::collection::vec((text(), text()), 0..3), texts())
            .prop_map(|(opened, released, licenses)| WireContext::Resolved { opened, released, licenses }),
        (texts(), text(), any::<u64>()).prop_map(|(licenses, order, previous)| WireContext::Correction {
            licenses,
            order,
            previous
        }),
    ]
}

/// A record of either format (its first byte says which), with any event and context: the
/// codec does not care whether format 1 may hold a variant (decoding into a fact does).
fn record() -> impl Strategy<Value = Record> {
    let event = prop_oneof![wire_event_v1(), wire_event_v2()];
    let stamp = (any::<u64>(), any::<i64>(), any::<u32>(), text(), prop::option::of(text()));
    let v2 = (any::<i64>(), prop::option::of(text()), any::<u8>());
    (any::<bool>(), stamp, v2, event, wire_context(), any::<[u8; 32]>()).prop_map(
        |(two, (seq, at_secs, at_nanos, actor, key), (rs, late_reason, flags), event, context, prev)| {
            if two {
                Record::V2(RecordV2 {
                    format: 2,
                    seq,
                    at_secs,
                    at_nanos,
                    recorded_at_secs: rs,
                    actor,
                    key,
                    late_reason,
                    flags,
                    event,
                    context,
                    prev,
                })
            } else {
                Record::V1(RecordV1 { format: 1, seq, at_secs, at_nanos, actor, key, event, context, prev })
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_the_identity(r in record()) {
        let bytes = r.encode();
        let back = Record::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &r);
        // And decode then encode: the bytes are canonical.
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn flipping_any_byte_fails_the_chain_check(
        r in record(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        in_hash in any::<bool>(),
    ) {
        let bytes = r.encode();
        let hash = record_hash(&bytes);
        let cursor = || ChainCursor { seq_next: r.seq(), prev: r.prev() };
        prop_assert_eq!(cursor().check(&bytes, &hash).unwrap(), r.clone());
        let (mut body, mut stored) = (bytes.clone(), hash);
        if in_hash {
            stored[at.index(32)] ^= mask;
        } else {
            let i = at.index(body.len());
            body[i] ^= mask;
        }
        let mut c = cursor();
        prop_assert!(c.check(&body, &stored).is_err(), "a flipped byte passed the check");
        // A failed check does not advance the cursor.
        prop_assert_eq!(c.seq_next, r.seq());
    }
}

/// The generator is only as good as what it reaches: across a sample of stories, every event
/// type, every order context, late entries and stories with dozens of orders all appear.
#[test]
fn the_generator_reaches_every_event_type_and_context() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(Config::default().rng_algorithm));
    let mut seen = BTreeSet::new();
    let mut most_orders = 0;
    for _ in 0..64 {
        let story = story().new_tree(&mut runner).unwrap().current();
        let orders = story.facts.iter().filter(|f| matches!(f.event, Event::OrderPlaced { .. })).count();
        most_orders = most_orders.max(orders);
        for f in &story.facts {
            seen.insert(f.event.type_name().to_string());
            let context = match &f.context {
                Context::None => "none",
                Context::Shipment { licenses } if licenses.0.len() > 1 => "gated shipment",
                Context::Shipment { .. } => "shipment",
                Context::Cancellation { held: true, .. } => "held cancellation",
                Context::Cancellation { licenses, .. } if licenses.0.len() > 1 => "gated cancellation",
                Context::Cancellation { .. } => "cancellation",
                Context::Held => "held",
                Context::Resolved { opened, .. } if !opened.is_empty() => "resolved opened",
                Context::Resolved { .. } => "resolved released only",
                Context::Correction { .. } => "correction",
            };
            seen.insert(context.to_string());
            if let Context::Resolved { released, .. } = &f.context {
                if !released.is_empty() {
                    seen.insert("released".into());
                }
            }
            if f.stamp.is_late() {
                seen.insert("late entry".into());
            }
            if let Event::ConditionAdded { rule: Rule::MaxShipments { .. }, .. } = &f.event {
                seen.insert("max_shipments".into());
            }
        }
    }
    let mut all: Vec<&str> = quotaledger::domain::EVENT_TYPES.iter().map(|t| t.name).collect();
    all.extend([
        "shipment",
        "gated shipment",
        "cancellation",
        "gated cancellation",
        "held cancellation",
        "held",
        "resolved opened",
        "released",
        "correction",
        "late entry",
        "max_shipments",
    ]);
    for ty in all {
        assert!(seen.contains(ty), "no story had a {ty}");
    }
    assert!(most_orders >= 10, "the busiest story placed only {most_orders} orders");
}

// ---------------------------------------------------------------------------------------------
// (d) Output over extreme values.
// ---------------------------------------------------------------------------------------------

/// Quantities that break naive arithmetic: near u64::MAX, tiny, or anything.
fn extreme() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(u64::MAX),
        3 => (u64::MAX - 1_000)..=u64::MAX,
        1 => 0u64..=3,
        2 => any::<u64>(),
    ]
}

/// A quota state with up to 8 licenses over 3 parties, its numbers unconstrained: what a forged
/// snapshot or a ledger older than the total rule may hold.
fn extreme_state() -> impl Strategy<Value = QuotaState> {
    let license = (0usize..3, extreme(), extreme(), extreme(), 0u8..3, extreme());
    prop::collection::vec(license, 0..8).prop_map(|ls| {
        let mut state = QuotaState { records: ls.len() as u64 + 3, ..QuotaState::default() };
        for p in 0..3 {
            let party = quotaledger::domain::Party {
                name: format!("Party {p}"),
                country: "CN".into(),
                state_backed: false,
                sector: "ai".into(),
                restricted: p == 2,
            };
            state.parties.insert(format!("p{p}"), party);
        }
        for (i, (owner, quantity, ordered, shipped, status, units)) in ls.into_iter().enumerate() {
            let status = [LicenseStatus::Active, LicenseStatus::Suspended, LicenseStatus::Revoked][usize::from(status)];
            let conditions = vec![quotaledger::domain::quota::Condition {
                id: "C1".into(),
                rule: Rule::MaxPerOrder { units },
                status: ConditionStatus::Final,
            }];
            let license = quotaledger::domain::License {
                authority: "CN-MOFCOM".into(),
                licensee: format!("p{owner}"),
                product: "H200".into(),
                round: units,
                status,
                quantity,
                ordered,
                held: 0,
                shipped,
                shipments: 0,
                valid_from: Day::parse("2026-01-01").unwrap(),
                valid_until: Day::parse("9999-12-31").unwrap(),
                granted_at: Timestamp::default(),
                conditions,
            };
            state.licenses.insert(format!("L-{i}"), license);
        }
        state.last_at = Some(Timestamp::parse("2026-03-01T00:00:00Z").unwrap());
        state
    })
}

/// Every line of `bytes` is a JSON value.
fn json_lines(bytes: &[u8], what: &str) -> Result<Vec<serde_json::Value>, TestCaseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
    text.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| TestCaseError::fail(format!("{what}: {e} in {l}"))))
        .collect()
}

/// The facts of a story of extreme but valid quantities: two parties and licenses whose quotas
/// together stay within u64, an order, a shipment, maybe a cancellation, an amendment, a second
/// order and a condition.
fn extreme_facts(q: [u64; 6], cancel: bool) -> Vec<(Stamp, Event)> {
    let mut events = Vec::new();
    for (id, name) in [("a", "Alpha Ltd."), ("b", "Beta Ltd.")] {
        let e = Event::PartyRegistered {
            party: id.into(),
            name: name.into(),
            country: "CN".into(),
            state_backed: false,
            sector: "ai".into(),
        };
        events.push(e);
    }
    let grant = |license: &str, licensee: &str, quantity: u64| Event::LicenseGranted {
        license: license.into(),
        authority: "CN-MOFCOM".into(),
        licensee: licensee.into(),
        product: "H200".into(),
        quantity,
        valid_from: Day::parse("2026-01-01").unwrap(),
        valid_until: Day::parse("2030-12-31").unwrap(),
        round: quantity,
    };
    let q1 = q[0].max(1);
    events.push(grant("L1", "a", q1));
    let q2 = (q1 < u64::MAX).then(|| 1 + q[1] % (u64::MAX - q1));
    if let Some(q2) = q2 {
        events.push(grant("L2", "b", q2));
    }
    let o1 = 1 + q[2] % q1;
    let place = |order: &str, license: &str, quantity: u64| Event::OrderPlaced {
        order: order.into(),
        licenses: Gates::one(license),
        quantity,
        domestic_quantity: u64::MAX,
        supplier: "nvidia".into(),
        hold: false,
    };
    events.push(place("O1", "L1", o1));
    let s1 = 1 + q[3] % o1;
    events.push(Event::ShipmentRecorded { order: "O1".into(), quantity: s1 });
    let cancelled = cancel && s1 < o1;
    if cancelled {
        events.push(Event::OrderCancelled { order: "O1".into(), reason: "cancel".into() });
    }
    // An amendment between what is committed and what the other license leaves of u64.
    let committed = if cancelled { s1 } else { o1 };
    let room = u128::from(u64::MAX - q2.unwrap_or(0)) - u128::from(committed) + 1;
    let amended = u128::from(committed) + u128::from(q[4]) % room;
    let amended = u64::try_from(amended).expect("within u64 by construction");
    events.push(Event::QuotaAmended { license: "L1".into(), quantity: amended, reason: "amended".into() });
    if let Some(q2) = q2 {
        events.push(place("O2", "L2", 1 + q[5] % q2));
        let units = Rule::MaxPerOrder { units: q[5].max(1) };
        events.push(Event::ConditionAdded {
            license: "L2".into(),
            condition: "C1".into(),
            rule: units,
            is_final: true,
        });
    }
    let t0 = Timestamp::parse("2026-02-01T00:00:00Z").unwrap();
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let stamp = Stamp::new(Timestamp { secs: t0.secs + i as i64, nanos: 0 }, "prop", None);
            (stamp, e)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn state_output_of_any_quota_state_never_panics_and_its_json_sums_are_exact(state in extreme_state()) {
        use quotaledger::cli::output::{self, Sums};
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger"), OpenMode::CreateIfMissing, None).unwrap();
        let filters = [(None, None), (None, Some("p0")), (Some("L-0"), None)];
        for (license, party) in filters {
            if license.is_some_and(|l| !state.licenses.contains_key(l)) {
                continue;
            }
            let mut text = Vec::new();
            let filter = output::StateFilter { license, party };
            output::state(&mut text, &ledger, &state, &filter, output::Format::Text).unwrap();
            let mut json = Vec::new();
            output::state(&mut json, &ledger, &state, &filter, output::Format::Json).unwrap();
            let values = json_lines(&json, "state --json")?;
            prop_assert_eq!(values.len(), 1);
            // Sums beyond u64 are plain JSON numbers: check their digits in the text.
            let kept = state.licenses.iter().filter(|(id, l)| {
                license.is_none_or(|f| f == id.as_str()) && party.is_none_or(|p| p == l.licensee)
            });
            let t = Sums::of(kept.map(|(_, l)| l));
            let totals = format!(
                r#""totals":{{"licensed":{},"ordered":{},"shipped":{},"remaining":{}}}"#,
                t.licensed, t.ordered, t.shipped, t.remaining
            );
            let json_text = String::from_utf8(json).unwrap();
            prop_assert!(json_text.contains(&totals), "{} not in {}", totals, json_text);
            let text = String::from_utf8(text).unwrap();
            // The row under the TOTAL header (headroom, rounds and policies may follow it).
            let lines: Vec<&str> = text.lines().collect();
            let header = lines.iter().position(|l| l.trim_start().starts_with("TOTAL"));
            let total_line = header.and_then(|h| lines.get(h + 1)).copied().unwrap_or_default().to_string();
            prop_assert!(total_line.contains(&quotaledger::cli::ui::thousands(t.licensed)), "{}", total_line);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn every_output_of_a_ledger_of_extreme_quantities_is_valid(
        q in prop::array::uniform6(extreme()),
        cancel in any::<bool>(),
    ) {
        use quotaledger::cli::output::{self, Filter};
        let facts = extreme_facts(q, cancel);
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger"), OpenMode::CreateIfMissing, None).unwrap();
        let events = facts.iter().enumerate().map(|(i, (stamp, event))| {
            Ok(InputEvent { line: i as u64 + 1, stamp: stamp.clone(), event: event.clone(), flags: InputFlags::default() })
        });
        let report = ledger.append(events).expect("the extreme story is valid");
        prop_assert_eq!(report.appended, facts.len() as u64);
        let state = ledger.state().unwrap();
        let mut out = Vec::new();
        output::state(&mut out, &ledger, &state, &output::StateFilter::default(), output::Format::Json).unwrap();
        let v = json_lines(&out, "state --json")?;
        let licensed: u128 = state.licenses.values().map(|l| u128::from(l.quantity)).sum();
        prop_assert_eq!(v[0]["totals"]["licensed"].as_u64().map(u128::from), Some(licensed));
        for json in [false, true] {
            let mut log = Vec::new();
            let format = if json { output::Format::Json } else { output::Format::Text };
            let shape = output::LogShape { from: 0, limit: None, reverse: false, format };
            output::log(&mut log, &ledger, &Filter { party: Some("a".into()), ..Filter::default() }, &shape).unwrap();
            let mut replay = Vec::new();
            output::replay(&mut replay, &ledger, None, &output::ReplayShape { from: 0, to: None, limit: None, json }).unwrap();
            let mut state_out = Vec::new();
            let only_b = output::StateFilter { license: None, party: Some("b") };
            output::state(&mut state_out, &ledger, &state, &only_b, format).unwrap();
            if json {
                json_lines(&log, "log --json")?;
                prop_assert_eq!(json_lines(&replay, "replay --json")?.len(), facts.len());
            }
        }
        let mut export = Vec::new();
        output::export(&mut export, &ledger).unwrap();
        let exported = json_lines(&export, "export")?;
        prop_assert_eq!(exported.len(), facts.len());
        prop_assert!(ledger.verify(None).is_ok());
    }
}
