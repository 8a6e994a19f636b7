//! `qledger report --out FILE|-`: the page of [`crate::report`], written to standard output or
//! through [`super::sink::export_to_file`] (the same exclusive-create, fsync-and-rename path as
//! `export --out`).

use super::sink;
use crate::ledger::Ledger;
use anyhow::{Context as _, Result};
use std::io::Write;
use std::path::Path;

/// Builds the report of the ledger at `ledger_dir` and writes it to `target` (`-`: `out`). A
/// ledger that fails verification still gets its report, which says so, and then the command
/// fails as `verify` does (exit 3).
pub fn run(ledger_dir: &Path, target: &Path, out: &mut dyn Write) -> Result<()> {
    let ledger = Ledger::open_read(ledger_dir)?;
    let model = crate::report::build(&ledger)?;
    let page = crate::report::html::render(&model);
    if target == Path::new("-") {
        out.write_all(page.as_bytes())?;
    } else {
        sink::export_to_file(ledger_dir, target, |w| Ok(w.write_all(page.as_bytes())?))?;
    }
    match model.verification {
        Ok(_) => Ok(()),
        Err(e) => Err(e).context(format!("the report at {} shows that verification failed", target.display())),
    }
}
