//! The facade the CLI uses: open a ledger (to read, or to write), append a batch of events,
//! verify, read records and quota states. It joins the pure parts (`domain`, `format`) to the
//! store.
//!
//! - `append`: rules, encoding, hashing, blocks, the commit, the derived data.
//! - `read`: the record stream every reader uses (one reader loop).
//! - `verify`: the whole chain, the snapshots, the rules and the index, trusting nothing.

mod append;
mod audit;
mod read;
mod verify;

pub use append::{DryRun, Prepared};
pub use read::Records;

use crate::domain::{Context, Event, Fact, OrderRow, QuotaState, Refusal, Target, Timestamp};
use crate::format::chain::{self, Fault};
use crate::format::codec::{self, DecodeError};
use crate::format::index_run::{digest, Digest, IndexValueV1, KEY_EVENT_BYTES};
use crate::format::record::WireEvent;
use crate::format::snapshot::{OrderRowV2, QuotaSnapshotV2};
use crate::jsonl::InputError;
use crate::store::disk::Disk;
use crate::store::index::Index;
use crate::store::writer::Writer;
use crate::store::{self, snapshots, Layout, OpenMode, StoreError};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// The BLAKE3 `derive_key` context of event digests kept for idempotency keys.
pub const EVENT_DIGEST_CONTEXT: &str = "quotaledger 2026-11-28 event digest v1";

static EVENT_KEY: chain::DeriveKey = chain::DeriveKey::new(EVENT_DIGEST_CONTEXT);

/// The ledger's integrity is broken: the first bad place and what is wrong there.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityError {
    /// A record fails its checks.
    #[error("integrity failure at seq {seq}: {fault}")]
    Record {
        /// The first bad seq.
        seq: u64,
        /// What is wrong.
        fault: Fault,
    },
    /// The chain's files are damaged (framing, checksum, a missing part).
    #[error("integrity failure {}{what}", seq.map(|s| format!("at seq {s}: ")).unwrap_or_else(|| ": ".into()))]
    Damaged {
        /// The first seq concerned, if known.
        seq: Option<u64>,
        /// What is wrong.
        what: String,
    },
    /// The commit point disagrees with the records.
    #[error("integrity failure at seq {seq}: head mismatch: {what}")]
    Head {
        /// The first seq where head and records disagree.
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// A persisted snapshot disagrees with a fresh replay.
    #[error("integrity failure: quota snapshot after {records} records differs from a fresh replay")]
    Snapshot {
        /// Records the snapshot claims to cover.
        records: u64,
    },
    /// A record breaks a rule, or carries another context than the rules resolve.
    #[error("integrity failure at seq {seq}: the record breaks the rules: {what}")]
    RuleBroken {
        /// The first bad seq.
        seq: u64,
        /// Which rule, how.
        what: String,
    },
    /// The stored index differs from one rebuilt from the records.
    #[error("integrity failure: the index differs from a rebuild from the records: {what}")]
    Index {
        /// How.
        what: String,
    },
    /// `--expect-head`: no record on the chain has this hash.
    #[error("integrity failure: no record on the chain has hash {0} (the ledger was truncated or rewritten since)")]
    NotOnChain(String),
    /// The stored Merkle tree differs from the tree of the records (issue 10).
    #[error("integrity failure{}: Merkle tree: {what}", seq.map(|s| format!(" at seq {s}")).unwrap_or_default())]
    Tree {
        /// The first leaf concerned, if known.
        seq: Option<u64>,
        /// What is wrong.
        what: String,
    },
    /// A stored checkpoint does not check against the records (issue 10).
    #[error("integrity failure: checkpoint of size {size}: {what}")]
    Checkpoint {
        /// The tree size it signs.
        size: u64,
        /// What is wrong.
        what: String,
    },
    /// A stored value besides a record does not decode.
    #[error("integrity failure: stored {what} is undecodable ({error})")]
    Undecodable {
        /// Which value.
        what: &'static str,
        /// Why.
        error: DecodeError,
    },
}

impl IntegrityError {
    /// The first bad seq, when the failure has one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            IntegrityError::Record { seq, .. }
            | IntegrityError::Head { seq, .. }
            | IntegrityError::RuleBroken { seq, .. } => Some(*seq),
            IntegrityError::Damaged { seq, .. } | IntegrityError::Tree { seq, .. } => *seq,
            _ => None,
        }
    }
}

/// Why an operation on a ledger failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// An input line is malformed (exit 1).
    #[error(transparent)]
    Input(#[from] InputError),
    /// An event was refused by a rule (exit 1).
    #[error("line {line}: {event_type} {subject}: {refusal} [field {f}, rule {r}]", f = refusal.field, r = refusal.reason.as_str())]
    Refused {
        /// 1-based input line.
        line: u64,
        /// The event's type.
        event_type: &'static str,
        /// The id the event is about.
        subject: String,
        /// The rule and field.
        refusal: Refusal,
    },
    /// The input holds nothing to append (exit 1).
    #[error("{0}")]
    Empty(String),
    /// Integrity failure (exit 3).
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// Storage failure (exit 4).
    #[error(transparent)]
    Store(StoreError),
    /// The records were committed, but updating derived data failed (exit 4): the next
    /// writer catches it up from the chain.
    #[error("appended {appended} records (head {head}), but updating the derived data failed: {error}; the next append or `qledger reindex` rebuilds it")]
    DerivedFailed {
        /// Records committed.
        appended: u64,
        /// The new head hash, hex.
        head: String,
        /// What failed.
        error: StoreError,
    },
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> LedgerError {
        match e {
            StoreError::Damaged { seq, what } => LedgerError::Integrity(IntegrityError::Damaged { seq, what }),
            e => LedgerError::Store(e),
        }
    }
}

impl LedgerError {
    /// The documented exit code: 1 refused or bad input, 3 integrity, 4 storage.
    pub fn exit_code(&self) -> u8 {
        match self {
            LedgerError::Input(_) | LedgerError::Refused { .. } | LedgerError::Empty(_) => 1,
            LedgerError::Integrity(_) => 3,
            LedgerError::Store(_) | LedgerError::DerivedFailed { .. } => 4,
        }
    }
}

/// The head of a ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Number of records.
    pub records: u64,
    /// Hash of the last record (zeros for an empty ledger).
    pub last_hash: [u8; 32],
}

impl Head {
    /// The seq of the last record, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.records.checked_sub(1)
    }
}

/// What `append` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendReport {
    /// Records appended.
    pub appended: u64,
    /// `(line, key, seq)` of events skipped because their key and event were already recorded.
    pub skipped: Vec<(u64, String, u64)>,
    /// `(line, rule)` of the refusals appended as `refused` records (`record_refusals`).
    pub refusals: Vec<(u64, &'static str)>,
    /// The head after the call.
    pub head: Head,
}

/// How one `append` call admits its events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendOptions {
    /// Accept events whose `at` lies further ahead of the clock than the ledger's margin.
    pub allow_future: bool,
    /// Append each refused event (or unreadable line) as a `refused` record instead of
    /// refusing the whole call.
    pub record_refusals: bool,
    /// The ledger clock for this call instead of the system's (`recorded_at` and the future
    /// margin): for the demo's fictional story, so that its hashes are the same everywhere.
    pub clock: Option<Timestamp>,
}

/// What a successful `verify` checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// Blocks read.
    pub blocks: u64,
    /// Whether every record was checked against the rules and the index rebuilt.
    pub rules: bool,
    /// Index entries found equal to their rebuild.
    pub index_entries: u64,
    /// Persisted snapshots compared with the replay (the head snapshot included).
    pub snapshots: u64,
    /// The verified head.
    pub head: Head,
    /// With `--expect-head`: the seq of the record with that hash.
    pub expected_seq: Option<u64>,
    /// Records the stored index covers (it may lag the head after a crash; the next writer
    /// catches it up).
    pub index_records: u64,
    /// Leaves of the stored Merkle tree compared with the tree of the records (it may lag the
    /// head after a crash, like the index).
    pub tree_leaves: u64,
    /// Stored checkpoints checked: signature, root, head hash and quota-state root.
    pub checkpoints: u64,
}

/// One record read back: its seq, decoded fact, hash and canonical bytes.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// Position.
    pub seq: u64,
    /// The fact.
    pub fact: Fact,
    /// The previous record's hash.
    pub prev: [u8; 32],
    /// Its hash.
    pub hash: [u8; 32],
    /// Its canonical bytes (what the hash covers); empty from [`Records::unhashed`].
    pub bytes: Vec<u8>,
}

/// How much `verify` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Hashes, links, head and snapshots.
    Chain,
    /// Also every record against the rules in force when it was appended, with the order and
    /// key index rebuilt (in temporary run files, bounded memory) and compared with the stored
    /// one.
    Rules,
}

/// A point in history for `state --as-of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// After the record with this seq.
    Seq(u64),
    /// After every record with `at <= this`.
    Time(Timestamp),
}

/// An open ledger: for reading (no lock, nothing written), or locked for writing.
#[derive(Debug)]
pub struct Ledger {
    layout: Layout,
    disk: Arc<dyn Disk>,
    head: Head,
    /// Where the commit point says the committed blocks end: segment and length.
    end: (u64, u64),
    writer: Option<Writer>,
}

/// Digest of an event's canonical bytes, stamp aside: what an idempotency key remembers.
pub fn event_digest(event: &Event) -> [u8; 32] {
    thread_local! {
        // Reused: a Vec grown from empty for each event's encoding took about a tenth of the
        // parse thread's instructions in a bulk append (callgrind).
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        codec::encode_into(&WireEvent::from(event.clone()), bytes);
        let mut h = EVENT_KEY.hasher();
        h.update(bytes);
        *h.finalize().as_bytes()
    })
}

fn short(d: &[u8; 32]) -> [u8; KEY_EVENT_BYTES] {
    let mut s = [0u8; KEY_EVENT_BYTES];
    s.copy_from_slice(&d[..KEY_EVENT_BYTES]);
    s
}

impl Ledger {
    /// Opens the ledger at `dir` for writing (creating it if `mode` says so), waiting up to
    /// `wait` for another writer; recovers an interrupted append and catches up derived data.
    pub fn open(dir: &Path, mode: OpenMode, wait: Option<Duration>) -> Result<Ledger, LedgerError> {
        Ledger::open_on(dir, mode, wait, store::real_disk())
    }

    /// [`Ledger::open`] with the chain on `disk` (a simulated disk in tests).
    pub fn open_on(
        dir: &Path,
        mode: OpenMode,
        wait: Option<Duration>,
        disk: Arc<dyn Disk>,
    ) -> Result<Ledger, LedgerError> {
        // The writer refuses a commit point the chain does not bear out before it recovers or
        // touches anything (`store::recovery::check_commit_point`).
        let writer = Writer::open(dir, mode, wait, disk.clone())?;
        let slot = writer.head();
        let mut ledger = Ledger {
            layout: Layout::new(dir),
            disk,
            head: Head { records: slot.records, last_hash: slot.last_hash },
            end: (slot.segment_first_seq, slot.segment_len),
            writer: Some(writer),
        };
        ledger.catch_up()?;
        Ok(ledger)
    }

    /// Opens the ledger at `dir` for reading: no lock, nothing written; it sees the prefix
    /// committed when it opened.
    pub fn open_read(dir: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_read_on(dir, store::real_disk())
    }

    /// [`Ledger::open_read`] with the chain on `disk`.
    pub fn open_read_on(dir: &Path, disk: Arc<dyn Disk>) -> Result<Ledger, LedgerError> {
        store::check_ledger(dir)?;
        let slot = store::read_commit_point(disk.as_ref(), dir)?;
        Ok(Ledger {
            layout: Layout::new(dir),
            disk,
            head: Head { records: slot.records, last_hash: slot.last_hash },
            end: (slot.segment_first_seq, slot.segment_len),
            writer: None,
        })
    }

    /// The head (the commit point this handle reads up to).
    pub fn head(&self) -> Head {
        self.head
    }

    /// What recovery did when this writer opened (nothing for a reader).
    pub fn recovered(&self) -> Option<crate::store::recovery::Recovered> {
        self.writer.as_ref().map(|w| w.recovered.clone())
    }

    /// The quota state at the head: the head snapshot if it matches the head, else the
    /// nearest earlier snapshot and the records after it.
    pub fn state(&self) -> Result<QuotaState, LedgerError> {
        if let Some(Ok(bytes)) = snapshots::read_head(&self.layout.snapshots())? {
            if let Ok((state, hash)) = QuotaSnapshotV2::decode(&bytes) {
                if state.records == self.head.records && hash == self.head.last_hash {
                    return Ok(state);
                }
            }
        }
        self.state_replayed_from_snapshot(self.head.records, None)
    }

    /// The quota state at the head or after `as_of`, replayed from the first record, using no
    /// snapshot: what an auditor runs to recompute the state from the records alone.
    pub fn state_replayed(&self, as_of: Option<AsOf>) -> Result<QuotaState, LedgerError> {
        let mut state = QuotaState::default();
        let stop = match as_of {
            Some(AsOf::Seq(n)) => n.saturating_add(1).min(self.head.records),
            _ => self.head.records,
        };
        let time = match as_of {
            Some(AsOf::Time(t)) => Some(t),
            _ => None,
        };
        self.replay_into(&mut state, stop, time)?;
        Ok(state)
    }

    /// Applies records from `state.records` up to (not including) `stop`; with `time`, only
    /// those whose effective time is at or before it (a record after it is passed over but
    /// counted, so `records` stays a position). The walk stops at the first record after
    /// `time` unless the ledger holds late entries, which may lie before `time` further on.
    fn replay_into(&self, state: &mut QuotaState, stop: u64, time: Option<Timestamp>) -> Result<(), LedgerError> {
        if state.records >= stop {
            return Ok(());
        }
        let late_ahead = time.is_some() && self.state()?.late_entries > state.late_entries;
        Records::unhashed(self, state.records, stop)?.try_for_each_ref(|r| {
            if time.is_some_and(|t| r.fact.stamp.at > t) {
                if !late_ahead {
                    return ControlFlow::Break(());
                }
                state.pass_over();
                return ControlFlow::Continue(());
            }
            state.apply(&r.fact);
            ControlFlow::Continue(())
        })?;
        Ok(())
    }

    /// How many records the ledger had recorded by `t`: the longest prefix whose records'
    /// ledger clock (`recorded_at`; `at` for records of format 1, which kept none) is at or
    /// before `t`. The clock never goes backwards, so this is a binary search.
    pub fn known_records(&self, t: Timestamp) -> Result<u64, LedgerError> {
        let source = RecordSource::of(self);
        let (mut lo, mut hi) = (0u64, self.head.records);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if source.recorded_at(mid)? <= t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The quota state of what had been recorded by `known_at`, at the head of that prefix or
    /// after `as_of` within it ("what did the ledger say on 1 March about 15 February").
    pub fn state_known_at(&self, known_at: Timestamp, as_of: Option<AsOf>) -> Result<QuotaState, LedgerError> {
        let known = self.known_records(known_at)?;
        match as_of {
            None => self.state_replayed_from_snapshot(known, None),
            Some(AsOf::Seq(n)) => self.state_replayed_from_snapshot(known.min(n.saturating_add(1)), None),
            Some(AsOf::Time(t)) => self.state_replayed_from_snapshot(known, Some(t)),
        }
    }

    /// The quota state after a point in history, replayed from the nearest earlier snapshot.
    pub fn state_as_of(&self, as_of: AsOf) -> Result<QuotaState, LedgerError> {
        match as_of {
            AsOf::Seq(seq) => {
                let records = seq.saturating_add(1).min(self.head.records);
                if records == self.head.records {
                    return self.state();
                }
                self.state_replayed_from_snapshot(records, None)
            }
            AsOf::Time(t) => {
                let head_state = self.state()?;
                if head_state.last_at.is_none_or(|last| last <= t) {
                    return Ok(head_state);
                }
                self.state_replayed_from_snapshot(self.head.records, Some(t))
            }
        }
    }

    /// The nearest usable periodic snapshot at or before `records` (and, with `time`, whose
    /// last record is not after it), then the records after it.
    fn state_replayed_from_snapshot(&self, records: u64, time: Option<Timestamp>) -> Result<QuotaState, LedgerError> {
        let dir = self.layout.snapshots();
        let mut state = QuotaState::default();
        for n in snapshots::list_periodic(&dir)?.into_iter().rev().filter(|&n| n <= records) {
            let Some(Ok(bytes)) = snapshots::read_periodic(&dir, n)? else { continue };
            let Ok((s, hash)) = QuotaSnapshotV2::decode(&bytes) else { continue };
            let fits_time = time.is_none_or(|t| s.last_at.is_none_or(|at| at <= t));
            if s.records == n && fits_time && self.hash_matches(n, &hash)? {
                state = s;
                break;
            }
        }
        self.replay_into(&mut state, records, time)?;
        Ok(state)
    }

    /// Whether the record before position `records` has this hash (checked by its locator: a
    /// reader's guard against a stale snapshot, not a proof; `verify` compares whole hashes).
    fn hash_matches(&self, records: u64, hash: &[u8; 32]) -> Result<bool, LedgerError> {
        if records == self.head.records {
            return Ok(*hash == self.head.last_hash);
        }
        let Some(seq) = records.checked_sub(1) else { return Ok(*hash == chain::GENESIS_PREV) };
        Ok(read::locator_of(self, seq)? == hash[..8])
    }

    /// Streams records from `from` (inclusive) to the head, each with its hash (recomputed
    /// from the block's link, and checked against its stored locator).
    pub fn records(&self, from: u64) -> Result<Records, LedgerError> {
        Records::hashed(self, from, self.head.records)
    }

    /// Rebuilds every derived file from the chain: the index, the sled metadata, the
    /// snapshots. Returns the records indexed.
    pub fn reindex(&mut self) -> Result<u64, LedgerError> {
        let writer = self.writer.as_mut().expect("reindex needs a writer");
        writer.reset_index()?;
        self.catch_up_from(0, true)?;
        self.rebuild_tree()?;
        Ok(self.head.records)
    }

    /// Brings the index up to the head and the head snapshot up to date.
    fn catch_up(&mut self) -> Result<(), LedgerError> {
        let covered = self.writer.as_ref().map_or(self.head.records, |w| w.index_ref().manifest().records);
        let snapshot_ok = match snapshots::read_head(&self.layout.snapshots())? {
            Some(Ok(bytes)) => QuotaSnapshotV2::decode(&bytes)
                .is_ok_and(|(s, h)| s.records == self.head.records && h == self.head.last_hash),
            _ => self.head.records == 0,
        };
        if self.set_aside_stale_snapshots()? {
            // Written by a version whose snapshots had another format: derived data, rebuilt.
            self.catch_up_from(covered, true)?;
        } else if covered < self.head.records || !snapshot_ok {
            self.catch_up_from(covered, false)?;
        }
        self.catch_up_tree()
    }

    /// Moves every periodic snapshot of an older snapshot format into `recovered/` (kept, not
    /// deleted); whether there was one.
    fn set_aside_stale_snapshots(&self) -> Result<bool, LedgerError> {
        let dir = self.layout.snapshots();
        let mut any = false;
        for n in snapshots::list_periodic(&dir)? {
            let format = snapshots::periodic_format(&dir, n)?;
            if format.is_some_and(|f| f < crate::format::snapshot::SNAPSHOT_FORMAT) {
                snapshots::set_aside_periodic(&dir, n, &self.layout.dir.join(store::RECOVERED_DIR))?;
                any = true;
            }
        }
        Ok(any)
    }

    /// Replays records `from..head` into the index, then stores the index, the head snapshot
    /// and (with `periodic`) every periodic snapshot.
    fn catch_up_from(&mut self, from: u64, periodic: bool) -> Result<(), LedgerError> {
        let end = self.head.records;
        let mut state = QuotaState::default();
        let mut periodic_bytes = Vec::new();
        let records = if periodic { Records::hashed(self, 0, end)? } else { Records::unhashed(self, 0, end)? };
        let writer = self.writer.as_mut().expect("catch-up needs a writer");
        for item in records {
            let r = item?;
            if r.seq >= from {
                index_fact(writer.index(), &r.fact, r.seq)?;
            }
            state.apply(&r.fact);
            if periodic && state.records % crate::limits::SNAPSHOT_INTERVAL_RECORDS == 0 {
                periodic_bytes.push((state.records, codec::encode(&QuotaSnapshotV2::from_state(&state, r.hash))));
            }
        }
        let head_snapshot = codec::encode(&QuotaSnapshotV2::from_state(&state, self.head.last_hash));
        writer.update_derived(&head_snapshot, &periodic_bytes)?;
        Ok(())
    }
}

/// Updates the index for one accepted fact: its order's row, its idempotency key.
pub(crate) fn index_fact(index: &mut dyn Entries, fact: &Fact, seq: u64) -> Result<(), LedgerError> {
    let before = match fact.order() {
        Some(id) => order_row(index, id)?,
        None => None,
    };
    index_fact_after(index, before, fact, seq)
}

/// [`index_fact`] with the order's row before the fact already looked up.
pub(crate) fn index_fact_after(
    index: &mut dyn Entries,
    before: Option<OrderRow>,
    fact: &Fact,
    seq: u64,
) -> Result<(), LedgerError> {
    let order = fact.order().map(|id| digest(b'o', id));
    let key = fact.stamp.key.as_deref().map(|k| (digest(b'k', k), short(&event_digest(&fact.event))));
    index_derived(index, before, fact, seq, order, key)
}

/// [`index_fact_after`] with the digests of the fact's order and key already computed: the
/// order's row, the rows of the held orders a finalization settled, the mark of a corrected
/// shipment, the idempotency key.
pub(crate) fn index_derived(
    index: &mut dyn Entries,
    before: Option<OrderRow>,
    fact: &Fact,
    seq: u64,
    order: Option<Digest>,
    key: Option<(Digest, [u8; KEY_EVENT_BYTES])>,
) -> Result<(), LedgerError> {
    if let (Some((_, row)), Some(d)) = (OrderRow::after(fact, before), order) {
        put_order_at(index, d, &row)?;
    }
    if let Context::Resolved { opened, released, .. } = &fact.context {
        let ids = opened.iter().map(|o| (o, true)).chain(released.iter().map(|r| (&r.order, false)));
        for (id, open) in ids {
            if let Some(row) = order_row(index, id)? {
                put_order(index, id, &row.resolved(open))?;
            }
        }
    }
    if let Event::ShipmentCorrected { refers_to, .. } = &fact.event {
        index.put(correction_digest(*refers_to), IndexValueV1::Key { seq, event: [0; KEY_EVENT_BYTES] })?;
    }
    if let Some((kd, ed)) = key {
        index.put(kd, IndexValueV1::Key { seq, event: ed })?;
    }
    Ok(())
}

/// The per-event index as the rules' side sees it: the store's index, or an overlay that
/// keeps a dry run's changes in memory.
pub(crate) trait Entries {
    /// The entry under `d`.
    fn get(&self, d: &Digest) -> Result<Option<IndexValueV1>, StoreError>;
    /// Sets the entry under `d`.
    fn put(&mut self, d: Digest, value: IndexValueV1) -> Result<(), StoreError>;
}

impl Entries for Index {
    fn get(&self, d: &Digest) -> Result<Option<IndexValueV1>, StoreError> {
        Index::get(self, d)
    }

    fn put(&mut self, d: Digest, value: IndexValueV1) -> Result<(), StoreError> {
        Index::put(self, d, value)
    }
}

/// A dry run's index: reads through to the store's, keeps every change in memory.
pub(crate) struct Overlay<'a> {
    base: &'a Index,
    changes: std::collections::HashMap<Digest, IndexValueV1>,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(base: &'a Index) -> Overlay<'a> {
        Overlay { base, changes: std::collections::HashMap::new() }
    }
}

impl Entries for Overlay<'_> {
    fn get(&self, d: &Digest) -> Result<Option<IndexValueV1>, StoreError> {
        match self.changes.get(d) {
            Some(v) => Ok(Some(v.clone())),
            None => self.base.get(d),
        }
    }

    fn put(&mut self, d: Digest, value: IndexValueV1) -> Result<(), StoreError> {
        self.changes.insert(d, value);
        Ok(())
    }
}

/// Reads single committed records by seq (for the shipment a correction refers to).
pub(crate) struct RecordSource {
    disk: Arc<dyn Disk>,
    segments: std::path::PathBuf,
    tree: std::path::PathBuf,
}

impl RecordSource {
    /// The records of `ledger`.
    pub(crate) fn of(ledger: &Ledger) -> RecordSource {
        RecordSource { disk: ledger.disk.clone(), segments: ledger.layout.segments(), tree: ledger.layout.tree() }
    }

    /// The committed record at `seq`.
    fn fact(&self, seq: u64) -> Result<Fact, LedgerError> {
        let undecodable = |error| IntegrityError::Record { seq, fault: Fault::Undecodable(error) };
        let bytes = store::locate::record_bytes(self.disk.as_ref(), &self.segments, &self.tree, seq)?;
        Ok(crate::format::record::Record::decode(&bytes).and_then(|r| r.into_fact()).map_err(undecodable)?)
    }

    /// The ledger clock of the committed record at `seq` (`at` for format 1).
    pub(crate) fn recorded_at(&self, seq: u64) -> Result<Timestamp, LedgerError> {
        let fact = self.fact(seq)?;
        Ok(fact.stamp.recorded_at.unwrap_or(fact.stamp.at))
    }

    /// What a correction at `records` (the next seq) referring to `refers_to` finds: `None` if
    /// no record is there yet.
    pub(crate) fn target(
        &self,
        index: &dyn Entries,
        refers_to: u64,
        records: u64,
    ) -> Result<Option<Target>, LedgerError> {
        if refers_to >= records {
            return Ok(None);
        }
        let fact = self.fact(refers_to)?;
        let corrected_by = corrected_by(index, refers_to)?;
        Ok(Some(Target { seq: refers_to, shipment: shipment_of(&fact), at: Some(fact.stamp.at), corrected_by }))
    }
}

/// The order and units of a shipment or a shipment correction.
pub(crate) fn shipment_of(fact: &Fact) -> Option<(String, u64)> {
    match (&fact.event, &fact.context) {
        (Event::ShipmentRecorded { order, quantity }, _) => Some((order.clone(), *quantity)),
        (Event::ShipmentCorrected { quantity, .. }, Context::Correction { order, .. }) => {
            Some((order.clone(), *quantity))
        }
        _ => None,
    }
}

/// The index digest under which the correction of the record at `seq` is kept.
pub(crate) fn correction_digest(seq: u64) -> Digest {
    digest(b'c', &seq.to_string())
}

/// The seq of the correction of the record at `seq`, if it was corrected.
pub(crate) fn corrected_by(index: &dyn Entries, seq: u64) -> Result<Option<u64>, LedgerError> {
    Ok(key_at(index, &correction_digest(seq))?.map(|(by, _)| by))
}

/// The row of order `id`, if it was placed.
pub(crate) fn order_row(index: &dyn Entries, id: &str) -> Result<Option<OrderRow>, LedgerError> {
    order_at(index, &digest(b'o', id))
}

/// The row of the order with digest `d`.
pub(crate) fn order_at(index: &dyn Entries, d: &Digest) -> Result<Option<OrderRow>, LedgerError> {
    match index.get(d)? {
        None => Ok(None),
        Some(IndexValueV1::Order(r)) => Ok(Some(r.into_row())),
        Some(IndexValueV1::Order2(r)) => {
            r.into_row().map(Some).map_err(|e| IntegrityError::Undecodable { what: "index entry", error: e }.into())
        }
        Some(_) => Err(wrong_entry("an order entry holds a key")),
    }
}

/// The `(seq, event digest)` of idempotency key `key`, if it was used.
pub(crate) fn key_entry(index: &dyn Entries, key: &str) -> Result<Option<(u64, [u8; KEY_EVENT_BYTES])>, LedgerError> {
    key_at(index, &digest(b'k', key))
}

/// The `(seq, event digest)` of the key with digest `d`.
pub(crate) fn key_at(index: &dyn Entries, d: &Digest) -> Result<Option<(u64, [u8; KEY_EVENT_BYTES])>, LedgerError> {
    match index.get(d)? {
        None => Ok(None),
        Some(IndexValueV1::Key { seq, event }) => Ok(Some((seq, event))),
        Some(_) => Err(wrong_entry("a key entry holds an order")),
    }
}

fn wrong_entry(what: &str) -> LedgerError {
    IntegrityError::Undecodable { what: "index entry", error: DecodeError::Invalid(what.into()) }.into()
}

fn put_order(index: &mut dyn Entries, id: &str, row: &OrderRow) -> Result<(), LedgerError> {
    put_order_at(index, digest(b'o', id), row)
}

/// Stores the row of the order with digest `d`.
pub(crate) fn put_order_at(index: &mut dyn Entries, d: Digest, row: &OrderRow) -> Result<(), LedgerError> {
    let w = OrderRowV2::from_row(row);
    let wire = OrderRowV2 {
        licenses: w.licenses.into_iter().map(str::to_string).collect(),
        quantity: w.quantity,
        shipped: w.shipped,
        status: w.status,
        placed_at: w.placed_at,
    };
    index.put(d, IndexValueV1::Order2(wire))?;
    Ok(())
}

/// The short event digest kept with a key.
pub(crate) fn short_digest(event: &Event) -> [u8; KEY_EVENT_BYTES] {
    short(&event_digest(event))
}

fn refused(line: u64, event: &Event, refusal: Refusal) -> LedgerError {
    // Ids are bounded by the rules, but a refusal for a too-long id must not echo all of it.
    let subject = event.subject().chars().take(64).collect();
    LedgerError::Refused { line, event_type: event.type_name(), subject, refusal }
}
