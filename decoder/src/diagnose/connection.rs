//! Rules for the guide's Connection section: TCP, the ClientHello and what the device sends.

use super::code::Code;
use super::facts::{Context, Facts};
use super::finding::{Certainty, Finding, Severity};
use super::names;
use crate::event::{AppProtocol, EventKind, Side};
use crate::tls::names::version_name as version_label;
use crate::tls::SniForm;

/// The TLS 1.2 suites of AWS IoT Core's default policy (IoTSecurityPolicy_TLS13_1_2_2022_10),
/// and the TLS 1.3 ones.
const AWS_POLICY_SUITES: &[u16] = &[
    0x1301, 0x1302, 0x1303, // TLS 1.3
    0xc02f, 0xc027, 0xc013, 0xc030, 0xc028, 0xc014, // ECDHE-RSA
    0x009c, 0x003c, 0x002f, 0x009d, 0x003d, 0x0035, // RSA
    0xc02b, 0xc023, 0xc009, 0xc02c, 0xc024, 0xc00a, // ECDHE-ECDSA
];

pub fn rules(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    // A proxy that refused the tunnel answered in the endpoint's place: the endpoint never
    // saw the device, so nothing else on this connection says anything about it.
    if http_proxy_refused(f, ctx, out) {
        return;
    }
    http_proxy_target(f, ctx, out);
    // When the proxy never reached the endpoint, the endpoint's silence and the close the
    // device saw are the proxy's doing: the rules that read them would blame the endpoint.
    if upstream_unreachable(f, out) {
        not_tls(f, out);
        sni(f, ctx, out);
        alpn(f, ctx, out);
        versions_and_suites(f, out);
        truncated(f, false, out);
        return;
    }
    tcp_refused(f, out);
    not_tls(f, out);
    sni(f, ctx, out);
    alpn(f, ctx, out);
    wrong_protocol(f, ctx, out);
    versions_and_suites(f, out);
    handshake_aborted(f, out);
    // A MITM proxy that ended the device's leg itself (the first bytes were not TLS, the
    // handshake with iotscope failed) before anything came from the endpoint: the endpoint's
    // silence is iotscope's doing, neither a no-answer nor an answer the capture missed.
    let ended_by_iotscope = device_leg_ended_it(f);
    let stalled = device_stalled(f, out);
    if !stalled && !ended_by_iotscope {
        no_answer(f, out);
    }
    truncated(f, !stalled && !ended_by_iotscope, out);
    not_decrypted(f, out);
}

/// The HTTP proxy's address as the device reached it, for the next steps.
fn proxy_address(f: &Facts) -> Option<String> {
    f.trace.identity.endpoint.map(|a| a.to_string())
}

/// A step's `openssl s_client -proxy` command with this connection's proxy address and
/// tunnel target (`host:port`) in place of the template's.
fn own_tunnel(step: &str, proxy: Option<&str>, target: Option<&str>) -> String {
    let mut s = step.to_string();
    if let Some(p) = proxy {
        s = s.replace("PROXY:PORT", p);
    }
    if let (Some(t), Some(at)) = (target, s.find("-connect ")) {
        let start = at + "-connect ".len();
        let end = s[start..].find(' ').map_or(s.len(), |i| start + i);
        s.replace_range(start..end, t);
    }
    s
}

/// True when an HTTP proxy refused the device's CONNECT (and no later request succeeded).
fn http_proxy_refused(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) -> bool {
    let Some((resp_ev, resp)) = f.proxy_refusal() else {
        return false;
    };
    let req = f.proxy_requests.last().map(|(e, r)| (*e, *r));
    let target = req.map_or("the endpoint", |(_, r)| r.target.as_str());
    let status = resp
        .status
        .map_or_else(|| "an unreadable status".to_string(), |c| c.to_string());
    let answer = format!("{status} {}", resp.reason).trim().to_string();
    let (summary, pick): (String, &[usize]) = match resp.status {
        Some(407) => {
            let sent = match req.and_then(|(_, r)| r.auth.as_deref()) {
                Some(scheme) => format!("it did not accept the device's {scheme} credentials"),
                None => "the device's CONNECT carried no Proxy-Authorization".to_string(),
            };
            let offered = if resp.auth_offered.is_empty() {
                String::new()
            } else {
                format!(" (it asks for {})", resp.auth_offered.join(", "))
            };
            (
                format!("The HTTP proxy wants credentials before it opens a tunnel to {target} ({answer}): {sent}{offered}. The endpoint never saw the device."),
                &[0, 3],
            )
        }
        Some(403) => (
            format!("The HTTP proxy refused to open a tunnel to {target} ({answer}): its rules do not allow that host or that port. The endpoint never saw the device."),
            &[1, 3],
        ),
        // Proxies say it in different ways: tinyproxy 500, nginx and Apache 502, Squid 503.
        Some(500) | Some(502..=504) => (
            format!("The HTTP proxy could not open a connection to {target} itself ({answer}): the name did not resolve from the proxy, or the port refused or did not answer there. The endpoint never saw the device."),
            &[2, 3],
        ),
        _ => (
            format!("The HTTP proxy answered {answer} to the device's request for a tunnel to {target}; only a 2xx status opens it. The endpoint never saw the device."),
            &[0, 1, 2, 3],
        ),
    };
    let mut finding = Finding::new(Code::ConnHttpProxyRefused, summary);
    if let Some((e, r)) = req {
        finding = finding.evidence(f.t(e), format!("device: {} {}", r.method, r.target));
    }
    finding = finding.evidence(f.t(resp_ev), format!("proxy: {answer}"));
    // The steps for this status; the proxy's own address in place of PROXY:PORT.
    let values = super::values(f, ctx);
    let steps = super::catalogue::steps(Code::ConnHttpProxyRefused, &values);
    let proxy = proxy_address(f);
    finding.next_steps = pick
        .iter()
        .filter_map(|i| steps.get(*i))
        .map(|s| own_tunnel(s, proxy.as_deref(), req.map(|(_, r)| r.target.as_str())))
        .collect();
    out.push(finding);
    true
}

/// A tunnel to a host other than the one the TLS names (or the expected endpoint).
fn http_proxy_target(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    let Some((req_ev, req)) = f.proxy_requests.last() else {
        return;
    };
    let host = crate::preamble::target_host(&req.target);
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return;
    }
    let norm = |h: &str| h.trim_end_matches('.').to_ascii_lowercase();
    let (named, hello) = match (f.client_hello, ctx.expected_endpoint.as_deref()) {
        (Some((ev, ch)), _) if ch.sni_form == SniForm::HostName => {
            (ch.sni.clone().unwrap_or_default(), Some(ev))
        }
        (_, Some(expected)) => (expected.to_string(), None),
        _ => return,
    };
    let by = if hello.is_some() {
        "its ClientHello names"
    } else {
        "the expected endpoint is"
    };
    if norm(host) == norm(&named) {
        return;
    }
    let mut finding = Finding::new(
        Code::ConnHttpProxyTarget,
        format!(
            "The device asked the HTTP proxy for a tunnel to {host}, but {by} {named}: the bytes go to {host}, which answers for its own names."
        ),
    )
    .evidence(f.t(req_ev), format!("device: {} {}", req.method, req.target));
    if let Some(ch_ev) = hello {
        finding = finding.evidence(f.t(ch_ev), format!("ClientHello SNI {named}"));
    }
    let values = super::values(f, ctx);
    let proxy = proxy_address(f);
    // Here the command shows the tunnel the device should ask for, on the port it used.
    let should = crate::preamble::target_port(&req.target)
        .map(|port| format!("{}:{port}", values.endpoint.as_deref().unwrap_or(&named)));
    finding.next_steps = super::catalogue::steps(Code::ConnHttpProxyTarget, &values)
        .iter()
        .map(|s| own_tunnel(s, proxy.as_deref(), should.as_deref()))
        .collect();
    out.push(finding);
}

/// True when the trace holds the proxy's report of an unreachable upstream.
/// True when iotscope, in the middle, ended the device's TLS leg before the endpoint said
/// anything: the endpoint's side is empty because iotscope never let the device through.
fn device_leg_ended_it(f: &Facts) -> bool {
    let Some((_, leg)) = f.device_leg else {
        return false;
    };
    !matches!(leg.outcome, crate::device_leg::Outcome::Completed) && !f.endpoint_sent_bytes()
}

fn upstream_unreachable(f: &Facts, out: &mut Vec<Finding>) -> bool {
    let Some((e, failure)) = f.upstream_failure else {
        return false;
    };
    let name = f
        .trace
        .identity
        .endpoint_name
        .as_deref()
        .unwrap_or("the upstream");
    out.push(
        Finding::new(
            Code::ConnUpstreamUnreachable,
            format!(
                "iotscope could not reach {name} for this device: {failure}. The device never talked to the endpoint."
            ),
        )
        .evidence(f.t(e), failure.to_string()),
    );
    true
}

/// Records that stayed encrypted although keys were given. After bytes of that direction were
/// missed, a record that does not decrypt says nothing about the keys (the records lost took
/// their sequence numbers with them): that is CONN.TRUNCATED's story, told there.
fn not_decrypted(f: &Facts, out: &mut Vec<Finding>) {
    for (e, reason, after_gap) in &f.undecrypted {
        if *after_gap {
            continue;
        }
        out.push(
            Finding::new(
                Code::TlsNotDecrypted,
                format!(
                    "The {}'s records stayed encrypted: {reason}.",
                    e.dir.sender()
                ),
            )
            .evidence(f.t(e), reason.to_string()),
        );
    }
}

fn tcp_refused(f: &Facts, out: &mut Vec<Finding>) {
    if f.first_data[0].is_some() || f.first_data[1].is_some() {
        return;
    }
    if let Some(rst) = f
        .closed_by(Side::Endpoint)
        .filter(|e| e.kind.is_tcp_close())
    {
        if matches!(rst.kind, crate::event::EventKind::TcpRst) && f.opened {
            out.push(
                Finding::new(
                    Code::ConnTcpRefused,
                    "The endpoint answered the connection attempt with a reset: nothing accepts connections there.",
                )
                .evidence(f.t(rst), "reset from the endpoint before any byte"),
            );
        }
    }
}

/// Ports where an endpoint waits for a TLS ClientHello: AWS IoT Core's MQTT, HTTPS and
/// MQTT-over-443 ports.
const TLS_PORTS: [u16; 3] = [8883, 8443, 443];

fn not_tls(f: &Facts, out: &mut Vec<Finding>) {
    let Some((first, proto)) = f.protocol[0] else {
        return;
    };
    if proto == AppProtocol::Tls {
        return;
    }
    let endpoint_answered_in_kind = f.protocol[1].is_some_and(|(_, p)| p == proto);
    let what = match proto {
        AppProtocol::Mqtt => "plain MQTT",
        AppProtocol::Http => "plain HTTP",
        _ => "bytes that are not TLS",
    };
    // When the proxy could not reach the endpoint, the close on the endpoint's side was
    // the proxy's own and says nothing about how an endpoint treats plaintext.
    let endpoint_close = f
        .closed_by(Side::Endpoint)
        .filter(|_| f.upstream_failure.is_none());
    let port = f.endpoint_port;
    let on_port = port.map_or(String::new(), |p| format!(" on port {p}"));
    let tls_port = port.is_some_and(|p| TLS_PORTS.contains(&p));
    let aws = "AWS IoT Core accepts only TLS, so the same device would fail there";
    // The severity follows what the endpoint did with the plaintext, the same way on every
    // connection: it went on in kind (works here: warning), it refused it (closed without a
    // byte, or answered with something else: error), or the capture does not show an answer
    // (a TLS port waits for a ClientHello that never comes: error; any other port: warning,
    // and the silence is CONN.NO_ANSWER's or CONN.TRUNCATED's to judge).
    let mut finding = if endpoint_answered_in_kind {
        Finding::new(
            Code::ConnNotTls,
            format!("The device speaks {what} without TLS{on_port}, and this endpoint answers it. {aws}."),
        )
        .severity(Severity::Warning)
    } else if f.gaps_by_dir[1] > 0 && !f.endpoint_sent_bytes() {
        Finding::new(
            Code::ConnNotTls,
            format!(
                "The device speaks {what} without TLS{on_port}; the endpoint sent {} bytes that the capture missed, so whether it answered in kind is not known. {aws}.",
                f.gaps_by_dir[1]
            ),
        )
        .severity(Severity::Warning)
        .certainty(Certainty::Likely)
    } else if f.endpoint_sent_bytes() {
        let mut fd = Finding::new(
            Code::ConnNotTls,
            format!("The device sent {what}{on_port} where a TLS ClientHello was expected, and the endpoint did not answer in kind."),
        );
        if endpoint_close.is_none() {
            fd = fd.certainty(Certainty::Likely);
        }
        fd
    } else if let Some(c) = endpoint_close {
        Finding::new(
            Code::ConnNotTls,
            format!(
                "The device sent {what}{on_port} where a TLS ClientHello was expected; the endpoint closed the connection {:.1} ms later without sending a byte.",
                (f.t(c) - f.t(first)) * 1000.0
            ),
        )
    } else if tls_port {
        Finding::new(
            Code::ConnNotTls,
            format!("The device sent {what} to port {}, where an endpoint waits for a TLS ClientHello; nothing came back.", port.unwrap_or_default()),
        )
        .certainty(Certainty::Likely)
    } else {
        Finding::new(
            Code::ConnNotTls,
            format!("The device speaks {what} without TLS{on_port}; no answer from the endpoint was seen. {aws}."),
        )
        .severity(Severity::Warning)
    };
    finding = finding.evidence(f.t(first), format!("device's first bytes are {proto}"));
    if let Some(c) = endpoint_close {
        finding = finding.evidence(f.t(c), "endpoint closed the connection");
    }
    out.push(finding);
}

/// The endpoint accepted the MQTT session (CONNACK 0): a rule about what AWS IoT Core would
/// refuse is then a warning that names both what happened here and what AWS would do.
fn accepted_here(f: &Facts) -> Option<(f64, String)> {
    f.connack_accepted().map(|e| {
        (
            f.t(e),
            format!("This endpoint accepted it (CONNACK 0 at +{:.6} s)", f.t(e)),
        )
    })
}

fn sni(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    let Some((ch_ev, ch)) = f.client_hello else {
        return;
    };
    let t = f.t(ch_ev);
    match ch.sni_form {
        SniForm::Absent | SniForm::Empty => {
            let needs_sni = ctx.custom_domain
                || ctx
                    .expected_endpoint
                    .as_deref()
                    .is_some_and(|e| !names::is_aws_iot_host(e));
            let accepted = accepted_here(f);
            let why = match (&accepted, needs_sni) {
                (Some((_, here)), true) => format!("{here}; AWS IoT Core applies a custom domain's configuration only by SNI, so there this connection would fail."),
                (None, true) => "A custom domain is in use, and AWS IoT Core applies a domain configuration only by SNI, so this connection fails.".to_string(),
                (_, false) => "AWS IoT Core's default endpoint accepts it, but custom domains, multi-account certificates and configured TLS policies need the SNI.".to_string(),
            };
            let mut fd = Finding::new(
                Code::ConnSniMissing,
                format!(
                    "The device's ClientHello carries {}. {why}",
                    if ch.sni_form == SniForm::Empty { "an empty server_name" } else { "no server_name (SNI)" }
                ),
            )
            .severity(if needs_sni && accepted.is_none() { Severity::Error } else { Severity::Warning })
            .evidence(t, "ClientHello without server_name");
            if let Some((at, _)) = accepted {
                fd = fd.evidence(at, "CONNACK 0");
            }
            out.push(fd);
        }
        SniForm::IpLiteral => out.push(
            Finding::new(
                Code::ConnSniMismatch,
                format!(
                    "The device sent the IP address {} as its server name. SNI must be a host name (RFC 6066); AWS IoT Core needs the endpoint's name to choose the account and domain configuration.",
                    ch.sni.as_deref().unwrap_or("?")
                ),
            )
            .evidence(t, format!("SNI {}", ch.sni.as_deref().unwrap_or("?"))),
        ),
        SniForm::HostName | SniForm::Several => {
            let sni = ch.sni.as_deref().unwrap_or_default();
            // Read once: every connection passes here.
            let sni_is_aws = names::is_aws_iot_host(sni);
            if ch.sni_form == SniForm::Several {
                out.push(
                    Finding::new(
                        Code::ConnSniMismatch,
                        format!("The ClientHello names {} servers ({}); only one is allowed.", ch.sni_names.len(), ch.sni_names.join(", ")),
                    )
                    .severity(Severity::Warning)
                    .evidence(t, "server_name with several names"),
                );
            }
            if let Some(expected) = ctx.expected_endpoint.as_deref() {
                if !sni.eq_ignore_ascii_case(expected) {
                    out.push(
                        Finding::new(
                            Code::ConnSniMismatch,
                            format!("The device asked for {sni}, but the endpoint is {expected}."),
                        )
                        .evidence(t, format!("SNI {sni}")),
                    );
                }
            } else if sni_is_aws && names::endpoint_kind(sni) != names::EndpointKind::Data {
                out.push(
                    Finding::new(
                        Code::ConnSniMismatch,
                        format!("{sni} is an AWS IoT {} endpoint, not the data endpoint MQTT connects to.", names::endpoint_kind(sni).label()),
                    )
                    .evidence(t, format!("SNI {sni}")),
                );
            } else if !sni_is_aws && !ctx.custom_domain {
                out.push(
                    Finding::new(
                        Code::ConnSniMismatch,
                        format!("{sni} is not an AWS IoT data endpoint name; that is fine only if it is a custom domain (pass --endpoint to check it)."),
                    )
                    .severity(Severity::Info)
                    .certainty(Certainty::Possible)
                    .evidence(t, format!("SNI {sni}")),
                );
            }
            let host = ctx.expected_endpoint.as_deref().unwrap_or(sni);
            if sni_is_aws && names::is_legacy_data_endpoint(sni) {
                let mut fd = Finding::new(
                    Code::ConnLegacyEndpoint,
                    format!("{sni} is a legacy iot:Data endpoint (no -ats). AWS IoT Core supports only iot:Data-ATS endpoints."),
                )
                .evidence(t, format!("SNI {sni}"));
                if let Some((at, here)) = accepted_here(f) {
                    fd.summary = format!("{sni} is a legacy iot:Data endpoint (no -ats). {here}; AWS IoT Core serves only iot:Data-ATS endpoints and would not.");
                    fd = fd.severity(Severity::Warning).evidence(at, "CONNACK 0");
                }
                out.push(fd);
            } else if host != sni && names::is_legacy_data_endpoint(host) {
                out.push(
                    Finding::new(
                        Code::ConnLegacyEndpoint,
                        format!("The expected endpoint {host} is a legacy iot:Data endpoint (no -ats)."),
                    )
                    .evidence(t, "--endpoint"),
                );
            }
        }
    }
}

fn alpn(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    let Some((ch_ev, ch)) = f.client_hello else {
        return;
    };
    if f.endpoint_port != Some(443) {
        return;
    }
    let aws = ch.sni.as_deref().is_some_and(names::is_aws_iot_host)
        || ctx
            .expected_endpoint
            .as_deref()
            .is_some_and(names::is_aws_iot_host);
    if !aws {
        return;
    }
    let ok = ch
        .alpn
        .iter()
        .any(|p| p == "x-amzn-mqtt-ca" || p == "x-amzn-http-ca" || p == "mqtt");
    if !ok {
        let offered = if ch.alpn.is_empty() {
            "no ALPN".to_string()
        } else {
            format!("ALPN {}", ch.alpn.join(", "))
        };
        let mut fd = Finding::new(
            Code::ConnAlpnRequired,
            format!("The device connects to port 443 with {offered}; AWS IoT Core needs x-amzn-mqtt-ca there for MQTT with a client certificate."),
        )
        .evidence(f.t(ch_ev), offered.clone());
        if let Some((at, here)) = accepted_here(f) {
            fd.summary = format!("The device connects to port 443 with {offered}. {here}; AWS IoT Core needs x-amzn-mqtt-ca on 443 for MQTT with a client certificate and would refuse the handshake.");
            fd = fd.severity(Severity::Warning).evidence(at, "CONNACK 0");
        }
        out.push(fd);
    }
}

fn wrong_protocol(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    let Some((ev, proto)) = f.inner_protocol[0] else {
        return;
    };
    let port = f.endpoint_port;
    let aws = f.sni().is_some_and(names::is_aws_iot_host)
        || ctx
            .expected_endpoint
            .as_deref()
            .is_some_and(names::is_aws_iot_host);
    let alpn_http = f
        .client_hello
        .is_some_and(|(_, h)| h.alpn.iter().any(|a| a == "x-amzn-http-ca"));
    let problem = match (proto, port) {
        // An endpoint that speaks MQTT on 8443 is not AWS IoT Core, whatever the names say:
        // the rule then compares it with what AWS would do (below).
        (AppProtocol::Mqtt, Some(8443)) if aws || f.connack_accepted().is_some() => {
            Some("MQTT to port 8443, which AWS IoT Core reserves for HTTPS publishing")
        }
        (AppProtocol::Mqtt, Some(443)) if alpn_http => {
            Some("MQTT on a connection that asked for HTTPS (ALPN x-amzn-http-ca)")
        }
        (AppProtocol::Http, Some(8883) | Some(1883)) => Some("HTTP to an MQTT port"),
        _ => None,
    };
    if let Some(p) = problem {
        let mut fd = Finding::new(Code::ConnWrongProtocol, format!("The device sends {p}."))
            .evidence(f.t(ev), format!("decrypted application data is {proto}"));
        if let Some((at, here)) = accepted_here(f) {
            let aws_does = match port {
                Some(8443) => "AWS IoT Core speaks only HTTPS there (POST /topics/…) and would not answer the CONNECT; use 8883, or 443 with ALPN x-amzn-mqtt-ca",
                _ => "AWS IoT Core would read the bytes as the protocol the port and ALPN name, and refuse them",
            };
            fd.summary = format!("The device sends {p}. {here}; {aws_does}.");
            fd = fd.severity(Severity::Warning).evidence(at, "CONNACK 0");
        }
        out.push(fd);
    }
}

fn versions_and_suites(f: &Facts, out: &mut Vec<Finding>) {
    let Some((ch_ev, ch)) = f.client_hello else {
        return;
    };
    let highest = ch.highest_version();
    let version_alert = f.alerts.iter().find(|a| a.description == Some(70));
    if highest < 0x0303 || version_alert.is_some() {
        let mut fd = Finding::new(
            Code::ConnProtocolVersion,
            format!(
                "The device offers {} at most; AWS IoT Core accepts TLS 1.2 and TLS 1.3 only.",
                version_label(highest)
            ),
        )
        .evidence(
            f.t(ch_ev),
            format!("ClientHello, highest version {}", version_label(highest)),
        );
        // An endpoint that went on with the old version works today; only AWS would refuse.
        if version_alert.is_none() {
            if let Some((sh_ev, sh)) = f.server_hello {
                fd = fd.severity(Severity::Warning).evidence(
                    f.t(sh_ev),
                    format!("ServerHello, {} accepted", version_label(sh.version)),
                );
            }
        }
        if let Some(a) = version_alert {
            fd = fd.evidence(
                f.t(a.event),
                format!("protocol_version alert from the {}", a.from),
            );
            if highest >= 0x0303 {
                fd.summary = format!(
                    "The {} refused the TLS version (protocol_version alert); the device offers up to {}.",
                    a.from,
                    version_label(highest)
                );
            }
        }
        out.push(fd);
        return;
    }
    let offered: Vec<u16> = ch.cipher_suites.iter().map(|c| c.id).collect();
    let in_policy = offered.iter().any(|c| AWS_POLICY_SUITES.contains(c));
    let early_failure = f.server_hello.is_none()
        && f.alert_from(Side::Endpoint)
            .is_some_and(|a| a.description == Some(40));
    if early_failure {
        let a = f
            .alert_from(Side::Endpoint)
            .map(|a| f.t(a.event))
            .unwrap_or(0.0);
        let mut fd = Finding::new(
            Code::ConnNoSharedCipher,
            "The endpoint answered the ClientHello with handshake_failure before choosing anything: it found nothing it accepts in the device's offer.",
        )
        .certainty(Certainty::Likely)
        .evidence(f.t(ch_ev), format!("ClientHello with {} cipher suites", offered.len()))
        .evidence(a, "handshake_failure from the endpoint, no ServerHello")
        .candidates([
            "no cipher suite in common",
            "no key-exchange group or signature algorithm in common",
            "a server name (SNI) the endpoint does not serve",
        ])
        .settle({
            // The connection's own host and port, so the command can be pasted as it is.
            let host = f.sni().unwrap_or("ENDPOINT");
            let port = f.endpoint_port.unwrap_or(8883);
            format!("openssl s_client -connect {host}:{port} -servername {host} shows what the endpoint accepts; compare with the device's cipher list")
        });
        if !in_policy {
            fd.certainty = Certainty::Certain;
            fd.candidates.clear();
            fd.settle = None;
        }
        out.push(fd);
    } else if !in_policy && !offered.is_empty() {
        let worked = f.server_hello.is_some();
        out.push(
            Finding::new(
                Code::ConnNoSharedCipher,
                "None of the device's cipher suites is in AWS IoT Core's TLS policies; an AWS endpoint would refuse the handshake.",
            )
            .severity(if worked { Severity::Warning } else { Severity::Error })
            .evidence(f.t(ch_ev), format!("offered: {}", crate::tls::joined_names(&ch.cipher_suites))),
        );
    }
}

fn handshake_aborted(f: &Facts, out: &mut Vec<Finding>) {
    let Some((ch_ev, _)) = f.client_hello else {
        return;
    };
    // An endpoint that sent encrypted handshake records, or a device whose later messages
    // can only follow a ServerHello, went on with the handshake: whatever the decoder could
    // not read, it was not aborted.
    if f.server_hello.is_some()
        || !f.alerts.is_empty()
        || !f.encrypted[1].is_empty()
        || f.device_proof_of_answer.is_some()
    {
        return;
    }
    let Some((Side::Endpoint, close)) = f.first_close() else {
        return;
    };
    out.push(
        Finding::new(
            Code::ConnHandshakeAborted,
            format!(
                "The endpoint closed the connection {:.1} ms after the ClientHello without a TLS alert.",
                (f.t(close) - f.t(ch_ev)) * 1000.0
            ),
        )
        .certainty(Certainty::Likely)
        .evidence(f.t(ch_ev), "ClientHello")
        .evidence(f.t(close), "endpoint closed, no ServerHello and no alert")
        .candidates([
            "the endpoint does not speak TLS on this port",
            "the endpoint (or a middlebox) rejected the server name or another part of the hello",
        ])
        .settle("openssl s_client against the same host and port shows whether TLS is served there"),
    );
}

/// How long the endpoint must be seen silent after the device's first bytes before its
/// silence counts: an answer takes one round trip, well under a second on any working path,
/// while a capture that stops sooner may simply have stopped before the answer.
pub const NO_ANSWER_AFTER_S: f64 = 1.0;

/// Why the endpoint's silence after the device's first bytes was not seen, when it was not:
/// `None` when the capture shows the endpoint's side whole, long enough, and empty.
fn silence_not_seen(f: &Facts) -> Option<String> {
    let first = f.first_data[0]?;
    if f.endpoint_sent_bytes() || f.closed_by(Side::Endpoint).is_some() {
        return None;
    }
    if let Some((e, what)) = f.device_proof_of_answer {
        return Some(format!(
            "the device sent {what} at +{:.6} s, which can only follow the endpoint's ServerHello, so the endpoint's answer was not captured",
            f.t(e)
        ));
    }
    if let Some((e, what)) = mqtt_session_went_on(f) {
        return Some(format!(
            "the device sent {what} at +{:.6} s, {:.1} s after its CONNECT, going on as a client does once its CONNECT is accepted, so the endpoint's answers were not captured",
            f.t(e),
            f.t(e) - f.connect().map_or(f.t(e), |(c, _)| f.t(c))
        ));
    }
    if f.gaps_by_dir[1] > 0 {
        return Some(format!(
            "{} bytes from the endpoint were missed, so its answer was not seen",
            f.gaps_by_dir[1]
        ));
    }
    if !f.opened {
        return Some(
            "the connection began before the capture, so the endpoint's side is not known to be whole"
                .to_string(),
        );
    }
    let last = f.trace.last_ts.map_or(0.0, |t| f.trace.relative(t));
    let seen = last - f.t(first);
    if seen < NO_ANSWER_AFTER_S {
        return Some(format!(
            "the capture ends {seen:.3} s after the device's first bytes, too soon to call the endpoint silent"
        ));
    }
    None
}

/// How long after its CONNECT a device's next request shows it was answered. MQTT lets a
/// client send on without waiting for the CONNACK, and clients that do so send at once; a
/// client that waits this long and then goes on (subscribes, publishes) had its CONNACK.
const WENT_ON_AFTER_S: f64 = 0.5;

/// The device's first SUBSCRIBE, UNSUBSCRIBE or PUBLISH sent well after its CONNECT: a
/// session the endpoint accepted, whether or not its CONNACK is in the capture.
fn mqtt_session_went_on<'a>(f: &Facts<'a>) -> Option<(&'a crate::Event, &'static str)> {
    let (connect, _) = f.connect()?;
    f.mqtt.iter().find_map(|(e, p)| {
        let what = match p.packet_type {
            crate::mqtt::PacketType::Subscribe => "a SUBSCRIBE",
            crate::mqtt::PacketType::Unsubscribe => "an UNSUBSCRIBE",
            crate::mqtt::PacketType::Publish => "a PUBLISH",
            _ => return None,
        };
        (e.dir == crate::event::Direction::DeviceToEndpoint
            && f.t(e) - f.t(connect) >= WENT_ON_AFTER_S)
            .then_some((*e, what))
    })
}

/// The device's own first TLS record, begun and never finished, with nothing from the
/// endpoint: the device stalled in its hello, and the endpoint had nothing to answer yet.
fn device_stalled(f: &Facts, out: &mut Vec<Finding>) -> bool {
    if device_leg_stalled(f, out) {
        return true;
    }
    if f.endpoint_sent_bytes()
        || f.gaps_by_dir[1] > 0
        || f.closed_by(Side::Endpoint).is_some()
        || f.server_hello.is_some()
        || f.device_proof_of_answer.is_some()
        || !f.protocol[0].is_some_and(|(_, p)| p == AppProtocol::Tls)
    {
        return false;
    }
    let Some((ev, offset, held, need, what)) = f.unfinished.iter().find_map(|e| match &e.kind {
        EventKind::Unfinished(u)
            if u.layer == AppProtocol::Tls
                && e.dir == crate::event::Direction::DeviceToEndpoint
                && !e.decrypted =>
        {
            Some((*e, u.offset, u.held, u.need, u.what.as_str()))
        }
        _ => None,
    }) else {
        return false;
    };
    // The device's side must have closed (or been cut) with the record still open, or have
    // been seen silent long enough; a capture that simply stopped says nothing.
    let last_byte = f.last_data[0].map_or(f.t(ev), |e| f.t(e));
    let end = f.trace.last_ts.map_or(0.0, |t| f.trace.relative(t));
    let quiet = end - last_byte;
    let device_close = f.closed_by(Side::Device);
    let cut = f.cut;
    // iotscope's handshake deadline says the hello took too long; any other cut (the proxy
    // stopping, say) may have caught the device in mid-hello, so the silence must be seen.
    let deadline = matches!(cut, Some((_, crate::event::CutCause::HandshakeTimeout)));
    if !deadline && device_close.is_none() && (quiet < NO_ANSWER_AFTER_S || !f.opened) {
        return false;
    }
    let first_record = offset == 0;
    let whose = if first_record {
        "its first TLS record"
    } else {
        "a TLS record"
    };
    let mut summary = format!(
        "The device sent {held} of the {need} bytes of {whose} ({what}) and then nothing more for {quiet:.1} s; the endpoint, which had not received it whole, had nothing to answer yet."
    );
    let mut fd = Finding::new(Code::ConnDeviceStalled, String::new()).evidence(
        last_byte,
        format!("device's last bytes: {held} of {need} bytes of {what}"),
    );
    match (cut, device_close) {
        (Some((c, crate::event::CutCause::HandshakeTimeout)), _) => {
            summary.push_str(" iotscope closed the connection when its --handshake-timeout ran out: the device did not finish its hello in time, and an endpoint such as AWS IoT Core would close it too.");
            fd = fd.evidence(
                f.t(c),
                "iotscope closed the connection (--handshake-timeout)",
            );
        }
        (Some((c, _)), _) => {
            summary.push_str(" iotscope then closed the connection itself.");
            fd = fd.evidence(f.t(c), "iotscope closed the connection");
        }
        (None, Some(c)) => {
            summary.push_str(" Then the device closed the connection itself.");
            fd = fd.evidence(f.t(c), "device closed the connection");
        }
        (None, None) => {
            summary.push_str(" The trace ends there.");
        }
    }
    fd.summary = summary;
    out.push(fd);
    true
}

/// In MITM mode the device's hello ends at iotscope, which reads it without decoding it: a
/// device handshake that iotscope's own deadline ended is the device's stall.
fn device_leg_stalled(f: &Facts, out: &mut Vec<Finding>) -> bool {
    use crate::device_leg::Outcome;
    let (Some((leg_ev, leg)), Some((cut, crate::event::CutCause::HandshakeTimeout))) =
        (f.device_leg, f.cut)
    else {
        return false;
    };
    let Outcome::Failed { detail } = &leg.outcome else {
        return false;
    };
    out.push(
        Finding::new(
            Code::ConnDeviceStalled,
            format!(
                "The device did not finish its TLS handshake with iotscope ({detail}), and iotscope closed the connection when its --handshake-timeout ran out. The endpoint never had a whole hello to answer; an endpoint such as AWS IoT Core closes a handshake that does not finish in time as well."
            ),
        )
        .evidence(f.t(leg_ev), format!("device leg: {detail}"))
        .evidence(f.t(cut), "iotscope closed the connection (--handshake-timeout)"),
    );
    true
}

/// Packets of the device's that the endpoint's close left unanswered: a QoS 1 or 2 PUBLISH
/// without its PUBACK or PUBREC, a SUBSCRIBE or UNSUBSCRIBE without its answer, a PINGREQ
/// without PINGRESP.
fn outstanding(f: &Facts, before: f64) -> Vec<(f64, String)> {
    use crate::event::Direction::{DeviceToEndpoint, EndpointToDevice};
    use crate::mqtt::{Body, PacketType as T};
    let answered = |t: T, id: Option<u16>, after: f64| {
        f.mqtt.iter().any(|(e, p)| {
            e.dir == EndpointToDevice
                && f.t(e) >= after
                && p.packet_type == t
                && (id.is_none()
                    || match &p.body {
                        Body::Ack(a) => Some(a.packet_id) == id,
                        Body::SubAck(a) => Some(a.packet_id) == id,
                        _ => false,
                    })
        })
    };
    let mut v = Vec::new();
    for (e, p) in &f.mqtt {
        let t = f.t(e);
        if e.dir != DeviceToEndpoint || t > before {
            continue;
        }
        let missing = match &p.body {
            Body::Publish(x) if p.qos == 1 => (!answered(T::Puback, x.packet_id, t)).then(|| {
                format!(
                    "PUBLISH {} on {} (QoS 1) without its PUBACK",
                    x.packet_id.unwrap_or_default(),
                    x.topic
                )
            }),
            Body::Publish(x) if p.qos == 2 => (!answered(T::Pubrec, x.packet_id, t)).then(|| {
                format!(
                    "PUBLISH {} on {} (QoS 2) without its PUBREC",
                    x.packet_id.unwrap_or_default(),
                    x.topic
                )
            }),
            Body::Subscribe(s) => (!answered(T::Suback, Some(s.packet_id), t))
                .then(|| format!("SUBSCRIBE {} without its SUBACK", s.packet_id)),
            _ if p.packet_type == T::Pingreq => {
                (!answered(T::Pingresp, None, t)).then(|| "PINGREQ without PINGRESP".to_string())
            }
            _ => None,
        };
        if let Some(m) = missing {
            v.push((t, m));
        }
    }
    v
}

/// Without the MQTT in view, is MQTT what the connection carries? An MQTT port, an MQTT ALPN
/// protocol (`x-amzn-mqtt-ca`, `mqtt`), or an AWS IoT endpoint's name. Other protocols over
/// TLS (HTTP, SMTP) often end with the server's close, and say nothing here.
fn mqtt_expected(f: &Facts, ctx: &Context) -> bool {
    f.endpoint_port.is_some_and(|p| p == 8883 || p == 1883)
        || f.client_hello
            .is_some_and(|(_, h)| h.alpn.iter().any(|a| a.contains("mqtt")))
        || f.sni().is_some_and(names::is_aws_iot_host)
        || ctx
            .expected_endpoint
            .as_deref()
            .is_some_and(names::is_aws_iot_host)
}

/// Encrypted, before the endpoint's `close`: did either side say goodbye in a way its record
/// sizes show? The device's last record the size of a DISCONNECT or a close_notify (both are
/// two bytes of plaintext), a readable alert from the device, or the endpoint's own
/// close_notify just before its close: an orderly end, not a session dropped.
fn ending_unseen(f: &Facts, close: &crate::event::Event) -> bool {
    let tls13 = f.tls13();
    let last = |d: usize| {
        f.encrypted[d]
            .iter()
            .rev()
            .find(|e| e.ts <= close.ts)
            .and_then(|e| match e.kind {
                EventKind::Encrypted { first_len, .. } => Some(first_len),
                _ => None,
            })
    };
    let small =
        |len: Option<u32>| len.is_some_and(|l| super::facts::looks_like_encrypted_alert(l, tls13));
    f.alerts
        .iter()
        .any(|a| a.event.ts <= close.ts && a.from == Side::Device)
        || f.alerts
            .iter()
            .any(|a| a.from == Side::Endpoint && a.event.ts <= close.ts)
        || small(last(0))
        || small(last(1))
}

/// The endpoint ended a session it had accepted while the device was still in it. Runs after
/// every other rule: a finding that already explains the close (a refusal, a malformed
/// packet, a session taken over) keeps it.
pub fn endpoint_closed(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    use crate::event::Direction::EndpointToDevice;
    use crate::mqtt::PacketType as T;
    let Some((Side::Endpoint, close)) = f.first_close() else {
        return;
    };
    if out.iter().any(|fd| fd.severity == Severity::Error) || f.cut.is_some() {
        return;
    }
    // The device had not finished with the session: no DISCONNECT of its own (an endpoint
    // that closes after it only follows the device), and no DISCONNECT from the endpoint
    // (MQTT 5 gives its reason, read by the session rules).
    let said_bye = f.mqtt.iter().any(|(e, p)| {
        p.packet_type == T::Disconnect && (e.dir == EndpointToDevice || e.ts <= close.ts)
    });
    if said_bye {
        return;
    }
    let accepted = f.connack_accepted();
    // Without the MQTT (encrypted, no keys): the handshake finished and application data went
    // both ways, so a session was running.
    let app = |d: usize| {
        f.encrypted[d].iter().find(|e| {
            matches!(
                e.kind,
                EventKind::Encrypted {
                    phase: crate::event::EncryptedPhase::Application,
                    ..
                }
            )
        })
    };
    let running = match accepted {
        Some(a) => Some(a),
        None if f.mqtt.is_empty() && mqtt_expected(f, ctx) && !ending_unseen(f, close) => {
            match (app(0), app(1)) {
                (Some(_), Some(b)) => Some(*b),
                _ => None,
            }
        }
        None => None,
    };
    let Some(running) = running else {
        return;
    };
    if close.ts < running.ts {
        return;
    }
    // An encrypted alert just before the close may be the endpoint's close_notify: an orderly
    // close, still without a reason on the wire, but then not an abrupt drop.
    let how = match close.kind {
        EventKind::TcpRst => "reset the connection",
        _ => "closed the connection",
    };
    let since = f.t(close) - f.t(running);
    let pending = outstanding(f, f.t(close));
    let readable = accepted.is_some();
    let mut summary = format!(
        "The endpoint {how} {since:.1} s into a session it had accepted, without a word on why (no DISCONNECT either way before it)."
    );
    let mut fd = Finding::new(Code::ConnEndpointClosed, String::new()).evidence(
        f.t(running),
        if readable {
            "CONNACK 0: the session was accepted"
        } else {
            "application data both ways: the session was running"
        },
    );
    if !pending.is_empty() {
        let list: Vec<&str> = pending.iter().map(|(_, m)| m.as_str()).collect();
        summary.push_str(&format!(
            " Still unanswered: {}; the device must send it again on a new connection.",
            list.join(", ")
        ));
        for (t, m) in pending.iter().take(5) {
            fd = fd.evidence(*t, m.clone());
        }
    } else if readable {
        summary.push_str(" Nothing the device had sent was waiting for an answer.");
    } else {
        summary.push_str(
            " The MQTT inside is encrypted, so what was waiting for an answer is not known.",
        );
    }
    if let Some(d) = f.closed_by(Side::Device) {
        fd = fd.evidence(f.t(d), "the device closed its side after");
    }
    fd = fd.evidence(f.t(close), format!("endpoint {how}"));
    fd.summary = summary;
    if pending.is_empty() {
        fd = fd.severity(Severity::Warning);
    }
    out.push(fd.certainty(Certainty::Likely).candidates([
        "the endpoint restarted, failed over or crashed",
        "another connection took over the client id, or AWS IoT Core ended the session (keep-alive, policy, limits)",
        "a load balancer or firewall on the path dropped the flow",
    ]));
}

fn no_answer(f: &Facts, out: &mut Vec<Finding>) {
    let Some(first) = f.first_data[0] else {
        return;
    };
    if f.endpoint_sent_bytes() || f.closed_by(Side::Endpoint).is_some() {
        return;
    }
    // Silence counts only when it was seen: the endpoint's side captured whole, for long
    // enough, and empty. Otherwise CONN.TRUNCATED says what was not seen.
    if silence_not_seen(f).is_some() {
        return;
    }
    // A device that gave up (closed) shortly after its bytes still got no answer.
    let last = f.trace.last_ts.map_or(0.0, |t| f.trace.relative(t));
    out.push(
        Finding::new(
            Code::ConnNoAnswer,
            format!(
                "The device sent its first bytes and the endpoint sent nothing back in the {:.1} s that were seen.",
                last - f.t(first)
            ),
        )
        .certainty(Certainty::Likely)
        .evidence(f.t(first), "device's first bytes")
        .candidates([
            "a firewall drops the traffic",
            "the endpoint hangs",
            "the endpoint does not speak what the device sent",
        ]),
    );
}

fn truncated(f: &Facts, endpoint_reached: bool, out: &mut Vec<Finding>) {
    let midstream = !f.opened && f.first_data[0].is_some();
    let silence = endpoint_reached.then(|| silence_not_seen(f)).flatten();
    if f.gaps == 0 && !midstream && silence.is_none() {
        return;
    }
    let mut parts = Vec::new();
    if midstream {
        parts.push("the capture starts after the connection was opened".to_string());
    }
    if f.gaps > 0 {
        parts.push(format!("{} bytes were missed", f.gaps));
    }
    // Decryption that stopped at a gap: the keys were right, the records' order was lost.
    let stopped: Vec<String> = f
        .undecrypted
        .iter()
        .filter(|(_, _, after_gap)| *after_gap)
        .map(|(e, _, _)| e.dir.sender().to_string())
        .collect();
    if !stopped.is_empty() {
        parts.push(format!(
            "the {}'s records after the missing bytes could not be decrypted, as their sequence numbers went with the records missed (the keys were right: the records before the gap decrypted)",
            stopped.join(" and the ")
        ));
    }
    let mut fd = Finding::new(
        Code::ConnTruncated,
        format!("Part of the connection was not seen: {}.", parts.join("; ")),
    );
    if let Some(why) = &silence {
        fd.summary = if parts.is_empty() {
            format!("The endpoint's answer was not seen: {why}.")
        } else {
            format!(
                "Part of the connection was not seen: {}. The endpoint's answer was not seen: {why}.",
                parts.join("; ")
            )
        };
    }
    if midstream {
        if let Some(first) = f.first_data[0] {
            fd = fd.evidence(f.t(first), "first bytes seen, without the TCP handshake");
        }
    }
    if let Some((e, what)) = f.device_proof_of_answer.filter(|_| silence.is_some()) {
        fd = fd.evidence(f.t(e), format!("the device sent {what}"));
    }
    // The first few gaps, each with its size, so the reader can see where bytes were lost.
    let gaps = f.trace.events().filter_map(|e| match e.kind {
        crate::event::EventKind::Gap { bytes } => Some((e, bytes)),
        _ => None,
    });
    for (e, bytes) in gaps.take(5) {
        fd = fd.evidence(
            f.t(e),
            format!("{bytes} bytes from the {} missed", e.dir.sender()),
        );
    }
    if fd.evidence.is_empty() {
        if let Some(first) = f.first_data[0] {
            fd = fd.evidence(f.t(first), "device's first bytes, then nothing more seen");
        }
    }
    out.push(fd);
}

#[cfg(test)]
mod tests {
    use crate::diagnose::{diagnose, Code, Context, Severity};
    use crate::event::Direction::*;
    use crate::{Identity, Input, Session, SessionConfig, Timestamp};

    fn codes(s: Session) -> Vec<Code> {
        let trace = s.finish();
        diagnose(&trace, &Context::default())
            .iter()
            .map(|f| f.code)
            .collect()
    }

    fn session() -> Session {
        let id = Identity {
            endpoint_name: Some("broker.example".into()),
            ..Identity::default()
        };
        let mut s = Session::new(id, SessionConfig::default());
        s.feed(DeviceToEndpoint, Input::Open, Timestamp(0));
        s
    }

    #[test]
    fn upstream_failure_is_the_finding_and_silences_the_endpoint_rules() {
        let mut s = session();
        s.feed(
            DeviceToEndpoint,
            b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
            Timestamp(1_000),
        );
        s.feed(
            crate::Direction::EndpointToDevice,
            crate::Input::UpstreamFailed("connection refused by 192.0.2.7:8883".into()),
            Timestamp(2_000_000),
        );
        s.feed(EndpointToDevice, Input::Fin, Timestamp(3_000_000));
        let trace = s.finish();
        let found = diagnose(&trace, &Context::default());
        let f = found
            .iter()
            .find(|f| f.code == Code::ConnUpstreamUnreachable)
            .expect("upstream finding");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.summary.contains("broker.example"), "{}", f.summary);
        assert!(f.summary.contains("connection refused by 192.0.2.7:8883"));
        assert!((f.evidence[0].t - 0.002).abs() < 1e-9);
        let codes: Vec<_> = found.iter().map(|f| f.code).collect();
        // The device's plaintext is still its own fault; the silence is not the endpoint's.
        assert!(codes.contains(&Code::ConnNotTls), "{codes:?}");
        let not_tls = found.iter().find(|f| f.code == Code::ConnNotTls).unwrap();
        assert!(
            !not_tls.summary.contains("endpoint closed")
                && not_tls
                    .evidence
                    .iter()
                    .all(|e| !e.text.contains("endpoint closed")),
            "the proxy's own close is not the endpoint's: {not_tls:?}"
        );
        assert!(!codes.contains(&Code::ConnNoAnswer), "{codes:?}");
        assert!(!codes.contains(&Code::ConnHandshakeAborted), "{codes:?}");
    }

    #[test]
    fn no_upstream_finding_without_the_proxy_report() {
        let mut s = session();
        s.feed(EndpointToDevice, Input::Rst, Timestamp(1_000));
        assert_eq!(codes(s), [Code::ConnTcpRefused]);
        let mut s = session();
        s.feed(
            crate::Direction::EndpointToDevice,
            crate::Input::UpstreamFailed("name broker.example does not resolve".into()),
            Timestamp(1_000),
        );
        s.feed(EndpointToDevice, Input::Rst, Timestamp(2_000));
        assert_eq!(codes(s), [Code::ConnUpstreamUnreachable]);
    }
}
