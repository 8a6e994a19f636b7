//! The domain: events, the quota projection and the rules. Pure: no I/O, no storage, no clock.
//!
//! Architecture Invariant: nothing under `domain` reads files, the store or the time of day; the
//! caller passes the current time in when it needs one.

pub mod admission;
pub mod event;
pub mod order;
pub mod quota;
pub mod rules;
pub mod time;

pub use admission::{Admission, InputFlags};
pub use event::{Context, Event, Fact, Rule, Stamp};
pub use order::OrderRow;
pub use quota::{ConditionStatus, License, LicenseStatus, Party, QuotaState};
pub use rules::{check, Reason, Refusal};
pub use time::{Day, Timestamp};
