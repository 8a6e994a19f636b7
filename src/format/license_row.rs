//! `LicenseRowV1`: the canonical row of one license in the quota-state tree (issue 10). At a
//! checkpoint, the rows of every license, sorted by license id, are the leaves of an RFC 6962
//! Merkle tree (leaf `SHA-256(0x00 || row bytes)`) whose root the checkpoint signs; a row and
//! its inclusion proof then prove "license L had X remaining after n records" without a replay.
//!
//! Fields in this order (canonical encoding, README "Ledger format"): format u8 = 1; license,
//! licensee, authority, product: String; round: u64; valid_from, valid_until: i32 (days since
//! 1970-01-01); status u8 (0 active, 1 suspended, 2 revoked); quantity, ordered, shipped,
//! remaining: u64; conditions: a sequence of (condition: String, rule: WireRule, status u8 (0
//! pending, 1 final, 2 withdrawn)), in the order they were added. Frozen by a golden vector
//! (`tests/audit.rs`).

use super::codec::{self, DecodeError};
use super::record::WireRule;
use super::FORMAT_VERSION;
use crate::domain::{ConditionStatus, License, LicenseStatus};
use serde::{Deserialize, Serialize};

/// Largest encoded row accepted, in bytes (a license with thousands of conditions fits).
pub const LICENSE_ROW_BYTES_MAX: usize = 4 * 1024 * 1024;

/// One license's row in the quota-state tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LicenseRowV1 {
    /// Always [`FORMAT_VERSION`].
    pub format: u8,
    pub license: String,
    pub licensee: String,
    pub authority: String,
    pub product: String,
    pub round: u64,
    pub valid_from: i32,
    pub valid_until: i32,
    /// 0 active, 1 suspended, 2 revoked.
    pub status: u8,
    pub quantity: u64,
    /// Units committed, net of what cancellations returned.
    pub ordered: u64,
    pub shipped: u64,
    /// `quantity - ordered`.
    pub remaining: u64,
    /// `(condition, rule, status)`; status 0 pending, 1 final, 2 withdrawn.
    pub conditions: Vec<(String, WireRule, u8)>,
}

impl codec::Wire for LicenseRowV1 {}

impl LicenseRowV1 {
    /// The row of license `id`.
    pub fn from_license(id: &str, l: &License) -> LicenseRowV1 {
        LicenseRowV1 {
            format: FORMAT_VERSION,
            license: id.to_owned(),
            licensee: l.licensee.clone(),
            authority: l.authority.clone(),
            product: l.product.clone(),
            round: l.round,
            valid_from: l.valid_from.0,
            valid_until: l.valid_until.0,
            status: status_code(l.status),
            quantity: l.quantity,
            ordered: l.ordered(),
            shipped: l.shipped,
            remaining: l.remaining(),
            conditions: l
                .conditions
                .iter()
                .map(|c| (c.id.clone(), WireRule::from(c.rule.clone()), condition_code(c.status)))
                .collect(),
        }
    }

    /// The canonical bytes (the tree's entry).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes canonical row bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<LicenseRowV1, DecodeError> {
        let row: LicenseRowV1 = codec::decode(bytes, LICENSE_ROW_BYTES_MAX)?;
        if row.format != FORMAT_VERSION {
            return Err(DecodeError::Version(row.format));
        }
        if row.status > 2 || row.conditions.iter().any(|c| c.2 > 2) {
            return Err(DecodeError::Invalid("license row: unknown status".into()));
        }
        Ok(row)
    }

    /// The status as a word (`active`, `suspended`, `revoked`).
    pub fn status_name(&self) -> &'static str {
        match self.status {
            0 => "active",
            1 => "suspended",
            _ => "revoked",
        }
    }
}

fn status_code(s: LicenseStatus) -> u8 {
    match s {
        LicenseStatus::Active => 0,
        LicenseStatus::Suspended => 1,
        LicenseStatus::Revoked => 2,
    }
}

fn condition_code(s: ConditionStatus) -> u8 {
    match s {
        ConditionStatus::Pending => 0,
        ConditionStatus::Final => 1,
        ConditionStatus::Withdrawn => 2,
    }
}

/// The name of a condition status code.
pub fn condition_status_name(code: u8) -> &'static str {
    match code {
        0 => "pending",
        1 => "final",
        _ => "withdrawn",
    }
}
