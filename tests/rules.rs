//! The rules of issues 2 and 9, one short given/when/then test each, over the pure domain
//! (`quotaledger::domain::check_with` + `QuotaState::apply`); then a representative set of
//! refusals through the binary, each proving the ledger unchanged (same head, byte-identical
//! export).

use quotaledger::domain::{
    check, check_with, Admission, ConditionStatus, Context, Day, Deny, Event, Fact, Gates, InputFlags, LicenseStatus,
    Lookup, OrderRow, OrderStatus, QuotaState, Reason, Refusal, Released, Rule, Stamp, Target, Timestamp,
};
use quotaledger::limits::{AT_FUTURE_MARGIN_SECS_DEFAULT, ID_BYTES_MAX, ORDER_LICENSES_MAX, TEXT_BYTES_MAX};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// The harness: a world of facts, an event, and what the rules say.
// ---------------------------------------------------------------------------------------------

/// The time of the first given event; each later one is a minute after the latest before it.
const T0: &str = "2026-02-01T00:00:00Z";

/// The actor of every event the harness stamps (a correction's `approved_by` must differ).
const ACTOR: &str = "tester";

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a test time")
}

fn day(text: &str) -> Day {
    Day::parse(text).expect("a test day")
}

/// The state after some accepted facts, and what the ledger keeps beside it: the order index,
/// the shipments (and corrections) by seq, and which seqs a correction has corrected.
struct World {
    state: QuotaState,
    orders: BTreeMap<String, OrderRow>,
    shipments: BTreeMap<u64, ((String, u64), Timestamp)>,
    corrected: BTreeMap<u64, u64>,
    next_at: Timestamp,
}

/// Each event is checked (and must be accepted) and applied, a minute apart from `T0`.
fn given(events: impl IntoIterator<Item = Event>) -> World {
    let mut w = World {
        state: QuotaState::default(),
        orders: BTreeMap::new(),
        shipments: BTreeMap::new(),
        corrected: BTreeMap::new(),
        next_at: ts(T0),
    };
    for e in events {
        w = w.when(e).then_accepted();
    }
    w
}

/// What the rules said about one event.
struct Outcome {
    world: World,
    stamp: Stamp,
    event: Event,
    result: Result<Context, Refusal>,
}

impl World {
    /// The next event, a minute after the last.
    fn when(self, event: Event) -> Outcome {
        let at = self.next_at;
        self.when_at(at, event)
    }

    /// The next event at an explicit time.
    fn when_at(self, at: Timestamp, event: Event) -> Outcome {
        self.when_stamped(Stamp::new(at, ACTOR, None), event)
    }

    /// A late entry: dated `at`, saying why.
    fn when_late(self, at: &str, event: Event) -> Outcome {
        let stamp = Stamp { late_reason: Some("found in the paper files".into()), ..Stamp::new(ts(at), ACTOR, None) };
        self.when_stamped(stamp, event)
    }

    /// The next event with an explicit stamp, through the rules (what `verify` re-checks).
    fn when_stamped(self, stamp: Stamp, event: Event) -> Outcome {
        let before = self.state.clone();
        let (order, target) = self.lookup(&event);
        let result = check_with(&self.state, Lookup { order: order.as_ref(), target: target.as_ref() }, &stamp, &event);
        // `check` is pure: it never changes the state it is shown.
        assert_eq!(self.state, before);
        Outcome { world: self, stamp, event, result }
    }

    /// What the ledger looks up for `event`: the row of the order it names (for a correction,
    /// of the order whose shipment it corrects) and the record a correction refers to.
    fn lookup(&self, event: &Event) -> (Option<OrderRow>, Option<Target>) {
        let target = match event {
            Event::ShipmentCorrected { refers_to, .. } if *refers_to < self.state.records => Some(Target {
                seq: *refers_to,
                shipment: self.shipments.get(refers_to).map(|(s, _)| s.clone()),
                at: self.shipments.get(refers_to).map(|(_, at)| *at),
                corrected_by: self.corrected.get(refers_to).copied(),
            }),
            _ => None,
        };
        let order = match (event, &target) {
            (Event::ShipmentCorrected { .. }, Some(Target { shipment: Some((o, _)), .. })) => Some(o.as_str()),
            _ => event.order(),
        };
        (order.and_then(|o| self.orders.get(o)).cloned(), target)
    }

    /// The next event through admission and the rules (what `append` runs; `verify` runs the
    /// rules only), with the clock of [`clock`] and no input flags.
    fn when_appended(self, event: Event) -> Outcome {
        self.when_appended_by(&mut clock(), InputFlags::default(), event)
    }

    /// The next event through `admission`, with `flags`.
    fn when_appended_by(self, admission: &mut Admission, flags: InputFlags, event: Event) -> Outcome {
        let at = self.next_at;
        self.when_appended_at(admission, flags, at, event)
    }

    /// The next event at an explicit time, through `admission`, with `flags`.
    fn when_appended_at(self, admission: &mut Admission, flags: InputFlags, at: Timestamp, event: Event) -> Outcome {
        let stamp = Stamp::new(at, ACTOR, None);
        let (order, target) = self.lookup(&event);
        let lookup = Lookup { order: order.as_ref(), target: target.as_ref() };
        let result = admission.check(&self.state, lookup, &stamp, &event, flags);
        Outcome { world: self, stamp, event, result }
    }

    fn license(&self, id: &str) -> &quotaledger::domain::License {
        self.state.licenses.get(id).unwrap_or_else(|| panic!("no license {id}"))
    }

    fn order(&self, id: &str) -> &OrderRow {
        self.orders.get(id).unwrap_or_else(|| panic!("no order {id}"))
    }

    /// The seq the next accepted fact gets.
    fn seq(&self) -> u64 {
        self.state.records
    }
}

impl Outcome {
    /// Asserts acceptance and applies the fact (and what the ledger keeps beside the state, as
    /// `Ledger::append` does).
    fn then_accepted(self) -> World {
        let context = match self.result {
            Ok(c) => c,
            Err(r) => panic!("{} was refused: {:?} ({}) on {}", self.event.type_name(), r.reason, r.message, r.field),
        };
        let mut w = self.world;
        let seq = w.state.records;
        let fact = Fact { stamp: self.stamp, event: self.event, context };
        update_derived(&mut w, seq, &fact);
        w.state.apply(&fact);
        let last = w.state.last_at.expect("a fact was applied");
        w.next_at = Timestamp { secs: last.secs + 60, nanos: 0 };
        w
    }

    /// Asserts acceptance and returns the resolved context.
    fn then_context(self) -> Context {
        self.result.clone().unwrap_or_else(|r| panic!("refused: {}", r.message))
    }

    /// Asserts a refusal for `reason`; returns it for more checks.
    fn then_refused(self, reason: Reason) -> Refusal {
        match self.result {
            Ok(_) => panic!("{} was accepted; expected {reason:?}", self.event.type_name()),
            Err(r) => {
                assert_eq!(r.reason, reason, "refused for another rule: {} ({})", r.message, r.field);
                r
            }
        }
    }
}

/// The order index, the shipments by seq and the corrections, as `Ledger::update_index` keeps
/// them.
fn update_derived(w: &mut World, seq: u64, fact: &Fact) {
    let before = fact.order().and_then(|o| w.orders.get(o)).cloned();
    if let Some((id, row)) = OrderRow::after(fact, before) {
        w.orders.insert(id.to_string(), row);
    }
    if let Context::Resolved { opened, released, .. } = &fact.context {
        let ids = opened.iter().map(|o| (o, true)).chain(released.iter().map(|r| (&r.order, false)));
        for (id, open) in ids {
            let row = w.orders.remove(id).expect("a held order has a row");
            w.orders.insert(id.clone(), row.resolved(open));
        }
    }
    match (&fact.event, &fact.context) {
        (Event::ShipmentRecorded { order, quantity }, _) => {
            w.shipments.insert(seq, ((order.clone(), *quantity), fact.stamp.at));
        }
        (Event::ShipmentCorrected { refers_to, quantity, .. }, Context::Correction { order, .. }) => {
            w.shipments.insert(seq, ((order.clone(), *quantity), fact.stamp.at));
            w.corrected.insert(*refers_to, seq);
        }
        _ => {}
    }
}

/// An append's clock, months after the given events: only the time tests move it.
fn clock() -> Admission {
    Admission::new(ts("2026-06-01T00:00:00Z"), AT_FUTURE_MARGIN_SECS_DEFAULT, false)
}

const NO_FLAGS: InputFlags = InputFlags { confusable_ok: false };
const CONFUSABLE_OK: InputFlags = InputFlags { confusable_ok: true };

// Event builders.

fn party(id: &str) -> Event {
    party_named(id, &format!("{id} Ltd."))
}

fn party_named(id: &str, name: &str) -> Event {
    Event::PartyRegistered {
        party: id.into(),
        name: name.into(),
        country: "CN".into(),
        state_backed: false,
        sector: "internet".into(),
    }
}

fn restrict(id: &str) -> Event {
    Event::PartyRestricted { party: id.into(), reason: "state-backed".into() }
}

fn grant(license: &str, licensee: &str, quantity: u64) -> Event {
    grant_valid(license, licensee, quantity, "2026-01-20", "2027-01-19")
}

fn grant_valid(license: &str, licensee: &str, quantity: u64, from: &str, until: &str) -> Event {
    Event::LicenseGranted {
        license: license.into(),
        authority: "CN-MOFCOM".into(),
        licensee: licensee.into(),
        product: "H200".into(),
        quantity,
        valid_from: day(from),
        valid_until: day(until),
        round: 1,
    }
}

fn condition(license: &str, id: &str, rule: Rule, is_final: bool) -> Event {
    Event::ConditionAdded { license: license.into(), condition: id.into(), rule, is_final }
}

fn bundle(domestic: u64, per: u64) -> Rule {
    Rule::BundleRatio { domestic, per }
}

fn max_per_order(units: u64) -> Rule {
    Rule::MaxPerOrder { units }
}

fn end_use() -> Rule {
    Rule::EndUse { text: "inference only".into() }
}

fn finalize(license: &str, id: &str) -> Event {
    Event::ConditionFinalized { license: license.into(), condition: id.into() }
}

fn withdraw(license: &str, id: &str) -> Event {
    Event::ConditionWithdrawn { license: license.into(), condition: id.into(), reason: "no longer needed".into() }
}

fn order(id: &str, license: &str, quantity: u64, domestic: u64) -> Event {
    order_on(id, &[license], quantity, domestic)
}

/// An order through every gate in `licenses` (the buyer's first), from supplier nvidia.
fn order_on(id: &str, licenses: &[&str], quantity: u64, domestic: u64) -> Event {
    Event::OrderPlaced {
        order: id.into(),
        licenses: Gates(licenses.iter().map(|l| l.to_string()).collect()),
        quantity,
        domestic_quantity: domestic,
        supplier: "nvidia".into(),
        hold: false,
    }
}

/// An order that is held, rather than refused, while a license has pending conditions.
fn held_order(id: &str, licenses: &[&str], quantity: u64, domestic: u64) -> Event {
    let mut e = order_on(id, licenses, quantity, domestic);
    if let Event::OrderPlaced { hold, .. } = &mut e {
        *hold = true;
    }
    e
}

fn cancel(id: &str) -> Event {
    Event::OrderCancelled { order: id.into(), reason: "withdrawn".into() }
}

fn ship(id: &str, quantity: u64) -> Event {
    Event::ShipmentRecorded { order: id.into(), quantity }
}

fn amend(license: &str, quantity: u64) -> Event {
    Event::QuotaAmended { license: license.into(), quantity, reason: "audit".into() }
}

fn suspend(license: &str) -> Event {
    suspend_for(license, "inspection")
}

fn suspend_for(license: &str, reason: &str) -> Event {
    Event::LicenseSuspended { license: license.into(), reason: reason.into() }
}

fn reinstate(license: &str) -> Event {
    Event::LicenseReinstated { license: license.into(), reason: "passed".into() }
}

fn revoke(license: &str) -> Event {
    Event::LicenseRevoked { license: license.into(), reason: "breach".into() }
}

/// A party `bd` holding license `L` of `quantity`, no conditions.
fn licensed(quantity: u64) -> World {
    given([party("bd"), grant("L", "bd", quantity)])
}

// ---------------------------------------------------------------------------------------------
// Ids, texts, numbers.
// ---------------------------------------------------------------------------------------------

#[test]
fn ids_have_a_length_limit_and_no_whitespace() {
    given([]).when(party("")).then_refused(Reason::InvalidId);
    given([]).when(party("by tedance")).then_refused(Reason::InvalidId);
    given([]).when(party("tab\there")).then_refused(Reason::InvalidId);
    let r = given([]).when(party(&"p".repeat(ID_BYTES_MAX + 1))).then_refused(Reason::InvalidId);
    assert_eq!(r.field, "party");
    given([]).when(party(&"p".repeat(ID_BYTES_MAX))).then_accepted();
    // Multi-byte: the limit is in bytes, not characters (4 bytes each).
    given([]).when(party(&"\u{1F600}".repeat(ID_BYTES_MAX / 4 + 1))).then_refused(Reason::InvalidId);
    let r = licensed(10).when(order("O 1", "L", 1, 1)).then_refused(Reason::InvalidId);
    assert_eq!(r.field, "order");
}

#[test]
fn texts_have_a_length_limit_and_no_control_characters() {
    let named = |name: String| Event::PartyRegistered {
        party: "p".into(),
        name,
        country: "CN".into(),
        state_backed: false,
        sector: "x".into(),
    };
    let r = given([]).when(named(String::new())).then_refused(Reason::InvalidText);
    assert_eq!(r.field, "name");
    given([]).when(named("line\nbreak".into())).then_refused(Reason::InvalidText);
    given([]).when(named("n".repeat(TEXT_BYTES_MAX + 1))).then_refused(Reason::InvalidText);
    given([]).when(named("n".repeat(TEXT_BYTES_MAX))).then_accepted();
    // Spaces are fine in texts.
    given([]).when(named("ByteDance Ltd.".into())).then_accepted();
    // The actor is a text too.
    let w = given([]);
    let at = w.next_at;
    let stamp = Stamp::new(at, "", None);
    let r = check(&w.state, None, &stamp, &party("p")).unwrap_err();
    assert_eq!((r.reason, r.field), (Reason::InvalidText, "actor"));
}

#[test]
fn quantities_and_rule_parameters_are_positive() {
    let r = given([party("bd")]).when(grant("L", "bd", 0)).then_refused(Reason::NotPositive);
    assert_eq!(r.field, "quantity");
    let mut round0 = grant("L", "bd", 10);
    if let Event::LicenseGranted { round, .. } = &mut round0 {
        *round = 0;
    }
    given([party("bd")]).when(round0).then_refused(Reason::NotPositive);
    for (rule, field) in [(bundle(0, 3), "rule.domestic"), (bundle(1, 0), "rule.per"), (max_per_order(0), "rule.units")]
    {
        let r = licensed(10).when(condition("L", "C1", rule, true)).then_refused(Reason::NotPositive);
        assert_eq!(r.field, field);
    }
    let r = licensed(10).when(order("O", "L", 0, 1)).then_refused(Reason::NotPositive);
    assert_eq!(r.field, "quantity");
    let w = licensed(10).when(order("O", "L", 5, 1)).then_accepted();
    w.when(ship("O", 0)).then_refused(Reason::NotPositive);
    licensed(10).when(amend("L", 0)).then_refused(Reason::NotPositive);
    // One is the smallest accepted.
    licensed(10).when(order("O", "L", 1, 1)).then_accepted();
}

#[test]
fn validity_must_not_end_before_it_starts() {
    let r = given([party("bd")])
        .when(grant_valid("L", "bd", 10, "2026-03-02", "2026-03-01"))
        .then_refused(Reason::InvalidValidity);
    assert_eq!(r.field, "valid_until");
    // A one-day license is fine.
    given([party("bd")]).when(grant_valid("L", "bd", 10, "2026-03-01", "2026-03-01")).then_accepted();
}

#[test]
fn at_never_goes_backwards() {
    let w = given([party("a")]); // at T0
    let r = w.when_at(ts("2026-01-31T23:59:59Z"), party("b")).then_refused(Reason::TimeWentBackwards);
    assert_eq!(r.field, "at");
    // A nanosecond earlier is earlier.
    given([party("a")])
        .when_at(ts("2026-01-31T23:59:59.999999999Z"), party("b"))
        .then_refused(Reason::TimeWentBackwards);
    // The same instant is not earlier.
    given([party("a")]).when_at(ts(T0), party("b")).then_accepted();
}

// ---------------------------------------------------------------------------------------------
// References and uniqueness.
// ---------------------------------------------------------------------------------------------

#[test]
fn ids_are_unique() {
    let r = given([party("bd")]).when(party("bd")).then_refused(Reason::DuplicateId);
    assert_eq!(r.field, "party");
    let r = licensed(10).when(grant("L", "bd", 5)).then_refused(Reason::DuplicateId);
    assert_eq!(r.field, "license");
    let w = licensed(10).when(condition("L", "C1", end_use(), true)).then_accepted();
    let r = w.when(condition("L", "C1", bundle(1, 3), true)).then_refused(Reason::DuplicateId);
    assert_eq!(r.field, "condition");
    // A condition id is unique within its license only.
    given([party("bd"), grant("L", "bd", 10), grant("M", "bd", 10), condition("L", "C1", end_use(), true)])
        .when(condition("M", "C1", end_use(), true))
        .then_accepted();
    let w = licensed(10).when(order("O", "L", 1, 1)).then_accepted();
    let r = w.when(order("O", "L", 1, 1)).then_refused(Reason::DuplicateId);
    assert_eq!(r.field, "order");
}

#[test]
fn every_reference_must_exist() {
    let r = given([]).when(grant("L", "nobody", 10)).then_refused(Reason::UnknownParty);
    assert_eq!(r.field, "licensee");
    given([]).when(restrict("nobody")).then_refused(Reason::UnknownParty);
    for e in [
        order("O", "NOPE", 1, 1),
        condition("NOPE", "C1", end_use(), true),
        finalize("NOPE", "C1"),
        withdraw("NOPE", "C1"),
        amend("NOPE", 1),
        suspend("NOPE"),
        reinstate("NOPE"),
        revoke("NOPE"),
    ] {
        let r = licensed(10).when(e).then_refused(Reason::UnknownLicense);
        assert_eq!(r.field, "license");
    }
    licensed(10).when(finalize("L", "C9")).then_refused(Reason::UnknownCondition);
    licensed(10).when(withdraw("L", "C9")).then_refused(Reason::UnknownCondition);
    licensed(10).when(cancel("O-9")).then_refused(Reason::UnknownOrder);
    licensed(10).when(ship("O-9", 1)).then_refused(Reason::UnknownOrder);
}

// ---------------------------------------------------------------------------------------------
// Restricted parties.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_restricted_party_is_granted_no_license() {
    let r = given([party("cm"), restrict("cm")]).when(grant("L", "cm", 10)).then_refused(Reason::PartyRestricted);
    assert_eq!(r.field, "licensee");
    given([party("cm")]).when(grant("L", "cm", 10)).then_accepted();
}

#[test]
fn a_restricted_party_places_no_order_even_on_an_earlier_license() {
    let w = given([party("cm"), grant("L", "cm", 10), restrict("cm")]);
    w.when(order("O", "L", 1, 1)).then_refused(Reason::PartyRestricted);
}

#[test]
fn a_party_is_restricted_once() {
    given([party("cm"), restrict("cm")]).when(restrict("cm")).then_refused(Reason::PartyAlreadyRestricted);
}

// ---------------------------------------------------------------------------------------------
// order_placed.
// ---------------------------------------------------------------------------------------------

#[test]
fn an_order_needs_an_active_license() {
    let r = given([party("bd"), grant("L", "bd", 10), suspend("L")])
        .when(order("O", "L", 1, 1))
        .then_refused(Reason::LicenseNotActive);
    assert_eq!(r.field, "license");
    given([party("bd"), grant("L", "bd", 10), revoke("L")])
        .when(order("O", "L", 1, 1))
        .then_refused(Reason::LicenseNotActive);
    given([party("bd"), grant("L", "bd", 10), suspend("L"), reinstate("L")])
        .when(order("O", "L", 1, 1))
        .then_accepted();
}

#[test]
fn an_order_falls_within_the_validity_first_and_last_day_included() {
    // The UTC day of `at` counts; the first and last day are both inside.
    let w = || given([party("bd"), grant_valid("L", "bd", 10, "2026-03-01", "2026-03-31")]);
    let r = w().when_at(ts("2026-02-28T23:59:59Z"), order("O", "L", 1, 1)).then_refused(Reason::OutsideValidity);
    assert_eq!(r.field, "at");
    w().when_at(ts("2026-03-01T00:00:00Z"), order("O", "L", 1, 1)).then_accepted();
    w().when_at(ts("2026-03-31T23:59:59.999999999Z"), order("O", "L", 1, 1)).then_accepted();
    w().when_at(ts("2026-04-01T00:00:00Z"), order("O", "L", 1, 1)).then_refused(Reason::OutsideValidity);
    // An offset does not move the day: 2026-04-01T07:00+08:00 is 2026-03-31T23:00Z.
    w().when_at(ts("2026-04-01T07:00:00+08:00"), order("O", "L", 1, 1)).then_accepted();
}

#[test]
fn a_pending_condition_blocks_every_order() {
    // Even a pending end-use condition (not otherwise checked) blocks.
    let r = given([party("bd"), grant("L", "bd", 10), condition("L", "C1", end_use(), false)])
        .when(order("O", "L", 1, 1))
        .then_refused(Reason::PendingCondition);
    assert_eq!(r.field, "license");
    assert!(r.message.contains("C1"), "{}", r.message);
    given([party("bd"), grant("L", "bd", 10), condition("L", "C1", end_use(), false), finalize("L", "C1")])
        .when(order("O", "L", 1, 1))
        .then_accepted();
    // A withdrawn pending condition blocks no more.
    given([party("bd"), grant("L", "bd", 10), condition("L", "C1", bundle(1, 1), false), withdraw("L", "C1")])
        .when(order("O", "L", 5, 1))
        .then_accepted();
}

#[test]
fn a_withdrawn_condition_no_longer_applies() {
    let w = || given([party("bd"), grant("L", "bd", 100), condition("L", "C1", bundle(1, 1), true)]);
    w().when(order("O", "L", 10, 1)).then_refused(Reason::BundleShort);
    w().when(withdraw("L", "C1")).then_accepted().when(order("O", "L", 10, 1)).then_accepted();
    let w = || given([party("bd"), grant("L", "bd", 100), condition("L", "C1", max_per_order(5), true)]);
    w().when(order("O", "L", 6, 1)).then_refused(Reason::ExceedsMaxPerOrder);
    w().when(withdraw("L", "C1")).then_accepted().when(order("O", "L", 6, 1)).then_accepted();
}

#[test]
fn an_order_takes_at_most_the_remaining_quota() {
    let r = licensed(100).when(order("O", "L", 101, 1)).then_refused(Reason::ExceedsRemaining);
    assert_eq!(r.field, "quantity");
    assert_eq!(r.message, "quantity 101 exceeds remaining 100 on L");
    let w = licensed(100).when(order("O-1", "L", 60, 1)).then_accepted();
    assert_eq!(w.license("L").remaining(), 40);
    // remaining 40: 41 refused, 40 accepted, then nothing is left.
    let w = w.when(order("O-2", "L", 40, 1)).then_accepted();
    assert_eq!(w.license("L").remaining(), 0);
    let w = licensed(100).when(order("O-1", "L", 60, 1)).then_accepted();
    w.when(order("O-2", "L", 41, 1)).then_refused(Reason::ExceedsRemaining);
}

#[test]
fn a_final_max_per_order_is_respected_at_its_boundary() {
    let w = || given([party("bd"), grant("L", "bd", 100_000), condition("L", "C2", max_per_order(50_000), true)]);
    w().when(order("O", "L", 50_000, 1)).then_accepted();
    let r = w().when(order("O", "L", 50_001, 1)).then_refused(Reason::ExceedsMaxPerOrder);
    assert_eq!(r.field, "quantity");
}

#[test]
fn a_final_bundle_ratio_needs_the_ceiling_of_domestic_units() {
    let w = || given([party("bd"), grant("L", "bd", 1_000_000), condition("L", "C1", bundle(1, 3), true)]);
    // 10 * 1 / 3 = 3.33...: 4 needed, 3 short.
    let r = w().when(order("O", "L", 10, 3)).then_refused(Reason::BundleShort);
    assert_eq!(r.field, "domestic_quantity");
    w().when(order("O", "L", 10, 4)).then_accepted();
    // 9 * 1 / 3 = 3 exactly: 3 is enough, 2 is not.
    w().when(order("O", "L", 9, 3)).then_accepted();
    w().when(order("O", "L", 9, 2)).then_refused(Reason::BundleShort);
    // The story's O-TC-1: ceil(50000 / 3) = 16667.
    w().when(order("O", "L", 50_000, 16_667)).then_accepted();
    w().when(order("O", "L", 50_000, 16_666)).then_refused(Reason::BundleShort);
    // 2 per 5 on 7: ceil(14 / 5) = 3.
    let w = || given([party("bd"), grant("L", "bd", 100), condition("L", "C1", bundle(2, 5), true)]);
    w().when(order("O", "L", 7, 2)).then_refused(Reason::BundleShort);
    w().when(order("O", "L", 7, 3)).then_accepted();
    // A pending-then-finalized bundle applies from then on.
    given([party("bd"), grant("L", "bd", 100), condition("L", "C1", bundle(1, 2), false), finalize("L", "C1")])
        .when(order("O", "L", 10, 4))
        .then_refused(Reason::BundleShort);
}

#[test]
fn a_bundle_need_beyond_u64_is_refused_not_wrapped() {
    // 2 * u64::MAX domestic per 1 exceeds u64: no domestic_quantity can meet it, and the
    // product must not wrap to a small number.
    let w = given([party("bd"), grant("L", "bd", 10), condition("L", "C1", bundle(u64::MAX, 1), true)]);
    w.when(order("O", "L", 2, u64::MAX)).then_refused(Reason::BundleShort);
}

#[test]
fn order_and_cancel_churn_never_wraps_the_ordered_total() {
    // Regression: the projection kept a gross ordered sum, so ordering all of u64::MAX,
    // cancelling it and ordering one more unit was refused as an overflow although the quota
    // was all there again. The net committed total never exceeds the quota.
    let w = licensed(u64::MAX).when(order("O-1", "L", u64::MAX, 1)).then_accepted().when(cancel("O-1")).then_accepted();
    assert_eq!(w.license("L").remaining(), u64::MAX);
    let w = w.when(order("O-2", "L", 1, 1)).then_accepted();
    assert_eq!(w.license("L").remaining(), u64::MAX - 1);
    w.when(order("O-3", "L", u64::MAX, 1)).then_refused(Reason::ExceedsRemaining);
}

// ---------------------------------------------------------------------------------------------
// order_cancelled, shipment_recorded, quota_amended.
// ---------------------------------------------------------------------------------------------

#[test]
fn cancelling_returns_the_unshipped_quantity() {
    let w = licensed(100).when(order("O", "L", 60, 1)).then_accepted().when(ship("O", 25)).then_accepted();
    assert_eq!(w.license("L").remaining(), 40);
    let out = w.when(cancel("O"));
    // 60 ordered - 25 shipped = 35 returned.
    assert_eq!(out.result, Ok(Context::Cancellation { licenses: Gates::one("L"), quantity_returned: 35, held: false }));
    let w = out.then_accepted();
    let l = w.license("L");
    assert_eq!((l.ordered(), l.shipped, l.remaining()), (25, 25, 75));
}

#[test]
fn only_an_open_order_is_cancelled() {
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(cancel("O")).then_accepted();
    let r = w.when(cancel("O")).then_refused(Reason::OrderNotOpen);
    assert_eq!(r.field, "order");
    // Fully shipped: not open.
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(ship("O", 10)).then_accepted();
    w.when(cancel("O")).then_refused(Reason::OrderNotOpen);
    // One unit short of fully shipped: still open.
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(ship("O", 9)).then_accepted();
    w.when(cancel("O")).then_accepted();
}

#[test]
fn a_cancelled_order_ships_nothing() {
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(cancel("O")).then_accepted();
    let r = w.when(ship("O", 1)).then_refused(Reason::OrderCancelled);
    assert_eq!(r.field, "order");
}

#[test]
fn shipments_never_exceed_the_order() {
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(ship("O", 4)).then_accepted();
    // 4 shipped of 10: 7 more is too many, 6 is exactly right.
    let r = w.when(ship("O", 7)).then_refused(Reason::ExceedsOrdered);
    assert_eq!(r.field, "quantity");
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(ship("O", 4)).then_accepted();
    let out = w.when(ship("O", 6));
    assert_eq!(out.result, Ok(Context::Shipment { licenses: Gates::one("L") }));
    let w = out.then_accepted();
    assert_eq!(w.license("L").shipped, 10);
    w.when(ship("O", 1)).then_refused(Reason::ExceedsOrdered);
}

#[test]
fn a_shipment_sum_beyond_u64_is_refused_not_wrapped() {
    // shipped 1 + u64::MAX overflows; it must be refused, not wrap to 0 and pass.
    let w = licensed(u64::MAX).when(order("O", "L", u64::MAX, 1)).then_accepted().when(ship("O", 1)).then_accepted();
    w.when(ship("O", u64::MAX)).then_refused(Reason::ExceedsOrdered);
}

#[test]
fn shipping_needs_an_active_license() {
    let w = licensed(100).when(order("O", "L", 10, 1)).then_accepted().when(suspend("L")).then_accepted();
    w.when(ship("O", 1)).then_refused(Reason::LicenseNotActive);
}

#[test]
fn an_amendment_never_goes_below_what_is_committed() {
    // Ordered 60 + 30, the 30 cancelled (nothing shipped): committed 60.
    let w = || {
        licensed(100)
            .when(order("O-1", "L", 60, 1))
            .then_accepted()
            .when(order("O-2", "L", 30, 1))
            .then_accepted()
            .when(cancel("O-2"))
            .then_accepted()
    };
    let r = w().when(amend("L", 59)).then_refused(Reason::BelowCommitted);
    assert_eq!(r.field, "quantity");
    let w = w().when(amend("L", 60)).then_accepted();
    assert_eq!((w.license("L").quantity, w.license("L").remaining()), (60, 0));
    // Raising is always fine.
    licensed(100).when(amend("L", 1_000)).then_accepted();
    // Not on a revoked license.
    given([party("bd"), grant("L", "bd", 10), revoke("L")]).when(amend("L", 20)).then_refused(Reason::LicenseNotActive);
}

// ---------------------------------------------------------------------------------------------
// Conditions and license status.
// ---------------------------------------------------------------------------------------------

#[test]
fn only_a_pending_condition_is_finalized() {
    let w = licensed(10).when(condition("L", "C1", end_use(), true)).then_accepted();
    w.when(finalize("L", "C1")).then_refused(Reason::ConditionNotPending);
    let w = given([party("bd"), grant("L", "bd", 10), condition("L", "C1", end_use(), false), withdraw("L", "C1")]);
    w.when(finalize("L", "C1")).then_refused(Reason::ConditionNotPending);
    let w = licensed(10).when(condition("L", "C1", end_use(), false)).then_accepted();
    let w = w.when(finalize("L", "C1")).then_accepted();
    assert_eq!(w.license("L").conditions[0].status, ConditionStatus::Final);
}

#[test]
fn a_condition_is_withdrawn_once() {
    let w = given([party("bd"), grant("L", "bd", 10), condition("L", "C1", end_use(), true), withdraw("L", "C1")]);
    assert_eq!(w.license("L").conditions[0].status, ConditionStatus::Withdrawn);
    w.when(withdraw("L", "C1")).then_refused(Reason::ConditionAlreadyWithdrawn);
}

#[test]
fn status_moves_only_along_its_transitions() {
    let status = |w: &World| w.license("L").status;
    // active -> suspended -> active -> revoked.
    let w = licensed(10).when(suspend("L")).then_accepted();
    assert_eq!(status(&w), LicenseStatus::Suspended);
    let w = w.when(reinstate("L")).then_accepted();
    assert_eq!(status(&w), LicenseStatus::Active);
    let w = w.when(revoke("L")).then_accepted();
    assert_eq!(status(&w), LicenseStatus::Revoked);
    // A suspended license may be revoked too.
    let w = licensed(10).when(suspend("L")).then_accepted().when(revoke("L")).then_accepted();
    assert_eq!(status(&w), LicenseStatus::Revoked);

    // Suspend only an active license; reinstate only a suspended one.
    let r = licensed(10).when(suspend("L")).then_accepted().when(suspend("L")).then_refused(Reason::InvalidTransition);
    assert_eq!(r.field, "license");
    licensed(10).when(reinstate("L")).then_refused(Reason::InvalidTransition);
    // Revoked is terminal.
    let revoked = || licensed(10).when(revoke("L")).then_accepted();
    revoked().when(suspend("L")).then_refused(Reason::InvalidTransition);
    revoked().when(reinstate("L")).then_refused(Reason::InvalidTransition);
    revoked().when(revoke("L")).then_refused(Reason::LicenseNotActive);
    revoked().when(condition("L", "C1", end_use(), true)).then_refused(Reason::LicenseNotActive);
}

#[test]
fn remaining_is_quantity_minus_ordered_net_of_returns() {
    // 1000; orders 300, 200, 100; ship 50 of the 200, cancel it (150 returned); amend to 800.
    // ordered = 600 - 150 = 450; remaining = 800 - 450 = 350; shipped 50.
    let shipped_b = || {
        licensed(1000)
            .when(order("A", "L", 300, 1))
            .then_accepted()
            .when(order("B", "L", 200, 1))
            .then_accepted()
            .when(order("C", "L", 100, 1))
            .then_accepted()
            .when(ship("B", 50))
            .then_accepted()
    };
    assert_eq!(
        shipped_b().when(cancel("B")).then_context(),
        Context::Cancellation { licenses: Gates::one("L"), quantity_returned: 150, held: false }
    );
    let w = shipped_b().when(cancel("B")).then_accepted().when(amend("L", 800)).then_accepted();
    let l = w.license("L");
    assert_eq!((l.quantity, l.ordered(), l.shipped, l.remaining()), (800, 450, 50, 350));
}

// ---------------------------------------------------------------------------------------------
// Admission: what `append` checks beyond the rules; `verify` does not re-check it, so records an
// older version wrote stay valid.
// ---------------------------------------------------------------------------------------------

#[test]
fn at_lies_at_most_the_margin_ahead_of_the_clock_unless_the_append_allows_the_future() {
    let now = ts("2026-02-01T00:00:00Z");
    let margin = AT_FUTURE_MARGIN_SECS_DEFAULT;
    let edge = Timestamp { secs: now.secs + i64::from(margin), nanos: 0 };
    let at = |adm: &mut Admission, at: Timestamp| given([]).when_appended_at(adm, NO_FLAGS, at, party("a"));
    at(&mut Admission::new(now, margin, false), edge).then_accepted();
    let r =
        at(&mut Admission::new(now, margin, false), Timestamp { nanos: 1, ..edge }).then_refused(Reason::AtInFuture);
    assert_eq!(r.field, "at");
    assert!(r.message.contains("1 day ahead of the clock (2026-02-01T00:00:00Z)"), "{}", r.message);
    // A year typo is refused; meant on purpose, it is allowed.
    at(&mut Admission::new(now, margin, false), ts("2062-02-01T00:00:00Z")).then_refused(Reason::AtInFuture);
    at(&mut Admission::new(now, margin, true), ts("2062-02-01T00:00:00Z")).then_accepted();
    // The margin is the ledger's: a minute here.
    let minute = Timestamp { secs: now.secs + 61, nanos: 0 };
    at(&mut Admission::new(now, 60, false), minute).then_refused(Reason::AtInFuture);
    // The past is the rules' business (`at` never goes backwards), not the clock's.
    at(&mut Admission::new(now, margin, false), ts("2020-01-01T00:00:00Z")).then_accepted();
}

#[test]
fn ids_an_event_introduces_are_printable_ascii_without_spaces() {
    for id in ["bytedаnce", "O-\u{200b}1", "ключ", "caf\u{e9}", "\u{ff21}"] {
        let r = given([]).when_appended(party(id)).then_refused(Reason::InvalidId);
        assert_eq!(r.field, "party");
        assert!(r.message.contains("printable ASCII"), "{}", r.message);
    }
    // Every printable ASCII character but the space.
    let all: String = (0x21u8..=0x7e).map(char::from).collect();
    given([]).when_appended(party(&all)).then_accepted();
    let r = given([party("bd")]).when_appended(grant("Л-1", "bd", 1)).then_refused(Reason::InvalidId);
    assert_eq!(r.field, "license");
    let r = licensed(10).when_appended(condition("L", "С1", end_use(), true)).then_refused(Reason::InvalidId);
    assert_eq!(r.field, "condition");
    let r = licensed(10).when_appended(order("О-1", "L", 1, 1)).then_refused(Reason::InvalidId);
    assert_eq!(r.field, "order");
    // An idempotency key is introduced by the event that carries it.
    let w = given([]);
    let stamp = Stamp::new(w.next_at, ACTOR, Some("clé".into()));
    let r = clock().check(&w.state, Lookup::default(), &stamp, &party("p"), NO_FLAGS).unwrap_err();
    assert_eq!((r.reason, r.field), (Reason::InvalidId, "key"));
    // The older limits come first: whitespace and control characters are named as such.
    let r = given([]).when_appended(party("a\u{7}b")).then_refused(Reason::InvalidId);
    assert!(r.message.contains("control"), "{}", r.message);
}

#[test]
fn ids_an_older_version_wrote_can_still_be_referred_to() {
    // The rules alone (what `verify` re-checks) accept any id without whitespace or control
    // characters, as every version did; references to such ids are appended as before.
    let w = given([party("bytedаnce"), grant("Л-1", "bytedаnce", 10), condition("Л-1", "С1", end_use(), false)]);
    let w = w.when_appended(finalize("Л-1", "С1")).then_accepted();
    let w = w.when_appended(order("O-1", "Л-1", 4, 1)).then_accepted();
    let w = w.when_appended(amend("Л-1", 20)).then_accepted();
    w.when_appended(restrict("bytedаnce")).then_accepted();
}

#[test]
fn texts_hold_no_invisible_formatting_and_any_other_unicode() {
    let named = |name: &str| party_named("p", name);
    let invisible = [
        "New\u{202e}oC",
        "a\u{202a}b",
        "a\u{202b}b",
        "a\u{202c}b",
        "a\u{202d}b",
        "x\u{2066}y",
        "x\u{2067}y",
        "x\u{2068}y",
        "x\u{2069}y",
        "l\u{200e}",
        "r\u{200f}",
        "\u{061c}a",
        "zero\u{200b}width",
        "one\u{2028}two",
        "one\u{2029}two",
        "\u{feff}bom",
        "soft\u{ad}hyphen",
    ];
    for name in invisible {
        let r = given([]).when_appended(named(name)).then_refused(Reason::InvalidText);
        assert_eq!(r.field, "name", "{name:?}");
    }
    for name in ["字节跳动有限公司", "Société Générale", "Ярослав и сыновья", "שלום בע\"מ", "ByteDance Ltd. 🚀"]
    {
        given([]).when_appended(named(name)).then_accepted();
    }
    // Every text: a reason, a rule text, the actor.
    let r = licensed(10).when_appended(suspend_for("L", "audit\u{200e}")).then_refused(Reason::InvalidText);
    assert_eq!(r.field, "reason");
    let hidden = Rule::EndUse { text: "civil\u{200b} use".into() };
    let r = licensed(10).when_appended(condition("L", "C1", hidden, true)).then_refused(Reason::InvalidText);
    assert_eq!(r.field, "rule.text");
    let w = given([]);
    let stamp = Stamp::new(w.next_at, "clerk\u{2029}", None);
    let r = clock().check(&w.state, Lookup::default(), &stamp, &party("p"), NO_FLAGS).unwrap_err();
    assert_eq!((r.reason, r.field), (Reason::InvalidText, "actor"));
}

#[test]
fn licensed_totals_stay_within_u64() {
    let near = || given([party("bd"), grant("L1", "bd", u64::MAX - 5)]);
    // Exactly u64::MAX is fine; one more is refused, naming the party.
    near().when_appended(grant("L2", "bd", 5)).then_accepted();
    let r = near().when_appended(grant("L2", "bd", 6)).then_refused(Reason::TotalOverflow);
    assert_eq!(r.field, "quantity");
    assert!(r.message.contains("party bd's licensed total would be 18446744073709551616"), "{}", r.message);
    // Over all parties.
    let two = || given([party("a"), party("b"), grant("L1", "a", u64::MAX - 1), grant("L2", "b", 1)]);
    let r = two().when_appended(grant("L3", "b", 1)).then_refused(Reason::TotalOverflow);
    assert!(r.message.contains("the licensed total of all parties"), "{}", r.message);
    // Amendments: the new quantity replaces the old one in the totals.
    two().when_appended(amend("L2", 2)).then_refused(Reason::TotalOverflow);
    two().when_appended(amend("L1", u64::MAX - 1)).then_accepted();
    // Within one append, the totals follow every grant and amendment admitted before.
    let mut adm = clock();
    let w = two().when_appended_by(&mut adm, NO_FLAGS, amend("L1", u64::MAX - 11)).then_accepted();
    let w = w.when_appended_by(&mut adm, NO_FLAGS, grant("L3", "b", 10)).then_accepted();
    w.when_appended_by(&mut adm, NO_FLAGS, grant("L4", "a", 1)).then_refused(Reason::TotalOverflow);
}

#[test]
fn a_party_that_looks_like_another_is_refused_unless_its_line_says_so() {
    let w = || given([party_named("bytedance", "ByteDance Ltd.")]);
    // A Cyrillic а in the name; the very same name; "1" for "l" in the id (ids are ASCII, where
    // 1/l, 0/O and rn/m are the lookalikes).
    let r = w().when_appended(party_named("bytedance-2", "ByteDаnce Ltd.")).then_refused(Reason::ConfusableParty);
    assert_eq!(r.field, "name");
    assert!(r.message.contains("registered party bytedance"), "{}", r.message);
    w().when_appended(party_named("bytedance-2", "ByteDance Ltd.")).then_refused(Reason::ConfusableParty);
    let r = given([party("alibaba")])
        .when_appended(party_named("a1ibaba", "Other Ltd."))
        .then_refused(Reason::ConfusableParty);
    assert_eq!(r.field, "party");
    // Said on purpose, it is accepted.
    w().when_appended_by(&mut clock(), CONFUSABLE_OK, party_named("bytedance-2", "ByteDance Ltd.")).then_accepted();
    // Another id and name are fine; the same id is a duplicate, not a lookalike.
    w().when_appended(party_named("bytedance-hk", "ByteDance (HK) Ltd.")).then_accepted();
    w().when_appended(party_named("bytedance", "Other Ltd.")).then_refused(Reason::DuplicateId);
    // Within one append: the second party looks like the first (a Cyrillic е).
    let mut adm = clock();
    let w2 = given([]).when_appended_by(&mut adm, NO_FLAGS, party_named("newco", "New Co")).then_accepted();
    w2.when_appended_by(&mut adm, NO_FLAGS, party_named("newco-2", "Nеw Co")).then_refused(Reason::ConfusableParty);
    // The rules alone (what `verify` re-checks) accept it: the flag is not recorded.
    w().when(party_named("bytedance-2", "ByteDance Ltd.")).then_accepted();
}

// ---------------------------------------------------------------------------------------------
// Issue 9: rounds, policies, caps, two gates, holds, corrections, usage limits, late entries.
// ---------------------------------------------------------------------------------------------

const US_LICENSE: &str = "US-BIS-D000001";

fn party_of(id: &str, state_backed: bool, sector: &str) -> Event {
    Event::PartyRegistered {
        party: id.into(),
        name: format!("{id} Co."),
        country: "CN".into(),
        state_backed,
        sector: sector.into(),
    }
}

fn grant_in(license: &str, licensee: &str, quantity: u64, round: u64) -> Event {
    let mut e = grant(license, licensee, quantity);
    if let Event::LicenseGranted { round: r, .. } = &mut e {
        *r = round;
    }
    e
}

fn grant_by(license: &str, authority: &str, licensee: &str, product: &str, quantity: u64) -> Event {
    let mut e = grant(license, licensee, quantity);
    if let Event::LicenseGranted { authority: a, product: p, .. } = &mut e {
        *a = authority.into();
        *p = product.into();
    }
    e
}

fn open_round(round: u64, ceiling: u64) -> Event {
    Event::RoundOpened { authority: "CN-MOFCOM".into(), round, product: "H200".into(), ceiling }
}

fn close_round(round: u64) -> Event {
    Event::RoundClosed { authority: "CN-MOFCOM".into(), round }
}

fn policy(id: &str, state_backed: bool, sectors: &[&str]) -> Event {
    Event::PolicySet {
        policy: id.into(),
        authority: "CN-MOFCOM".into(),
        product: "H200".into(),
        deny: Deny { state_backed, sectors: sectors.iter().map(|s| s.to_string()).collect() },
        reason: "critical infrastructure".into(),
    }
}

fn lift(id: &str) -> Event {
    Event::PolicyLifted { policy: id.into(), reason: "relaxed".into() }
}

fn exempt(policy: &str, party: &str) -> Event {
    Event::ExemptionGranted { policy: policy.into(), party: party.into(), reason: "research".into() }
}

fn cap(per_party: u64) -> Event {
    Event::CapSet { authority: "CN-MOFCOM".into(), product: "H200".into(), per_party }
}

fn correct(refers_to: u64, quantity: u64, approved_by: &str) -> Event {
    Event::ShipmentCorrected { refers_to, quantity, reason: "weighbill".into(), approved_by: approved_by.into() }
}

fn max_shipments(count: u64) -> Rule {
    Rule::MaxShipments { count }
}

/// `bd` holding CN license `L` (100000) and supplier `nvidia` holding the US export license
/// (30000), both for H200.
fn two_gates() -> World {
    given([
        party("bd"),
        party("nvidia"),
        grant("L", "bd", 100_000),
        grant_by(US_LICENSE, "US-BIS", "nvidia", "H200", 30_000),
    ])
}

// Rounds.

#[test]
fn a_grant_must_name_an_open_round_once_rounds_exist() {
    let w = || given([party("bd"), open_round(1, 400_000)]);
    w().when(grant_in("L", "bd", 10, 1)).then_accepted();
    let r = w().when(grant_in("L", "bd", 10, 2)).then_refused(Reason::RoundNotOpen);
    assert_eq!(r.field, "round");
    let r =
        w().when(close_round(1)).then_accepted().when(grant_in("L", "bd", 10, 1)).then_refused(Reason::RoundNotOpen);
    assert!(r.message.contains("closed"), "{}", r.message);
    // Another product of the same authority has no rounds: grants work as before.
    w().when(grant_by("L", "CN-MOFCOM", "bd", "H20", 10)).then_accepted();
    // A round is closed once, and only a round that was opened.
    w().when(close_round(1)).then_accepted().when(close_round(1)).then_refused(Reason::RoundNotOpen);
}

#[test]
fn closing_a_round_never_opened_is_an_unknown_round() {
    let r = given([open_round(1, 10)]).when(close_round(2)).then_refused(Reason::UnknownRound);
    assert_eq!(r.field, "round");
    given([open_round(1, 10)]).when(close_round(1)).then_accepted();
}

#[test]
fn grants_in_a_round_never_exceed_its_ceiling_and_the_refusal_says_what_is_left() {
    let w = || given([party("bd"), party("al"), open_round(1, 100), grant_in("L1", "bd", 60, 1)]);
    let r = w().when(grant_in("L2", "al", 41, 1)).then_refused(Reason::ExceedsRoundCeiling);
    assert_eq!(r.field, "quantity");
    assert_eq!(r.message, "41 more units would exceed the ceiling 100 of round 1 of CN-MOFCOM: 60 granted, 40 left");
    let full = w().when(grant_in("L2", "al", 40, 1)).then_accepted();
    let round = &full.state.rounds[&("CN-MOFCOM".to_string(), 1)];
    assert_eq!((round.granted, round.left()), (100, 0));
    // Amendments count: raising L1 by 41 is too much, by 40 fits; lowering always fits.
    let r = w().when(amend("L1", 101)).then_refused(Reason::ExceedsRoundCeiling);
    assert!(r.message.contains("ceiling 100 of round 1") && r.message.contains("40 left"), "{}", r.message);
    w().when(amend("L1", 100)).then_accepted();
    let lowered = full.when(amend("L1", 50)).then_accepted();
    assert_eq!(lowered.state.rounds[&("CN-MOFCOM".to_string(), 1)].left(), 10);
    lowered.when(grant_in("L3", "bd", 10, 1)).then_accepted();
}

#[test]
fn a_round_cannot_open_below_what_its_licenses_already_hold() {
    let w = || given([party("bd"), grant_in("L", "bd", 500, 3)]);
    let r = w().when(open_round(3, 499)).then_refused(Reason::ExceedsRoundCeiling);
    assert_eq!(r.field, "ceiling");
    let w = w().when(open_round(3, 500)).then_accepted();
    assert_eq!(w.state.rounds[&("CN-MOFCOM".to_string(), 3)].granted, 500);
    w.when(open_round(3, 900)).then_refused(Reason::DuplicateId);
}

// Policies.

#[test]
fn a_policy_denies_a_caught_party_licenses_unless_exempted_or_lifted() {
    let w = || given([party_of("cm", true, "telecom"), policy("P-SOE", true, &["defense"])]);
    let r = w().when(grant("L", "cm", 10)).then_refused(Reason::PolicyDenied);
    assert_eq!(r.field, "licensee");
    assert!(r.message.contains("P-SOE"), "{}", r.message);
    w().when(exempt("P-SOE", "cm")).then_accepted().when(grant("L", "cm", 10)).then_accepted();
    w().when(lift("P-SOE")).then_accepted().when(grant("L", "cm", 10)).then_accepted();
    // Caught by sector alone; not caught by another authority's or product's licenses.
    let w = || given([party_of("avic", false, "defense"), policy("P-SOE", true, &["defense"])]);
    w().when(grant("L", "avic", 10)).then_refused(Reason::PolicyDenied);
    w().when(grant_by("L", "US-BIS", "avic", "H200", 10)).then_accepted();
    w().when(grant_by("L", "CN-MOFCOM", "avic", "H20", 10)).then_accepted();
    // A private internet company is not caught.
    given([party("bd"), policy("P-SOE", true, &["defense"])]).when(grant("L", "bd", 10)).then_accepted();
}

#[test]
fn a_sector_typed_in_another_case_or_with_spaces_does_not_slip_past_a_policy() {
    for sector in ["Telecom", " TELECOM ", "telecom"] {
        let r = given([party_of("ct", false, sector), policy("P-TEL", false, &["telecom"])])
            .when(grant("L", "ct", 10))
            .then_refused(Reason::PolicyDenied);
        assert!(r.message.contains("P-TEL"), "{sector:?}: {}", r.message);
    }
    given([party_of("ct", false, "telecoms"), policy("P-TEL", false, &["telecom"])])
        .when(grant("L", "ct", 10))
        .then_accepted();
}

#[test]
fn a_policy_denies_orders_on_licenses_granted_before_it() {
    let w = || given([party_of("cm", true, "telecom"), grant("L", "cm", 100), policy("P-SOE", true, &[])]);
    let r = w().when(order("O", "L", 10, 0)).then_refused(Reason::PolicyDenied);
    assert!(r.message.contains("P-SOE"), "{}", r.message);
    w().when(exempt("P-SOE", "cm")).then_accepted().when(order("O", "L", 10, 0)).then_accepted();
    w().when(lift("P-SOE")).then_accepted().when(order("O", "L", 10, 0)).then_accepted();
}

#[test]
fn lifting_or_exempting_from_an_unknown_policy_is_refused() {
    let r = given([party("bd")]).when(lift("P-X")).then_refused(Reason::UnknownPolicy);
    assert_eq!(r.field, "policy");
    given([party("bd")]).when(exempt("P-X", "bd")).then_refused(Reason::UnknownPolicy);
    given([party("bd"), policy("P-X", true, &[])]).when(exempt("P-X", "bd")).then_accepted();
}

#[test]
fn a_lifted_policy_is_not_lifted_again_nor_exempted_from() {
    let w = || given([party("bd"), policy("P-X", true, &[]), lift("P-X")]);
    let r = w().when(lift("P-X")).then_refused(Reason::PolicyNotActive);
    assert_eq!(r.field, "policy");
    w().when(exempt("P-X", "bd")).then_refused(Reason::PolicyNotActive);
}

#[test]
fn a_policy_that_denies_nobody_is_refused() {
    let r = given([]).when(policy("P-X", false, &[])).then_refused(Reason::EmptyPolicy);
    assert_eq!(r.field, "deny");
    given([]).when(policy("P-X", false, &["telecom"])).then_accepted();
    given([]).when(policy("P-X", true, &[])).then_accepted();
}

// Caps.

#[test]
fn a_party_holds_at_most_the_cap_of_an_authority_and_product() {
    let w = || given([party("bd"), party("al"), cap(100), grant("L1", "bd", 60)]);
    let r = w().when(grant("L2", "bd", 41)).then_refused(Reason::ExceedsPartyCap);
    assert_eq!(r.field, "quantity");
    assert!(r.message.contains("bd would hold 101") && r.message.contains("cap 100"), "{}", r.message);
    w().when(grant("L2", "bd", 40)).then_accepted();
    // Per party: another party has its own 100; another authority's grants do not count.
    w().when(grant("L2", "al", 100)).then_accepted();
    w().when(grant_by("L2", "US-BIS", "bd", "H200", 1_000)).then_accepted();
    // Amendments count.
    w().when(amend("L1", 101)).then_refused(Reason::ExceedsPartyCap);
    w().when(amend("L1", 100)).then_accepted();
}

#[test]
fn a_cap_cannot_be_set_below_what_a_party_holds_and_a_later_cap_replaces_it() {
    let w = || given([party("bd"), grant("L1", "bd", 80)]);
    let r = w().when(cap(79)).then_refused(Reason::CapBelowHoldings);
    assert_eq!(r.field, "per_party");
    assert!(r.message.contains("80 units bd already holds"), "{}", r.message);
    let w = w().when(cap(80)).then_accepted();
    let w = w.when(cap(150)).then_accepted();
    assert_eq!(w.state.caps[&("CN-MOFCOM".to_string(), "H200".to_string())], 150);
    let w = w.when(grant("L2", "bd", 70)).then_accepted();
    w.when(grant("L3", "bd", 1)).then_refused(Reason::ExceedsPartyCap);
}

// Two gates.

#[test]
fn every_gate_must_be_for_the_same_product() {
    let w = given([party("bd"), grant("L", "bd", 100), grant_by("M", "US-BIS", "bd", "H20", 100)]);
    let r = w.when(order_on("O", &["L", "M"], 1, 0)).then_refused(Reason::ProductMismatch);
    assert_eq!(r.field, "licenses");
    two_gates().when(order_on("O", &["L", US_LICENSE], 1, 0)).then_accepted();
}

#[test]
fn a_further_gate_belongs_to_the_buyer_or_the_supplier() {
    let w = || given([party("bd"), party("al"), grant("L", "bd", 100), grant_by("M", "US-BIS", "al", "H200", 100)]);
    let r = w().when(order_on("O", &["L", "M"], 1, 0)).then_refused(Reason::LicenseNotForOrder);
    assert!(r.message.contains("neither the buyer bd nor the supplier nvidia"), "{}", r.message);
    // The buyer's own export license is fine too.
    given([party("bd"), grant("L", "bd", 100), grant_by("M", "US-BIS", "bd", "H200", 100)])
        .when(order_on("O", &["L", "M"], 1, 0))
        .then_accepted();
}

#[test]
fn the_binding_gate_is_named_in_the_refusal() {
    let r = two_gates().when(order_on("O", &["L", US_LICENSE], 30_001, 0)).then_refused(Reason::ExceedsRemaining);
    assert_eq!(r.message, "quantity 30001 exceeds remaining 30000 on US-BIS-D000001");
    two_gates().when(order_on("O", &["L", US_LICENSE], 30_000, 0)).then_accepted();
}

#[test]
fn an_order_counts_on_every_gate_and_so_do_its_shipments_and_cancellation() {
    let w = two_gates().when(order_on("O", &["L", US_LICENSE], 20_000, 0)).then_accepted();
    assert_eq!((w.license("L").remaining(), w.license(US_LICENSE).remaining()), (80_000, 10_000));
    // The US gate binds the next order, placed on L alone it would fit.
    w.when(order_on("O-2", &["L", US_LICENSE], 10_001, 0)).then_refused(Reason::ExceedsRemaining);
    let w = two_gates().when(order_on("O", &["L", US_LICENSE], 20_000, 0)).then_accepted();
    let out = w.when(ship("O", 5_000));
    assert_eq!(out.result, Ok(Context::Shipment { licenses: Gates(vec!["L".into(), US_LICENSE.into()]) }));
    let w = out.then_accepted();
    assert_eq!((w.license("L").shipped, w.license(US_LICENSE).shipped), (5_000, 5_000));
    let w = w.when(cancel("O")).then_accepted();
    for id in ["L", US_LICENSE] {
        assert_eq!((w.license(id).ordered(), w.license(id).shipped), (5_000, 5_000), "{id}");
    }
    assert_eq!(w.license(US_LICENSE).remaining(), 25_000);
}

#[test]
fn every_gate_must_allow_the_order_on_its_own() {
    let on_both = || order_on("O", &["L", US_LICENSE], 10, 0);
    let r =
        two_gates().when(suspend(US_LICENSE)).then_accepted().when(on_both()).then_refused(Reason::LicenseNotActive);
    assert!(r.message.contains(US_LICENSE), "{}", r.message);
    let r = two_gates()
        .when(condition(US_LICENSE, "C1", end_use(), false))
        .then_accepted()
        .when(on_both())
        .then_refused(Reason::PendingCondition);
    assert!(r.message.contains(US_LICENSE), "{}", r.message);
    two_gates()
        .when(condition(US_LICENSE, "C1", max_per_order(9), true))
        .then_accepted()
        .when(on_both())
        .then_refused(Reason::ExceedsMaxPerOrder);
}

#[test]
fn an_order_names_one_to_four_distinct_licenses() {
    let r = licensed(10).when(order_on("O", &[], 1, 0)).then_refused(Reason::TooManyLicenses);
    assert_eq!(r.field, "licenses");
    let ids: Vec<String> = (0..=ORDER_LICENSES_MAX).map(|i| format!("L{i}")).collect();
    let mut events = vec![party("bd")];
    events.extend(ids.iter().map(|id| grant(id, "bd", 10)));
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    given(events.clone()).when(order_on("O", &refs, 1, 0)).then_refused(Reason::TooManyLicenses);
    given(events).when(order_on("O", &refs[..ORDER_LICENSES_MAX], 1, 0)).then_accepted();
    licensed(10).when(order_on("O", &["L", "L"], 1, 0)).then_refused(Reason::DuplicateId);
}

// Holds.

/// `bd` holding `L` (100) with a pending bundle condition C1 (1 domestic per 2).
fn pending_bundle() -> World {
    given([party("bd"), grant("L", "bd", 100), condition("L", "C1", bundle(1, 2), false)])
}

#[test]
fn a_held_order_reserves_its_quantity() {
    let out = pending_bundle().when(held_order("O1", &["L"], 60, 30));
    assert_eq!(out.result, Ok(Context::Held));
    let w = out.then_accepted();
    let l = w.license("L");
    assert_eq!((l.ordered(), l.held, l.remaining()), (60, 60, 40));
    assert_eq!(w.order("O1").status, OrderStatus::Held);
    // The reservation counts: 41 more exceeds the remaining even when held.
    w.when(held_order("O2", &["L"], 41, 30)).then_refused(Reason::ExceedsRemaining);
    // Without "hold" the pending condition still refuses.
    pending_bundle().when(order("O1", "L", 60, 30)).then_refused(Reason::PendingCondition);
    // A license without pending conditions opens a "hold" order at once.
    licensed(100).when(held_order("O1", &["L"], 60, 0)).then_accepted();
    assert_eq!(licensed(100).when(held_order("O1", &["L"], 60, 0)).then_context(), Context::None);
}

#[test]
fn finalization_opens_a_held_order_that_meets_the_final_rules() {
    let w = pending_bundle().when(held_order("O1", &["L"], 60, 30)).then_accepted();
    let out = w.when(finalize("L", "C1"));
    assert_eq!(
        out.result,
        Ok(Context::Resolved { opened: vec!["O1".into()], released: vec![], licenses: vec!["L".into()] })
    );
    let w = out.then_accepted();
    let l = w.license("L");
    assert_eq!((l.ordered(), l.held, l.remaining()), (60, 0, 40));
    assert!(w.state.held.is_empty());
    assert_eq!(w.order("O1").status, OrderStatus::Open);
    w.when(ship("O1", 60)).then_accepted();
}

#[test]
fn finalization_releases_a_held_order_that_fails_the_final_rules_with_its_rule() {
    // O2 bundles 9 domestic for 20: the final 1 per 2 needs 10.
    let w = pending_bundle()
        .when(held_order("O1", &["L"], 60, 30))
        .then_accepted()
        .when(held_order("O2", &["L"], 20, 9))
        .then_accepted();
    assert_eq!(w.license("L").remaining(), 20);
    let out = w.when(finalize("L", "C1"));
    let released = vec![Released { order: "O2".into(), rule: "bundle_short".into() }];
    assert_eq!(out.result, Ok(Context::Resolved { opened: vec!["O1".into()], released, licenses: vec!["L".into()] }));
    let w = out.then_accepted();
    let l = w.license("L");
    // O2's 20 units are returned.
    assert_eq!((l.ordered(), l.held, l.remaining()), (60, 0, 40));
    assert_eq!(w.order("O2").status, OrderStatus::Released);
    let w = w.when(ship("O2", 1)).then_refused(Reason::OrderNotOpen);
    assert!(w.message.contains("released"), "{}", w.message);
}

#[test]
fn withdrawing_the_last_pending_condition_opens_held_orders() {
    let w = pending_bundle().when(held_order("O1", &["L"], 20, 0)).then_accepted();
    let out = w.when(withdraw("L", "C1"));
    assert_eq!(
        out.result,
        Ok(Context::Resolved { opened: vec!["O1".into()], released: vec![], licenses: vec!["L".into()] })
    );
}

#[test]
fn a_held_order_can_be_cancelled_and_returns_its_reservation() {
    let w = pending_bundle().when(held_order("O1", &["L"], 60, 30)).then_accepted();
    let out = w.when(cancel("O1"));
    assert_eq!(out.result, Ok(Context::Cancellation { licenses: Gates::one("L"), quantity_returned: 60, held: true }));
    let w = out.then_accepted();
    let l = w.license("L");
    assert_eq!((l.ordered(), l.held, l.remaining()), (0, 0, 100));
    assert!(w.state.held.is_empty());
    // Finalizing afterwards resolves nothing.
    assert_eq!(w.when(finalize("L", "C1")).then_context(), Context::None);
}

#[test]
fn a_held_order_cannot_be_shipped() {
    let w = pending_bundle().when(held_order("O1", &["L"], 60, 30)).then_accepted();
    let r = w.when(ship("O1", 1)).then_refused(Reason::OrderHeld);
    assert_eq!(r.field, "order");
}

#[test]
fn an_order_held_by_two_licenses_stays_held_until_both_settle() {
    let w = two_gates()
        .when(condition("L", "C1", end_use(), false))
        .then_accepted()
        .when(condition(US_LICENSE, "C2", end_use(), false))
        .then_accepted()
        .when(held_order("O1", &["L", US_LICENSE], 100, 0))
        .then_accepted();
    assert_eq!((w.license("L").held, w.license(US_LICENSE).held), (100, 100));
    let out = w.when(finalize("L", "C1"));
    assert_eq!(out.result, Ok(Context::None));
    let w = out.then_accepted();
    assert_eq!(w.order("O1").status, OrderStatus::Held);
    w.when(ship("O1", 1)).then_refused(Reason::OrderHeld);
    let w = two_gates()
        .when(condition("L", "C1", end_use(), false))
        .then_accepted()
        .when(condition(US_LICENSE, "C2", end_use(), false))
        .then_accepted()
        .when(held_order("O1", &["L", US_LICENSE], 100, 0))
        .then_accepted()
        .when(finalize("L", "C1"))
        .then_accepted();
    let out = w.when(finalize(US_LICENSE, "C2"));
    assert_eq!(
        out.result,
        Ok(Context::Resolved {
            opened: vec!["O1".into()],
            released: vec![],
            licenses: vec!["L".into(), US_LICENSE.into()]
        })
    );
    let w = out.then_accepted();
    assert_eq!((w.license("L").held, w.license(US_LICENSE).held), (0, 0));
    w.when(ship("O1", 100)).then_accepted();
}

#[test]
fn revoking_a_license_releases_the_orders_held_on_it_and_their_reservation_on_every_gate() {
    let w = two_gates()
        .when(condition("L", "C1", end_use(), false))
        .then_accepted()
        .when(held_order("O1", &["L", US_LICENSE], 100, 0))
        .then_accepted();
    assert_eq!((w.license("L").held, w.license(US_LICENSE).held), (100, 100));
    let us_before = w.license(US_LICENSE).remaining();
    let out = w.when(revoke("L"));
    let released = vec![Released { order: "O1".into(), rule: "license_not_active".into() }];
    assert_eq!(
        out.result,
        Ok(Context::Resolved { opened: vec![], released, licenses: vec!["L".into(), US_LICENSE.into()] })
    );
    let w = out.then_accepted();
    // Nothing stays reserved on the US gate for an order that can never open.
    assert_eq!(w.license(US_LICENSE).held, 0);
    assert_eq!(w.license(US_LICENSE).remaining(), us_before + 100);
    assert!(w.state.held.is_empty());
    assert_eq!(w.order("O1").status, OrderStatus::Released);
    // Revoking a license with nothing held on it resolves nothing.
    assert_eq!(licensed(10).when(revoke("L")).then_context(), Context::None);
    // A revoked license cannot be revoked again.
    licensed(10).when(revoke("L")).then_accepted().when(revoke("L")).then_refused(Reason::LicenseNotActive);
}

#[test]
fn an_order_held_by_two_pending_conditions_of_one_license_stays_held_until_the_last() {
    let w = pending_bundle()
        .when(condition("L", "C2", end_use(), false))
        .then_accepted()
        .when(held_order("O1", &["L"], 10, 5))
        .then_accepted();
    let out = w.when(finalize("L", "C1"));
    assert_eq!(out.result, Ok(Context::None));
    let w = out.then_accepted();
    assert_eq!(
        w.when(finalize("L", "C2")).then_context(),
        Context::Resolved { opened: vec!["O1".into()], released: vec![], licenses: vec!["L".into()] }
    );
}

// Corrections.

/// `O` (10 units on `L`) with a shipment of 4 at the returned seq.
fn shipped_four() -> (World, u64) {
    let w = licensed(100).when(order("O", "L", 10, 0)).then_accepted();
    let seq = w.seq();
    (w.when(ship("O", 4)).then_accepted(), seq)
}

#[test]
fn a_correction_needs_a_second_person() {
    let (w, seq) = shipped_four();
    let r = w.when(correct(seq, 3, ACTOR)).then_refused(Reason::SameApprover);
    assert_eq!(r.field, "approved_by");
    let (w, seq) = shipped_four();
    let out = w.when(correct(seq, 3, "officer-2"));
    assert_eq!(out.result, Ok(Context::Correction { licenses: Gates::one("L"), order: "O".into(), previous: 4 }));
    let w = out.then_accepted();
    assert_eq!((w.order("O").shipped, w.license("L").shipped, w.license("L").shipments), (3, 3, 1));
}

#[test]
fn a_correction_refers_to_an_existing_record() {
    let (w, _) = shipped_four();
    let past_head = w.seq();
    let r = w.when(correct(past_head, 3, "officer-2")).then_refused(Reason::UnknownRecord);
    assert_eq!(r.field, "refers_to");
}

#[test]
fn only_a_shipment_is_corrected() {
    let (w, seq) = shipped_four();
    // seq - 1 is the order_placed record.
    let r = w.when(correct(seq - 1, 3, "officer-2")).then_refused(Reason::NotAShipment);
    assert_eq!(r.field, "refers_to");
}

#[test]
fn a_shipment_is_corrected_once_and_then_its_correction_is() {
    let (w, seq) = shipped_four();
    let fix = w.seq();
    let w = w.when(correct(seq, 3, "officer-2")).then_accepted();
    let r = w.when(correct(seq, 2, "officer-2")).then_refused(Reason::AlreadyCorrected);
    assert!(r.message.contains(&format!("at seq {fix}")), "{}", r.message);
    let (w, seq) = shipped_four();
    let fix = w.seq();
    let w = w.when(correct(seq, 3, "officer-2")).then_accepted();
    let out = w.when(correct(fix, 2, "officer-2"));
    assert_eq!(out.result, Ok(Context::Correction { licenses: Gates::one("L"), order: "O".into(), previous: 3 }));
    assert_eq!(out.then_accepted().order("O").shipped, 2);
}

#[test]
fn a_corrected_shipment_never_takes_shipped_above_ordered() {
    // Shipped 4 then 5 of 10: correcting the 4 to 6 would make 11.
    let (w, seq) = shipped_four();
    let w = w.when(ship("O", 5)).then_accepted();
    let r = w.when(correct(seq, 6, "officer-2")).then_refused(Reason::ExceedsOrdered);
    assert_eq!(r.field, "quantity");
    let (w, seq) = shipped_four();
    let w = w.when(ship("O", 5)).then_accepted().when(correct(seq, 5, "officer-2")).then_accepted();
    assert_eq!((w.order("O").shipped, w.license("L").shipped), (10, 10));
}

#[test]
fn a_shipment_of_a_cancelled_order_is_not_corrected() {
    let (w, seq) = shipped_four();
    let r = w.when(cancel("O")).then_accepted().when(correct(seq, 3, "officer-2")).then_refused(Reason::OrderCancelled);
    assert_eq!(r.field, "refers_to");
}

// Usage limits and validity of shipments.

#[test]
fn a_license_allows_no_more_shipments_than_its_max_shipments() {
    let w = given([party("bd"), grant("L", "bd", 100), condition("L", "C1", max_shipments(2), true)])
        .when(order("O", "L", 10, 0))
        .then_accepted();
    let first = w.seq();
    let w = w.when(ship("O", 1)).then_accepted().when(ship("O", 1)).then_accepted();
    assert_eq!(w.license("L").shipments, 2);
    let r = w.when(ship("O", 1)).then_refused(Reason::ExceedsMaxShipments);
    assert!(r.message.contains("allows 2 shipments"), "{}", r.message);
    // A correction is not a shipment.
    let w = given([party("bd"), grant("L", "bd", 100), condition("L", "C1", max_shipments(2), true)])
        .when(order("O", "L", 10, 0))
        .then_accepted()
        .when(ship("O", 1))
        .then_accepted()
        .when(ship("O", 1))
        .then_accepted();
    let w = w.when(correct(first, 2, "officer-2")).then_accepted();
    assert_eq!(w.license("L").shipments, 2);
    // A pending limit does not count yet (the order was placed before it was added).
    let w = licensed(100)
        .when(order("O", "L", 10, 0))
        .then_accepted()
        .when(condition("L", "C1", max_shipments(1), false))
        .then_accepted()
        .when(ship("O", 1))
        .then_accepted();
    w.when(ship("O", 1)).then_accepted();
}

#[test]
fn a_shipment_falls_within_every_gate_validity() {
    let w = || {
        given([party("bd"), grant_valid("L", "bd", 100, "2026-01-20", "2026-03-31")])
            .when(order("O", "L", 10, 0))
            .then_accepted()
    };
    w().when_at(ts("2026-03-31T23:59:59Z"), ship("O", 1)).then_accepted();
    let r = w().when_at(ts("2026-04-01T00:00:00Z"), ship("O", 1)).then_refused(Reason::OutsideValidity);
    assert_eq!(r.field, "at");
}

// Late entries.

#[test]
fn an_earlier_at_needs_a_late_reason() {
    let w = || licensed(100).when_at(ts("2026-03-01T00:00:00Z"), party("al")).then_accepted();
    w().when_at(ts("2026-02-15T00:00:00Z"), order("O", "L", 10, 0)).then_refused(Reason::TimeWentBackwards);
    let w = w().when_late("2026-02-15T00:00:00Z", order("O", "L", 10, 0)).then_accepted();
    assert_eq!(w.state.late_entries, 1);
    // The effective clock stays at the latest at; the next event comes after it.
    assert_eq!(w.state.last_at, Some(ts("2026-03-01T00:00:00Z")));
    assert_eq!(w.order("O").placed_at, Some(ts("2026-02-15T00:00:00Z")));
    // Date checks use the late entry's at: before the license's validity is outside.
    licensed(100)
        .when_at(ts("2026-03-01T00:00:00Z"), party("al"))
        .then_accepted()
        .when_late("2026-01-19T00:00:00Z", order("O", "L", 10, 0))
        .then_refused(Reason::OutsideValidity);
}

#[test]
fn a_late_shipment_is_not_dated_before_its_order() {
    let w = || licensed(100).when_at(ts("2026-03-01T00:00:00Z"), order("O", "L", 10, 0)).then_accepted();
    let r = w().when_late("2026-02-28T23:59:59Z", ship("O", 1)).then_refused(Reason::TimeWentBackwards);
    assert!(r.message.contains("before order O was placed"), "{}", r.message);
    let w = w().when_at(ts("2026-03-02T00:00:00Z"), party("al")).then_accepted();
    w.when_late("2026-03-01T00:00:00Z", ship("O", 1)).then_accepted();
    // The same holds for a late cancellation.
    let w = licensed(100).when_at(ts("2026-03-01T00:00:00Z"), order("O", "L", 10, 0)).then_accepted();
    w.when_late("2026-02-01T00:00:00Z", cancel("O")).then_refused(Reason::TimeWentBackwards);
}

/// Ignored until the rules know when the corrected shipment happened (`Target` carries no
/// `at`): a correction dated before the shipment it corrects is accepted today, and a state of
/// effective time between the two applies the correction to a shipment it does not hold.
#[test]
fn a_late_correction_is_not_dated_before_the_shipment_it_corrects() {
    let w = licensed(100).when_at(ts("2026-03-01T00:00:00Z"), order("O", "L", 10, 0)).then_accepted();
    let seq = w.seq();
    let w = w.when_at(ts("2026-03-05T00:00:00Z"), ship("O", 4)).then_accepted();
    w.when_late("2026-03-02T00:00:00Z", correct(seq, 3, "officer-2")).then_refused(Reason::TimeWentBackwards);
}

/// Ignored until a license keeps when it was granted: a late order may be dated inside the
/// license's validity but before the grant was recorded in effective time, so `state --as-of`
/// between the two counts an order on a license it does not hold.
#[test]
fn a_late_order_is_not_dated_before_its_license_was_granted() {
    let w = given([party("bd")]).when_at(ts("2026-03-01T00:00:00Z"), grant("L", "bd", 100)).then_accepted();
    w.when_late("2026-02-01T00:00:00Z", order("O", "L", 10, 0)).then_refused(Reason::TimeWentBackwards);
}

// Issue 11 slips fixed with the core.

#[test]
fn domestic_quantity_zero_is_accepted_where_no_final_bundle_rule_applies() {
    licensed(10).when(order("O", "L", 1, 0)).then_accepted();
    // A pending bundle does not apply (yet), a final one does.
    given([party("bd"), grant("L", "bd", 10), condition("L", "C1", bundle(1, 3), true)])
        .when(order("O", "L", 1, 0))
        .then_refused(Reason::BundleShort);
    // Over quota with no domestic units is refused for the quota, not for the zero.
    licensed(10).when(order("O", "L", 11, 0)).then_refused(Reason::ExceedsRemaining);
}

#[test]
fn a_revoked_license_has_nothing_remaining() {
    let w = licensed(100).when(order("O", "L", 30, 0)).then_accepted().when(revoke("L")).then_accepted();
    let l = w.license("L");
    assert_eq!((l.quantity, l.ordered(), l.remaining()), (100, 30, 0));
}

// ---------------------------------------------------------------------------------------------
// Through the binary: refusals leave the ledger unchanged.
// ---------------------------------------------------------------------------------------------

mod binary {
    use assert_cmd::Command;
    use std::path::{Path, PathBuf};

    fn qledger(ledger: &Path) -> Command {
        let mut cmd = Command::cargo_bin("qledger").expect("the qledger binary is built");
        cmd.env_remove("QLEDGER_LEDGER").env("USER", "rules-test").arg("--ledger").arg(ledger);
        cmd
    }

    fn ok(ledger: &Path, args: &[&str]) -> Vec<u8> {
        let out = qledger(ledger).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn story_ledger() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger");
        let story = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/h200.jsonl");
        ok(&ledger, &["append", "--create", story.to_str().unwrap()]);
        (dir, ledger)
    }

    /// Appends `input` and asserts: exit 1, one stderr line containing `expected`, and the
    /// same head and byte-identical export as before.
    fn assert_refused_unchanged(ledger: &Path, input: &str, expected: &str) {
        assert_refused_unchanged_with(ledger, &[], input, expected)
    }

    /// [`assert_refused_unchanged`] with more `append` arguments.
    fn assert_refused_unchanged_with(ledger: &Path, args: &[&str], input: &str, expected: &str) {
        let head = ok(ledger, &["head", "--json"]);
        let export = ok(ledger, &["export"]);
        let out = qledger(ledger)
            .args(["append", "--create", "-"])
            .args(args)
            .write_stdin(input.as_bytes().to_vec())
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "expected a refusal for {input}\nstderr: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
        assert!(stderr.contains(expected), "expected {expected:?} in {stderr:?}");
        assert_eq!(ok(ledger, &["head", "--json"]), head, "the head moved after {expected}");
        assert_eq!(ok(ledger, &["export"]), export, "the export changed after {expected}");
    }

    /// The story's head is 2026-04-03T03:00:00Z; these events come after it.
    const AT: &str = "2026-04-04T06:00:00Z";

    fn order_line(order: &str, license: &str, quantity: u64, domestic: u64) -> String {
        format!(
            r#"{{"type":"order_placed","at":"{AT}","actor":"buyer","order":"{order}","license":"{license}","quantity":{quantity},"domestic_quantity":{domestic},"supplier":"nvidia"}}"#
        )
    }

    fn line(ty: &str, fields: &str) -> String {
        format!(r#"{{"type":"{ty}","at":"{AT}","actor":"officer",{fields}}}"#)
    }

    #[test]
    fn refusals_through_the_binary_leave_the_ledger_unchanged() {
        let (_dir, ledger) = story_ledger();
        let grant = |license: &str, licensee: &str, quantity: u64| {
            line(
                "license_granted",
                &format!(
                    r#""license":"{license}","authority":"CN-MOFCOM","licensee":"{licensee}","product":"H200","quantity":{quantity},"valid_from":"2026-04-01","valid_until":"2027-03-31","round":2"#
                ),
            )
        };
        let cases: Vec<(String, String)> = vec![
            // Line 1 takes 10000 of L1's 110000 (domestic 3334 = ceil(10000/3)), so line 2's
            // 100001 exceeds the 100000 left: the error names line 2.
            (
                format!(
                    "{}\n{}\n",
                    order_line("O-BD-3", "CN-IMP-2026-0001", 10_000, 3_334),
                    order_line("O-9", "CN-IMP-2026-0001", 100_001, 40_000)
                ),
                "line 2: order_placed O-9: quantity 100001 exceeds remaining 100000 on CN-IMP-2026-0001".into(),
            ),
            // Two gates: L1 has 110000 left, the US export license 10000 (140000 of 150000
            // ordered through it): the US gate binds and is named.
            (
                order_line("O-9", "CN-IMP-2026-0001", 10_001, 3_334)
                    .replace(r#""license":"CN-IMP-2026-0001""#, r#""licenses":["CN-IMP-2026-0001","US-BIS-D000001"]"#),
                "line 1: order_placed O-9: quantity 10001 exceeds remaining 10000 on US-BIS-D000001 [field quantity, rule exceeds_remaining]".into(),
            ),
            // Bundle: 30000 need ceil(30000/3) = 10000 domestic.
            (
                order_line("O-9", "CN-IMP-2026-0001", 30_000, 9_999),
                "line 1: order_placed O-9: domestic_quantity 9999 is below the 10000 that condition C1".into(),
            ),
            // L2's final max_per_order is 50000 (its bundle is met: ceil(50001/3) = 16667).
            (
                order_line("O-9", "CN-IMP-2026-0002", 50_001, 16_667),
                "line 1: order_placed O-9: quantity 50001 exceeds max_per_order 50000 of condition C2".into(),
            ),
            // O-BA-2 was released when L4's bundle became final (2000 domestic, 5000 needed).
            (
                line("shipment_recorded", r#""order":"O-BA-2","quantity":1"#),
                "line 1: shipment_recorded O-BA-2: order O-BA-2 was released".into(),
            ),
            // china-mobile is restricted; china-telecom is caught by policy P-SOE.
            (
                grant("CN-IMP-2026-0009", "china-mobile", 1_000),
                "line 1: license_granted CN-IMP-2026-0009: licensee china-mobile is restricted".into(),
            ),
            (
                grant("CN-IMP-2026-0009", "china-telecom", 1_000),
                "line 1: license_granted CN-IMP-2026-0009: policy P-SOE denies china-telecom licenses of CN-MOFCOM for H200 [field licensee, rule policy_denied]".into(),
            ),
            // bytedance holds the whole cap of 150000.
            (
                grant("CN-IMP-2026-0009", "bytedance", 1),
                "line 1: license_granted CN-IMP-2026-0009: bytedance would hold 150001 units of H200 from CN-MOFCOM, over the per-party cap 150000 (150000 held) [field quantity, rule exceeds_party_cap]".into(),
            ),
            // Round 1 is closed; round 2 has 140000 left of its 200000.
            (
                grant("CN-IMP-2026-0009", "alibaba", 1).replace(r#""round":2"#, r#""round":1"#),
                "line 1: license_granted CN-IMP-2026-0009: round 1 of CN-MOFCOM for H200 is closed [field round, rule round_not_open]".into(),
            ),
            (
                grant("CN-IMP-2026-0009", "baidu", 90_001),
                "line 1: license_granted CN-IMP-2026-0009: baidu would hold 150001".into(),
            ),
            // Round 1 granted its whole ceiling: no license of it grows.
            (
                line("quota_amended", r#""license":"CN-IMP-2026-0003","quantity":110001,"reason":"more""#),
                "line 1: quota_amended CN-IMP-2026-0003: 1 more units would exceed the ceiling 400000 of round 1 of CN-MOFCOM: 400000 granted, 0 left [field quantity, rule exceeds_round_ceiling]".into(),
            ),
            // O-BD-1: 30000 of 40000 shipped (the late entry included); 10001 more is too many.
            (
                line("shipment_recorded", r#""order":"O-BD-1","quantity":10001"#),
                "line 1: shipment_recorded O-BD-1: shipping 10001 more would exceed order O-BD-1: 30000 of 40000 already shipped".into(),
            ),
            // O-BD-2 was cancelled at seq 32.
            (
                line("shipment_recorded", r#""order":"O-BD-2","quantity":1"#),
                "line 1: shipment_recorded O-BD-2: order O-BD-2 is cancelled".into(),
            ),
            (
                line("order_cancelled", r#""order":"O-BD-2","reason":"again""#),
                "line 1: order_cancelled O-BD-2: order O-BD-2 is not open".into(),
            ),
            // Corrections: seq 31 was corrected at seq 35; four eyes; seq 30 corrected above
            // its order (10000 more shipped at seq 40: 10000 + 30001 > 40000).
            (
                line("shipment_corrected", r#""refers_to":31,"quantity":28000,"reason":"recount","approved_by":"supervisor""#),
                "line 1: shipment_corrected seq 31: seq 31 was already corrected at seq 35: correct that record instead [field refers_to, rule already_corrected]".into(),
            ),
            (
                line("shipment_corrected", r#""refers_to":30,"quantity":19000,"reason":"recount","approved_by":"officer""#),
                "line 1: shipment_corrected seq 30: approved_by officer is the actor: a correction needs a second person [field approved_by, rule same_approver]".into(),
            ),
            (
                line("shipment_corrected", r#""refers_to":30,"quantity":30001,"reason":"recount","approved_by":"supervisor""#),
                "line 1: shipment_corrected seq 30: order O-BD-1 would have 40001 shipped of 40000 ordered [field quantity, rule exceeds_ordered]".into(),
            ),
            (
                line("shipment_corrected", r#""refers_to":29,"quantity":1,"reason":"recount","approved_by":"supervisor""#),
                "line 1: shipment_corrected seq 29: seq 29 is not a shipment [field refers_to, rule not_a_shipment]".into(),
            ),
            (
                line("shipment_corrected", r#""refers_to":48,"quantity":1,"reason":"recount","approved_by":"supervisor""#),
                "line 1: shipment_corrected seq 48: there is no record at seq 48 [field refers_to, rule unknown_record]".into(),
            ),
            // L3 has 50000 committed (O-TC-1).
            (
                line("quota_amended", r#""license":"CN-IMP-2026-0003","quantity":49999,"reason":"cut""#),
                "line 1: quota_amended CN-IMP-2026-0003: new quota 49999 is below the 50000 already ordered".into(),
            ),
            (
                line("license_reinstated", r#""license":"CN-IMP-2026-0001","reason":"why""#),
                "line 1: license_reinstated CN-IMP-2026-0001: cannot reinstate license CN-IMP-2026-0001: it is active"
                    .into(),
            ),
            (
                r#"{"type":"party_registered","at":"2026-04-03T02:59:59Z","party":"zhipu","name":"Zhipu","country":"CN","state_backed":false,"sector":"ai"}"#.into(),
                "line 1: party_registered zhipu: at 2026-04-03T02:59:59Z is earlier than the ledger's last at 2026-04-03T03:00:00Z; a late entry must say why in late_reason".into(),
            ),
            (
                line("party_registered", r#""party":"bytedance","name":"B","country":"CN","state_backed":false,"sector":"x""#),
                "line 1: party_registered bytedance: party bytedance is already registered".into(),
            ),
            (
                order_line("O-9", "CN-IMP-2026-9999", 3, 1),
                "line 1: order_placed O-9: license CN-IMP-2026-9999 does not exist".into(),
            ),
            (
                line("shipment_recorded", r#""order":"O-BD-1","quantity":0"#),
                "line 1: shipment_recorded O-BD-1: quantity must be a whole number > 0".into(),
            ),
            (
                line("condition_finalized", r#""license":"CN-IMP-2026-0001","condition":"C1""#),
                "line 1: condition_finalized CN-IMP-2026-0001: condition C1 on CN-IMP-2026-0001 is not pending".into(),
            ),
            // Idempotency key grant-baidu-r2 named L4's grant at seq 43.
            (
                order_line("O-9", "CN-IMP-2026-0001", 3, 1).replace(r#""actor":"buyer""#, r#""actor":"buyer","key":"grant-baidu-r2""#),
                "line 1: order_placed O-9: key grant-baidu-r2 was used at seq 43 for a different event".into(),
            ),
            // Bad input (not a rule): a duplicate JSON key, and a quantity beyond u64.
            (
                line("shipment_recorded", r#""order":"O-BD-1","quantity":1,"quantity":2"#),
                "line 1".into(),
            ),
            (
                line("shipment_recorded", r#""order":"O-BD-1","quantity":18446744073709551616"#),
                "line 1".into(),
            ),
        ];
        for (input, expected) in &cases {
            assert_refused_unchanged(&ledger, input, expected);
        }
        // L1 is valid until 2027-01-19: the next day is outside (and may lie ahead of the clock
        // by more than the margin, so the append allows the future).
        assert_refused_unchanged_with(
            &ledger,
            &["--allow-future"],
            &order_line("O-9", "CN-IMP-2026-0001", 3, 1).replace(AT, "2027-01-20T00:00:00Z"),
            "line 1: order_placed O-9: at 2027-01-20T00:00:00Z is outside the validity",
        );
        ok(&ledger, &["verify"]);
    }

    #[test]
    fn one_refused_line_appends_nothing_from_the_call() {
        let (_dir, ledger) = story_ledger();
        // Lines 1 and 2 are valid (L1: 110000 left; 10000 + 20000 ordered, bundles ceil(10000/3)
        // = 3334 and ceil(20000/3) = 6667); line 3 ships 10001 on O-BD-1 (30000 of 40000
        // shipped): refused. Line 1 carries a new idempotency key: if the refused call leaked
        // its key or its orders into the index, re-appending lines 1-2 below would be skipped
        // or refused as a duplicate order.
        let first_two = format!(
            "{}\n{}\n",
            order_line("O-BD-3", "CN-IMP-2026-0001", 10_000, 3_334)
                .replace(r#""actor":"buyer""#, r#""actor":"buyer","key":"po-bd-0003""#),
            order_line("O-BD-4", "CN-IMP-2026-0001", 20_000, 6_667)
        );
        assert!(first_two.contains("po-bd-0003"));
        let third = line("shipment_recorded", r#""order":"O-BD-1","quantity":10001"#);
        assert_refused_unchanged(&ledger, &format!("{first_two}{third}\n"), "line 3: shipment_recorded O-BD-1");
        // The first two alone are accepted: it was line 3 that stopped them.
        let out = qledger(&ledger)
            .args(["append", "--create", "--json"])
            .write_stdin(first_two.into_bytes())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["appended"], 2);
        assert_eq!(report["head"]["seq"], 49);
        // L1: 110000 - 10000 - 20000 = 80000 remaining.
        let state: serde_json::Value =
            serde_json::from_slice(&ok(&ledger, &["state", "--json", "--license", "CN-IMP-2026-0001"])).unwrap();
        assert_eq!(state["licenses"][0]["remaining"], 80_000);
    }

    #[test]
    fn a_refusal_on_an_empty_ledger_leaves_it_empty() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l");
        ok(&ledger, &["init"]);
        let input = format!(
            "{}\n{}\n",
            r#"{"type":"party_registered","at":"2026-01-01T00:00:00Z","party":"p","name":"P","country":"CN","state_backed":false,"sector":"x"}"#,
            r#"{"type":"license_granted","at":"2026-01-01T00:00:00Z","license":"L","authority":"A","licensee":"q","product":"H200","quantity":1,"valid_from":"2026-01-01","valid_until":"2026-12-31"}"#
        );
        assert_refused_unchanged(&ledger, &input, "line 2: license_granted L: licensee q is not a registered party");
        assert_eq!(ok(&ledger, &["export"]), b"");
    }
}
