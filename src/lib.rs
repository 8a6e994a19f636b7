//! quotaledger: an event-sourced, hash-chained audit ledger for licensed quotas.
//!
//! Placeholder codemap; see below.

pub mod cli;
pub mod domain;
pub mod format;
pub mod index;
pub mod jsonl;
pub mod ledger;
pub mod limits;
pub mod store;
