//! Fuzz target `head`: the body is `quotaledger::fuzzing::head` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::head(data));
