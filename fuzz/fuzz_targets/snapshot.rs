//! Fuzz target `snapshot`: the body is `quotaledger::fuzzing::snapshot` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::snapshot(data));
