//! The command-side index: order rows and idempotency keys, kept in the store in hash buckets
//! (`format::snapshot::IndexBucketV1`) and loaded bucket by bucket as an append needs them.
//!
//! Why buckets: one sled key per order would cap bulk appends at sled's per-key insert rate and
//! blow up one atomic batch; a bucket groups the ids that hash together, so an append of one
//! event touches one or two small values and a bulk append rewrites each bucket once. Opening a
//! ledger reads none of it.

use crate::domain::OrderRow;
use crate::format::codec::{self, DecodeError};
use crate::format::snapshot::{index_bucket, IndexBucketV1, KeyEntryV1, OrderRowV1, INDEX_BUCKETS};
use crate::store::{Store, StoreError};
use std::collections::HashMap;

/// Why the index could not be read.
#[derive(Debug)]
pub enum IndexError {
    /// The store failed.
    Store(StoreError),
    /// A bucket does not decode.
    Undecodable(DecodeError),
}

#[derive(Debug, Default)]
struct Bucket {
    orders: HashMap<String, OrderRow>,
    keys: HashMap<String, KeyEntryV1>,
    dirty: bool,
}

/// Room reserved in a bucket's maps when it is loaded, so that a bulk append does not rehash
/// each map many times over as it grows.
const BUCKET_SPARE_ENTRIES: usize = 64;

/// The buckets one append call has loaded, with its changes; indexed by bucket number. Every
/// method takes the store to load a bucket from on first use; `None` starts it empty, which is
/// how `verify` rebuilds the whole index from the records.
#[derive(Debug)]
pub struct IndexOverlay {
    buckets: Vec<Option<Bucket>>,
}

impl Default for IndexOverlay {
    fn default() -> Self {
        IndexOverlay { buckets: (0..INDEX_BUCKETS).map(|_| None).collect() }
    }
}

impl IndexOverlay {
    fn bucket(&mut self, store: Option<&Store>, kind: u8, id: &str) -> Result<&mut Bucket, IndexError> {
        let b = index_bucket(kind, id);
        let slot = &mut self.buckets[usize::from(b)];
        if slot.is_none() {
            let stored = match store {
                Some(store) => store.index_bucket(b).map_err(IndexError::Store)?,
                None => None,
            };
            let mut loaded = match stored {
                None => Bucket::default(),
                Some(bytes) => {
                    let w = IndexBucketV1::decode(&bytes, b).map_err(IndexError::Undecodable)?;
                    Bucket {
                        orders: w.orders.into_iter().map(|(id, r)| (id, r.into_row())).collect(),
                        keys: w.keys.into_iter().collect(),
                        dirty: false,
                    }
                }
            };
            loaded.orders.reserve(BUCKET_SPARE_ENTRIES);
            loaded.keys.reserve(BUCKET_SPARE_ENTRIES);
            *slot = Some(loaded);
        }
        Ok(slot.as_mut().expect("filled above"))
    }

    /// The row of order `id`, if it was placed.
    pub fn order(&mut self, store: Option<&Store>, id: &str) -> Result<Option<OrderRow>, IndexError> {
        Ok(self.bucket(store, b'o', id)?.orders.get(id).cloned())
    }

    /// The entry of idempotency key `key`, if it was used.
    pub fn key(&mut self, store: Option<&Store>, key: &str) -> Result<Option<KeyEntryV1>, IndexError> {
        Ok(self.bucket(store, b'k', key)?.keys.get(key).copied())
    }

    /// Records a new or changed order row.
    pub fn put_order(&mut self, store: Option<&Store>, id: &str, row: OrderRow) -> Result<(), IndexError> {
        let b = self.bucket(store, b'o', id)?;
        b.orders.insert(id.to_string(), row);
        b.dirty = true;
        Ok(())
    }

    /// Records a newly used key.
    pub fn put_key(&mut self, store: Option<&Store>, key: &str, entry: KeyEntryV1) -> Result<(), IndexError> {
        let b = self.bucket(store, b'k', key)?;
        b.keys.insert(key.to_string(), entry);
        b.dirty = true;
        Ok(())
    }

    /// The changed buckets, encoded: `(bucket, bytes)`.
    pub fn encode_dirty(&self) -> Vec<(u16, Vec<u8>)> {
        self.buckets
            .iter()
            .enumerate()
            .filter_map(|(n, b)| b.as_ref().filter(|b| b.dirty).map(|b| (n as u16, b)))
            .map(|(n, b)| {
                // Hash maps for lookups; sorted on the way out, for one canonical encoding.
                let mut orders: Vec<_> =
                    b.orders.iter().map(|(id, r)| (id.as_str(), OrderRowV1::from_row(r))).collect();
                orders.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut keys: Vec<_> = b.keys.iter().map(|(k, e)| (k.as_str(), *e)).collect();
                keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
                (n, codec::encode(&IndexBucketV1 { orders, keys }))
            })
            .collect()
    }
}
