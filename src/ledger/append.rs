//! Appending: each event checked against the state the ones before it leave, encoded, hashed
//! and framed into blocks; the blocks written beyond the committed length; then the commit
//! point moved, and the derived data updated.

use super::{
    key_at, order_at, put_order_at, refused, short_digest, AppendOptions, AppendReport, Head, Ledger, LedgerError,
};
use crate::domain::{Admission, Fact, OrderRow, QuotaState, Reason, Refusal, Timestamp};
use crate::format::chain;
use crate::format::codec;
use crate::format::index_run::{digest, Digest, IndexValueV1, KEY_EVENT_BYTES};
use crate::format::record::RecordV1;
use crate::format::segment::BlockBuilder;
use crate::format::snapshot::QuotaSnapshotV1;
use crate::jsonl::{InputError, InputEvent};
use crate::limits::{APPEND_EVENTS_MAX, RECORD_BYTES_MAX, SNAPSHOT_INTERVAL_RECORDS};
use crate::store::index::Index;
use crate::store::writer::BlockSink;
use crate::store::StoreError;

/// Items the rules thread hands the encoder in one batch.
const ENCODER_BATCH_ITEMS: usize = 512;
/// Batches the encoder may lag behind.
const ENCODER_QUEUE_BATCHES: usize = 8;

/// What the rules thread hands the encoder.
// Facts are nearly every item: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Work {
    /// An accepted fact and its seq.
    Fact(u64, Fact),
    /// The state after `records % SNAPSHOT_INTERVAL_RECORDS == 0` records: snapshot it.
    Snapshot(Box<QuotaState>),
    /// Every event was accepted: the last block is the commit block.
    End,
}

/// What the encoder made: the last block (not yet written: it carries COMMIT), the hash of the
/// last record, the periodic snapshots.
struct Encoded {
    last_block: Option<(u64, Vec<u8>)>,
    prev: [u8; 32],
    periodic: Vec<(u64, Vec<u8>)>,
}

/// Checks every event against the rules, in order, keeping the index and the state, and hands
/// each accepted fact to `emit` (false: the encoder stopped). Returns the skipped lines.
fn check_events(
    events: impl IntoIterator<Item = Result<Prepared, InputError>>,
    index: &mut Index,
    admission: &mut Admission,
    state: &mut QuotaState,
    emit: &mut dyn FnMut(Work) -> bool,
) -> Result<Vec<(u64, String, u64)>, LedgerError> {
    let mut skipped = Vec::new();
    let mut seen = 0usize;
    for item in events {
        let Prepared { input: InputEvent { line, stamp, event, flags }, order, key } = item?;
        seen += 1;
        if seen > APPEND_EVENTS_MAX {
            return Err(LedgerError::Empty(format!(
                "line {line}: one append takes at most {APPEND_EVENTS_MAX} events; split the input"
            )));
        }
        if let (Some(k), Some((kd, ed))) = (&stamp.key, key) {
            if let Some((seq, stored)) = key_at(index, &kd)? {
                if stored == ed {
                    skipped.push((line, k.clone(), seq));
                    continue;
                }
                let refusal = Refusal {
                    reason: Reason::KeyReused,
                    field: "key",
                    message: format!("key {k} was used at seq {seq} for a different event"),
                };
                return Err(refused(line, &event, refusal));
            }
        }
        let before = match order {
            Some(d) => order_at(index, &d)?,
            None => None,
        };
        let context =
            admission.check(state, before.as_ref(), &stamp, &event, flags).map_err(|r| refused(line, &event, r))?;
        let seq = state.records;
        let fact = Fact { stamp, event, context };
        if let Some((_, row)) = OrderRow::after(&fact.event, before) {
            put_order_at(index, order.expect("an order event has an order digest"), &row)?;
        }
        if let Some((kd, ed)) = key {
            index.put(kd, IndexValueV1::Key { seq, event: ed })?;
        }
        state.apply(&fact);
        let mut ok = emit(Work::Fact(seq, fact));
        if state.records.is_multiple_of(SNAPSHOT_INTERVAL_RECORDS) {
            ok &= emit(Work::Snapshot(Box::new(state.clone())));
        }
        if !ok {
            // The encoder stopped (a failed write): its error is the one to report.
            return Ok(skipped);
        }
    }
    if seen == 0 {
        return Err(LedgerError::Empty("the input holds no events".to_string()));
    }
    Ok(skipped)
}

/// The encoding half of an append: records encoded, hashed, framed into blocks, and full
/// blocks written beyond the committed length.
struct Encoder<'w> {
    sink: BlockSink<'w>,
    block: BlockBuilder,
    block_first: u64,
    prev: [u8; 32],
    body: Vec<u8>,
    periodic: Vec<(u64, Vec<u8>)>,
}

impl<'w> Encoder<'w> {
    fn new(sink: BlockSink<'w>, start: Head) -> Encoder<'w> {
        Encoder {
            sink,
            block: BlockBuilder::new(start.records, start.last_hash),
            block_first: start.records,
            prev: start.last_hash,
            body: Vec::with_capacity(512),
            periodic: Vec::new(),
        }
    }

    fn run(mut self, rx: std::sync::mpsc::Receiver<Vec<Work>>) -> Result<Encoded, StoreError> {
        let mut ended = false;
        for batch in rx {
            for work in batch {
                match work {
                    Work::Fact(seq, fact) => self.push(seq, fact)?,
                    Work::Snapshot(state) => self.snapshot(&state),
                    Work::End => ended = true,
                }
            }
        }
        let last_block = (ended && self.block.count() > 0).then(|| (self.block_first, self.block.finish(true)));
        Ok(Encoded { last_block, prev: self.prev, periodic: self.periodic })
    }

    fn push(&mut self, seq: u64, fact: Fact) -> Result<(), StoreError> {
        let record = RecordV1::from_fact(seq, self.prev, fact);
        self.body.clear();
        codec::encode_into(&record, &mut self.body);
        // The field limits bound a record's size (see the const asserts in `limits`).
        assert!(self.body.len() <= RECORD_BYTES_MAX, "record of {} bytes passed the field limits", self.body.len());
        // Paired with the strict decode on read: what we write must read back as itself.
        debug_assert_eq!(codec::decode::<RecordV1>(&self.body, RECORD_BYTES_MAX).as_ref(), Ok(&record));
        let hash = chain::record_hash(&self.body);
        self.sink.push_leaf(&self.body)?;
        if !self.block.fits(self.body.len()) {
            // A full block is written at once, beyond the committed length.
            let full = self.block.finish_and_reset(seq, self.prev, false);
            self.sink.write_block(&full, self.block_first)?;
            self.block_first = seq;
        }
        self.block.push(&self.body, &hash);
        self.prev = hash;
        Ok(())
    }

    fn snapshot(&mut self, state: &QuotaState) {
        self.periodic.push((state.records, codec::encode(&QuotaSnapshotV1::from_state(state, self.prev))));
    }
}

/// Blocks built and not yet written, with the first seq of each.
#[derive(Default)]
struct Pending {
    blocks: Vec<(u64, Vec<u8>)>,
}

/// An input event with the digests the index looks it up by, computed once (the CLI computes
/// them on its parsing thread, beside the rules thread).
#[derive(Debug)]
pub struct Prepared {
    /// The parsed event.
    pub input: InputEvent,
    /// Digest of its order id, if it names an order.
    pub order: Option<Digest>,
    /// Digest of its idempotency key, if it has one, and the short digest of its event.
    pub key: Option<(Digest, [u8; KEY_EVENT_BYTES])>,
}

impl Prepared {
    /// Computes the digests of `input`.
    pub fn new(input: InputEvent) -> Prepared {
        let order = input.event.order().map(|id| digest(b'o', id));
        let key = input.stamp.key.as_deref().map(|k| (digest(b'k', k), short_digest(&input.event)));
        Prepared { input, order, key }
    }
}

impl Ledger {
    /// Appends a batch of parsed events, all or nothing. Each is checked against the state the
    /// ones before it leave; the first refusal or input error aborts the whole call, and what
    /// it wrote beyond the committed length is removed.
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
        self.append_prepared_with(events.into_iter().map(|e| e.map(Prepared::new)), options)
    }

    /// [`Ledger::append_with`] of events whose digests are already computed.
    pub fn append_prepared_with(
        &mut self,
        events: impl IntoIterator<Item = Result<Prepared, InputError>>,
        options: AppendOptions,
    ) -> Result<AppendReport, LedgerError> {
        if self.writer.is_none() {
            return Err(LedgerError::Empty("this ledger was opened for reading".into()));
        }
        let result = self.append_inner(events, options);
        if matches!(result, Err(ref e) if !matches!(e, LedgerError::DerivedFailed { .. })) {
            if let Some(w) = self.writer.as_mut() {
                // Nothing below the committed length is touched; a failure here leaves bytes
                // beyond it, which the next writer's recovery cuts.
                let _ = w.roll_back();
            }
        }
        result
    }

    // --- admission (issue 8): the clock, the margin and the call's options ------------------

    /// How far ahead of the clock an event's `at` may lie: the ledger's setting
    /// (`PATH/SETTINGS`, fixed by `qledger init --future-margin`; one day by default).
    pub fn future_margin_secs(&self) -> Result<u32, LedgerError> {
        Ok(crate::store::read_settings(&self.layout.dir)?.future_margin_secs)
    }

    /// Sets the margin; only while the ledger holds no records, so that nobody widens it later
    /// to let a backdated or future-dated event through.
    pub fn set_future_margin_secs(&mut self, secs: u32) -> Result<(), LedgerError> {
        if self.writer.is_none() {
            return Err(LedgerError::Empty("this ledger was opened for reading".into()));
        }
        let current = crate::store::read_settings(&self.layout.dir)?;
        if current.future_margin_secs == secs {
            return Ok(());
        }
        if self.head.records > 0 {
            return Err(LedgerError::Empty(format!(
                "the future margin is fixed once a ledger holds records (it is {} seconds)",
                current.future_margin_secs
            )));
        }
        crate::store::write_settings(&self.layout.dir, &crate::store::Settings { future_margin_secs: secs })?;
        Ok(())
    }

    /// The admission checks of one append call, at the system clock.
    fn admission(&self, options: AppendOptions) -> Result<Admission, LedgerError> {
        let now = Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc());
        Ok(Admission::new(now, self.future_margin_secs()?, options.allow_future))
    }

    // --- end of admission -------------------------------------------------------------------

    fn append_inner(
        &mut self,
        events: impl IntoIterator<Item = Result<Prepared, InputError>>,
        options: AppendOptions,
    ) -> Result<AppendReport, LedgerError> {
        let mut state = self.state()?;
        let mut admission = self.admission(options)?;
        let start = self.head;
        let writer = self.writer.as_mut().expect("checked by append");
        let (index, sink) = writer.split();
        // Two halves on two threads: this one checks rules and keeps the index; the encoder
        // encodes, hashes and writes blocks. (A third, the caller's, parses the input.)
        let (skipped, encoded) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Work>>(ENCODER_QUEUE_BATCHES);
            let encoder = scope.spawn(move || Encoder::new(sink, start).run(rx));
            let mut batch = Vec::with_capacity(ENCODER_BATCH_ITEMS);
            let checked = check_events(events, index, &mut admission, &mut state, &mut |w| {
                batch.push(w);
                if batch.len() == ENCODER_BATCH_ITEMS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(ENCODER_BATCH_ITEMS));
                    return tx.send(full).is_ok();
                }
                true
            });
            let sent = checked.is_ok() && (batch.is_empty() || tx.send(std::mem::take(&mut batch)).is_ok());
            if checked.is_ok() {
                let _ = tx.send(vec![Work::End]);
            }
            drop(tx);
            let encoded = encoder.join().unwrap_or(Err(StoreError::Poisoned));
            match (checked, encoded) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e.into()),
                (Ok(_), Ok(_)) if !sent => Err(StoreError::Poisoned.into()),
                (Ok(skipped), Ok(encoded)) => Ok((skipped, encoded)),
            }
        })?;
        let appended = state.records - start.records;
        if appended == 0 {
            return Ok(AppendReport { appended, skipped, head: start });
        }
        let Encoded { last_block, prev, periodic } = encoded;
        let pending = Pending { blocks: last_block.into_iter().collect() };
        self.commit(pending, &state, prev, &periodic)?;
        Ok(AppendReport { appended, skipped, head: self.head })
    }

    /// Writes the last blocks, moves the commit point, then updates the derived data.
    fn commit(
        &mut self,
        pending: Pending,
        state: &QuotaState,
        last_hash: [u8; 32],
        periodic: &[(u64, Vec<u8>)],
    ) -> Result<(), LedgerError> {
        let writer = self.writer.as_mut().expect("checked by append");
        writer.write_blocks(&pending.blocks)?;
        writer.commit(state.records, last_hash)?;
        let appended = state.records - self.head.records;
        self.head = Head { records: state.records, last_hash };
        let slot = writer.head();
        self.end = (slot.segment_first_seq, slot.segment_len);
        let head_snapshot = codec::encode(&QuotaSnapshotV1::from_state(state, last_hash));
        let derived = writer.update_derived(&head_snapshot, periodic).and_then(|()| writer.publish_tree());
        derived.map_err(|error| LedgerError::DerivedFailed { appended, head: chain::hex(&last_hash), error })
    }
}
