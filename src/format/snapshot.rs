//! Wire types of everything stored besides records and their framing: the quota snapshots
//! (and their files) and the order rows of the index. All go through `codec` and are
//! decoded strictly; none is trusted by `verify`, which recomputes each from the records.

use super::codec::{self, DecodeError};
use super::record::WireRule;
use super::FORMAT_VERSION;
use crate::domain::quota::Condition;
use crate::domain::{
    ConditionStatus, Day, Deny, Gates, HeldOrder, License, LicenseStatus, OrderRow, OrderStatus, Party, Policy,
    QuotaState, Rule, Timestamp,
};
use crate::limits::SNAPSHOT_BYTES_MAX;
use serde::{Deserialize, Serialize};

/// An order index entry as format 1 wrote it (one license, open or cancelled); still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRowV1<S = String> {
    /// License id.
    pub license: S,
    /// Ordered units.
    pub quantity: u64,
    /// Shipped units.
    pub shipped: u64,
    /// Cancelled.
    pub cancelled: bool,
}

impl<S: Serialize + serde::de::DeserializeOwned> codec::Wire for OrderRowV1<S> {}

impl OrderRowV1 {
    /// The domain row.
    pub fn into_row(self) -> OrderRow {
        let status = if self.cancelled { OrderStatus::Cancelled } else { OrderStatus::Open };
        OrderRow {
            licenses: Gates(vec![self.license]),
            quantity: self.quantity,
            shipped: self.shipped,
            status,
            placed_at: None,
        }
    }
}

/// An order index entry, format 2. Generic over the string type so that encoding can borrow
/// (`&str` and `String` encode to the same bytes). Status: 0 open, 1 cancelled, 2 held,
/// 3 released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRowV2<S = String> {
    /// License ids, the buyer's first.
    pub licenses: Vec<S>,
    /// Ordered units.
    pub quantity: u64,
    /// Shipped units.
    pub shipped: u64,
    /// Where the order stands.
    pub status: u8,
    /// When it was placed, in whole seconds since the Unix epoch (rounded down).
    pub placed_at: Option<i64>,
}

impl<S: Serialize + serde::de::DeserializeOwned> codec::Wire for OrderRowV2<S> {}

impl<'a> OrderRowV2<&'a str> {
    /// Wire form, borrowing the row's strings.
    pub fn from_row(r: &'a OrderRow) -> OrderRowV2<&'a str> {
        OrderRowV2 {
            licenses: r.licenses.iter().collect(),
            quantity: r.quantity,
            shipped: r.shipped,
            status: match r.status {
                OrderStatus::Open => 0,
                OrderStatus::Cancelled => 1,
                OrderStatus::Held => 2,
                OrderStatus::Released => 3,
            },
            placed_at: r.placed_at.map(|t| t.secs),
        }
    }
}

impl OrderRowV2 {
    /// The domain row; fails on an unknown status, an empty license list or a bad time.
    pub fn into_row(self) -> Result<OrderRow, DecodeError> {
        let bad = |m: &str| DecodeError::Invalid(format!("order row: {m}"));
        let status = match self.status {
            0 => OrderStatus::Open,
            1 => OrderStatus::Cancelled,
            2 => OrderStatus::Held,
            3 => OrderStatus::Released,
            _ => return Err(bad("unknown status")),
        };
        if self.licenses.is_empty() || self.licenses.len() > crate::limits::ORDER_LICENSES_MAX {
            return Err(bad("license count out of range"));
        }
        let placed_at = match self.placed_at {
            None => None,
            Some(secs) => {
                let t = Timestamp { secs, nanos: 0 };
                if !t.is_valid() {
                    return Err(bad("placed_at out of range"));
                }
                Some(t)
            }
        };
        Ok(OrderRow {
            licenses: Gates(self.licenses),
            quantity: self.quantity,
            shipped: self.shipped,
            status,
            placed_at,
        })
    }
}

/// The format of quota snapshots: 2 since rounds, policies, caps and holds (a snapshot of
/// format 1 no longer decodes; it is derived data, rebuilt from the records).
pub const SNAPSHOT_FORMAT: u8 = 2;

/// A persisted quota projection after `records` records, the last with hash `last_hash`.
/// Round totals and party holdings are not stored: they are sums over the licenses, recomputed
/// on decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSnapshotV2 {
    /// Always [`SNAPSHOT_FORMAT`].
    pub format: u8,
    /// Records applied.
    pub records: u64,
    /// Hash of the last record applied.
    pub last_hash: [u8; 32],
    /// Latest effective time of the records applied.
    pub last_at: Option<(i64, u32)>,
    /// Ledger clock of the last record applied that kept one.
    pub last_recorded_at: Option<(i64, u32)>,
    /// Parties, sorted by id.
    pub parties: Vec<(String, WireParty)>,
    /// Licenses, sorted by id.
    pub licenses: Vec<(String, WireLicense)>,
    /// Rounds: (authority, round, product, ceiling, open), sorted by (authority, round).
    pub rounds: Vec<(String, u64, String, u64, bool)>,
    /// Policies, sorted by id.
    pub policies: Vec<(String, WirePolicy)>,
    /// Caps: (authority, product, per_party), sorted.
    pub caps: Vec<(String, String, u64)>,
    /// Held orders, sorted by id.
    pub held: Vec<(String, WireHeld)>,
    /// Late entries applied.
    pub late_entries: u64,
    /// Refusals recorded.
    pub refusals: u64,
}

impl codec::Wire for QuotaSnapshotV2 {}

/// A party in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WireParty {
    pub name: String,
    pub country: String,
    pub state_backed: bool,
    pub sector: String,
    pub restricted: bool,
}

/// A license in a snapshot. Status: 0 active, 1 suspended, 2 revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WireLicense {
    pub authority: String,
    pub licensee: String,
    pub product: String,
    pub round: u64,
    pub status: u8,
    pub quantity: u64,
    pub ordered: u64,
    pub held: u64,
    pub shipped: u64,
    pub shipments: u64,
    pub valid_from: i32,
    pub valid_until: i32,
    pub granted_at: (i64, u32),
    /// `(id, rule, status)`; status 0 pending, 1 final, 2 withdrawn.
    pub conditions: Vec<(String, WireRule, u8)>,
}

/// A policy in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WirePolicy {
    pub authority: String,
    pub product: String,
    pub deny_state_backed: bool,
    pub deny_sectors: Vec<String>,
    pub reason: String,
    pub lifted: bool,
    /// Sorted and unique (a set).
    pub exemptions: Vec<String>,
}

/// A held order in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WireHeld {
    pub seq: u64,
    pub at: (i64, u32),
    pub licenses: Vec<String>,
    pub quantity: u64,
    pub domestic_quantity: u64,
    pub supplier: String,
}

fn time_pair(t: Timestamp) -> (i64, u32) {
    (t.secs, t.nanos)
}

fn time_of(pair: (i64, u32), what: &str) -> Result<Timestamp, DecodeError> {
    let t = Timestamp { secs: pair.0, nanos: pair.1 };
    if !t.is_valid() {
        return Err(DecodeError::Invalid(format!("snapshot: {what} out of range")));
    }
    Ok(t)
}

fn status_byte(s: LicenseStatus) -> u8 {
    match s {
        LicenseStatus::Active => 0,
        LicenseStatus::Suspended => 1,
        LicenseStatus::Revoked => 2,
    }
}

fn condition_byte(s: ConditionStatus) -> u8 {
    match s {
        ConditionStatus::Pending => 0,
        ConditionStatus::Final => 1,
        ConditionStatus::Withdrawn => 2,
    }
}

fn wire_license(l: &License) -> WireLicense {
    WireLicense {
        authority: l.authority.clone(),
        licensee: l.licensee.clone(),
        product: l.product.clone(),
        round: l.round,
        status: status_byte(l.status),
        quantity: l.quantity,
        ordered: l.ordered,
        held: l.held,
        shipped: l.shipped,
        shipments: l.shipments,
        valid_from: l.valid_from.0,
        valid_until: l.valid_until.0,
        granted_at: time_pair(l.granted_at),
        conditions: l
            .conditions
            .iter()
            .map(|c| (c.id.clone(), WireRule::from(c.rule.clone()), condition_byte(c.status)))
            .collect(),
    }
}

impl QuotaSnapshotV2 {
    /// The snapshot of `state`, whose last record has hash `last_hash`.
    pub fn from_state(state: &QuotaState, last_hash: [u8; 32]) -> QuotaSnapshotV2 {
        QuotaSnapshotV2 {
            format: SNAPSHOT_FORMAT,
            records: state.records,
            last_hash,
            last_at: state.last_at.map(time_pair),
            last_recorded_at: state.last_recorded_at.map(time_pair),
            parties: state
                .parties
                .iter()
                .map(|(id, p)| {
                    let w = WireParty {
                        name: p.name.clone(),
                        country: p.country.clone(),
                        state_backed: p.state_backed,
                        sector: p.sector.clone(),
                        restricted: p.restricted,
                    };
                    (id.clone(), w)
                })
                .collect(),
            licenses: state.licenses.iter().map(|(id, l)| (id.clone(), wire_license(l))).collect(),
            rounds: state
                .rounds
                .iter()
                .map(|((a, n), r)| (a.clone(), *n, r.product.clone(), r.ceiling, r.open))
                .collect(),
            policies: state.policies.iter().map(|(id, p)| (id.clone(), wire_policy(p))).collect(),
            caps: state.caps.iter().map(|((a, p), c)| (a.clone(), p.clone(), *c)).collect(),
            held: state.held.iter().map(|(id, h)| (id.clone(), wire_held(h))).collect(),
            late_entries: state.late_entries,
            refusals: state.refusals,
        }
    }

    /// Decodes a stored snapshot into the state it holds and the hash of its last record.
    pub fn decode(bytes: &[u8]) -> Result<(QuotaState, [u8; 32]), DecodeError> {
        if bytes.first().is_some_and(|&f| f != SNAPSHOT_FORMAT) {
            return Err(DecodeError::Version(bytes[0]));
        }
        let w: QuotaSnapshotV2 = codec::decode(bytes, SNAPSHOT_BYTES_MAX)?;
        let sorted = w.parties.windows(2).all(|p| p[0].0 < p[1].0)
            && w.licenses.windows(2).all(|p| p[0].0 < p[1].0)
            && w.rounds.windows(2).all(|p| (&p[0].0, p[0].1) < (&p[1].0, p[1].1))
            && w.policies.windows(2).all(|p| p[0].0 < p[1].0)
            && w.policies.iter().all(|(_, p)| p.exemptions.windows(2).all(|e| e[0] < e[1]))
            && w.caps.windows(2).all(|p| (&p[0].0, &p[0].1) < (&p[1].0, &p[1].1))
            && w.held.windows(2).all(|p| p[0].0 < p[1].0);
        if !sorted {
            return Err(DecodeError::Invalid(
                "snapshot: ids (or a policy's exemptions) are not sorted and unique".into(),
            ));
        }
        let last_hash = w.last_hash;
        Ok((w.into_state()?, last_hash))
    }

    fn into_state(self) -> Result<QuotaState, DecodeError> {
        let mut state = QuotaState {
            records: self.records,
            last_at: self.last_at.map(|t| time_of(t, "last_at")).transpose()?,
            last_recorded_at: self.last_recorded_at.map(|t| time_of(t, "last_recorded_at")).transpose()?,
            late_entries: self.late_entries,
            refusals: self.refusals,
            ..QuotaState::default()
        };
        for (id, p) in self.parties {
            let party = Party {
                name: p.name,
                country: p.country,
                state_backed: p.state_backed,
                sector: p.sector,
                restricted: p.restricted,
            };
            state.parties.insert(id, party);
        }
        for (id, l) in self.licenses {
            state.licenses.insert(id, license_of(l)?);
        }
        for (authority, n, product, ceiling, open) in self.rounds {
            let round = crate::domain::Round { product, ceiling, open, granted: 0 };
            state.rounds.insert((authority, n), round);
        }
        for (id, p) in self.policies {
            state.policies.insert(id, policy_of(p));
        }
        for (a, p, c) in self.caps {
            state.caps.insert((a, p), c);
        }
        for (id, h) in self.held {
            state.held.insert(id, held_of(h)?);
        }
        recount(&mut state);
        Ok(state)
    }
}

/// Recomputes the sums a snapshot does not store: each round's granted units and each party's
/// holdings, from the licenses.
fn recount(state: &mut QuotaState) {
    for l in state.licenses.values() {
        let key = (l.licensee.clone(), l.authority.clone(), l.product.clone());
        let h = state.holdings.entry(key).or_insert(0);
        *h = h.saturating_add(l.quantity);
        if let Some(r) = state.rounds.get_mut(&(l.authority.clone(), l.round)).filter(|r| r.product == l.product) {
            r.granted = r.granted.saturating_add(l.quantity);
        }
    }
}

fn license_of(l: WireLicense) -> Result<License, DecodeError> {
    let bad = |s: &str| DecodeError::Invalid(format!("snapshot: {s}"));
    let status = match l.status {
        0 => LicenseStatus::Active,
        1 => LicenseStatus::Suspended,
        2 => LicenseStatus::Revoked,
        _ => return Err(bad("unknown license status")),
    };
    let mut conditions = Vec::with_capacity(l.conditions.len());
    for (cid, rule, s) in l.conditions {
        let status = match s {
            0 => ConditionStatus::Pending,
            1 => ConditionStatus::Final,
            2 => ConditionStatus::Withdrawn,
            _ => return Err(bad("unknown condition status")),
        };
        conditions.push(Condition { id: cid, rule: Rule::from(rule), status });
    }
    if !Day(l.valid_from).is_valid() || !Day(l.valid_until).is_valid() {
        return Err(bad("validity out of range"));
    }
    Ok(License {
        authority: l.authority,
        licensee: l.licensee,
        product: l.product,
        round: l.round,
        status,
        quantity: l.quantity,
        ordered: l.ordered,
        held: l.held,
        shipped: l.shipped,
        shipments: l.shipments,
        valid_from: Day(l.valid_from),
        valid_until: Day(l.valid_until),
        granted_at: time_of(l.granted_at, "granted_at")?,
        conditions,
    })
}

fn wire_policy(p: &Policy) -> WirePolicy {
    WirePolicy {
        authority: p.authority.clone(),
        product: p.product.clone(),
        deny_state_backed: p.deny.state_backed,
        deny_sectors: p.deny.sectors.clone(),
        reason: p.reason.clone(),
        lifted: p.lifted,
        exemptions: p.exemptions.iter().cloned().collect(),
    }
}

fn policy_of(p: WirePolicy) -> Policy {
    Policy {
        authority: p.authority,
        product: p.product,
        deny: Deny { state_backed: p.deny_state_backed, sectors: p.deny_sectors },
        reason: p.reason,
        lifted: p.lifted,
        exemptions: p.exemptions.into_iter().collect(),
    }
}

fn wire_held(h: &HeldOrder) -> WireHeld {
    WireHeld {
        seq: h.seq,
        at: time_pair(h.at),
        licenses: h.licenses.0.clone(),
        quantity: h.quantity,
        domestic_quantity: h.domestic_quantity,
        supplier: h.supplier.clone(),
    }
}

fn held_of(h: WireHeld) -> Result<HeldOrder, DecodeError> {
    Ok(HeldOrder {
        seq: h.seq,
        at: time_of(h.at, "held order at")?,
        licenses: Gates(h.licenses),
        quantity: h.quantity,
        domestic_quantity: h.domestic_quantity,
        supplier: h.supplier,
    })
}

/// Magic of a snapshot file.
pub const SNAPSHOT_FILE_MAGIC: &[u8; 8] = b"qledsnap";
/// BLAKE3 `derive_key` context of a snapshot file's checksum.
pub const SNAPSHOT_FILE_CONTEXT: &str = "quotaledger 2026-11-29 snapshot file v1";

/// A snapshot file: `magic | format:u8 (=1) | 7 zero bytes | len:u64 LE | snapshot bytes |
/// checksum:[u8; 16]` (BLAKE3 derive_key [`SNAPSHOT_FILE_CONTEXT`] over everything before it).
pub fn encode_snapshot_file(snapshot: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(snapshot.len() + 40);
    f.extend_from_slice(SNAPSHOT_FILE_MAGIC);
    f.push(FORMAT_VERSION);
    f.extend_from_slice(&[0; 7]);
    f.extend_from_slice(&(snapshot.len() as u64).to_le_bytes());
    f.extend_from_slice(snapshot);
    let sum = snapshot_file_checksum(&f);
    f.extend_from_slice(&sum);
    f
}

/// The snapshot bytes inside a snapshot file, checked.
pub fn decode_snapshot_file(f: &[u8]) -> Result<&[u8], DecodeError> {
    let bad = |what: &str| DecodeError::Framing(format!("snapshot file: {what}"));
    if f.len() < 40 || &f[0..8] != SNAPSHOT_FILE_MAGIC || f[9..16] != [0; 7] {
        return Err(bad("not a snapshot file"));
    }
    if f[8] != FORMAT_VERSION {
        return Err(DecodeError::Version(f[8]));
    }
    let mut l = [0u8; 8];
    l.copy_from_slice(&f[16..24]);
    let len = u64::from_le_bytes(l);
    if len > SNAPSHOT_BYTES_MAX as u64 || f.len() as u64 != 24 + len + 16 {
        return Err(bad("length mismatch"));
    }
    let body_end = f.len() - 16;
    if snapshot_file_checksum(&f[..body_end]) != f[body_end..] {
        return Err(bad("checksum mismatch"));
    }
    Ok(&f[24..body_end])
}

fn snapshot_file_checksum(bytes: &[u8]) -> [u8; 16] {
    super::chain::derived_prefix(SNAPSHOT_FILE_CONTEXT, bytes)
}
