//! Properties: no input makes the reader or the flow table panic, and a stream cut into
//! segments, shuffled and partly duplicated, comes back byte for byte.

mod common;

use std::net::SocketAddr;

use common::*;
use iotscope_captures::writer::build_tcp_packet;
use iotscope_captures::{CaptureReader, FlowTable, TcpFlags};
use iotscope_decoder::Timestamp;
use proptest::prelude::*;

fn feed_everything(bytes: &[u8]) {
    let Ok(reader) = CaptureReader::from_reader(bytes) else {
        return;
    };
    let mut table = FlowTable::default();
    for item in reader {
        match item {
            Ok(p) => table.push(&p),
            Err(e) => {
                assert!(!e.message.is_empty());
                break;
            }
        }
    }
    table.finish();
    summarise(&table.drain().collect::<Vec<_>>());
}

fn lab_capture() -> Vec<u8> {
    std::fs::read(captures_dir().join("lab/03_success_mqtt311_tls12.pcap")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        feed_everything(&bytes);
    }

    #[test]
    fn any_bytes_after_a_valid_header_never_panic(
        pcapng in any::<bool>(),
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = if pcapng {
            PcapngBuilder::new(false).bytes
        } else {
            PcapBuilder::new(1).bytes
        };
        bytes.extend(rest);
        feed_everything(&bytes);
    }

    #[test]
    fn damaged_real_capture_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = lab_capture();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(1));
        feed_everything(&bytes);
    }

    #[test]
    fn arbitrary_segments_never_panic(
        segments in proptest::collection::vec(
            (any::<bool>(), 0u32..4000, 0u32..4000, 0u8..32, 0usize..300),
            1..40,
        ),
        isn in any::<u32>(),
    ) {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:8883".parse().unwrap();
        let mut table = FlowTable::default();
        for (i, (from_a, seq, ack, flags, len)) in segments.into_iter().enumerate() {
            let (src, dst) = if from_a { (a, b) } else { (b, a) };
            let flags = TcpFlags {
                syn: flags & 1 != 0,
                ack: flags & 2 != 0,
                fin: flags & 4 != 0,
                rst: flags & 8 != 0,
                psh: flags & 16 != 0,
            };
            let payload = vec![b'p'; len];
            let ip = build_tcp_packet(src, dst, isn.wrapping_add(seq), isn.wrapping_add(ack), flags, &payload).unwrap();
            table.push_frame(i as u64 + 1, Timestamp(i as i64 * 1_000_000), 101, &ip, ip.len() as u32);
        }
        table.finish();
        summarise(&table.drain().collect::<Vec<_>>());
    }

    #[test]
    fn shuffled_and_duplicated_segments_reassemble_exactly(
        stream in proptest::collection::vec(any::<u8>(), 1..3000),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
        extra in proptest::collection::vec((any::<prop::sample::Index>(), 1usize..200), 0..10),
        order in any::<u64>(),
        isn in prop_oneof![any::<u32>(), (u32::MAX - 3000)..=u32::MAX],
    ) {
        // Segments that partition the stream, plus copies of random stretches of it.
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len())).collect();
        points.push(0);
        points.push(stream.len());
        points.sort();
        points.dedup();
        let mut pieces: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        for (at, len) in extra {
            let s = at.index(stream.len());
            pieces.push((s, (s + len).min(stream.len())));
        }
        // A deterministic shuffle driven by `order`.
        let mut state = order | 1;
        for i in (1..pieces.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            pieces.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let dev: SocketAddr = "[fd00::1]:50000".parse().unwrap();
        let end: SocketAddr = "[fd00::2]:8883".parse().unwrap();
        let mut frames = vec![
            build_tcp_packet(dev, end, isn, 0, TcpFlags::SYN, &[]).unwrap(),
            build_tcp_packet(end, dev, 5, isn.wrapping_add(1), TcpFlags::SYN_ACK, &[]).unwrap(),
        ];
        for (s, e) in pieces {
            let seq = isn.wrapping_add(1).wrapping_add(s as u32);
            frames.push(build_tcp_packet(dev, end, seq, 6, TcpFlags::PSH_ACK, &stream[s..e]).unwrap());
        }
        let fin_seq = isn.wrapping_add(1).wrapping_add(stream.len() as u32);
        frames.push(build_tcp_packet(dev, end, fin_seq, 6, TcpFlags::FIN_ACK, &[]).unwrap());
        let mut b = PcapBuilder::new(101);
        for (i, f) in frames.iter().enumerate() {
            b.frame(1_000_000_000 + i as i64, f);
        }
        let run = run_bytes(&b.bytes);
        let flows = run.flows();
        prop_assert_eq!(flows.len(), 1);
        prop_assert_eq!(&flows[0].data[D2E.index()], &stream);
        prop_assert_eq!(flows[0].gaps, [0, 0]);
        prop_assert!(flows[0].fin[D2E.index()]);
    }
}
