//! Appending: each event checked against the state the ones before it leave, encoded, hashed
//! and framed into blocks; the blocks written beyond the committed length; then the commit
//! point moved, and the derived data updated.

use super::{
    corrected_by, index_derived, key_at, order_at, refused, shipment_of, short_digest, AppendOptions, AppendReport,
    Entries, Head, Ledger, LedgerError, Overlay, RecordSource,
};
use crate::domain::{
    Admission, Context, Event, Fact, Lookup, OrderRow, QuotaState, Reason, Refusal, Stamp, Target, Timestamp,
};
use crate::format::chain;
use crate::format::codec;
use crate::format::index_run::{digest, Digest, KEY_EVENT_BYTES};
use crate::format::record::Record;
use crate::format::segment::BlockBuilder;
use crate::format::snapshot::QuotaSnapshotV2;
use crate::jsonl::{InputError, InputEvent};
use crate::limits::{
    APPEND_EVENTS_MAX, RECORD_BYTES_MAX, REFUSED_LINE_BYTES_MAX, SNAPSHOT_INTERVAL_RECORDS, TEXT_BYTES_MAX,
};
use crate::store::writer::BlockSink;
use crate::store::StoreError;

/// Items the rules thread hands the encoder in one batch (small, as the parse thread's chunks).
const ENCODER_BATCH_ITEMS: usize = 128;
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

/// Finds the record a `shipment_corrected` refers to: in the committed segments, or among
/// the shipments this call appended before it.
struct Targets {
    source: RecordSource,
    committed: u64,
    /// Shipments and corrections appended by this call.
    batch: Shipments,
}

/// The shipments and shipment corrections one call appended, for the corrections after them
/// in the same call: in seq order (seqs only grow), found by binary search, the order ids
/// concatenated in one string. 36 bytes an entry and the id's bytes: a `HashMap<u64,
/// (String, u64)>` took about 90 bytes of table and an allocation an entry, 22 MiB at the
/// end of a 1M-event call (heaptrack).
#[derive(Debug, Default)]
struct Shipments {
    /// `(seq, units, start of the order id in ids, its length, effective time)`.
    entries: Vec<(u64, u64, u32, u32, Timestamp)>,
    ids: String,
}

impl Shipments {
    fn push(&mut self, seq: u64, order: &str, units: u64, at: Timestamp) {
        debug_assert!(self.entries.last().is_none_or(|e| e.0 < seq), "seqs only grow");
        // At most APPEND_EVENTS_MAX ids of ID_BYTES_MAX bytes: far below 4 GiB.
        let start = u32::try_from(self.ids.len()).expect("order ids of one call fit in 4 GiB");
        self.ids.push_str(order);
        self.entries.push((seq, units, start, order.len() as u32, at));
    }

    /// The order, units and effective time of the shipment at `seq`, if this call appended one.
    fn get(&self, seq: u64) -> Option<((String, u64), Timestamp)> {
        let i = self.entries.binary_search_by_key(&seq, |e| e.0).ok()?;
        let (_, units, start, len, at) = self.entries[i];
        Some(((self.ids[start as usize..(start + len) as usize].to_string(), units), at))
    }
}

impl Targets {
    fn find(&self, index: &dyn Entries, seq: u64, records: u64) -> Result<Option<Target>, LedgerError> {
        if seq < self.committed || seq >= records {
            return self.source.target(index, seq, records);
        }
        let (shipment, at) = match self.batch.get(seq) {
            Some((shipment, at)) => (Some(shipment), Some(at)),
            None => (None, None),
        };
        Ok(Some(Target { seq, shipment, at, corrected_by: corrected_by(index, seq)? }))
    }

    fn remember(&mut self, seq: u64, fact: &Fact) {
        if let Some((order, units)) = shipment_of(fact) {
            self.batch.push(seq, &order, units, fact.stamp.at);
        }
    }
}

/// One append's checking side: the rules thread's state.
struct Checker<'a> {
    index: &'a mut dyn Entries,
    admission: &'a mut Admission,
    state: &'a mut QuotaState,
    targets: Targets,
    record_refusals: bool,
    skipped: Vec<(u64, String, u64)>,
    refusals: Vec<(u64, &'static str)>,
}

/// What became of one input line.
// Nearly every line is accepted: boxing the fact would cost an allocation and two copies of it
// a line.
#[allow(clippy::large_enum_variant)]
enum Verdict {
    Accepted(Accepted),
    Skipped,
    /// The error, and the event's actor, JSON and `at` if it was read.
    Refused(LedgerError, Option<(String, String, Timestamp)>),
}

impl<'a> Checker<'a> {
    fn new(
        index: &'a mut dyn Entries,
        admission: &'a mut Admission,
        state: &'a mut QuotaState,
        targets: Targets,
        options: AppendOptions,
    ) -> Checker<'a> {
        let record_refusals = options.record_refusals;
        Checker { index, admission, state, targets, record_refusals, skipped: Vec::new(), refusals: Vec::new() }
    }

    /// Checks every event against the rules, in order, keeping the index and the state, and
    /// hands each accepted (or, with `record_refusals`, refused) fact to `emit` (false: the
    /// encoder stopped).
    fn run(
        &mut self,
        events: impl IntoIterator<Item = Result<Prepared, InputError>>,
        emit: &mut dyn FnMut(Work) -> bool,
    ) -> Result<(), LedgerError> {
        let mut seen = 0usize;
        for item in events {
            seen += 1;
            if seen > APPEND_EVENTS_MAX {
                return Err(LedgerError::Empty(format!(
                    "one append takes at most {APPEND_EVENTS_MAX} events; split the input"
                )));
            }
            let accepted = match self.judge(item)? {
                Verdict::Accepted(a) => a,
                Verdict::Skipped => continue,
                Verdict::Refused(e, _) if !self.record_refusals => return Err(e),
                Verdict::Refused(e, input) => {
                    Accepted { fact: self.refused_fact(e, input)?, before: None, order: None, key: None }
                }
            };
            if !self.accept(accepted, emit)? {
                // The encoder stopped (a failed write): its error is the one to report.
                return Ok(());
            }
        }
        if seen == 0 {
            return Err(LedgerError::Empty("the input holds no events".to_string()));
        }
        Ok(())
    }

    /// Checks one line: skipped (its key and event recorded before), accepted, or refused.
    fn judge(&mut self, item: Result<Prepared, InputError>) -> Result<Verdict, LedgerError> {
        let Prepared { input: InputEvent { line, mut stamp, event, flags }, order, key } = match item {
            Ok(p) => p,
            Err(e) => return Ok(Verdict::Refused(LedgerError::Input(e), None)),
        };
        if let (Some(k), Some((kd, ed))) = (&stamp.key, key) {
            if let Some((seq, stored)) = key_at(self.index, &kd)? {
                if stored == ed {
                    self.skipped.push((line, k.clone(), seq));
                    return Ok(Verdict::Skipped);
                }
                let refusal = Refusal {
                    reason: Reason::KeyReused,
                    field: "key",
                    message: format!("key {k} was used at seq {seq} for a different event"),
                };
                return Ok(refused_with(line, &stamp, &event, refusal));
            }
        }
        let target = match &event {
            Event::ShipmentCorrected { refers_to, .. } => {
                self.targets.find(self.index, *refers_to, self.state.records)?
            }
            _ => None,
        };
        let order = order.or_else(|| target.as_ref().and_then(|t| t.shipment.as_ref()).map(|(o, _)| digest(b'o', o)));
        let before = match order {
            Some(d) => order_at(self.index, &d)?,
            None => None,
        };
        let lookup = Lookup { order: before.as_ref(), target: target.as_ref() };
        match self.admission.check(self.state, lookup, &stamp, &event, flags) {
            Ok(context) => {
                stamp.allow_future = self.admission.beyond_margin(&stamp);
                stamp.recorded_at = Some(self.clock());
                let fact = Fact { stamp, event, context };
                Ok(Verdict::Accepted(Accepted { fact, before, order, key }))
            }
            Err(r) => Ok(refused_with(line, &stamp, &event, r)),
        }
    }

    /// The ledger's clock for `recorded_at`, in whole seconds: never before the last record's.
    fn clock(&self) -> Timestamp {
        let now = Timestamp { nanos: 0, ..self.admission.now() };
        self.state.last_recorded_at.map_or(now, |last| last.max(now))
    }

    /// A `refused` record for a refusal or an input error.
    ///
    /// Its `at` moves no clock forward: the latest effective time recorded so far; in a ledger
    /// without records, the refused event's own `at` if it was read and is not ahead of the
    /// clock, else 1970-01-01T00:00:00Z.
    fn refused_fact(
        &mut self,
        e: LedgerError,
        input: Option<(String, String, Timestamp)>,
    ) -> Result<Fact, LedgerError> {
        let now = self.clock();
        let (line, rule, message, text, actor, event_at) = match e {
            LedgerError::Refused { line, refusal, .. } => {
                let (actor, json, at) = match input {
                    Some((a, j, t)) => (Some(a), Some(j), Some(t)),
                    None => (None, None, None),
                };
                (line, refusal.reason.as_str(), refusal.message, json, actor, at)
            }
            LedgerError::Input(e) => (e.line, "invalid_input", e.to_string(), e.raw, None, None),
            other => return Err(other),
        };
        self.refusals.push((line, rule));
        // The earliest time there is (1970-01-01T00:00:00Z) when nothing better is known.
        let at = self.state.last_at.or(event_at.filter(|t| *t <= now)).unwrap_or_default();
        let mut stamp = Stamp::new(at, actor.unwrap_or_else(|| REFUSAL_ACTOR.to_string()), None);
        stamp.recorded_at = Some(now);
        let event = Event::Refused {
            line,
            event: cut(&text.unwrap_or_default(), REFUSED_LINE_BYTES_MAX),
            rule: rule.to_string(),
            message: cut(&message, TEXT_BYTES_MAX),
        };
        Ok(Fact { stamp, event, context: Context::None })
    }

    /// Indexes, applies and emits one fact. False: the encoder stopped.
    fn accept(&mut self, accepted: Accepted, emit: &mut dyn FnMut(Work) -> bool) -> Result<bool, LedgerError> {
        let Accepted { fact, before, order, key } = accepted;
        let seq = self.state.records;
        index_derived(self.index, before, &fact, seq, order, key)?;
        self.targets.remember(seq, &fact);
        self.state.apply(&fact);
        let mut ok = emit(Work::Fact(seq, fact));
        if self.state.records.is_multiple_of(SNAPSHOT_INTERVAL_RECORDS) {
            ok &= emit(Work::Snapshot(Box::new(self.state.clone())));
        }
        Ok(ok)
    }
}

/// An accepted fact with what indexing it needs: its order's row before it and the digests
/// of its order and key.
struct Accepted {
    fact: Fact,
    before: Option<OrderRow>,
    order: Option<Digest>,
    key: Option<(Digest, [u8; KEY_EVENT_BYTES])>,
}

/// The actor of a `refused` record for a line that could not be read.
const REFUSAL_ACTOR: &str = "qledger";

/// `text` cut to at most `max` bytes at a character boundary, control characters replaced.
fn cut(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars().map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c }) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A refusal, keeping the event's actor and its JSON for a `refused` record.
fn refused_with(line: u64, stamp: &Stamp, event: &Event, refusal: Refusal) -> Verdict {
    Verdict::Refused(refused(line, event, refusal), Some((stamp.actor.clone(), event_json(stamp, event), stamp.at)))
}

/// The event as a JSON line (its stamp's `at`, `actor` and `key` included).
fn event_json(stamp: &Stamp, event: &Event) -> String {
    let mut v = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert("at".into(), stamp.at.to_string().into());
        m.insert("actor".into(), stamp.actor.clone().into());
        if let Some(k) = &stamp.key {
            m.insert("key".into(), k.clone().into());
        }
    }
    v.to_string()
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
        let record = Record::from_fact(seq, self.prev, fact);
        self.body.clear();
        record.encode_into(&mut self.body);
        // The field limits bound a record's size (see the const asserts in `limits`).
        assert!(self.body.len() <= RECORD_BYTES_MAX, "record of {} bytes passed the field limits", self.body.len());
        // Paired with the strict decode on read: what we write must read back as itself.
        debug_assert_eq!(Record::decode(&self.body).as_ref(), Ok(&record));
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
        self.periodic.push((state.records, codec::encode(&QuotaSnapshotV2::from_state(state, self.prev))));
    }
}

/// What an append would do: the facts (with their seqs), from the state `before`.
#[derive(Debug)]
pub struct DryRun {
    /// The state the first fact would apply to.
    pub before: QuotaState,
    /// `(seq, fact)` of every fact the call would append.
    pub facts: Vec<(u64, Fact)>,
    /// As [`AppendReport::skipped`].
    pub skipped: Vec<(u64, String, u64)>,
    /// As [`AppendReport::refusals`].
    pub refusals: Vec<(u64, &'static str)>,
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
        let now = options.clock.unwrap_or_else(|| Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc()));
        Ok(Admission::new(now, self.future_margin_secs()?, options.allow_future))
    }

    // --- end of admission -------------------------------------------------------------------

    /// Checks a batch as [`Ledger::append_with`] would, writing nothing: the facts it would
    /// append (with the state before the first), or the refusal that would abort it. The
    /// index changes of the batch stay in memory.
    pub fn dry_run(
        &mut self,
        events: impl IntoIterator<Item = Result<Prepared, InputError>>,
        options: AppendOptions,
    ) -> Result<DryRun, LedgerError> {
        let start_state = self.state()?;
        let mut state = start_state.clone();
        let mut admission = self.admission(options)?;
        let targets =
            Targets { source: RecordSource::of(self), committed: self.head.records, batch: Shipments::default() };
        let writer =
            self.writer.as_ref().ok_or_else(|| LedgerError::Empty("a dry run needs the writer's index".into()))?;
        let mut overlay = Overlay::new(writer.index_ref());
        let mut checker = Checker::new(&mut overlay, &mut admission, &mut state, targets, options);
        let mut facts = Vec::new();
        checker.run(events, &mut |w| {
            if let Work::Fact(seq, fact) = w {
                facts.push((seq, fact));
            }
            true
        })?;
        let (skipped, refusals) = (checker.skipped, checker.refusals);
        Ok(DryRun { before: start_state, facts, skipped, refusals })
    }

    fn append_inner(
        &mut self,
        events: impl IntoIterator<Item = Result<Prepared, InputError>>,
        options: AppendOptions,
    ) -> Result<AppendReport, LedgerError> {
        let mut state = self.state()?;
        let mut admission = self.admission(options)?;
        let start = self.head;
        let targets = Targets { source: RecordSource::of(self), committed: start.records, batch: Shipments::default() };
        let writer = self.writer.as_mut().expect("checked by append");
        let (index, sink) = writer.split();
        // Two halves on two threads: this one checks rules and keeps the index; the encoder
        // encodes, hashes and writes blocks. (A third, the caller's, parses the input.)
        let (checker, encoded) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Work>>(ENCODER_QUEUE_BATCHES);
            let encoder = scope.spawn(move || Encoder::new(sink, start).run(rx));
            let mut batch = Vec::with_capacity(ENCODER_BATCH_ITEMS);
            let mut checker = Checker::new(index, &mut admission, &mut state, targets, options);
            let checked = checker.run(events, &mut |w| {
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
                (Ok(()), Ok(encoded)) => Ok(((checker.skipped, checker.refusals), encoded)),
            }
        })?;
        let (skipped, refusals) = checker;
        let appended = state.records - start.records;
        if appended == 0 {
            return Ok(AppendReport { appended, skipped, refusals, head: start });
        }
        let Encoded { last_block, prev, periodic } = encoded;
        let pending = Pending { blocks: last_block.into_iter().collect() };
        self.commit(pending, &state, prev, &periodic)?;
        Ok(AppendReport { appended, skipped, refusals, head: self.head })
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
        let head_snapshot = codec::encode(&QuotaSnapshotV2::from_state(state, last_hash));
        let derived = writer.update_derived(&head_snapshot, periodic).and_then(|()| writer.publish_tree());
        derived.map_err(|error| LedgerError::DerivedFailed { appended, head: chain::hex(&last_hash), error })
    }
}
