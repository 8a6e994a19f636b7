//! Fuzz target `record`: the body is `quotaledger::fuzzing::record` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::record(data));
