//! The ladder (sequence) diagram of one connection, as SVG: the picture the text ladder
//! describes in lines.
//!
//! Lanes stand for who took part: the device, iotscope when it sat in the path (two lanes in
//! MITM mode, one per TLS leg it holds) and the endpoint. Each event is one arrow, from the
//! lane that sent it to the lane that received it, with its time since the connection's first
//! event; time runs down the page. Arrows read from decrypted bytes are marked, the arrows the
//! worst finding cites as evidence are highlighted, and the finding's text and next steps
//! stand beside the lanes.
//!
//! The layout is computed first as plain numbers ([`Ladder`]), then written out; the tests
//! check the numbers, the browser tests check what is drawn. The live view and the HTML
//! report both use this one generator.

use std::fmt::Write as _;

use iotscope_decoder::diagnose::{Finding, Severity};
use iotscope_decoder::{Direction, Event, EventKind, Trace};
use iotscope_report::text;

use crate::escape::xml;

/// Left of the first lane: the time column.
pub const TIME_COLUMN: f64 = 96.0;
/// Between two lanes.
pub const LANE_GAP: f64 = 300.0;
/// The first lane's x.
pub const FIRST_LANE: f64 = TIME_COLUMN + 40.0;
/// Where the first arrow is drawn (below the lane names).
pub const FIRST_ROW: f64 = 64.0;
/// Between two arrows.
pub const ROW: f64 = 30.0;
/// The finding panel's width, right of the last lane.
const PANEL_WIDTH: f64 = 400.0;
/// Width of a label's character, about, at the diagram's font size: a label is cut to the
/// length of its arrow (the whole text is its tooltip).
const CHAR_WIDTH: f64 = 6.4;
/// The fewest characters a label keeps, however short its arrow.
const LABEL_MIN_CHARS: usize = 24;
/// Characters per line in the finding panel.
const PANEL_CHARS: usize = 58;
/// Two times closer than this are the same instant: evidence times are printed from the same
/// nanosecond timestamps the events carry, as seconds with (at least) microseconds.
const SAME_TIME: f64 = 5e-7;

/// Who took part, as lanes from left to right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A capture: iotscope only read the wire.
    Capture,
    /// The passthrough proxy: iotscope relayed bytes it could not read inside TLS.
    Relay,
    /// The MITM proxy: two TLS sessions, the device's with iotscope and iotscope's with the
    /// endpoint.
    Mitm,
}

impl Layout {
    pub fn of(trace: &Trace) -> Layout {
        let source = trace.identity.source.as_deref().unwrap_or_default();
        let mitm = source.contains("mitm")
            || trace
                .events()
                .any(|e| matches!(e.kind, EventKind::DeviceLeg(_)));
        if mitm {
            Layout::Mitm
        } else if source.starts_with("proxy") {
            Layout::Relay
        } else {
            Layout::Capture
        }
    }

    pub fn lanes(self) -> &'static [&'static str] {
        match self {
            Layout::Capture => &["device", "endpoint"],
            Layout::Relay => &["device", "iotscope", "endpoint"],
            Layout::Mitm => &[
                "device",
                "iotscope (device leg)",
                "iotscope (endpoint leg)",
                "endpoint",
            ],
        }
    }

    fn endpoint(self) -> usize {
        self.lanes().len() - 1
    }

    /// The lane iotscope acts from towards `toward` (its only lane when it relays).
    fn iotscope(self, toward: Direction) -> Option<usize> {
        match self {
            Layout::Capture => None,
            Layout::Relay => Some(1),
            Layout::Mitm => Some(match toward {
                Direction::EndpointToDevice => 1,
                Direction::DeviceToEndpoint => 2,
            }),
        }
    }

    /// The lanes an event's arrow goes from and to.
    pub fn ends(self, e: &Event) -> (usize, usize) {
        let last = self.endpoint();
        let by_direction = |near_device: usize, near_endpoint: usize| match e.dir {
            Direction::DeviceToEndpoint => (near_device, near_endpoint),
            Direction::EndpointToDevice => (near_endpoint, near_device),
        };
        match (&e.kind, self) {
            // iotscope could not reach the endpoint: its own attempt.
            (EventKind::Upstream { .. }, l) if l != Layout::Capture => {
                (l.iotscope(Direction::DeviceToEndpoint).unwrap_or(0), last)
            }
            // iotscope closed the connection itself, towards the side the event faces.
            (EventKind::Cut { .. }, l) if l != Layout::Capture => {
                let from = l.iotscope(e.dir).unwrap_or(0);
                let to = match e.dir {
                    Direction::DeviceToEndpoint => last,
                    Direction::EndpointToDevice => 0,
                };
                (from, to)
            }
            // The device's own handshake with iotscope.
            (EventKind::DeviceLeg(_), Layout::Mitm) => (0, 1),
            // What the device and the endpoint said to each other inside TLS (MQTT, or
            // whatever else the plaintext holds) went through iotscope's both legs.
            (_, Layout::Mitm) if e.decrypted && inside_tls(e) => by_direction(0, last),
            // The rest of a MITM trace is iotscope's session with the endpoint, its
            // decrypted handshake messages included.
            (_, Layout::Mitm) => by_direction(2, last),
            _ => by_direction(0, last),
        }
    }
}

/// One lane: its name and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub name: &'static str,
    pub x: f64,
}

/// One event's arrow.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrow {
    /// The event's position in the trace's kept events.
    pub index: usize,
    /// Seconds since the connection's first event.
    pub t: f64,
    pub from: usize,
    pub to: usize,
    pub x1: f64,
    pub x2: f64,
    pub y: f64,
    /// What the event says, first line (cut to fit); `full` is all of it.
    pub label: String,
    pub full: String,
    pub decrypted: bool,
    /// Cited as evidence by the worst finding.
    pub cited: bool,
    /// A close, reset, alert or failure: drawn in the warning colour.
    pub warn: bool,
}

/// A whole diagram, laid out.
#[derive(Clone, Debug)]
pub struct Ladder<'a> {
    pub layout: Layout,
    pub lanes: Vec<Lane>,
    pub arrows: Vec<Arrow>,
    /// Events the trace left out between its head and its tail.
    pub omitted: u64,
    pub worst: Option<&'a Finding>,
    pub others: Vec<&'a Finding>,
    pub width: f64,
    pub height: f64,
}

/// The finding that says the most: the most severe, the first of those (the rules list the
/// primary one first).
pub fn worst(findings: &[Finding]) -> Option<&Finding> {
    let top = findings.iter().map(|f| f.severity).max()?;
    findings.iter().find(|f| f.severity == top)
}

impl<'a> Ladder<'a> {
    pub fn new(trace: &Trace, findings: &'a [Finding]) -> Ladder<'a> {
        let layout = Layout::of(trace);
        let lanes: Vec<Lane> = layout
            .lanes()
            .iter()
            .enumerate()
            .map(|(i, name)| Lane {
                name,
                x: FIRST_LANE + i as f64 * LANE_GAP,
            })
            .collect();
        let worst = worst(findings);
        let cited: Vec<f64> = worst.map_or(Vec::new(), |f| {
            f.evidence.iter().map(|e| e.t).collect::<Vec<_>>()
        });
        // Once iotscope has failed to reach the endpoint, the endpoint is out of the picture:
        // what the device sends ends at iotscope, and the close it gets comes from iotscope.
        let mut unreachable = false;
        let arrows: Vec<Arrow> = trace
            .events()
            .enumerate()
            .map(|(index, e)| {
                let (mut from, mut to) = layout.ends(e);
                let failure = matches!(e.kind, EventKind::Upstream { .. });
                if let (true, false, Some(lane)) = (unreachable, failure, layout.iotscope(e.dir)) {
                    match e.dir {
                        Direction::DeviceToEndpoint => to = lane,
                        Direction::EndpointToDevice => from = lane,
                    }
                }
                unreachable |= failure;
                let t = trace.relative(e.ts);
                let full = text::describe(e);
                let first = full.lines().next().unwrap_or_default();
                Arrow {
                    index,
                    t,
                    from,
                    to,
                    x1: lanes[from].x,
                    x2: lanes[to].x,
                    y: FIRST_ROW + index as f64 * ROW,
                    label: cut(first, label_chars(lanes[from].x, lanes[to].x)),
                    full,
                    decrypted: e.decrypted,
                    cited: cited.iter().any(|c| (c - t).abs() < SAME_TIME),
                    warn: is_warning(e),
                }
            })
            .collect();
        let last_x = lanes.last().map_or(FIRST_LANE, |l| l.x);
        let others = findings
            .iter()
            .filter(|f| worst.is_none_or(|w| !std::ptr::eq(*f, w)))
            .collect();
        let mut ladder = Ladder {
            layout,
            lanes,
            arrows,
            omitted: trace.omitted_events(),
            worst,
            others,
            width: last_x + 60.0 + PANEL_WIDTH,
            height: 0.0,
        };
        let rows_end = FIRST_ROW + ladder.arrows.len() as f64 * ROW + 30.0;
        ladder.height = rows_end.max(ladder.panel_lines().len() as f64 * 17.0 + FIRST_ROW + 40.0);
        ladder
    }

    /// The finding panel's lines: (class, text).
    fn panel_lines(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let Some(f) = self.worst else {
            out.push(("title", "No finding".to_string()));
            return out;
        };
        out.push((
            severity_class(f.severity),
            format!("{} · {}", f.severity, f.code.as_str()),
        ));
        for l in wrap(f.title, PANEL_CHARS) {
            out.push(("title", l));
        }
        for l in wrap(&f.summary, PANEL_CHARS) {
            out.push(("text", l));
        }
        if !f.evidence.is_empty() {
            out.push(("head", "Evidence (highlighted):".to_string()));
            for e in &f.evidence {
                for (i, l) in wrap(&format!("{:.6} s {}", e.t, e.text), PANEL_CHARS - 2)
                    .into_iter()
                    .enumerate()
                {
                    out.push(("text", format!("{}{l}", if i == 0 { "• " } else { "  " })));
                }
            }
        }
        if !f.next_steps.is_empty() {
            out.push(("head", "Next steps:".to_string()));
            for (n, step) in f.next_steps.iter().enumerate() {
                for (i, l) in wrap(step, PANEL_CHARS - 3).into_iter().enumerate() {
                    let lead = if i == 0 {
                        format!("{}. ", n + 1)
                    } else {
                        "   ".to_string()
                    };
                    out.push(("text", format!("{lead}{l}")));
                }
            }
        }
        if !self.others.is_empty() {
            out.push(("head", "Other findings:".to_string()));
            for o in &self.others {
                out.push((
                    "text",
                    format!("{} {} — {}", o.severity, o.code.as_str(), o.title),
                ));
            }
        }
        out
    }

    /// The diagram as one `<svg>` element.
    pub fn svg(&self) -> String {
        let mut s = String::with_capacity(4096 + self.arrows.len() * 400);
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="{w}" height="{h}" viewBox="0 0 {w} {h}" data-layout="{layout:?}">"#,
            w = self.width,
            h = self.height,
            layout = self.layout,
        );
        // The few rules every arrow shares, once, rather than as attributes on each.
        s.push_str(
            r#"<style>.arrow line{marker-end:url(#head)}.arrow .time{text-anchor:end}.arrow .label{text-anchor:middle}</style>"#,
        );
        s.push_str(
            r#"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>"#,
        );
        let bottom = self.height - 10.0;
        let _ = write!(
            s,
            r#"<text class="time-head" x="{x}" y="{y}" text-anchor="end">t (s)</text>"#,
            x = TIME_COLUMN,
            y = FIRST_ROW - 30.0
        );
        for (i, lane) in self.lanes.iter().enumerate() {
            let _ = write!(
                s,
                r#"<g class="lane" data-lane="{i}"><text x="{x}" y="{ty}" text-anchor="middle">{name}</text><line x1="{x}" y1="{y1}" x2="{x}" y2="{bottom}"/></g>"#,
                x = lane.x,
                ty = FIRST_ROW - 34.0,
                y1 = FIRST_ROW - 24.0,
                name = xml(lane.name),
            );
        }
        for a in &self.arrows {
            let mut class = String::from("arrow");
            if a.decrypted {
                class.push_str(" decrypted");
            }
            if a.cited {
                class.push_str(" cited");
            }
            if a.warn {
                class.push_str(" warn");
            }
            let mid = (a.x1 + a.x2) / 2.0;
            // The whole text as a tooltip only where the label had to be cut: a report of
            // thousands of connections carries every diagram.
            let title = if a.label != a.full {
                format!("<title>{}</title>", xml(&a.full))
            } else {
                String::new()
            };
            let _ = write!(
                s,
                r#"<g class="{class}" data-t="{t:.6}" data-from="{from}" data-to="{to}">{title}<text class="time" x="{tx}" y="{ty}">{t:.6}</text><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}"/><text class="label" x="{mid}" y="{ly}">{mark}{label}</text></g>"#,
                t = a.t,
                from = self.lanes[a.from].name,
                to = self.lanes[a.to].name,
                tx = TIME_COLUMN,
                ty = a.y + 4.0,
                x1 = a.x1,
                x2 = a.x2,
                y = a.y,
                ly = a.y - 5.0,
                mark = if a.decrypted { "* " } else { "" },
                label = xml(&a.label),
            );
        }
        let _ = write!(
            s,
            r#"<text class="key" x="{x}" y="{y}">* dashed: read from decrypted bytes · red, thick: cited as evidence</text>"#,
            x = TIME_COLUMN - 60.0,
            y = bottom + 4.0
        );
        if self.omitted > 0 {
            let _ = write!(
                s,
                r#"<text class="omitted" x="{x}" y="{y}">({n} events in the middle left out)</text>"#,
                x = FIRST_LANE,
                y = bottom - 14.0,
                n = self.omitted
            );
        }
        let px = self.lanes.last().map_or(FIRST_LANE, |l| l.x) + 60.0;
        let _ = write!(
            s,
            r#"<g class="finding" transform="translate({px},{y})">"#,
            y = FIRST_ROW - 34.0
        );
        if let Some(f) = self.worst {
            let _ = write!(
                s,
                r#"<a href="{href}" target="_blank"><text class="guide" x="0" y="-14">AWS troubleshooting guide: {section}</text></a>"#,
                href = xml(f.guide),
                section = xml(f.section.title()),
            );
        }
        for (n, (class, line)) in self.panel_lines().iter().enumerate() {
            let _ = write!(
                s,
                r#"<text class="{class}" x="0" y="{y}">{t}</text>"#,
                y = n as f64 * 17.0 + 6.0,
                t = xml(line)
            );
        }
        s.push_str("</g></svg>");
        s
    }
}

/// An event about the application protocol inside TLS, not about TLS itself.
fn inside_tls(e: &Event) -> bool {
    use iotscope_decoder::AppProtocol;
    match &e.kind {
        EventKind::Mqtt(_)
        | EventKind::MqttMalformed { .. }
        | EventKind::Http { .. }
        | EventKind::Undecoded { .. } => true,
        EventKind::Protocol { protocol, .. } => *protocol != AppProtocol::Tls,
        EventKind::Unfinished(u) => u.layer != AppProtocol::Tls,
        _ => false,
    }
}

/// How many characters fit along an arrow from `x1` to `x2`.
fn label_chars(x1: f64, x2: f64) -> usize {
    (((x2 - x1).abs() / CHAR_WIDTH) as usize).max(LABEL_MIN_CHARS)
}

fn is_warning(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::Alert { .. }
            | EventKind::TcpRst
            | EventKind::Upstream { .. }
            | EventKind::Cut { .. }
            | EventKind::TlsMalformed { .. }
            | EventKind::MqttMalformed { .. }
    ) || matches!(&e.kind, EventKind::ProxyResponse(r) if !matches!(r.status, Some(100..=299)))
        || matches!(&e.kind, EventKind::Mqtt(p) if matches!(&p.body, iotscope_decoder::mqtt::Body::Connack(c) if c.code != 0))
}

pub fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Error => "sev-error",
        Severity::Warning => "sev-warning",
        Severity::Info => "sev-info",
    }
}

/// `s` cut to `n` characters, with an ellipsis when cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// Words of `s` in lines of at most `n` characters; a longer word (an ARN, a certificate
/// ID) is broken across lines rather than cut, since it is meant to be copied.
pub fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let chars: Vec<char> = word.chars().collect();
        for piece in chars.chunks(n.max(1)) {
            let piece: String = piece.iter().collect();
            let len = line.chars().count();
            if len > 0 && len + 1 + piece.chars().count() > n {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&piece);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::diagnose::{Code, Evidence};
    use iotscope_decoder::{Identity, Timestamp};

    const MS: i64 = 1_000_000;

    fn event(ms: i64, dir: Direction, kind: EventKind) -> Event {
        Event {
            ts: Timestamp(1_700_000_000_000 * MS + ms * MS),
            dir,
            decrypted: false,
            kind,
        }
    }

    fn trace(source: &str, events: Vec<Event>) -> Trace {
        let mut t = Trace::new(Identity {
            source: Some(source.into()),
            number: 1,
            ..Identity::default()
        });
        for e in events {
            t.push(e);
        }
        t
    }

    fn handshake() -> Vec<Event> {
        use Direction::*;
        vec![
            event(0, DeviceToEndpoint, EventKind::TcpOpen),
            event(
                4,
                DeviceToEndpoint,
                EventKind::Note {
                    text: "hello".into(),
                },
            ),
            event(
                5,
                EndpointToDevice,
                EventKind::Alert {
                    level: None,
                    description: Some(48),
                    name: Some("unknown_ca"),
                    encrypted: false,
                },
            ),
            event(7, EndpointToDevice, EventKind::TcpRst),
        ]
    }

    #[test]
    fn lanes_stand_apart_at_fixed_places_per_layout() {
        let capture = trace("x.pcap", handshake());
        let l = Ladder::new(&capture, &[]);
        assert_eq!(l.layout, Layout::Capture);
        let names: Vec<_> = l.lanes.iter().map(|l| l.name).collect();
        assert_eq!(names, ["device", "endpoint"]);
        assert_eq!(l.lanes[0].x, FIRST_LANE);
        assert_eq!(l.lanes[1].x, FIRST_LANE + LANE_GAP);

        let relayed = trace("proxy", handshake());
        let l = Ladder::new(&relayed, &[]);
        assert_eq!(l.layout, Layout::Relay);
        assert_eq!(l.lanes.len(), 3);
        assert_eq!(l.lanes[1].name, "iotscope");

        let mitm = trace("proxy --mitm", handshake());
        let l = Ladder::new(&mitm, &[]);
        assert_eq!(l.layout, Layout::Mitm);
        let xs: Vec<f64> = l.lanes.iter().map(|l| l.x).collect();
        assert_eq!(xs.len(), 4);
        assert!(xs.windows(2).all(|w| w[1] - w[0] == LANE_GAP), "{xs:?}");
        // The finding panel is right of every lane.
        assert!(l.width > xs[3] + 60.0);
    }

    #[test]
    fn one_arrow_per_event_in_order_going_down_the_page() {
        let t = trace("proxy", handshake());
        let l = Ladder::new(&t, &[]);
        assert_eq!(l.arrows.len(), t.events().count());
        let idx: Vec<usize> = l.arrows.iter().map(|a| a.index).collect();
        assert_eq!(idx, [0, 1, 2, 3]);
        assert!(l
            .arrows
            .windows(2)
            .all(|w| w[1].y > w[0].y && w[1].t >= w[0].t));
        let ts: Vec<f64> = l.arrows.iter().map(|a| a.t).collect();
        assert_eq!(ts, [0.0, 0.004, 0.005, 0.007]);
        assert!(l.height >= l.arrows[3].y + ROW / 2.0);
    }

    #[test]
    fn arrows_point_from_the_sender_to_the_receiver() {
        for source in ["x.pcap", "proxy", "proxy --mitm"] {
            let t = trace(source, handshake());
            let l = Ladder::new(&t, &[]);
            let last = l.lanes.len() - 1;
            for (a, e) in l.arrows.iter().zip(t.events()) {
                match e.dir {
                    // Device to endpoint: left to right, ending at the endpoint.
                    Direction::DeviceToEndpoint => {
                        assert!(a.x1 < a.x2, "{source} {a:?}");
                        assert_eq!(a.to, last);
                    }
                    Direction::EndpointToDevice => {
                        assert!(a.x1 > a.x2, "{source} {a:?}");
                        assert_eq!(a.from, last);
                    }
                }
            }
        }
        // In MITM mode an undecrypted record is on the endpoint leg, and so is a decrypted
        // TLS message (iotscope's own session with the endpoint); what the device and the
        // endpoint said inside TLS crosses both legs.
        let mut events = handshake();
        events[1].decrypted = true;
        let t = trace("proxy --mitm", events);
        let l = Ladder::new(&t, &[]);
        assert_eq!((l.arrows[0].from, l.arrows[0].to), (2, 3));
        assert_eq!((l.arrows[1].from, l.arrows[1].to), (2, 3));
        let mut connect = event(
            6,
            Direction::DeviceToEndpoint,
            EventKind::Protocol {
                protocol: iotscope_decoder::AppProtocol::Mqtt,
                first_bytes: iotscope_decoder::event::FirstBytes::new(&[0x10]),
            },
        );
        connect.decrypted = true;
        assert_eq!(Layout::Mitm.ends(&connect), (0, 3));
        connect.decrypted = false;
        assert_eq!(Layout::Mitm.ends(&connect), (2, 3));
        // iotscope's own failure to reach the endpoint starts at its lane.
        let up = event(
            1,
            Direction::DeviceToEndpoint,
            EventKind::Upstream {
                failure: "refused".into(),
            },
        );
        assert_eq!(Layout::Relay.ends(&up), (1, 2));
        assert_eq!(Layout::Mitm.ends(&up), (2, 3));
    }

    #[test]
    fn after_iotscope_fails_to_reach_the_endpoint_arrows_end_at_iotscope() {
        use Direction::*;
        let t = trace(
            "proxy",
            vec![
                event(0, DeviceToEndpoint, EventKind::TcpOpen),
                event(
                    1,
                    DeviceToEndpoint,
                    EventKind::Upstream {
                        failure: "connection refused".into(),
                    },
                ),
                event(2, EndpointToDevice, EventKind::TcpFin),
                event(3, DeviceToEndpoint, EventKind::TcpFin),
            ],
        );
        let l = Ladder::new(&t, &[]);
        let ends: Vec<(usize, usize)> = l.arrows.iter().map(|a| (a.from, a.to)).collect();
        assert_eq!(ends, [(0, 2), (1, 2), (1, 0), (0, 1)]);
    }

    #[test]
    fn times_are_printed_and_the_cited_arrows_marked() {
        let t = trace("x.pcap", handshake());
        let mut f = Finding::new(
            Code::AuthServerCertUntrusted,
            "the device refused the chain",
        );
        f.evidence.push(Evidence {
            t: 0.005,
            text: "alert unknown_ca".into(),
        });
        f.next_steps
            .push("Give the device Amazon Root CA 1.".into());
        let mut info = Finding::new(Code::ConnTruncated, "cut");
        info.severity = Severity::Info;
        let findings = [info, f];
        let l = Ladder::new(&t, &findings);
        assert_eq!(l.worst.map(|f| f.code), Some(Code::AuthServerCertUntrusted));
        let cited: Vec<usize> = l
            .arrows
            .iter()
            .filter(|a| a.cited)
            .map(|a| a.index)
            .collect();
        assert_eq!(cited, [2]);
        let svg = l.svg();
        for time in ["0.000000", "0.004000", "0.005000", "0.007000"] {
            assert!(svg.contains(&format!(">{time}</text>")), "{time} in {svg}");
        }
        assert_eq!(svg.matches(r#"<g class="arrow"#).count(), 4);
        let classes: Vec<&str> = svg
            .split("<g class=\"")
            .skip(1)
            .filter_map(|p| p.split('"').next())
            .collect();
        let cited = classes
            .iter()
            .filter(|c| c.split(' ').any(|w| w == "cited"))
            .count();
        assert_eq!(cited, 1, "{classes:?}");
        assert!(svg.contains("AUTH.SERVER_CERT_UNTRUSTED"));
        assert!(svg.contains("1. Give the device Amazon Root CA 1."));
        assert!(
            svg.contains("CONN.TRUNCATED"),
            "the other finding is listed"
        );
    }

    #[test]
    fn text_is_escaped_and_wrapped() {
        let t = trace(
            "x.pcap",
            vec![event(
                0,
                Direction::DeviceToEndpoint,
                EventKind::Note {
                    text: "<script>&\"".into(),
                },
            )],
        );
        let svg = Ladder::new(&t, &[]).svg();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;&amp;"));
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("x abcdefgh", 4), ["x", "abcd", "efgh"]);
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
