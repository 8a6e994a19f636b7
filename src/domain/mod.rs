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
pub use event::{Context, Deny, Event, Fact, Gates, Released, Rule, Stamp, EVENT_TYPES};
pub use order::{OrderRow, OrderStatus};
pub use quota::{ConditionStatus, HeldOrder, License, LicenseStatus, Party, Policy, QuotaState, Round};
pub use rules::{check, check_with, Lookup, Reason, Refusal, Target};
pub use time::{Day, Timestamp};
