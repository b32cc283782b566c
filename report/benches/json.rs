//! Why `SortedJson` exists: the JSON Lines object of a connection, written with sorted keys,
//! by `SortedJson` straight into bytes and by serde_json through a `Value` tree (the only way
//! serde_json sorts keys). Both give the same bytes (checked before timing); the bench says
//! what the tree costs per connection.
//!
//!     cargo bench -p iotscope-report --bench json

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iotscope_captures::reader::CaptureReader;
use iotscope_captures::replay::{Replay, ReplayConfig, ReplayItem};
use iotscope_decoder::diagnose::{diagnose, Context, Finding};
use iotscope_decoder::facts::Facts;
use iotscope_decoder::Trace;
use iotscope_report::json::Connection;
use iotscope_report::sorted_json::SortedJson;

/// Every connection of the sample and lab captures, with its findings, with events.
fn connections() -> Vec<(Trace, Vec<Finding>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["captures/samples", "captures/reference/lab"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect();
        files.sort();
        for f in files {
            let reader = CaptureReader::open(&f).unwrap();
            for item in Replay::new(reader, f.display().to_string(), ReplayConfig::default()) {
                if let ReplayItem::Connection(t) = item {
                    let found = diagnose(&t, &Context::default());
                    out.push((*t, found));
                }
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let conns = connections();
    // The facts are gathered once per connection for the rules and the output alike; only
    // the writing is timed.
    let facts: Vec<Facts> = conns.iter().map(|(t, _)| Facts::new(t)).collect();
    let conns: Vec<(&Facts, &[Finding])> = facts
        .iter()
        .zip(&conns)
        .map(|(facts, (_, f))| (facts, f.as_slice()))
        .collect();
    let mut writer = SortedJson::new();
    let mut sorted = Vec::new();
    let mut tree = Vec::new();
    for &(t, f) in &conns {
        let view = Connection::new(t, f, true);
        writer.write(&mut sorted, &view).unwrap();
        serde_json::to_writer(&mut tree, &serde_json::to_value(&view).unwrap()).unwrap();
    }
    assert_eq!(sorted, tree, "the two ways must give the same bytes");
    let mut g = c.benchmark_group("connection_json");
    g.throughput(Throughput::Elements(conns.len() as u64));
    g.bench_function("sorted_json", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            for &(t, f) in &conns {
                writer
                    .write(&mut out, &Connection::new(t, f, true))
                    .unwrap();
            }
            out.len()
        })
    });
    g.bench_function("serde_json_value_tree", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            for &(t, f) in &conns {
                let v = serde_json::to_value(Connection::new(t, f, true)).unwrap();
                serde_json::to_writer(&mut out, &v).unwrap();
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
