//! Arbitrary bytes after an MQTT CONNECT signature, fed in arbitrary pieces, both directions.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::drive(data, Some(iotscope_decoder::AppProtocol::Mqtt), b"");
});
