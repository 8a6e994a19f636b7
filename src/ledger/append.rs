//! Appending: each event checked against the state the ones before it leave, encoded, hashed
//! and framed into blocks; the blocks written beyond the committed length; then the commit
//! point moved, and the derived data updated.

use super::{index_fact_after, key_entry, order_row, refused, short_digest, AppendReport, Head, Ledger, LedgerError};
use crate::domain::{self, Fact, QuotaState, Reason, Refusal};
use crate::format::chain;
use crate::format::codec;
use crate::format::record::RecordV1;
use crate::format::segment::BlockBuilder;
use crate::format::snapshot::QuotaSnapshotV1;
use crate::jsonl::{InputError, InputEvent};
use crate::limits::{APPEND_EVENTS_MAX, RECORD_BYTES_MAX, SNAPSHOT_INTERVAL_RECORDS};

/// Blocks built and not yet written, with the first seq of each.
#[derive(Default)]
struct Pending {
    blocks: Vec<(u64, Vec<u8>)>,
}

impl Ledger {
    /// Appends a batch of parsed events, all or nothing. Each is checked against the state the
    /// ones before it leave; the first refusal or input error aborts the whole call, and what
    /// it wrote beyond the committed length is removed.
    pub fn append(
        &mut self,
        events: impl IntoIterator<Item = Result<InputEvent, InputError>>,
    ) -> Result<AppendReport, LedgerError> {
        if self.writer.is_none() {
            return Err(LedgerError::Empty("this ledger was opened for reading".into()));
        }
        let result = self.append_inner(events);
        if matches!(result, Err(ref e) if !matches!(e, LedgerError::DerivedFailed { .. })) {
            if let Some(w) = self.writer.as_mut() {
                // Nothing below the committed length is touched; a failure here leaves bytes
                // beyond it, which the next writer's recovery cuts.
                let _ = w.roll_back();
            }
        }
        result
    }

    fn append_inner(
        &mut self,
        events: impl IntoIterator<Item = Result<InputEvent, InputError>>,
    ) -> Result<AppendReport, LedgerError> {
        let mut state = self.state()?;
        let start = self.head;
        let mut block = BlockBuilder::new(start.records, start.last_hash);
        let mut block_first = start.records;
        let mut pending = Pending::default();
        let mut periodic = Vec::new();
        let mut skipped = Vec::new();
        let mut prev = start.last_hash;
        let mut body = Vec::with_capacity(512);
        let mut seen = 0usize;
        for item in events {
            let InputEvent { line, stamp, event } = item?;
            seen += 1;
            if seen > APPEND_EVENTS_MAX {
                return Err(LedgerError::Empty(format!(
                    "line {line}: one append takes at most {APPEND_EVENTS_MAX} events; split the input"
                )));
            }
            let writer = self.writer.as_mut().expect("checked by append");
            if let Some(key) = &stamp.key {
                if let Some((seq, digest)) = key_entry(writer.index_ref(), key)? {
                    if digest == short_digest(&event) {
                        skipped.push((line, key.clone(), seq));
                        continue;
                    }
                    let refusal = Refusal {
                        reason: Reason::KeyReused,
                        field: "key",
                        message: format!("key {key} was used at seq {seq} for a different event"),
                    };
                    return Err(refused(line, &event, refusal));
                }
            }
            let before = match event.order() {
                Some(id) => order_row(writer.index_ref(), id)?,
                None => None,
            };
            let context =
                domain::check(&state, before.as_ref(), &stamp, &event).map_err(|r| refused(line, &event, r))?;
            let seq = state.records;
            let fact = Fact { stamp, event, context };
            index_fact_after(writer.index(), before, &fact, seq)?;
            state.apply(&fact);
            let record = RecordV1::from_fact(seq, prev, fact);
            body.clear();
            codec::encode_into(&record, &mut body);
            // The field limits bound a record's size (see the const asserts in `limits`).
            assert!(body.len() <= RECORD_BYTES_MAX, "record of {} bytes passed the field limits", body.len());
            // Paired with the strict decode on read: what we write must read back as itself.
            debug_assert_eq!(codec::decode::<RecordV1>(&body, RECORD_BYTES_MAX).as_ref(), Ok(&record));
            let hash = chain::record_hash(&body);
            writer.tree().push(&body)?;
            if !block.fits(body.len()) {
                // A full block is written at once, beyond the committed length.
                pending.blocks.push((block_first, block.finish_and_reset(seq, prev, false)));
                writer.write_blocks(&pending.blocks)?;
                pending.blocks.clear();
                block_first = seq;
            }
            block.push(&body, &hash);
            prev = hash;
            if state.records % SNAPSHOT_INTERVAL_RECORDS == 0 {
                periodic.push((state.records, codec::encode(&QuotaSnapshotV1::from_state(&state, prev))));
            }
        }
        if seen == 0 {
            return Err(LedgerError::Empty("the input holds no events".to_string()));
        }
        let appended = state.records - start.records;
        if appended == 0 {
            return Ok(AppendReport { appended, skipped, head: start });
        }
        pending.blocks.push((block_first, block.finish(true)));
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
        let head_snapshot = codec::encode(&QuotaSnapshotV1::from_state(state, last_hash));
        let derived = writer.update_derived(&head_snapshot, periodic).and_then(|()| writer.publish_tree());
        derived.map_err(|error| LedgerError::DerivedFailed { appended, head: chain::hex(&last_hash), error })
    }
}
