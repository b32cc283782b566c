//! TCP reassembly: one direction's `Reassembler` on its own (in order, and with reordering
//! and retransmissions), and the whole `FlowTable` from Ethernet frames to stream events.
//!
//! Run with `cargo bench -p iotscope-captures --bench reassembly`; the MB/s go into
//! docs/performance.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use etherparse::PacketBuilder;
use iotscope_captures::link::LINKTYPE_ETHERNET;
use iotscope_captures::reassembly::Reassembler;
use iotscope_captures::FlowTable;
use iotscope_decoder::OwnedInput;
use iotscope_decoder::Timestamp;

/// A full-size segment on a 1500-byte Ethernet path with TCP timestamps.
const MSS: usize = 1448;
const ISN: u32 = 0xfff0_0000; // close enough to 2^32 that the stream wraps

/// `(seq, payload)` for a `total`-byte stream cut into MSS segments.
fn segments(total: usize) -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::new();
    let mut off = 0;
    while off < total {
        let n = MSS.min(total - off);
        let seq = ISN.wrapping_add(1).wrapping_add(off as u32);
        v.push((seq, vec![(off / MSS) as u8; n]));
        off += n;
    }
    v
}

/// The same segments as a lossy path delivers them: each pair swapped, and every 50th
/// segment sent twice.
fn reordered(segs: &[(u32, Vec<u8>)]) -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::with_capacity(segs.len() + segs.len() / 50);
    for (i, pair) in segs.chunks(2).enumerate() {
        v.extend(pair.iter().rev().cloned());
        if i % 25 == 0 {
            v.extend(pair.iter().cloned());
        }
    }
    v
}

fn reassemble(segs: &[(u32, Vec<u8>)]) -> u64 {
    let mut r = Reassembler::new();
    r.syn(ISN);
    let mut out = Vec::new();
    let mut delivered = 0u64;
    for (seq, payload) in segs {
        r.segment(*seq, payload, 0, false, &mut out);
        for item in out.drain(..) {
            if let OwnedInput::Data(d) = item {
                delivered += d.len() as u64;
            }
        }
    }
    delivered
}

/// Ethernet frames of `conns` connections, one after another: handshake, `exchanges`
/// request/response pairs of `size` bytes, and a close from both sides.
fn conversation_frames(conns: u16, exchanges: u32, size: usize) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let payload = vec![0x17u8; size];
    for c in 0..conns {
        let device = [10, 1, (c >> 8) as u8, c as u8];
        let endpoint = [192, 0, 2, 10];
        let port = 40_000 + c;
        let (mut dseq, mut eseq) = (1_000u32, 9_000_000u32);
        let frame = |from_device: bool, seq: u32, ack: u32, flags: &str, data: &[u8]| {
            let (src, dst, sp, dp) = if from_device {
                (device, endpoint, port, 8883)
            } else {
                (endpoint, device, 8883, port)
            };
            let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(src, dst, 64)
                .tcp(sp, dp, seq, 64_240);
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('A') {
                b = b.ack(ack);
            }
            if flags.contains('F') {
                b = b.fin();
            }
            let mut out = Vec::with_capacity(b.size(data.len()));
            b.write(&mut out, data).expect("a frame fits in a Vec");
            out
        };
        frames.push(frame(true, dseq, 0, "S", &[]));
        frames.push(frame(false, eseq, dseq + 1, "SA", &[]));
        dseq += 1;
        eseq += 1;
        frames.push(frame(true, dseq, eseq, "A", &[]));
        for _ in 0..exchanges {
            frames.push(frame(true, dseq, eseq, "A", &payload));
            dseq += size as u32;
            frames.push(frame(false, eseq, dseq, "A", &payload));
            eseq += size as u32;
        }
        frames.push(frame(true, dseq, eseq, "FA", &[]));
        frames.push(frame(false, eseq, dseq + 1, "FA", &[]));
        frames.push(frame(true, dseq + 1, eseq + 1, "A", &[]));
    }
    frames
}

fn flow_table(frames: &[Vec<u8>]) -> u64 {
    let mut table = FlowTable::default();
    let mut events = 0u64;
    for (i, f) in frames.iter().enumerate() {
        let ts = Timestamp(1_700_000_000_000_000_000 + i as i64 * 10_000);
        table.push_frame(i as u64 + 1, ts, LINKTYPE_ETHERNET, f, f.len() as u32);
        events += table.drain().count() as u64;
    }
    table.finish();
    events + table.drain().count() as u64
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("reassembly");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));

    let total = 8 << 20;
    let in_order = segments(total);
    let shuffled = reordered(&in_order);
    assert_eq!(reassemble(&shuffled), total as u64);
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_with_input(BenchmarkId::new("in_order", total), &in_order, |b, s| {
        b.iter(|| reassemble(s))
    });
    g.bench_with_input(
        BenchmarkId::new("reordered_and_retransmitted", total),
        &shuffled,
        |b, s| b.iter(|| reassemble(s)),
    );

    let frames = conversation_frames(2_000, 10, 512);
    let frame_bytes: usize = frames.iter().map(Vec::len).sum();
    g.throughput(Throughput::Bytes(frame_bytes as u64));
    g.bench_with_input(
        BenchmarkId::new("flow_table_2000_connections", frame_bytes),
        &frames,
        |b, f| b.iter(|| flow_table(f)),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
