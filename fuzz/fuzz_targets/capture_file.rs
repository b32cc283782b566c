//! Arbitrary bytes as a capture file: placeholder until the replay pipeline exposes one call.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
