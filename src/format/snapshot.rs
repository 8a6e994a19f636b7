//! Wire types of everything stored besides records and their framing: the quota snapshots
//! (and their files) and the order rows of the index. All go through `codec` and are
//! decoded strictly; none is trusted by `verify`, which recomputes each from the records.

use super::codec::{self, DecodeError};
use super::record::WireRule;
use super::FORMAT_VERSION;
use crate::domain::quota::Condition;
use crate::domain::{ConditionStatus, Day, License, LicenseStatus, OrderRow, Party, QuotaState, Rule, Timestamp};
use crate::limits::SNAPSHOT_BYTES_MAX;
use serde::{Deserialize, Serialize};

/// An order index entry. Generic over the string type so that encoding can borrow (`&str` and
/// `String` encode to the same bytes).
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

impl<'a> OrderRowV1<&'a str> {
    /// Wire form, borrowing the row's strings.
    pub fn from_row(r: &'a OrderRow) -> OrderRowV1<&'a str> {
        OrderRowV1 { license: &r.license, quantity: r.quantity, shipped: r.shipped, cancelled: r.cancelled }
    }
}

impl OrderRowV1 {
    /// The domain row.
    pub fn into_row(self) -> OrderRow {
        OrderRow { license: self.license, quantity: self.quantity, shipped: self.shipped, cancelled: self.cancelled }
    }
}

/// A persisted quota projection after `records` records, the last with hash `last_hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSnapshotV1 {
    /// Always [`FORMAT_VERSION`].
    pub format: u8,
    /// Records applied.
    pub records: u64,
    /// Hash of the last record applied.
    pub last_hash: [u8; 32],
    /// Business time of the last record applied.
    pub last_at: Option<(i64, u32)>,
    /// Parties, sorted by id.
    pub parties: Vec<(String, WireParty)>,
    /// Licenses, sorted by id.
    pub licenses: Vec<(String, WireLicense)>,
}

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
    pub shipped: u64,
    pub valid_from: i32,
    pub valid_until: i32,
    /// `(id, rule, status)`; status 0 pending, 1 final, 2 withdrawn.
    pub conditions: Vec<(String, WireRule, u8)>,
}

impl QuotaSnapshotV1 {
    /// The snapshot of `state`, whose last record has hash `last_hash`.
    pub fn from_state(state: &QuotaState, last_hash: [u8; 32]) -> QuotaSnapshotV1 {
        QuotaSnapshotV1 {
            format: FORMAT_VERSION,
            records: state.records,
            last_hash,
            last_at: state.last_at.map(|t| (t.secs, t.nanos)),
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
            licenses: state
                .licenses
                .iter()
                .map(|(id, l)| {
                    let w = WireLicense {
                        authority: l.authority.clone(),
                        licensee: l.licensee.clone(),
                        product: l.product.clone(),
                        round: l.round,
                        status: match l.status {
                            LicenseStatus::Active => 0,
                            LicenseStatus::Suspended => 1,
                            LicenseStatus::Revoked => 2,
                        },
                        quantity: l.quantity,
                        ordered: l.ordered,
                        shipped: l.shipped,
                        valid_from: l.valid_from.0,
                        valid_until: l.valid_until.0,
                        conditions: l
                            .conditions
                            .iter()
                            .map(|c| {
                                let status = match c.status {
                                    ConditionStatus::Pending => 0,
                                    ConditionStatus::Final => 1,
                                    ConditionStatus::Withdrawn => 2,
                                };
                                (c.id.clone(), WireRule::from(c.rule.clone()), status)
                            })
                            .collect(),
                    };
                    (id.clone(), w)
                })
                .collect(),
        }
    }

    /// Decodes a stored snapshot into the state it holds and the hash of its last record.
    pub fn decode(bytes: &[u8]) -> Result<(QuotaState, [u8; 32]), DecodeError> {
        let w: QuotaSnapshotV1 = codec::decode(bytes, SNAPSHOT_BYTES_MAX)?;
        if w.format != FORMAT_VERSION {
            return Err(DecodeError::Version(w.format));
        }
        let bad = |s: &str| DecodeError::Invalid(format!("snapshot: {s}"));
        let sorted_unique = |ids: Vec<&String>| ids.windows(2).all(|p| p[0] < p[1]);
        if !sorted_unique(w.parties.iter().map(|(id, _)| id).collect())
            || !sorted_unique(w.licenses.iter().map(|(id, _)| id).collect())
        {
            return Err(bad("ids are not sorted and unique"));
        }
        let mut state = QuotaState {
            records: w.records,
            last_at: match w.last_at {
                None => None,
                Some((secs, nanos)) => {
                    let t = Timestamp { secs, nanos };
                    if !t.is_valid() {
                        return Err(bad("last_at out of range"));
                    }
                    Some(t)
                }
            },
            ..QuotaState::default()
        };
        for (id, p) in w.parties {
            let party = Party {
                name: p.name,
                country: p.country,
                state_backed: p.state_backed,
                sector: p.sector,
                restricted: p.restricted,
            };
            state.parties.insert(id, party);
        }
        for (id, l) in w.licenses {
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
            let license = License {
                authority: l.authority,
                licensee: l.licensee,
                product: l.product,
                round: l.round,
                status,
                quantity: l.quantity,
                ordered: l.ordered,
                shipped: l.shipped,
                valid_from: Day(l.valid_from),
                valid_until: Day(l.valid_until),
                conditions,
            };
            state.licenses.insert(id, license);
        }
        Ok((state, w.last_hash))
    }
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
