//! The audit commands of issue 10 (`keygen`, `checkpoint`, `prove`, `check-proof`, `bundle`,
//! `check-bundle`, `publish`, `audit`): arguments and output. The work is in
//! [`crate::audit`].

use super::terminal::escape as esc;
use crate::audit::client::{self, Source};
use crate::audit::keys;
use crate::audit::proofs::{self, Checked, CheckedBundle};
use crate::audit::publish;
use crate::audit::AuditError;
use crate::domain::Fact;
use crate::format::chain::hex;
use crate::format::license_row::{condition_status_name, LicenseRowV1};
use crate::ledger::Ledger;
use crate::store::OpenMode;
use anyhow::{Context as _, Result};
use clap::Subcommand;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The audit subcommands (flattened into `qledger`'s commands).
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Create an Ed25519 signer key (file created with mode 0600); prints its verifier key
    #[command(after_help = super::examples::KEYGEN)]
    Keygen {
        /// Key name: the log's origin, e.g. example.org/quotaledger
        #[arg(long, value_name = "ORIGIN")]
        name: String,
        /// Where to write the signer key (never overwritten)
        #[arg(long, value_name = "KEYFILE")]
        out: PathBuf,
    },
    /// Sign and store a checkpoint of the head (a writer: takes the lock)
    #[command(after_help = super::examples::CHECKPOINT)]
    Checkpoint {
        /// Signer key file (from keygen)
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
    /// Print an inclusion, consistency or license-state proof as JSON
    #[command(after_help = super::examples::PROVE)]
    Prove {
        /// Inclusion of the record with this seq
        #[arg(long, value_name = "N", conflicts_with_all = ["from", "to", "license"])]
        seq: Option<u64>,
        /// Against the stored checkpoint of this tree size (default: the latest)
        #[arg(long, value_name = "M", conflicts_with_all = ["from", "to"])]
        size: Option<u64>,
        /// Consistency from the checkpoint of this size...
        #[arg(long, value_name = "A", requires = "to", conflicts_with = "license")]
        from: Option<u64>,
        /// ...to the checkpoint of this size
        #[arg(long, value_name = "B", requires = "from")]
        to: Option<u64>,
        /// The license's row and its path in the quota-state tree
        #[arg(long, value_name = "L")]
        license: Option<String>,
    },
    /// Check a proof from `prove` offline, with no ledger
    #[command(after_help = super::examples::PROVE)]
    CheckProof {
        /// The proof (JSON), or - for standard input
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The log's verifier key (name+keyid+base64), or a file holding it
        #[arg(long, value_name = "VKEY")]
        key: String,
    },
    /// Write every record touching a license, with proofs, the checkpoint and its state proof
    #[command(after_help = super::examples::BUNDLE)]
    Bundle {
        /// The license
        #[arg(long, value_name = "L")]
        license: String,
        /// Where to write the bundle (JSON)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a bundle offline and print the license's history and state
    #[command(after_help = super::examples::BUNDLE)]
    CheckBundle {
        /// The bundle (JSON), or - for standard input
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The log's verifier key (name+keyid+base64), or a file holding it
        #[arg(long, value_name = "VKEY")]
        key: String,
    },
    /// Write or update a C2SP tlog-tiles directory of the latest checkpoint
    #[command(after_help = super::examples::PUBLISH)]
    Publish {
        /// The directory to serve
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Audit a published log (directory or http(s) URL) against the last checkpoint you verified
    ///
    /// Over https the server's certificate must chain to the built-in roots or, with --ca-file,
    /// to a CA of that file instead. No redirect is followed: a log is audited at the URL given,
    /// never downgraded from https to http.
    #[command(after_help = super::examples::AUDIT)]
    Audit {
        /// A directory or an http:// or https:// URL
        #[arg(value_name = "SOURCE")]
        source: String,
        /// The log's verifier key (name+keyid+base64), or a file holding it
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// Also re-hash every entry: tree root, chain, head hash and quota-state root
        #[arg(long)]
        full: bool,
        /// Trust only the CA certificates of this PEM file for an https SOURCE (instead of the
        /// built-in roots)
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
    },
}

/// Runs one audit command.
pub fn run(cmd: AuditCommand, ledger: PathBuf, wait: Option<Duration>, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Keygen { name, out: file } => {
            let verifier = keys::keygen(&name, &file)?;
            writeln!(out, "{verifier}")?;
        }
        AuditCommand::Checkpoint { key } => {
            let signer = keys::read_signer(&key)?;
            let ledger = Ledger::open(&ledger, OpenMode::MustExist, wait)?;
            let (note, _) = proofs::checkpoint(&ledger, &signer)?;
            drop(ledger);
            out.write_all(note.as_bytes())?;
        }
        AuditCommand::Prove { seq, size, from, to, license } => {
            let ledger = Ledger::open_read(&ledger)?;
            writeln!(out, "{}", prove(&ledger, seq, size, from.zip(to), license)?)?;
        }
        AuditCommand::CheckProof { file, key } => {
            let key = keys::read_verifier(&key)?;
            let doc = read_doc(&file, proofs::PROOF_FILE_BYTES_MAX)?;
            print_checked(out, &proofs::check_proof(&doc, &key)?)?;
        }
        AuditCommand::Bundle { license, out: file } => {
            let ledger = Ledger::open_read(&ledger)?;
            let bundle = proofs::bundle(&ledger, &license, None)?;
            let json = serde_json::to_vec(&bundle)?;
            write_new(&file, &json)?;
            writeln!(
                out,
                "wrote {} records of {license} with proofs against size {}",
                bundle.records.len(),
                bundle.tree_size
            )?;
        }
        AuditCommand::CheckBundle { file, key } => {
            let key = keys::read_verifier(&key)?;
            let doc = read_doc(&file, proofs::BUNDLE_FILE_BYTES_MAX)?;
            print_bundle(out, &proofs::check_bundle(&doc, &key)?)?;
        }
        AuditCommand::Publish { dir } => {
            let ledger = Ledger::open_read(&ledger)?;
            let p = publish::publish(&ledger, &dir)?;
            writeln!(
                out,
                "published size {} (was {}): {} hash tiles, {} entry bundles written to {}",
                p.size,
                p.old_size,
                p.tiles,
                p.bundles,
                dir.display()
            )?;
        }
        AuditCommand::Audit { source, key, full, ca_file } => audit(&source, &key, full, ca_file.as_deref(), out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `prove`: one of an inclusion (`--seq`), a consistency (`--from --to`) or a license proof, as
/// JSON.
fn prove(
    ledger: &Ledger,
    seq: Option<u64>,
    size: Option<u64>,
    range: Option<(u64, u64)>,
    license: Option<String>,
) -> Result<String> {
    Ok(match (seq, range, license) {
        (Some(seq), None, None) => serde_json::to_string(&proofs::prove_inclusion(ledger, seq, size)?)?,
        (None, Some((a, b)), None) => serde_json::to_string(&proofs::prove_consistency(ledger, a, b)?)?,
        (None, None, Some(l)) => serde_json::to_string(&proofs::prove_license(ledger, &l, size)?)?,
        _ => return Err(super::UsageError("prove needs one of --seq N, --from A --to B, --license L".into()).into()),
    })
}

/// `audit`: fetch, check and remember a published log's checkpoint; on misbehaviour, print the
/// evidence and fail.
fn audit(source: &str, key: &str, full: bool, ca_file: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let key = keys::read_verifier(key)?;
    let source = Source::parse(source, ca_file)?;
    let state = client::user_state_dir()?;
    match client::audit(&source, &key, full, &state) {
        Ok(r) => {
            let since = r
                .previous
                .map_or("first audit of this log".to_owned(), |p| format!("consistent with size {p} verified before"));
            let entries = r.entries.map_or(String::new(), |n| format!("; {n} entries re-hashed"));
            writeln!(out, "audit ok: {} size {} root {} ({since}{entries})", r.origin, r.size, r.root)?;
            Ok(())
        }
        Err(e) => {
            if let AuditError::Misbehaviour { evidence, .. } = &e {
                out.write_all(evidence.as_bytes())?;
            }
            Err(e.into())
        }
    }
}

/// A document from a file or standard input (`-`), at most `max` bytes.
fn read_doc(file: &Path, max: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| AuditError::Input(format!("{}: {e}", file.display())))?)
    };
    reader.take(max + 1).read_to_end(&mut bytes).with_context(|| format!("reading {}", file.display()))?;
    if bytes.len() as u64 > max {
        return Err(AuditError::Input(format!("{} is larger than {max} bytes", file.display())).into());
    }
    Ok(bytes)
}

/// Writes `bytes` to `file` by a temporary file beside it and a rename.
fn write_new(file: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", file.display()))
}

fn print_checked(out: &mut dyn Write, c: &Checked) -> Result<()> {
    match c {
        Checked::Inclusion { origin, size, seq, fact, hash } => {
            writeln!(out, "ok: record {seq} is in the tree of size {size} signed by {origin}")?;
            writeln!(out, "{}  hash {}", describe(*seq, fact), hex(hash))?;
        }
        Checked::Consistency { origin, old, new } => {
            writeln!(out, "ok: the tree of size {old} is a prefix of the tree of size {new} signed by {origin}")?;
        }
        Checked::License { origin, size, row } => {
            writeln!(out, "ok: license {} after {size} records, signed by {origin}", row.license)?;
            print_row(out, row)?;
        }
    }
    Ok(())
}

fn print_bundle(out: &mut dyn Write, b: &CheckedBundle) -> Result<()> {
    writeln!(
        out,
        "ok: {} records of license {} in the tree of size {} signed by {}; they account for its state",
        b.records.len(),
        b.license,
        b.size,
        b.origin
    )?;
    for (seq, fact) in &b.records {
        writeln!(out, "{}", describe(*seq, fact))?;
    }
    print_row(out, &b.row)
}

fn describe(seq: u64, fact: &Fact) -> String {
    let subject = fact.event.subject();
    let (at, subject) = (super::ui::time_s(fact.stamp.at), esc(&subject));
    format!("seq {seq}  {at}  {}  {subject}", fact.event.type_name())
}

/// A license row as `check-proof` and `check-bundle` show it: ids escaped, numbers grouped.
fn print_row(out: &mut dyn Write, r: &LicenseRowV1) -> Result<()> {
    let n = |v: u64| super::ui::thousands(v);
    writeln!(
        out,
        "{}  {}  {}  {}  quantity {}  ordered {}  shipped {}  remaining {}",
        esc(&r.license),
        esc(&r.licensee),
        esc(&r.product),
        r.status_name(),
        n(r.quantity),
        n(r.ordered),
        n(r.shipped),
        n(r.remaining)
    )?;
    for (id, rule, status) in &r.conditions {
        let rule = super::output::rule_text(&crate::domain::Rule::from(rule.clone()));
        writeln!(out, "  condition {} {} [{rule}]", esc(id), condition_status_name(*status))?;
    }
    Ok(())
}
