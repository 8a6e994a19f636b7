//! The facade the CLI uses: open a ledger, append a batch of events, verify, read records and
//! quota states. It joins the pure parts (`domain`, `format`) to the store.

use crate::domain::{self, Admission, Event, Fact, OrderRow, QuotaState, Reason, Refusal, Timestamp};
use crate::format::block::{block_entries, BlockBuilder};
use crate::format::chain::{self, ChainCursor, Fault};
use crate::format::codec::{self, DecodeError};
use crate::format::record::{RecordV1, WireEvent};
use crate::format::snapshot::{HeadV1, KeyEntryV1, QuotaSnapshotV1};
use crate::format::FORMAT_VERSION;
use crate::index::{IndexError, IndexOverlay};
use crate::jsonl::{InputError, InputEvent};
use crate::limits::{
    APPEND_EVENTS_MAX, AT_FUTURE_MARGIN_SECS_DEFAULT, RECORD_BYTES_MAX, SNAPSHOT_INTERVAL_RECORDS, STAGE_BYTES_MAX,
};
use crate::store::{Commit, OpenMode, Store, StoreError};
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;
use thiserror::Error;

/// The BLAKE3 `derive_key` context of event digests kept for idempotency keys.
pub const EVENT_DIGEST_CONTEXT: &str = "quotaledger 2026-11-28 event digest v1";

static EVENT_HASHER: LazyLock<blake3::Hasher> = LazyLock::new(|| blake3::Hasher::new_derive_key(EVENT_DIGEST_CONTEXT));

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
    /// A block's key or framing is wrong.
    #[error("integrity failure at seq {seq}: {what}")]
    Block {
        /// The seq the block should start at (the first record not accounted for).
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// The stored head disagrees with the records.
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
    /// A record breaks a rule, or carries another context than the rules resolve: it was
    /// appended past the rules (e.g. after an edit of the derived index or snapshot).
    #[error("integrity failure at seq {seq}: the record breaks the rules: {what}")]
    RuleBroken {
        /// The first bad seq.
        seq: u64,
        /// Which rule, how.
        what: String,
    },
    /// A stored index bucket differs from the one rebuilt from the records.
    #[error("integrity failure: index bucket {bucket} differs from a rebuild from the records")]
    Index {
        /// The bucket.
        bucket: u16,
    },
    /// `--expect-head`: no record on the chain has this hash.
    #[error("integrity failure: no record on the chain has hash {0} (the ledger was truncated or rewritten since)")]
    NotOnChain(String),
    /// A stored value besides a record does not decode.
    #[error("integrity failure: stored {what} is undecodable ({error})")]
    Undecodable {
        /// Which value.
        what: &'static str,
        /// Why.
        error: DecodeError,
    },
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
    Store(#[from] StoreError),
}

impl LedgerError {
    /// The documented exit code: 1 refused or bad input, 3 integrity, 4 storage.
    pub fn exit_code(&self) -> u8 {
        match self {
            LedgerError::Input(_) | LedgerError::Refused { .. } | LedgerError::Empty(_) => 1,
            LedgerError::Integrity(_) => 3,
            LedgerError::Store(_) => 4,
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
    /// The head after the call.
    pub head: Head,
}

/// How one `append` call admits its events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendOptions {
    /// Accept events whose `at` lies further ahead of the clock than the ledger's margin.
    pub allow_future: bool,
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
    /// Stored index buckets found equal to their rebuild.
    pub index_buckets: u64,
    /// Persisted snapshots compared with the replay (the head snapshot included).
    pub snapshots: u64,
    /// The verified head.
    pub head: Head,
    /// With `--expect-head`: the seq of the record with that hash.
    pub expected_seq: Option<u64>,
    /// Blocks beyond the head left by an interrupted append (ignored; the next append removes
    /// them).
    pub uncommitted_blocks: u64,
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
    /// Its canonical bytes (what the hash covers).
    pub bytes: Vec<u8>,
}

/// How much `verify` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Hashes, links, head and snapshots: memory bounded by the largest block and snapshot.
    Chain,
    /// Also every record against the rules in force when it was appended (so a record appended
    /// through an edited index or snapshot is caught), and every stored index bucket against
    /// one rebuilt from the records. Holds the order and key index in memory.
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

/// An open ledger, locked for this process.
#[derive(Debug)]
pub struct Ledger {
    store: Store,
    head: Head,
}

fn decode_head(bytes: Option<sled::IVec>) -> Result<Head, LedgerError> {
    match bytes {
        None => Ok(Head { records: 0, last_hash: chain::GENESIS_PREV }),
        Some(b) => {
            let h = HeadV1::decode(&b).map_err(|error| IntegrityError::Undecodable { what: "head", error })?;
            Ok(Head { records: h.records, last_hash: h.last_hash })
        }
    }
}

/// Digest of an event's canonical bytes, stamp aside: what an idempotency key remembers.
pub fn event_digest(event: &Event) -> [u8; 32] {
    let bytes = codec::encode(&WireEvent::from(event.clone()));
    let mut h = EVENT_HASHER.clone();
    h.update(&bytes);
    *h.finalize().as_bytes()
}

impl Ledger {
    /// Opens the ledger at `dir` (creating it if `mode` says so), waiting up to `wait` for a
    /// busy ledger.
    pub fn open(dir: &Path, mode: OpenMode, wait: Option<Duration>) -> Result<Ledger, LedgerError> {
        let store = Store::open(dir, mode, wait)?;
        let head = decode_head(store.head()?)?;
        Ok(Ledger { store, head })
    }

    /// The head, as stored.
    pub fn head(&self) -> Head {
        self.head
    }

    /// The quota state at the head, from the persisted snapshot.
    pub fn state(&self) -> Result<QuotaState, LedgerError> {
        let Some(bytes) = self.store.head_snapshot()? else {
            if self.head.records == 0 {
                return Ok(QuotaState::default());
            }
            return Err(
                IntegrityError::Head { seq: 0, what: "the quota snapshot at the head is missing".into() }.into()
            );
        };
        let (state, last_hash) = QuotaSnapshotV1::decode(&bytes)
            .map_err(|error| IntegrityError::Undecodable { what: "quota snapshot", error })?;
        if state.records != self.head.records || last_hash != self.head.last_hash {
            return Err(IntegrityError::Head {
                seq: state.records.min(self.head.records),
                what: "the quota snapshot at the head does not match the head".into(),
            }
            .into());
        }
        Ok(state)
    }

    /// Appends a batch of parsed events, all or nothing. Each is checked against the state the
    /// ones before it leave; the first refusal or input error aborts the whole call and the
    /// ledger keeps its head and content.
    pub fn append(
        &mut self,
        events: impl IntoIterator<Item = Result<InputEvent, InputError>>,
    ) -> Result<AppendReport, LedgerError> {
        self.append_with(events, AppendOptions::default())
    }

    /// [`Ledger::append`] with options.
    pub fn append_with(
        &mut self,
        events: impl IntoIterator<Item = Result<InputEvent, InputError>>,
        options: AppendOptions,
    ) -> Result<AppendReport, LedgerError> {
        let mut staged = Vec::new();
        let result = self.append_inner(events, options, &mut staged);
        if result.is_err() && !staged.is_empty() {
            // Staged blocks lie beyond the head, invisible to readers; remove them now rather
            // than leave them to the next writer. A failure here changes nothing visible.
            let _ = self.store.unstage(&staged);
        }
        result
    }

    // --- admission (issue 8): the clock, the margin and the call's options ------------------

    /// How far ahead of the clock an event's `at` may lie: the ledger's setting.
    // The per-ledger setting is not stored yet: every ledger has the default.
    pub fn future_margin_secs(&self) -> u32 {
        AT_FUTURE_MARGIN_SECS_DEFAULT
    }

    /// The admission checks of one append call, at the system clock.
    fn admission(&self, options: AppendOptions) -> Admission {
        let now = Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc());
        Admission::new(now, self.future_margin_secs(), options.allow_future)
    }

    // --- end of admission -------------------------------------------------------------------

    fn append_inner(
        &mut self,
        events: impl IntoIterator<Item = Result<InputEvent, InputError>>,
        options: AppendOptions,
        staged: &mut Vec<u64>,
    ) -> Result<AppendReport, LedgerError> {
        let mut state = self.state()?;
        let mut admission = self.admission(options);
        let mut index = IndexOverlay::default();
        let mut remove_blocks = self.store.blocks_beyond(self.head.records)?;
        if let Some(&first) = remove_blocks.first() {
            // Only blocks an interrupted append staged from this very head may be removed; any
            // others mean the head was moved back or deleted: refuse, destroy nothing.
            if self.store.staging_marker()? != Some(self.head.records) {
                return Err(IntegrityError::Head { seq: first, what: beyond_head(self.head.records) }.into());
            }
        }
        let mut blocks: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut blocks_bytes = 0usize;
        let mut block = BlockBuilder::new();
        let mut block_first = self.head.records;
        let mut snapshots = Vec::new();
        let mut skipped = Vec::new();
        let mut prev = self.head.last_hash;
        let mut body = Vec::with_capacity(512);
        let mut seen = 0usize;
        for item in events {
            let InputEvent { line, stamp, event, flags } = item?;
            seen += 1;
            if seen > APPEND_EVENTS_MAX {
                return Err(LedgerError::Empty(format!(
                    "line {line}: one append takes at most {APPEND_EVENTS_MAX} events; split the input"
                )));
            }
            let mut digest = None;
            if let Some(key) = &stamp.key {
                let d = event_digest(&event);
                if let Some(entry) = index.key(Some(&self.store), key).map_err(index_error)? {
                    if entry.event_digest == d {
                        skipped.push((line, key.clone(), entry.seq));
                        continue;
                    }
                    let refusal = Refusal {
                        reason: Reason::KeyReused,
                        field: "key",
                        message: format!("key {key} was used at seq {} for a different event", entry.seq),
                    };
                    return Err(refused(line, &event, refusal));
                }
                digest = Some(d);
            }
            let order = match event.order() {
                None => None,
                Some(id) => index.order(Some(&self.store), id).map_err(index_error)?,
            };
            let context =
                admission.check(&state, order.as_ref(), &stamp, &event, flags).map_err(|r| refused(line, &event, r))?;
            let seq = state.records;
            let fact = Fact { stamp, event, context };
            self.update_index(&mut index, order, &fact, seq, digest)?;
            state.apply(&fact);
            let record = RecordV1::from_fact(seq, prev, fact);
            body.clear();
            codec::encode_into(&record, &mut body);
            // The field limits bound a record's size (see the const asserts in `limits`).
            assert!(body.len() <= RECORD_BYTES_MAX, "record of {} bytes passed the field limits", body.len());
            // Paired with the strict decode on read: what we write must read back as itself.
            debug_assert_eq!(codec::decode::<RecordV1>(&body, RECORD_BYTES_MAX).as_ref(), Ok(&record));
            let hash = chain::record_hash(&body);
            if !block.fits(body.len()) {
                let full = std::mem::take(&mut block).finish();
                blocks_bytes += full.len();
                blocks.push((block_first, full));
                block_first = seq;
                if blocks_bytes >= STAGE_BYTES_MAX {
                    // A large append writes its blocks ahead, beyond the head, to bound memory.
                    let firsts: Vec<u64> = blocks.iter().map(|(first, _)| *first).collect();
                    self.store.stage(std::mem::take(&mut blocks), &remove_blocks, self.head.records)?;
                    // Counted as staged only once written: a stage that failed wrote nothing
                    // (one batch), and unstaging would remove the marker that vouches for the
                    // blocks an earlier interrupted append left.
                    staged.extend(firsts);
                    remove_blocks.clear();
                    blocks_bytes = 0;
                }
            }
            block.push(&body, &hash);
            prev = hash;
            if state.records % SNAPSHOT_INTERVAL_RECORDS == 0 {
                snapshots.push((state.records, codec::encode(&QuotaSnapshotV1::from_state(&state, prev))));
            }
        }
        if seen == 0 {
            return Err(LedgerError::Empty("the input holds no events".to_string()));
        }
        let appended = state.records - self.head.records;
        if appended == 0 {
            return Ok(AppendReport { appended, skipped, head: self.head });
        }
        if block.count() > 0 {
            blocks.push((block_first, block.finish()));
        }
        let head = Head { records: state.records, last_hash: prev };
        let commit = Commit {
            blocks,
            head: codec::encode(&HeadV1 { format: FORMAT_VERSION, records: head.records, last_hash: head.last_hash }),
            head_snapshot: codec::encode(&QuotaSnapshotV1::from_state(&state, prev)),
            snapshots,
            index_buckets: index.encode_dirty(),
            remove_blocks,
        };
        self.store.commit(commit)?;
        staged.clear();
        self.head = head;
        Ok(AppendReport { appended, skipped, head })
    }

    fn update_index(
        &self,
        index: &mut IndexOverlay,
        before: Option<OrderRow>,
        fact: &Fact,
        seq: u64,
        digest: Option<[u8; 32]>,
    ) -> Result<(), LedgerError> {
        if let Some((id, row)) = OrderRow::after(&fact.event, before) {
            index.put_order(Some(&self.store), id, row).map_err(index_error)?;
        }
        if let (Some(key), Some(event_digest)) = (&fact.stamp.key, digest) {
            index.put_key(Some(&self.store), key, KeyEntryV1 { seq, event_digest }).map_err(index_error)?;
        }
        Ok(())
    }

    /// Recomputes every hash and link, checks the stored head and every persisted quota
    /// snapshot against a fresh replay; with `expect`, also that a record with that hash is on
    /// the chain.
    pub fn verify(&self, expect: Option<[u8; 32]>) -> Result<VerifyReport, LedgerError> {
        self.verify_with(expect, Depth::Rules)
    }

    /// [`Ledger::verify`] at a chosen depth.
    pub fn verify_with(&self, expect: Option<[u8; 32]>, depth: Depth) -> Result<VerifyReport, LedgerError> {
        let head = self.head;
        // With the rules, the order and key index is rebuilt in memory from the records.
        let mut rebuild = (depth == Depth::Rules).then(IndexOverlay::default);
        let mut periodic: Vec<(u64, sled::IVec)> = self.store.snapshots().collect::<Result<_, _>>()?;
        periodic.reverse(); // popped from the end in ascending order
        let mut snapshots_checked = 0u64;
        let mut state = QuotaState::default();
        let mut cursor = ChainCursor::genesis();
        let mut expected_seq = None;
        let mut blocks = 0u64;
        let mut uncommitted_blocks = 0u64;
        let staging = self.store.staging_marker()?;
        let mut computed = Vec::new();
        // Two threads: this one decodes, links and replays; a reader fetches blocks from sled
        // and hashes their records (reading and hashing cost about as much as the rest).
        let blocks_iter = self.store.blocks_from(0)?;
        std::thread::scope(|scope| -> Result<(), LedgerError> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<HashedBlock, StoreError>>(16);
            scope.spawn(move || {
                for item in blocks_iter {
                    let hashed = item.map(|(first, bytes)| {
                        // A framing error is reported by the checking thread, at its seq.
                        let hashes = block_entries(&bytes)
                            .and_then(|it| it.map(|e| e.map(|(body, _)| chain::record_hash(body))).collect())
                            .unwrap_or_default();
                        HashedBlock { first, bytes, hashes }
                    });
                    let failed = hashed.is_err();
                    if tx.send(hashed).is_err() || failed {
                        return;
                    }
                }
            });
            for item in rx {
                let HashedBlock { first, bytes, hashes } = item?;
                if first >= head.records && first >= cursor.seq_next {
                    // Left beyond the head by an interrupted append: not part of the ledger.
                    if staging != Some(head.records) {
                        return Err(IntegrityError::Head { seq: first, what: beyond_head(head.records) }.into());
                    }
                    uncommitted_blocks += 1;
                    continue;
                }
                blocks += 1;
                if first != cursor.seq_next {
                    return Err(IntegrityError::Block {
                        seq: cursor.seq_next,
                        what: format!("expected a block starting at seq {}, found one keyed {first}", cursor.seq_next),
                    }
                    .into());
                }
                let entries = block_entries(&bytes)
                    .map_err(|e| IntegrityError::Record { seq: cursor.seq_next, fault: Fault::Undecodable(e) })?;
                computed.clear();
                computed.extend(hashes);
                for (i, entry) in entries.enumerate() {
                    let seq = cursor.seq_next;
                    let undecodable = |e| IntegrityError::Record { seq, fault: Fault::Undecodable(e) };
                    let (body, hash) = entry.map_err(undecodable)?;
                    let record: RecordV1 = codec::decode(body, RECORD_BYTES_MAX).map_err(undecodable)?;
                    let this_hash = computed.get(i).copied().unwrap_or_else(|| chain::record_hash(body));
                    cursor
                        .check_hashed(&record, this_hash, hash)
                        .map_err(|fault| IntegrityError::Record { seq, fault })?;
                    let fact = record.into_fact().map_err(undecodable)?;
                    if let Some(index) = rebuild.as_mut() {
                        recheck(&state, index, &fact, seq)?;
                    }
                    state.apply(&fact);
                    if expect.as_ref() == Some(hash) {
                        expected_seq = Some(seq);
                    }
                    while let Some((n, _)) = periodic.last() {
                        if *n > state.records {
                            break;
                        }
                        let (n, bytes) = periodic.pop().expect("peeked");
                        check_snapshot(&bytes, n, &state, &cursor.prev, n == state.records)?;
                        snapshots_checked += 1;
                    }
                }
            }
            Ok(())
        })?;
        if cursor.seq_next != head.records || cursor.prev != head.last_hash {
            return Err(IntegrityError::Head {
                seq: cursor.seq_next.min(head.records),
                what: format!(
                    "the head says {} records ending in {}, the chain has {} ending in {}",
                    head.records,
                    chain::hex(&head.last_hash),
                    cursor.seq_next,
                    chain::hex(&cursor.prev)
                ),
            }
            .into());
        }
        if let Some((n, bytes)) = periodic.pop() {
            check_snapshot(&bytes, n, &state, &cursor.prev, false)?;
        }
        if head.records > 0 || self.store.head_snapshot()?.is_some() {
            let bytes = self.store.head_snapshot()?.unwrap_or_default();
            check_snapshot(&bytes, head.records, &state, &cursor.prev, true)?;
            snapshots_checked += 1;
        }
        let mut index_buckets = 0;
        if let Some(index) = rebuild {
            index_buckets = self.check_index(&index)?;
        }
        if let Some(h) = expect {
            // The all-zero hash is the head of the empty ledger, which every ledger extends.
            if expected_seq.is_none() && h != chain::GENESIS_PREV {
                return Err(IntegrityError::NotOnChain(chain::hex(&h)).into());
            }
        }
        Ok(VerifyReport {
            records: cursor.seq_next,
            blocks,
            rules: depth == Depth::Rules,
            index_buckets,
            snapshots: snapshots_checked,
            head,
            expected_seq,
            uncommitted_blocks,
        })
    }

    /// Compares every stored index bucket with its rebuild; returns how many matched.
    fn check_index(&self, rebuilt: &IndexOverlay) -> Result<u64, LedgerError> {
        let mut rebuilt: std::collections::HashMap<u16, Vec<u8>> = rebuilt.encode_dirty().into_iter().collect();
        let mut matched = 0;
        for item in self.store.index_buckets() {
            let (bucket, bytes) = item?;
            match rebuilt.remove(&bucket) {
                Some(expected) if expected[..] == bytes[..] => matched += 1,
                _ => return Err(IntegrityError::Index { bucket }.into()),
            }
        }
        // A bucket the records need but the store lacks.
        if let Some(bucket) = rebuilt.keys().min() {
            return Err(IntegrityError::Index { bucket: *bucket }.into());
        }
        Ok(matched)
    }

    /// Streams records from `from` (inclusive), checking seq and links as it goes (hashes are
    /// recomputed by `verify`, not here).
    pub fn records(&self, from: u64) -> Result<Records<'_>, LedgerError> {
        Ok(Records::start(self.store.blocks_from(from)?, from, self.head.records))
    }

    /// The quota state at the head or after `as_of`, replayed from the first record, using no
    /// snapshot: what an auditor runs to recompute the state from the records alone.
    pub fn state_replayed(&self, as_of: Option<AsOf>) -> Result<QuotaState, LedgerError> {
        let mut state = QuotaState::default();
        for item in self.records(0)? {
            let r = item?;
            match as_of {
                Some(AsOf::Seq(n)) if r.seq > n => break,
                Some(AsOf::Time(t)) if r.fact.stamp.at > t => break,
                _ => {}
            }
            state.apply(&r.fact);
        }
        Ok(state)
    }

    /// The quota state after a point in history, replayed from the nearest earlier snapshot.
    pub fn state_as_of(&self, as_of: AsOf) -> Result<QuotaState, LedgerError> {
        let head_state = self.state()?;
        let (mut state, stop_before) = match as_of {
            AsOf::Seq(seq) => {
                let records = seq.saturating_add(1).min(self.head.records);
                if records == self.head.records {
                    return Ok(head_state);
                }
                (self.snapshot_before(records)?, Some(records))
            }
            AsOf::Time(t) => {
                if head_state.last_at.is_none_or(|last| last <= t) {
                    return Ok(head_state);
                }
                (self.snapshot_before_time(t)?, None)
            }
        };
        for item in self.records(state.records)? {
            let r = item?;
            match (as_of, stop_before) {
                (_, Some(n)) if r.seq >= n => break,
                (AsOf::Time(t), _) if r.fact.stamp.at > t => break,
                _ => {}
            }
            state.apply(&r.fact);
        }
        Ok(state)
    }

    fn snapshot_before(&self, records: u64) -> Result<QuotaState, LedgerError> {
        match self.store.snapshot_at_or_before(records)? {
            None => Ok(QuotaState::default()),
            Some((n, bytes)) => decode_snapshot(&bytes, n),
        }
    }

    fn snapshot_before_time(&self, t: Timestamp) -> Result<QuotaState, LedgerError> {
        let mut limit = self.head.records;
        loop {
            match self.store.snapshot_at_or_before(limit)? {
                None => return Ok(QuotaState::default()),
                Some((n, bytes)) => {
                    let state = decode_snapshot(&bytes, n)?;
                    if state.last_at.is_none_or(|at| at <= t) {
                        return Ok(state);
                    }
                    match n.checked_sub(1) {
                        Some(l) => limit = l,
                        None => return Ok(QuotaState::default()),
                    }
                }
            }
        }
    }
}

fn index_error(e: IndexError) -> LedgerError {
    match e {
        IndexError::Store(e) => LedgerError::Store(e),
        IndexError::Undecodable(error) => IntegrityError::Undecodable { what: "index bucket", error }.into(),
    }
}

fn beyond_head(records: u64) -> String {
    format!("records are stored beyond the head ({records} records) and no interrupted append staged them")
}

fn refused(line: u64, event: &Event, refusal: Refusal) -> LedgerError {
    // Ids are bounded by the rules, but a refusal for a too-long id must not echo all of it.
    let subject = event.subject().chars().take(64).collect();
    LedgerError::Refused { line, event_type: event.type_name(), subject, refusal }
}

/// Checks one stored fact against the rules and the index rebuilt so far, then adds it to
/// the index.
fn recheck(state: &QuotaState, index: &mut IndexOverlay, fact: &Fact, seq: u64) -> Result<(), LedgerError> {
    let broken = |what: String| IntegrityError::RuleBroken { seq, what };
    let (event_type, subject) = (fact.event.type_name(), fact.event.subject());
    if let Some(key) = &fact.stamp.key {
        if let Some(first) = index.key(None, key).map_err(index_error)? {
            // Append skips or refuses a reused key: a ledger never holds one twice.
            return Err(
                broken(format!("{event_type} {subject}: key {key} was already used at seq {}", first.seq)).into()
            );
        }
    }
    let before = match fact.event.order() {
        Some(id) => index.order(None, id).map_err(index_error)?,
        None => None,
    };
    let context = domain::check(state, before.as_ref(), &fact.stamp, &fact.event).map_err(|r| {
        broken(format!("{event_type} {subject}: {} [field {}, rule {}]", r.message, r.field, r.reason.as_str()))
    })?;
    if context != fact.context {
        return Err(
            broken(format!("{event_type} {subject}: its stored context differs from what the rules resolve")).into()
        );
    }
    if let Some((id, row)) = OrderRow::after(&fact.event, before) {
        index.put_order(None, id, row).map_err(index_error)?;
    }
    if let Some(key) = &fact.stamp.key {
        index.put_key(None, key, KeyEntryV1 { seq, event_digest: event_digest(&fact.event) }).map_err(index_error)?;
    }
    Ok(())
}

/// A block as read by the verify reader thread, with the hash of each record's bytes.
struct HashedBlock {
    first: u64,
    bytes: sled::IVec,
    hashes: Vec<[u8; 32]>,
}

fn decode_snapshot(bytes: &[u8], records: u64) -> Result<QuotaState, LedgerError> {
    let (state, _) = QuotaSnapshotV1::decode(bytes)
        .map_err(|error| IntegrityError::Undecodable { what: "quota snapshot", error })?;
    if state.records != records {
        return Err(IntegrityError::Snapshot { records }.into());
    }
    Ok(state)
}

fn check_snapshot(
    bytes: &[u8],
    records: u64,
    state: &QuotaState,
    last_hash: &[u8; 32],
    at_this_point: bool,
) -> Result<(), IntegrityError> {
    if !at_this_point {
        return Err(IntegrityError::Snapshot { records });
    }
    let (stored, hash) = QuotaSnapshotV1::decode(bytes)
        .map_err(|error| IntegrityError::Undecodable { what: "quota snapshot", error })?;
    if &stored != state || &hash != last_hash {
        return Err(IntegrityError::Snapshot { records });
    }
    Ok(())
}

/// What the reader thread of [`Records`] sends per block: each record decoded, or the error
/// that stopped the block.
// Records are nearly every item: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum ReadItem {
    Record { record: RecordV1, body: Vec<u8>, hash: [u8; 32] },
    Undecodable(DecodeError),
    Store(StoreError),
}

fn read_block(bytes: &[u8]) -> Vec<ReadItem> {
    let entries = match block_entries(bytes) {
        Ok(it) => it,
        Err(e) => return vec![ReadItem::Undecodable(e)],
    };
    let mut out = Vec::with_capacity(entries.remaining() as usize);
    for entry in entries {
        match entry.and_then(|(body, hash)| {
            codec::decode::<RecordV1>(body, RECORD_BYTES_MAX).map(|r| (r, body.to_vec(), *hash))
        }) {
            Ok((record, body, hash)) => out.push(ReadItem::Record { record, body, hash }),
            Err(e) => {
                out.push(ReadItem::Undecodable(e));
                break;
            }
        }
    }
    out
}

/// Iterator over stored records; see [`Ledger::records`]. A reader thread fetches and decodes
/// blocks ahead; this side checks seqs and links, in order, and stops at the head.
pub struct Records<'a> {
    rx: Option<std::sync::mpsc::Receiver<Vec<ReadItem>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    current: std::collections::VecDeque<ReadItem>,
    from: u64,
    cursor: Option<ChainCursor>,
    end: u64,
    _ledger: std::marker::PhantomData<&'a Ledger>,
}

impl Records<'_> {
    fn start(blocks: crate::store::Blocks, from: u64, end: u64) -> Records<'static> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ReadItem>>(16);
        // It ends when the blocks do, or when the receiver is dropped (its next send fails);
        // `Drop` joins it, so no sled handle outlives the ledger.
        let reader = std::thread::spawn(move || {
            for item in blocks {
                let items = match item {
                    Ok((_, bytes)) => read_block(&bytes),
                    Err(e) => vec![ReadItem::Store(e)],
                };
                let stop = items.iter().any(|i| !matches!(i, ReadItem::Record { .. }));
                if tx.send(items).is_err() || stop {
                    return;
                }
            }
        });
        Records {
            rx: Some(rx),
            reader: Some(reader),
            current: Default::default(),
            from,
            cursor: None,
            end,
            _ledger: std::marker::PhantomData,
        }
    }

    fn fail(&mut self, e: impl Into<LedgerError>) -> Option<Result<StoredRecord, LedgerError>> {
        self.end = 0;
        Some(Err(e.into()))
    }
}

impl Drop for Records<'_> {
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(reader) = self.reader.take() {
            // A reader that panicked has nothing left to clean up; the panic was its own.
            let _ = reader.join();
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<StoredRecord, LedgerError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let expected = self.cursor.as_ref().map_or(self.from, |c| c.seq_next);
            if expected >= self.end {
                return None;
            }
            let Some(item) = self.current.pop_front() else {
                match self.rx.as_ref().map(|rx| rx.recv()) {
                    Some(Ok(items)) => self.current = items.into(),
                    _ => {
                        return self.fail(IntegrityError::Head {
                            seq: expected,
                            what: "the chain ends before the head".into(),
                        })
                    }
                }
                continue;
            };
            let (record, body, hash) = match item {
                ReadItem::Record { record, body, hash } => (record, body, hash),
                ReadItem::Undecodable(e) => {
                    return self.fail(IntegrityError::Record { seq: expected, fault: Fault::Undecodable(e) })
                }
                ReadItem::Store(e) => return self.fail(e),
            };
            if self.cursor.is_none() && record.seq < self.from {
                continue; // before the requested start, inside the first block
            }
            let cursor = self.cursor.get_or_insert(ChainCursor { seq_next: expected, prev: record.prev });
            if record.seq != cursor.seq_next {
                let seq = cursor.seq_next;
                return self.fail(IntegrityError::Record { seq, fault: Fault::Gap { found: record.seq } });
            }
            if record.prev != cursor.prev {
                let seq = cursor.seq_next;
                return self.fail(IntegrityError::Record { seq, fault: Fault::BrokenLink });
            }
            cursor.seq_next += 1;
            cursor.prev = hash;
            let (seq, prev) = (record.seq, record.prev);
            let fact = match record.into_fact() {
                Ok(f) => f,
                Err(e) => return self.fail(IntegrityError::Record { seq, fault: Fault::Undecodable(e) }),
            };
            return Some(Ok(StoredRecord { seq, fact, prev, hash, bytes: body }));
        }
    }
}
