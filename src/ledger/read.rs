//! The one reader loop: records of the committed prefix, in order, decoded on a reader thread.

use super::{IntegrityError, Ledger, LedgerError, StoredRecord};
use crate::format::chain::{self, Fault};
use crate::format::record::Record;
use crate::format::segment::{block_records, canonical_bytes, locator, LOCATOR_BYTES};
use crate::store::segment::{BlockReader, RawBlock};
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Blocks the reader thread may run ahead.
const READ_AHEAD_BLOCKS: usize = 16;

/// Iterator over stored records; see [`Ledger::records`]. A reader thread reads, checks and
/// decodes blocks ahead; this side hands the records out in order and stops at the end.
pub struct Records {
    rx: Option<Receiver<Vec<Result<StoredRecord, LedgerError>>>>,
    reader: Option<JoinHandle<()>>,
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
    /// `prev` are zero and `bytes` ends in zeros instead of the link.
    pub fn unhashed(ledger: &Ledger, from: u64, end: u64) -> Result<Records, LedgerError> {
        Records::start(ledger, from, end, false)
    }

    fn start(ledger: &Ledger, from: u64, end: u64, hashed: bool) -> Result<Records, LedgerError> {
        let blocks = BlockReader::new(ledger.disk.clone(), &ledger.layout.segments(), from, end)?;
        let (tx, rx) = sync_channel(READ_AHEAD_BLOCKS);
        // It ends when the blocks do, or when the receiver is dropped (its next send fails).
        let reader = std::thread::spawn(move || {
            for item in blocks {
                let batch = match item {
                    Ok(block) => decode_block(&block, from, end, hashed),
                    Err(e) => vec![Err(e.into())],
                };
                let stop = batch.iter().any(Result::is_err);
                if tx.send(batch).is_err() || stop {
                    return;
                }
            }
        });
        Ok(Records { rx: Some(rx), reader: Some(reader), current: VecDeque::new(), next: from, end })
    }
}

/// Decodes one block's records in `from..end`, computing hashes from the block's link when
/// `hashed`.
fn decode_block(block: &RawBlock, from: u64, end: u64, hashed: bool) -> Vec<Result<StoredRecord, LedgerError>> {
    let h = &block.header;
    let records = match block_records(h, &block.payload) {
        Ok(r) => r,
        Err(e) => return vec![Err(IntegrityError::Record { seq: h.first_seq, fault: Fault::Undecodable(e) }.into())],
    };
    let mut out = Vec::with_capacity(h.count as usize);
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
    out
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
    Ok(StoredRecord { seq, fact, prev: *prev, hash, bytes: bytes.clone() })
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

impl Drop for Records {
    fn drop(&mut self) {
        drop(self.rx.take());
        if let Some(reader) = self.reader.take() {
            // A reader that panicked has nothing left to clean up; the panic was its own.
            let _ = reader.join();
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
            match self.rx.as_ref().map(|rx| rx.recv()) {
                Some(Ok(batch)) => self.current = batch.into(),
                _ => {
                    let seq = self.next;
                    self.end = 0;
                    return Some(Err(
                        IntegrityError::Head { seq, what: "the chain ends before the head".into() }.into()
                    ));
                }
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
