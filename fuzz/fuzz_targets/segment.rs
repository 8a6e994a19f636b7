//! Fuzz target `segment`: the body is `quotaledger::fuzzing::segment` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::segment(data));
