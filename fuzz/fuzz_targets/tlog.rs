//! Fuzz target `tlog`: the body is `quotaledger::fuzzing::tlog` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::tlog(data));
