//! Arbitrary bytes after a TLS record header, fed in arbitrary pieces, both directions.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::drive(data, None, &[0x16, 0x03, 0x01]);
});
