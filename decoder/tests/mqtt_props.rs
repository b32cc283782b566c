//! Property tests: whatever bytes arrive, in whatever pieces, with gaps and closes anywhere,
//! the MQTT decoder neither panics nor loops, every offset it reports lies inside the stream,
//! and a well-framed stream gives one event per packet wherever it is split.

use iotscope_decoder::emit::Emit;
use iotscope_decoder::mqtt::MqttConn;
use iotscope_decoder::{
    AppProtocol, Direction, Event, EventKind, Identity, Session, SessionConfig, Timestamp, Trace,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Data(bool, Vec<u8>),
    Gap(bool, u16),
    Close(bool),
}

fn dir(endpoint: bool) -> Direction {
    if endpoint {
        Direction::EndpointToDevice
    } else {
        Direction::DeviceToEndpoint
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(e, b)| Step::Data(e, b)),
        1 => (any::<bool>(), any::<u16>()).prop_map(|(e, n)| Step::Gap(e, n)),
        1 => any::<bool>().prop_map(Step::Close),
    ]
}

/// A CONNECT that sets the level, so later bytes are read as 3.1.1 or 5.
fn connect(level: u8) -> Vec<u8> {
    iotscope_decoder::mqtt::encode::connect(level, "", 60)
}

/// Runs `steps` through a fresh decoder; returns the events and each direction's length.
fn run(prefix: Option<u8>, steps: &[Step]) -> (Vec<Event>, [u64; 2]) {
    let mut trace = Trace::new(Identity::default());
    let mut conn = MqttConn::new(true);
    let mut len = [0u64; 2];
    if let Some(level) = prefix {
        let c = connect(level);
        len[0] += c.len() as u64;
        conn.push(
            &c,
            &mut Emit::new(&mut trace, dir(false), Timestamp(0), false),
        );
    }
    for s in steps {
        match s {
            Step::Data(e, b) => {
                len[usize::from(*e)] += b.len() as u64;
                conn.push(b, &mut Emit::new(&mut trace, dir(*e), Timestamp(0), false));
            }
            Step::Gap(e, n) => {
                len[usize::from(*e)] += u64::from(*n);
                conn.gap(
                    u64::from(*n),
                    &mut Emit::new(&mut trace, dir(*e), Timestamp(0), false),
                );
            }
            Step::Close(e) => conn.close(&mut Emit::new(&mut trace, dir(*e), Timestamp(0), false)),
        }
    }
    for e in [false, true] {
        conn.close(&mut Emit::new(&mut trace, dir(e), Timestamp(0), false));
    }
    (trace.events().cloned().collect(), len)
}

fn check_offsets(events: &[Event], len: [u64; 2]) {
    for e in events {
        let end = len[e.dir.index()];
        match &e.kind {
            EventKind::MqttMalformed { offset, reason } => {
                assert!(
                    *offset < end,
                    "malformed at {offset} beyond {end}: {reason}"
                );
                assert!(!reason.is_empty());
            }
            EventKind::Mqtt(p) => assert!(p.offset < end, "packet at {} beyond {end}", p.offset),
            _ => {}
        }
    }
}

/// A packet with a correct fixed header around a random body.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    (any::<u8>(), prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(first, body)| {
        let mut out = vec![first];
        let mut n = body.len();
        loop {
            let b = (n % 128) as u8;
            n /= 128;
            out.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                break;
            }
        }
        out.extend(body);
        out
    })
}

fn describe(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::Note { .. }))
        .map(|e| format!("{:?}", e.kind))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_any_pieces_never_panic(
        level in prop::option::of(prop::sample::select(vec![3u8, 4, 5, 6])),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let (events, len) = run(level, &steps);
        check_offsets(&events, len);
    }

    #[test]
    fn framed_random_packets_give_one_event_each_however_split(
        level in prop::sample::select(vec![4u8, 5]),
        frames in prop::collection::vec(frame(), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let stream: Vec<u8> = frames.concat();
        let whole = run(Some(level), &[Step::Data(false, stream.clone())]).0;
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.push(0);
        at.push(stream.len());
        at.sort_unstable();
        let pieces: Vec<Step> = at
            .windows(2)
            .map(|w| Step::Data(false, stream[w[0]..w[1]].to_vec()))
            .collect();
        let split = run(Some(level), &pieces).0;
        prop_assert_eq!(describe(&whole), describe(&split));
        // the CONNECT, then exactly one packet or malformed event per frame, at its offset
        let mut offset = connect(level).len() as u64;
        let found: Vec<u64> = whole
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Mqtt(p) => Some(p.offset),
                EventKind::MqttMalformed { offset, .. } => Some(*offset),
                _ => None,
            })
            .skip(1)
            .collect();
        let mut want = Vec::new();
        for f in &frames {
            want.push(offset);
            offset += f.len() as u64;
        }
        prop_assert_eq!(found, want);
    }

    #[test]
    fn session_with_mqtt_hint_never_panics(
        steps in prop::collection::vec(step(), 0..30),
    ) {
        let config = SessionConfig { reveal_passwords: true, hint: Some(AppProtocol::Mqtt), ..SessionConfig::default() };
        let mut s = Session::new(Identity::default(), config);
        let mut len = [0u64; 2];
        for st in &steps {
            match st {
                Step::Data(e, b) => {
                    len[usize::from(*e)] += b.len() as u64;
                    s.feed(dir(*e), b, Timestamp(1));
                }
                Step::Gap(e, n) => {
                    len[usize::from(*e)] += u64::from(*n);
                    s.feed(dir(*e), iotscope_decoder::Input::Gap(u64::from(*n)), Timestamp(1));
                }
                Step::Close(e) => s.feed(dir(*e), iotscope_decoder::Input::Fin, Timestamp(1)),
            }
        }
        let t = s.finish();
        let events: Vec<Event> = t.events().cloned().collect();
        check_offsets(&events, len);
    }
}
