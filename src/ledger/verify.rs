//! `verify`: trusts nothing but the records. Recomputes every hash and link, checks the commit
//! point and every snapshot against a fresh replay; at [`Depth::Rules`] also re-checks every
//! record against the rules with the order and key index rebuilt (in temporary run files,
//! so memory stays bounded) and compares the stored index with the rebuild.

use super::read::{BlockPipeline, BlockWork};
use super::{index_fact_after, key_entry, order_row, Depth, Head, IntegrityError, Ledger, LedgerError, VerifyReport};
use crate::domain::{self, Fact, QuotaState};
use crate::format::chain::{self, Fault};
use crate::format::codec::DecodeError;
use crate::format::record::Record;
use crate::format::segment::{block_records, canonical_bytes, hash_block_with, BlockFault, SEGMENT_HEADER_BYTES};
use crate::format::snapshot::QuotaSnapshotV2;
use crate::store::index::{read_manifest, Index};
use crate::store::segment::RawBlock;
use crate::store::{self, snapshots, StoreError};
use std::sync::Arc;

/// Where a snapshot to compare is: a periodic snapshot's file (read when the replay reaches
/// it), or the head snapshot's bytes (read first, to learn which point it is at).
enum SnapshotAt {
    Periodic(std::path::PathBuf),
    Bytes(Vec<u8>),
}

/// A block as a pipeline thread checked it: the hashes of its records computed from its link
/// (or where hashing stopped), and each record whose hash matched, decoded with the seq it
/// carries (up to the first that does not decode); the facts count only if every hash did.
struct CheckedBlock {
    block: RawBlock,
    hashes: Result<Vec<[u8; 32]>, BlockFault>,
    facts: Vec<Result<(u64, Fact), DecodeError>>,
}

/// Hashes a block's records from its link and decodes them (on a pipeline thread), building
/// each record's canonical bytes once for both.
fn hash_and_decode(block: RawBlock) -> CheckedBlock {
    let mut hashes = Vec::with_capacity(block.header.count as usize);
    let mut facts = Vec::with_capacity(block.header.count as usize);
    let mut failed = false;
    let hashed = hash_block_with(&block.header, &block.payload, &mut hashes, |bytes| {
        if failed {
            return;
        }
        let decoded = Record::decode(bytes).and_then(|record| Ok((record.seq(), record.into_fact()?)));
        failed = decoded.is_err();
        facts.push(decoded);
    });
    CheckedBlock { block, hashes: hashed.map(|()| hashes), facts }
}

/// The running check: chain cursor, state, rebuilt index, snapshots still to compare.
struct Check {
    seq_next: u64,
    prev: [u8; 32],
    state: QuotaState,
    rebuild: Option<Index>,
    /// `(records, snapshot bytes)` to compare, descending (popped from the end).
    snapshots: Vec<(u64, SnapshotAt)>,
    snapshots_checked: u64,
    expect: Option<[u8; 32]>,
    expected_seq: Option<u64>,
    blocks: u64,
    bytes: Vec<u8>,
    /// Where the blocks read so far end: segment and length.
    end: (u64, u64),
    /// The head's record count: the snapshot taken there is compared after the head itself.
    head_records: u64,
    /// The stored index and the records it covers, until it is compared with the rebuild at
    /// that point of the walk.
    stored: Option<(u64, Index)>,
    /// Stored index entries found equal to the rebuild.
    index_entries: u64,
    /// The Merkle tree and the stored checkpoints (issue 10).
    tree: super::audit::TreeCheck,
    /// Reads the shipment a correction refers to.
    source: super::RecordSource,
}

impl Ledger {
    /// Recomputes every hash and link, checks the commit point, every snapshot, the rules and
    /// the index; with `expect`, also that a record with that hash is on the chain.
    pub fn verify(&self, expect: Option<[u8; 32]>) -> Result<VerifyReport, LedgerError> {
        self.verify_with(expect, Depth::Rules)
    }

    /// [`Ledger::verify`] at a chosen depth.
    pub fn verify_with(&self, expect: Option<[u8; 32]>, depth: Depth) -> Result<VerifyReport, LedgerError> {
        let head = self.head;
        let tmp = match depth {
            Depth::Rules => {
                Some(tempfile::TempDir::new().map_err(|e| StoreError::io("creating", &std::env::temp_dir(), e))?)
            }
            Depth::Chain => None,
        };
        let rebuild = match &tmp {
            Some(t) => Some(Index::scratch(t.path())?),
            None => None,
        };
        // Opened now (a writer's merge may remove the files later; open files stay readable).
        let stored = match depth {
            Depth::Rules => self.stored_index(head)?,
            Depth::Chain => None,
        };
        let index_records = stored.as_ref().map_or(0, |(n, _)| *n);
        let mut check = Check {
            seq_next: 0,
            prev: chain::GENESIS_PREV,
            state: QuotaState::default(),
            rebuild,
            snapshots: self.snapshots_to_check(head)?,
            snapshots_checked: 0,
            expect,
            expected_seq: None,
            blocks: 0,
            bytes: Vec::with_capacity(512),
            end: (0, SEGMENT_HEADER_BYTES as u64),
            head_records: head.records,
            stored,
            index_entries: 0,
            tree: self.tree_check(head.records, depth == Depth::Rules)?,
            source: super::RecordSource::of(self),
        };
        check.compare_snapshots(0)?;
        self.check_chain(&mut check, head)?;
        self.check_commit_point_reached(&check, head)?;
        check.compare_snapshots(u64::MAX)?;
        check.compare_index_at(head.records)?;
        self.check_index_not_ahead(&check, head)?;
        let index_entries = check.index_entries;
        let (tree_leaves, checkpoints) = check.tree.finish()?;
        if let Some(h) = expect {
            // The all-zero hash is the head of the empty ledger, which every ledger extends.
            if check.expected_seq.is_none() && h != chain::GENESIS_PREV {
                return Err(IntegrityError::NotOnChain(chain::hex(&h)).into());
            }
        }
        Ok(VerifyReport {
            records: check.seq_next,
            blocks: check.blocks,
            rules: depth == Depth::Rules,
            index_entries,
            snapshots: check.snapshots_checked,
            head,
            expected_seq: check.expected_seq,
            index_records,
            tree_leaves,
            checkpoints,
        })
    }

    /// The walk ended exactly at the commit point: its records, its last hash, and where its
    /// blocks end (a length that is not where the committed blocks end would make the next
    /// writer keep or cut bytes on its word).
    fn check_commit_point_reached(&self, check: &Check, head: Head) -> Result<(), LedgerError> {
        if check.seq_next == head.records && check.prev == head.last_hash && check.end == self.end {
            return Ok(());
        }
        Err(IntegrityError::Head {
            seq: check.seq_next.min(head.records),
            what: format!(
                "the commit point says {} records ending in {} (segment {} length {}), the chain has {} ending in {} (segment {} length {})",
                head.records,
                chain::hex(&head.last_hash),
                self.end.0,
                self.end.1,
                check.seq_next,
                chain::hex(&check.prev),
                check.end.0,
                check.end.1
            ),
        }
        .into())
    }

    /// A stored index still uncompared covers records beyond the commit point this verify
    /// read. A writer that committed since explains it; a commit point that has not moved does
    /// not (a crash never leaves the index ahead: it is written after the commit point moved).
    fn check_index_not_ahead(&self, check: &Check, head: Head) -> Result<(), LedgerError> {
        let Some((n, _)) = &check.stored else { return Ok(()) };
        let now = store::read_commit_point(self.disk.as_ref(), &self.layout.dir)?;
        if now.records == head.records && now.last_hash == head.last_hash {
            return Err(IntegrityError::Index {
                what: format!("index/MANIFEST covers {n} records, the commit point only {}", head.records),
            }
            .into());
        }
        Ok(())
    }

    /// Every snapshot file at or below the head: `(records, bytes)`, descending. A damaged
    /// file is an integrity failure.
    fn snapshots_to_check(&self, head: Head) -> Result<Vec<(u64, SnapshotAt)>, LedgerError> {
        let dir = self.layout.snapshots();
        let mut out: Vec<(u64, SnapshotAt)> = snapshots::list_periodic(&dir)?
            .into_iter()
            .filter(|&n| n <= head.records)
            .map(|n| (n, SnapshotAt::Periodic(dir.clone())))
            .collect();
        if let Some(read) = snapshots::read_head(&dir)? {
            let bytes = read.map_err(|e| IntegrityError::Damaged { seq: None, what: format!("snapshot head: {e}") })?;
            let (s, _) = QuotaSnapshotV2::decode(&bytes)
                .map_err(|error| IntegrityError::Undecodable { what: "head quota snapshot", error })?;
            if s.records <= head.records {
                out.push((s.records, SnapshotAt::Bytes(bytes)));
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.0));
        Ok(out)
    }

    /// A [`BlockPipeline`] hashes and decodes the blocks on every core; this thread checks
    /// the links across blocks, re-checks the rules and replays.
    fn check_chain(&self, check: &mut Check, head: Head) -> Result<(), LedgerError> {
        let work: Arc<BlockWork<_>> = Arc::new(|item: Result<RawBlock, StoreError>, _spare| match item {
            Ok(block) => {
                let checked = hash_and_decode(block);
                let stop = checked.hashes.is_err() || checked.facts.iter().any(Result::is_err);
                (Ok(checked), stop)
            }
            Err(e) => (Err(e), true),
        });
        let mut pipeline = BlockPipeline::start(self, 0, head.records, work)?;
        while let Some(item) = pipeline.next() {
            let checked = item?;
            check.block(&checked)?;
            // Freed where its facts were decoded, off this thread, which is verify's busiest.
            pipeline.give_back(Ok(checked));
        }
        Ok(())
    }

    /// The stored index as published in `index/MANIFEST`, and the records it covers.
    fn stored_index(&self, head: Head) -> Result<Option<(u64, Index)>, LedgerError> {
        let dir = self.layout.index();
        match read_manifest(&dir)? {
            None if head.records == 0 => Ok(None),
            None => Err(IntegrityError::Index { what: "index/MANIFEST is missing".into() }.into()),
            Some(m) => {
                let m = m.map_err(|error| IntegrityError::Undecodable { what: "index manifest", error })?;
                let records = m.records;
                match Index::open(&dir, m) {
                    Ok(index) => Ok(Some((records, index))),
                    // A manifest behind the head whose runs a later merge removed (an old copy
                    // put back): stale derived data the next writer rebuilds, nothing to compare.
                    Err(StoreError::Io { error, .. })
                        if error.kind() == std::io::ErrorKind::NotFound && records < head.records =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

impl Check {
    fn block(&mut self, checked: &CheckedBlock) -> Result<(), LedgerError> {
        let CheckedBlock { block, hashes, facts } = checked;
        let h = &block.header;
        self.blocks += 1;
        self.end = (block.segment, block.offset + h.total_bytes());
        if h.prev != self.prev {
            return Err(IntegrityError::Record { seq: h.first_seq, fault: Fault::BrokenLink }.into());
        }
        let hashes = hashes.as_ref().map_err(|f| fault_at(block, f.clone()))?;
        let records = block_records(h, &block.payload)
            .map_err(|e| IntegrityError::Record { seq: h.first_seq, fault: Fault::Undecodable(e) })?;
        for ((item, decoded), hash) in records.zip(facts).zip(hashes) {
            let seq = self.seq_next;
            self.compare_index_at(seq)?;
            let undecodable = |e| IntegrityError::Record { seq, fault: Fault::Undecodable(e) };
            let (found, fact) = decoded.as_ref().map_err(|e| undecodable(e.clone()))?;
            let (found, hash) = (*found, *hash);
            if found != seq {
                return Err(IntegrityError::Record { seq, fault: Fault::Gap { found } }.into());
            }
            if let Some(index) = self.rebuild.as_mut() {
                recheck(&self.state, index, fact, seq, &self.source)?;
            }
            self.state.apply(fact);
            if self.tree.enabled() {
                let (stored, _) = item.map_err(undecodable)?;
                canonical_bytes(stored, &self.prev, &mut self.bytes);
                self.tree.record(&self.bytes, &hash, &self.state)?;
            }
            self.seq_next += 1;
            self.prev = hash;
            if self.expect == Some(hash) {
                self.expected_seq = Some(seq);
            }
            if self.state.records < self.head_records {
                self.compare_snapshots(self.state.records)?;
            }
        }
        Ok(())
    }

    /// Compares the stored index with the rebuild if it covers exactly the first `records`
    /// records: at the head, or where it lags behind it (a crash before the index was written;
    /// a writer between its commit and its index), so a lagging index is checked too.
    fn compare_index_at(&mut self, records: u64) -> Result<(), LedgerError> {
        if self.rebuild.is_none() || self.stored.as_ref().is_none_or(|(n, _)| *n != records) {
            return Ok(());
        }
        let (Some((_, stored)), Some(rebuilt)) = (self.stored.take(), self.rebuild.as_mut()) else { return Ok(()) };
        rebuilt.seal(records)?;
        let mut matched = 0u64;
        let mut a = stored.entries();
        let mut b = rebuilt.entries();
        loop {
            match (a.next().transpose()?, b.next().transpose()?) {
                (None, None) => break,
                (Some(x), Some(y)) if x == y => matched += 1,
                (x, y) => {
                    let what = match (x, y) {
                        (Some((d, _)), _) | (None, Some((d, _))) => {
                            format!("first difference at digest {}", chain::hex(&d))
                        }
                        (None, None) => unreachable!("handled above"),
                    };
                    return Err(IntegrityError::Index { what }.into());
                }
            }
        }
        self.index_entries = matched;
        Ok(())
    }

    /// Compares every snapshot taken after exactly `records` records with the replay (and
    /// fails on one whose point the replay passed without meeting it).
    fn compare_snapshots(&mut self, records: u64) -> Result<(), LedgerError> {
        while let Some((n, _)) = self.snapshots.last() {
            let n = *n;
            if n > records || (records == u64::MAX && n > self.state.records) {
                return Ok(());
            }
            let (_, at) = self.snapshots.pop().expect("peeked");
            // Periodic snapshots are read one at a time, when the replay reaches them, so
            // memory does not grow with their number.
            let bytes = match at {
                SnapshotAt::Bytes(b) => b,
                SnapshotAt::Periodic(dir) => match snapshots::read_periodic(&dir, n)? {
                    Some(read) => {
                        read.map_err(|e| IntegrityError::Damaged { seq: None, what: format!("snapshot {n}: {e}") })?
                    }
                    None => continue,
                },
            };
            let (stored, hash) = QuotaSnapshotV2::decode(&bytes)
                .map_err(|error| IntegrityError::Undecodable { what: "quota snapshot", error })?;
            if n != self.state.records || stored != self.state || hash != self.prev {
                return Err(IntegrityError::Snapshot { records: n }.into());
            }
            self.snapshots_checked += 1;
        }
        Ok(())
    }
}

fn fault_at(block: &RawBlock, f: BlockFault) -> IntegrityError {
    let seq = block.header.first_seq + u64::from(f.index);
    match f.error {
        Some(e) => IntegrityError::Record { seq, fault: Fault::Undecodable(e) },
        None => {
            // Recompute the one hash to name it (hash_block stopped at this record).
            let mut prev = block.header.prev;
            let mut bytes = Vec::new();
            let mut fault = Fault::BrokenLink;
            if let Ok(records) = block_records(&block.header, &block.payload) {
                for (i, item) in records.enumerate() {
                    let Ok((stored, loc)) = item else { break };
                    canonical_bytes(stored, &prev, &mut bytes);
                    let hash = chain::record_hash(&bytes);
                    if i as u32 == f.index {
                        fault = Fault::LocatorMismatch { locator: loc, computed: hash };
                        break;
                    }
                    prev = hash;
                }
            }
            IntegrityError::Record { seq, fault }
        }
    }
}

/// Checks one stored fact against the rules and the index rebuilt so far, then adds it.
fn recheck(
    state: &QuotaState,
    index: &mut dyn super::Entries,
    fact: &Fact,
    seq: u64,
    source: &super::RecordSource,
) -> Result<(), LedgerError> {
    let broken = |what: String| IntegrityError::RuleBroken { seq, what };
    let (event_type, subject) = (fact.event.type_name(), fact.event.subject());
    if let Some(key) = &fact.stamp.key {
        if let Some((first, _)) = key_entry(index, key)? {
            // Append skips or refuses a reused key: a ledger never holds one twice.
            return Err(broken(format!("{event_type} {subject}: key {key} was already used at seq {first}")).into());
        }
    }
    let target = match &fact.event {
        domain::Event::ShipmentCorrected { refers_to, .. } => source.target(index, *refers_to, seq)?,
        _ => None,
    };
    let order =
        fact.event.order().or_else(|| target.as_ref().and_then(|t| t.shipment.as_ref()).map(|(o, _)| o.as_str()));
    let before = match order {
        Some(id) => order_row(index, id)?,
        None => None,
    };
    let lookup = domain::Lookup { order: before.as_ref(), target: target.as_ref() };
    let context = domain::check_with(state, lookup, &fact.stamp, &fact.event).map_err(|r| {
        broken(format!("{event_type} {subject}: {} [field {}, rule {}]", r.message, r.field, r.reason.as_str()))
    })?;
    if context != fact.context {
        return Err(
            broken(format!("{event_type} {subject}: its stored context differs from what the rules resolve")).into()
        );
    }
    index_fact_after(index, before, fact, seq)
}
