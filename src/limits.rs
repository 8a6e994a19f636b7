//! Every size the ledger accepts has a named limit here, checked on input and again on decode.
//!
//! Names carry their unit last (`_bytes_max`, `_count_max`), as in TigerBeetle's style.

/// Longest id (party, license, order, condition, idempotency key), in bytes of UTF-8.
pub const ID_BYTES_MAX: usize = 128;
/// Most licenses (gates) one order names.
pub const ORDER_LICENSES_MAX: usize = 4;
/// Most bytes of license ids an order naming more than one license holds in all: its index row
/// (one byte of length per value) must stay under 255 bytes. One license of `ID_BYTES_MAX`
/// always fits.
pub const ORDER_LICENSES_BYTES_MAX: usize = 160;
/// Most sectors one policy denies.
pub const POLICY_SECTORS_MAX: usize = 64;
/// Longest input line kept in a `refused` record, in bytes (cut at a character boundary).
pub const REFUSED_LINE_BYTES_MAX: usize = 4096;
/// Longest free text (names, reasons, rule texts, actor), in bytes of UTF-8.
pub const TEXT_BYTES_MAX: usize = 1024;
/// Longest input line the JSONL reader accepts, in bytes, newline excluded. A longer line is
/// refused without being held in memory.
pub const LINE_BYTES_MAX: usize = 64 * 1024;
/// Most events one `append` call accepts.
pub const APPEND_EVENTS_MAX: usize = 2_000_000;
/// Largest canonical record body, in bytes.
pub const RECORD_BYTES_MAX: usize = 16 * 1024;
/// Largest block of a segment file (header and payload), in bytes.
pub const BLOCK_BYTES_MAX: usize = 64 * 1024;
/// Records between two persisted projection snapshots kept for `state --as-of`.
pub const SNAPSHOT_INTERVAL_RECORDS: u64 = 100_000;
/// Largest persisted projection snapshot, in bytes (a decode bound, not a design target).
pub const SNAPSHOT_BYTES_MAX: usize = 512 * 1024 * 1024;
/// Earliest and latest accepted calendar year for `at` and dates.
pub const YEAR_MIN: i32 = 1970;
/// See [`YEAR_MIN`].
pub const YEAR_MAX: i32 = 9999;
/// sled page cache, in bytes: bounded explicitly instead of sled's 1 GiB default. sled holds
/// only the writer's metadata (a few keys).
pub const META_CACHE_BYTES: u64 = 1024 * 1024;
/// A segment file rolls to a new one once a block would take it past this size. Finding a
/// record walks the block headers of its segment (at most ~512 small reads at this size), so
/// this bounds what a seek costs, whatever the ledger's size.
pub const SEGMENT_BYTES_TARGET: u64 = 32 * 1024 * 1024;
/// Bytes a segment reader reads at a time.
pub const SEGMENT_READ_BUFFER_BYTES: usize = 1024 * 1024;
/// Bytes of a segment a long read maps at a time. A window stays mapped (and resident) while a
/// block in it is queued or decoding, so a read holds two or three: a few MiB of RSS.
pub const SEGMENT_MAP_WINDOW_BYTES: usize = 4 * 1024 * 1024;
/// Entries of the index memtable before it is written out as a run.
pub const MEMTABLE_ENTRIES_MAX: usize = 100_000;
/// Bytes of encoded values the index memtable holds before it is written out as a run (values
/// rewritten with another length leave their old bytes behind until then).
pub const MEMTABLE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Pending index runs of one tier an append (or `verify`'s rebuild) writes before it merges
/// them into one run of the next tier: a base-4 counter, so an append of n entries keeps at
/// most 3 runs a tier, about `3 log4(n / 25,000)`, and rewrites an entry `log4` times.
pub const PENDING_MERGE_FANOUT: usize = 4;
/// Largest Bloom filter an index run is given, in bytes: both the filter the run file stores
/// (`format::index_run::Bloom`, 10 bits an entry up to 6.7M entries) and the in-memory blocked
/// filter a pending run of the running append is asked through (`store::run_filter`, 12 bits
/// an entry up to 5.6M entries). A larger run gets this size and fewer bits an entry (more
/// false positives, each one page read; never a false negative). A lookup holds the filter of
/// every busy run, and a merge builds the new run's filters whole before it writes it: at 10
/// bits an entry a 10M-event ledger's runs took 23 MiB of filters (18.5M entries), and a merge
/// of them as much again, so a bulk append's peak grew with the ledger.
pub const RUN_FILTER_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Bytes of in-memory Bloom filters one index holds for its lookups, all its runs together:
/// the blocked filters of the running append's pending runs and the stored filters that busy
/// live runs load. Runs are given their filters smallest first, as long as the total stays
/// within this; a larger run is asked through its page table alone (a lookup of a digest it
/// does not hold reads one page, about 4 us with its `pread`). Without it the filters grew
/// with the ledger: at 18.5M entries (a 10M-event ledger) 16 MiB in a 2M-event append onto
/// 8M and 26 to 40 MiB in `verify`'s rebuild. A bulk append of 1M events, or `verify` of a
/// 1M-event ledger, needs about 3 MiB (5.5 MiB while a merge builds a filter) and is not
/// touched. Measured at 10M by hand on a shared machine (2026-11-30): 16 MiB takes `verify`'s
/// peak from 95-96 to 75-78 MB for 7-43% more CPU; 10 MiB to 66 MB for twice the CPU; 6 MiB to
/// 56 MB for 2.5 times.
pub const INDEX_FILTER_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Live index runs before the newest of them are merged.
pub const RUNS_MAX: usize = 8;
/// A merge takes an older run only while it holds at most this many times the entries of
/// the newer runs taken.
pub const MERGE_GROWTH: u64 = 4;
/// Free space a commit needs: this many times its bytes, plus the margin below (sled rewrites
/// whole tree nodes and may start a new segment).
pub const DISK_SPACE_FACTOR: u64 = 3;
/// See [`DISK_SPACE_FACTOR`].
pub const DISK_SPACE_MARGIN_BYTES: u64 = 16 * 1024 * 1024;
/// How far an event's `at` may lie ahead of the clock of the process that appends it, in
/// seconds, unless the append says `--allow-future`: one day, for clocks and time zones that
/// disagree a little. Beyond it a typo (2062 for 2026) would freeze the ledger, whose `at` never
/// goes backwards. The default of the per-ledger setting.
pub const AT_FUTURE_MARGIN_SECS_DEFAULT: u32 = 86_400;
/// How often `--wait` retries a busy ledger, in milliseconds.
pub const LOCK_RETRY_MS: u64 = 25;

// A block holds at least one record of the largest size, with its framing.
const _: () = assert!(RECORD_BYTES_MAX + 64 <= BLOCK_BYTES_MAX);
// A record can hold its largest event (a few ids and texts) with room to spare.
const _: () = assert!(4 * TEXT_BYTES_MAX + 6 * ID_BYTES_MAX + 256 <= RECORD_BYTES_MAX);
const _: () = assert!(BLOCK_BYTES_MAX as u64 * 16 <= SEGMENT_BYTES_TARGET);
const _: () = assert!(YEAR_MIN < YEAR_MAX);
// A filter at the limit is still whole cache lines (the blocked filter's unit).
const _: () = assert!(RUN_FILTER_BYTES_MAX.is_multiple_of(64) && RUN_FILTER_BYTES_MAX >= 64);
// The filters of a 1M-event append's runs (1.85M entries at 12 bits) fit the index's budget.
const _: () = assert!(INDEX_FILTER_BYTES_MAX >= 1_850_000 * 12 / 8 * 2);
