//! The one reader loop: records of the committed prefix, in order, read on one thread and
//! decoded (and hashed) on as many as there are cores ([`BlockPipeline`]).

use super::{IntegrityError, Ledger, LedgerError, StoredRecord};
use crate::format::chain::{self, Fault};
use crate::format::record::Record;
use crate::format::segment::{block_records, canonical_bytes, locator, LOCATOR_BYTES};
use crate::store::segment::{checked, BlockReader, RawBlock};
use crate::store::StoreError;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Blocks queued for each decoding thread, and results queued from it: a block is a third of a
/// millisecond of work, so two keep a thread busy; each result holds a block's decoded records
/// (a few hundred KiB), so more would cost memory for nothing.
const QUEUED_BLOCKS_PER_THREAD: usize = 2;

/// Threads that decode (and hash) blocks beside the thread that reads them, at most.
pub(crate) const DECODE_THREADS_MAX: usize = 4;

/// A read of fewer records than this decodes on the reading thread alone: starting more
/// threads would cost more than they save (`head`, `prove`, the state from a snapshot).
const PARALLEL_RECORDS_MIN: u64 = 8192;

/// How many threads decode a read of `records` records: one per core, within
/// [`DECODE_THREADS_MAX`].
fn decode_threads(records: u64) -> usize {
    if records < PARALLEL_RECORDS_MIN {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, DECODE_THREADS_MAX)
}

/// The blocks of a read, each turned into a `T` by `work` on one of several threads and handed
/// out in block order: the reading thread deals blocks to the decoding threads in turn, and
/// the consumer takes their results in the same turn. `work` says with its result whether the
/// walk stops there (a fault); the blocks after a fault are never handed out.
pub(crate) struct BlockPipeline<T> {
    outs: Vec<Receiver<T>>,
    /// Results handed back to the thread that made them, to be dropped there: a decoded
    /// record's strings were allocated on that thread, and freeing them on it is cheaper than
    /// from another (the replay of a whole ledger frees millions).
    spent: Vec<SyncSender<T>>,
    turn: usize,
    threads: Vec<JoinHandle<()>>,
}

impl<T> std::fmt::Debug for BlockPipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockPipeline").field("threads", &self.threads.len()).field("turn", &self.turn).finish()
    }
}

/// What a decoding thread does with one block read (or the read's failure), given a result
/// handed back to it to reuse if it likes: its result, and whether the walk stops after it.
pub(crate) type BlockWork<T> = dyn Fn(Result<RawBlock, StoreError>, Option<T>) -> (T, bool) + Send + Sync;

impl<T: Send + 'static> BlockPipeline<T> {
    /// Starts reading the blocks of records `from..end` with `work` applied to each.
    pub(crate) fn start(ledger: &Ledger, from: u64, end: u64, work: Arc<BlockWork<T>>) -> Result<Self, LedgerError> {
        let dir = ledger.layout.segments();
        let workers = decode_threads(end.saturating_sub(from));
        let blocks = BlockReader::new(ledger.disk.clone(), &dir, from, end)?;
        let depth = QUEUED_BLOCKS_PER_THREAD;
        let mut pipeline =
            BlockPipeline { outs: Vec::with_capacity(workers), spent: Vec::new(), turn: 0, threads: Vec::new() };
        if workers == 1 {
            // The reading thread decodes too.
            let (tx, spent) = pipeline.channels(depth);
            pipeline.spawn(&dir, move || serve(blocks, &*work, &tx, &spent))?;
            return Ok(pipeline);
        }
        // Each decoding thread checks its blocks' checksums: the first read of a block's bytes.
        let blocks = blocks.defer_checks();
        let mut ins = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (in_tx, in_rx) = sync_channel::<Result<RawBlock, StoreError>>(depth);
            let (out_tx, spent) = pipeline.channels(depth);
            let work = work.clone();
            ins.push(in_tx);
            let checked_blocks = in_rx.into_iter().map(|item: Result<RawBlock, StoreError>| item.and_then(checked));
            pipeline.spawn(&dir, move || serve(checked_blocks, &*work, &out_tx, &spent))?;
        }
        pipeline.spawn(&dir, move || {
            for (i, item) in blocks.enumerate() {
                let stop = item.is_err();
                if ins[i % ins.len()].send(item).is_err() || stop {
                    return;
                }
            }
        })?;
        Ok(pipeline)
    }

    /// A new working thread's channels: its results out, and spent results back.
    fn channels(&mut self, depth: usize) -> (SyncSender<T>, Receiver<T>) {
        let (out_tx, out_rx) = sync_channel(depth);
        let (spent_tx, spent_rx) = sync_channel(depth);
        self.outs.push(out_rx);
        self.spent.push(spent_tx);
        (out_tx, spent_rx)
    }

    fn spawn(&mut self, dir: &Path, f: impl FnOnce() + Send + 'static) -> Result<(), LedgerError> {
        let handle = std::thread::Builder::new()
            .name("qledger-read".into())
            .spawn(f)
            .map_err(|e| StoreError::io("starting a thread to read", dir, e))?;
        self.threads.push(handle);
        Ok(())
    }
}

/// Applies `work` to each item and sends the results on, until the items end, the receiver is
/// gone, or `work` says stop; passes a result handed back to `work` to reuse, and drops the
/// others.
fn serve<T>(
    items: impl IntoIterator<Item = Result<RawBlock, StoreError>>,
    work: &BlockWork<T>,
    tx: &SyncSender<T>,
    spent: &Receiver<T>,
) {
    for item in items {
        let spare = spent.try_recv().ok();
        spent.try_iter().for_each(drop);
        let (t, stop) = work(item, spare);
        if tx.send(t).is_err() || stop {
            return;
        }
    }
}

impl<T> Iterator for BlockPipeline<T> {
    type Item = T;

    /// The next block's result, or `None` when the read ended (or a thread stopped after a
    /// fault, whose result came before).
    fn next(&mut self) -> Option<T> {
        let t = self.outs.get(self.turn)?.recv().ok()?;
        self.turn = (self.turn + 1) % self.outs.len();
        Some(t)
    }
}

impl<T> BlockPipeline<T> {
    /// Hands the last result back to the thread that made it, to be reused or dropped there;
    /// drops it here if that thread is gone or has enough already.
    pub(crate) fn give_back(&mut self, t: T) {
        let n = self.spent.len();
        if let Some(tx) = self.spent.get((self.turn + n.saturating_sub(1)) % n.max(1)) {
            let _ = tx.try_send(t);
        }
    }
}

impl<T> Drop for BlockPipeline<T> {
    fn drop(&mut self) {
        // Closing the receivers makes every thread's next send fail, and the reading thread's
        // with them; then none is left waiting.
        self.outs.clear();
        for handle in self.threads.drain(..) {
            // A thread that panicked has nothing left to clean up; the panic was its own.
            let _ = handle.join();
        }
    }
}

/// Iterator over stored records; see [`Ledger::records`]. Blocks are read, checked and
/// decoded ahead by a [`BlockPipeline`]; this side hands the records out in order and stops at
/// the end.
pub struct Records {
    blocks: BlockPipeline<Vec<Result<StoredRecord, LedgerError>>>,
    current: VecDeque<Result<StoredRecord, LedgerError>>,
    next: u64,
    end: u64,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("next", &self.next).field("end", &self.end).finish()
    }
}

impl Records {
    /// Records `from..end` with their hashes, each checked against its stored locator.
    pub fn hashed(ledger: &Ledger, from: u64, end: u64) -> Result<Records, LedgerError> {
        Records::start(ledger, from, end, true)
    }

    /// Records `from..end` decoded without hashing (for replaying the quota): `hash` and
    /// `prev` are zero and `bytes` is empty.
    pub fn unhashed(ledger: &Ledger, from: u64, end: u64) -> Result<Records, LedgerError> {
        Records::start(ledger, from, end, false)
    }

    fn start(ledger: &Ledger, from: u64, end: u64, hashed: bool) -> Result<Records, LedgerError> {
        let work: Arc<BlockWork<_>> = Arc::new(move |item: Result<RawBlock, StoreError>, spare: Option<Vec<_>>| {
            let mut batch = spare.unwrap_or_default();
            batch.clear();
            match item {
                Ok(block) => decode_block(&block, from, end, hashed, &mut batch),
                Err(e) => batch.push(Err(e.into())),
            }
            let stop = batch.iter().any(Result::is_err);
            (batch, stop)
        });
        let blocks = BlockPipeline::start(ledger, from, end, work)?;
        Ok(Records { blocks, current: VecDeque::new(), next: from, end })
    }
}

/// Decodes one block's records in `from..end` into `out`, computing hashes from the block's
/// link when `hashed`.
fn decode_block(block: &RawBlock, from: u64, end: u64, hashed: bool, out: &mut Vec<Result<StoredRecord, LedgerError>>) {
    let h = &block.header;
    let records = match block_records(h, &block.payload) {
        Ok(r) => r,
        Err(e) => {
            return out.push(Err(IntegrityError::Record { seq: h.first_seq, fault: Fault::Undecodable(e) }.into()))
        }
    };
    out.reserve(h.count as usize);
    let mut prev = if hashed { h.prev } else { [0; 32] };
    let mut bytes = Vec::with_capacity(512);
    for (i, item) in records.enumerate() {
        let seq = h.first_seq + i as u64;
        if seq >= end {
            break;
        }
        let r = item
            .map_err(|e| IntegrityError::Record { seq, fault: Fault::Undecodable(e) }.into())
            .and_then(|(stored, loc)| decode_record(seq, stored, loc, &prev, hashed, &mut bytes));
        match r {
            Ok(rec) => {
                prev = rec.hash;
                if seq >= from {
                    out.push(Ok(rec));
                }
            }
            Err(e) => {
                out.push(Err(e));
                break;
            }
        }
    }
}

fn decode_record(
    seq: u64,
    stored: &[u8],
    loc: [u8; LOCATOR_BYTES],
    prev: &[u8; 32],
    hashed: bool,
    bytes: &mut Vec<u8>,
) -> Result<StoredRecord, LedgerError> {
    canonical_bytes(stored, prev, bytes);
    let hash = if hashed { chain::record_hash(bytes) } else { [0; 32] };
    if hashed && locator(&hash) != loc {
        return Err(
            IntegrityError::Record { seq, fault: Fault::LocatorMismatch { locator: loc, computed: hash } }.into()
        );
    }
    let undecodable = |e| IntegrityError::Record { seq, fault: Fault::Undecodable(e) };
    let record = Record::decode(bytes).map_err(undecodable)?;
    if record.seq() != seq {
        return Err(IntegrityError::Record { seq, fault: Fault::Gap { found: record.seq() } }.into());
    }
    let fact = record.into_fact().map_err(undecodable)?;
    let bytes = if hashed { bytes.clone() } else { Vec::new() };
    Ok(StoredRecord { seq, fact, prev: *prev, hash, bytes })
}

/// The stored locator of record `seq`.
pub(super) fn locator_of(ledger: &Ledger, seq: u64) -> Result<[u8; LOCATOR_BYTES], LedgerError> {
    let mut blocks = BlockReader::new(ledger.disk.clone(), &ledger.layout.segments(), seq, seq + 1)?;
    let missing = || IntegrityError::Head { seq, what: "the record is missing".into() };
    let block = blocks.next().ok_or_else(missing)??;
    let records = block_records(&block.header, &block.payload)
        .map_err(|e| IntegrityError::Record { seq, fault: Fault::Undecodable(e) })?;
    let i = (seq - block.header.first_seq) as usize;
    match records.into_iter().nth(i) {
        Some(Ok((_, loc))) => Ok(loc),
        Some(Err(e)) => Err(IntegrityError::Record { seq, fault: Fault::Undecodable(e) }.into()),
        None => Err(missing().into()),
    }
}

impl Records {
    /// Calls `f` on each record in turn, by reference, until the records end or `f` breaks:
    /// what `f` breaks with, or the first fault. A block's records stay where its decoding
    /// thread put them; the iterator moves each one out instead (a [`StoredRecord`] is a few
    /// hundred bytes), which the replay of a whole ledger would feel.
    pub(crate) fn try_for_each_ref<B>(
        mut self,
        mut f: impl FnMut(&StoredRecord) -> ControlFlow<B>,
    ) -> Result<Option<B>, LedgerError> {
        while let Some(batch) = self.next_batch() {
            let batch = batch?;
            // A fault is a batch's last item; the records before it are handed out first.
            let good = batch.iter().position(Result::is_err).unwrap_or(batch.len());
            for r in batch[..good].iter().flatten() {
                self.next = r.seq + 1;
                if let ControlFlow::Break(b) = f(r) {
                    return Ok(Some(b));
                }
            }
            if good < batch.len() {
                if let Some(Err(e)) = batch.into_iter().nth(good) {
                    return Err(e);
                }
            } else {
                self.blocks.give_back(batch);
            }
        }
        Ok(None)
    }

    /// The next block's records, or the fault of a read that ended before `end`.
    fn next_batch(&mut self) -> Option<Result<Vec<Result<StoredRecord, LedgerError>>, LedgerError>> {
        if self.next >= self.end {
            return None;
        }
        match self.blocks.next() {
            Some(batch) => Some(Ok(batch)),
            None => {
                let seq = self.next;
                self.end = 0;
                Some(Err(IntegrityError::Head { seq, what: "the chain ends before the head".into() }.into()))
            }
        }
    }
}

impl Iterator for Records {
    type Item = Result<StoredRecord, LedgerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        if self.current.is_empty() {
            match self.next_batch()? {
                Ok(batch) => self.current = batch.into(),
                Err(e) => return Some(Err(e)),
            }
        }
        match self.current.pop_front() {
            Some(Ok(r)) => {
                self.next = r.seq + 1;
                Some(Ok(r))
            }
            Some(Err(e)) => {
                self.end = 0;
                Some(Err(e))
            }
            None => self.next(),
        }
    }
}
