//! Property tests:
//! (a) random valid event sequences appended in random batches: the ledger's state equals the
//!     state kept incrementally with `apply`, at the head and as of any earlier seq or time,
//!     and `verify` passes;
//! (b) encode then decode is the identity for random records;
//! (c) flipping any single byte of an encoded record (or its hash) fails the chain check;
//! (d) output over extreme values (quantities near u64::MAX): `state` (text and JSON) of any
//!     quota state, even one no rule allows, and `state`, `log`, `replay` and `export` of a
//!     ledger of extreme values, never panic and write valid JSON with exact sums.

use proptest::prelude::*;
use quotaledger::domain::{
    check, ConditionStatus, Day, Event, Fact, InputFlags, LicenseStatus, OrderRow, QuotaState, Rule, Stamp, Timestamp,
};
use quotaledger::format::chain::{record_hash, ChainCursor};
use quotaledger::format::codec;
use quotaledger::format::record::{RecordV1, WireContext, WireEvent, WireRule};
use quotaledger::jsonl::InputEvent;
use quotaledger::ledger::{AsOf, Ledger};
use quotaledger::limits::RECORD_BYTES_MAX;
use quotaledger::store::OpenMode;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// (a) Valid event sequences.
// ---------------------------------------------------------------------------------------------

/// One step of a story, as random numbers; `interpret` turns it into an event that is valid
/// in the state the steps before it left (falling back to registering a party, which always
/// is).
#[derive(Clone, Debug)]
enum Op {
    Party,
    Restrict(u32),
    Grant(u32, u32),
    Condition(u32, u8, u8, u8, bool),
    Finalize(u32),
    Withdraw(u32),
    Place(u32, u32, u8),
    Ship(u32, u32),
    Cancel(u32),
    Amend(u32, u32),
    Suspend(u32),
    Reinstate(u32),
    Revoke(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let n = any::<u32>;
    prop_oneof![
        3 => Just(Op::Party),
        1 => n().prop_map(Op::Restrict),
        4 => (n(), n()).prop_map(|(a, b)| Op::Grant(a, b)),
        3 => (n(), any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>())
            .prop_map(|(a, k, x, y, f)| Op::Condition(a, k, x, y, f)),
        3 => n().prop_map(Op::Finalize),
        1 => n().prop_map(Op::Withdraw),
        8 => (n(), n(), any::<u8>()).prop_map(|(a, b, c)| Op::Place(a, b, c)),
        5 => (n(), n()).prop_map(|(a, b)| Op::Ship(a, b)),
        2 => n().prop_map(Op::Cancel),
        2 => (n(), n()).prop_map(|(a, b)| Op::Amend(a, b)),
        2 => n().prop_map(Op::Suspend),
        2 => n().prop_map(Op::Reinstate),
        1 => n().prop_map(Op::Revoke),
    ]
}

/// The generator's model: the projection, the order rows, and counters for fresh ids.
#[derive(Default)]
struct Model {
    state: QuotaState,
    orders: BTreeMap<String, OrderRow>,
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

    /// Orders neither cancelled nor fully shipped; `active`: on an active license only.
    fn open_orders(&self, active: bool) -> Vec<String> {
        self.orders
            .iter()
            .filter(|(_, o)| o.is_open())
            .filter(|(_, o)| !active || self.state.licenses[&o.license].status == LicenseStatus::Active)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn interpret(&mut self, op: &Op) -> Event {
        self.try_interpret(op).unwrap_or_else(|| {
            let party = self.fresh("p");
            Event::PartyRegistered {
                // Names differ: a party whose name looks like another's is refused at append.
                name: format!("Party {party} Ltd."),
                party,
                country: "CN".into(),
                state_backed: false,
                sector: "internet".into(),
            }
        })
    }

    fn try_interpret(&mut self, op: &Op) -> Option<Event> {
        let s = &self.state;
        Some(match *op {
            Op::Party => return None,
            Op::Restrict(i) => {
                Event::PartyRestricted { party: pick(self.unrestricted_parties(), i)?, reason: "restricted".into() }
            }
            Op::Grant(i, q) => {
                let licensee = pick(self.unrestricted_parties(), i)?;
                Event::LicenseGranted {
                    license: self.fresh("L"),
                    authority: "CN-MOFCOM".into(),
                    licensee,
                    product: "H200".into(),
                    quantity: 1 + u64::from(q % 1_000_000),
                    valid_from: Day::parse("2026-01-01").unwrap(),
                    valid_until: Day::parse("2030-12-31").unwrap(),
                    round: 1 + u64::from(q % 3),
                }
            }
            Op::Condition(i, kind, x, y, is_final) => {
                let license = pick(self.licenses_where(|l| l.status != LicenseStatus::Revoked), i)?;
                let rule = match kind % 4 {
                    0 => Rule::BundleRatio { domestic: 1 + u64::from(x % 3), per: 1 + u64::from(y % 5) },
                    1 => Rule::MaxPerOrder { units: 1 + u64::from(x) * 1_000 + u64::from(y) },
                    2 => Rule::EndUse { text: "data-centre use".into() },
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
            Op::Place(i, q, extra) => {
                let license = pick(
                    self.licenses_where(|l| {
                        l.status == LicenseStatus::Active
                            && !s.parties[&l.licensee].restricted
                            && l.conditions.iter().all(|c| c.status != ConditionStatus::Pending)
                            && l.remaining() > 0
                    }),
                    i,
                )?;
                let l = &s.licenses[&license];
                let finals = || l.conditions.iter().filter(|c| c.status == ConditionStatus::Final);
                let cap = finals()
                    .filter_map(|c| match c.rule {
                        Rule::MaxPerOrder { units } => Some(units),
                        _ => None,
                    })
                    .fold(l.remaining(), u64::min);
                let quantity = 1 + u64::from(q) % cap;
                let need = finals()
                    .filter_map(|c| match c.rule {
                        Rule::BundleRatio { domestic, per } => Some((quantity * domestic).div_ceil(per)),
                        _ => None,
                    })
                    .fold(1, u64::max);
                Event::OrderPlaced {
                    order: self.fresh("O"),
                    license,
                    quantity,
                    domestic_quantity: need + u64::from(extra % 3),
                    supplier: "nvidia".into(),
                }
            }
            Op::Ship(i, q) => {
                let order = pick(self.open_orders(true), i)?;
                let unshipped = self.orders[&order].unshipped();
                Event::ShipmentRecorded { order, quantity: 1 + u64::from(q) % unshipped }
            }
            Op::Cancel(i) => {
                Event::OrderCancelled { order: pick(self.open_orders(false), i)?, reason: "cancel".into() }
            }
            Op::Amend(i, q) => {
                let license = pick(self.licenses_where(|l| l.status != LicenseStatus::Revoked), i)?;
                let committed = s.licenses[&license].ordered();
                Event::QuotaAmended {
                    license,
                    quantity: (committed + u64::from(q % 100_000)).max(1),
                    reason: "amended".into(),
                }
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
        })
    }

    /// Checks (it must be accepted: the generator is valid by construction) and applies.
    fn accept(&mut self, stamp: Stamp, event: Event) -> Fact {
        let row = event.order().and_then(|o| self.orders.get(o));
        let context = check(&self.state, row, &stamp, &event)
            .unwrap_or_else(|r| panic!("the generator made an invalid {}: {}", event.type_name(), r.message));
        let fact = Fact { stamp, event, context };
        match &fact.event {
            Event::OrderPlaced { order, license, quantity, .. } => {
                self.orders.insert(
                    order.clone(),
                    OrderRow { license: license.clone(), quantity: *quantity, shipped: 0, cancelled: false },
                );
            }
            Event::OrderCancelled { order, .. } => self.orders.get_mut(order).unwrap().cancelled = true,
            Event::ShipmentRecorded { order, quantity } => self.orders.get_mut(order).unwrap().shipped += quantity,
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
}

fn story() -> impl Strategy<Value = Story> {
    prop::collection::vec((op(), 0u32..3_600, any::<bool>()), 1..100).prop_map(|steps| {
        let mut m = Model::default();
        let mut at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let (mut facts, mut states) = (Vec::new(), Vec::new());
        for (i, (op, dt, keyed)) in steps.iter().enumerate() {
            // Time stands still (dt = 0) or moves forward, never back.
            at = Timestamp { secs: at.secs + i64::from(*dt), nanos: 0 };
            let event = m.interpret(op);
            let stamp = Stamp { at, actor: "prop".into(), key: keyed.then(|| format!("key-{i}")) };
            facts.push(m.accept(stamp, event));
            states.push(m.state.clone());
        }
        Story { facts, states, orders: m.orders }
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
            prop_assert_eq!(&ledger.state().unwrap(), expected);
            prop_assert_eq!(&ledger.state_as_of(AsOf::Seq(last)).unwrap(), expected);
            prop_assert_eq!(ledger.head().records, done as u64);
        }

        // As of any earlier seq, and as of that record's time (which takes in every later record
        // at the same instant).
        let k = probe.index(story.facts.len());
        prop_assert_eq!(&ledger.state_as_of(AsOf::Seq(k as u64)).unwrap(), &story.states[k]);
        let t = story.facts[k].stamp.at;
        let last_at_t = story.facts.iter().rposition(|f| f.stamp.at <= t).unwrap();
        prop_assert_eq!(&ledger.state_as_of(AsOf::Time(t)).unwrap(), &story.states[last_at_t]);

        // An independent reference for the projection: each license's quantity is its last
        // grant or amendment; ordered is, over its orders, the quantity (or only what was
        // shipped, for a cancelled order); remaining = quantity - ordered.
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
            let mine = story.orders.values().filter(|o| &o.license == id);
            let ordered: u64 = mine.clone().map(|o| if o.cancelled { o.shipped } else { o.quantity }).sum();
            let shipped: u64 = mine.map(|o| o.shipped).sum();
            prop_assert_eq!(l.quantity, quantity[id]);
            prop_assert_eq!((l.ordered(), l.shipped, l.remaining()), (ordered, shipped, quantity[id] - ordered));
        }

        // The records read back are the facts, context included.
        let stored: Vec<Fact> = ledger.records(0).unwrap().map(|r| r.unwrap().fact).collect();
        prop_assert_eq!(&stored, &story.facts);

        let head = ledger.head();
        let report = ledger.verify(Some(head.last_hash)).unwrap();
        prop_assert_eq!(report.records, story.facts.len() as u64);
        prop_assert_eq!(report.expected_seq, Some(story.facts.len() as u64 - 1));

        // And after closing and reopening.
        drop(ledger);
        let ledger = Ledger::open(&path, OpenMode::MustExist, None).unwrap();
        prop_assert_eq!(&ledger.state().unwrap(), story.states.last().unwrap());
        prop_assert_eq!(ledger.head(), head);
    }
}

// ---------------------------------------------------------------------------------------------
// (b) and (c): random records.
// ---------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn wire_rule() -> impl Strategy<Value = WireRule> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(domestic, per)| WireRule::BundleRatio { domestic, per }),
        any::<u64>().prop_map(|units| WireRule::MaxPerOrder { units }),
        text().prop_map(|text| WireRule::EndUse { text }),
        text().prop_map(|text| WireRule::Reporting { text }),
    ]
}

fn wire_event() -> impl Strategy<Value = WireEvent> {
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

fn wire_context() -> impl Strategy<Value = WireContext> {
    prop_oneof![
        Just(WireContext::None),
        text().prop_map(|license| WireContext::Shipment { license }),
        (text(), any::<u64>())
            .prop_map(|(license, quantity_returned)| WireContext::Cancellation { license, quantity_returned }),
    ]
}

fn record() -> impl Strategy<Value = RecordV1> {
    (
        any::<u8>(),
        any::<u64>(),
        any::<i64>(),
        any::<u32>(),
        text(),
        prop::option::of(text()),
        wire_event(),
        wire_context(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(format, seq, at_secs, at_nanos, actor, key, event, context, prev)| RecordV1 {
            format,
            seq,
            at_secs,
            at_nanos,
            actor,
            key,
            event,
            context,
            prev,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_the_identity(r in record()) {
        let bytes = codec::encode(&r);
        let back: RecordV1 = codec::decode(&bytes, RECORD_BYTES_MAX).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn flipping_any_byte_fails_the_chain_check(
        r in record(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        in_hash in any::<bool>(),
    ) {
        let bytes = codec::encode(&r);
        let hash = record_hash(&bytes);
        let cursor = || ChainCursor { seq_next: r.seq, prev: r.prev };
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
        prop_assert_eq!(c.seq_next, r.seq);
    }
}

/// The generator is only as good as what it reaches: across a sample of stories, every event
/// type, both kinds of order context and stories with dozens of orders all appear.
#[test]
fn the_generator_reaches_every_event_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(Config::default().rng_algorithm));
    let mut seen = std::collections::BTreeSet::new();
    let mut most_orders = 0;
    for _ in 0..64 {
        let story = story().new_tree(&mut runner).unwrap().current();
        let orders = story.facts.iter().filter(|f| matches!(f.event, Event::OrderPlaced { .. })).count();
        most_orders = most_orders.max(orders);
        seen.extend(story.facts.iter().map(|f| f.event.type_name()));
    }
    let all = [
        "party_registered",
        "party_restricted",
        "license_granted",
        "condition_added",
        "condition_finalized",
        "condition_withdrawn",
        "order_placed",
        "order_cancelled",
        "shipment_recorded",
        "quota_amended",
        "license_suspended",
        "license_reinstated",
        "license_revoked",
    ];
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
                shipped,
                valid_from: Day::parse("2026-01-01").unwrap(),
                valid_until: Day::parse("9999-12-31").unwrap(),
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
        license: license.into(),
        quantity,
        domestic_quantity: u64::MAX,
        supplier: "nvidia".into(),
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
            let stamp = Stamp { at: Timestamp { secs: t0.secs + i as i64, nanos: 0 }, actor: "prop".into(), key: None };
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
            let total_line = text.lines().last().unwrap().to_string();
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
