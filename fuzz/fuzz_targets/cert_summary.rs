//! Arbitrary bytes as a DER certificate, and as a chain of them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = iotscope_decoder::cert::summarize(data);
    let mid = data.len() / 2;
    let _ = iotscope_decoder::cert::read_chain(&[&data[..mid], &data[mid..]]);
});
