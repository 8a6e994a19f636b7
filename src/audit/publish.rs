//! `publish DIR`: the ledger as a C2SP tlog-tiles directory, servable as is by any static web
//! server or object store:
//!
//! ```text
//! DIR/checkpoint                  the latest stored signed checkpoint, written last
//! DIR/tile/<L>/<N>[.p/<W>]        hash tiles of that tree
//! DIR/tile/entries/<N>[.p/<W>]    entry bundles: the records' canonical bytes
//! ```
//!
//! Only the tiles the new tree has and the published one lacks are written, each by a
//! temporary file and a rename; then the file system is synced and the checkpoint replaced the
//! same way, so a reader sees the old checkpoint with its tiles or the new one with its tiles.
//! A directory holding a checkpoint of another log, of a larger tree, or of a tree this ledger
//! does not extend is refused.

use super::proofs::{stored_checkpoint, tree_for};
use super::AuditError;
use crate::ledger::{Ledger, Records};
use crate::store::snapshots::temp_path;
use crate::tlog::checkpoint::Checkpoint;
use crate::tlog::merkle::{self, Sha256};
use crate::tlog::note::{Note, NOTE_BYTES_MAX};
use crate::tlog::tiles::{encode_entry_bundle, new_entry_bundles, new_tiles, tile_data, Tile, TILE_WIDTH};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

/// The checkpoint's file name in a published directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// What `publish` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The tree size published before (0 if none).
    pub old_size: u64,
    /// The tree size published now.
    pub size: u64,
    /// Hash tiles written.
    pub tiles: usize,
    /// Entry bundles written.
    pub bundles: usize,
}

/// Publishes the latest stored checkpoint and its tiles into `dir`.
pub fn publish(ledger: &Ledger, dir: &Path) -> Result<Published, AuditError> {
    let signed = stored_checkpoint(ledger, None, None)?;
    let size = signed.checkpoint.size;
    let mut tree = tree_for(ledger, &signed)?;
    fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
    let old_size = match published(dir)? {
        None => 0,
        Some(old) => {
            check_extends(&old, &signed.checkpoint, &mut tree)?;
            old.size
        }
    };
    let tiles = new_tiles(old_size, size);
    for tile in &tiles {
        let data = tile_data(&mut tree, tile).map_err(|e| AuditError::Input(e.to_string()))?;
        write_file(dir, &tile.path(), &data)?;
    }
    let bundles = new_entry_bundles(old_size, size);
    write_bundles(ledger, dir, &bundles, size)?;
    sync_file_system(dir)?;
    write_file(dir, CHECKPOINT_FILE, signed.note.as_bytes())?;
    sync_file_system(dir)?;
    Ok(Published { old_size, size, tiles: tiles.len(), bundles: bundles.len() })
}

/// The checkpoint published in `dir`, if any (its signature is the auditors' business; the
/// publisher checks that its own tree extends it).
fn published(dir: &Path) -> Result<Option<Checkpoint>, AuditError> {
    let path = dir.join(CHECKPOINT_FILE);
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("opening", &path, e)),
    };
    let mut bytes = Vec::new();
    file.take(NOTE_BYTES_MAX as u64 + 1).read_to_end(&mut bytes).map_err(|e| io_error("reading", &path, e))?;
    let bad =
        |e: &dyn std::fmt::Display| AuditError::Input(format!("{} is not a signed checkpoint: {e}", path.display()));
    let note = Note::parse(&bytes).map_err(|e| bad(&e))?;
    Checkpoint::parse(&note.text).map(Some).map_err(|e| bad(&e))
}

/// The published tree must be of this log and a prefix of the one to publish.
fn check_extends<S: merkle::NodeSource<Sha256>>(
    old: &Checkpoint,
    new: &Checkpoint,
    tree: &mut S,
) -> Result<(), AuditError> {
    if old.origin != new.origin {
        return Err(AuditError::Input(format!("the directory holds log {:?}, not {:?}", old.origin, new.origin)));
    }
    if old.size > new.size {
        return Err(AuditError::Input(format!(
            "the directory holds a tree of {} records, larger than the latest checkpoint's {}",
            old.size, new.size
        )));
    }
    let root = merkle::root::<Sha256, S>(tree, old.size).map_err(|e| AuditError::Input(e.to_string()))?;
    if root != old.root {
        return Err(AuditError::Input(format!(
            "the directory's checkpoint of size {} is not a prefix of this ledger's tree",
            old.size
        )));
    }
    Ok(())
}

/// Writes the entry bundles `bundles` (consecutive, ascending) of the tree of `size` leaves.
fn write_bundles(ledger: &Ledger, dir: &Path, bundles: &[Tile], size: u64) -> Result<(), AuditError> {
    let Some(first) = bundles.first() else { return Ok(()) };
    let mut records = Records::hashed(ledger, first.index * TILE_WIDTH, size.min(ledger.head().records))?;
    for bundle in bundles {
        let mut entries = Vec::with_capacity(usize::from(bundle.width));
        for _ in 0..bundle.width {
            let r = records
                .next()
                .transpose()?
                .ok_or_else(|| AuditError::Input(format!("the records end before entry bundle {}", bundle.path())))?;
            entries.push(r.bytes);
        }
        let data = encode_entry_bundle(&entries).map_err(|e| AuditError::Input(e.to_string()))?;
        write_file(dir, &bundle.path(), &data)?;
    }
    Ok(())
}

/// Writes `rel` under `dir` by a temporary file in its directory and a rename.
fn write_file(dir: &Path, rel: &str, data: &[u8]) -> Result<(), AuditError> {
    let path = dir.join(rel);
    let parent = path.parent().unwrap_or(dir);
    fs::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
    let tmp = temp_path(parent);
    let written = fs::File::create_new(&tmp).and_then(|mut f| f.write_all(data)).and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error("writing", &path, e));
    }
    Ok(())
}

/// Makes everything written to the file system holding `dir` durable (one `syncfs`, instead
/// of one `fsync` per tile).
fn sync_file_system(dir: &Path) -> Result<(), AuditError> {
    use std::os::fd::AsRawFd;
    let d = fs::File::open(dir).map_err(|e| io_error("opening", dir, e))?;
    // SAFETY: syncfs takes a file descriptor and nothing else; `d` keeps it open for the call.
    let rc = unsafe { libc::syncfs(d.as_raw_fd()) };
    if rc != 0 {
        return Err(io_error("syncing", dir, std::io::Error::last_os_error()));
    }
    Ok(())
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> AuditError {
    AuditError::Unreachable(format!("{what} {}: {e}", path.display()))
}
