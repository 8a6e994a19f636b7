//! The benchmark's peers, run by the benchmark as `bench sqlite-chain ...` and `bench raw-sled
//! ...` child processes, so that each one's time and peak RSS are its own.

pub mod raw_sled;
pub mod sqlite_chain;
