//! `audit SOURCE --key VKEY [--full]`: checks a published log (a directory or an http(s) URL
//! of a tlog-tiles layout) as a transparency-log client does.
//!
//! 1. Fetch `checkpoint`, open it with the user's key (origin = the key's name) and parse its
//!    claims; check that the hash tiles give its root.
//! 2. Compare it with the last checkpoint this user verified for that origin, kept in the
//!    user's state directory (`$XDG_STATE_HOME/qledger/audit/`, else
//!    `~/.local/state/qledger/audit/`; never inside a ledger): a smaller tree is a rollback, the
//!    same size with another root a fork, a larger tree needs a consistency proof from the
//!    tiles. Any of these failing is [`AuditError::Misbehaviour`] (exit 3) with both
//!    checkpoints as evidence.
//! 3. With `--full`, re-hash every entry of the entry bundles: the tree root, the BLAKE3 chain
//!    (seqs and links), the head hash and the quota-state root must be the signed ones.
//! 4. Keep the new checkpoint as the last verified one (never a smaller one).
//!
//! Over https the server's certificate is checked against Mozilla's roots (built in), or,
//! with `--ca-file`, against the CAs of that PEM file *instead*: an auditor who names their
//! organisation's CA pins the log to it, and no public CA can then stand in for the log's
//! server. (Roots to add to Mozilla's: put them in one PEM file with a system bundle.)
//! No redirect is followed: a log is audited at the URL the auditor gives, an https log is
//! never downgraded to http, and a redirect fails the audit naming where it pointed.

use super::claims::{b64, claims_of, Claims};
use super::AuditError;
use crate::domain::QuotaState;
use crate::format::chain;
use crate::format::record::Record;
use crate::limits::RECORD_BYTES_MAX;
use crate::store::disk::{create_dir, create_new_file};
use crate::store::snapshots::temp_path;
use crate::store::tree::Edge;
use crate::tlog::checkpoint::{open_checkpoint, Checkpoint};
use crate::tlog::merkle::{self, Sha256, TreeHasher};
use crate::tlog::note::{VerifierKey, NOTE_BYTES_MAX};
use crate::tlog::tiles::{
    decode_entry_bundle, new_entry_bundles, Tile, TileLevel, TileNodeSource, TileReader, HASH_BYTES, TILE_HEIGHT,
    TILE_WIDTH,
};
use std::cell::Cell;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use ureq::config::{AutoHeaderValue, IpFamily, RedirectAuthHeaders};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

/// Seconds one http(s) request may take, connection included.
pub const FETCH_TIMEOUT_SECS: u64 = 30;
/// Largest `--ca-file`, in bytes: room for a system's whole bundle (about 200 KiB) and more.
pub const CA_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Longest `Location` of a refused redirect shown, in characters.
const LOCATION_CHARS_MAX: usize = 200;
/// Largest hash tile, in bytes.
pub const TILE_BYTES_MAX: u64 = TILE_WIDTH * HASH_BYTES as u64;
/// Largest entry bundle, in bytes (256 entries of at most one record each, with lengths).
pub const ENTRY_BUNDLE_BYTES_MAX: u64 = TILE_WIDTH * (2 + RECORD_BYTES_MAX as u64);
/// The name of this program's directory in the user's state directory.
pub const STATE_SUBDIR: &str = "qledger/audit";

/// Where a published log is read from.
pub enum Source {
    /// A directory.
    Dir(PathBuf),
    /// An `http://` or `https://` URL prefix.
    Http {
        /// The prefix, without a trailing `/`.
        base: String,
        /// The client.
        agent: ureq::Agent,
    },
}

/// Why a fetch failed: the log does not have it, or it could not be reached.
#[derive(Debug)]
enum Fetch {
    Missing(String),
    Failed(String),
}

impl Source {
    /// A URL (`http://`, `https://`) or a directory. `ca_file` (`--ca-file`, https only): a PEM
    /// file of the CA certificates that the server's certificate must chain to, instead of the
    /// built-in roots.
    pub fn parse(source: &str, ca_file: Option<&Path>) -> Result<Source, AuditError> {
        let https = source.starts_with("https://");
        if !https && !source.starts_with("http://") {
            if ca_file.is_some() {
                return Err(AuditError::Input("--ca-file is for an https:// SOURCE, not a directory".into()));
            }
            return Ok(Source::Dir(PathBuf::from(source)));
        }
        let roots = match ca_file {
            None => RootCerts::WebPki,
            Some(_) if !https => {
                return Err(AuditError::Input("--ca-file is for an https:// SOURCE, not http://".into()));
            }
            Some(path) => RootCerts::new_with_certs(&read_ca_file(path)?),
        };
        Ok(Source::Http { base: source.trim_end_matches('/').to_owned(), agent: agent(https, roots) })
    }

    fn fetch(&self, rel: &str, max: u64) -> Result<Vec<u8>, Fetch> {
        match self {
            Source::Dir(dir) => fetch_file(&dir.join(rel), max),
            Source::Http { base, agent } => fetch_http(agent, &format!("{base}/{rel}"), max),
        }
    }

    /// [`Source::fetch`], a failure as its message; one of the source's being unreachable
    /// (not one of the log's: a missing or oversized file) is noted in `unreachable`, so
    /// that it is reported as exit 4, never as the log's misbehaviour.
    fn fetch_noting(&self, rel: &str, max: u64, unreachable: &Cell<bool>) -> Result<Vec<u8>, String> {
        self.fetch(rel, max).map_err(|e| match e {
            Fetch::Missing(m) => m,
            Fetch::Failed(m) => {
                unreachable.set(true);
                m
            }
        })
    }
}

fn fetch_file(path: &Path, max: u64) -> Result<Vec<u8>, Fetch> {
    let file = fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Fetch::Missing(format!("{}: not found", path.display())),
        _ => Fetch::Failed(format!("{}: {e}", path.display())),
    })?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| Fetch::Failed(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > max {
        return Err(Fetch::Missing(format!("{}: larger than {max} bytes", path.display())));
    }
    Ok(bytes)
}

/// The client of an http(s) source, every setting explicit. `https`: refuse anything but
/// https; `roots`: the CAs trusted for the server's certificate.
fn agent(https: bool, roots: RootCerts) -> ureq::Agent {
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        // ring, the provider ureq's `rustls` feature builds, named rather than picked up
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots)
        .client_cert(None)
        .use_sni(true)
        .disable_verification(false)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .https_only(https)
        // No redirect is followed (a 3xx is returned and refused by `fetch_http`).
        .max_redirects(0)
        .max_redirects_will_error(true)
        .redirect_auth_headers(RedirectAuthHeaders::Never)
        .save_redirect_history(false)
        // Statuses are read by `fetch_http`: 404 and 410 are a missing file.
        .http_status_as_error(false)
        // The proxy of the environment (HTTPS_PROXY, ALL_PROXY, NO_PROXY...), as curl does.
        .proxy(ureq::Proxy::try_from_env())
        .ip_family(IpFamily::Any)
        .no_delay(true)
        .user_agent(concat!("qledger/", env!("CARGO_PKG_VERSION")))
        .accept("*/*")
        .accept_encoding(AutoHeaderValue::None)
        .timeout_global(Some(Duration::from_secs(FETCH_TIMEOUT_SECS)))
        .timeout_per_call(None)
        .timeout_resolve(None)
        .timeout_connect(None)
        .timeout_send_request(None)
        .timeout_await_100(None)
        .timeout_send_body(None)
        .timeout_recv_response(None)
        .timeout_recv_body(None)
        .timeout_per_read(None)
        .timeout_per_write(None)
        .max_response_header_size(64 * 1024)
        .input_buffer_size(128 * 1024)
        .output_buffer_size(128 * 1024)
        .max_idle_connections(10)
        .max_idle_connections_per_host(3)
        .max_idle_age(Duration::from_secs(15))
        .allow_non_standard_methods(false)
        .build()
        .into()
}

/// The CA certificates of a `--ca-file`: every PEM `CERTIFICATE` in it (other PEM items, a
/// private key say, are not trust anchors and are skipped), each checked as rustls will use
/// it. A file that cannot be read, is larger than [`CA_FILE_BYTES_MAX`], is not PEM, or holds
/// no certificate or a broken one is bad input.
pub fn read_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, AuditError> {
    let bad = |what: String| AuditError::Input(format!("--ca-file {}: {what}", path.display()));
    let bytes = super::read_input_file(path, CA_FILE_BYTES_MAX, bad)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        if let PemItem::Certificate(cert) = item.map_err(|e| bad(format!("not PEM: {}", pem_problem(&e))))? {
            rustls::RootCertStore::empty().add(rustls::pki_types::CertificateDer::from(cert.der())).map_err(|e| {
                let problem = match e {
                    rustls::Error::InvalidCertificate(e) => e.to_string(),
                    e => e.to_string(),
                };
                bad(format!("certificate {} is not a usable X.509 certificate: {problem}", certs.len() + 1))
            })?;
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(certs)
}

/// What is wrong with a PEM file, in words (the parser's own text shows bytes as numbers).
fn pem_problem(e: &ureq::Error) -> String {
    use rustls::pki_types::pem::Error as Pem;
    match e {
        ureq::Error::Pem(Pem::MissingSectionEnd { .. }) => "a section has no END line".into(),
        ureq::Error::Pem(Pem::IllegalSectionStart { .. }) => "a malformed BEGIN line".into(),
        ureq::Error::Pem(Pem::Base64Decode(_)) => "a section is not base64".into(),
        e => e.to_string(),
    }
}

/// Whether the server's certificate chains to no CA trusted (rustls's error, as ureq gives it
/// directly or inside an I/O error).
fn unknown_issuer(e: &ureq::Error) -> bool {
    let rustls_error = match e {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    matches!(rustls_error, Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)))
}

fn fetch_http(agent: &ureq::Agent, url: &str, max: u64) -> Result<Vec<u8>, Fetch> {
    let mut response = agent.get(url).call().map_err(|e| {
        let hint = if unknown_issuer(&e) {
            " (a log whose certificate is from your own CA: give that CA with --ca-file)"
        } else {
            ""
        };
        Fetch::Failed(format!("{url}: {e}{hint}"))
    })?;
    let status = response.status().as_u16();
    if status == 404 || status == 410 {
        return Err(Fetch::Missing(format!("{url}: HTTP {status}")));
    }
    if (300..400).contains(&status) {
        let to = response.headers().get("location").map_or("nowhere".to_owned(), |v| {
            v.to_str().map_or("(not text)".to_owned(), |t| t.chars().take(LOCATION_CHARS_MAX).collect())
        });
        return Err(Fetch::Failed(format!(
            "{url}: HTTP {status} redirect to {to} refused: audit follows no redirect (give the log's own URL)"
        )));
    }
    if status != 200 {
        return Err(Fetch::Failed(format!("{url}: HTTP {status}")));
    }
    response.body_mut().with_config().limit(max).read_to_vec().map_err(|e| Fetch::Missing(format!("{url}: {e}")))
}

/// What a successful audit saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// The log.
    pub origin: String,
    /// The tree size verified.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
    /// The size of the last checkpoint verified before, if any.
    pub previous: Option<u64>,
    /// Entries re-hashed (`--full`).
    pub entries: Option<u64>,
}

/// Audits the log at `source` with the verifier key `key`; `state_dir` is the user's state
/// directory ([`user_state_dir`]).
pub fn audit(source: &Source, key: &VerifierKey, full: bool, state_dir: &Path) -> Result<AuditReport, AuditError> {
    let note = source.fetch("checkpoint", NOTE_BYTES_MAX as u64).map_err(|e| match e {
        Fetch::Missing(m) => AuditError::Input(format!("no checkpoint: {m}")),
        Fetch::Failed(m) => AuditError::Unreachable(m),
    })?;
    let (cp, claims) = open(&note, key).map_err(AuditError::Rejected)?;
    let note = String::from_utf8_lossy(&note).into_owned();
    let unreachable = Cell::new(false);
    let fetch = Fetcher { source, unreachable: &unreachable };
    let mut tiles = TileNodeSource::new(fetch, cp.size);
    let caught = |what: String, evidence: String| {
        if unreachable.get() {
            AuditError::Unreachable(what)
        } else {
            AuditError::Misbehaviour { what, evidence }
        }
    };
    let root =
        merkle::root::<Sha256, _>(&mut tiles, cp.size).map_err(|e| caught(format!("tiles: {e}"), note.clone()))?;
    if root != cp.root {
        return Err(caught("the published hash tiles do not give the checkpoint's root".into(), note));
    }
    let kept = kept_path(state_dir, &cp.origin);
    let previous = match read_kept(&kept)? {
        None => None,
        Some(old_note) => {
            let evidence = format!("previously verified checkpoint:\n{old_note}\nnew checkpoint:\n{note}");
            let (old, _) = open(old_note.as_bytes(), key).map_err(|e| AuditError::Misbehaviour {
                what: format!("the checkpoint kept for {} does not open with this key: {e}", cp.origin),
                evidence: evidence.clone(),
            })?;
            check_consistent(&old, &cp, &mut tiles).map_err(|what| caught(what, evidence))?;
            Some(old.size)
        }
    };
    let entries =
        if full { Some(full_check(&fetch, &cp, &claims).map_err(|what| caught(what, note.clone()))?) } else { None };
    if previous.is_none_or(|old| cp.size >= old) {
        keep(&kept, &note)?;
    }
    Ok(AuditReport { origin: cp.origin, size: cp.size, root: b64(&cp.root), previous, entries })
}

fn open(note: &[u8], key: &VerifierKey) -> Result<(Checkpoint, Claims), String> {
    let opened = open_checkpoint(note, key.name(), key).map_err(|e| format!("checkpoint: {e}"))?;
    let claims = Claims::parse(&opened.checkpoint.extensions).map_err(|e| format!("checkpoint: {e}"))?;
    Ok((opened.checkpoint, claims))
}

/// The new checkpoint must extend the old one: same size and root, or a larger tree with a
/// consistency proof from the tiles.
fn check_consistent<R: TileReader>(
    old: &Checkpoint,
    new: &Checkpoint,
    tiles: &mut TileNodeSource<R>,
) -> Result<(), String> {
    if new.size < old.size {
        return Err(format!(
            "rollback: the log shows a tree of {} records after one of {} was verified",
            new.size, old.size
        ));
    }
    if new.size == old.size {
        return if new.root == old.root {
            Ok(())
        } else {
            Err(format!("fork: two checkpoints of size {} with different roots", new.size))
        };
    }
    if old.size == 0 {
        return Ok(());
    }
    let proof = merkle::prove_consistency::<Sha256, _>(tiles, old.size, new.size)
        .map_err(|e| format!("fork or bad proof: no consistency proof from size {} to {}: {e}", old.size, new.size))?;
    old.verify_consistency(new, &proof).map_err(|e| {
        format!("fork: the tree of size {} is not a prefix of the tree of size {}: {e}", old.size, new.size)
    })
}

/// A source, and where its fetches note that it could not be reached (the hash tiles of the
/// root and consistency checks, and `--full`'s re-hash).
#[derive(Clone, Copy)]
struct Fetcher<'a> {
    source: &'a Source,
    unreachable: &'a Cell<bool>,
}

impl TileReader for Fetcher<'_> {
    type Error = String;
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, String> {
        self.source.fetch_noting(&tile.path(), TILE_BYTES_MAX, self.unreachable)
    }
}

impl Fetcher<'_> {
    fn fetch(&self, what: &str, rel: &str, max: u64) -> Result<Vec<u8>, String> {
        self.source.fetch_noting(rel, max, self.unreachable).map_err(|m| format!("{what}: {m}"))
    }
}

/// Re-hashes every entry: tree root, chain, head hash and quota-state root. Returns the
/// entries checked.
fn full_check(source: &Fetcher<'_>, cp: &Checkpoint, claims: &Claims) -> Result<u64, String> {
    let mut edge = Edge::default();
    let mut state = QuotaState::default();
    let mut prev = chain::GENESIS_PREV;
    let mut tiles = ExpectedTiles::default();
    for bundle in new_entry_bundles(0, cp.size) {
        let data = source.fetch("entry bundle", &bundle.path(), ENTRY_BUNDLE_BYTES_MAX)?;
        let entries = decode_entry_bundle(&data, bundle.width).map_err(|e| format!("{}: {e}", bundle.path()))?;
        for entry in entries {
            let seq = edge.size();
            let hashes = edge.push(Sha256::hash_leaf(entry)).map_err(|e| e.to_string())?;
            tiles.add(source, &hashes)?;
            let record = Record::decode(entry).map_err(|e| format!("entry {seq} is not a canonical record: {e}"))?;
            if record.seq() != seq || record.prev() != prev {
                return Err(format!("entry {seq}: the chain is broken (seq or link)"));
            }
            prev = chain::record_hash(entry);
            state.apply(&record.into_fact().map_err(|e| format!("entry {seq}: {e}"))?);
        }
    }
    if edge.root() != cp.root {
        return Err("the entries do not give the checkpoint's root".into());
    }
    tiles.finish(source)?;
    if claims_of(&state, prev) != *claims {
        return Err("the entries do not give the checkpoint's head hash and quota-state root".into());
    }
    Ok(edge.size())
}

/// The hash tiles the entries imply, compared with the published ones as each fills up
/// (and the partial ones at the end): one tile of hashes per tile level in memory.
#[derive(Default)]
struct ExpectedTiles {
    /// Per tile level: the index of the tile being filled and its hashes so far.
    levels: Vec<(u64, Vec<u8>)>,
}

impl ExpectedTiles {
    /// The stored hashes of one leaf (`hashes[l]` is a node of tree level `l`).
    fn add(&mut self, source: &Fetcher<'_>, hashes: &[crate::tlog::merkle::Hash]) -> Result<(), String> {
        for (level, hash) in hashes.iter().enumerate().step_by(TILE_HEIGHT as usize) {
            let tile_level = level / TILE_HEIGHT as usize;
            if self.levels.len() == tile_level {
                self.levels.push((0, Vec::with_capacity(TILE_BYTES_MAX as usize)));
            }
            let (index, data) = &mut self.levels[tile_level];
            data.extend_from_slice(hash);
            if data.len() as u64 == TILE_BYTES_MAX {
                compare_tile(source, tile_level, *index, data)?;
                *index += 1;
                data.clear();
            }
        }
        Ok(())
    }

    /// Compares the partial tiles left at the end.
    fn finish(&self, source: &Fetcher<'_>) -> Result<(), String> {
        for (tile_level, (index, data)) in self.levels.iter().enumerate() {
            if !data.is_empty() {
                compare_tile(source, tile_level, *index, data)?;
            }
        }
        Ok(())
    }
}

fn compare_tile(source: &Fetcher<'_>, tile_level: usize, index: u64, expected: &[u8]) -> Result<(), String> {
    let width = (expected.len() / HASH_BYTES) as u16;
    let tile = Tile { level: TileLevel::Hashes(tile_level as u8), index, width };
    let found = source.fetch("hash tile", &tile.path(), TILE_BYTES_MAX)?;
    if found != expected {
        return Err(format!("{} is not the tile the entries give", tile.path()));
    }
    Ok(())
}

/// `$XDG_STATE_HOME/qledger/audit`, else `$HOME/.local/state/qledger/audit`.
pub fn user_state_dir() -> Result<PathBuf, AuditError> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let base = std::env::var_os("XDG_STATE_HOME")
        .and_then(absolute)
        .or_else(|| std::env::var_os("HOME").and_then(absolute).map(|h| h.join(".local/state")))
        .ok_or_else(|| AuditError::Input("neither XDG_STATE_HOME nor HOME names a directory".into()))?;
    Ok(base.join(STATE_SUBDIR))
}

fn kept_path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir.join(format!("{}.checkpoint", chain::hex(&Sha256::digest(&[origin.as_bytes()]))))
}

fn read_kept(path: &Path) -> Result<Option<String>, AuditError> {
    match fetch_file(path, NOTE_BYTES_MAX as u64) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| AuditError::Input(format!("{} is not a checkpoint", path.display()))),
        Err(Fetch::Missing(m)) if !path.exists() => {
            let _ = m;
            Ok(None)
        }
        Err(Fetch::Missing(m) | Fetch::Failed(m)) => Err(AuditError::Unreachable(m)),
    }
}

/// Keeps `note` as the last verified checkpoint: owner-only, temporary file and rename, synced.
fn keep(path: &Path, note: &str) -> Result<(), AuditError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| AuditError::Unreachable(format!("keeping the checkpoint in {}: {e}", dir.display()));
    create_dir(dir).map_err(fail)?;
    let tmp = temp_path(dir);
    let written = create_new_file(&tmp).and_then(|mut f| {
        f.write_all(note.as_bytes())?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)
}
