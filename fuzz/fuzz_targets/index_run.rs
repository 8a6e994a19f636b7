//! Fuzz target `index_run`: the body is `quotaledger::fuzzing::index_run` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::index_run(data));
