//! Key files: `keygen` writes a signer key (C2SP signed-note `PRIVATE+KEY+...` text) to a new
//! file of mode 0600; signer keys are read only from files no one else can read; a verifier
//! key is given as its text or as a file holding it.

use super::AuditError;
use crate::store::disk::create_new_file;
use crate::tlog::note::{check_key_name, SignerKey, VerifierKey, ED25519_KEY_BYTES};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Largest key file read, in bytes.
pub const KEY_FILE_BYTES_MAX: u64 = 4096;

/// Creates a new Ed25519 signer key named `name` (the log's origin) in `out`, created
/// exclusively with mode 0600 (an existing file or link is refused), seeded by the OS RNG.
/// Returns its verifier key.
pub fn keygen(name: &str, out: &Path) -> Result<VerifierKey, AuditError> {
    check_key_name(name).map_err(|e| AuditError::Input(format!("--name {name:?}: {e} (no spaces, no '+')")))?;
    let mut seed = [0u8; ED25519_KEY_BYTES];
    getrandom::fill(&mut seed).map_err(|e| AuditError::Unreachable(format!("the OS random number generator: {e}")))?;
    let signer = SignerKey::from_seed(name, &seed).map_err(|e| AuditError::Input(e.to_string()));
    seed.fill(0);
    let signer = signer?;
    let verifier = signer.verifier().map_err(|e| AuditError::Input(e.to_string()))?;
    let mut file = create_new_file(out).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => {
            AuditError::Input(format!("{} exists; keygen never overwrites a key file", out.display()))
        }
        _ => AuditError::Unreachable(format!("creating {}: {e}", out.display())),
    })?;
    let written = file.write_all(format!("{}\n", signer.to_secret_string()).as_bytes()).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(out);
        return Err(AuditError::Unreachable(format!("writing {}: {e}", out.display())));
    }
    Ok(verifier)
}

/// Reads a signer key file; refuses one that others can read or write.
pub fn read_signer(path: &Path) -> Result<SignerKey, AuditError> {
    let meta = fs::metadata(path).map_err(|e| AuditError::Input(format!("{}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AuditError::Input(format!(
            "{} has mode {mode:04o}: a signer key must be readable by its owner only (chmod 600)",
            path.display()
        )));
    }
    let text = read_key_text(path)?;
    SignerKey::parse(&text).map_err(|e| AuditError::Input(format!("{}: {e}", path.display())))
}

/// A verifier key from its text (`name+keyid+base64`), or from a file holding it.
pub fn read_verifier(arg: &str) -> Result<VerifierKey, AuditError> {
    match VerifierKey::parse(arg) {
        Ok(key) => Ok(key),
        Err(parse_error) => {
            let path = Path::new(arg);
            if !path.is_file() {
                return Err(AuditError::Input(format!("--key: not a verifier key ({parse_error}) nor a file")));
            }
            let text = read_key_text(path)?;
            VerifierKey::parse(&text).map_err(|e| AuditError::Input(format!("{}: {e}", path.display())))
        }
    }
}

/// A key file's one line, without its newline.
fn read_key_text(path: &Path) -> Result<String, AuditError> {
    let bad = |what: String| AuditError::Input(format!("{}: {what}", path.display()));
    let bytes = super::read_input_file(path, KEY_FILE_BYTES_MAX, bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if line.contains('\n') {
        return Err(bad("a key file holds one line".into()));
    }
    Ok(line.to_owned())
}
