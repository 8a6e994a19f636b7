//! Fuzz target `jsonl`: the body is `quotaledger::fuzzing::jsonl` (README "Fuzzing").
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quotaledger::fuzzing::jsonl(data));
