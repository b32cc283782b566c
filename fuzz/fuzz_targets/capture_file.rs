//! Arbitrary bytes as a capture file, through the whole replay pipeline: reader, link and IP
//! layers, TCP reassembly, decoder sessions and diagnoses.
#![no_main]
use libfuzzer_sys::fuzz_target;

use iotscope_captures::replay::{Replay, ReplayConfig, ReplayItem};
use iotscope_captures::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = CaptureReader::from_reader(data) else {
        return;
    };
    for item in Replay::new(reader, "fuzz", ReplayConfig::default()) {
        if let ReplayItem::Connection(trace) = item {
            let _ = iotscope_decoder::diagnose::diagnose(&trace, &Default::default());
        }
    }
});
