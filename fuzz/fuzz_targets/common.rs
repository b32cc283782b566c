// Shared by the stream targets: the first byte of the input picks the split points, so the
// fuzzer also explores how bytes are cut into feeds and how the two directions interleave.
use iotscope_decoder::{
    AppProtocol, Direction, Identity, Input, Session, SessionConfig, Timestamp,
};

pub fn drive(data: &[u8], hint: Option<AppProtocol>, prefix: &[u8]) {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let mut s = Session::new(
        Identity::default(),
        SessionConfig {
            reveal_passwords: false,
            hint,
            ..SessionConfig::default()
        },
    );
    s.feed(Direction::DeviceToEndpoint, Input::Open, Timestamp(0));
    if !prefix.is_empty() {
        s.feed(Direction::DeviceToEndpoint, prefix, Timestamp(1));
    }
    let step = (shape as usize % 61) + 1;
    for (i, chunk) in rest.chunks(step).enumerate() {
        let dir = if (shape >> 6) & 1 == 1 && i % 3 == 2 {
            Direction::EndpointToDevice
        } else {
            Direction::DeviceToEndpoint
        };
        s.feed(dir, chunk, Timestamp(i as i64 + 2));
        if shape >> 7 == 1 && i % 7 == 6 {
            s.feed(dir, Input::Gap(chunk.len() as u64), Timestamp(i as i64 + 2));
        }
        // A count of bytes not copied, as the passthrough proxy hands on: the session must
        // sort it into counted and missed whatever state it is in.
        if (shape >> 5) & 1 == 1 && i % 5 == 4 {
            let n = u64::from(chunk.first().copied().unwrap_or(0)) << (chunk.len() % 24);
            s.feed(dir, Input::Unread(n), Timestamp(i as i64 + 2));
        }
    }
    s.feed(Direction::EndpointToDevice, Input::Rst, Timestamp(1_000));
    let trace = s.finish();
    let _ = iotscope_decoder::diagnose::diagnose(&trace, &Default::default());
}
