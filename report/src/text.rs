//! Text for people: a header per connection, a ladder of its events, then its findings.
//!
//! Lines are kept within 80 columns where the values allow; colour only when asked (on a TTY).

use std::fmt::Write as _;

use iotscope_decoder::cert::{Certificate, ChainSummary};
use iotscope_decoder::diagnose::{Certainty, Finding, Severity};
use iotscope_decoder::event::{AlertLevel, EncryptedPhase, HandshakeKind};
use iotscope_decoder::mqtt::{Body, Packet};
use iotscope_decoder::{tls, Direction, Event, EventKind, Timestamp, Trace};

use super::version_name;
use iotscope_decoder::facts::Facts;
use iotscope_decoder::hex::{shorten, text_or_hex};

#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn severity(&self, sev: Severity) -> String {
        match sev {
            Severity::Error => self.paint("1;31", "error"),
            Severity::Warning => self.paint("1;33", "warning"),
            Severity::Info => self.paint("36", "info"),
        }
    }
}

/// `→` for device to endpoint, `←` for endpoint to device.
pub fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::DeviceToEndpoint => "→",
        Direction::EndpointToDevice => "←",
    }
}

/// Appends the header line(s) of a connection.
fn write_header(s: &mut String, trace: &Trace, style: Style) {
    let id = &trace.identity;
    if style.colour {
        s.push_str("\x1b[1m");
    }
    let _ = write!(s, "#{} ", id.number);
    match id.device {
        Some(a) => {
            let _ = write!(s, "{a}");
        }
        None => s.push_str("device ?"),
    }
    s.push_str(" → ");
    match id.endpoint {
        Some(a) => {
            let _ = write!(s, "{a}");
        }
        None => s.push_str("endpoint ?"),
    }
    if style.colour {
        s.push_str("\x1b[0m");
    }
    if let Some(t) = trace.first_ts {
        let _ = write!(s, "  {}", t.rfc3339());
    }
    if let Some(src) = &id.source {
        s.push_str("\n   ");
        s.push_str(&style.dim(src));
    }
    let hist = tls::history(trace);
    if !hist.is_empty() {
        s.push_str("\n   history ");
        s.push_str(&hist);
    }
}

/// One ladder line (plus indented detail lines for certificate chains).
pub fn event_line(trace: &Trace, e: &Event, style: Style) -> String {
    let mut s = String::new();
    write_event_line(&mut s, &mut String::new(), trace, e, style);
    s
}

/// Appends [`event_line`] to `s`; `body` is scratch space for the event's description.
fn write_event_line(s: &mut String, body: &mut String, trace: &Trace, e: &Event, style: Style) {
    let warn = matches!(
        e.kind,
        EventKind::Alert { .. } | EventKind::TcpRst | EventKind::Upstream { .. }
    ) || matches!(&e.kind, EventKind::ProxyResponse(r) if !matches!(r.status, Some(100..=299)));
    if warn && style.colour {
        s.push_str("\x1b[33m");
    }
    let mark = if e.decrypted { "*" } else { " " };
    let line_start = s.len();
    s.push_str("  ");
    write_relative(s, trace, e.ts);
    let _ = write!(s, " {} {mark}", arrow(e.dir));
    let width = s[line_start..].chars().count() + 2;
    body.clear();
    write_describe(body, e);
    let mut lines = body.lines();
    s.push_str(lines.next().unwrap_or_default());
    for l in lines {
        s.push('\n');
        s.extend(std::iter::repeat_n(' ', width));
        s.push_str(l);
    }
    if warn && style.colour {
        s.push_str("\x1b[0m");
    }
}

/// Seconds since the connection's first event, as `{:>10.6}` prints them. Capture times are
/// whole microseconds nearly always, and then the digits are written from the integer: a
/// float formatted to six places costs more than the rest of the line.
fn write_relative(s: &mut String, trace: &Trace, ts: Timestamp) {
    let ns = trace.first_ts.map_or(0, |t0| ts.0.wrapping_sub(t0.0));
    if !(0..1 << 53).contains(&ns) || ns % 1000 != 0 {
        let _ = write!(s, "{:>10.6}", trace.relative(ts));
        return;
    }
    let micros = ns / 1000;
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    // Six decimals, the point, and at least one digit before it.
    let mut width = 8;
    let mut rest = whole / 10;
    while rest > 0 {
        width += 1;
        rest /= 10;
    }
    s.extend(std::iter::repeat_n(' ', 10usize.saturating_sub(width)));
    let _ = write!(s, "{whole}.{frac:06}");
}

/// What one event says, in a few words (several lines for a certificate chain): the text
/// ladder's line without its time and arrow.
pub fn describe(e: &Event) -> String {
    let mut s = String::new();
    write_describe(&mut s, e);
    s
}

/// Appends what one event says, in a few words.
fn write_describe(s: &mut String, e: &Event) {
    // Writing to a String cannot fail.
    let _ = describe_into(s, e);
}

fn describe_into(s: &mut String, e: &Event) -> std::fmt::Result {
    match &e.kind {
        EventKind::TcpOpen => s.push_str("TCP connection opened"),
        EventKind::TcpFin => write!(s, "{} closed its side (FIN)", e.dir.sender())?,
        EventKind::TcpRst => write!(s, "{} reset the connection (RST)", e.dir.sender())?,
        EventKind::Gap { bytes } => write!(s, "{bytes} bytes not captured (gap)")?,
        EventKind::Protocol {
            protocol,
            first_bytes,
        } => {
            // Eight bytes are enough to recognise a protocol by eye; the JSON keeps sixteen.
            let eight = first_bytes.as_bytes();
            let shown = iotscope_decoder::hex::encode(&eight[..eight.len().min(8)]);
            write!(
                s,
                "{} speaks {protocol} (first bytes {shown})",
                e.dir.sender()
            )?
        }
        EventKind::Http { line } => write!(s, "HTTP {line}")?,
        EventKind::ProxyConnect(r) => {
            write!(
                s,
                "HTTP proxy request: {} {} {}",
                r.method, r.target, r.version
            )?;
            if let Some(scheme) = &r.auth {
                write!(s, " (Proxy-Authorization: {scheme})")?;
            }
            if !r.complete {
                s.push_str(" (incomplete)");
            }
        }
        EventKind::ProxyResponse(r) => {
            let status = r.status.map_or("?".to_string(), |c| c.to_string());
            write!(s, "HTTP proxy answer: {status} {}", r.reason)?;
            match r.status {
                Some(200..=299) => s.push_str(" (tunnel open)"),
                Some(100..=199) => {}
                _ => s.push_str(" (tunnel refused)"),
            }
            if !r.auth_offered.is_empty() {
                write!(s, ", asks for {}", r.auth_offered.join(", "))?;
            }
        }
        EventKind::TlsAfterPlaintext { offset } => {
            write!(s, "TLS starts after {offset} bytes of plaintext")?
        }
        EventKind::ClientHello(h) => {
            write!(
                s,
                "ClientHello {}, {} suites, ",
                version_name(h.highest_version()),
                h.cipher_suites.len()
            )?;
            if h.alpn.is_empty() {
                s.push_str("no ALPN");
            } else {
                write!(s, "ALPN {}", h.alpn.join(","))?;
            }
            write!(
                s,
                "\nSNI {}\nJA3 {}\nJA4 {}",
                h.sni.as_deref().unwrap_or("(none)"),
                h.ja3_hash(),
                h.ja4
            )?
        }
        EventKind::ServerHello(h) if h.hello_retry_request => write!(
            s,
            "HelloRetryRequest group {}",
            h.key_share_group.as_ref().map_or("?".into(), |g| g.name())
        )?,
        EventKind::ServerHello(h) => {
            write!(
                s,
                "ServerHello {} {}",
                version_name(h.version),
                h.cipher_suite.name()
            )?;
            if let Some(a) = h.alpn.as_deref() {
                write!(s, " ALPN {a}")?;
            }
        }
        EventKind::Certificate(c) => {
            let ChainSummary {
                chain,
                issued_by_next,
                root,
                root_known,
            } = &**c;
            if chain.is_empty() {
                s.push_str("Certificate: empty (no certificate to send)");
                return Ok(());
            }
            write!(s, "Certificate chain of {}", chain.len())?;
            for (i, c) in chain.iter().enumerate() {
                let link = match issued_by_next.get(i).copied().flatten() {
                    Some(true) => "",
                    Some(false) => "  (NOT issued by the next)",
                    None => "",
                };
                write!(s, "\n[{i}] {}{link}", cert_line(c))?;
                write!(s, "\n    issuer {}", c.issuer)?;
                write!(s, "\n    valid {} .. {}", c.not_before, c.not_after)?;
                let at = e.ts.unix_seconds();
                if c.parse_error.is_none() && !c.valid_at(at) {
                    s.push_str(if at < c.not_before_unix {
                        "\n    NOT YET VALID at the time of this connection"
                    } else {
                        "\n    EXPIRED at the time of this connection"
                    });
                }
                write!(s, "\n    id {}", c.sha256)?;
            }
            if let Some(r) = root {
                write!(
                    s,
                    "\nroot: {r}{}",
                    if *root_known { " (known root)" } else { "" }
                )?;
            }
        }
        EventKind::CertificateRequest { ca_names } => {
            if ca_names.is_empty() {
                s.push_str("CertificateRequest (any CA)");
            } else {
                write!(s, "CertificateRequest for CAs: {}", ca_names.join("; "))?;
            }
        }
        EventKind::Handshake { kind, len } => write!(s, "{} ({len} bytes)", handshake_name(*kind))?,
        EventKind::ChangeCipherSpec => s.push_str("ChangeCipherSpec"),
        EventKind::Alert {
            level,
            name,
            description,
            encrypted,
        } => {
            if *encrypted && description.is_none() {
                s.push_str("Alert (encrypted)");
                return Ok(());
            }
            let lvl = match level {
                Some(AlertLevel::Fatal) => "fatal",
                Some(AlertLevel::Warning) => "warning",
                _ => "?",
            };
            write!(s, "Alert {lvl} {} (", name.unwrap_or("unknown"))?;
            match description {
                Some(d) => write!(s, "{d})")?,
                None => s.push_str("?)"),
            }
        }
        EventKind::Encrypted {
            content_type,
            phase,
            records,
            bytes,
            first_len,
        } => {
            let what = match (phase, content_type) {
                (EncryptedPhase::Handshake, _) => "encrypted handshake",
                (EncryptedPhase::EarlyData, _) => "encrypted early data",
                (_, 21) => "encrypted alert",
                _ => "encrypted data",
            };
            if *records == 1 {
                write!(s, "{what}, {first_len} bytes")?
            } else {
                write!(s, "{what}, {records} records, {bytes} bytes")?
            }
        }
        EventKind::Mqtt(p) => s.push_str(&mqtt_line(p)),
        EventKind::TlsMalformed { offset, reason } => {
            write!(s, "malformed TLS at byte {offset}: {reason}")?
        }
        EventKind::MqttMalformed { offset, reason } => {
            write!(s, "malformed MQTT at byte {offset}: {reason}")?
        }
        // Bytes the proxy only counted (the decoder had given up reading them) quote nothing.
        EventKind::Undecoded { bytes, prefix } if prefix.is_empty() => {
            write!(s, "{bytes} bytes of data")?
        }
        EventKind::Undecoded { bytes, prefix } => {
            write!(s, "{bytes} bytes of data: {:?}", shorten(prefix, 32))?
        }
        EventKind::Note { text } => write!(s, "note: {text}")?,
        EventKind::Unfinished(u) => write!(
            s,
            "unfinished at byte {}: {} of the {} bytes of {}, then nothing more",
            u.offset, u.held, u.need, u.what
        )?,
        EventKind::Cut { text, .. } => write!(s, "{text}")?,
        EventKind::Undecrypted { reason } => write!(s, "not decrypted: {reason}")?,
        EventKind::Upstream { failure } => {
            write!(s, "iotscope could not reach the endpoint: {failure}")?
        }
        EventKind::DeviceLeg(leg) => s.push_str(&device_leg(leg)),
    }
    Ok(())
}

/// The device's own leg of an intercepted connection, on a few lines.
fn device_leg(leg: &iotscope_decoder::device_leg::DeviceLeg) -> String {
    use iotscope_decoder::device_leg::{Outcome, Proof};
    let sni = leg.sni.as_deref().unwrap_or("(none)");
    let mut s = format!("device leg: SNI {sni}");
    if !leg.alpn.is_empty() {
        let _ = write!(s, ", ALPN {}", leg.alpn.join(","));
    }
    if let (Some(v), Some(c)) = (&leg.version, &leg.cipher) {
        let _ = write!(s, ", {v} {c}");
    }
    // No ClientHello read (the device's first bytes were not TLS, or it sent none in time):
    // iotscope answered with no certificate at all.
    if leg.version.is_none() && leg.offered_suites.is_empty() && leg.sni.is_none() {
        s.push_str("\niotscope presented no certificate: it read no ClientHello");
    } else {
        let _ = write!(s, "\niotscope presented {}", leg.presented.describe());
    }
    match leg.leaf() {
        None => s.push_str("\ndevice certificate: none"),
        Some(c) => {
            let _ = write!(s, "\ndevice certificate: {}", cert_line(c));
            let _ = write!(s, "\n  ID {}", c.sha256);
        }
    }
    let proof = match &leg.proof {
        Proof::NoCertificate => None,
        Proof::Verified => Some("CertificateVerify verified: the device holds the key".to_string()),
        Proof::Failed { reason } => Some(format!("CertificateVerify FAILED: {reason}")),
        Proof::NotReached => Some("CertificateVerify not reached".to_string()),
    };
    if let Some(p) = proof {
        let _ = write!(s, "\n{p}");
    }
    if let Some(u) = &leg.upstream_cert {
        let same = match (leg.same_as_upstream(), &leg.outcome) {
            (Some(true), _) => "the same certificate the device sent",
            (Some(false), _) => "NOT the certificate the device sent",
            (None, Outcome::Completed) => "the device sent none",
            (None, _) => "the device's handshake did not get that far",
        };
        let _ = write!(s, "\nupstream certificate: {} ({same})", u.source);
    }
    match &leg.outcome {
        Outcome::Completed => {}
        Outcome::Refused { alert: Some(a) } => {
            let _ = write!(s, "\ndevice refused the handshake: alert {a}");
        }
        Outcome::Refused { alert: None } => s.push_str("\ndevice closed during the handshake"),
        Outcome::Incompatible { detail } | Outcome::Failed { detail } => {
            let _ = write!(s, "\nhandshake failed: {detail}");
        }
    }
    if let Some(why) = &leg.not_upstream {
        let _ = write!(s, "\n{why}");
    }
    if let Some(r) = &leg.endpoint_refused {
        let _ = write!(
            s,
            "\niotscope refused the endpoint's certificate: {}",
            r.reason
        );
    }
    s
}

fn cert_line(c: &Certificate) -> String {
    if let Some(err) = &c.parse_error {
        return format!("unreadable certificate ({err}), {} bytes", c.der_len);
    }
    let key = match (&c.curve, c.key_bits) {
        (Some(curve), _) => format!("{} {curve}", c.key_type),
        (None, Some(b)) => format!("{} {b}", c.key_type),
        _ => c.key_type.clone(),
    };
    format!("{} ({key})", c.subject)
}

fn handshake_name(k: HandshakeKind) -> String {
    match k {
        HandshakeKind::HelloRequest => "HelloRequest".into(),
        HandshakeKind::NewSessionTicket => "NewSessionTicket".into(),
        HandshakeKind::EndOfEarlyData => "EndOfEarlyData".into(),
        HandshakeKind::EncryptedExtensions => "EncryptedExtensions".into(),
        HandshakeKind::ServerKeyExchange => "ServerKeyExchange".into(),
        HandshakeKind::ServerHelloDone => "ServerHelloDone".into(),
        HandshakeKind::CertificateVerify => "CertificateVerify".into(),
        HandshakeKind::ClientKeyExchange => "ClientKeyExchange".into(),
        HandshakeKind::Finished => "Finished".into(),
        HandshakeKind::CertificateStatus => "CertificateStatus".into(),
        HandshakeKind::KeyUpdate => "KeyUpdate".into(),
        HandshakeKind::MessageHash => "MessageHash".into(),
        HandshakeKind::Other(t) => format!("handshake message {t}"),
    }
}

fn mqtt_line(p: &Packet) -> String {
    let name = p.packet_type.name();
    let mut s = match &p.body {
        Body::Connect(c) => {
            let mut s = format!(
                "{name} {} v{} client_id={:?} keep_alive={} clean={}",
                c.protocol_name, c.protocol_level, c.client_id, c.keep_alive, c.clean_start as u8
            );
            if let Some(u) = &c.username {
                let _ = write!(s, " username={u:?}");
            }
            if let Some(pw) = &c.password {
                match &pw.value {
                    Some(v) => {
                        let _ = write!(s, " password={v:?}");
                    }
                    None => s.push_str(" password=<redacted>"),
                }
            }
            if let Some(w) = &c.will {
                let _ = write!(s, " will={}", w.topic);
            }
            s
        }
        Body::Connack(a) => format!(
            "{name} code={} ({}) session_present={}",
            a.code, a.reason, a.session_present as u8
        ),
        Body::Publish(x) => {
            let mut s = format!("{name} {} qos={}", x.topic, p.qos);
            if let Some(id) = x.packet_id {
                let _ = write!(s, " id={id}");
            }
            if p.retain {
                s.push_str(" retain");
            }
            let _ = write!(s, " {} bytes", x.payload_len);
            if !x.payload_prefix.is_empty() {
                let text = shorten(&text_or_hex(&x.payload_prefix), 40);
                let _ = write!(s, " {text:?}");
            }
            s
        }
        Body::Ack(a) => {
            if a.code == 0 {
                format!("{name} id={}", a.packet_id)
            } else {
                format!(
                    "{name} id={} code=0x{:02x} ({})",
                    a.packet_id, a.code, a.reason
                )
            }
        }
        Body::Subscribe(x) => format!(
            "{name} id={} {}",
            x.packet_id,
            x.filters
                .iter()
                .map(|f| format!("{} (qos {})", f.filter, f.qos))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Body::SubAck(a) => format!(
            "{name} id={} codes={}",
            a.packet_id,
            a.codes
                .iter()
                .map(|c| format!("0x{c:02x}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Body::Unsubscribe(u) => format!("{name} id={} {}", u.packet_id, u.filters.join(", ")),
        Body::Disconnect(r) | Body::Auth(r) => {
            if r.code == 0 {
                name.to_string()
            } else {
                format!("{name} code=0x{:02x} ({})", r.code, r.reason)
            }
        }
        Body::Pingreq | Body::Pingresp | Body::Reserved => name.to_string(),
    };
    if !p.problems.is_empty() {
        let _ = write!(s, "  [{}]", p.problems.join("; "));
    }
    if p.lost > 0 {
        let _ = write!(s, "  [{} bytes of it not seen]", p.lost);
    }
    s
}

/// The findings block.
pub fn findings(list: &[Finding], style: Style) -> String {
    if list.is_empty() {
        return format!("  {}", style.dim("no findings"));
    }
    let mut s = String::new();
    for f in list {
        let certainty = match f.certainty {
            Certainty::Certain => "",
            Certainty::Likely => " (likely)",
            Certainty::Possible => " (possible)",
        };
        let _ = writeln!(
            s,
            "  {} {}{certainty}: {}",
            style.severity(f.severity),
            style.bold(f.code.as_str()),
            f.title
        );
        wrap_into(&mut s, &f.summary, "      ", "      ");
        for ev in &f.evidence {
            let seen = format!("seen: +{:.6} {}", ev.t, ev.text);
            wrap_into(&mut s, &seen, "      ", "        ");
        }
        if !f.candidates.is_empty() {
            let _ = writeln!(s, "      possible causes, most likely first:");
            for (i, c) in f.candidates.iter().enumerate() {
                wrap_into(&mut s, c, &format!("        {}. ", i + 1), "           ");
            }
        }
        if let Some(settle) = &f.settle {
            let settle = format!("to tell them apart: {settle}");
            wrap_into(&mut s, &settle, "      ", "        ");
        }
        for step in &f.next_steps {
            if step.starts_with("aws ") || step.starts_with("openssl ") {
                let _ = writeln!(s, "      next: {step}");
            } else {
                wrap_into(&mut s, &format!("next: {step}"), "      ", "        ");
            }
        }
        let _ = writeln!(s, "      guide: {} {}", f.section.title(), f.guide);
    }
    s.trim_end().to_string()
}

/// Text for people wraps at this column; commands in next steps are left whole so they can
/// be copied.
const WIDTH: usize = 80;

/// Appends `text` word-wrapped to [`WIDTH`], the first line after `first`, the rest after
/// `rest`.
fn wrap_into(out: &mut String, text: &str, first: &str, rest: &str) {
    out.push_str(first);
    // Characters on the current line, counted as they are added.
    let mut width = first.chars().count();
    let mut empty = true;
    for word in text.split(' ') {
        let w = word.chars().count();
        if !empty && width + 1 + w > WIDTH {
            out.push('\n');
            out.push_str(rest);
            width = rest.chars().count();
            empty = true;
        }
        if !empty {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += w;
        empty = false;
    }
    out.push('\n');
}

/// Appends the whole text block of a finished connection to `s`.
pub fn write_connection(s: &mut String, facts: &Facts, list: &[Finding], style: Style) {
    write_connection_with_account(s, facts, list, style, None)
}

/// The same, with the "account:" line before the findings when the account was asked.
pub fn write_connection_with_account(
    s: &mut String,
    facts: &Facts,
    list: &[Finding],
    style: Style,
    account: Option<&str>,
) {
    let trace = facts.trace;
    write_header(s, trace, style);
    s.push('\n');
    let mut body = String::new();
    for (shown, e) in trace.events().enumerate() {
        if shown == iotscope_decoder::trace::HEAD_EVENTS && trace.omitted_events() > 0 {
            let _ = writeln!(
                s,
                "  {}",
                style.dim(&format!("… {} events omitted …", trace.omitted_events()))
            );
        }
        write_event_line(s, &mut body, trace, e, style);
        s.push('\n');
    }
    if let Some(line) = account {
        let _ = writeln!(s, "  {line}");
    }
    s.push_str(&findings(list, style));
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotscope_decoder::Identity;

    /// The integer path prints what the float would, for whole microseconds, and the float
    /// path takes over for anything else.
    #[test]
    fn relative_times_print_as_the_float_would() {
        let mut trace = Trace::new(Identity::default());
        trace.first_ts = Some(Timestamp(1_000_000_000_000));
        for ns in [
            0i64,
            1_000,
            999_000,
            1_000_000,
            60_174_000,
            1_234_567_000_000,
            5,
            500,
            1_500,
            999_999_999,
            -1_000,
            -60_174_000,
            123_456_789_012_345,
        ] {
            let ts = Timestamp(1_000_000_000_000 + ns);
            let mut s = String::new();
            write_relative(&mut s, &trace, ts);
            assert_eq!(s, format!("{:>10.6}", trace.relative(ts)), "{ns}");
        }
    }

    /// A payload whose 40th byte falls inside a character once made the text view panic.
    #[test]
    fn a_publish_payload_is_cut_between_characters() {
        use iotscope_decoder::mqtt::{Body, Packet, PacketType, Publish};
        let payload = format!("{}é rest of the reading", "t".repeat(39));
        let p = Packet {
            packet_type: PacketType::Publish,
            flags: 0,
            dup: false,
            qos: 0,
            retain: false,
            remaining_length: 0,
            offset: 0,
            body: Body::Publish(Publish {
                topic: "dt/site/1".into(),
                packet_id: None,
                payload_len: payload.len(),
                payload_prefix: payload.as_bytes().to_vec(),
                properties: Vec::new(),
            }),
            problems: Vec::new(),
            lost: 0,
        };
        let line = mqtt_line(&p);
        assert!(
            line.ends_with(&format!("\"{}é…\"", "t".repeat(39))),
            "{line}"
        );
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width_and_words_whole() {
        let text = "a ".repeat(60) + &"x".repeat(90) + " é→ end";
        let mut out = String::new();
        wrap_into(&mut out, &text, "      ", "        ");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines
            .iter()
            .all(|l| l.chars().count() <= WIDTH || !l.trim().contains(' ')));
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            text.split(' ').collect::<Vec<_>>()
        );
        assert!(lines[0].starts_with("      a a"));
        assert!(lines[1].starts_with("        "));
    }
}
