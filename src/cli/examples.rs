//! The overview and the Examples sections of `--help`.
//!
//! Each example is `  $ qledger ...` followed by what it prints (`  ...` stands for lines left
//! out); `tests/help_examples.rs` runs every one in a fresh directory holding the demo's ledger
//! at `./ledger` and checks that it prints what is shown.

/// `qledger` alone.
pub const OVERVIEW: &str = "TODO\n";
/// `qledger --help`.
pub const TOP: &str = "Examples:\n";
/// `init --help`.
pub const INIT: &str = "Examples:\n";
/// `reindex --help`.
pub const REINDEX: &str = "Examples:\n";
/// `append --help`.
pub const APPEND: &str = "Examples:\n";
/// `verify --help`.
pub const VERIFY: &str = "Examples:\n";
/// `state --help`.
pub const STATE: &str = "Examples:\n";
/// `log --help`.
pub const LOG: &str = "Examples:\n";
/// `replay --help`.
pub const REPLAY: &str = "Examples:\n";
/// `head --help`.
pub const HEAD: &str = "Examples:\n";
/// `export --help`.
pub const EXPORT: &str = "Examples:\n";
/// `demo --help`.
pub const DEMO: &str = "Examples:\n";
/// `completions --help`.
pub const COMPLETIONS: &str = "Examples:\n";
/// `man --help`.
pub const MAN: &str = "Examples:\n";
