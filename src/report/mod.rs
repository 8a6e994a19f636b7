//! `qledger report`: one self-contained HTML page of a ledger (issue 11): totals per authority,
//! the verification result and the head, late entries, the quota of every license as bars
//! grouped by round (with its ceiling), each party's headroom as `qledger state` computes it,
//! orders and shipments over effective time per authority, the conditions, policies, caps and
//! held orders.
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
