//! `qledger report`: one self-contained HTML page of a ledger (issue 11): the quota of every
//! license by round as bars, each party's headroom, orders and shipments over time, the
//! conditions, the verification result and the head.
//!
//! Two halves: [`model`] turns a ledger into a [`ReportModel`], a plain view model (every
//! number the page shows, computed once, by replaying the records); [`html`] (with [`chart`]
//! for the SVG) turns the model into text. A new section is a field of the model and a
//! function of `html`.
//!
//! Architecture Invariant: `report` writes no file and decides nothing about quotas: it reads
//! through [`crate::ledger::Ledger`], uses the domain's projection, and returns a `String`; the
//! CLI writes it (`cli::report`, through the same exclusive-create path as `export --out`).
//! Architecture Invariant: every string from the ledger reaches the page through
//! [`html::esc`]; the page loads nothing (a Content-Security-Policy forbids it) and runs no
//! script.

pub mod chart;
pub mod html;
pub mod model;

pub use model::{build, ReportModel};
