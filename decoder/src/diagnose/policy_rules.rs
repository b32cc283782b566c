//! With `--policy`: every MQTT request a connection shows (CONNECT, each PUBLISH the device
//! sent, each SUBSCRIBE filter, each PUBLISH the endpoint delivered) evaluated with the
//! policies given, and set beside the endpoint's answer.
//!
//! - refused on the wire, denied by the policies: the AUTHZ finding cites the deciding
//!   statement and the statement to add;
//! - refused but allowed, or allowed but denied: AUTHZ.POLICY_NOT_IN_FORCE;
//! - no answer on the wire: AUTHZ.POLICY_WOULD_DECIDE says what the policies decide;
//! - no MQTT readable at all: AUTHZ.POLICY_NOT_CHECKED (the Diagnoser says it once per run).
//!
//! Without `--policy` nothing here runs.

use super::catalogue::Values;
use super::code::Code;
use super::facts::{Context, Facts};
use super::finding::{Certainty, Finding, Section, Severity};
use crate::cert::{AltNames, CertIdentity, Certificate};
use crate::event::{Direction, Event};
use crate::mqtt::Body;
use crate::policy::{
    self, device, Action, Decision, Device, Given, Reason, Request, Thing, Verdict,
};

pub fn rules(f: &Facts, ctx: &Context, values: &Values, out: &mut Vec<Finding>) {
    let Some(given) = &ctx.policy else {
        return;
    };
    if f.mqtt.is_empty() {
        not_checked(f, ctx, given, out);
        return;
    }
    let device = device_of(f, ctx, given);
    let seen = requests(f, out);
    let mut unanswered: Vec<(&Seen, Verdict)> = Vec::new();
    for s in &seen {
        let v = policy::evaluate(&given.policies, &device, &s.request);
        match (&s.answer, v.decision) {
            (Answer::Refused { finding, .. }, Decision::Deny) => {
                if let Some(i) = finding {
                    sharpen(&mut out[*i], f, s, &v, given);
                }
            }
            (Answer::Refused { at, likely, .. }, Decision::Allow) => {
                out.push(not_in_force(f, s, &v, at, *likely, values, given));
            }
            (Answer::Allowed(at), Decision::Deny) => {
                out.push(not_in_force(f, s, &v, at, false, values, given));
            }
            (Answer::Allowed(_), Decision::Allow) => {}
            (Answer::NotSeen, _) => unanswered.push((s, v)),
        }
    }
    if unanswered.iter().any(|(_, v)| v.decision == Decision::Deny) {
        out.push(would_decide(f, &unanswered, values, given));
    }
}

/// The device as the policies see it: what the connection shows, and what the user gave.
pub fn device_of(f: &Facts, ctx: &Context, given: &Given) -> Device {
    let sni = f.sni().map(str::to_string);
    let domain = sni
        .clone()
        .or_else(|| ctx.expected_endpoint.clone())
        .or_else(|| f.trace.identity.endpoint_name.clone());
    let region = given.region.clone().or_else(|| {
        [
            ctx.expected_endpoint.as_deref(),
            sni.as_deref(),
            f.trace.identity.endpoint_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(device::region_of_endpoint)
    });
    Device {
        client_id: f
            .connect()
            .map(|(_, c)| c.client_id.clone())
            .unwrap_or_default(),
        // Naming the thing says the certificate is attached to it, as in `policy check`.
        thing: given.thing.as_ref().map(|name| Thing {
            name: name.clone(),
            type_name: given.thing_type.clone(),
            attributes: given.thing_attributes.clone(),
            attached: true,
        }),
        certificate: f
            .device_chain
            .and_then(|(_, c)| c.first())
            .filter(|c| c.parse_error.is_none())
            .map(identity_of),
        // The address AWS sees is the device's public one, which a capture near the device
        // does not show.
        source_ip: None,
        region,
        account: given.account.clone(),
        domain,
    }
}

/// The certificate variables from a decoded certificate (the trace keeps its fields, not its
/// DER).
fn identity_of(c: &Certificate) -> CertIdentity {
    CertIdentity {
        subject: name_attributes(&c.subject),
        issuer: name_attributes(&c.issuer),
        serial_decimal: decimal(&c.serial),
        subject_alt: AltNames {
            dns: c.san_dns.clone(),
            ip: c.san_ip.clone(),
            email: c.san_email.clone(),
            uri: c.san_uri.clone(),
            directory: Vec::new(),
        },
        issuer_alt: AltNames::default(),
        not_before: format!("{}Z", c.not_before),
        not_after: format!("{}Z", c.not_after),
        certificate_id: c.sha256.clone(),
    }
}

/// `C=US, O=Example, CN=thing-1` into its attributes, in order.
fn name_attributes(name: &str) -> Vec<(String, String)> {
    name.split(", ")
        .flat_map(|rdn| rdn.split(" + "))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `00:C7:D4` (big-endian bytes) as a decimal number.
fn decimal(hex: &str) -> String {
    let bytes: Vec<u8> = hex
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    // Base 10^9 limbs, least significant first.
    let mut limbs: Vec<u64> = vec![0];
    for b in bytes {
        let mut carry = u64::from(b);
        for l in &mut limbs {
            let v = *l * 256 + carry;
            *l = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut out = limbs.last().copied().unwrap_or(0).to_string();
    for l in limbs.iter().rev().skip(1) {
        out.push_str(&format!("{l:09}"));
    }
    out
}

/// What the endpoint did with a request.
enum Answer<'a> {
    /// It let the request through: CONNACK 0, a successful PUBACK or SUBACK code, a message
    /// delivered.
    Allowed(&'a Event),
    /// It refused: the AUTHZ finding that says so (its index in the findings), the answer
    /// or close, and whether the refusal itself is only the likely reading.
    Refused {
        finding: Option<usize>,
        at: &'a Event,
        likely: bool,
    },
    /// The wire does not show the answer.
    NotSeen,
}

/// One distinct request of the connection, at its first occurrence (or the one answered).
struct Seen<'a> {
    request: Request,
    event: &'a Event,
    answer: Answer<'a>,
}

/// The connection's requests, each once, with the endpoint's answer.
fn requests<'a>(f: &Facts<'a>, out: &[Finding]) -> Vec<Seen<'a>> {
    let level = f.mqtt_level();
    let mut seen: Vec<Seen<'a>> = Vec::new();
    let mut add = |s: Seen<'a>| {
        if let Some(old) = seen.iter_mut().find(|o| o.request == s.request) {
            // A refusal says more than an allow, an allow more than silence.
            let rank = |a: &Answer| match a {
                Answer::Refused { .. } => 2,
                Answer::Allowed(_) => 1,
                Answer::NotSeen => 0,
            };
            if rank(&s.answer) > rank(&old.answer) {
                *old = s;
            }
        } else {
            seen.push(s);
        }
    };
    let finding_at = |code: Code, ev: &Event, name: Option<&str>| {
        out.iter().position(|fd| {
            fd.code == code
                && fd.evidence.first().is_some_and(|e| e.t == f.t(ev))
                && name.is_none_or(|n| fd.summary.contains(n))
        })
    };
    for (ev, p) in &f.mqtt {
        match &p.body {
            Body::Connect(c) if ev.dir == Direction::DeviceToEndpoint => {
                let ack = f.mqtt.iter().find_map(|(e, p)| match &p.body {
                    Body::Connack(a) if e.dir == Direction::EndpointToDevice && e.ts >= ev.ts => {
                        Some((*e, a.code))
                    }
                    _ => None,
                });
                let denied = finding_at(Code::AuthzConnectDenied, ev, None);
                let answer = match (ack, denied) {
                    (Some((e, 0)), _) => Answer::Allowed(e),
                    (_, Some(i)) => Answer::Refused {
                        finding: Some(i),
                        at: ack.map_or(*ev, |(e, _)| e),
                        likely: out[i].certainty != Certainty::Certain,
                    },
                    _ => Answer::NotSeen,
                };
                add(Seen {
                    request: Request::new(Action::Connect, c.client_id.clone()),
                    event: ev,
                    answer,
                });
            }
            Body::Publish(x) if ev.dir == Direction::DeviceToEndpoint => {
                let ack = x.packet_id.and_then(|id| {
                    f.mqtt.iter().find_map(|(e, p)| match &p.body {
                        Body::Ack(a)
                            if e.dir == Direction::EndpointToDevice
                                && p.packet_type == crate::mqtt::PacketType::Puback
                                && a.packet_id == id
                                && e.ts >= ev.ts =>
                        {
                            Some((*e, a.code))
                        }
                        _ => None,
                    })
                });
                let denied = finding_at(Code::AuthzPublishDenied, ev, Some(&x.topic));
                let answer = match (ack, denied) {
                    (_, Some(i)) => Answer::Refused {
                        finding: Some(i),
                        at: ack.map_or(*ev, |(e, _)| e),
                        likely: out[i].certainty != Certainty::Certain,
                    },
                    (Some((e, code)), None) if code < 0x80 => Answer::Allowed(e),
                    _ => Answer::NotSeen,
                };
                add(Seen {
                    request: Request::new(Action::Publish, x.topic.clone()),
                    event: ev,
                    answer,
                });
            }
            Body::Publish(x) => {
                // The endpoint delivered it: AWS IoT Core checks iot:Receive first.
                add(Seen {
                    request: Request::new(Action::Receive, x.topic.clone()),
                    event: ev,
                    answer: Answer::Allowed(ev),
                });
            }
            Body::Subscribe(s) if ev.dir == Direction::DeviceToEndpoint => {
                let ack = f.mqtt.iter().find_map(|(e, p)| match &p.body {
                    Body::SubAck(a)
                        if e.dir == Direction::EndpointToDevice
                            && a.packet_id == s.packet_id
                            && e.ts >= ev.ts =>
                    {
                        Some((*e, a))
                    }
                    _ => None,
                });
                for (i, filter) in s.filters.iter().enumerate() {
                    let code = ack.and_then(|(_, a)| a.codes.get(i).copied());
                    let denied = finding_at(Code::AuthzSubscribeDenied, ev, Some(&filter.filter));
                    let answer = match (ack, code, denied) {
                        (_, _, Some(i)) => Answer::Refused {
                            finding: Some(i),
                            at: ack.map_or(*ev, |(e, _)| e),
                            likely: out[i].certainty != Certainty::Certain
                                && !(level >= 5 && code == Some(0x87)),
                        },
                        (Some((e, _)), Some(c), None) if c < 0x80 => Answer::Allowed(e),
                        _ => Answer::NotSeen,
                    };
                    add(Seen {
                        request: Request::new(Action::Subscribe, filter.filter.clone()),
                        event: ev,
                        answer,
                    });
                }
            }
            _ => {}
        }
    }
    seen
}

/// `policy "p" statement 2 (Sid "DenyOthers")`.
fn statement_text(s: &policy::StatementRef) -> String {
    let sid = s
        .sid
        .as_deref()
        .map(|x| format!(" (Sid {x:?})"))
        .unwrap_or_default();
    format!("policy {:?} statement {}{sid}", s.policy, s.index)
}

/// What the policies decided and why, in one line.
fn decision_text(v: &Verdict) -> String {
    let names: Vec<String> = v.statements.iter().map(statement_text).collect();
    match v.reason {
        Reason::ExplicitDeny => format!(
            "{} denies {} on {} explicitly",
            names.join(" and "),
            v.action,
            v.resource
        ),
        Reason::Allowed => format!(
            "{} allows {} on {}",
            names.join(" and "),
            v.action,
            v.resource
        ),
        Reason::ImplicitDeny => format!(
            "no statement of the policies given allows {} on {} (denied by default)",
            v.action, v.resource
        ),
    }
}

/// The step that makes the policies allow the request.
fn fix_step(v: &Verdict, given: &Given) -> Option<String> {
    match v.reason {
        Reason::ExplicitDeny => Some(format!(
            "Narrow or remove {}: an explicit Deny overrides every Allow.",
            v.statements
                .iter()
                .map(statement_text)
                .collect::<Vec<_>>()
                .join(" and ")
        )),
        Reason::ImplicitDeny => v.suggestion.as_ref().map(|s| {
            let into = given
                .policies
                .first()
                .map(|p| format!(" to policy {:?}", p.name))
                .unwrap_or_default();
            format!(
                "Add this statement{into} ({}): {}",
                s.text,
                s.statement.to_json()
            )
        }),
        Reason::Allowed => None,
    }
}

/// The refusal's AUTHZ finding, with what the policies say about it.
fn sharpen(fd: &mut Finding, f: &Facts, s: &Seen, v: &Verdict, given: &Given) {
    fd.evidence.push(super::finding::Evidence {
        t: f.t(s.event),
        text: format!("{}: {}", given.label(), decision_text(v)),
    });
    if v.undecided > 0 {
        fd.evidence.push(super::finding::Evidence {
            t: f.t(s.event),
            text: format!(
                "{}: {} statement(s) could not be counted: {}",
                given.label(),
                v.undecided,
                v.warnings
                    .iter()
                    .filter(|w| w.contains("was not counted"))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    if let Some(step) = fix_step(v, given) {
        fd.next_steps.insert(0, step);
    }
}

fn action_words(r: &Request) -> String {
    match r.action {
        Action::Connect => format!("iot:Connect for client {:?}", r.name),
        Action::Publish => format!("iot:Publish on topic {}", r.name),
        Action::Subscribe => format!("iot:Subscribe on topic filter {}", r.name),
        Action::Receive => format!("iot:Receive on topic {}", r.name),
        Action::RetainPublish => format!("iot:RetainPublish on topic {}", r.name),
    }
}

/// The account, thing and region filled in the catalogue's steps, where the user gave them.
fn filled_steps(code: Code, values: &Values, given: &Given, region: Option<&str>) -> Vec<String> {
    let mut v = values.clone();
    if v.region().is_none() {
        if let Some(r) = region {
            // The template reads the region from the endpoint name; give it one that holds it.
            v.endpoint = Some(format!("iot.{r}.amazonaws.com"));
        }
    }
    super::catalogue::steps(code, &v)
        .into_iter()
        .map(|s| {
            let s = match &given.account {
                Some(a) => s.replace("ACCOUNT", a),
                None => s,
            };
            match &given.thing {
                Some(t) => s.replace("THING_NAME", t),
                None => s,
            }
        })
        .collect()
}

fn not_in_force(
    f: &Facts,
    s: &Seen,
    v: &Verdict,
    answer: &Event,
    refusal_likely: bool,
    values: &Values,
    given: &Given,
) -> Finding {
    let what = action_words(&s.request);
    let allowed_on_wire = v.decision == Decision::Deny;
    let summary = if allowed_on_wire {
        format!(
            "The endpoint allowed {what}, but the policies given deny it: the policy in force is not the one given."
        )
    } else {
        format!(
            "The endpoint refused {what}, but the policies given allow it: the policy in force is not the one given."
        )
    };
    let answer_text = if allowed_on_wire {
        match s.request.action {
            Action::Receive => "the endpoint delivered the message".to_string(),
            _ => "the endpoint accepted it".to_string(),
        }
    } else {
        "the endpoint refused it (see the AUTHZ finding)".to_string()
    };
    let mut candidates: Vec<String> = if allowed_on_wire {
        vec![
            "another policy attached to the certificate allows it (the policies given are not all of them)".into(),
            "the policy given is not the version in force (edited since, or another default version)".into(),
            "the resources name another region or account than the endpoint's".into(),
            "the endpoint is not AWS IoT Core, and answers by its own rules".into(),
        ]
    } else {
        vec![
            "another policy attached to the certificate denies it explicitly, or the policy given is not attached at all".into(),
            "the policy given is not the version in force (edited since, or another default version)".into(),
            "the resources name another region or account than the endpoint's".into(),
            "the thing is not attached to the certificate, so iot:Connection.Thing.* variables have no value".into(),
        ]
    };
    if refusal_likely {
        candidates.push(
            "the endpoint closed the connection for another reason than authorization".into(),
        );
    }
    if v.undecided > 0 {
        candidates.push(format!(
            "{} statement(s) could not be counted for want of a value (give --thing, --region, --account-id)",
            v.undecided
        ));
    }
    let device = f.t(s.event);
    let mut fd = Finding::new(Code::AuthzPolicyNotInForce, summary)
        .certainty(Certainty::Likely)
        .evidence(device, describe(s))
        .evidence(f.t(answer), answer_text)
        .evidence(device, format!("{}: {}", given.label(), decision_text(v)))
        .candidates(candidates)
        .settle("aws iot get-effective-policies for the certificate lists the policies AWS evaluates; give that output to --policy");
    let region = device_region(values, given);
    fd.next_steps = filled_steps(
        Code::AuthzPolicyNotInForce,
        values,
        given,
        region.as_deref(),
    );
    fd
}

fn device_region(values: &Values, given: &Given) -> Option<String> {
    given.region.clone().or_else(|| values.region())
}

/// The request as it was seen on the wire.
fn describe(s: &Seen) -> String {
    match s.request.action {
        Action::Connect => format!("CONNECT client_id={:?}", s.request.name),
        Action::Publish => format!("PUBLISH topic {}", s.request.name),
        Action::Subscribe => format!("SUBSCRIBE {}", s.request.name),
        Action::Receive => format!("PUBLISH topic {} delivered to the device", s.request.name),
        Action::RetainPublish => format!("PUBLISH topic {} (retained)", s.request.name),
    }
}

fn would_decide(
    f: &Facts,
    unanswered: &[(&Seen, Verdict)],
    values: &Values,
    given: &Given,
) -> Finding {
    let denied: Vec<&(&Seen, Verdict)> = unanswered
        .iter()
        .filter(|(_, v)| v.decision == Decision::Deny)
        .collect();
    let summary = format!(
        "The endpoint's answer to {} request(s) is not on the wire; the policies given would deny {}: {}.",
        unanswered.len(),
        denied.len(),
        denied
            .iter()
            .map(|(s, _)| action_words(&s.request))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut fd = Finding::new(Code::AuthzPolicyWouldDecide, summary);
    for (s, v) in unanswered {
        fd = fd
            .evidence(f.t(s.event), format!("{}, no answer seen", describe(s)))
            .evidence(
                f.t(s.event),
                format!("{}: {}", given.label(), decision_text(v)),
            );
    }
    let mut steps: Vec<String> = denied
        .iter()
        .filter_map(|(_, v)| fix_step(v, given))
        .collect();
    steps.dedup();
    let region = device_region(values, given);
    steps.extend(filled_steps(
        Code::AuthzPolicyWouldDecide,
        values,
        given,
        region.as_deref(),
    ));
    fd.next_steps = steps;
    fd
}

/// Policies were given, but no MQTT packet could be read: say what is known.
fn not_checked(f: &Facts, ctx: &Context, given: &Given, out: &mut Vec<Finding>) {
    // A connection that failed before MQTT (no TLS session, a refusal at the handshake) made
    // no request for a policy to decide on.
    let encrypted_data = !f.encrypted[Direction::DeviceToEndpoint.index()].is_empty()
        && f.client_hello.is_some()
        && !f.any_decrypted;
    let failed_before = out.iter().any(|fd| {
        fd.severity == Severity::Error
            && matches!(fd.section, Section::Connection | Section::Authentication)
    });
    let Some((ev, _)) = f.client_hello.filter(|_| encrypted_data && !failed_before) else {
        return;
    };
    let mut fd = Finding::new(
        Code::AuthzPolicyNotChecked,
        "The policies given were not checked: the MQTT inside TLS could not be read, so the client id and topics are not known.",
    )
    .evidence(
        f.t(ev),
        format!(
            "ClientHello{}; the rest is encrypted",
            f.sni().map(|s| format!(" SNI {s}")).unwrap_or_default()
        ),
    );
    if let Some((cev, c)) = f.device_chain.and_then(|(e, c)| c.first().map(|c| (e, c))) {
        fd = fd.evidence(
            f.t(cev),
            format!(
                "device certificate {} (certificate ID {}): list-attached-policies tells which policies are in force",
                c.subject, c.sha256
            ),
        );
    }
    if let Some(thing) = &given.thing {
        // AWS's advice is a client id equal to the thing name; say what that one would get.
        let mut device = device_of(f, ctx, given);
        device.client_id = thing.clone();
        let v = policy::evaluate(
            &given.policies,
            &device,
            &Request::new(Action::Connect, thing.clone()),
        );
        fd = fd.evidence(
            f.t(ev),
            format!(
                "{}: if the client id is the thing name {thing:?}: {}",
                given.label(),
                decision_text(&v)
            ),
        );
    }
    out.push(fd);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_become_decimal() {
        assert_eq!(decimal("00:C7"), "199");
        assert_eq!(decimal("01:00:00:00:00"), "4294967296");
        assert_eq!(
            decimal("01:00:00:00:00:00:00:00:00"),
            "18446744073709551616"
        );
        assert_eq!(decimal(""), "0");
    }

    #[test]
    fn names_split_into_attributes() {
        assert_eq!(
            name_attributes("C=US, O=Example + OU=Lab, CN=thing-1"),
            vec![
                ("C".to_string(), "US".to_string()),
                ("O".into(), "Example".into()),
                ("OU".into(), "Lab".into()),
                ("CN".into(), "thing-1".into()),
            ]
        );
    }
}
